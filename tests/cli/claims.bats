#!/usr/bin/env bats
# loop _ claim | unclaim | renew | owner, and loop claims: exit codes,
# output formats and semantics, driven through the built binary.
#
# A `run` executes in a subshell that exits right after, so a claim made
# with the implicit session inside `run` dies at once. Tests therefore act
# through explicit sessions anchored to a `sleep` they start (new_session),
# or through one `bash -c` script when the implicit session is the point.

# shellcheck disable=SC2154 # $status, $output, $lines and $stderr come from run
load helpers

# ---------------------------------------------------------------- exit 0

@test "claim: exit 0 and 'claimed NAME (fence 1)' for a free name" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 0
    [ "$output" = "claimed job-1 (fence 1)" ]
    [ -z "$stderr" ]
    [ -f "$LOOP_HOME/claims/job-1" ]
}

@test "claim: exit 0 when already held by you, fence unchanged" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 0
    run_loop _ claim job-1 --session "$SID"
    expect_status 0
    [ "$output" = "claimed job-1 (fence 1)" ]
    run_loop _ claim job-1 --session "$SID" --json
    expect_status 0
    jq -e '.fence == 1 and .already_held == true' <<<"$output"
}

@test "claim: the implicit session (the calling shell) holds idempotently" {
    run bash -c '"$LOOP" _ claim job-1 && "$LOOP" _ claim job-1 && "$LOOP" _ owner job-1; rc=$?; exit $rc'
    [ "$status" -eq 0 ] || { show; false; }
    [ "${lines[0]}" = "claimed job-1 (fence 1)" ]
    [ "${lines[1]}" = "claimed job-1 (fence 1)" ]
    expect_in "${lines[2]}" "job-1 exclusive session=p"
}

@test "claim: the implicit session's claim is stale once the calling shell exits" {
    run bash -c '"$LOOP" _ claim job-1; rc=$?; exit $rc'
    [ "$status" -eq 0 ]
    [ "$output" = "claimed job-1 (fence 1)" ]
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 0
    [ "$output" = "claimed job-1 (fence 2)" ]
}

@test "claim: \$LOOP_SESSION_ID names the session" {
    new_session
    LOOP_SESSION_ID=$SID run_loop _ claim job-1 --json
    expect_status 0
    jq -e --arg s "$SID" '.session == $s' <<<"$output"
    LOOP_SESSION_ID=$SID run_loop _ unclaim job-1
    expect_status 0
    [ "$output" = "released job-1" ]
}

@test "claim: --session wins over \$LOOP_SESSION_ID" {
    new_session
    A=$SID
    new_session
    B=$SID
    LOOP_SESSION_ID=$A run_loop _ claim job-1 --session "$B" --json
    expect_status 0
    jq -e --arg s "$B" '.session == $s' <<<"$output"
}

@test "unclaim: exit 0 and 'released NAME', the claim file is gone" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 0
    run_loop _ unclaim job-1 --session "$SID"
    expect_status 0
    [ "$output" = "released job-1" ]
    [ ! -e "$LOOP_HOME/claims/job-1" ]
    run_loop _ owner job-1
    expect_status 1
}

@test "unclaim: exit 0 and no output when there is nothing to release" {
    new_session
    run_loop _ unclaim never-held --session "$SID"
    expect_status 0
    [ -z "$output" ]
    run_loop _ unclaim never-held
    expect_status 0
    [ -z "$output" ]
    claims_empty
}

@test "owner: exit 0 and one line naming session, pid and fence" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    run_loop _ owner job-1
    expect_status 0
    expect_in "$output" "job-1 exclusive session=$SID pid=$ANCHOR fence=1 since="
    run_loop _ owner job-1 --json
    expect_status 0
    jq -e --arg s "$SID" --argjson p "$ANCHOR" \
        'type == "array" and length == 1 and .[0].session == $s and .[0].pid == $p and .[0].alive == true' \
        <<<"$output"
}

# ---------------------------------------------------------------- exit 1

