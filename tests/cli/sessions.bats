#!/usr/bin/env bats
# loop _ session start | heartbeat | end, and loop sessions.

# shellcheck disable=SC2154 # $status, $output, $lines and $stderr come from run
load helpers

@test "session start: prints a new id and records the session" {
    start_anchor
    run_loop _ session start --pid "$ANCHOR"
    expect_status 0
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" =~ ^[A-Za-z0-9][A-Za-z0-9._:@+=-]*$ ]]
    [ -f "$LOOP_HOME/sessions/$output" ]
    first=$output
    run_loop _ session start --pid "$ANCHOR"
    expect_status 0
    [ "$output" != "$first" ]
}

@test "session start --json: the session object" {
    start_anchor
    run_loop _ session start --pid "$ANCHOR" --label "nightly build" --json
    expect_status 0
    jq -e --argjson p "$ANCHOR" --arg re "$RFC3339" '
        (.id | type) == "string" and .pid == $p and .alive == true and .worker == null
        and .replica == null and .label == "nightly build" and (.started_at | test($re))' \
        <<<"$output"
}

@test "loop sessions --json: an array of sessions with id, pid, alive, worker, replica, started_at" {
    run_loop sessions --json
    expect_status 0
    jq -e '. == []' <<<"$output"
    new_session --label one
    A=$SID
    PA=$ANCHOR
    new_session --ttl 1h
    B=$SID
    PB=$ANCHOR
    run_loop sessions --json
    expect_status 0
    jq -e --arg a "$A" --arg b "$B" --argjson pa "$PA" --argjson pb "$PB" --arg re "$RFC3339" '
        type == "array" and length == 2
        and all(.[]; has("id") and has("pid") and has("alive") and has("worker")
                and has("replica") and (.started_at | test($re)))
        and (.[] | select(.id == $a) | .pid == $pa and .alive == true and .label == "one"
             and .worker == null and .replica == null)
        and (.[] | select(.id == $b) | .pid == $pb and .alive == true and .ttl_ms == 3600000)' \
        <<<"$output"
}

@test "loop sessions: a table with a header and one row per session" {
    new_session --label lbl
    run_loop sessions
    expect_status 0
    [ "${#lines[@]}" -eq 2 ]
    expect_in "${lines[0]}" "ID"
    expect_in "${lines[0]}" "ALIVE"
    expect_in "${lines[1]}" "$SID"
    expect_in "${lines[1]}" "$ANCHOR"
    expect_in "${lines[1]}" "yes"
    expect_in "${lines[1]}" "lbl"
}

@test "a --pid session is dead once its process exits" {
    new_session
    run_loop sessions --json
    jq -e --arg s "$SID" '.[] | select(.id == $s) | .alive == true' <<<"$output"
    kill_pid "$ANCHOR"
    run_loop sessions --json
    expect_status 0
    jq -e --arg s "$SID" '.[] | select(.id == $s) | .alive == false' <<<"$output"
    run_loop _ claim job-1 --session "$SID"
    expect_status 2
    expect_in "$stderr" "is dead"
}

@test "export LOOP_SESSION_ID=\$(loop _ session start): the script is the session (sh)" {
    run sh -c '
        LOOP_SESSION_ID=$("$LOOP" _ session start) || exit 90
        export LOOP_SESSION_ID
        "$LOOP" _ claim job-1 || exit 91
        "$LOOP" _ claim job-1 || exit 92
        "$LOOP" _ owner job-1 --json || exit 93
        echo "$LOOP_SESSION_ID"
        exit 0'
    [ "$status" -eq 0 ] || { show; false; }
    sid=${lines[-1]}
    [ "${lines[0]}" = "claimed job-1 (fence 1)" ]
    [ "${lines[1]}" = "claimed job-1 (fence 1)" ]
    expect_in "$output" "\"session\": \"$sid\""
    # The script has exited: its session is dead and the claim is stale.
    run_loop sessions --json
    jq -e --arg s "$sid" '.[] | select(.id == $s) | .alive == false' <<<"$output"
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 0
    [ "$output" = "claimed job-1 (fence 2)" ]
}

@test "export LOOP_SESSION_ID=\$(loop _ session start): the script is the session (bash)" {
    run bash -c '
        export LOOP_SESSION_ID=$("$LOOP" _ session start)
        "$LOOP" _ claim job-1 || exit 91
        "$LOOP" sessions --json
        exit 0'
    [ "$status" -eq 0 ] || { show; false; }
    [ "${lines[0]}" = "claimed job-1 (fence 1)" ]
    jq -e 'length == 1 and .[0].alive == true' <<<"$(printf '%s\n' "${lines[@]:1}")"
}

@test "session start --pid: exit 2 for a process that is not running" {
    start_anchor
    dead=$ANCHOR
    kill_pid "$dead"
    run_loop _ session start --pid "$dead"
    expect_status 2
    expect_in "$stderr" "pid $dead is not running"
    [ -z "$(ls "$LOOP_HOME/sessions" 2>/dev/null)" ]
    run_loop _ session start --pid -5
    expect_status 2
}

