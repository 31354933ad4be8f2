#!/usr/bin/env bats
# loop supervise, status and events: the real binary on temporary homes.
# Playbooks under playbooks/; every process is killed by pid in teardown.

load supervise_helpers

# --- start, stop -----------------------------------------------------------

@test "supervise: workers run; SIGTERM stops them all, releases their claims, exits 0" {
    start_sup "$PLAYBOOKS/basic.json"
    wait_workers basic 2
    p1=$(live_pid basic 1)
    p2=$(live_pid basic 2)
    [ "$p1" != "$p2" ]
    # Both hold their claim, and status shows them alive with their pids.
    wait_for test -e "$LOOP_HOME/claims/basic-job-1"
    wait_for test -e "$LOOP_HOME/claims/basic-job-2"
    status_json | jq -e --argjson s "$SUP" --argjson a "$p1" --argjson b "$p2" '
        .supervisor.pid == $s and .supervisor.running == true
        and ([.sessions[] | select(.worker == "basic" and .alive == true) | .pid] | sort)
            == ([$a, $b] | sort)
        and ([.claims[] | select(.worker == "basic") | .name] | sort)
            == ["basic-job-1", "basic-job-2"]'
    # The workers are the supervisor's children, and none of them is a zombie;
    # so are their log writers, each in its own process group.
    [ "$(worker_children "$SUP" | awk '{print $1}' | sort -n | tr '\n' ' ')" = \
        "$(printf '%s\n' "$p1" "$p2" | sort -n | tr '\n' ' ')" ]
    for p in "$p1" "$p2"; do
        w=$(log_writer_of "$p")
        [ -n "$w" ]
        [ "$(ps -o ppid= -p "$w" | tr -d ' ')" = "$SUP" ]
        [ "$(ps -o pgid= -p "$w" | tr -d ' ')" = "$w" ]
    done
    no_zombie_children "$SUP"
    run_loop status
    expect_status 0
    expect_in "$output" "supervisor: pid $SUP"

    stop_sup TERM
    [ "$SUP_STATUS" -eq 0 ]
    gone "$p1"
    gone "$p2"
    [ -z "$(home_procs basic)" ]
    claims_empty
    [ "$(count_events supervisor.started)" -eq 1 ]
    [ "$(count_events supervisor.stopped)" -eq 1 ]
    has_event '.event == "claim.reaped" and .name == "basic-job-1"'
    run_loop status --json
    expect_status 0
    jq -e '.supervisor == null and .claims == []
           and ([.sessions[] | select(.worker == "basic")] == [])' <<<"$output"
}

# --- restarts --------------------------------------------------------------

@test "supervise: a worker killed with SIGKILL loses its claim and is restarted, retaking it" {
    start_sup "$PLAYBOOKS/holder.json"
    wait_workers holder 1
    old=$(live_pid holder 1)
    sid=$(session_of holder 1)
    wait_for test -e "$LOOP_HOME/claims/job"
    run_loop _ owner job --json
    expect_status 0
    fence1=$(jq -r '.[0].fence' <<<"$output")
    jq -e --arg s "$sid" --argjson p "$old" 'length == 1 and .[0].session == $s and .[0].pid == $p' \
        <<<"$output"

    kill -KILL "$old"
    wait_for has_event "(.event == \"claim.reaped\" and .name == \"job\" and .session == \"$sid\")"
    restarted() {
        local p
        p=$(live_pid holder 1)
        [ -n "$p" ] && [ "$p" != "$old" ] &&
            "$LOOP" _ owner job --json 2>/dev/null |
            jq -e --arg s "$sid" --argjson p "$p" --argjson f "$fence1" \
                'length == 1 and .[0].session == $s and .[0].pid == $p and .[0].fence > $f' >/dev/null
    }
    wait_for restarted
    new=$(live_pid holder 1)
    track "$new"
    gone "$old"
    status_json | jq -e --arg s "$sid" --argjson p "$new" '
        .sessions[] | select(.id == $s) | .pid == $p and .alive == true and .restarts == 1
                                          and .claims_held == 1'
    has_event "(.event == \"session.exited\" and .session == \"$sid\" and .signal == 9)"
    # The killed worker was reaped: no zombie child is left behind.
    no_zombie_children "$SUP"
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
    gone "$new"
}

