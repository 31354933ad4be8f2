#!/usr/bin/env bats
# The operator verbs: loop reload, restart, stop and start talk to the
# running supervisor of the home over HOME/supervisor.sock; loop status
# shows each replica's state (running, backoff, stopped, failed, exited).

# shellcheck disable=SC2154,SC2030,SC2031 # $stderr comes from run; LOOP_HOME is per test
load supervise_helpers

# A playbook with worker w (REPLICAS replicas) whose run notes its
# incarnation (LOOP_SESSION_ID) in $TEST_DIR/out.
write_playbook() { # write_playbook REPLICAS [SLEEP]
    cat >"$TEST_DIR/p.json.new" <<JSON
{ "reap_interval": "1h", "workers": { "w": {
    "run": "echo \"\$LOOP_REPLICA \$LOOP_SESSION_ID\" >> \"$TEST_DIR/out\"; exec sleep ${2:-1000}",
    "replicas": $1, "stop_timeout": "10s" } } }
JSON
    mv "$TEST_DIR/p.json.new" "$TEST_DIR/p.json"
}

state_of() { # state_of SESSION: its state in loop status --json
    status_json | jq -r --arg s "$1" '.replicas[] | select(.session == $s) | .state'
}
state_is() { [ "$(state_of "$1")" = "$2" ]; }

@test "control: every verb without a supervisor exits 3 saying so; a stale socket too" {
    for verb in reload "restart w" "stop w.1" "start w"; do
        # shellcheck disable=SC2086 # the verb and its target
        run_loop $verb
        expect_status 3
        expect_in "$stderr" "no supervisor runs for $LOOP_HOME"
    done
    write_playbook 1
    start_sup "$TEST_DIR/p.json"
    wait_workers w 1
    [ -S "$LOOP_HOME/supervisor.sock" ]
    stop_sup KILL
    # The socket is left behind; nobody answers on it.
    [ -S "$LOOP_HOME/supervisor.sock" ]
    run_loop stop w
    expect_status 3
    expect_in "$stderr" "no supervisor runs for $LOOP_HOME"
    # The next supervisor serves it again, and a clean stop removes it.
    start_sup "$TEST_DIR/p.json"
    run_loop reload
    expect_status 0
    stop_sup
    [ ! -e "$LOOP_HOME/supervisor.sock" ]
}

@test "control: an unknown worker, replica or target exits 2 and changes nothing" {
    write_playbook 2
    start_sup "$TEST_DIR/p.json"
    wait_workers w 2
    pid1=$(live_pid w 1)
    for args in "stop nope" "restart nope.1" "start w.3" "stop w.0" "restart w.x" "stop .1"; do
        # shellcheck disable=SC2086
        run_loop $args
        expect_status 2
    done
    run_loop stop nope
    expect_in "$stderr" "no worker 'nope'"
    run_loop stop w.3
    expect_in "$stderr" "w has 2 replicas"
    run_loop restart
    expect_status 2
    [ "$(live_pid w 1)" = "$pid1" ]
    [ "$(worker_starts w)" -eq 2 ]
    [ "$(count_events session.exited)" -eq 0 ]
}

@test "control: reload prints what it applied; a bad playbook exits 2 and the running set stays" {
    cp "$PLAYBOOKS/reload-1.json" "$TEST_DIR/p.json"
    start_sup "$TEST_DIR/p.json"
    wait_workers keep 2
    wait_workers change 1
    run_loop reload
    expect_status 0
    expect_in "$output" "no change"
    keep1=$(live_pid keep 1)

    # A bad one: file, key and what is wrong; nothing stopped or started.
    cp "$PLAYBOOKS/reload-bad.json" "$TEST_DIR/p.json"
    run_loop reload
    expect_status 2
    expect_in "$stderr" "$TEST_DIR/p.json"
    expect_in "$stderr" "workers.keep.replicas"
    [ "$(live_pid keep 1)" = "$keep1" ]
    [ "$(count_events session.exited)" -eq 0 ]
    [ "$(count_events supervisor.reload_failed)" -eq 1 ]

    cp "$PLAYBOOKS/reload-2.json" "$TEST_DIR/p.json"
    run_loop reload
    expect_status 0
    expect_in "$output" "reloaded $TEST_DIR/p.json"
    expect_in "$output" "removed gone"
    expect_in "$output" "changed change: restarting 1 replica"
    expect_in "$output" "replicas grow: 2 -> 3"
    [[ "$output" != *"keep"* ]]
    run_loop reload --json
    expect_status 0
    jq -e '.ok == true and .changes.added == [] and .changes.changed == []' <<<"$output"
    has_event '.event == "supervisor.reloaded" and .via == "loop reload" and .removed == ["gone"]'
    [ "$(live_pid keep 1)" = "$keep1" ]
}

