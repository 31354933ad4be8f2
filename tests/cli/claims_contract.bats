#!/usr/bin/env bats
# The claims contract (SPEC sections 2 and 3) as a script sees it, written
# once and run against every backend: ctest runs this file on the file
# backend (cli_claims_contract) and on a private redis-server
# (cli_claims_contract_redis, LOOP_TEST_BACKEND=redis). Nothing here looks
# at how a backend stores its records.

load helpers
load redis_helpers

setup_file() {
    if [ "${LOOP_TEST_BACKEND:-file}" = redis ]; then start_redis; fi
}

teardown_file() {
    stop_redis
}

setup() {
    loop_setup
    if [ "${LOOP_TEST_BACKEND:-file}" = redis ]; then
        [ -n "${REDIS_SOCK:-}" ] || skip "no redis-server"
        use_redis_prefix 5s
    else
        unset LOOP_BACKEND
    fi
}

# fence_of OUTPUT: the N of "claimed NAME (fence N)".
fence_of() { sed -n 's/.*(fence \([0-9]*\)).*/\1/p' <<<"$1" | head -n1; }

@test "contract: a claim prints its fence; another session is busy and told who holds it" {
    new_session
    a=$SID
    new_session
    b=$SID
    run_loop _ claim repo-x --session "$a"
    expect_status 0
    expect_in "$output" "claimed repo-x (fence "
    run_loop _ claim repo-x --session "$b"
    expect_status 1
    expect_in "$stderr" "held by session $a"
    run_loop _ owner repo-x
    expect_status 0
    expect_in "$output" "session=$a"
}

@test "contract: claiming again is idempotent and keeps the fence" {
    new_session
    run_loop _ claim x --session "$SID"
    f1=$(fence_of "$output")
    run_loop _ claim x --session "$SID"
    expect_status 0
    [ "$(fence_of "$output")" = "$f1" ]
}

@test "contract: fences strictly increase across releases and session ends" {
    new_session
    a=$SID
    run_loop _ claim x --session "$a"
    f1=$(fence_of "$output")
    run_loop _ unclaim x --session "$a"
    expect_status 0
    expect_in "$output" "released x"
    run_loop _ claim x --session "$a"
    f2=$(fence_of "$output")
    [ "$f2" -gt "$f1" ]
    run_loop _ session end "$a"
    expect_status 0
    new_session
    run_loop _ claim x --session "$SID"
    expect_status 0
    f3=$(fence_of "$output")
    [ "$f3" -gt "$f2" ]
}

@test "contract: several names are all or nothing" {
    new_session
    a=$SID
    new_session
    b=$SID
    run_loop _ claim b2 --session "$a"
    run_loop _ claim a1 b2 c3 --session "$b"
    expect_status 1
    run_loop _ owner a1
    expect_status 1
    run_loop _ owner c3
    expect_status 1
    run_loop _ claim a1 c3 --session "$b"
    expect_status 0
    [ "$(grep -c '^claimed ' <<<"$output")" -eq 2 ]
}

@test "contract: shared holders coexist; exclusive and shared exclude each other" {
    new_session
    a=$SID
    new_session
    b=$SID
    new_session
    c=$SID
    run_loop _ claim db --shared --session "$a"
    expect_status 0
    run_loop _ claim db --shared --session "$b"
    expect_status 0
    run_loop _ claim db --session "$c"
    expect_status 1
    run_loop _ unclaim db --session "$a"
    run_loop _ unclaim db --session "$b"
    run_loop _ claim db --session "$c"
    expect_status 0
    run_loop _ claim db --shared --session "$a"
    expect_status 1
}

# ---------------------------------------------------------------- fairness

# Session $1 found db busy ${2:-1} times: a waiter queues before it logs that.
waits() {
    local n
    n=$("$LOOP" events --json 2>/dev/null |
        jq -c --arg s "$1" 'select(.event == "claim.contended" and .session == $s)' | wc -l)
    [ "$n" -ge "${2:-1}" ]
}

# A shared claim by session $1 is refused: an exclusive waiter is ahead.
shared_refused_for_waiter() {
    run_loop _ claim db --shared --session "$1" --wait 0
    expect_status 1
    expect_in "$stderr" "waits for it in exclusive mode"
}