@test "supervise: a crash loop keeps restarting with backoff, without spinning" {
    t0=$(date +%s%N)
    start_sup "$PLAYBOOKS/crash.json"
    sleep 3
    # It has not given up: at least 3 starts (the bound is only there so
    # that a very slow machine cannot hang the test).
    three() { [ "$(worker_starts crash)" -ge 3 ]; }
    wait_for three
    stop_sup
    t1=$(date +%s%N)
    [ "$SUP_STATUS" -eq 0 ]
    starts=$(worker_starts crash)
    sid=$(started_sid crash 1)
    wait_for writers_done
    logged=$(grep -c '^started$' "$LOOP_HOME/logs/$sid.log")
    elapsed_ms=$(((t1 - t0) / 1000000))
    # Delays are 0, 100, 200, 400, 800 ms, then 1 s: at most one start per
    # 400 ms of the time measured, plus a generous allowance. A spinning
    # loop would have hundreds.
    max=$((elapsed_ms / 400 + 5))
    echo "starts=$starts logged=$logged elapsed=${elapsed_ms}ms max=$max" >&2
    [ "$starts" -ge 3 ]
    [ "$starts" -le "$max" ]
    # Each start printed its line, but the last one may have been stopped
    # by the SIGTERM before it did.
    [ "$logged" -le "$starts" ] && [ "$logged" -ge $((starts - 1)) ]
    # The backoff is announced, and capped at max.
    grep -q "$sid: restarting in 1s" "$SUP_LOG"
    ! grep -q "$sid: restarting in 2s" "$SUP_LOG" || false
}

@test "supervise: restart policies never, on-failure and always" {
    start_sup "$PLAYBOOKS/policies.json"
    # on-failure after exit 1 and always after exit 0 are restarted...
    restarted_often() {
        [ "$(worker_starts fail)" -ge 3 ] && [ "$(worker_starts again)" -ge 3 ]
    }
    wait_for restarted_often
    exited() {
        has_event '(.event == "session.exited" and .worker == "never")' &&
            has_event '(.event == "session.exited" and .worker == "okay")'
    }
    wait_for exited
    # ...never (even after exit 1) and on-failure after exit 0 are not. A
    # restart after a first run would have been immediate, and fail has
    # meanwhile been through two backoff delays.
    [ "$(worker_starts never)" -eq 1 ]
    [ "$(worker_starts okay)" -eq 1 ]
    never=$(started_sid never 1)
    okay=$(started_sid okay 1)
    # The log writer may still be writing what they printed last.
    wait_for file_has "$LOOP_HOME/logs/$never.log" '^ran$'
    wait_for file_has "$LOOP_HOME/logs/$okay.log" '^ran$'
    [ "$(grep -c '^ran$' "$LOOP_HOME/logs/$never.log")" -eq 1 ]
    [ "$(grep -c '^ran$' "$LOOP_HOME/logs/$okay.log")" -eq 1 ]
    has_event "(.event == \"session.exited\" and .session == \"$never\" and .code == 1)"
    has_event "(.event == \"session.exited\" and .session == \"$okay\" and .code == 0)"
    grep -q "$never: not restarting" "$SUP_LOG"
    grep -q "$okay: not restarting" "$SUP_LOG"
    # Their sessions are ended; the supervisor keeps running.
    status_json | jq -e '[.sessions[] | select(.worker == "never" or .worker == "okay")] == []'
    running "$SUP"
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
    [ "$(worker_starts never)" -eq 1 ]
    [ "$(worker_starts okay)" -eq 1 ]
}