@test "claim: exit 1 when another live session holds it; stderr names holder session and pid" {
    new_session --label first
    A=$SID
    PA=$ANCHOR
    new_session
    B=$SID
    run_loop _ claim job-1 --session "$A" --reason "building it"
    expect_status 0
    run_loop _ claim job-1 --session "$B"
    expect_status 1
    [ -z "$output" ]
    expect_in "$stderr" "claim job-1: held by session $A (pid $PA)"
    expect_in "$stderr" "since "
    expect_in "$stderr" "reason: building it"
    # The holder is untouched.
    run_loop _ owner job-1 --json
    jq -e --arg s "$A" '.[0].session == $s and .[0].fence == 1' <<<"$output"
}

@test "claim: exit 1 when --wait times out" {
    new_session
    A=$SID
    new_session
    B=$SID
    run_loop _ claim job-1 --session "$A"
    run_loop _ claim job-1 --session "$B" --wait 300ms
    expect_status 1
    [ -z "$output" ]
    expect_in "$stderr" "timed out after 300ms"
    expect_in "$stderr" "held by session $A"
}

@test "renew: exit 1 for a claim you do not hold" {
    new_session
    A=$SID
    new_session
    B=$SID
    run_loop _ claim job-1 --session "$A" --ttl 1h
    run_loop _ renew job-1 --session "$B"
    expect_status 1
    expect_in "$stderr" "renew job-1: not held by session $B"
    run_loop _ renew free-name --session "$B"
    expect_status 1
    expect_in "$stderr" "not held"
}

@test "owner: exit 1 when the name is free" {
    run_loop _ owner free-name
    expect_status 1
    [ -z "$output" ]
    expect_in "$stderr" "free-name is not held"
    run_loop _ owner free-name --json
    expect_status 1
    jq -e '. == []' <<<"$output"
}

@test "unclaim: exit 1 for a claim another live session holds, and it stays" {
    new_session
    A=$SID
    new_session
    B=$SID
    run_loop _ claim job-1 --session "$A"
    run_loop _ unclaim job-1 --session "$B"
    expect_status 1
    expect_in "$stderr" "held by session $A"
    expect_in "$stderr" "--force"
    [ -f "$LOOP_HOME/claims/job-1" ]
    run_loop _ owner job-1 --json
    jq -e --arg s "$A" '.[0].session == $s' <<<"$output"
}

# ---------------------------------------------------------------- exit 2

@test "exit 2 for an unknown flag, naming it" {
    run_loop _ claim job-1 --bogus
    expect_status 2
    expect_in "$stderr" "--bogus"
    claims_empty
}

@test "exit 2 for a missing or unknown verb" {
    run_loop
    expect_status 2
    run_loop _
    expect_status 2
    run_loop frobnicate
    expect_status 2
    expect_in "$stderr" "frobnicate"
}

@test "exit 2 for a bad duration in --wait, --ttl and renew --ttl" {
    new_session
    run_loop _ claim job-1 --session "$SID" --wait 5y
    expect_status 2
    expect_in "$stderr" "--wait: bad duration '5y'"
    run_loop _ claim job-1 --session "$SID" --ttl soon
    expect_status 2
    expect_in "$stderr" "--ttl: bad duration 'soon'"
    run_loop _ claim job-1 --session "$SID" --wait ''
    expect_status 2
    claims_empty
    run_loop _ claim job-1 --session "$SID" --ttl 1h
    run_loop _ renew job-1 --session "$SID" --ttl 1x
    expect_status 2
    expect_in "$stderr" "bad duration '1x'"
}

@test "exit 2 for a bad --meta" {
    new_session
    run_loop _ claim job-1 --session "$SID" --meta novalue
    expect_status 2
    expect_in "$stderr" "--meta 'novalue': expected KEY=VALUE"
    claims_empty
}

@test "exit 2 for an unknown session, nothing claimed" {
    run_loop _ claim job-1 --session nosuch-00000000
    expect_status 2
    expect_in "$stderr" "session nosuch-00000000 is unknown"
    claims_empty
    LOOP_SESSION_ID=nosuch-00000000 run_loop _ claim job-1
    expect_status 2
    expect_in "$stderr" "is unknown"
    claims_empty
}

@test "exit 2 for a dead session, nothing claimed" {
    new_session
    kill_pid "$ANCHOR"
    run_loop _ claim job-1 --session "$SID"
    expect_status 2
    expect_in "$stderr" "session $SID is dead"
    claims_empty
}

