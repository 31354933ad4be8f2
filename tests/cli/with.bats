#!/usr/bin/env bats
# loop _ with NAME... -- COMMAND [ARG...]

# shellcheck disable=SC2154 # $status, $output, $lines and $stderr come from run
load helpers

@test "with: runs COMMAND with LOOP_CLAIM_FENCE, exits 0, releases the claim" {
    run_loop _ with job-1 -- sh -c 'echo "fence=$LOOP_CLAIM_FENCE"; "$LOOP" _ owner job-1 >/dev/null && echo held'
    expect_status 0
    [ "${lines[0]}" = "fence=1" ]
    [ "${lines[1]}" = "held" ]
    claims_empty
    run_loop _ owner job-1
    expect_status 1
    # The next acquisition gets a greater fence.
    run_loop _ with job-1 -- sh -c 'echo "$LOOP_CLAIM_FENCE"'
    expect_status 0
    [ "$output" = 2 ]
}

@test "with: several names give LOOP_CLAIM_FENCE as NAME=FENCE pairs" {
    new_session
    run_loop _ claim b-name --session "$SID"
    run_loop _ unclaim b-name --session "$SID"
    run_loop _ with b-name a-name -- sh -c 'echo "$LOOP_CLAIM_FENCE"'
    expect_status 0
    [ "$output" = "a-name=1 b-name=2" ]
    claims_empty
}

@test "with: passes COMMAND's arguments untouched" {
    run_loop _ with job-1 -- printf '[%s]' 'a b' '--' '-x' ''
    expect_status 0
    [ "$output" = "[a b][--][-x][]" ]
}

@test "with: exits with COMMAND's status and releases the claim" {
    run_loop _ with job-1 -- sh -c 'exit 5'
    expect_status 5
    claims_empty
    run_loop _ with job-1 -- false
    expect_status 1
    claims_empty
}

@test "with: exits 128+N when COMMAND is killed by signal N" {
    run_loop _ with job-1 -- sh -c 'kill -KILL $$'
    expect_status 137
    claims_empty
    run_loop _ with job-1 -- sh -c 'kill -TERM $$'
    expect_status 143
    claims_empty
}

@test "with: 127 for a command that does not exist, and the claim is released" {
    # (run -127: bats warns about 127 unless it is expected.)
    run -127 --separate-stderr "$LOOP" _ with job-1 -- "$TEST_DIR/no-such-command"
    expect_in "$stderr" "no-such-command"
    claims_empty
}

@test "with: exit 1 when busy, COMMAND not run, holder named" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    run_loop _ with job-1 -- touch "$TEST_DIR/ran"
    expect_status 1
    expect_in "$stderr" "held by session $SID (pid $ANCHOR)"
    [ ! -e "$TEST_DIR/ran" ]
    run_loop _ owner job-1 --json
    jq -e --arg s "$SID" 'length == 1 and .[0].session == $s' <<<"$output"
}

@test "with --conflict-exit-code 7: exit 7 when busy" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    run_loop _ with job-1 --conflict-exit-code 7 -- touch "$TEST_DIR/ran"
    expect_status 7
    [ ! -e "$TEST_DIR/ran" ]
    # Not busy: COMMAND's status, not the conflict code.
    run_loop _ with job-2 --conflict-exit-code 7 -- sh -c 'exit 0'
    expect_status 0
}

@test "with --conflict-exit-code outside 0..255 is a usage error, and nothing is taken" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    local code
    for code in 256 -1 1000; do
        # Busy or not, the code is refused first (256 would be exit 0).
        for name in job-1 free-name; do
            run_loop _ with "$name" --conflict-exit-code "$code" -- touch "$TEST_DIR/ran"
            expect_status 2
            expect_in "$stderr" "--conflict-exit-code"
            [ ! -e "$TEST_DIR/ran" ]
        done
    done
    [ "$(ls "$LOOP_HOME/claims")" = job-1 ]
    run_loop _ with job-1 --conflict-exit-code 255 -- true
    expect_status 255
}

