#!/usr/bin/env bats
# loop metrics, --metrics-file and --metrics-listen.

load helpers

metric() { # metric NAME_WITH_LABELS: its value in `loop metrics`
    "$LOOP" metrics | awk -v m="$1" '$1 == m { print $2 }'
}

@test "metrics: valid Prometheus exposition (promtool)" {
    command -v promtool >/dev/null || skip "promtool not installed (scripts/setup installs it)"
    "$LOOP" _ claim a >/dev/null
    "$LOOP" metrics >"$TEST_DIR/m.prom"
    run promtool check metrics <"$TEST_DIR/m.prom"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    for name in loop_claims_active loop_claim_acquisitions_total loop_claim_contentions_total \
        loop_claim_wait_seconds loop_claims_reaped_total loop_claims_forced_total \
        loop_sessions_alive loop_worker_restarts_total loop_supervisor_up; do
        grep -q "^# TYPE $name " "$TEST_DIR/m.prom"
    done
}

@test "metrics: counters move when claims are taken, contended, waited for, forced and reaped" {
    [ "$(metric loop_claim_acquisitions_total)" = 0 ]
    "$LOOP" _ claim a b >/dev/null
    [ "$(metric loop_claim_acquisitions_total)" = 2 ]
    [ "$(metric 'loop_claims_active{mode="exclusive"}')" = 2 ]

    new_session
    run "$LOOP" _ claim a --session "$SID"
    [ "$status" -eq 1 ]
    [ "$(metric loop_claim_contentions_total)" = 1 ]

    run "$LOOP" _ unclaim b --session "$SID" --force
    [ "$status" -eq 0 ]
    [ "$(metric loop_claims_forced_total)" = 1 ]

    "$LOOP" _ claim c --session "$SID" --wait 5s >/dev/null
    [ "$(metric loop_claim_wait_seconds_count)" = 1 ]
    [ "$(metric 'loop_claim_wait_seconds_bucket{le="+Inf"}')" = 1 ]

    kill_pid "$ANCHOR"
    "$LOOP" reap >/dev/null
    [ "$(metric 'loop_claims_reaped_total{reason="dead_session"}')" = 1 ]
    "$LOOP" _ claim t --ttl 100ms >/dev/null
    sleep 0.3
    "$LOOP" reap >/dev/null
    [ "$(metric 'loop_claims_reaped_total{reason="ttl"}')" = 1 ]
    [ "$(metric loop_supervisor_up)" = 0 ]
}

@test "metrics: counters survive a restart of loop (derived from the event log)" {
    "$LOOP" _ claim a >/dev/null
    "$LOOP" _ unclaim a >/dev/null
    "$LOOP" _ claim a >/dev/null
    [ "$(metric loop_claim_acquisitions_total)" = 2 ]
    [ "$(metric loop_claim_acquisitions_total)" = 2 ]
}

@test "supervise: --metrics-file is kept up to date and --metrics-listen serves /metrics only" {
    command -v curl >/dev/null || skip "curl not installed"
    mkdir -p "$TEST_DIR/pb"
    cat >"$TEST_DIR/pb/p.json" <<'JSON'
{ "reap_interval": "1h", "workers": { "w": { "command": ["sleep", "1000"] } } }
JSON
    port=$((20000 + RANDOM % 20000))
    start_bg "$TEST_DIR/sup.log" "$LOOP" supervise "$TEST_DIR/pb/p.json" \
        --metrics-file "$TEST_DIR/m.prom" --metrics-listen "127.0.0.1:$port"
    sup=$BG
    wait_for grep -q '^loop_supervisor_up 1' "$TEST_DIR/m.prom" || { cat "$TEST_DIR/sup.log"; false; }
    "$LOOP" _ claim x >/dev/null
    wait_for grep -q '^loop_claim_acquisitions_total 1' "$TEST_DIR/m.prom"
    run curl -s "http://127.0.0.1:$port/metrics"
    [ "$status" -eq 0 ]
    [[ "$output" == *"loop_sessions_alive"* ]]
    run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/other"
    [ "$output" = 404 ]
    run curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/metrics"
    [ "$output" = 405 ]
    kill -TERM "$sup"
    wait_exit "$sup"
    [ "$WAIT_STATUS" -eq 0 ]
    grep -q '^loop_supervisor_up 0' "$TEST_DIR/m.prom"
}
