#!/usr/bin/env bats
# loop supervise at its limits: crash loops and starts that fail cost a
# bounded amount of CPU and event log; descriptors do not leak into workers
# and cannot be exhausted by outside claim holders.

load supervise_helpers

@test "supervise: backoff settings below their floors are refused (exit 2)" {
    for bad in '"reset_after": "1ms"' '"initial": "1ms"' '"max": "100ms"'; do
        cat >"$TEST_DIR/p.json" <<JSON
{ "workers": { "w": { "run": "exit 1", "backoff": { $bad } } } }
JSON
        run_loop supervise "$TEST_DIR/p.json"
        expect_status 2
        expect_in "$stderr" "workers.w.backoff."
        expect_in "$stderr" "at least"
        [ ! -e "$LOOP_HOME/events.jsonl" ]
    done
}

@test "supervise: crash loops and failed starts back off: CPU and event log stay bounded" {
    # 20 replicas crash at once; `flaky` runs longer than reset_after, and
    # from then on no start can succeed (its session cannot be recorded: the
    # sessions directory is gone). A failed start is a crash: it backs off
    # too, instead of retrying at once from the start time of the good run.
    cat >"$TEST_DIR/p.json" <<'JSON'
{ "reap_interval": "1h", "workers": {
    "crash": { "run": "exit 1", "replicas": 20,
               "backoff": { "initial": "10ms", "max": "1s", "reset_after": "1s" } },
    "flaky": { "run": "sleep 1.5; exit 1",
               "backoff": { "initial": "10ms", "max": "1s", "reset_after": "1s" } } } }
JSON
    start_sup "$TEST_DIR/p.json"
    wait_for has_event '.event == "session.started" and .worker == "flaky"'
    # Removed while the replicas write to it: retried until it is empty.
    mv "$LOOP_HOME/sessions" "$TEST_DIR/sessions.gone"
    for ((i = 0; i < 100; i++)); do rm -rf "$TEST_DIR/sessions.gone" 2>/dev/null && break; done
    [ ! -e "$TEST_DIR/sessions.gone" ]
    ticks0=$(cpu_ticks "$SUP")
    size0=$(size_of "$LOOP_HOME/events.jsonl")
    # flaky ends its good run 1.5 s after its start; then 6 s of failed starts.
    sleep 7.5
    ticks1=$(cpu_ticks "$SUP")
    size1=$(size_of "$LOOP_HOME/events.jsonl")
    running "$SUP"
    failed=$(grep -c 'cannot record its session' "$SUP_LOG" || true)
    flaky_failed=$(grep -c 'flaky.1: cannot record its session' "$SUP_LOG" || true)
    cpu=$((ticks1 - ticks0))
    grew=$((size1 - size0))
    echo "cpu=${cpu} ticks, events +${grew} bytes, failed starts=$failed (flaky $flaky_failed)" >&2
    # The good run ended, and its replica kept trying, with backoff.
    [ "$flaky_failed" -ge 2 ]
    # Backoff 10ms doubling to 1s: about 13 starts per replica in 7.5 s;
    # spinning makes thousands. Bounds are generous (a loaded machine).
    [ "$flaky_failed" -le 30 ]
    [ "$failed" -le 600 ]
    # Under half a core (ticks are 1/100 s) and under 2 MB of events.
    [ "$cpu" -le 375 ]
    [ "$grew" -le 2000000 ]
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
}

@test "supervise: workers inherit no descriptor beyond 0, 1, 2 and get the open-files limit back" {
    cat >"$TEST_DIR/p.json" <<'JSON'
{ "reap_interval": "1h", "workers": { "fds": { "command": ["sleep", "1000"] } } }
JSON
    # The supervisor inherits descriptors 7 and 9 (not close-on-exec) and a
    # low soft limit, as from a careless parent.
    (
        ulimit -S -n 512
        exec "$LOOP" supervise "$TEST_DIR/p.json" 7</dev/null 9>"$TEST_DIR/held" \
            </dev/null >>"$SUP_LOG" 2>&1
    ) &
    SUP=$!
    track "$SUP"
    wait_for sup_started "$SUP"
    wait_workers fds 1
    pid=$(live_pid fds 1)
    [ -e "/proc/$SUP/fd/7" ]
    fds=$(ls "/proc/$pid/fd" | sort -n | tr '\n' ' ')
    echo "worker descriptors: $fds" >&2
    [ "$fds" = "0 1 2 " ]
    # The supervisor raised its own soft limit to the hard one; the worker
    # got the one the supervisor was started with.
    awk '/^Max open files/ { exit !($4 == $5) }' "/proc/$SUP/limits"
    awk '/^Max open files/ { exit !($4 == 512) }' "/proc/$pid/limits"
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
}

@test "supervise: outside holders beyond the descriptor budget go to the sweep; workers still restart" {
    cat >"$TEST_DIR/p.json" <<'JSON'
{ "reap_interval": "1s", "workers": { "idle": { "command": ["sleep", "1000"] } } }
JSON
    (
        ulimit -n 100
        exec "$LOOP" supervise "$TEST_DIR/p.json" </dev/null >>"$SUP_LOG" 2>&1
    ) &
    SUP=$!
    track "$SUP"
    wait_for sup_started "$SUP"
    wait_workers idle 1
    # 120 outside holders, each a session of its own process: more than the
    # supervisor has descriptors for.
    for ((i = 1; i <= 120; i++)); do
        sleep 1000 </dev/null >/dev/null 2>&1 &
        pid=$!
        track "$pid"
        pids[i]=$pid
        sid=$("$LOOP" _ session start --pid "$pid")
        "$LOOP" _ claim "outside-$i" --session "$sid" >/dev/null
    done
    wait_for grep -q 'outside claim holders, no more' "$SUP_LOG"
    # The worker still restarts (no EMFILE on its start).
    old=$(live_pid idle 1)
    kill -KILL "$old"
    restarted() {
        local p
        p=$(live_pid idle 1)
        [ -n "$p" ] && [ "$p" != "$old" ]
    }
    wait_for restarted || { cat "$SUP_LOG" >&2; false; }
    track "$(live_pid idle 1)"
    ! grep -q 'cannot start' "$SUP_LOG" || false
    # A holder that is not watched is reaped by the sweep.
    kill -KILL "${pids[120]}"
    wait_for has_event '.event == "claim.reaped" and .name == "outside-120"'
    running "$SUP"
    [ "$(grep -c 'outside claim holders, no more' "$SUP_LOG")" -eq 1 ]
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
}