@test "exit 2 for a session id that is not a valid name" {
    run_loop _ claim job-1 --session ../etc
    expect_status 2
    expect_in "$stderr" "session id '../etc'"
    claims_empty
}

@test "exit 2 for arguments after -- on a verb other than with, nothing claimed" {
    new_session
    run_loop _ claim job-1 --session "$SID" -- job-2
    expect_status 2
    claims_empty
    run_loop claims -- extra
    expect_status 2
}

# ---------------------------------------------------------------- exit 3

@test "exit 3 for a corrupt claim file; the message names the file" {
    new_session
    run_loop _ claim other --session "$SID"
    expect_status 0
    printf 'not json{' >"$LOOP_HOME/claims/job-1"
    run_loop _ claim job-1 --session "$SID"
    expect_status 3
    expect_in "$stderr" "$LOOP_HOME/claims/job-1"
    expect_in "$stderr" "corrupt"
    run_loop _ owner job-1
    expect_status 3
    expect_in "$stderr" "$LOOP_HOME/claims/job-1"
    run_loop claims
    expect_status 3
    expect_in "$stderr" "$LOOP_HOME/claims/job-1"
    # Left as it was for the user to inspect.
    [ "$(cat "$LOOP_HOME/claims/job-1")" = "not json{" ]
}

@test "exit 3 when the home is a file" {
    printf 'x' >"$TEST_DIR/afile"
    LOOP_HOME=$TEST_DIR/afile run_loop _ claim job-1
    expect_status 3
    expect_in "$stderr" "$TEST_DIR/afile"
    [ "$(cat "$TEST_DIR/afile")" = x ]
}

@test "exit 3 when claims/ is a symlink: paths under the home are not followed" {
    mkdir -p "$LOOP_HOME" "$TEST_DIR/elsewhere"
    ln -s "$TEST_DIR/elsewhere" "$LOOP_HOME/claims"
    new_session
    run_loop _ claim job-1 --session "$SID"
    expect_status 3
    expect_in "$stderr" "$LOOP_HOME/claims"
    expect_in "$stderr" "symlink"
    [ -z "$(ls -A "$TEST_DIR/elsewhere")" ]
    run_loop claims
    expect_status 3
}

# ---------------------------------------------------------------- output

@test "claim --json: one object with name, session, mode, fence, acquired_at, expires_at" {
    new_session
    run_loop _ claim job-1 --session "$SID" --json --reason why --meta k=v
    expect_status 0
    jq -e --arg s "$SID" --arg re "$RFC3339" '
        type == "object" and .name == "job-1" and .session == $s and .mode == "exclusive"
        and .fence == 1 and (.acquired_at | test($re)) and .expires_at == null
        and .reason == "why" and .meta.k == "v"' <<<"$output"
}

@test "claim --json --ttl: expires_at is an RFC 3339 time after acquired_at" {
    new_session
    run_loop _ claim job-1 --session "$SID" --json --ttl 1h
    expect_status 0
    jq -e --arg re "$RFC3339" '
        (.expires_at | test($re)) and .expires_at > .acquired_at' <<<"$output"
}

@test "claim --json with several names: an array, one object per name" {
    new_session
    run_loop _ claim b-name a-name --session "$SID" --json --shared
    expect_status 0
    jq -e '
        type == "array" and length == 2 and ([.[].name] | sort) == ["a-name", "b-name"]
        and all(.[]; .mode == "shared" and .fence == 1)' <<<"$output"
}

@test "claim with several names prints one line per name" {
    new_session
    run_loop _ claim b-name a-name --session "$SID"
    expect_status 0
    [ "${#lines[@]}" -eq 2 ]
    [ "${lines[0]}" = "claimed a-name (fence 1)" ]
    [ "${lines[1]}" = "claimed b-name (fence 1)" ]
}

@test "loop claims --json: an array of claims with holder and liveness" {
    run_loop claims --json
    expect_status 0
    jq -e '. == []' <<<"$output"
    new_session
    run_loop _ claim job-1 --session "$SID" --ttl 1h
    run_loop _ claim job-2 --session "$SID" --shared
    run_loop claims --json
    expect_status 0
    jq -e --arg s "$SID" --argjson p "$ANCHOR" --arg re "$RFC3339" '
        type == "array" and length == 2
        and all(.[]; (.name | type) == "string" and .session == $s and .pid == $p
                and .alive == true and (.fence | type) == "number"
                and (.acquired_at | test($re)) and has("expires_at"))
        and (.[] | select(.name == "job-1") | .mode == "exclusive" and (.expires_at | test($re)))
        and (.[] | select(.name == "job-2") | .mode == "shared" and .expires_at == null)' \
        <<<"$output"
}

