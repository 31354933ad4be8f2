#!/usr/bin/env bats
# How loop supervise signals workers: each stop signal reaches each process
# once; adopted workers are signalled through their pidfd.

load supervise_helpers

@test "supervise: a stop signal reaches the main process, its group and escaped descendants once each" {
    export OUT_DIR="$TEST_DIR/out"
    mkdir -p "$OUT_DIR"
    cat >"$TEST_DIR/p.json" <<'JSON'
{ "reap_interval": "1h", "workers": { "count": {
    "run": "exec python3 \"$LOOP_SOURCE_DIR/tests/cli/playbooks/count_signals.py\"",
    "stop_signal": "40", "stop_timeout": "2s" } } }
JSON
    start_sup "$TEST_DIR/p.json"
    wait_workers count 1
    for role in main child escaped; do wait_for file_has "$OUT_DIR/sig.$role" ready; done
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
    for role in main child escaped; do
        echo "$role: $(grep -c '^sig$' "$OUT_DIR/sig.$role")" >&2
    done
    for role in main child escaped; do
        [ "$(grep -c '^sig$' "$OUT_DIR/sig.$role")" -eq 1 ]
    done
    # Not one of them outlived the stop (SIGKILL after stop_timeout).
    [ -z "$(home_procs count)" ]
}

@test "supervise: an adopted worker is stopped once through its pidfd, and its exit noticed" {
    export OUT_DIR="$TEST_DIR/out"
    mkdir -p "$OUT_DIR"
    cat >"$TEST_DIR/p.json" <<'JSON'
{ "reap_interval": "1h", "workers": { "count": {
    "run": "exec python3 \"$LOOP_SOURCE_DIR/tests/cli/playbooks/count_signals.py\"",
    "stop_signal": "40", "stop_timeout": "1s" } } }
JSON
    start_sup "$TEST_DIR/p.json"
    wait_workers count 1
    pid=$(live_pid count 1)
    for role in main child escaped; do wait_for file_has "$OUT_DIR/sig.$role" ready; done
    stop_sup KILL
    start_sup "$TEST_DIR/p.json"
    wait_for has_event ".event == \"session.adopted\" and .pid == $pid"
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
    [ "$(grep -c '^sig$' "$OUT_DIR/sig.main")" -eq 1 ]
    [ "$(grep -c '^sig$' "$OUT_DIR/sig.child")" -eq 1 ]
    gone "$pid"
}
