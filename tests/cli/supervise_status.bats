#!/usr/bin/env bats
# What loop status, loop doctor and the event log say about a supervisor:
# reloads (applied in place, or refused), stale claims while no supervisor
# runs, a clean stop, restart counts across supervisors.

load supervise_helpers

# A playbook with worker `w` that records the signal that stopped it.
write_playbook() { # write_playbook BACKOFF_MAX STOP_SIGNAL STOP_TIMEOUT
    cat >"$TEST_DIR/p.json.new" <<JSON
{ "reap_interval": "1h", "workers": { "w": {
    "run": "trap 'echo INT > \"\$OUT_DIR/stopped-by\"; exit 0' INT; trap 'echo TERM > \"\$OUT_DIR/stopped-by\"; exit 0' TERM; sleep 1000 & wait",
    "backoff": { "max": "$1" }, "stop_signal": "$2", "stop_timeout": "$3" } } }
JSON
    mv "$TEST_DIR/p.json.new" "$TEST_DIR/p.json"
}

@test "supervise: a reload that changes only backoff, stop_signal and stop_timeout restarts nobody" {
    export OUT_DIR="$TEST_DIR/out"
    mkdir -p "$OUT_DIR"
    write_playbook 30s TERM 10s
    start_sup "$TEST_DIR/p.json"
    wait_workers w 1
    pid=$(live_pid w 1)
    write_playbook 1m INT 5s
    kill -HUP "$SUP"
    wait_for has_event '.event == "supervisor.reloaded"'
    [ "$(live_pid w 1)" = "$pid" ]
    [ "$(worker_starts w)" -eq 1 ]
    grep -q 'applied without a restart' "$SUP_LOG"
    # The new stop_signal is the one used.
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
    [ "$(cat "$OUT_DIR/stopped-by")" = INT ]
}

@test "supervise: a refused reload is an event and shows in loop status until a reload succeeds" {
    export OUT_DIR="$TEST_DIR/out"
    mkdir -p "$OUT_DIR"
    write_playbook 30s TERM 10s
    start_sup "$TEST_DIR/p.json"
    wait_workers w 1
    echo '{ "workers": { "w": { "run": "true", "replicas": -1 } } }' >"$TEST_DIR/p.json"
    kill -HUP "$SUP"
    wait_for has_event '.event == "supervisor.reload_failed"'
    has_event '.event == "supervisor.reload_failed" and (.reason | test("workers.w.replicas"))'
    run_loop status
    expect_status 0
    expect_in "$output" "last reload refused"
    expect_in "$output" "workers.w.replicas"
    status_json | jq -e '.supervisor.reload_failed.reason | test("workers.w.replicas")'
    write_playbook 30s TERM 10s
    kill -HUP "$SUP"
    wait_for has_event '.event == "supervisor.reloaded"'
    status_json | jq -e '.supervisor.running == true and .supervisor.reload_failed == null'
    # The file backend keeps no fleet records: the home's lock is the only one.
    status_json | jq -e '.supervisors == null'
    run_loop status
    [[ "$output" != *"last reload refused"* ]]
    stop_sup
}

@test "status: with no supervisor, the claims of dead workers are marked as such" {
    start_sup "$PLAYBOOKS/holder.json"
    wait_workers holder 1
    wait_for test -e "$LOOP_HOME/claims/job"
    pid=$(live_pid holder 1)
    stop_sup KILL
    kill -KILL "$pid"
    wait_for gone "$pid"
    run_loop status
    expect_status 0
    echo "$output" >&2
    # The claims table has an ALIVE column, "no" for this holder.
    header=$(grep '^CLAIM' <<<"$output")
    expect_in "$header" "ALIVE"
    row=$(grep '^job ' <<<"$output")
    [ "$(awk '{print $NF}' <<<"$row")" = no ]
    status_json | jq -e '.claims[] | select(.name == "job") | .alive == false'
}

@test "supervise: a clean stop leaves nothing for doctor; restart counts survive the supervisor" {
    start_sup "$PLAYBOOKS/holder.json"
    wait_workers holder 1
    old=$(live_pid holder 1)
    kill -KILL "$old"
    restarted() { [ "$(status_json | jq '.sessions[] | select(.worker == "holder") | .restarts')" = 1 ] &&
        [ -n "$(live_pid holder 1)" ] && [ "$(live_pid holder 1)" != "$old" ]; }
    wait_for restarted
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
    run_loop doctor
    expect_status 0
    [[ "$output" != *"supervisor.lock"* ]] || { show; false; }
    # A new supervisor: the count goes on from where it was.
    start_sup "$PLAYBOOKS/holder.json"
    wait_workers holder 1
    status_json | jq -e '.sessions[] | select(.worker == "holder") | .restarts == 1'
    # A worker that died while no supervisor ran counts one more.
    pid=$(live_pid holder 1)
    stop_sup KILL
    kill -KILL "$pid"
    start_sup "$PLAYBOOKS/holder.json"
    wait_workers holder 1
    status_json | jq -e '.sessions[] | select(.worker == "holder") | .restarts == 2'
    stop_sup
}