@test "loop claims: a table with a header and one row per holder" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    run_loop claims
    expect_status 0
    [ "${#lines[@]}" -eq 2 ]
    expect_in "${lines[0]}" "NAME"
    expect_in "${lines[0]}" "FENCE"
    expect_in "${lines[1]}" "job-1"
    expect_in "${lines[1]}" "$SID"
    expect_in "${lines[1]}" "$ANCHOR"
}

# ---------------------------------------------------------------- semantics

@test "fence increases across unclaim and claim, also across sessions" {
    new_session
    A=$SID
    new_session
    B=$SID
    run_loop _ claim job-1 --session "$A"
    [ "$output" = "claimed job-1 (fence 1)" ]
    run_loop _ unclaim job-1 --session "$A"
    run_loop _ claim job-1 --session "$A"
    [ "$output" = "claimed job-1 (fence 2)" ]
    run_loop _ unclaim job-1 --session "$A"
    run_loop _ claim job-1 --session "$B"
    expect_status 0
    [ "$output" = "claimed job-1 (fence 3)" ]
    # Other names count on their own.
    run_loop _ claim job-2 --session "$B"
    [ "$output" = "claimed job-2 (fence 1)" ]
}

@test "several names are all-or-nothing: one busy name leaves none held" {
    new_session
    A=$SID
    new_session
    B=$SID
    run_loop _ claim m-name --session "$A"
    run_loop _ claim a-name m-name z-name --session "$B"
    expect_status 1
    [ -z "$output" ]
    expect_in "$stderr" "claim m-name: held by session $A"
    [ "$(ls "$LOOP_HOME/claims")" = m-name ]
    run_loop _ owner a-name
    expect_status 1
    run_loop _ owner z-name
    expect_status 1
    # Once free, all three are taken at once.
    run_loop _ unclaim m-name --session "$A"
    run_loop _ claim a-name m-name z-name --session "$B" --json
    expect_status 0
    jq -e --arg s "$B" 'length == 3 and all(.[]; .session == $s)' <<<"$output"
}

@test "--shared: two shared holders, exclusive refused while shared held" {
    new_session
    A=$SID
    new_session
    B=$SID
    new_session
    C=$SID
    run_loop _ claim docs --session "$A" --shared
    expect_status 0
    run_loop _ claim docs --session "$B" --shared
    expect_status 0
    run_loop _ owner docs --json
    jq -e --arg a "$A" --arg b "$B" \
        'length == 2 and ([.[].session] | sort) == ([$a, $b] | sort) and all(.[]; .mode == "shared")' \
        <<<"$output"
    run_loop _ claim docs --session "$C"
    expect_status 1
    expect_in "$stderr" "in shared mode"
    # One shared holder leaving keeps the other.
    run_loop _ unclaim docs --session "$A"
    expect_status 0
    run_loop _ claim docs --session "$C"
    expect_status 1
    run_loop _ unclaim docs --session "$B"
    run_loop _ claim docs --session "$C"
    expect_status 0
}

@test "--shared is refused while an exclusive claim is held" {
    new_session
    A=$SID
    new_session
    B=$SID
    run_loop _ claim docs --session "$A"
    run_loop _ claim docs --session "$B" --shared
    expect_status 1
    expect_in "$stderr" "held by session $A"
}

@test "--ttl: after expiry another session takes the claim" {
    new_session
    A=$SID
    new_session
    B=$SID
    run_loop _ claim job-1 --session "$A" --ttl 1h
    expect_status 0
    run_loop _ claim job-1 --session "$B"
    expect_status 1
    # Shortened to 200 ms from now: after that it has expired.
    run_loop _ renew job-1 --session "$A" --ttl 200ms
    expect_status 0
    sleep 0.5
    run_loop _ claim job-1 --session "$B"
    expect_status 0
    [ "$output" = "claimed job-1 (fence 2)" ]
    # The first holder cannot renew what it lost.
    run_loop _ renew job-1 --session "$A"
    expect_status 1
}