@test "with: all-or-nothing, no claim left behind when one name is busy" {
    new_session
    run_loop _ claim m-name --session "$SID"
    run_loop _ with a-name m-name -- touch "$TEST_DIR/ran"
    expect_status 1
    [ ! -e "$TEST_DIR/ran" ]
    [ "$(ls "$LOOP_HOME/claims")" = m-name ]
}

@test "with --wait: waits for the holder to release" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    start_bg "$TEST_DIR/with.out" "$LOOP" _ with job-1 --wait 20s -- sh -c 'echo "ran $LOOP_CLAIM_FENCE"'
    W=$BG
    wait_for grep -q '"claim.contended"' "$LOOP_HOME/events.jsonl"
    run_loop _ unclaim job-1 --session "$SID"
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 0 ] || { cat "$TEST_DIR/with.out" >&2; false; }
    [ "$(cat "$TEST_DIR/with.out")" = "ran 2" ]
    claims_empty
}

@test "with --wait: while it waits, its session owns COMMAND's group; SIGTERM ends the wait, COMMAND never runs" {
    new_session
    run_loop _ claim x --session "$SID"
    expect_status 0
    start_bg "$TEST_DIR/with.out" "$LOOP" _ with --wait 60s x -- touch "$TEST_DIR/ran"
    W=$BG
    wait_for sh -c "ls '$LOOP_HOME/sessions' | grep -q '^p$W-'"
    pgid=$(jq -r .pgid "$LOOP_HOME"/sessions/p"$W"-*)
    [ "$pgid" -gt 0 ] || { cat "$LOOP_HOME"/sessions/p"$W"-*; false; }
    # COMMAND's process, forked and held at its gate, leads that group.
    [ "$(ps -o pgid= -p "$pgid" | tr -d ' ')" = "$pgid" ]
    kill -TERM "$W"
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 143 ]
    gone_or_zombie() { [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
    wait_for gone_or_zombie "$pgid"
    [ ! -e "$TEST_DIR/ran" ]
    run_loop _ owner x --json
    [ "$(jq -r '.[0].session' <<<"$output")" = "$SID" ]
}

@test "with --wait: exit 1 on timeout" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    run_loop _ with job-1 --wait 200ms -- touch "$TEST_DIR/ran"
    expect_status 1
    expect_in "$stderr" "timed out after 200ms"
    [ ! -e "$TEST_DIR/ran" ]
}

@test "with --shared: two shared withs run together" {
    start_bg "$TEST_DIR/one.out" "$LOOP" _ with docs --shared -- sh -c \
        'touch "$TEST_DIR/one"; i=0; while [ ! -e "$TEST_DIR/go" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done'
    W=$BG
    wait_for [ -e "$TEST_DIR/one" ]
    run_loop _ with docs --shared -- sh -c 'echo "$LOOP_CLAIM_FENCE"'
    expect_status 0
    [ "$output" = 2 ]
    run_loop _ with docs -- true
    expect_status 1
    expect_in "$stderr" "in shared mode"
    touch "$TEST_DIR/go"
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 0 ]
    claims_empty
}

@test "with --ttl: the claim carries an expiry while COMMAND runs" {
    run_loop _ with job-1 --ttl 1h -- "$LOOP" _ owner job-1 --json
    expect_status 0
    jq -e --arg re "$RFC3339" '.[0].expires_at | test($re)' <<<"$output"
    claims_empty
}

@test "with --session: the claim belongs to the named session, which stays" {
    new_session
    run_loop _ with job-1 --session "$SID" -- sh -c 'echo "$LOOP_SESSION_ID"; "$LOOP" _ owner job-1 --json'
    expect_status 0
    [ "${lines[0]}" = "$SID" ]
    jq -e --arg s "$SID" '.[0].session == $s' <<<"$(printf '%s\n' "${lines[@]:1}")"
    claims_empty
    run_loop sessions --json
    jq -e --arg s "$SID" '.[] | select(.id == $s) | .alive == true' <<<"$output"
}

