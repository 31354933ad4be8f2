#!/usr/bin/env bats
# loop supervise on the Redis backend: the workers' sessions and claims live
# in Redis (ids qualified by the host), a dead worker's claims go before its
# replacement takes them, and another host's supervisor over the same
# playbook never works on the same item.

load supervise_helpers
load redis_helpers

setup_file() { start_redis; }
teardown_file() { stop_redis; }

setup() {
    sup_setup
    [ -n "${REDIS_SOCK:-}" ] || skip "no redis-server"
    use_redis_prefix 5s
}

# owner_json NAME: the holders of NAME on Redis.
owner_json() { "$LOOP" _ owner "$1" --json 2>/dev/null || echo '[]'; }

@test "redis supervise: a worker's claim is its session's; SIGKILL hands it to the next incarnation" {
    start_sup "$PLAYBOOKS/holder.json"
    wait_workers holder 1
    old=$(live_pid holder 1)
    sid=$(session_of holder 1)
    [[ "$sid" == holder.1.* ]]
    wait_for sh -c '"$LOOP" _ owner job >/dev/null 2>&1'
    fence1=$(owner_json job | jq -r '.[0].fence')
    owner_json job | jq -e --arg s "$sid" '.[0].session == $s'
    # Nobody else gets it while the worker lives.
    run_loop _ claim job
    expect_status 1
    kill -KILL "$old"
    restarted() {
        local p
        p=$(live_pid holder 1)
        [ -n "$p" ] && [ "$p" != "$old" ] &&
            owner_json job | jq -e --arg s "$sid" --argjson f "$fence1" \
                'length == 1 and .[0].session == $s and .[0].fence > $f' >/dev/null
    }
    wait_for restarted
    track "$(live_pid holder 1)"
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
    run_loop _ owner job
    expect_status 1
}

@test "redis supervise: --metrics-file shows the fleet's claims with the worker label" {
    start_sup "$PLAYBOOKS/holder.json" --metrics-file "$TEST_DIR/m.prom"
    wait_workers holder 1
    held() {
        grep -qx 'loop_claims_active{mode="exclusive",type="none",worker="holder"} 1' \
            "$TEST_DIR/m.prom" 2>/dev/null
    }
    wait_for held
    grep -qx 'loop_supervisor_up 1' "$TEST_DIR/m.prom"
    grep -qx 'loop_claim_acquisitions_total{type="none",worker="holder"} 1' "$TEST_DIR/m.prom"
    if command -v promtool >/dev/null; then
        promtool check metrics <"$TEST_DIR/m.prom"
    fi
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
    grep -qx 'loop_supervisor_up 0' "$TEST_DIR/m.prom"
}

@test "redis supervise: the supervisor's events are in the fleet's event stream" {
    start_sup "$PLAYBOOKS/holder.json"
    wait_workers holder 1
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
    run_loop events --json
    expect_status 0
    for ev in supervisor.started session.started claim.acquired session.exited \
        supervisor.stopped; do
        grep -q "\"event\":\"$ev\"" <<<"$output" || { echo "no $ev in: $output"; false; }
    done
    # session.started once per incarnation, as the script recorded it.
    [ "$(grep -c '"event":"session.started"' <<<"$output")" -eq 1 ]
    grep "\"event\":\"supervisor.started\"" <<<"$output" | jq -e ".host != null" >/dev/null
}

@test "redis supervise: two homes on one host are two supervisors; neither adopts or stops the other's workers" {
    start_sup "$PLAYBOOKS/holder.json"
    wait_workers holder 1
    first=$(live_pid holder 1)
    sid1=$(session_of holder 1)
    wait_for sh -c '"$LOOP" _ owner job >/dev/null 2>&1'
    # A second home, same playbook, same Redis.
    other="$TEST_DIR/home2"
    LOOP_HOME="$other" "$LOOP" supervise "$PLAYBOOKS/holder.json" </dev/null >"$TEST_DIR/sup2.log" 2>&1 &
    sup2=$!
    track "$sup2"
    # Its replica is a session of its own (busy on job, so it backs off).
    wait_for grep -q "holder.1.* started" "$TEST_DIR/sup2.log" || { cat "$TEST_DIR/sup2.log"; false; }
    sid2=$(grep -o 'holder\.1\.[0-9a-f]*' "$TEST_DIR/sup2.log" | head -n1)
    [ -n "$sid2" ] && [ "$sid2" != "$sid1" ]
    ! grep -q "adopted" "$TEST_DIR/sup2.log"
    kill -TERM "$sup2"
    wait_exit "$sup2"
    # The first home's worker still runs and still holds its claim.
    running "$first"
    owner_json job | jq -e --arg s "$sid1" 'length == 1 and .[0].session == $s'
    stop_sup
}
