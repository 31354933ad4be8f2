# Shared setup for the CLI tests of `loop supervise`.
#
# Every test gets its own temporary directory ($TEST_DIR) and home
# ($LOOP_HOME, not created yet). Every pid the test starts is recorded in
# $TEST_DIR/pids. Teardown kills them by pid, supervisors first, then every
# process that carries this test's home in its environment (workers, their
# descendants, also those that left with setsid, anchors, followers), and
# removes the directory, also when the test failed.
#
# $LOOP is the binary under test (set by ctest); by hand:
#   LOOP=build/loop bats tests/cli/supervise.bats

# shellcheck disable=SC2034,SC2154,SC2119,SC2120 # bats variables; used by the .bats file
bats_require_minimum_version 1.5.0

: "${LOOP_SOURCE_DIR:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
export LOOP_SOURCE_DIR LOOP
PLAYBOOKS="$BATS_TEST_DIRNAME/playbooks"

sup_setup() {
    if [ -z "${LOOP:-}" ] || [ ! -x "$LOOP" ]; then
        echo "LOOP must name the built loop binary (got '${LOOP:-}')" >&2
        return 1
    fi
    TEST_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/loop-sup.XXXXXX")
    TEST_DIR=$(cd "$TEST_DIR" && pwd -P)
    export TEST_DIR
    export LOOP_HOME="$TEST_DIR/home"
    unset LOOP_SESSION_ID LOOP_CLAIM_FENCE XDG_STATE_HOME NO_COLOR LOOP_LOG
    PIDS_FILE="$TEST_DIR/pids"
    : >"$PIDS_FILE"
    SUP_LOG="$TEST_DIR/supervisor.log"
}

sup_teardown() {
    local pid round found
    if [ -n "${PIDS_FILE:-}" ] && [ -f "$PIDS_FILE" ]; then
        # Supervisors (and whatever else was recorded) first, so that nothing
        # restarts the workers killed below.
        while read -r pid; do
            [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
        done <"$PIDS_FILE"
        # Then everything that carries this home: a few rounds, in case one of
        # them was forking while it was killed.
        for ((round = 0; round < 50; round++)); do
            found=$(home_procs)
            [ -z "$found" ] && break
            for pid in $found; do
                echo "$pid" >>"$PIDS_FILE"
                kill -KILL "$pid" 2>/dev/null
            done
            sleep 0.1
        done
        while read -r pid; do
            [ -n "$pid" ] && { wait "$pid" || true; } 2>/dev/null
        done <"$PIDS_FILE"
    fi
    if [ -n "${TEST_DIR:-}" ] && [ -d "$TEST_DIR" ]; then
        chmod -R u+rwx "$TEST_DIR" 2>/dev/null
        rm -rf "$TEST_DIR"
    fi
    return 0
}

setup() { sup_setup; }
teardown() { sup_teardown; }

# Remembers a pid so that teardown kills it.
track() { echo "$1" >>"$PIDS_FILE"; }

# Pids of the live (not zombie) processes whose environment has
# LOOP_HOME=$LOOP_HOME, one per line; with a second argument, only those
# that also have LOOP_WORKER=$1. The grep itself runs without LOOP_HOME.
home_procs() {
    local files pid
    files=$(env -u LOOP_HOME grep -lzxF "LOOP_HOME=$LOOP_HOME" /proc/[0-9]*/environ 2>/dev/null)
    if [ -n "${1:-}" ] && [ -n "$files" ]; then
        # shellcheck disable=SC2086
        files=$(grep -lzxF "LOOP_WORKER=$1" $files 2>/dev/null)
    fi
    for f in $files; do
        pid=${f#/proc/}
        pid=${pid%/environ}
        [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] && continue
        [ "$(proc_state "$pid")" = Z ] && continue
        [ -d "/proc/$pid" ] && echo "$pid"
    done | sort -n
}

# The state letter of a process (R, S, Z, ...), empty when it is gone.
proc_state() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    echo "${stat%% *}"
}

# A process is gone: no such pid, or only a zombie is left of it.
gone() {
    local s
    s=$(proc_state "$1")
    [ -z "$s" ] || [ "$s" = Z ] || [ "$s" = X ]
}
running() { ! gone "$1"; }

# wait_for TEST...: polls until the test command succeeds, for up to 20 s.
wait_for() {
    local i
    for ((i = 0; i < 400; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    echo "gave up after 20 s waiting for: $*" >&2
    return 1
}

# wait_exit PID: waits for a background child of this shell, sets
# WAIT_STATUS; fails (and kills it) after 20 s.
wait_exit() {
    local pid=$1 i
    for ((i = 0; i < 400; i++)); do
        if gone "$pid"; then
            WAIT_STATUS=0
            wait "$pid" || WAIT_STATUS=$?
            return 0
        fi
        sleep 0.05
    done
    echo "process $pid did not exit within 20 s" >&2
    kill -KILL "$pid" 2>/dev/null
    return 1
}

# run_loop ARGS...: runs the binary; $status, $output (stdout only) and
# $stderr are set. Killed after 20 s, so that a supervisor that should have
# refused to start cannot hang the test.
run_loop() {
    run --separate-stderr timeout -s KILL 20 "$LOOP" "$@"
}

show() {
    echo "status: $status" >&2
    echo "stdout: $output" >&2
    echo "stderr: ${stderr:-}" >&2
}

expect_status() {
    if [ "$status" -ne "$1" ]; then
        echo "expected exit $1" >&2
        show
        return 1
    fi
}

expect_in() {
    case "$1" in
    *"$2"*) return 0 ;;
    esac
    echo "expected to find: $2" >&2
    echo "in: $1" >&2
    return 1
}

# start_sup PLAYBOOK [ARGS...]: starts `loop supervise` in the background
# (its log in $SUP_LOG), sets SUP to its pid and waits until it has
# recorded supervisor.started.
start_sup() {
    "$LOOP" supervise "$@" </dev/null >>"$SUP_LOG" 2>&1 &
    SUP=$!
    track "$SUP"
    wait_for sup_started "$SUP" || { cat "$SUP_LOG" >&2; return 1; }
}

sup_started() {
    running "$1" || return 1
    [ -f "$LOOP_HOME/events.jsonl" ] || return 1
    jq -se --argjson p "$1" 'any(.[]; .event == "supervisor.started" and .pid == $p)' \
        "$LOOP_HOME/events.jsonl" >/dev/null
}

# stop_sup [SIGNAL]: signals the supervisor (TERM by default) and waits for
# it to exit; SUP_STATUS is its exit status.
stop_sup() {
    kill -"${1:-TERM}" "$SUP"
    wait_exit "$SUP" || { cat "$SUP_LOG" >&2; return 1; }
    SUP_STATUS=$WAIT_STATUS
}

# The events of the log, as a JSON array.
events() {
    if [ -f "$LOOP_HOME/events.jsonl" ]; then
        jq -s . "$LOOP_HOME/events.jsonl"
    else
        echo '[]'
    fi
}

# count_events EVENT [SESSION]: how many EVENT lines (of SESSION) there are.
count_events() {
    events | jq --arg e "$1" --arg s "${2:-}" \
        '[.[] | select(.event == $e and ($s == "" or .session == $s))] | length'
}

# worker_starts WORKER [REPLICA]: how many times the supervisor started it.
worker_starts() {
    events | jq --arg w "$1" --arg r "${2:-}" '[.[] | select(.event == "session.started"
        and .worker == $w and ($r == "" or (.replica | tostring) == $r))] | length'
}

