#!/usr/bin/env bats
# Fault injection: a home on a full filesystem (ENOSPC) and on a read-only
# one (EROFS). Every verb that must write exits 3 with a clear message,
# verbs that only read keep working, and nothing is left half-written.

load helpers

setup() {
    loop_setup
    MNT="$TEST_DIR/mnt"
    mkdir -p "$MNT"
    if ! mount -t tmpfs -o size=2m,mode=0700 tmpfs "$MNT" 2>/dev/null; then
        MNT=""
        skip "cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)"
    fi
    export LOOP_HOME="$MNT/home"
}

teardown() {
    if [ -n "${MNT:-}" ]; then
        umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
    fi
    loop_teardown
}

# Fills the filesystem of the home until a write fails.
fill_disk() {
    dd if=/dev/zero of="$MNT/fill" bs=4k 2>/dev/null || true
    # The last blocks: small files until nothing fits.
    local i
    for i in $(seq 1 64); do
        head -c 512 /dev/zero >"$MNT/fill.$i" 2>/dev/null || break
    done
}

# No temp file and no unfinished multi-name marker anywhere in the home.
expect_no_half_written() {
    local left
    left=$(find "$LOOP_HOME" -name '.tmp.*' 2>/dev/null)
    [ -z "$left" ] || { echo "temp files left: $left" >&2; return 1; }
}

# Exit 3 and a message that names the cause.
expect_failure_naming() {
    expect_status 3
    expect_in "$stderr" "$1"
}

@test "ENOSPC: writing verbs exit 3 with a clear message and leave nothing half-written" {
    new_session
    run_loop _ claim held --session "$SID"
    expect_status 0
    fill_disk

    run_loop _ claim job-1 --session "$SID"
    expect_failure_naming "No space left on device"
    run_loop _ claim job-2 job-3 job-4 --session "$SID"
    expect_failure_naming "No space left on device"
    run_loop _ session start --ttl 1m
    expect_failure_naming "No space left on device"
    run_loop _ renew held --session "$SID" --ttl 1h
    expect_failure_naming "No space left on device"
    run_loop _ with job-5 --session "$SID" -- true
    expect_failure_naming "No space left on device"
    expect_no_half_written

    # What only reads still works, and says the truth.
    run_loop claims --json
    expect_status 0
    run jq -r '.[].name' <<<"$output"
    [ "$output" = held ] || { echo "claims after ENOSPC: $output" >&2; false; }
    run_loop _ owner held
    expect_status 0

    # Once there is room again, everything works and nothing needs repair
    # but what the full disk did to the event log.
    rm -f "$MNT"/fill*
    run_loop _ claim job-1 job-2 --session "$SID"
    expect_status 0
    run_loop doctor --repair
    run_loop doctor
    expect_status 0
    run_loop _ session end "$SID"
    expect_status 0
}

@test "ENOSPC: the event log torn by a full disk does not swallow later events" {
    new_session
    local holder="$SID"
    new_session
    run_loop _ claim a --session "$holder"
    expect_status 0
    fill_disk
    # Each busy attempt only appends an event: once the last block of the
    # log is full, one of them is cut off (a short write).
    local i
    for i in $(seq 1 80); do run_loop _ claim a --session "$SID"; done
    [ "$(tail -c 1 "$LOOP_HOME/events.jsonl" | od -An -c | tr -d ' ')" != '\n' ] ||
        skip "the full disk did not cut a line off here"
    rm -f "$MNT"/fill*
    run_loop _ claim b --session "$SID"
    expect_status 0
    run --separate-stderr jq -cR 'fromjson? | select(.event == "claim.acquired" and .name == "b")' "$LOOP_HOME/events.jsonl"
    [ -n "$output" ] || { cat "$LOOP_HOME/events.jsonl" >&2; false; }
}

@test "EROFS: writing verbs exit 3 naming the cause, reading verbs work" {
    new_session
    run_loop _ claim held --session "$SID"
    expect_status 0
    mount -o remount,ro "$MNT" || skip "cannot remount read-only"

    run_loop _ claim job-1 --session "$SID"
    expect_failure_naming "Read-only file system"
    run_loop _ claim job-1 job-2 --session "$SID"
    expect_failure_naming "Read-only file system"
    run_loop _ claim job-3
    expect_failure_naming "Read-only file system"
    run_loop _ unclaim held --session "$SID"
    expect_failure_naming "Read-only file system"
    run_loop _ renew held --session "$SID" --ttl 1h
    expect_failure_naming "Read-only file system"
    run_loop _ session start --ttl 1m
    expect_failure_naming "Read-only file system"
    run_loop _ session heartbeat "$SID"
    expect_failure_naming "Read-only file system"
    run_loop _ with job-4 --session "$SID" -- true
    expect_failure_naming "Read-only file system"

    run_loop claims --json
    expect_status 0
    run jq -r '.[].name' <<<"$output"
    [ "$output" = held ]
    run_loop _ owner held
    expect_status 0
    run_loop sessions
    expect_status 0
    run_loop status
    expect_status 0
    run_loop doctor
    expect_status 0

    mount -o remount,rw "$MNT"
    expect_no_half_written
    run_loop _ claim job-1 --session "$SID"
    expect_status 0
}
