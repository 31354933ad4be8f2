#!/usr/bin/env bats
# loop reap [--dry-run] [--json] [--retention DUR]

# shellcheck disable=SC2154 # $status, $output, $lines and $stderr come from run
load helpers

# A claim job-1 held by a session whose process has died. Sets DEAD_SID.
dead_holder() {
    new_session
    DEAD_SID=$SID
    DEAD_PID=$ANCHOR
    run_loop _ claim job-1 --session "$DEAD_SID"
    expect_status 0
    kill_pid "$DEAD_PID"
}

@test "reap: nothing to do on a fresh home" {
    run_loop reap
    expect_status 0
    [ -z "$output" ]
    run_loop reap --json
    expect_status 0
    jq -e '.dry_run == false and .claims == [] and .sessions == [] and .txns == []' <<<"$output"
}

@test "reap: removes a dead session's claim and prints it" {
    dead_holder
    run_loop reap
    expect_status 0
    [ "${lines[0]}" = "reaped claim job-1 (session $DEAD_SID, fence 1): pid $DEAD_PID exited" ]
    [ ! -e "$LOOP_HOME/claims/job-1" ]
    run_loop _ owner job-1
    expect_status 1
    grep -q '"claim.reaped"' "$LOOP_HOME/events.jsonl"
    # A second pass has nothing left to do with it.
    run_loop reap
    expect_status 0
    [ -z "$output" ]
    # The fence survives the reap.
    new_session
    run_loop _ claim job-1 --session "$SID"
    [ "$output" = "claimed job-1 (fence 2)" ]
}

@test "reap --dry-run: prints what it would reap and removes nothing" {
    dead_holder
    before=$(cat "$LOOP_HOME/claims/job-1")
    run_loop reap --dry-run
    expect_status 0
    expect_in "${lines[0]}" "would reap claim job-1 (session $DEAD_SID, fence 1)"
    [ "$(cat "$LOOP_HOME/claims/job-1")" = "$before" ]
    [ -f "$LOOP_HOME/sessions/$DEAD_SID" ]
    run_loop reap --dry-run --retention 0 --json
    expect_status 0
    jq -e --arg s "$DEAD_SID" '.dry_run == true and (.claims | length) == 1 and .sessions == [$s]' \
        <<<"$output"
    [ -f "$LOOP_HOME/claims/job-1" ]
    [ -f "$LOOP_HOME/sessions/$DEAD_SID" ]
    run_loop reap
    expect_status 0
    expect_in "$output" "reaped claim job-1"
    [ ! -e "$LOOP_HOME/claims/job-1" ]
}

@test "reap --json: valid JSON naming each reaped claim" {
    dead_holder
    run_loop reap --json
    expect_status 0
    jq -e --arg s "$DEAD_SID" '
        .dry_run == false and (.claims | length) == 1
        and .claims[0].name == "job-1" and .claims[0].session == $s and .claims[0].fence == 1
        and .claims[0].expired == false and (.claims[0].reason | type) == "string"
        and (.sessions | type) == "array" and (.txns | type) == "array"
        and (.warnings | type) == "array"' <<<"$output"
    [ ! -e "$LOOP_HOME/claims/job-1" ]
}

@test "reap: leaves live holders alone" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    run_loop _ claim job-2 --session "$SID" --ttl 1h
    run_loop reap --retention 0
    expect_status 0
    [ -z "$output" ]
    [ -f "$LOOP_HOME/claims/job-1" ]
    [ -f "$LOOP_HOME/claims/job-2" ]
    [ -f "$LOOP_HOME/sessions/$SID" ]
}

@test "reap: removes an expired --ttl claim, marked expired" {
    new_session
    run_loop _ claim job-1 --session "$SID" --ttl 200ms
    sleep 0.5
    run_loop reap --json
    expect_status 0
    jq -e '(.claims | length) == 1 and .claims[0].name == "job-1" and .claims[0].expired == true' \
        <<<"$output"
    [ ! -e "$LOOP_HOME/claims/job-1" ]
    grep -q '"claim.expired"' "$LOOP_HOME/events.jsonl"
}

@test "reap: a shared claim loses only its dead holder" {
    new_session
    A=$SID
    PA=$ANCHOR
    new_session
    B=$SID
    run_loop _ claim docs --session "$A" --shared
    run_loop _ claim docs --session "$B" --shared
    kill_pid "$PA"
    run_loop reap
    expect_status 0
    expect_in "$output" "reaped claim docs (session $A, fence 1)"
    run_loop _ owner docs --json
    expect_status 0
    jq -e --arg b "$B" 'length == 1 and .[0].session == $b' <<<"$output"
}

@test "reap: dead session records are kept for --retention (default 1h)" {
    dead_holder
    run_loop reap
    expect_status 0
    [ -f "$LOOP_HOME/sessions/$DEAD_SID" ]
    run_loop reap --retention 1h
    expect_status 0
    [ -f "$LOOP_HOME/sessions/$DEAD_SID" ]
    run_loop reap --retention 0
    expect_status 0
    [ "$output" = "removed session $DEAD_SID" ]
    [ ! -e "$LOOP_HOME/sessions/$DEAD_SID" ]
}