# started_sid WORKER REPLICA: the session id the supervisor gave that
# replica, from the event log (also once the session has ended).
started_sid() {
    events | jq -r --arg w "$1" --argjson r "$2" '[.[] | select(.event == "session.started"
        and .worker == $w and .replica == $r) | .session] | first // empty'
}

# has_event JQ-CONDITION: some event satisfies it (`.` is the event).
has_event() {
    events | jq -e "any(.[]; $1)" >/dev/null
}

# status --json, or fails.
status_json() { "$LOOP" status --json; }

# live_pid WORKER REPLICA: the pid of that replica's session when it is
# alive and its process exists; empty otherwise.
live_pid() {
    local pid
    pid=$(status_json | jq -r --arg w "$1" --argjson r "$2" \
        '.sessions[] | select(.worker == $w and .replica == $r and .alive == true) | .pid')
    [ -n "$pid" ] && running "$pid" && echo "$pid"
    return 0
}

# session_of WORKER REPLICA: that replica's session id.
session_of() {
    status_json | jq -r --arg w "$1" --argjson r "$2" \
        '.sessions[] | select(.worker == $w and .replica == $r) | .id'
}

# workers_alive WORKER N: replicas 1..N of WORKER are alive.
workers_alive() {
    local i
    for ((i = 1; i <= $2; i++)); do
        [ -n "$(live_pid "$1" "$i")" ] || return 1
    done
}

# wait_workers WORKER N: waits until replicas 1..N are alive and records
# their pids for teardown.
wait_workers() {
    local i
    wait_for workers_alive "$1" "$2" || { cat "$SUP_LOG" >&2; return 1; }
    for ((i = 1; i <= $2; i++)); do track "$(live_pid "$1" "$i")"; done
}

# Children of a process: "PID STATE" per line.
children() {
    ps -o pid=,stat= --ppid "$1" 2>/dev/null | awk '{print $1, substr($2, 1, 1)}'
}

# No zombie among the children of a process.
no_zombie_children() {
    ! children "$1" | grep -q ' Z$'
}

# Nothing under claims/ (missing counts as empty).
claims_empty() {
    [ -z "$(ls -A "$LOOP_HOME/claims" 2>/dev/null)" ]
}

# The file a process's fd points to.
fd_target() { readlink "/proc/$1/fd/$2"; }

# log_writer_of PID [FD]: the pid of the log writer (`loop _ log-writer`)
# whose stdin is the pipe on fd FD (default 1) of PID; nothing if none.
log_writer_of() {
    local pipe p
    pipe=$(fd_target "$1" "${2:-1}")
    case "$pipe" in pipe:*) ;; *) return 0 ;; esac
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/fd/0" 2>/dev/null)" = "$pipe" ] || continue
        tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q '^loop _ log-writer ' && echo "${p#/proc/}"
    done
    return 0
}

# No log writer of this home runs (they end once what they log has ended).
writers_done() {
    ! pgrep -f -- "^loop _ log-writer --dir $LOOP_HOME/logs " >/dev/null
}

# Children of a process that are not log writers: "PID STATE" per line.
worker_children() {
    local pid st
    children "$1" | while read -r pid st; do
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q '^loop _ log-writer ' ||
            echo "$pid $st"
    done
}

file_has() { [ -f "$1" ] && grep -q -- "$2" "$1"; }

# CPU time a process has used: utime + stime, in clock ticks (/proc/PID/stat).
cpu_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat") || return 1
    stat=${stat##*) }
    # shellcheck disable=SC2086 # split into fields on purpose
    set -- $stat
    echo $((${12} + ${13}))
}

# How many descriptors a process has open.
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# Size of a file in bytes (0 when missing).
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }

# The port the supervisor serves /metrics on, from its log.
metrics_port() { sed -n 's/.*serving metrics on .*(port \([0-9]*\)).*/\1/p' "$SUP_LOG" | tail -1; }
