#!/bin/sh
# A demo worker. Over and over: pick a task, claim it, work on it for a
# moment, release it. Several replicas run at once; a task is worked on by
# at most one of them at a time.
#
# The supervisor sets LOOP_SESSION_ID (the session the claims belong to),
# LOOP_HOME, LOOP_WORKER and LOOP_REPLICA. From the playbook's "env":
#   TASKS         how many tasks there are: task-1 .. task-$TASKS (default 5)
#   CRASH_ONE_IN  if N > 0, crash (exit 1) after one task in N, without
#                 releasing it: the supervisor reaps the claim at once and
#                 restarts the worker with backoff (default 0: never)

tasks=${TASKS:-5}
crash_one_in=${CRASH_ONE_IN:-0}
me=${LOOP_SESSION_ID:-demo-$$}

# POSIX sh has no $RANDOM: a small generator, seeded differently in every
# process. `random N` sets r to a number from 0 to N-1.
seed=$(($$ * 7919 + ${LOOP_REPLICA:-0}))
random() {
    seed=$(((seed * 1103515245 + 12345) % 2147483648))
    r=$((seed / 65536 % $1))
}

# `nap MS` sleeps MS milliseconds.
nap() {
    sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"
}

# Stopped by the supervisor: give the task back before leaving.
held=
trap '[ -n "$held" ] && loop _ unclaim "$held" >/dev/null; exit 0' TERM INT

while :; do
    random "$tasks"
    task="task-$((r + 1))"
    # Wait up to 2 s if someone else has it: loop wakes us as soon as it
    # is released (or its holder dies), with no polling.
    loop _ claim "$task" --wait 2s --reason "demo work by $me" 2>/dev/null
    status=$?
    if [ "$status" -eq 1 ]; then
        continue # still busy: pick another task
    elif [ "$status" -ne 0 ]; then
        echo "$me: cannot claim $task (exit $status)" >&2
        exit "$status"
    fi
    held=$task

    random 1800
    echo "$me: working on $task for $((r + 200))ms"
    nap $((r + 200))

    if [ "$crash_one_in" -gt 0 ]; then
        random "$crash_one_in"
        if [ "$r" -eq 0 ]; then
            echo "$me: crashing while holding $task" >&2
            exit 1
        fi
    fi

    loop _ unclaim "$task"
    held=
done