@test "contract: fair: a waiting exclusive claim is served before shared claims that come after it" {
    new_session
    R1=$SID
    run_loop _ claim db --shared --session "$R1"
    expect_status 0
    new_session
    W=$SID
    start_bg "$TEST_DIR/w.out" "$LOOP" _ claim db --session "$W" --wait 20s
    WPID=$BG
    new_session
    R2=$SID
    # While R1 still holds, a new shared claim is refused: the writer waits.
    wait_for waits "$W"
    shared_refused_for_waiter "$R2"
    start_bg "$TEST_DIR/r2.out" "$LOOP" _ claim db --shared --session "$R2" --wait 20s
    R2PID=$BG
    wait_for waits "$R2" 2 # queued behind the writer
    run_loop _ unclaim db --session "$R1"
    expect_status 0
    wait_exit "$WPID"
    [ "$WAIT_STATUS" -eq 0 ] || { cat "$TEST_DIR/w.out"; false; }
    run_loop _ owner db --json
    jq -e --arg w "$W" 'length == 1 and .[0].session == $w' <<<"$output"
    kill -0 "$R2PID" # still waiting behind the writer's claim
    run_loop _ unclaim db --session "$W"
    wait_exit "$R2PID"
    [ "$WAIT_STATUS" -eq 0 ] || { cat "$TEST_DIR/r2.out"; false; }
    # The order of the grants: writer first.
    run sh -c '"$LOOP" events --json | jq -r "select(.event == \"claim.acquired\") | .session"'
    [ "${lines[0]}" = "$R1" ] && [ "${lines[1]}" = "$W" ] && [ "${lines[2]}" = "$R2" ]
}

@test "contract: fair: --wait 0 does not queue, and a waiter that gives up or dies leaves the queue" {
    new_session
    R1=$SID
    run_loop _ claim db --shared --session "$R1"
    new_session
    W=$SID
    run_loop _ claim db --session "$W" --wait 0
    expect_status 1
    run_loop _ claim db --session "$W" --wait 200ms
    expect_status 1
    new_session
    R2=$SID
    run_loop _ claim db --shared --session "$R2" --wait 0
    expect_status 0
    run_loop _ unclaim db --session "$R2"
    # A waiter killed while it waits.
    start_bg "$TEST_DIR/w.out" "$LOOP" _ claim db --session "$W" --wait 20s
    wait_for waits "$W"
    shared_refused_for_waiter "$R2"
    kill_pid "$BG"
    run_loop _ claim db --shared --session "$R2" --wait 0
    expect_status 0
}

# mode_of NAME: the mode NAME is held in ("" when free).
mode_of() { "$LOOP" _ owner "$1" --json 2>/dev/null | jq -r '.[0].mode // empty'; }

@test "contract: --shared-name takes a name shared and the others exclusive, all or nothing" {
    new_session
    a=$SID
    new_session
    b=$SID
    new_session
    c=$SID
    run_loop _ claim item-1 --shared-name repo-main --session "$a"
    expect_status 0
    [ "$(grep -c '^claimed ' <<<"$output")" -eq 2 ]
    [ "$(mode_of item-1)" = exclusive ]
    [ "$(mode_of repo-main)" = shared ]
    # Another item with the same repo: both hold the repo.
    run_loop _ claim item-2 --shared-name repo-main --session "$b"
    expect_status 0
    [ "$("$LOOP" _ owner repo-main --json | jq length)" -eq 2 ]
    # An item that is taken: none of the call's names is held.
    run_loop _ claim item-1 item-3 --shared-name repo-main --session "$c"
    expect_status 1
    [ -z "$(mode_of item-3)" ]
    [ "$("$LOOP" _ owner repo-main --json | jq length)" -eq 2 ]
    # An exclusive holder of the repo keeps the whole call out.
    run_loop _ unclaim item-1 repo-main --session "$a"
    run_loop _ unclaim item-2 repo-main --session "$b"
    run_loop _ claim repo-main --session "$a"
    run_loop _ claim item-4 --shared-name repo-main --session "$c"
    expect_status 1
    [ -z "$(mode_of item-4)" ]
    # A name asked for both ways is a usage error, and nothing is taken.
    run_loop _ claim item-5 --shared-name item-5 --session "$c"
    expect_status 2
    expect_in "$stderr" "exclusive and shared"
    [ -z "$(mode_of item-5)" ]
}

@test "contract: with --shared-name holds both modes while the command runs" {
    run_loop _ with item --shared-name repo -- sh -c \
        '"$LOOP" _ owner item --json | jq -r ".[0].mode"; "$LOOP" _ owner repo --json | jq -r ".[0].mode"'
    expect_status 0
    [ "$output" = "$(printf 'exclusive\nshared')" ]
    [ -z "$(mode_of repo)" ]
}