# --- reload ----------------------------------------------------------------

# pids_now: "worker-replica=pid" for every live worker session, sorted.
pids_now() {
    status_json | jq -r '.sessions[] | select(.alive == true and .worker != null)
                         | "\(.worker)-\(.replica)=\(.pid)"' | sort
}
pid_in() { sed -n "s/^$2=//p" <<<"$1"; }

@test "supervise: SIGHUP reconciles: keeps unchanged workers, adds a replica, restarts a changed one, stops a removed one" {
    cp "$PLAYBOOKS/reload-1.json" "$TEST_DIR/playbook.json"
    start_sup "$TEST_DIR/playbook.json"
    wait_workers keep 2
    wait_workers grow 2
    wait_workers change 1
    wait_workers gone 1
    before=$(pids_now)
    echo "before: $before" >&2

    cp "$PLAYBOOKS/reload-2.json" "$TEST_DIR/playbook.json.new"
    mv "$TEST_DIR/playbook.json.new" "$TEST_DIR/playbook.json"
    kill -HUP "$SUP"
    reloaded() {
        [ "$(count_events supervisor.reloaded)" -ge 1 ] &&
            [ -n "$(live_pid grow 3)" ] &&
            [ -n "$(live_pid change 1)" ] &&
            [ "$(live_pid change 1)" != "$(pid_in "$before" change-1)" ] &&
            gone "$(pid_in "$before" gone-1)"
    }
    wait_for reloaded || { cat "$SUP_LOG" >&2; false; }
    after=$(pids_now)
    echo "after: $after" >&2
    for w in keep-1 keep-2 grow-1 grow-2; do
        [ -n "$(pid_in "$before" "$w")" ]
        [ "$(pid_in "$after" "$w")" = "$(pid_in "$before" "$w")" ]
    done
    track "$(pid_in "$after" grow-3)"
    track "$(pid_in "$after" change-1)"
    # Exactly one more replica of grow, and the new run for change.
    [ "$(home_procs grow | wc -l)" -eq 3 ]
    [ "$(home_procs change | wc -l)" -eq 1 ]
    grep -q 1001 "/proc/$(pid_in "$after" change-1)/cmdline"
    [ -z "$(home_procs gone)" ]
    status_json | jq -e '[.sessions[] | select(.worker == "gone")] == []'
    # Nobody else was started: keep and the first two of grow once each.
    [ "$(worker_starts keep)" -eq 2 ]
    [ "$(worker_starts grow 1)" -eq 1 ]
    [ "$(worker_starts grow 2)" -eq 1 ]
    [ "$(worker_starts grow 3)" -eq 1 ]
    [ "$(worker_starts change)" -eq 2 ]

    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
    [ -z "$(home_procs)" ]
}

@test "supervise: SIGHUP with an invalid playbook is refused and changes nothing" {
    cp "$PLAYBOOKS/reload-1.json" "$TEST_DIR/playbook.json"
    start_sup "$TEST_DIR/playbook.json"
    wait_workers keep 2
    wait_workers grow 2
    wait_workers change 1
    wait_workers gone 1
    before=$(pids_now)

    cp "$PLAYBOOKS/reload-bad.json" "$TEST_DIR/playbook.json"
    kill -HUP "$SUP"
    wait_for grep -q "reload refused" "$SUP_LOG"
    grep "reload refused" "$SUP_LOG" | grep -q "workers.keep.replicas"
    running "$SUP"
    [ "$(pids_now)" = "$before" ]
    [ "$(count_events supervisor.reloaded)" -eq 0 ]
    [ "$(home_procs grow | wc -l)" -eq 2 ]
    [ "$(worker_starts change)" -eq 1 ]
    [ "$(worker_starts keep)" -eq 2 ]

    # Fixed, a reload goes through again, and changes nothing either.
    cp "$PLAYBOOKS/reload-1.json" "$TEST_DIR/playbook.json"
    kill -HUP "$SUP"
    reloaded_once() { [ "$(count_events supervisor.reloaded)" -eq 1 ]; }
    wait_for reloaded_once
    [ "$(pids_now)" = "$before" ]
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
}

