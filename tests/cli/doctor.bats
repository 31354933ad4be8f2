#!/usr/bin/env bats
# loop doctor [--repair] [--json]: what it reports, what it repairs, its
# output and exit codes (0 healthy, 1 problems left, 3 cannot check).

# shellcheck disable=SC2154 # $status, $output, $lines and $stderr come from run
load helpers

# A claim dead-1 held by a session whose process has died. Sets DEAD_SID.
dead_holder() {
    new_session
    DEAD_SID=$SID
    run_loop _ claim dead-1 --session "$DEAD_SID"
    expect_status 0
    kill_pid "$ANCHOR"
}

@test "doctor: a fresh home is healthy" {
    run_loop doctor
    expect_status 0
    [ "$output" = "0 problems found, 0 repaired" ]
    run_loop doctor --json
    expect_status 0
    jq -e '.healthy == true and .findings == []' <<<"$output"
    run_loop doctor --repair
    expect_status 0
    [ "$output" = "0 problems found, 0 repaired" ]
}

@test "doctor: a corrupt claim record: the advice of the error is true" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 0
    echo 'garbage' >"$LOOP_HOME/claims/job-1"
    run_loop _ claim job-1 --session "$SID"
    expect_status 3
    expect_in "$stderr" "$LOOP_HOME/claims/job-1"
    expect_in "$stderr" "run 'loop doctor --repair'"

    run_loop doctor
    expect_status 1
    [ "${lines[0]}" = "problem: $LOOP_HOME/claims/job-1: corrupt record (not a JSON object) (fix: move it aside to $LOOP_HOME/corrupt/; it was never a valid claim, so no holder can depend on it)" ]
    [ "${lines[1]}" = "1 problem found, 0 repaired" ]
    [ -f "$LOOP_HOME/claims/job-1" ]

    run_loop doctor --repair
    expect_status 0
    expect_in "${lines[1]}" "repaired: $LOOP_HOME/claims/job-1: moved to $LOOP_HOME/corrupt/claims.job-1."
    [ "${lines[2]}" = "1 problem found, 1 repaired" ]
    [ ! -e "$LOOP_HOME/claims/job-1" ]
    [ "$(cat "$LOOP_HOME"/corrupt/claims.job-1.*)" = garbage ]

    run_loop _ claim job-1 --session "$SID"
    expect_status 0
    [ "$output" = "claimed job-1 (fence 2)" ]
    run_loop doctor
    expect_status 0
}

@test "doctor: a corrupt fence counter: the advice of the error is true" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    run_loop _ unclaim job-1 --session "$SID"
    expect_status 0
    echo 'garbage' >"$LOOP_HOME/locks/job-1"
    run_loop _ claim job-1 --session "$SID"
    expect_status 3
    expect_in "$stderr" "run 'loop doctor"

    run_loop doctor
    expect_status 1
    expect_in "${lines[0]}" "problem: $LOOP_HOME/locks/job-1: corrupt fence counter"
    run_loop doctor --repair
    expect_status 0
    run_loop _ claim job-1 --session "$SID" --json
    expect_status 0
    jq -e '.fence > 1000000000000' <<<"$output"
    run_loop doctor
    expect_status 0
}

@test "doctor --json: a stale claim is reported, reaped with --repair; a live one stays" {
    dead_holder
    new_session
    run_loop _ claim live-1 --session "$SID"
    expect_status 0

    run_loop doctor --json
    expect_status 1
    jq -e --arg p "$LOOP_HOME/claims/dead-1" --arg s "$DEAD_SID" '
        .healthy == false and (.findings | length) == 1 and
        (.findings[0] | .kind == "stale" and .path == $p and .repaired == false and
         (.problem | contains($s)) and (.fix | length) > 0)' <<<"$output"
    [ -f "$LOOP_HOME/claims/dead-1" ]

    run_loop doctor --repair --json
    expect_status 0
    jq -e '.healthy == true and .findings[0].repaired == true' <<<"$output"
    [ ! -e "$LOOP_HOME/claims/dead-1" ]
    [ -f "$LOOP_HOME/claims/live-1" ]
    grep -q '"claim.reaped"' "$LOOP_HOME/events.jsonl"

    run_loop doctor
    expect_status 0
    [ "$output" = "0 problems found, 0 repaired" ]
}