@test "contract: only the holder releases; --force releases anyone's; not held is done" {
    new_session
    a=$SID
    new_session
    b=$SID
    run_loop _ claim x --session "$a"
    run_loop _ unclaim x --session "$b"
    expect_status 1
    expect_in "$stderr" "only the holder can release it"
    run_loop _ owner x
    expect_status 0
    run_loop _ unclaim x --session "$b" --force
    expect_status 0
    run_loop _ owner x
    expect_status 1
    run_loop _ unclaim never-held --session "$b"
    expect_status 0
}

@test "contract: a refused unclaim of several names releases none of them" {
    new_session
    a=$SID
    new_session
    b=$SID
    run_loop _ claim mine --session "$a"
    run_loop _ claim theirs --session "$b"
    run_loop _ unclaim mine theirs --session "$a"
    expect_status 1
    run_loop _ owner mine
    expect_status 0
}

@test "contract: --wait wakes when the holder releases" {
    new_session
    a=$SID
    new_session
    b=$SID
    run_loop _ claim x --session "$a"
    start_bg "$TEST_DIR/waiter" "$LOOP" _ claim x --session "$b" --wait 30s
    waiter=$BG
    run_loop _ unclaim x --session "$a"
    expect_status 0
    wait_exit "$waiter"
    [ "$WAIT_STATUS" -eq 0 ] || { cat "$TEST_DIR/waiter"; false; }
    grep -q "claimed x (fence" "$TEST_DIR/waiter"
    run_loop _ owner x
    expect_in "$output" "session=$b"
}

@test "contract: --wait times out with exit 1 and names the holder" {
    new_session
    a=$SID
    new_session
    run_loop _ claim x --session "$a"
    run_loop _ claim x --session "$SID" --wait 300ms
    expect_status 1
    expect_in "$stderr" "timed out after 300ms"
    expect_in "$stderr" "held by session $a"
}

@test "contract: the holder's death hands the claim to a waiter" {
    new_session
    a=$SID
    holder=$ANCHOR
    new_session
    b=$SID
    run_loop _ claim x --session "$a"
    start_bg "$TEST_DIR/waiter" "$LOOP" _ claim x --session "$b" --wait 30s
    waiter=$BG
    kill_pid "$holder"
    wait_exit "$waiter"
    [ "$WAIT_STATUS" -eq 0 ] || { cat "$TEST_DIR/waiter"; false; }
    run_loop _ owner x
    expect_in "$output" "session=$b"
}

@test "contract: a claim from a shell lives while that shell lives, and goes with it" {
    sh -c '"$LOOP" _ claim x >"$TEST_DIR/held"; exec sleep 1000' </dev/null 3>&- &
    shell=$!
    track "$shell"
    wait_for grep -q claimed "$TEST_DIR/held"
    new_session
    run_loop _ claim x --session "$SID"
    expect_status 1
    kill_pid "$shell"
    run_loop _ claim x --session "$SID" --wait 30s
    expect_status 0
}

@test "contract: a command substitution's claim belongs to the shell (bash)" {
    bash -c 'out=$("$LOOP" _ claim x 2>&1); echo "$out" >"$TEST_DIR/held"; exec sleep 1000' </dev/null 3>&- &
    shell=$!
    track "$shell"
    wait_for grep -q claimed "$TEST_DIR/held"
    new_session
    run_loop _ claim x --session "$SID"
    expect_status 1
}

@test "contract: a claim for an ended or unknown session is refused (exit 2)" {
    new_session
    run_loop _ session end "$SID"
    expect_status 0
    run_loop _ claim x --session "$SID"
    expect_status 2
    run_loop _ claim x --session no-such-session
    expect_status 2
    run_loop _ owner x
    expect_status 1
}

@test "contract: session end releases what the session held" {
    new_session
    run_loop _ claim a b --session "$SID"
    run_loop _ session end "$SID"
    expect_status 0
    expect_in "$output" "released a"
    expect_in "$output" "released b"
    run_loop _ owner a
    expect_status 1
}

@test "contract: a TTL claim expires and is taken over; renew keeps it" {
    new_session
    a=$SID
    new_session
    b=$SID
    run_loop _ claim t --session "$a" --ttl 1s
    expect_status 0
    run_loop _ renew t --session "$a" --ttl 1h
    expect_status 0
    run_loop _ claim t --session "$b"
    expect_status 1
    run_loop _ renew t --session "$b"
    expect_status 1
    run_loop _ claim u --session "$a" --ttl 1s
    run_loop _ claim u --session "$b" --wait 30s
    expect_status 0
}

