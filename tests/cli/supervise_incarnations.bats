#!/usr/bin/env bats
# Every incarnation of a worker is its own session, and nothing of a dead
# incarnation works on after its claims were handed on: its process group
# is stopped first, its escaped descendants are stopped with it, and a
# leftover that still carries its LOOP_SESSION_ID is refused as dead.

load supervise_helpers

# Starts the supervisor on leftover.json and waits for its worker: $main is
# the worker's main process, $child the child it leaves in its group.
start_leftover_worker() {
    export OUT_DIR="$TEST_DIR/out"
    mkdir -p "$OUT_DIR"
    start_sup "$PLAYBOOKS/leftover.json"
    wait_workers item 1
    main=$(live_pid item 1)
    wait_for test -s "$OUT_DIR/old"
    child=$(cat "$OUT_DIR/old")
    track "$child"
}

# The replacement got the claim only after the old child was gone.
expect_clean_handover() {
    wait_for test -s "$OUT_DIR/result"
    [ "$(cat "$OUT_DIR/result")" = clean ]
    gone "$child"
}

# --- the process group outlives the main process -------------------------

@test "supervise: a dead worker's claims go only when its process group is gone, also across a supervisor restart" {
    start_leftover_worker
    wait_for test -f "$LOOP_HOME/claims/item"
    # No supervisor, then the worker's main process dies: its child goes on.
    kill -KILL "$SUP"
    wait_exit "$SUP"
    kill -KILL "$main"
    wait_for gone "$main"
    running "$child"
    # Without a supervisor, neither reap nor a claimer takes the claim away
    # while the group still has a member.
    run_loop reap
    expect_status 0
    run_loop _ owner item --json
    expect_status 0
    run_loop _ claim item --wait 0
    expect_status 1
    # A new supervisor stops the leftover before the replacement claims.
    start_sup "$PLAYBOOKS/leftover.json"
    expect_clean_handover
    [ "$(cat "$OUT_DIR/term")" = term ]
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
}

@test "supervise: a worker whose main process dies has the rest of its group stopped before its claims go" {
    start_leftover_worker
    kill -KILL "$main"
    expect_clean_handover
    # It was stopped with the worker's stop_signal, not killed outright.
    [ "$(cat "$OUT_DIR/term")" = term ]
    stop_sup
}

# --- incarnations -------------------------------------------------------------

@test "supervise: LOOP_SESSION_ID names the incarnation; a leftover of an earlier one is refused as dead" {
    export OUT_DIR="$TEST_DIR/out"
    mkdir "$OUT_DIR"
    start_sup "$PLAYBOOKS/incarnation.json"
    wait_workers inc 1
    sid=$(session_of inc 1)
    first=$(live_pid inc 1)
    wait_for test -f "$LOOP_HOME/claims/job-1"
    kill -KILL "$first"
    two_ids() { [ "$(wc -l <"$OUT_DIR/ids")" -ge 2 ]; }
    wait_for two_ids
    wait_for workers_alive inc 1
    wait_for test -f "$LOOP_HOME/claims/job-1"
    old=$(sed -n 1p "$OUT_DIR/ids")
    new=$(sed -n 2p "$OUT_DIR/ids")
    expect_in "$old" "$sid@"
    expect_in "$new" "$sid@"
    [ "$old" != "$new" ]
    # The earlier incarnation's id is a dead session: exit 2, nothing taken.
    LOOP_SESSION_ID=$old run_loop _ claim job-1
    expect_status 2
    LOOP_SESSION_ID=$old run_loop _ claim job-2
    expect_status 2
    [ ! -e "$LOOP_HOME/claims/job-2" ]
    LOOP_SESSION_ID=$old run_loop _ unclaim job-1
    expect_status 2
    # The new incarnation still holds its claim.
    run_loop _ owner job-1 --json
    expect_status 0
    [ "$(jq -r '.[0].session' <<<"$output")" = "$sid" ]
    LOOP_SESSION_ID=$new run_loop _ claim job-1
    expect_status 0
    stop_sup
}

@test "supervise: descendants that escaped a worker's group are stopped when it dies, not only at shutdown" {
    export OUT_DIR="$TEST_DIR/out"
    mkdir "$OUT_DIR"
    start_sup "$PLAYBOOKS/incarnation.json"
    wait_workers inc 1
    first=$(live_pid inc 1)
    wait_for test -s "$OUT_DIR/escaped"
    esc=$(sed -n 1p "$OUT_DIR/escaped")
    track "$esc"
    [ "$(ps -o pgid= -p "$esc" | tr -d ' ')" != "$first" ]
    kill -KILL "$first"
    two() { [ "$(wc -l <"$OUT_DIR/escaped")" -ge 2 ]; }
    wait_for two
    wait_for gone "$esc"
    running "$SUP"
    stop_sup
}