@test "doctor --json: any bytes in a file name give valid JSON and one-line output" {
    mkdir -p "$LOOP_HOME/claims"
    chmod -R 700 "$LOOP_HOME"
    : >"$LOOP_HOME/claims/$(printf 'bad\xffname\nx')"
    run_loop doctor --json
    expect_status 1
    jq -e --arg p "$LOOP_HOME/claims/bad\\xffname\\x0ax" '
        .findings[0].kind == "corrupt-claim" and .findings[0].path == $p' <<<"$output"
    run_loop doctor
    expect_status 1
    [ "${#lines[@]}" -eq 2 ]
    run_loop doctor --repair
    expect_status 0
    claims_empty
}

@test "doctor: a claim of an unknown session is reaped" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 0
    rm "$LOOP_HOME/sessions/$SID"
    run_loop doctor
    expect_status 1
    expect_in "${lines[0]}" "problem: $LOOP_HOME/claims/job-1: held by session $SID (fence 1), a session that has no record"
    run_loop doctor --repair
    expect_status 0
    [ "${lines[1]}" = "repaired: $LOOP_HOME/claims/job-1: reaped" ]
    claims_empty
}

@test "doctor: permissions are repaired" {
    mkdir -p "$LOOP_HOME/claims"
    chmod 755 "$LOOP_HOME"
    chmod 750 "$LOOP_HOME/claims"
    run_loop doctor
    expect_status 1
    [ "${lines[0]}" = "problem: $LOOP_HOME: mode 0755, should be 0700 (fix: chmod 0700)" ]
    [ "${lines[1]}" = "problem: $LOOP_HOME/claims: mode 0750, should be 0700 (fix: chmod 0700)" ]
    [ "${lines[2]}" = "2 problems found, 0 repaired" ]
    [ "$(stat -c %a "$LOOP_HOME")" = 755 ]
    run_loop doctor --repair
    expect_status 0
    [ "${lines[3]}" = "repaired: $LOOP_HOME/claims: changed its mode to 0700" ]
    [ "$(stat -c %a "$LOOP_HOME")" = 700 ]
    [ "$(stat -c %a "$LOOP_HOME/claims")" = 700 ]
}

@test "doctor --repair: exit 1 when something cannot be repaired" {
    mkdir -p "$LOOP_HOME" "$TEST_DIR/elsewhere"
    chmod 700 "$LOOP_HOME"
    ln -s "$TEST_DIR/elsewhere" "$LOOP_HOME/txn"
    run_loop doctor --repair
    expect_status 1
    expect_in "${lines[0]}" "problem: $LOOP_HOME/txn: it is a symlink, not a directory (fix: none:"
    [ "${lines[1]}" = "1 problem found, 0 repaired" ]
    [ -L "$LOOP_HOME/txn" ]
}

@test "doctor: a stale supervisor.lock is a note, not a problem" {
    sleep 0 &
    local pid=$!
    wait "$pid"
    mkdir -p "$LOOP_HOME"
    chmod 700 "$LOOP_HOME"
    echo "$pid 1 0 $(cat /proc/sys/kernel/random/boot_id)" >"$LOOP_HOME/supervisor.lock"
    run_loop doctor
    expect_status 0
    expect_in "${lines[0]}" "info: $LOOP_HOME/supervisor.lock: stale supervisor.lock (pid $pid not running)"
    [ "${lines[1]}" = "0 problems found, 0 repaired" ]
    run_loop doctor --repair --json
    expect_status 0
    jq -e '.healthy == true and .findings[0].kind == "supervisor-lock" and
           .findings[0].severity == "info" and .findings[0].repaired == true' <<<"$output"
    [ ! -s "$LOOP_HOME/supervisor.lock" ]
    run_loop doctor
    [ "$output" = "0 problems found, 0 repaired" ]
}

@test "doctor: exit 3 when the home cannot be examined" {
    : >"$TEST_DIR/not-a-dir"
    run_loop --home "$TEST_DIR/not-a-dir" doctor
    expect_status 3
    expect_in "$stderr" "$TEST_DIR/not-a-dir"
}

@test "doctor: bad flags are usage errors" {
    run_loop doctor --bogus
    expect_status 2
}