@test "renew: extends the TTL of a claim you hold" {
    new_session
    run_loop _ claim job-1 --session "$SID" --ttl 2s --json
    before=$(jq -r .expires_at <<<"$output")
    run_loop _ renew job-1 --session "$SID" --ttl 1h
    expect_status 0
    expect_in "$output" "renewed job-1 (expires "
    run_loop _ owner job-1 --json
    after=$(jq -r '.[0].expires_at' <<<"$output")
    [[ "$after" > "$before" ]]
    # Renewing does not change the fence.
    jq -e '.[0].fence == 1' <<<"$output"
}

@test "renew: a claim without TTL stays without one" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    run_loop _ renew job-1 --session "$SID"
    expect_status 0
    [ "$output" = "renewed job-1 (no ttl)" ]
}

@test "unclaim --force: another session releases a live holder's claim" {
    new_session
    A=$SID
    new_session
    B=$SID
    run_loop _ claim job-1 --session "$A"
    run_loop _ unclaim job-1 --session "$B" --force
    expect_status 0
    [ "$output" = "released job-1" ]
    [ ! -e "$LOOP_HOME/claims/job-1" ]
    grep -q '"claim.forced"' "$LOOP_HOME/events.jsonl"
    run_loop _ claim job-1 --session "$B"
    expect_status 0
    [ "$output" = "claimed job-1 (fence 2)" ]
}

@test "holder death: the claim of a dead session is taken over" {
    new_session
    A=$SID
    PA=$ANCHOR
    new_session
    B=$SID
    run_loop _ claim job-1 --session "$A"
    run_loop _ claim job-1 --session "$B"
    expect_status 1
    kill_pid "$PA"
    run_loop _ claim job-1 --session "$B" --json
    expect_status 0
    jq -e --arg s "$B" '.session == $s and .fence == 2' <<<"$output"
    run_loop _ owner job-1 --json
    jq -e --arg s "$B" 'length == 1 and .[0].session == $s' <<<"$output"
}

@test "--wait 20s returns 0 once the holder releases" {
    new_session
    A=$SID
    new_session
    B=$SID
    run_loop _ claim job-1 --session "$A"
    start_bg "$TEST_DIR/waiter.out" "$LOOP" _ claim job-1 --session "$B" --wait 20s
    W=$BG
    # The waiter has tried once and is waiting.
    wait_for grep -q '"claim.contended"' "$LOOP_HOME/events.jsonl"
    run_loop _ unclaim job-1 --session "$A"
    expect_status 0
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 0 ] || { cat "$TEST_DIR/waiter.out" >&2; false; }
    [ "$(cat "$TEST_DIR/waiter.out")" = "claimed job-1 (fence 2)" ]
    woke_by_notification
}

@test "--wait 20s returns 0 once the holder dies" {
    new_session
    A=$SID
    PA=$ANCHOR
    new_session
    B=$SID
    run_loop _ claim job-1 --session "$A"
    start_bg "$TEST_DIR/waiter.out" "$LOOP" _ claim job-1 --session "$B" --wait 20s
    W=$BG
    wait_for grep -q '"claim.contended"' "$LOOP_HOME/events.jsonl"
    kill_pid "$PA"
    wait_exit "$W"
    [ "$WAIT_STATUS" -eq 0 ] || { cat "$TEST_DIR/waiter.out" >&2; false; }
    expect_in "$(cat "$TEST_DIR/waiter.out")" "claimed job-1 (fence 2)"
    woke_by_notification
}

@test "events.jsonl records acquisitions and releases" {
    new_session
    run_loop _ claim job-1 --session "$SID"
    run_loop _ unclaim job-1 --session "$SID"
    jq -e -s --arg s "$SID" '
        any(.[]; .event == "claim.acquired" and .name == "job-1" and .session == $s and .fence == 1)
        and any(.[]; .event == "claim.released" and .name == "job-1")
        and all(.[]; has("ts"))' "$LOOP_HOME/events.jsonl"
}

@test "the home is created with mode 0700" {
    run_loop claims
    expect_status 0
    [ "$(stat -c %a "$LOOP_HOME")" = 700 ]
}

