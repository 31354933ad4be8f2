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