@test "control: stop keeps a replica stopped across reloads until start; restart gives a new incarnation" {
    write_playbook 2
    start_sup "$TEST_DIR/p.json"
    wait_workers w 2
    pid2=$(live_pid w 2)
    run_loop stop w.1
    expect_status 0
    expect_in "$output" "w.1: stopped"
    # The answer comes once it has stopped.
    state_is w.1 stopped
    [ -z "$(live_pid w 1)" ]
    [ "$(home_procs w | wc -l)" -eq 1 ]
    run_loop status
    expect_in "$output" "REPLICA"
    [[ "$output" =~ w\.1\ +stopped ]]

    # A reload (unchanged, then changed) leaves it stopped.
    run_loop reload
    expect_status 0
    write_playbook 2 1001
    run_loop reload
    expect_status 0
    w2_changed() {
        local p
        p=$(live_pid w 2)
        [ -n "$p" ] && grep -q 1001 "/proc/$p/cmdline"
    }
    wait_for w2_changed
    state_is w.1 stopped
    [ "$(worker_starts w 1)" -eq 1 ]

    # start brings it back, with the playbook's definition.
    run_loop start w.1
    expect_status 0
    expect_in "$output" "w.1: running (pid"
    [ "$(worker_starts w 1)" -eq 2 ]
    pid1=$(live_pid w 1)
    [ -n "$pid1" ]
    track "$pid1"
    grep -q 1001 "/proc/$pid1/cmdline"

    # restart: stopped and started again at once, a new session incarnation.
    before=$(grep -c '^1 ' "$TEST_DIR/out")
    run_loop restart w.1
    expect_status 0
    [ "$(grep -c '^1 ' "$TEST_DIR/out")" -eq $((before + 1)) ]
    new1=$(live_pid w 1)
    [ -n "$new1" ] && [ "$new1" != "$pid1" ]
    track "$new1"
    [ "$(grep '^1 ' "$TEST_DIR/out" | sort -u | wc -l)" -eq "$(grep -c '^1 ' "$TEST_DIR/out")" ]
    # Without .N: every replica.
    old2=$(live_pid w 2)
    run_loop stop w
    expect_status 0
    state_is w.1 stopped
    state_is w.2 stopped
    [ -z "$(home_procs w)" ]
    run_loop start w
    expect_status 0
    wait_workers w 2
    [ "$(live_pid w 2)" != "$old2" ]
    [ "$pid2" != "$(live_pid w 2)" ]
}

@test "control: status shows backoff with the time left, failed and exited; start ends a backoff at once" {
    cat >"$TEST_DIR/p.json" <<'JSON'
{ "reap_interval": "1h", "workers": {
    "crash": { "run": "exit 1", "backoff": { "initial": "1h", "max": "1h", "reset_after": "1h" } },
    "fail": { "run": "exit 3", "restart": "never" },
    "done": { "run": "exit 0", "restart": "on-failure" } } }
JSON
    start_sup "$TEST_DIR/p.json"
    wait_for state_is crash.1 backoff
    wait_for state_is fail.1 failed
    wait_for state_is done.1 exited
    status_json | jq -e '.replicas[] | select(.session == "crash.1") | .backoff_left_ms > 60000'
    run_loop status
    [[ "$output" =~ crash\.1\ +backoff\ \([0-9hms.]+\ left\) ]] || { show; false; }
    starts=$(worker_starts crash)
    run_loop start crash
    expect_status 0
    # Started at once (its backoff starts over: one more quick retry).
    [ "$(worker_starts crash)" -gt "$starts" ]
    wait_for state_is crash.1 backoff
    # A failed one starts again on request too.
    run_loop start fail.1
    wait_for has_event '.event == "session.exited" and .session == "fail.1" and .code == 3'
    [ "$(worker_starts fail)" -eq 2 ]
}

