#!/usr/bin/env bats
# Worker logs: the log writer of each incarnation (timestamps, rotation by
# size, output kept when the supervisor is killed) and `loop logs`.

load supervise_helpers

# playbook FILE JSON: writes a playbook.
playbook() { printf '%s\n' "$2" >"$TEST_DIR/$1"; }

# lines FILE: how many lines it has (0 when missing).
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# The files of one replica's log, oldest first.
log_files() {
    local base=$LOOP_HOME/logs/$1.log k
    for ((k = 1000; k >= 1; k--)); do
        [ -f "$base.$k" ] && echo "$base.$k"
    done
    [ -f "$base" ] && echo "$base"
    return 0
}

@test "logs: a timestamp per line only when the playbook asks" {
    playbook p.json '{ "workers": {
        "plain":   { "run": "echo hello; echo oops >&2; exec sleep 1000" },
        "stamped": { "run": "echo hello; echo oops >&2; exec sleep 1000", "log_timestamps": true } } }'
    start_sup "$TEST_DIR/p.json"
    wait_for file_has "$LOOP_HOME/logs/plain.1.log" oops
    wait_for file_has "$LOOP_HOME/logs/stamped.1.log" oops
    [ "$(cat "$LOOP_HOME/logs/plain.1.log")" = "$(printf 'hello\noops')" ]
    ts='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
    [ "$(lines "$LOOP_HOME/logs/stamped.1.log")" -eq 2 ]
    grep -Eqx "$ts hello" "$LOOP_HOME/logs/stamped.1.log"
    grep -Eqx "$ts oops" "$LOOP_HOME/logs/stamped.1.log"
    stop_sup
}

@test "logs: rotation at log_max_size, log_keep files at most, no line lost or split" {
    # 3000 lines of 40 to 140 bytes (~270 KB) through 8 KiB files, all kept.
    cat >"$TEST_DIR/lines.sh" <<'SH'
i=0
while [ $i -lt 3000 ]; do
    i=$((i + 1))
    printf 'line %05d %0*d\n' "$i" $((30 + i % 100)) 0
done
echo done >&2
SH
    playbook p.json '{ "workers": {
        "all":   { "run": "sh lines.sh; exec sleep 1000", "log_max_size": "8KiB", "log_keep": 100,
                   "log_timestamps": true },
        "few":   { "run": "sh lines.sh; exec sleep 1000", "log_max_size": "4KiB", "log_keep": 2 } } }'
    start_sup "$TEST_DIR/p.json"
    wait_for file_has "$LOOP_HOME/logs/all.1.log" '^.* done$'
    wait_for file_has "$LOOP_HOME/logs/few.1.log" '^done$'
    # Every line, in order, once, whole.
    (cd "$TEST_DIR" && sh lines.sh) >"$TEST_DIR/written" 2>&1
    [ "$(lines "$TEST_DIR/written")" -eq 3001 ]
    # shellcheck disable=SC2046
    cat $(log_files all.1) | cut -d' ' -f2- >"$TEST_DIR/read"
    cmp "$TEST_DIR/written" "$TEST_DIR/read"
    n=$(log_files all.1 | wc -l)
    echo "files: $n" >&2
    [ "$n" -gt 20 ]
    for f in $(log_files all.1); do
        # A file ends with a whole line and never grows past twice the size.
        [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ]
        [ "$(stat -c %s "$f")" -le 16384 ]
    done
    # log_keep 2: the live file and two rotated ones, the newest lines last.
    [ "$(log_files few.1 | wc -l)" -eq 3 ]
    [ ! -e "$LOOP_HOME/logs/few.1.log.3" ]
    [ "$(tail -n 1 "$LOOP_HOME/logs/few.1.log")" = done ]
    grep -q '^line 03000 ' "$LOOP_HOME/logs/few.1.log" "$LOOP_HOME/logs/few.1.log.1"
    # loop logs reads them in order.
    run_loop logs all.1 -n 3001
    expect_status 0
    [ "$(printf '%s\n' "$output" | cut -d' ' -f2- | cmp - "$TEST_DIR/written" && echo same)" = same ]
    stop_sup
}

@test "logs: a worker's output is kept when the supervisor is killed with SIGKILL" {
    playbook p.json '{ "workers": { "ticker": { "run":
        "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done" } } }'
    start_sup "$TEST_DIR/p.json"
    wait_workers ticker 1
    pid=$(live_pid ticker 1)
    writer=$(log_writer_of "$pid")
    [ -n "$writer" ]
    # The writer is in its own process group, not the worker's.
    [ "$(ps -o pgid= -p "$writer" | tr -d ' ')" = "$writer" ]
    stop_sup KILL
    n=$(lines "$LOOP_HOME/logs/ticker.1.log")
    more() { [ "$(lines "$LOOP_HOME/logs/ticker.1.log")" -ge $((n + 20)) ]; }
    wait_for more
    running "$pid"
    running "$writer"
    # Every tick is there, none twice: nothing was lost while no supervisor ran.
    last=$(tail -n 1 "$LOOP_HOME/logs/ticker.1.log" | cut -d' ' -f2)
    seq 1 "$last" | sed 's/^/tick /' | cmp - <(head -n "$last" "$LOOP_HOME/logs/ticker.1.log")
    # Adopted by the next supervisor, it goes on writing to the same log.
    start_sup "$TEST_DIR/p.json"
    wait_for has_event "(.event == \"session.adopted\" and .pid == $pid)"
    m=$(lines "$LOOP_HOME/logs/ticker.1.log")
    more2() { [ "$(lines "$LOOP_HOME/logs/ticker.1.log")" -ge $((m + 5)) ]; }
    wait_for more2
    stop_sup
    # Once the worker is stopped, its writer ends by itself.
    wait_for gone "$writer"
}