# --- adoption --------------------------------------------------------------

@test "supervise: after SIGKILL of the supervisor, a new one adopts live workers and restarts dead ones" {
    start_sup "$PLAYBOOKS/adopt.json"
    wait_workers steady 2
    wait_workers doomed 1
    wait_for test -e "$LOOP_HOME/claims/doomed-job"
    s1=$(live_pid steady 1)
    s2=$(live_pid steady 2)
    d1=$(live_pid doomed 1)
    dsid=$(session_of doomed 1)

    stop_sup KILL
    # The workers live on, and so do their log writers (not the supervisor's
    # pipes: their own process each).
    running "$s1"
    running "$s2"
    running "$d1"
    w1=$(log_writer_of "$s1")
    [ -n "$w1" ]
    [ "$(log_writer_of "$s1" 2)" = "$w1" ]
    running "$w1"
    run_loop status
    expect_status 0
    expect_in "$output" "supervisor: not running"
    # One of them dies while no supervisor runs.
    kill -KILL "$d1"
    wait_for gone "$d1"

    start_sup "$PLAYBOOKS/adopt.json"
    adopted() {
        has_event "(.event == \"session.adopted\" and .pid == $s1)" &&
            has_event "(.event == \"session.adopted\" and .pid == $s2)"
    }
    wait_for adopted
    # The dead one: its claim reaped, restarted, claim taken again.
    wait_for has_event "(.event == \"claim.reaped\" and .name == \"doomed-job\" and .session == \"$dsid\")"
    doomed_back() {
        local p
        p=$(live_pid doomed 1)
        [ -n "$p" ] && [ "$p" != "$d1" ] &&
            "$LOOP" _ owner doomed-job --json 2>/dev/null |
            jq -e --argjson p "$p" 'length == 1 and .[0].pid == $p and .[0].fence == 2' >/dev/null
    }
    wait_for doomed_back
    track "$(live_pid doomed 1)"
    ! has_event "(.event == \"session.adopted\" and .pid == $d1)" || false
    # Adopted, not duplicated: the same two processes, no third one.
    [ "$(live_pid steady 1)" = "$s1" ]
    [ "$(live_pid steady 2)" = "$s2" ]
    [ "$(home_procs steady | tr '\n' ' ')" = "$(printf '%s\n' "$s1" "$s2" | sort -n | tr '\n' ' ')" ]
    [ "$(home_procs doomed | wc -l)" -eq 1 ]
    [ "$(worker_starts steady)" -eq 2 ]
    [ "$(worker_starts doomed)" -eq 2 ]

    # The new supervisor also stops what it adopted.
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
    wait_for gone "$s1"
    wait_for gone "$s2"
    [ -z "$(home_procs)" ]
    claims_empty
}

# --- stop reaches escaped descendants --------------------------------------

@test "supervise: SIGTERM also ends descendants that left with setsid (one ignoring SIGTERM)" {
    start_sup "$PLAYBOOKS/escape.json"
    wait_workers escape 1
    w=$(live_pid escape 1)
    # The worker and at least two processes that left its session.
    escaped() {
        local p n=0
        for p in $(home_procs escape); do
            [ "$(ps -o sid= -p "$p" | tr -d ' ')" != "$w" ] && n=$((n + 1))
        done
        [ "$n" -ge 2 ]
    }
    wait_for escaped
    for p in $(home_procs escape); do track "$p"; done
    [ "$(home_procs escape | wc -l)" -ge 3 ]

    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
    none_left() { [ -z "$(home_procs)" ]; }
    wait_for none_left || { ps -o pid,ppid,sid,stat,args -p "$(home_procs | tr '\n' ,)0" >&2; false; }
}