@test "with --session: a claim the session already held stays held after" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    run_loop _ with job-1 --session "$SID" -- sh -c 'echo "$LOOP_CLAIM_FENCE"'
    expect_status 0
    [ "$output" = 1 ]
    run_loop _ owner job-1 --json
    expect_status 0
    jq -e --arg s "$SID" '.[0].session == $s' <<<"$output"
}

@test "with: exit 2 without a command" {
    run_loop _ with job-1
    expect_status 2
    expect_in "$stderr" "no command given"
    run_loop _ with job-1 --
    expect_status 2
    expect_in "$stderr" "no command given"
    claims_empty
}

@test "with: exit 2 for a bad duration, an unknown or a dead session" {
    run_loop _ with job-1 --wait 1y -- touch "$TEST_DIR/ran"
    expect_status 2
    expect_in "$stderr" "bad duration"
    run_loop _ with job-1 --session nosuch-00000000 -- touch "$TEST_DIR/ran"
    expect_status 2
    expect_in "$stderr" "is unknown"
    new_session
    kill_pid "$ANCHOR"
    run_loop _ with job-1 --session "$SID" -- touch "$TEST_DIR/ran"
    expect_status 2
    expect_in "$stderr" "is dead"
    [ ! -e "$TEST_DIR/ran" ]
    claims_empty
}

@test "with: works after global options such as --home" {
    run_loop --home "$TEST_DIR/other" _ with job-1 -- sh -c 'echo "$LOOP_CLAIM_FENCE $LOOP_HOME"'
    expect_status 0
    [ "$output" = "1 $TEST_DIR/other" ]
}

@test "with: SIGTERM is passed on to COMMAND and the claims are released" {
    start_bg "$TEST_DIR/with.out" "$LOOP" _ with job-1 job-2 -- sh -c '
        trap "echo got-term > \"\$TEST_DIR/term\"; exit 9" TERM
        echo $$ > "$TEST_DIR/cmd.pid"
        while :; do sleep 0.05; done'
    W=$BG
    wait_for nonempty "$TEST_DIR/cmd.pid"
    track "$(cat "$TEST_DIR/cmd.pid")"
    run_loop _ owner job-1
    expect_status 0
    kill -TERM "$W"
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 9 ] || { cat "$TEST_DIR/with.out" >&2; echo "exit $WAIT_STATUS" >&2; false; }
    [ "$(cat "$TEST_DIR/term")" = got-term ]
    claims_empty
    run_loop _ owner job-1
    expect_status 1
}

@test "with: SIGINT is passed on to COMMAND and the claims are released" {
    start_bg "$TEST_DIR/with.out" "$LOOP" _ with job-1 -- sh -c '
        trap "echo got-int > \"\$TEST_DIR/int\"; exit 3" INT
        echo $$ > "$TEST_DIR/cmd.pid"
        while :; do sleep 0.05; done'
    W=$BG
    wait_for nonempty "$TEST_DIR/cmd.pid"
    track "$(cat "$TEST_DIR/cmd.pid")"
    kill -INT "$W"
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 3 ] || { cat "$TEST_DIR/with.out" >&2; echo "exit $WAIT_STATUS" >&2; false; }
    [ "$(cat "$TEST_DIR/int")" = got-int ]
    claims_empty
}