@test "logs: -n prints the last lines across the rotated files, oldest first" {
    cat >"$TEST_DIR/gen.sh" <<'SH'
seq 1 400 | sed 's/^/number /'
exec sleep 1000
SH
    playbook p.json '{ "workers": { "w": { "command": ["sh", "gen.sh"], "replicas": 2,
        "log_max_size": "4KiB", "log_keep": 10 } } }'
    start_sup "$TEST_DIR/p.json"
    wait_for file_has "$LOOP_HOME/logs/w.1.log" '^number 400$'
    wait_for file_has "$LOOP_HOME/logs/w.2.log" '^number 400$'
    [ -f "$LOOP_HOME/logs/w.1.log.1" ]
    run_loop logs w.1
    expect_status 0
    [ "$output" = "$(seq 391 400 | sed 's/^/number /')" ]
    run_loop logs w.1 -n 3
    expect_status 0
    [ "$output" = "$(printf 'number 398\nnumber 399\nnumber 400')" ]
    run_loop logs w.2 -n 0
    expect_status 0
    [ -z "$output" ]
    # 380 lines span several files.
    run_loop logs w.1 -n 380
    expect_status 0
    [ "$output" = "$(seq 21 400 | sed 's/^/number /')" ]
    # Without a replica: every replica's lines, prefixed.
    run_loop logs w -n 2
    expect_status 0
    [ "$output" = "$(printf 'w.1 | number 399\nw.1 | number 400\nw.2 | number 399\nw.2 | number 400')" ]
    stop_sup
}

@test "logs --follow: prints lines written after it started, also across a rotation" {
    cat >"$TEST_DIR/gen.sh" <<'SH'
echo before
while [ ! -e go ]; do sleep 0.05; done
echo late line
i=0
while [ $i -lt 500 ]; do i=$((i + 1)); echo "after $i"; done
exec sleep 1000
SH
    playbook p.json '{ "workers": { "w": { "command": ["sh", "gen.sh"],
        "log_max_size": "4KiB", "log_keep": 50 } } }'
    start_sup "$TEST_DIR/p.json"
    wait_for file_has "$LOOP_HOME/logs/w.1.log" '^before$'
    "$LOOP" logs w.1 --follow >"$TEST_DIR/out" 2>"$TEST_DIR/err" &
    follower=$!
    track "$follower"
    wait_for file_has "$TEST_DIR/out" '^before$'
    touch "$TEST_DIR/go"
    wait_for file_has "$TEST_DIR/out" '^late line$'
    wait_for file_has "$TEST_DIR/out" '^after 500$'
    [ -f "$LOOP_HOME/logs/w.1.log.1" ]
    kill "$follower"
    wait "$follower" || true
    { echo before; echo late line; seq 1 500 | sed 's/^/after /'; } | cmp - "$TEST_DIR/out"
    # Without a replica, lines are prefixed.
    "$LOOP" logs w -f -n 1 >"$TEST_DIR/out2" 2>&1 &
    follower=$!
    track "$follower"
    wait_for file_has "$TEST_DIR/out2" '^w.1 | after 500$'
    kill "$follower"
    wait "$follower" || true
    stop_sup
}

@test "logs: an unknown worker or a bad name is refused (exit 2), naming what exists" {
    run_loop logs nobody
    expect_status 2
    expect_in "$stderr" "no logs of 'nobody'"
    expect_in "$stderr" "none has been written yet"
    playbook p.json '{ "workers": { "w": { "run": "echo hi; exec sleep 1000", "replicas": 2 } } }'
    start_sup "$TEST_DIR/p.json"
    wait_for file_has "$LOOP_HOME/logs/w.2.log" hi
    run_loop logs nobody
    expect_status 2
    expect_in "$stderr" "there are logs of: w.1, w.2"
    run_loop logs w.3
    expect_status 2
    expect_in "$stderr" "no logs of 'w.3'"
    for bad in 'w.0' 'w.x' '../w' 'w.1.2' ''; do
        run_loop logs "$bad"
        expect_status 2
    done
    run_loop logs w.2
    expect_status 0
    [ "$output" = hi ]
    stop_sup
}

@test "logs: log settings are checked like the other keys (exit 2, file, key, problem)" {
    playbook p.json '{ "workers": { "w": { "run": "true", "log_max_size": "1KiB" } } }'
    run_loop supervise "$TEST_DIR/p.json"
    expect_status 2
    expect_in "$stderr" "p.json: workers.w.log_max_size: must be at least 4KiB"
    playbook p.json '{ "log_keep": 0, "workers": {} }'
    run_loop supervise "$TEST_DIR/p.json"
    expect_status 2
    expect_in "$stderr" "p.json: log_keep: must be an integer from 1 to 1000"
}
