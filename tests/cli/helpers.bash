# Shared setup for the CLI tests of `loop`.
#
# Every test gets its own temporary directory ($TEST_DIR) and home
# ($LOOP_HOME, not created yet); both are removed in teardown, and every
# process started with start_anchor or start_bg is killed there, also when
# the test fails.
#
# $LOOP is the binary under test (set by ctest); by hand:
#   LOOP=build/loop bats tests/cli/claims.bats

# shellcheck disable=SC2034,SC2154 # bats variables; used by the .bats files
bats_require_minimum_version 1.5.0

: "${LOOP_SOURCE_DIR:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
export LOOP_SOURCE_DIR LOOP

loop_setup() {
    if [ -z "${LOOP:-}" ] || [ ! -x "$LOOP" ]; then
        echo "LOOP must name the built loop binary (got '${LOOP:-}')" >&2
        return 1
    fi
    TEST_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/loop-cli.XXXXXX")
    export TEST_DIR
    export LOOP_HOME="$TEST_DIR/home"
    unset LOOP_SESSION_ID LOOP_CLAIM_FENCE XDG_STATE_HOME NO_COLOR
    PIDS_FILE="$TEST_DIR/pids"
    : >"$PIDS_FILE"
}

loop_teardown() {
    stop_keepers
    if [ -n "${PIDS_FILE:-}" ] && [ -f "$PIDS_FILE" ]; then
        local pid
        while read -r pid; do
            [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
        done <"$PIDS_FILE"
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

setup() { loop_setup; }
teardown() { loop_teardown; }

# The host keepers a test's claims started on the Redis backend (their pid
# is in the home's keeper lock file): stopped in teardown.
stop_keepers() {
    [ -n "${LOOP_HOME:-}" ] && [ -d "$LOOP_HOME" ] || return 0
    local f pid
    for f in "$LOOP_HOME"/keeper-*.lock; do
        [ -f "$f" ] || continue
        pid=$(head -n1 "$f" 2>/dev/null)
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    done
    return 0
}

# run_loop ARGS...: runs the binary; $status, $output (stdout only) and
# $stderr are set.
run_loop() {
    run --separate-stderr "$LOOP" "$@"
}

# Prints what a command produced, for the failure report of a test.
show() {
    echo "status: $status" >&2
    echo "stdout: $output" >&2
    echo "stderr: ${stderr:-}" >&2
}

# expect_status N: the last run_loop exited with N.
expect_status() {
    if [ "$status" -ne "$1" ]; then
        echo "expected exit $1" >&2
        show
        return 1
    fi
}

# expect_in TEXT NEEDLE: TEXT contains NEEDLE.
expect_in() {
    case "$1" in
    *"$2"*) return 0 ;;
    esac
    echo "expected to find: $2" >&2
    echo "in: $1" >&2
    return 1
}

# Remembers a pid so that teardown kills it.
track() { echo "$1" >>"$PIDS_FILE"; }

# start_anchor: a long sleep that stands for a process another session lives
# with. Sets ANCHOR to its pid. Call it directly (not inside $(...)).
start_anchor() {
    # shellcheck disable=SC2217 # no stdin for the anchor
    sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
    ANCHOR=$!
    track "$ANCHOR"
}

# kill_pid PID: kills a process this test started and reaps it.
kill_pid() {
    { kill -KILL "$1" && wait "$1" || true; } 2>/dev/null
    return 0
}

# new_session [ARGS...]: a session anchored to a fresh sleep. Sets SID and
# ANCHOR. Call it directly (not inside $(...)).
new_session() {
    start_anchor
    SID=$("$LOOP" _ session start --pid "$ANCHOR" "$@") || return 1
    [ -n "$SID" ] || return 1
}

# start_bg OUT CMD...: runs CMD in the background, stdout and stderr to OUT.
# Sets BG to its pid.
start_bg() {
    local out=$1
    shift
    "$@" </dev/null >"$out" 2>&1 3>&- &
    BG=$!
    track "$BG"
}

# wait_for TEST...: polls until the test command succeeds, for up to 20 s.
wait_for() {
    local i
    for ((i = 0; i < 400; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    echo "gave up waiting for: $*" >&2
    return 1
}

# wait_exit PID: waits for a background process (started with start_bg) and
# sets WAIT_STATUS; kills it and fails after 20 s.
wait_exit() {
    local pid=$1 i
    for ((i = 0; i < 400; i++)); do
        if ! kill -0 "$pid" 2>/dev/null || [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ]; then
            WAIT_STATUS=0
            wait "$pid" || WAIT_STATUS=$?
            return 0
        fi
        sleep 0.05
    done
    echo "process $pid did not exit within 20 s" >&2
    { kill -KILL "$pid" && wait "$pid" || true; } 2>/dev/null
    return 1
}

# Nothing under claims/ (missing counts as empty).
claims_empty() {
    [ -z "$(ls -A "$LOOP_HOME/claims" 2>/dev/null)" ]
}

gone() { ! kill -0 "$1" 2>/dev/null; }

# A file exists and is not empty.
nonempty() { [ -s "$1" ]; }

# RFC 3339 UTC timestamp.
RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$'

# woke_by_notification: the last claim.acquired event records a wait far
# shorter than the 2 s periodic re-check a waiter falls back to.
woke_by_notification() {
    local waited
    waited=$(jq -s '[.[] | select(.event == "claim.acquired")] | last | .waited_ms' \
        "$LOOP_HOME/events.jsonl")
    [ "$waited" != null ] && [ "$waited" -lt 1500 ] || {
        echo "waited_ms: $waited (not woken by a notification?)" >&2
        return 1
    }
}
