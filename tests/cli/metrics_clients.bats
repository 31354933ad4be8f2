#!/usr/bin/env bats
# Clients of `loop supervise --metrics-listen` (127.0.0.1 only): resetting,
# idle by the thousand, or reading a damaged event log. None of them can
# end or starve the supervisor.

load supervise_helpers

setup() {
    sup_setup
    command -v curl >/dev/null || skip "curl not installed"
    command -v python3 >/dev/null || skip "python3 not installed"
    cat >"$TEST_DIR/p.json" <<'JSON'
{ "reap_interval": "1h", "workers": { "w": { "command": ["sleep", "1000"] } } }
JSON
    # clients.py PORT MODE N: MODE "reset" sends a request, shuts down its
    # write side and closes with SO_LINGER 0 (a reset), N times; "idle"
    # opens N connections that send nothing, writes "ready" to $READY and
    # keeps them open until killed.
    cat >"$TEST_DIR/clients.py" <<'PY'
import os, socket, struct, sys, time
port, mode, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
held = []
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        continue
    if mode == "reset":
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    else:
        held.append(s)
if mode == "idle":
    with open(os.environ["READY"], "w") as f:
        f.write("ready %d\n" % len(held))
    time.sleep(1000)
PY
}

teardown() { sup_teardown; }

start_metrics_sup() {
    start_sup "$TEST_DIR/p.json" --metrics-listen 127.0.0.1:0
    wait_for test -n "$(metrics_port)"
    PORT=$(metrics_port)
}

scrape() { curl -s -m 10 -o "$TEST_DIR/scrape" -w '%{http_code}' "http://127.0.0.1:$PORT/metrics"; }

@test "metrics-listen: clients that reset after their request cannot kill the supervisor (SIGPIPE)" {
    start_metrics_sup
    for round in 1 2 3; do
        python3 "$TEST_DIR/clients.py" "$PORT" reset 100
        running "$SUP" || { cat "$SUP_LOG" >&2; false; }
    done
    [ "$(scrape)" = 200 ]
    grep -q '^loop_supervisor_up 1' "$TEST_DIR/scrape"
    # A request over the size limit is answered 431, and the loop goes on.
    big=$(head -c 9000 /dev/zero | tr '\0' a)
    [ "$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "X-Big: $big" \
        "http://127.0.0.1:$PORT/metrics")" = 431 ]
    [ "$(scrape)" = 200 ]
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
}

@test "metrics-listen: a malformed event is skipped, answered, and reported by doctor" {
    start_metrics_sup
    [ "$(scrape)" = 200 ]
    # Valid JSON, a bad field.
    echo '{"ts":"2026-01-01T00:00:00Z","event":"session.started","worker":"w","restarts":"x"}' \
        >>"$LOOP_HOME/events.jsonl"
    [ "$(scrape)" = 200 ]
    grep -q '^loop_sessions_alive' "$TEST_DIR/scrape"
    running "$SUP"
    run_loop metrics
    expect_status 0
    run_loop events
    expect_status 0
    run_loop doctor
    expect_in "$output" "events.jsonl"
    expect_in "$output" "malformed"
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
}

@test "metrics-listen: ~1500 idle and hundreds of resetting clients: /metrics answers, connections are capped and time out" {
    start_metrics_sup
    base=$(fd_count "$SUP")
    export READY="$TEST_DIR/ready"
    python3 "$TEST_DIR/clients.py" "$PORT" idle 1500 </dev/null >/dev/null 2>&1 &
    idle=$!
    track "$idle"
    wait_for test -s "$READY"
    python3 "$TEST_DIR/clients.py" "$PORT" reset 300 </dev/null >/dev/null 2>&1 &
    resetting=$!
    track "$resetting"
    [ "$(scrape)" = 200 ]
    grep -q '^loop_supervisor_up 1' "$TEST_DIR/scrape"
    wait "$resetting" || true
    running "$SUP"
    open=$(fd_count "$SUP")
    echo "descriptors: $base at start, $open with 1500 idle clients" >&2
    # At most 256 connections (plus what the supervisor had).
    [ "$open" -le $((base + 256 + 16)) ]
    # Idle clients are closed after a few seconds.
    back() { [ "$(fd_count "$SUP")" -le $((base + 4)) ]; }
    wait_for back
    [ "$(scrape)" = 200 ]
    kill -KILL "$idle"
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
}