@test "with: two withs started from the same shell exclude each other" {
    start_bg "$TEST_DIR/first.out" "$LOOP" _ with job-1 -- sh -c '
        touch "$TEST_DIR/first"
        i=0; while [ ! -e "$TEST_DIR/go" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done'
    W=$BG
    wait_for [ -e "$TEST_DIR/first" ]
    # Same parent shell as the first one: still refused.
    "$LOOP" _ with job-1 -- touch "$TEST_DIR/second" 2>"$TEST_DIR/second.err" && rc=0 || rc=$?
    [ "$rc" -eq 1 ]
    [ ! -e "$TEST_DIR/second" ]
    expect_in "$(cat "$TEST_DIR/second.err")" "held by session"
    expect_in "$(cat "$TEST_DIR/second.err")" "(pid $W)"
    touch "$TEST_DIR/go"
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 0 ]
    claims_empty
}

@test "with: two withs in one script exclude each other" {
    run bash -c '
        "$LOOP" _ with job-1 -- sh -c "touch \"\$TEST_DIR/first\"; sleep 1" &
        i=0; while [ ! -e "$TEST_DIR/first" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
        "$LOOP" _ with job-1 -- true; rc=$?
        wait
        exit $rc'
    [ "$status" -eq 1 ] || { show; false; }
    claims_empty
}

@test "with: if with itself is killed, COMMAND is killed too and the claim is stale" {
    start_bg "$TEST_DIR/with.out" "$LOOP" _ with job-1 -- sh -c '
        echo $$ > "$TEST_DIR/cmd.pid"
        while :; do sleep 0.05; done'
    W=$BG
    wait_for nonempty "$TEST_DIR/cmd.pid"
    cmd=$(cat "$TEST_DIR/cmd.pid")
    track "$cmd"
    kill -KILL "$W"
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 137 ]
    wait_for gone "$cmd"
    # Nobody released the claim, but its session (the with process) is dead.
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 0
    [ "$output" = "claimed job-1 (fence 2)" ]
}

@test "with: the with process's session record is removed afterwards" {
    run_loop _ with job-1 -- true
    expect_status 0
    [ -z "$(ls "$LOOP_HOME/sessions" 2>/dev/null)" ]
}

@test "with: kill -9 of with: the claim stays held while a grandchild of COMMAND runs" {
    start_bg "$TEST_DIR/with.out" "$LOOP" _ with db -- sh -c '
        (trap "" TERM; while :; do echo step >> "$TEST_DIR/steps"; sleep 0.05; done) &
        echo $! > "$TEST_DIR/grandchild.pid"
        while :; do sleep 0.05; done'
    W=$BG
    wait_for nonempty "$TEST_DIR/grandchild.pid"
    gc=$(cat "$TEST_DIR/grandchild.pid")
    track "$gc"
    kill -KILL "$W"
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 137 ]
    new_session
    # The grandchild still runs: nobody else may have the claim, every time.
    for _ in 1 2 3; do
        kill -0 "$gc"
        run_loop _ claim db --session "$SID" --wait 0
        expect_status 1
    done
    kill_pid "$gc"
    wait_for gone "$gc"
    run_loop _ claim db --session "$SID" --wait 0
    expect_status 0
    [ "$output" = "claimed db (fence 2)" ]
}

@test "with: on a normal exit, what COMMAND left in its group is stopped before the release" {
    run_loop _ with db -- sh -c '
        sleep 1000 >/dev/null 2>&1 &
        echo $! > "$TEST_DIR/left.pid"
        (trap "" TERM; sleep 1000) >/dev/null 2>&1 &
        echo $! > "$TEST_DIR/stubborn.pid"
        exit 4'
    left=$(cat "$TEST_DIR/left.pid")
    stubborn=$(cat "$TEST_DIR/stubborn.pid")
    track "$left"
    track "$stubborn"
    expect_status 4
    gone "$left"
    gone "$stubborn"
    claims_empty
}

@test "with: COMMAND runs in a process group of its own" {
    run_loop _ with db -- sh -c 'echo "$$ $(ps -o pgid= -p $$)"'
    expect_status 0
    read -r pid pgid <<<"$output"
    [ "$pid" = "$pgid" ]
    [ "$pgid" != "$(ps -o pgid= -p $$ | tr -d ' ')" ]
}