# --- one per home ----------------------------------------------------------

@test "supervise: a second supervisor on the same home is refused, naming the first" {
    start_sup "$PLAYBOOKS/basic.json"
    wait_workers basic 2
    starts=$(count_events session.started)
    run_loop supervise "$PLAYBOOKS/basic.json"
    expect_status 1
    [[ "$stderr" =~ pid\ $SUP([^0-9]|$) ]] || { show; false; }
    running "$SUP"
    [ "$(count_events session.started)" -eq "$starts" ]
    [ "$(count_events supervisor.started)" -eq 1 ]
    [ "$(home_procs basic | wc -l)" -eq 2 ]
    status_json | jq -e --argjson s "$SUP" '.supervisor.pid == $s'
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
}

# --- bad playbooks ---------------------------------------------------------

# refused FILE KEY WHAT: supervise exits 2 naming FILE, KEY and WHAT is
# wrong, and nothing ran.
refused() {
    run_loop supervise "$1"
    expect_status 2
    expect_in "$stderr" "$1"
    expect_in "$stderr" "$2"
    expect_in "$stderr" "$3"
    [ -z "$output" ]
    [ -z "$(ls -A "$LOOP_HOME/sessions" 2>/dev/null)" ]
    [ -z "$(ls -A "$LOOP_HOME/logs" 2>/dev/null)" ]
    [ "$(count_events supervisor.started)" -eq 0 ]
    [ "$(count_events session.started)" -eq 0 ]
    [ -z "$(home_procs)" ]
    [ ! -e "$LOOP_HOME/supervisor.lock" ]
    run_loop status --json
    expect_status 0
    jq -e '.supervisor == null and .sessions == []' <<<"$output"
}

@test "supervise: refuses a playbook with an unknown key" {
    refused "$PLAYBOOKS/bad-unknown-key.json" "workers.w.replicaz" "unknown key"
}

@test "supervise: refuses a playbook with a value of the wrong type" {
    refused "$PLAYBOOKS/bad-type.json" "workers.w.replicas" '"two"'
}

@test "supervise: refuses a playbook with a bad duration" {
    refused "$PLAYBOOKS/bad-duration.json" "workers.w.stop_timeout" "10 parsecs"
}

@test "supervise: refuses a playbook with negative replicas" {
    refused "$PLAYBOOKS/bad-replicas.json" "workers.w.replicas" "-1"
}

@test "supervise: refuses a playbook with an empty run" {
    refused "$PLAYBOOKS/bad-run.json" "workers.w.run" "non-empty"
}

@test "supervise: refuses a playbook that does not exist" {
    run_loop supervise "$TEST_DIR/no-such-playbook.json"
    expect_status 2
    expect_in "$stderr" "$TEST_DIR/no-such-playbook.json"
    [ -z "$(ls -A "$LOOP_HOME/sessions" 2>/dev/null)" ]
    [ "$(count_events supervisor.started)" -eq 0 ]
    run_loop status --json
    jq -e '.supervisor == null' <<<"$output"
}

# --- what a worker sees ----------------------------------------------------