@test "contract: claims and owner --json show the documented fields" {
    new_session
    run_loop _ claim x --session "$SID" --reason "deploy" --meta k=v
    run_loop claims --json
    expect_status 0
    for f in name session mode fence acquired_at expires_at; do
        expect_in "$output" "\"$f\""
    done
    expect_in "$output" '"deploy"'
    run_loop _ owner x --json
    expect_in "$output" "\"session\": \"$SID\""
}

@test "contract: a bad name is refused (exit 2) and nothing is held" {
    run_loop _ claim 'bad name'
    expect_status 2
    run_loop _ claim -- '-x'
    [ "$status" -ne 0 ]
    run_loop claims --json
    [ "$output" = "[]" ]
}

@test "contract: racing shell loops never hold one name twice" {
    # 4 loops x 15 rounds of claim --wait / read / write / unclaim on one
    # counter: exact at the end, and no round saw another holder.
    echo 0 >"$TEST_DIR/counter"
    for l in 1 2 3 4; do
        (
            me=$BASHPID
            s=$("$LOOP" _ session start --pid "$me") || exit 1
            for r in $(seq 1 15); do
                "$LOOP" _ claim counter --session "$s" --wait 60s >/dev/null || exit 1
                [ -e "$TEST_DIR/inside" ] && echo overlap >>"$TEST_DIR/violations"
                : >"$TEST_DIR/inside"
                n=$(cat "$TEST_DIR/counter")
                echo $((n + 1)) >"$TEST_DIR/counter"
                rm -f "$TEST_DIR/inside"
                "$LOOP" _ unclaim counter --session "$s" >/dev/null || exit 1
            done
            "$LOOP" _ session end "$s" >/dev/null
        ) </dev/null 3>&- &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    [ ! -e "$TEST_DIR/violations" ]
    [ "$(cat "$TEST_DIR/counter")" -eq 60 ]
}

@test "contract: with runs the command holding the claims, with their fences, and releases them" {
    run_loop _ with a b -- sh -c 'echo "fences=$LOOP_CLAIM_FENCE"; "$LOOP" _ owner a >/dev/null && echo held'
    expect_status 0
    expect_in "$output" "fences=a="
    expect_in "$output" "held"
    run_loop _ owner a
    expect_status 1
    run_loop _ with a -- sh -c 'exit 7'
    expect_status 7
}

@test "contract: two withs exclude each other; busy is exit 1 or --conflict-exit-code" {
    run_loop _ with x -- sh -c '"$LOOP" _ with x -- true; echo "inner=$?"; "$LOOP" _ with x --conflict-exit-code 9 -- true; echo "again=$?"'
    expect_status 0
    expect_in "$output" "inner=1"
    expect_in "$output" "again=9"
}

@test "contract: with --ttl renews while the command runs" {
    new_session
    run_loop _ with t --ttl 1s -- sh -c 'sleep 2.5; "$LOOP" _ owner t'
    expect_status 0
    expect_in "$output" "t exclusive"
    run_loop _ claim t --session "$SID"
    expect_status 0
}

@test "contract: after kill -9 of with, its claims stay held until its command's group is gone" {
    # The subshell is a member of the command's group that outlives it.
    start_bg "$TEST_DIR/with.out" "$LOOP" _ with x -- sh -c \
        '(sleep 2; echo done >"$TEST_DIR/done") & echo started >"$TEST_DIR/started"; wait'
    w=$BG
    wait_for test -e "$TEST_DIR/started"
    kill -KILL "$w"
    new_session
    run_loop _ claim x --session "$SID"
    expect_status 1
    run_loop _ claim x --session "$SID" --wait 30s
    expect_status 0
    # Granted only once nothing of the group was left.
    [ -e "$TEST_DIR/done" ]
}

@test "contract: names with '/' and ':' are names, shown as given" {
    new_session
    run_loop _ claim repo-x/issue-42 file:src/main.py --session "$SID"
    expect_status 0
    expect_in "$output" "claimed repo-x/issue-42 (fence"
    run_loop _ owner repo-x/issue-42
    expect_status 0
    run_loop claims --json
    jq -e '[.[].name] | sort == ["file:src/main.py", "repo-x/issue-42"]' <<<"$output"
    run_loop _ claim 'a//b' --session "$SID"
    expect_status 2
    run_loop _ unclaim repo-x/issue-42 --session "$SID"
    expect_in "$output" "released repo-x/issue-42"
}
