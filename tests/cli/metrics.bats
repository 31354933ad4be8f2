#!/usr/bin/env bats
# loop metrics, --metrics-file and --metrics-listen.

load helpers

metric() { # metric NAME_WITH_LABELS: its value; a bare NAME: the sum of its series (0 if none)
    "$LOOP" metrics | awk -v m="$1" '
        /^#/ { next }
        index(m, "{") { if ($1 == m) print $2; next }
        { n = $1; sub(/[{].*/, "", n); if (n == m) { s += $2 } }
        END { if (!index(m, "{")) print s + 0 }'
}

@test "metrics: valid Prometheus exposition (promtool)" {
    command -v promtool >/dev/null || skip "promtool not installed (scripts/setup installs it)"
    "$LOOP" _ claim a >/dev/null
    "$LOOP" metrics >"$TEST_DIR/m.prom"
    run promtool check metrics <"$TEST_DIR/m.prom"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    for name in loop_claims_active loop_claim_acquisitions_total loop_claim_contentions_total \
        loop_claim_releases_total loop_claim_timeouts_total \
        loop_claim_wait_seconds loop_claims_reaped_total loop_claims_forced_total \
        loop_sessions_alive loop_worker_restarts_total loop_supervisor_up; do
        grep -q "^# TYPE $name " "$TEST_DIR/m.prom"
    done
}

@test "metrics: counters move when claims are taken, contended, waited for, forced and reaped" {
    [ "$(metric loop_claim_acquisitions_total)" = 0 ]
    "$LOOP" _ claim a b >/dev/null
    [ "$(metric loop_claim_acquisitions_total)" = 2 ]
    [ "$(metric 'loop_claims_active{mode="exclusive",type="none",worker="none"}')" = 2 ]

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
    [ "$(metric 'loop_claims_reaped_total{reason="dead_session",type="none",worker="none"}')" = 1 ]
    "$LOOP" _ claim t --ttl 100ms >/dev/null
    sleep 0.3
    "$LOOP" reap >/dev/null
    [ "$(metric 'loop_claims_reaped_total{reason="ttl",type="none",worker="none"}')" = 1 ]
    [ "$(metric loop_supervisor_up)" = 0 ]
}

@test "metrics: releases and --wait timeouts are counted, by type and worker" {
    "$LOOP" _ claim file:a repo:x plain >/dev/null
    "$LOOP" _ unclaim file:a plain >/dev/null
    [ "$(metric 'loop_claim_releases_total{type="file",worker="none"}')" = 1 ]
    [ "$(metric 'loop_claim_releases_total{type="none",worker="none"}')" = 1 ]
    [ "$(metric loop_claim_releases_total)" = 2 ]
    [ "$(metric 'loop_claims_active{mode="exclusive",type="repo",worker="none"}')" = 1 ]

    new_session
    run "$LOOP" _ claim repo:x --session "$SID" --wait 100ms
    [ "$status" -eq 1 ]
    [ "$(metric 'loop_claim_timeouts_total{type="repo",worker="none"}')" = 1 ]
    "$LOOP" events --json | grep '"event":"claim.timeout"' | grep -q '"waited_ms":'
    run "$LOOP" _ claim repo:x --session "$SID" --wait 0
    [ "$status" -eq 1 ]
    [ "$(metric loop_claim_timeouts_total)" = 1 ] # a single try is not a timeout
}

@test "metrics: a worker's claims carry its name; the type label is bounded" {
    "$LOOP" _ claim seed >/dev/null
    for i in $(seq 1 60); do printf '{"ts":"2026-01-01T00:00:00Z","event":"claim.acquired","name":"t%d:n","session":"w%d.0","fence":1}\n' "$i" "$((i % 3))"; done >>"$LOOP_HOME/events.jsonl"
    "$LOOP" metrics >"$TEST_DIR/m.prom"
    types=$(grep '^loop_claim_acquisitions_total{' "$TEST_DIR/m.prom" | sed 's/.*type="\([^"]*\)".*/\1/' | sort -u | wc -l)
    [ "$types" -eq 52 ] # t1..t50, other, none
    grep -q '^loop_claim_acquisitions_total{type="t1",worker="w1"} 1$' "$TEST_DIR/m.prom"
    grep -q '^loop_claim_acquisitions_total{type="other",worker="w0"} ' "$TEST_DIR/m.prom"
    if command -v promtool >/dev/null; then promtool check metrics <"$TEST_DIR/m.prom"; fi
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
    wait_for grep -q '^loop_claim_acquisitions_total{type="none",worker="none"} 1' "$TEST_DIR/m.prom"
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

@test "supervise: --metrics-file follows the event log, not only claim files" {
    # A counter can move without any claim file changing (an appended
    # event, a busy try): the file must still catch up.
    mkdir -p "$TEST_DIR/pb"
    cat >"$TEST_DIR/pb/p.json" <<'JSON'
{ "reap_interval": "1h", "workers": { "w": { "command": ["sleep", "1000"] } } }
JSON
    start_bg "$TEST_DIR/sup.log" "$LOOP" supervise "$TEST_DIR/pb/p.json" --metrics-file "$TEST_DIR/m.prom"
    sup=$BG
    wait_for grep -q '^loop_supervisor_up 1' "$TEST_DIR/m.prom" || { cat "$TEST_DIR/sup.log"; false; }
    printf '{"ts":"2026-01-01T00:00:00Z","event":"claim.acquired","name":"late:n","session":"s","fence":1}\n' >>"$LOOP_HOME/events.jsonl"
    wait_for grep -q '^loop_claim_acquisitions_total{type="late",worker="none"} 1' "$TEST_DIR/m.prom"
    kill -TERM "$sup"
    wait_exit "$sup"
    [ "$WAIT_STATUS" -eq 0 ]
}

@test "metrics: busy --wait 0 tries are all counted but do not drown the event log" {
    "$LOOP" _ claim x >/dev/null
    new_session
    for i in $(seq 1 50); do
        run "$LOOP" _ claim x --session "$SID" --wait 0
        [ "$status" -eq 1 ]
    done
    [ "$(metric loop_claim_contentions_total)" = 50 ]
    n=$(grep -c '"event":"claim.contended"' "$LOOP_HOME/events.jsonl")
    [ "$n" -le 3 ] || { echo "$n claim.contended events for 50 tries" >&2; false; }
}

@test "metrics: a new holder gets its own claim.contended, carrying the tries it stands for" {
    new_session
    first=$SID
    "$LOOP" _ claim x --session "$first" >/dev/null
    new_session
    for i in $(seq 1 10); do
        run "$LOOP" _ claim x --session "$SID" --wait 0
        [ "$status" -eq 1 ]
    done
    "$LOOP" _ unclaim x --session "$first" >/dev/null
    new_session
    third=$SID
    "$LOOP" _ claim x --session "$third" >/dev/null
    run "$LOOP" _ claim x --session "$first" --wait 0
    [ "$status" -eq 1 ]
    [ "$(metric loop_claim_contentions_total)" = 11 ]
    run jq -sc '[.[] | select(.event == "claim.contended") | [.holder, .tries]]' "$LOOP_HOME/events.jsonl"
    [ "$output" = "[[\"$first\",1],[\"$third\",10]]" ] || { echo "$output" >&2; false; }
    # The note is a dot-file under locks/: doctor does not take it for a name.
    run "$LOOP" doctor
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
}
