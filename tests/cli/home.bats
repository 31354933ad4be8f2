#!/usr/bin/env bats
# The home at the edges (SPEC section 1): an unsafe home is refused, a
# record that is not a small regular file is reported (never a hang, never
# a big read), and bad input is refused before the home is touched.

load helpers

# Runs loop with a bound, so that a hang fails the test instead of
# hanging the suite (124: killed by timeout).
run_bounded() {
    run --separate-stderr timeout -s KILL 60 "$LOOP" "$@"
}

@test "home: a home writable by others is refused with exit 3, naming the path and the fix" {
    mkdir -p "$LOOP_HOME"
    chmod 0777 "$LOOP_HOME"
    run_loop _ claim job-1
    expect_status 3
    expect_in "$stderr" "$LOOP_HOME"
    expect_in "$stderr" "chmod 700 $LOOP_HOME"
    [ ! -e "$LOOP_HOME/claims" ]
    chmod 0770 "$LOOP_HOME"
    run_loop claims
    expect_status 3
    chmod 0755 "$LOOP_HOME"
    run_loop _ claim job-1
    expect_status 0
}

@test "home: a home owned by another user is refused with exit 3" {
    mkdir -p "$LOOP_HOME"
    chmod 0700 "$LOOP_HOME"
    chown 65534:65534 "$LOOP_HOME" || skip "cannot chown (not root)"
    run_loop _ claim job-1
    expect_status 3
    expect_in "$stderr" "$LOOP_HOME"
    expect_in "$stderr" "owned by"
    [ ! -e "$LOOP_HOME/claims" ]
    run_loop doctor
    expect_status 3
}

@test "home: a FIFO in claims/ is reported, never a hang" {
    run_loop _ claim other
    expect_status 0
    mkfifo "$LOOP_HOME/claims/job-1"
    run_bounded _ claim job-1
    expect_status 3
    expect_in "$stderr" "$LOOP_HOME/claims/job-1"
    expect_in "$stderr" "not a regular file"
    run_bounded _ owner job-1
    expect_status 3
    run_bounded claims
    expect_in "$output$stderr" "other"
    expect_in "$stderr" "$LOOP_HOME/claims/job-1"
    run_bounded reap
    [ "$status" -ne 124 ] || { show; false; }
    run_bounded status
    [ "$status" -ne 124 ] || { show; false; }
    run_bounded doctor
    expect_status 1
    expect_in "$output" "$LOOP_HOME/claims/job-1"
    run_bounded doctor --repair
    [ "$status" -ne 124 ] || { show; false; }
    [ ! -e "$LOOP_HOME/claims/job-1" ]
    run_bounded _ claim job-1
    expect_status 0
}

@test "home: a huge sparse record is refused without reading it" {
    run_loop _ claim other
    expect_status 0
    truncate -s 2G "$LOOP_HOME/claims/job-1"
    # A read of the whole file would need 2 GiB; 256 MiB is plenty for loop
    # (not for AddressSanitizer's shadow memory: no bound under it).
    local limit="ulimit -v 262144;"
    grep -aq __asan "$LOOP" && limit=""
    run --separate-stderr bash -c "$limit"' exec "$LOOP" _ claim job-1'
    expect_status 3
    expect_in "$stderr" "$LOOP_HOME/claims/job-1"
    expect_in "$stderr" "larger than"
    run_loop doctor --repair
    [ ! -e "$LOOP_HOME/claims/job-1" ]
    run_loop _ claim job-1
    expect_status 0
}

@test "home: a directory in place of a record is reported; listings go on; repair moves it" {
    run_loop _ claim other
    expect_status 0
    mkdir "$LOOP_HOME/claims/job-1" "$LOOP_HOME/sessions/s-bad" "$LOOP_HOME/locks/job-2"
    run_loop _ claim job-1
    expect_status 3
    expect_in "$stderr" "$LOOP_HOME/claims/job-1"
    run_loop _ claim job-2
    expect_status 3
    expect_in "$stderr" "$LOOP_HOME/locks/job-2"
    run_loop claims
    expect_in "$output" "other"
    expect_in "$stderr" "$LOOP_HOME/claims/job-1"
    run_loop reap
    expect_status 0
    run_loop doctor
    expect_status 1
    expect_in "$output" "$LOOP_HOME/claims/job-1"
    expect_in "$output" "$LOOP_HOME/sessions/s-bad"
    run_loop doctor --repair
    [ ! -e "$LOOP_HOME/claims/job-1" ]
    [ ! -e "$LOOP_HOME/sessions/s-bad" ]
    [ -f "$LOOP_HOME/locks/job-2" ]
    run_loop doctor
    expect_status 0
    run_loop _ claim job-1
    expect_status 0
    run_loop _ claim job-2
    expect_status 0
}

