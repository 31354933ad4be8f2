#!/usr/bin/env bats
# Waiting on the Redis backend: a release names the waiter that goes first
# (lua/common.lua: wake), and the others wait for it; they still get the
# name when the one named never comes for it.

# shellcheck disable=SC2154 # $status, $output, $lines and $stderr come from run
load helpers
load redis_helpers

setup_file() { start_redis; }
teardown_file() { stop_redis; }

setup() {
    loop_setup
    [ -n "${REDIS_SOCK:-}" ] || skip "no redis-server"
    use_redis_prefix 5s
}

rcli() { redis-cli -s "$REDIS_SOCK" "$@"; }
queue_len() { [ "$(rcli hlen "t$BATS_TEST_NUMBER:queue:$1")" -eq "$2" ]; }
server_ms() { rcli time | awk 'NR == 1 { s = $1 } NR == 2 { printf "%.0f\n", s * 1000 + int($1 / 1000) }'; }

@test "redis: a waiter passed over for one of another host gets the name when that one does not come" {
    new_session
    holder=$SID
    run_loop _ claim x --session "$holder"
    expect_status 0
    # First in the queue: a waiter of another host, fresh, that will never try.
    rcli hset "t$BATS_TEST_NUMBER:queue:x" elsewhere \
        "{\"seq\":1,\"mode\":\"exclusive\",\"session\":\"far\",\"pid\":1,\"start_ticks\":1,\"host\":\"other-host\",\"seen_ms\":$(server_ms)}" >/dev/null
    new_session
    start_bg "$TEST_DIR/waiter" "$LOOP" _ claim x --wait 20s --session "$SID"
    waiter=$BG
    wait_for queue_len x 2
    run_loop _ unclaim x --session "$holder"
    expect_status 0
    # The release named the other host's waiter.
    run rcli xrevrange "t$BATS_TEST_NUMBER:wake:x" + - count 1
    expect_in "$output" "elsewhere"
    wait_exit "$waiter"
    [ "$WAIT_STATUS" -eq 0 ]
    grep -q "claimed x" "$TEST_DIR/waiter"
}

@test "redis: a waiter passed over for a dead one of this host gets the name" {
    new_session
    holder=$SID
    run_loop _ claim x --session "$holder"
    expect_status 0
    new_session
    start_bg "$TEST_DIR/first" "$LOOP" _ claim x --wait 30s --session "$SID"
    first=$BG
    wait_for queue_len x 1
    new_session
    start_bg "$TEST_DIR/second" "$LOOP" _ claim x --wait 20s --session "$SID"
    second=$BG
    wait_for queue_len x 2
    kill_pid "$first"
    run_loop _ unclaim x --session "$holder"
    expect_status 0
    wait_exit "$second"
    [ "$WAIT_STATUS" -eq 0 ]
    grep -q "claimed x" "$TEST_DIR/second"
    run_loop _ owner x --json
    expect_status 0
    [ "$(jq -r ".[0].session" <<<"$output")" = "$SID" ]
}
