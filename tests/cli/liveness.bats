#!/usr/bin/env bats
# Which session a claim belongs to, and when it is alive: the calling shell
# behind a command substitution, a session that ends while it waits, an
# earlier incarnation of a session id, holders in another pid namespace.

load helpers

# claim_in_substitution SHELL: SHELL claims inside $(...) with stderr
# redirected (a forked subshell runs it); the owner must be SHELL itself.
claim_in_substitution() {
    run "$1" -c '
        out=$("$LOOP" _ claim job-1 2>&1)
        echo "$out"
        "$LOOP" _ owner job-1 --json | jq -r ".[0].pid"
        echo "shell $$"'
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    expect_in "$output" "claimed job-1 (fence 1)"
    pid=$(sed -n 2p <<<"$output")
    [ "$(sed -n 3p <<<"$output")" = "shell $pid" ] || { echo "$output" >&2; false; }
}

@test "a claim from a bash command substitution belongs to the shell, not to its subshell" {
    claim_in_substitution bash
}

@test "a claim from a dash command substitution belongs to the shell" {
    command -v dash >/dev/null || skip "dash is not installed"
    claim_in_substitution dash
}

@test "a claim from a command substitution lives while the shell lives" {
    # The shell claims in $(...), then waits; the claim must still hold.
    bash -c 'out=$("$LOOP" _ claim job-1 2>&1); echo "$out"; exec sleep 1000' \
        </dev/null >"$TEST_DIR/shell.out" 2>&1 3>&- &
    S=$!
    track "$S"
    wait_for grep -q "claimed job-1" "$TEST_DIR/shell.out"
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 1
    run_loop reap --dry-run --json
    jq -e '(.claims | length) == 0' <<<"$output"
    kill_pid "$S"
    run_loop _ claim job-1 --session "$SID"
    expect_status 0
}

@test "a session that ends while its --wait waits gets exit 2 and holds nothing" {
    new_session
    A=$SID
    new_session
    B=$SID
    run_loop _ claim job-1 --session "$A"
    expect_status 0
    start_bg "$TEST_DIR/waiter.out" "$LOOP" _ claim job-1 --session "$B" --wait 20s
    W=$BG
    wait_for grep -q '"claim.contended"' "$LOOP_HOME/events.jsonl"
    run_loop _ session end "$B"
    expect_status 0
    run_loop _ unclaim job-1 --session "$A"
    expect_status 0
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 2 ] || { cat "$TEST_DIR/waiter.out" >&2; false; }
    expect_in "$(cat "$TEST_DIR/waiter.out")" "ended while waiting"
    run_loop _ owner job-1
    expect_status 1
}

@test "with: a session that ends while it waits runs nothing" {
    new_session
    A=$SID
    new_session
    B=$SID
    run_loop _ claim job-1 --session "$A"
    start_bg "$TEST_DIR/with.out" "$LOOP" _ with job-1 --session "$B" --wait 20s -- touch "$TEST_DIR/ran"
    W=$BG
    wait_for grep -q '"claim.contended"' "$LOOP_HOME/events.jsonl"
    "$LOOP" _ session end "$B"
    "$LOOP" _ unclaim job-1 --session "$A"
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 2 ] || { cat "$TEST_DIR/with.out" >&2; false; }
    [ ! -e "$TEST_DIR/ran" ]
}

@test "ID@INCARNATION: an earlier incarnation is a dead session (exit 2), never the new one" {
    new_session
    sid=$SID
    nonce=$(jq -r .nonce "$LOOP_HOME/sessions/$sid")
    run_loop _ claim job-1 --session "$sid@$nonce"
    expect_status 0
    # A new incarnation of the same id (as a supervisor restart makes).
    jq -c '.nonce = "00000000000000ff"' "$LOOP_HOME/sessions/$sid" >"$TEST_DIR/s"
    mv "$TEST_DIR/s" "$LOOP_HOME/sessions/$sid"
    run_loop _ claim job-2 --session "$sid@$nonce"
    expect_status 2
    expect_in "$stderr" "later incarnation"
    run_loop _ unclaim job-1 --session "$sid@$nonce"
    expect_status 2
    run_loop _ session end "$sid@$nonce"
    expect_status 2
    [ -e "$LOOP_HOME/sessions/$sid" ]
    run_loop _ claim job-2 --session "$sid@00000000000000ff"
    expect_status 0
}

# A holder in another pid namespace: its pids mean nothing here. Run in the
# background, $! is unshare itself, and killing it ends the namespace.
in_pid_namespace() {
    exec unshare --pid --fork --mount-proc --kill-child "$@"
}

@test "a holder in another pid namespace is undecidable, never dead" {
    command -v unshare >/dev/null || skip "unshare is not installed"
    if ! unshare --pid --fork --mount-proc true 2>/dev/null; then
        skip "cannot create a pid namespace here (unshare refused)"
    fi
    in_pid_namespace sh -c '"$LOOP" _ claim job-1 && exec sleep 1000' \
        </dev/null >"$TEST_DIR/ns.out" 2>&1 3>&- &
    U=$!
    track "$U"
    wait_for grep -q "claimed job-1" "$TEST_DIR/ns.out"
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 1
    expect_in "$stderr" "pid namespace"
    run_loop reap --json
    expect_status 0
    jq -e '(.claims | length) == 0' <<<"$output"
    [ -e "$LOOP_HOME/claims/job-1" ]
    run_loop _ owner job-1 --json
    expect_status 0
    kill_pid "$U"
}

@test "a --ttl session in another pid namespace lives by its heartbeat and dies at its TTL" {
    command -v unshare >/dev/null || skip "unshare is not installed"
    if ! unshare --pid --fork --mount-proc true 2>/dev/null; then
        skip "cannot create a pid namespace here (unshare refused)"
    fi
    # Anchored in the namespace (pid 1 there) and with a TTL.
    in_pid_namespace sh -c '
        s=$("$LOOP" _ session start --pid $$ --ttl 2s) || exit 1
        echo "$s"
        "$LOOP" _ claim job-1 --session "$s" && exec sleep 1000' \
        </dev/null >"$TEST_DIR/ns.out" 2>&1 3>&- &
    U=$!
    track "$U"
    wait_for grep -q "claimed job-1" "$TEST_DIR/ns.out"
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 1
    # Without heartbeats the TTL runs out: then it is dead, here too.
    run_loop _ claim job-1 --session "$SID" --wait 20s
    expect_status 0
    kill_pid "$U"
}
