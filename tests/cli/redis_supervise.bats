#!/usr/bin/env bats
# loop supervise on the Redis backend: the workers' sessions and claims live
# in Redis (ids qualified by the host), a dead worker's claims go before its
# replacement takes them, another host's supervisor over the same
# playbook never works on the same item, and `loop status` on any host shows
# every host's supervisor (running while its record lives, then gone or stopped).

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

# holder_restarted OLD SID FENCE: replica 1 of `holder` runs again, as a new
# process (not OLD), and holds `job` alone, under SID, with a fence above FENCE.
holder_restarted() {
    local p
    p=$(live_pid holder 1)
    [ -n "$p" ] && [ "$p" != "$1" ] &&
        owner_json job | jq -e --arg s "$2" --argjson f "$3" \
            'length == 1 and .[0].session == $s and .[0].fence > $f' >/dev/null
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
    wait_for holder_restarted "$old" "$sid" "$fence1"
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
    wait_for holder_restarted "$old" "$sid" "$fence1" || { cat "$SUP_LOG" >&2; false; }
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

# start_host_b: a second host (its own pid namespace and home) runs
# napper.json over the same Redis; B_NS is its unshare, B_SUP the outer pid of
# its supervisor (pid 1 inside, so killing it ends the whole "host").
start_host_b() {
    unshare --pid --fork --mount-proc --kill-child env LOOP_HOME="$TEST_DIR/homeB" \
        "$LOOP" supervise "$PLAYBOOKS/napper.json" </dev/null >>"$TEST_DIR/supB.log" 2>&1 3>&- &
    B_NS=$!
    track "$B_NS"
    wait_for pgrep -P "$B_NS" >/dev/null || { cat "$TEST_DIR/supB.log"; return 1; }
    B_SUP=$(pgrep -P "$B_NS")
    track "$B_SUP"
}

# sup_of JQ-CONDITION: the supervisors of `status --json` that satisfy it.
sup_of() { "$LOOP" status --json | jq -c "[.supervisors[] | select($1)]"; }

# The record key of supervisor ID in this test's prefix.
sup_key() { echo "t$BATS_TEST_NUMBER:supervisor:$1"; }
key_exists() { [ "$(redis-cli -s "$REDIS_SOCK" EXISTS "$(sup_key "$1")")" = 1 ]; }

# wait_long TEST...: as wait_for, bounded at 90 s (a record's TTL on a busy box).
wait_long() {
    local i
    for ((i = 0; i < 1800; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    echo "gave up after 90 s waiting for: $*" >&2
    return 1
}

@test "redis supervise: status shows every host's supervisor; a killed one goes at its record's TTL, a stopped one at once" {
    command -v unshare >/dev/null || skip "unshare is not installed"
    unshare --pid --fork --mount-proc true 2>/dev/null || skip "cannot create a pid namespace here"
    start_sup "$PLAYBOOKS/napper.json"
    wait_workers napper 2
    start_host_b
    both() {
        "$LOOP" status --json | jq -e --argjson a "$SUP" '.supervisors | length == 2
            and any(.[]; .local and .pid == $a) and any(.[]; (.local | not) and .pid == 1)
            and all(.[]; .running and .state == "running" and (.host | length > 0)
                and (.host_id | length > 0) and (.started_at | length > 0)
                and (.heartbeat_at | length > 0) and (.playbook | endswith("napper.json"))
                and ([.replicas[] | select(.worker == "napper" and .state == "running"
                    and .pid != null)] | length == 2))' >/dev/null
    }
    wait_for both || { "$LOOP" status --json; cat "$TEST_DIR/supB.log"; false; }
    b=$(sup_of '.local | not')
    b_id=$(jq -r '.[0].id' <<<"$b")
    [ "$(jq -r '.[0].host_id' <<<"$b")" != "$(sup_of '.local' | jq -r '.[0].host_id')" ]
    # Human output: a row per host.
    run_loop status
    expect_status 0
    [ "$(grep -c 'napper 2/2 running' <<<"$output")" -eq 2 ] || { echo "$output"; false; }

    # Host B dies: shown running while its record lives, not running once it expired.
    kill -KILL "$B_SUP"
    wait_exit "$B_NS"
    for ((i = 0; i < 1800; i++)); do
        key_exists "$b_id" || break
        st=$(sup_of ".id == \"$b_id\"")
        if key_exists "$b_id"; then
            jq -e 'length == 1 and .[0].running and .[0].state == "running"' <<<"$st" >/dev/null ||
                { echo "shown as not running while its record lives: $st"; false; }
        fi
    done
    b_gone() { sup_of ".id == \"$b_id\"" | jq -e 'length == 1 and (.[0].running | not)
        and .[0].state == "gone" and (.[0].heartbeat_at | length > 0)' >/dev/null; }
    wait_long b_gone || { "$LOOP" status --json; false; }
    run_loop status
    expect_status 0
    expect_in "$output" "gone"
    # A's own supervisor is still up.
    sup_of '.local' | jq -e 'length == 1 and .[0].running' >/dev/null

    # A clean stop (SIGTERM) removes the record at once. (The new "host" may
    # get the same id: the kernel reuses a freed pid namespace's inode.)
    start_host_b
    two_up() { [ "$(sup_of '.running' | jq length)" -eq 2 ]; }
    wait_for two_up || { "$LOOP" status --json; cat "$TEST_DIR/supB.log"; false; }
    b2_id=$(sup_of '(.local | not) and .running' | jq -r '.[0].id')
    kill -TERM "$B_SUP"
    wait_exit "$B_NS"
    ! key_exists "$b2_id"
    sup_of ".id == \"$b2_id\"" | jq -e 'length == 1 and (.[0].running | not)
        and .[0].state == "stopped" and (.[0].stopped_at | length > 0)' >/dev/null ||
        { "$LOOP" status --json; false; }
    # This host's own supervisor is judged by its lock: killed, it is gone at once.
    a_id=$(sup_of '.local' | jq -r '.[0].id')
    stop_sup KILL
    sup_of ".id == \"$a_id\"" | jq -e 'length == 1 and (.[0].running | not)
        and .[0].state == "gone"' >/dev/null || { "$LOOP" status --json; false; }
}