@test "supervise: a worker's environment, process group, working directory and log" {
    export OUT_DIR="$TEST_DIR/out"
    mkdir "$OUT_DIR"
    start_sup "$PLAYBOOKS/env.json"
    wait_workers envw 2
    for r in 1 2; do
        pid=$(live_pid envw "$r")
        sid=$(session_of envw "$r")
        wait_for test -f "$OUT_DIR/env.$r"
        env_file="$OUT_DIR/env.$r"
        grep -qx "LOOP_SESSION_ID=$sid@[0-9a-f]*" "$env_file"
        grep -qxF "LOOP_HOME=$LOOP_HOME" "$env_file"
        grep -qxF "LOOP_WORKER=envw" "$env_file"
        grep -qxF "LOOP_REPLICA=$r" "$env_file"
        grep -qxF "QUEUE=main" "$env_file"
        grep -qxF "GREETING=hello world" "$env_file"
        # The supervisor's own environment is passed on.
        grep -qxF "OUT_DIR=$OUT_DIR" "$env_file"
        # Its own process group.
        [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]
        # cwd "." is the playbook's directory.
        wait_for test -s "$OUT_DIR/cwd.$r"
        [ "$(cat "$OUT_DIR/cwd.$r")" = "$(cd "$PLAYBOOKS" && pwd -P)" ]
        # stdout and stderr go to the home's logs/.
        log="$LOOP_HOME/logs/$sid.log"
        wait_for file_has "$log" "to-stdout $r"
        wait_for file_has "$log" "to-stderr $r"
        w=$(log_writer_of "$pid")
        [ -n "$w" ]
        [ "$(log_writer_of "$pid" 2)" = "$w" ]
        tr '\0' '\n' <"/proc/$w/cmdline" | grep -qxF "$sid.log"
    done
    [ "$(grep LOOP_SESSION_ID= "$OUT_DIR/env.1")" != "$(grep LOOP_SESSION_ID= "$OUT_DIR/env.2")" ]
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
}

# --- holders outside the supervisor ----------------------------------------

@test "supervise: the claim of an outside holder is reaped when it dies, without waiting for the sweep" {
    start_sup "$PLAYBOOKS/idle.json"
    sleep 1000 </dev/null >/dev/null 2>&1 &
    anchor=$!
    track "$anchor"
    sid=$("$LOOP" _ session start --pid "$anchor")
    run_loop _ claim outside-job --session "$sid"
    expect_status 0
    [ -e "$LOOP_HOME/claims/outside-job" ]
    # Let the supervisor see the new claim before its holder dies (either
    # order must work; this one exercises the watch on the holder).
    sleep 0.5
    kill -KILL "$anchor"
    wait "$anchor" 2>/dev/null || true
    # reap_interval is 1h: only the watch on the holder can do this in time.
    wait_for has_event "(.event == \"claim.reaped\" and .name == \"outside-job\" and .session == \"$sid\")" ||
        { cat "$SUP_LOG" >&2; false; }
    [ ! -e "$LOOP_HOME/claims/outside-job" ]
    [ "$(count_events claim.reaped)" -eq 1 ]
    stop_sup
    [ "$SUP_STATUS" -eq 0 ]
}

# --- observing -------------------------------------------------------------

@test "events --follow: prints events appended after it started" {
    out="$TEST_DIR/follow.out"
    "$LOOP" events --follow </dev/null >"$out" 2>&1 &
    follower=$!
    track "$follower"
    # The home is fresh: there is no event log yet.
    "$LOOP" _ claim follow-1 >/dev/null
    wait_for file_has "$out" "claim.acquired.*name=follow-1"
    "$LOOP" _ unclaim follow-1
    "$LOOP" _ claim follow-2 >/dev/null
    wait_for file_has "$out" "claim.released.*name=follow-1"
    wait_for file_has "$out" "claim.acquired.*name=follow-2"
    running "$follower"
    [ "$(grep -c 'claim.acquired' "$out")" -eq 2 ]
    kill -TERM "$follower"
    wait_exit "$follower"
}

@test "status: without a supervisor says not running; --json has supervisor null" {
    run_loop status
    expect_status 0
    expect_in "${lines[0]}" "supervisor: not running"
    run_loop status --json
    expect_status 0
    jq -e '.supervisor == null and .sessions == [] and .claims == []' <<<"$output"
    # Also after a supervisor stopped.
    start_sup "$PLAYBOOKS/idle.json"
    status_json | jq -e --argjson s "$SUP" '.supervisor.pid == $s and .supervisor.running == true'
    stop_sup
    run_loop status --json
    expect_status 0
    jq -e '.supervisor == null' <<<"$output"
    run_loop status
    expect_in "${lines[0]}" "supervisor: not running"
}