@test "input: a bad session id is refused (exit 2) before the home is created" {
    for args in "_ claim x --session bad/../id" "_ claim x --session -x" "_ renew x --session a.b/" \
        "_ with x --session .x -- true" "_ unclaim x --session a//b"; do
        # shellcheck disable=SC2086
        run_loop $args
        expect_status 2
        [ ! -e "$LOOP_HOME" ] || { echo "home created by: $args" >&2; false; }
    done
    LOOP_SESSION_ID='bad id' run_loop _ claim x
    expect_status 2
    [ ! -e "$LOOP_HOME" ]
}

@test "input: invalid UTF-8 in --reason, --meta or --label is exit 2 with nothing written" {
    run_loop _ claim x --reason $'bad\xff'
    expect_status 2
    expect_in "$stderr" "UTF-8"
    [ ! -e "$LOOP_HOME" ]
    run_loop _ claim x --meta $'k=\xc3'
    expect_status 2
    [ ! -e "$LOOP_HOME" ]
    run_loop _ claim x --meta $'\xffk=v'
    expect_status 2
    run_loop _ session start --ttl 1m --label $'\xe2\x82'
    expect_status 2
    [ ! -e "$LOOP_HOME" ]
    run_loop _ claim x --reason 'café ☕'
    expect_status 0
}

@test "input: an empty option value is refused, not taken as absent" {
    for args in "_ claim x --ttl" "_ claim x --session" "_ claim x --wait" "reap --retention" \
        "_ session start --ttl" "--home"; do
        # shellcheck disable=SC2086
        run_loop $args '' _ claim x
        [ "$status" -eq 2 ] || { echo "args: $args ''" >&2; show; false; }
        expect_in "$stderr" "empty"
    done
    [ ! -e "$LOOP_HOME" ]
}

@test "input: control bytes in what is echoed are escaped" {
    run_loop _ claim $'a\x1b[31mb'
    expect_status 2
    ! expect_in "$stderr" $'\x1b' 2>/dev/null
    expect_in "$stderr" '\x1b'
    run_loop _ claim x --meta $'k\x07'
    expect_status 2
    ! expect_in "$stderr" $'\x07' 2>/dev/null
    run_loop _ claim x --bogus$'\x01'
    expect_status 2
    ! expect_in "$stderr" $'\x01' 2>/dev/null
}

@test "input: durations past 100 years are refused (exit 2), nothing written" {
    for d in 106751991166d 36501d 9223372036854775807ms 99999999999999999999s; do
        run_loop _ claim x --ttl "$d"
        [ "$status" -eq 2 ] || { echo "--ttl $d" >&2; show; false; }
        run_loop _ claim x --wait "$d"
        [ "$status" -eq 2 ] || { echo "--wait $d" >&2; show; false; }
    done
    [ ! -e "$LOOP_HOME" ]
    run_loop _ claim x --ttl 36500d
    expect_status 0
}

@test "events: a torn last line does not swallow the next event; doctor reports and repairs it" {
    run_loop _ claim a
    expect_status 0
    printf '{"ts":"2026-01-01T00:00:00.000Z","ev' >>"$LOOP_HOME/events.jsonl"
    run_loop _ claim b
    expect_status 0
    run_loop events --json
    expect_status 0
    expect_in "$output" '"name":"b"'
    run --separate-stderr jq -cR 'fromjson? | select(.event == "claim.acquired" and .name == "b")' "$LOOP_HOME/events.jsonl"
    [ -n "$output" ] || { echo "claim b's event was swallowed" >&2; cat "$LOOP_HOME/events.jsonl" >&2; false; }
    run_loop doctor
    expect_status 1
    expect_in "$output" "events.jsonl"
    run_loop doctor --repair
    run_loop doctor
    expect_status 0
    run jq -c . "$LOOP_HOME/events.jsonl"
    [ "$status" -eq 0 ]
}