@test "reap: exit 2 for a bad --retention or an unknown flag" {
    dead_holder
    run_loop reap --retention forever
    expect_status 2
    expect_in "$stderr" "--retention: bad duration 'forever'"
    run_loop reap --bogus
    expect_status 2
    expect_in "$stderr" "--bogus"
    [ -f "$LOOP_HOME/claims/job-1" ]
}

@test "reap: an unreadable claim file is reported by name and left alone" {
    dead_holder
    printf 'garbage' >"$LOOP_HOME/claims/broken"
    run_loop reap
    expect_status 0
    expect_in "$output" "reaped claim job-1"
    expect_in "$stderr" "$LOOP_HOME/claims/broken"
    [ "$(cat "$LOOP_HOME/claims/broken")" = garbage ]
}

@test "reap: the claim of a script's implicit session is reaped once the script exits" {
    run bash -c '"$LOOP" _ claim job-1; rc=$?; exit $rc'
    [ "$status" -eq 0 ]
    run_loop reap
    expect_status 0
    expect_in "$output" "reaped claim job-1"
    claims_empty
}

@test "reap: a pass of thousands of names that cannot start a thread does the work on one" {
    # 2100 names: the pass would use two threads. The address space is
    # bounded at what a reap of an empty home needs here, plus 6 MiB: room
    # for the pass, none for a thread's 8 MiB stack; the pass goes on
    # without. (AddressSanitizer's shadow memory needs more: no bound under it.)
    sleep 1000 &
    local anchor=$!
    track "$anchor"
    local sid
    sid=$("$LOOP" _ session start --pid "$anchor")
    local s i names
    for ((s = 0; s < 7; s++)); do
        names=()
        for ((i = 0; i < 300; i++)); do names+=("n-$s-$i"); done
        "$LOOP" _ claim "${names[@]}" --session "$sid" >/dev/null
    done
    kill "$anchor"
    wait "$anchor" 2>/dev/null || true
    local limit="" kib
    if ! grep -aq __asan "$LOOP"; then
        mkdir -m 700 "$TEST_DIR/empty"
        for ((kib = 4096; kib <= 131072; kib += 1024)); do
            if bash -c "ulimit -v $kib"'; exec "$0" --home "$1" reap' "$LOOP" "$TEST_DIR/empty" \
                >/dev/null 2>&1; then
                limit="ulimit -v $((kib + 6144));"
                break
            fi
        done
        [ -n "$limit" ]
    fi
    run --separate-stderr bash -c "$limit"' exec "$LOOP" reap'
    expect_status 0
    [ "$(grep -c '^reaped claim ' <<<"$output")" -eq 2100 ]
    [ -z "$(ls "$LOOP_HOME/claims")" ]
}

# bells: the waiters' own doorbells under wake/.
bells() { find "$LOOP_HOME/wake" -name '.w-*' 2>/dev/null | sort; }
bells_are() { [ "$(bells | wc -l)" -eq "$1" ]; }

@test "reap: removes the doorbells of killed waiters, never a listened one" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 0
    # Two waiters; the second is killed (nobody behind it drops its ticket).
    start_bg "$TEST_DIR/w1.out" "$LOOP" _ with --wait inf job-1 -- true
    local w1=$BG
    wait_for bells_are 1
    start_bg "$TEST_DIR/w2.out" "$LOOP" _ with --wait inf job-1 -- true
    local w2=$BG
    wait_for bells_are 2
    kill_pid "$w2"
    # Young bells are left alone (a waiter may be about to open its own).
    run_loop reap --json
    expect_status 0
    jq -e '.bells == 0' <<<"$output"
    [ "$(bells | wc -l)" -eq 2 ]
    # Made long ago: the dead one's goes, the live one's (it listens) stays.
    touch -d '2 minutes ago' $(bells)
    run_loop reap --dry-run
    expect_status 0
    expect_in "$output" "would remove 1 doorbell of waiters gone (wake/.w-*)"
    [ "$(bells | wc -l)" -eq 2 ]
    run_loop reap
    expect_status 0
    expect_in "$output" "removed 1 doorbell of waiters gone (wake/.w-*)"
    [ "$(bells | wc -l)" -eq 1 ]
    kill -0 "$w1"
    # The live waiter still gets the name when it is released.
    run_loop _ unclaim job-1 --session "$SID"
    expect_status 0
    wait_exit "$w1"
    [ "$WAIT_STATUS" -eq 0 ]
    [ -z "$(bells)" ]
}

@test "a waiter behind a killed one removes the dead one's doorbell" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 0
    start_bg "$TEST_DIR/w1.out" "$LOOP" _ with --wait inf job-1 -- true
    local w1=$BG dead
    wait_for bells_are 1
    dead=$(bells)
    kill_pid "$w1"
    [ -e "$dead" ]
    # The next waiter drops the dead ticket ahead of it, and its bell.
    start_bg "$TEST_DIR/w2.out" "$LOOP" _ with --wait inf job-1 -- true
    local w2=$BG
    wait_for test ! -e "$dead"
    wait_for bells_are 1
    run_loop _ unclaim job-1 --session "$SID"
    expect_status 0
    wait_exit "$w2"
    [ "$WAIT_STATUS" -eq 0 ]
    [ -z "$(bells)" ]
}
