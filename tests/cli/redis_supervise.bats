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

# A test that stopped the server (redis_pause) lets it go on, also when it failed.
teardown() {
    redis_resume
    sup_teardown
}

# redis_pause: the server stops answering but stays up (SIGSTOP: its socket
# still accepts connections, nothing is read or replied); redis_resume: it
# answers again.
redis_pause() { kill -STOP "$(cat "$REDIS_DIR/pid")"; }
redis_resume() {
    [ -n "${REDIS_DIR:-}" ] && [ -f "$REDIS_DIR/pid" ] && kill -CONT "$(cat "$REDIS_DIR/pid")" 2>/dev/null
    return 0
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

# exited_locally PID: the home's event log has the session.exited of PID.
exited_locally() { has_event ".event == \"session.exited\" and .pid == $1"; }

# in_stream JQ-CONDITION: an event of the fleet's stream (loop events) satisfies it.
in_stream() {
    "$LOOP" events --json 2>/dev/null | jq -se "any(.[]; $1)" >/dev/null
}

metric_is() { grep -qx -- "$2" "$1" 2>/dev/null; }

@test "redis supervise: while redis does not answer, a dead worker is seen and logged; once it answers the worker runs again and metrics and events catch up" {
    start_sup "$PLAYBOOKS/holder.json" --metrics-file "$TEST_DIR/m.prom"
    wait_workers holder 1
    old=$(live_pid holder 1)
    sid=$(session_of holder 1)
    wait_for sh -c '"$LOOP" _ owner job >/dev/null 2>&1'
    fence1=$(owner_json job | jq -r '.[0].fence')
    acquired='loop_claim_acquisitions_total{type="none",worker="holder"}'
    wait_for metric_is "$TEST_DIR/m.prom" "$acquired 1"
    redis_pause
    kill -KILL "$old"
    # Its death is handled while the server does not answer.
    wait_for exited_locally "$old" || { cat "$SUP_LOG" >&2; false; }
    redis_resume
    restarted() {
        local p
        p=$(live_pid holder 1)
        [ -n "$p" ] && [ "$p" != "$old" ] &&
            owner_json job | jq -e --arg s "$sid" --argjson f "$fence1" \
                'length == 1 and .[0].session == $s and .[0].fence > $f' >/dev/null
    }
    wait_for restarted || { cat "$SUP_LOG" >&2; false; }
    track "$(live_pid holder 1)"
    # The metrics file follows the fleet again, and the events of the
    # outage reached the fleet's stream.
    wait_for metric_is "$TEST_DIR/m.prom" "$acquired 2" || { cat "$TEST_DIR/m.prom" "$SUP_LOG" >&2; false; }
    wait_for in_stream ".event == \"session.exited\" and .pid == $old" || { cat "$SUP_LOG" >&2; false; }
    # One outage: its failure and its end are logged once each.
    wait_for grep -q "answering again" "$SUP_LOG"
    [ "$(grep -c "not answering" "$SUP_LOG")" -eq 1 ] || { cat "$SUP_LOG" >&2; false; }
    [ "$(grep -c "answering again" "$SUP_LOG")" -eq 1 ]
    ! grep -q "connection closed after an earlier error" "$SUP_LOG"
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
}

@test "redis supervise: SIGTERM stops the supervisor while redis does not answer; claims it could not release stay held" {
    start_sup "$PLAYBOOKS/holder.json" --metrics-file "$TEST_DIR/m.prom"
    wait_workers holder 1
    sid=$(session_of holder 1)
    wait_for sh -c '"$LOOP" _ owner job >/dev/null 2>&1'
    redis_pause
    # The metrics re-render finds the server silent (a line names it).
    wait_for grep -qF "$REDIS_SOCK" "$SUP_LOG" || { cat "$SUP_LOG" >&2; false; }
    kill -TERM "$SUP"
    # Bounded: a supervisor whose Redis calls pile up is killed here.
    wait_exit "$SUP" || { cat "$SUP_LOG" >&2; false; }
    [ "$WAIT_STATUS" -eq 0 ] || { cat "$SUP_LOG" >&2; false; }
    grep -q "stopped" "$SUP_LOG"
    # Its release was not done: never reported as done.
    ! grep -q "reaped claim job" "$SUP_LOG"
    grep -q "holder.1.*held" "$SUP_LOG" || { cat "$SUP_LOG" >&2; false; }
    [ "$(grep -c "not answering" "$SUP_LOG")" -eq 1 ]
    redis_resume
}