@test "home resolution: --home, then LOOP_HOME, then XDG_STATE_HOME/loop, then ~/.local/state/loop" {
    run_loop --home "$TEST_DIR/flag" claims
    expect_status 0
    [ -d "$TEST_DIR/flag/claims" ]
    [ ! -e "$LOOP_HOME" ]
    unset LOOP_HOME
    XDG_STATE_HOME=$TEST_DIR/xdg run_loop claims
    expect_status 0
    [ -d "$TEST_DIR/xdg/loop/claims" ]
    HOME=$TEST_DIR/userhome run_loop claims
    expect_status 0
    [ -d "$TEST_DIR/userhome/.local/state/loop/claims" ]
    LOOP_HOME=$TEST_DIR/env XDG_STATE_HOME=$TEST_DIR/xdg2 run_loop claims
    [ -d "$TEST_DIR/env/claims" ]
    [ ! -e "$TEST_DIR/xdg2" ]
}

@test "version prints the version" {
    run_loop version
    expect_status 0
    [[ "$output" =~ ^loop\ [0-9]+\.[0-9]+\.[0-9]+ ]]
}

# ---------------------------------------------------------------- fail closed

@test "a claim file whose name is another name's is corrupt: held, reported, repaired by doctor" {
    new_session
    S1=$SID
    run_loop _ claim a --session "$S1"
    expect_status 0
    cp "$LOOP_HOME/claims/a" "$LOOP_HOME/claims/b"
    run_loop _ unclaim a --session "$S1"
    new_session
    S2=$SID
    run_loop _ claim a --session "$S2"
    [ "$output" = "claimed a (fence 2)" ]
    before=$(cat "$LOOP_HOME/claims/a")
    LOOP_SESSION_ID=$S1 run_loop _ renew b
    expect_status 3
    expect_in "$stderr" "$LOOP_HOME/claims/b"
    expect_in "$stderr" "'name' field says 'a'"
    [ "$(cat "$LOOP_HOME/claims/a")" = "$before" ] # a's live holder is untouched
    new_session
    run_loop _ claim b --session "$SID" --wait 0
    expect_status 3
    run_loop doctor
    expect_in "$output$stderr" "'name' field says 'a'"
    run_loop doctor --repair
    run_loop _ claim b --session "$SID"
    expect_status 0
    run_loop _ owner a --json
    jq -e --arg s "$S2" '.[0].session == $s and .[0].fence == 2' <<<"$output"
}

@test "fences: an overflowing, negative or exhausted counter is corrupt (exit 3), never wrapped" {
    new_session
    mkdir -p "$LOOP_HOME/locks"
    for counter in 99999999999999999999 18446744073709551615 -5; do
        printf '%s\n' "$counter" >"$LOOP_HOME/locks/x"
        run_loop _ claim x --session "$SID"
        expect_status 3
        expect_in "$stderr" "$LOOP_HOME/locks/x"
        claims_empty
    done
}

@test "fences: a deleted counter restarts above the fences of the current holders" {
    new_session
    for _ in 1 2 3; do
        run_loop _ claim x --session "$SID"
        run_loop _ unclaim x --session "$SID"
    done
    run_loop _ claim x --session "$SID"
    [ "$output" = "claimed x (fence 4)" ]
    rm "$LOOP_HOME/locks/x"
    kill_pid "$ANCHOR" # its holder dies; the next claimer takes over
    new_session
    run_loop _ claim x --session "$SID" --json
    expect_status 0
    jq -e '.fence == 5' <<<"$output"
}

@test "fences: a counter written on another boot jumps above the clock in microseconds" {
    new_session
    mkdir -p "$LOOP_HOME/locks"
    printf '%020d\n%s\n' 7 00000000-0000-0000-0000-000000000000 >"$LOOP_HOME/locks/x"
    before=$(date +%s%6N)
    run_loop _ claim x --session "$SID" --json
    expect_status 0
    first=$(jq -r .fence <<<"$output")
    [ "$first" -gt "$before" ]
    run_loop _ unclaim x --session "$SID"
    run_loop _ claim x --session "$SID" --json
    jq -e --argjson f "$first" '.fence == $f + 1' <<<"$output" # this boot's counter is exact
}