@test "session start: exit 2 for a bad --ttl" {
    run_loop _ session start --ttl soon
    expect_status 2
    expect_in "$stderr" "--ttl: bad duration 'soon'"
    run_loop _ session start --ttl 0
    expect_status 2
    expect_in "$stderr" "--ttl"
    [ -z "$(ls "$LOOP_HOME/sessions" 2>/dev/null)" ]
}

@test "a --ttl session lives on heartbeats; heartbeat after expiry exits 1" {
    run_loop _ session start --ttl 1h
    expect_status 0
    sid=$output
    run_loop _ claim job-1 --session "$sid"
    expect_status 0
    run_loop _ session heartbeat "$sid"
    expect_status 0
    [ -z "$output" ]
    # Its heartbeats stop, and its TTL (shortened here rather than waited
    # for) runs out.
    jq -c '.ttl_ms = 200' "$LOOP_HOME/sessions/$sid" >"$TEST_DIR/s"
    mv "$TEST_DIR/s" "$LOOP_HOME/sessions/$sid"
    sleep 0.5
    run_loop _ session heartbeat "$sid"
    expect_status 1
    expect_in "$stderr" "session $sid is dead"
    run_loop sessions --json
    jq -e --arg s "$sid" '.[] | select(.id == $s) | .alive == false' <<<"$output"
    # Its claim is stale: another session takes it.
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 0
    [ "$output" = "claimed job-1 (fence 2)" ]
}

@test "heartbeat keeps a --ttl session alive past its first ttl" {
    run_loop _ session start --ttl 2s
    sid=$output
    for _ in 1 2 3 4 5; do
        sleep 0.5
        run_loop _ session heartbeat "$sid"
        expect_status 0
    done
    # 2.5 s after start, alive thanks to the heartbeats.
    run_loop sessions --json
    jq -e --arg s "$sid" '.[] | select(.id == $s) | .alive == true' <<<"$output"
}

@test "a session with --pid and --ttl dies with its process despite heartbeats" {
    new_session --ttl 1h
    run_loop _ session heartbeat "$SID"
    expect_status 0
    kill_pid "$ANCHOR"
    run_loop _ session heartbeat "$SID"
    expect_status 1
    expect_in "$stderr" "is dead"
}

@test "heartbeat: LOOP_SESSION_ID is the default; no id at all is exit 2" {
    run_loop _ session start --ttl 1h
    sid=$output
    LOOP_SESSION_ID=$sid run_loop _ session heartbeat
    expect_status 0
    run_loop _ session heartbeat
    expect_status 2
    expect_in "$stderr" "LOOP_SESSION_ID is not set"
}

@test "heartbeat: exit 1 for an unknown session" {
    run_loop _ session heartbeat nosuch-00000000
    expect_status 1
    expect_in "$stderr" "session nosuch-00000000 is unknown"
    [ -z "$(ls "$LOOP_HOME/sessions" 2>/dev/null)" ]
}

@test "session end: releases the session's claims and removes it" {
    new_session
    A=$SID
    new_session
    B=$SID
    run_loop _ claim job-1 job-2 --session "$A"
    run_loop _ claim job-3 --session "$B"
    run_loop _ session end "$A"
    expect_status 0
    [ "${#lines[@]}" -eq 2 ]
    expect_in "$output" "released job-1"
    expect_in "$output" "released job-2"
    [ ! -e "$LOOP_HOME/sessions/$A" ]
    [ ! -e "$LOOP_HOME/claims/job-1" ]
    [ ! -e "$LOOP_HOME/claims/job-2" ]
    [ -f "$LOOP_HOME/claims/job-3" ]
    run_loop _ claim job-1 --session "$A"
    expect_status 2
    expect_in "$stderr" "is unknown"
    grep -q '"session.ended"' "$LOOP_HOME/events.jsonl"
}

@test "session end: LOOP_SESSION_ID is the default; no id at all is exit 2" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    LOOP_SESSION_ID=$SID run_loop _ session end
    expect_status 0
    [ "$output" = "released job-1" ]
    run_loop _ session end
    expect_status 2
    expect_in "$stderr" "LOOP_SESSION_ID is not set"
}

@test "session end: a session that is not running is not an error" {
    run_loop _ session end nosuch-00000000
    expect_status 0
    [ -z "$output" ]
    expect_in "$stderr" "not running"
}

@test "session end: a shared claim keeps its other holders" {
    new_session
    A=$SID
    new_session
    B=$SID
    run_loop _ claim docs --session "$A" --shared
    run_loop _ claim docs --session "$B" --shared
    run_loop _ session end "$A"
    expect_status 0
    run_loop _ owner docs --json
    expect_status 0
    jq -e --arg b "$B" 'length == 1 and .[0].session == $b' <<<"$output"
}

@test "session verbs: exit 2 for a session id that is not a valid name" {
    run_loop _ session heartbeat ../x
    expect_status 2
    expect_in "$stderr" "session id '../x'"
    run_loop _ session end ../x
    expect_status 2
    expect_in "$stderr" "session id '../x'"
}

@test "session: exit 2 without a subcommand" {
    run_loop _ session
    expect_status 2
}