@test "with --ttl: the claim is renewed while COMMAND runs" {
    start_bg "$TEST_DIR/with.out" "$LOOP" _ with job-1 --ttl 1s -- sh -c '
        touch "$TEST_DIR/started"
        i=0; while [ ! -e "$TEST_DIR/go" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done'
    W=$BG
    wait_for [ -e "$TEST_DIR/started" ]
    new_session
    # Well past the TTL, the claim is still held, every time it is asked for.
    for _ in 1 2 3 4; do
        sleep 0.7
        run_loop _ claim job-1 --session "$SID" --wait 0
        expect_status 1
    done
    touch "$TEST_DIR/go"
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 0 ] || { cat "$TEST_DIR/with.out" >&2; false; }
    claims_empty
}

@test "with: a claim released by force stops COMMAND, with exits 3 naming it" {
    start_bg "$TEST_DIR/with.out" "$LOOP" _ with job-1 -- sh -c '
        echo $$ > "$TEST_DIR/cmd.pid"
        i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done'
    W=$BG
    wait_for nonempty "$TEST_DIR/cmd.pid"
    cmd=$(cat "$TEST_DIR/cmd.pid")
    track "$cmd"
    run_loop _ unclaim job-1 --force
    expect_status 0
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 3 ] || { cat "$TEST_DIR/with.out" >&2; echo "exit $WAIT_STATUS" >&2; false; }
    expect_in "$(cat "$TEST_DIR/with.out")" "loop: with: lost claim job-1: "
    gone "$cmd"
    [ "$(grep -c . "$TEST_DIR/with.out")" -eq 1 ] || { cat "$TEST_DIR/with.out" >&2; false; }
}

@test "with --ttl: a claim that expired while with was stopped stops COMMAND, exit 3" {
    start_bg "$TEST_DIR/with.out" "$LOOP" _ with job-1 --ttl 1s -- sh -c '
        echo $$ > "$TEST_DIR/cmd.pid"
        i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done'
    W=$BG
    wait_for nonempty "$TEST_DIR/cmd.pid"
    cmd=$(cat "$TEST_DIR/cmd.pid")
    track "$cmd"
    kill -STOP "$W"
    new_session
    wait_for sh -c '"$LOOP" _ claim job-1 --session "$1" --wait 0 2>/dev/null' _ "$SID"
    kill -CONT "$W"
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 3 ] || { cat "$TEST_DIR/with.out" >&2; echo "exit $WAIT_STATUS" >&2; false; }
    expect_in "$(cat "$TEST_DIR/with.out")" "loop: with: lost claim job-1: "
    [ "$(grep -c . "$TEST_DIR/with.out")" -eq 1 ] || { cat "$TEST_DIR/with.out" >&2; false; }
    gone "$cmd"
    # The new holder keeps it.
    run_loop _ owner job-1 --json
    jq -e --arg s "$SID" 'length == 1 and .[0].session == $s and .[0].fence == 2' <<<"$output"
}

@test "with --reason and --meta: recorded on the claim like claim's" {
    run_loop _ with job-1 --reason "deploying" --meta ticket=T-1 --meta by=ci -- \
        "$LOOP" _ owner job-1 --json
    expect_status 0
    jq -e '.[0].reason == "deploying" and .[0].meta.ticket == "T-1" and .[0].meta.by == "ci"' <<<"$output"
    run_loop _ with job-1 --meta novalue -- true
    expect_status 2
    expect_in "$stderr" "KEY=VALUE"
}

@test "with --help shows -- COMMAND [ARG...]; a usage error names loop _ with --help" {
    run_loop _ with --help
    expect_status 0
    expect_in "$output" "-- COMMAND [ARG...]"
    run_loop _ with job-1 --no-such-flag -- true
    expect_status 2
    expect_in "$stderr" "loop _ with --help"
    run_loop _ with
    expect_status 2
    expect_in "$stderr" "loop _ with --help"
}
