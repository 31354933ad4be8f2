#!/bin/sh
# A coding-agent worker. Over and over: take one repository from $REPOS by
# claiming "repo:NAME", run $AGENT_CMD in it while holding the claim, give
# it back. However many replicas run, no two agents ever work in the same
# repository at the same time.
#
# Environment (the playbook's "env", else the supervisor's environment):
#   REPOS        repositories, separated by spaces
#   AGENT_CMD    the agent: a command line run by sh in the repository, with
#                REPO and LOOP_CLAIM_FENCE set (default: a placeholder sleep)
#   WORKSPACE    the directory holding the repositories
#                (default: $TMPDIR/loop-agents, created as needed)
#   CLAIM_TTL    a claim expires unless renewed within this (default 60s)
#   RENEW_EVERY  seconds between renewals (default 20)
#   CLAIM_WAIT   how long to wait when every repository is busy (default 30s)
#
# The claim belongs to this worker's session, so it is released as soon as
# the worker dies. The TTL covers what liveness cannot see: if renewals stop
# (the worker is frozen, the machine was suspended) the repository is freed,
# and an agent whose claim was lost is stopped, since another may now own it.

REPOS=${REPOS:-"repo-a repo-b repo-c repo-d"}
# shellcheck disable=SC2016 # expanded by the agent's shell, not here
AGENT_CMD=${AGENT_CMD:-'echo "agent at work in $REPO"; sleep 5'}
WORKSPACE=${WORKSPACE:-${TMPDIR:-/tmp}/loop-agents}
CLAIM_TTL=${CLAIM_TTL:-60s}
RENEW_EVERY=${RENEW_EVERY:-20}
CLAIM_WAIT=${CLAIM_WAIT:-30s}
me=${LOOP_SESSION_ID:-agent-$$}

# Run by hand (not by `loop supervise`): open a session anchored to this
# shell, so that the background renewer acts for it too.
own_session=
if [ -z "${LOOP_SESSION_ID:-}" ]; then
    LOOP_SESSION_ID=$(loop _ session start --label "$me") || exit
    export LOOP_SESSION_ID
    own_session=1
fi

claim='' fence='' last='' agent='' renewer=''

# Stopped (SIGTERM from the supervisor, ^C by hand): stop the agent, give
# the repository back.
cleanup() {
    [ -n "$renewer" ] && kill "$renewer" 2>/dev/null
    [ -n "$agent" ] && kill "$agent" 2>/dev/null
    [ -n "$claim" ] && loop _ unclaim "$claim" >/dev/null
    [ -n "$own_session" ] && loop _ session end >/dev/null
}
trap 'cleanup; exit 0' TERM INT

# The repositories in the order to try them: starting after $last, so the
# work goes round.
in_turn() {
    before='' after='' seen=''
    for r in $REPOS; do
        if [ -n "$seen" ]; then after="$after $r"; else before="$before $r"; fi
        [ "$r" = "$last" ] && seen=1
    done
    # shellcheck disable=SC2086 # one word per repository
    echo $after $before
}

# `take REPO WAIT`: claims the repository, waiting up to WAIT if it is busy.
# Returns 0 when taken (sets claim and fence), 1 when busy; exits on any
# other error so that the supervisor restarts us with backoff.
take() {
    out=$(loop _ claim "repo:$1" --wait "$2" --ttl "$CLAIM_TTL" --reason "agent $me" 2>&1)
    status=$?
    case $status in
    0)
        claim="repo:$1"
        fence=${out##*fence }
        fence=${fence%)}
        ;;
    1) return 1 ;;
    *)
        echo "$me: $out" >&2
        exit "$status"
        ;;
    esac
}

# Runs in the background while the agent works: renews the claim every
# RENEW_EVERY seconds; when that fails the claim is lost, so stop the agent.
renew() {
    n=0
    while sleep 1; do
        n=$((n + 1))
        [ "$n" -lt "$RENEW_EVERY" ] && continue
        n=0
        if ! loop _ renew "$claim" --ttl "$CLAIM_TTL" >/dev/null; then
            echo "$me: lost $claim, stopping the agent" >&2
            kill "$agent" 2>/dev/null
            exit 1
        fi
    done
}

while :; do
    # A free repository if there is one, else wait for the next in turn:
    # loop wakes us as soon as it is released or its holder dies.
    for r in $(in_turn); do
        take "$r" 0 && break
    done
    if [ -z "$claim" ]; then
        # shellcheck disable=SC2046 # one word per repository
        set -- $(in_turn)
        take "$1" "$CLAIM_WAIT" || continue
    fi
    last=${claim#repo:}

    dir="$WORKSPACE/$last"
    mkdir -p "$dir" || exit 3 # a real setup would clone or update it here
    echo "$me: working on $last (fence $fence)"
    (cd "$dir" && REPO=$last LOOP_CLAIM_FENCE=$fence && export REPO LOOP_CLAIM_FENCE &&
        exec sh -c "$AGENT_CMD") &
    agent=$!
    renew &
    renewer=$!

    wait "$agent"
    status=$?
    agent=
    kill "$renewer" 2>/dev/null
    renewer=
    loop _ unclaim "$claim" >/dev/null
    claim=
    echo "$me: done with $last (agent exit $status)"
    # An agent that fails makes the worker fail: the supervisor restarts it
    # with backoff instead of retrying at full speed here. One killed by a
    # signal (status > 128) is most likely being stopped with us: go on,
    # and the trap ends the loop.
    if [ "$status" -ne 0 ] && [ "$status" -le 128 ]; then exit "$status"; fi
done