# A playbook whose worker w (2 replicas) runs rollout-worker.sh as VERSION.
write_rollout() { # write_rollout VERSION [ROLLOUT]
    cat >"$TEST_DIR/p.json.new" <<JSON
{ "reap_interval": "1h", "workers": { "w": {
    "command": ["$PLAYBOOKS/rollout-worker.sh"], "replicas": 2, "stop_timeout": "30s",
    ${2:+\"rollout\": \"$2\",}
    "env": { "VERSION": "$1", "OUT": "$TEST_DIR/out", "GATE": "$TEST_DIR/gate" } } } }
JSON
    mv "$TEST_DIR/p.json.new" "$TEST_DIR/p.json"
}
line_of() { grep -n -x "$1" "$TEST_DIR/out" | head -1 | cut -d: -f1; }

@test "control: a changed worker restarts one replica at a time, the next once the one before is up" {
    write_rollout 1
    start_sup "$TEST_DIR/p.json"
    wait_workers w 2
    write_rollout 2
    run_loop reload
    expect_status 0
    expect_in "$output" "changed w: restarting 2 replicas one by one"
    wait_for file_has "$TEST_DIR/out" "term 1 1"
    # w.1 cannot exit (no gate yet): w.2 has not been asked to stop.
    run ! grep -q "term 2" "$TEST_DIR/out"
    state_of w.1 | grep -qx stopping
    state_is w.2 running
    touch "$TEST_DIR/gate"
    wait_for file_has "$TEST_DIR/out" "start 2 2"
    # w.2 was stopped only after w.1's new incarnation had started.
    [ "$(line_of "start 1 2")" -lt "$(line_of "term 2 1")" ]
    wait_workers w 2
}

@test "control: rollout all-at-once stops every replica of a changed worker together" {
    write_rollout 1 all-at-once
    start_sup "$TEST_DIR/p.json"
    wait_workers w 2
    write_rollout 2 all-at-once
    run_loop reload
    expect_status 0
    expect_in "$output" "changed w: restarting 2 replicas all at once"
    # Both are asked to stop while neither can exit yet.
    wait_for file_has "$TEST_DIR/out" "term 1 1"
    wait_for file_has "$TEST_DIR/out" "term 2 1"
    run ! grep -q "start . 2" "$TEST_DIR/out"
    touch "$TEST_DIR/gate"
    wait_for file_has "$TEST_DIR/out" "start 1 2"
    wait_for file_has "$TEST_DIR/out" "start 2 2"
    wait_workers w 2
}

@test "control: a home whose path does not fit in a socket address works through its descriptor" {
    long="$TEST_DIR/$(printf 'd%.0s' {1..60})/$(printf 'e%.0s' {1..60})"
    mkdir -p "$long"
    chmod 700 "$TEST_DIR" "$long" "$(dirname "$long")"
    export LOOP_HOME="$long/home"
    [ "${#LOOP_HOME}" -gt 108 ]
    write_playbook 1
    start_sup "$TEST_DIR/p.json"
    wait_workers w 1
    [ -S "$LOOP_HOME/supervisor.sock" ]
    run_loop restart w
    expect_status 0
    expect_in "$output" "w.1: running"
    [ "$(worker_starts w)" -eq 2 ]
    track "$(live_pid w 1)"
}

@test "control: idle clients beyond the limit and a garbage request starve nobody" {
    write_playbook 1
    start_sup "$TEST_DIR/p.json"
    wait_workers w 1
    python3 - "$LOOP_HOME/supervisor.sock" "$TEST_DIR/idle-ready" <<'PY' &
import socket, sys, time
conns = []
for _ in range(80):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    conns.append(s)
open(sys.argv[2], "w").close()
time.sleep(60)
PY
    track $!
    wait_for test -e "$TEST_DIR/idle-ready"
    run_loop reload
    expect_status 0
    expect_in "$output" "no change"
    run python3 -c '
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"nonsense\n")
print(s.makefile().readline().strip())' "$LOOP_HOME/supervisor.sock"
    [ "$status" -eq 0 ]
    jq -e '.ok == false and .exit == 2' <<<"$output"
    run_loop stop w
    expect_status 0
    running "$SUP"
}

@test "control: a restart that a stop overtakes is answered as not started (exit 3), the stop as done" {
    write_rollout 1
    start_sup "$TEST_DIR/p.json"
    wait_workers w 2
    # w.1 takes the stop signal but cannot exit until the gate opens.
    timeout -s KILL 20 "$LOOP" restart w.1 >"$TEST_DIR/restart.out" 2>&1 &
    restart=$!
    track "$restart"
    wait_for file_has "$TEST_DIR/out" "term 1 1"
    timeout -s KILL 20 "$LOOP" stop w.1 >"$TEST_DIR/stop.out" 2>&1 &
    stop=$!
    track "$stop"
    # The stop has reached the supervisor before w.1 may exit.
    wait_for grep -q "stop w.1 (loop stop)" "$SUP_LOG"
    touch "$TEST_DIR/gate"
    wait_exit "$restart"
    [ "$WAIT_STATUS" -eq 3 ] || { cat "$TEST_DIR/restart.out" >&2; false; }
    grep -q "w.1 did not start (stopped)" "$TEST_DIR/restart.out"
    wait_exit "$stop"
    [ "$WAIT_STATUS" -eq 0 ] || { cat "$TEST_DIR/stop.out" >&2; false; }
    state_is w.1 stopped
    [ "$(grep -c '^start 1' "$TEST_DIR/out")" -eq 1 ]
}
