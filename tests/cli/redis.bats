#!/usr/bin/env bats
# The Redis backend beyond the claims contract (claims_contract.bats runs
# that on both backends): choosing it, its failures, the host keeper, and
# hosts that cannot judge each other.

load helpers
load redis_helpers

setup_file() { start_redis; }
teardown_file() { stop_redis; }

setup() {
    loop_setup
    [ -n "${REDIS_SOCK:-}" ] || skip "no redis-server"
    use_redis_prefix 5s
}

# keeper_pid: the pid of this home's keeper, "" when none has run.
keeper_pid() { head -n1 "$LOOP_HOME"/keeper-*.lock 2>/dev/null; }
keeper_started() { [ -n "$(keeper_pid)" ]; }
# keeper_joined: this home's keeper has taken the host's keeper key.
keeper_joined() { grep -q "looking after host" "$LOOP_HOME/logs/keeper.log" 2>/dev/null; }
redis_answers() { [ "$(redis-cli -s "$1" ping 2>/dev/null)" = PONG ]; }
dead_or_zombie() { [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# stop_joined_keeper: waits for the keeper a claim started (it starts
# detached, and may run late on a busy machine), then kills it.
stop_joined_keeper() {
    wait_for keeper_joined
    local k
    k=$(keeper_pid)
    stop_keepers
    [ -z "$k" ] || wait_for dead_or_zombie "$k"
}

@test "redis: a malformed URL or unknown scheme is exit 2 and names what is wrong" {
    run_loop --backend 'redis://host:notaport' _ claim x
    expect_status 2
    expect_in "$stderr" "port"
    run_loop --backend 'memcached://host' _ claim x
    expect_status 2
    expect_in "$stderr" "memcached"
    [ ! -e "$LOOP_HOME/claims" ]
}

@test "redis: an unreachable server is exit 3 naming HOST:PORT, never the password" {
    run_loop --backend 'redis://alice:s3cr3t-pw@127.0.0.1:1?connect_timeout=500ms' _ claim x
    expect_status 3
    expect_in "$stderr" "127.0.0.1:1"
    [[ "$stderr" != *s3cr3t-pw* ]]
    run_loop --backend 'redis://alice:s3cr3t-pw@127.0.0.1:1' claims
    expect_status 3
    [[ "$stderr" != *s3cr3t-pw* ]]
}

@test "redis: a wrong password is exit 3, and the password is not printed" {
    redis-cli -s "$REDIS_SOCK" config set requirepass right-pw >/dev/null
    run_loop --backend "redis+unix://:wrong-pw@$REDIS_SOCK" _ claim x
    redis-cli -s "$REDIS_SOCK" -a right-pw --no-auth-warning config set requirepass '' >/dev/null
    expect_status 3
    expect_in "$stderr" "authentication failed"
    [[ "$stderr" != *wrong-pw* ]]
}

@test "redis: the backend comes from --backend, then LOOP_BACKEND, then config.json" {
    url=$LOOP_BACKEND
    unset LOOP_BACKEND
    mkdir -m 700 "$LOOP_HOME"
    printf '{"backend": "%s"}\n' "$url" >"$LOOP_HOME/config.json"
    run_loop _ claim from-config
    expect_status 0
    [ ! -e "$LOOP_HOME/claims/from-config" ]
    [ -n "$(redis-cli -s "$REDIS_SOCK" get "t$BATS_TEST_NUMBER:claim:from-config")" ]
    run_loop --backend file _ claim on-files
    expect_status 0
    [ -e "$LOOP_HOME/claims/on-files" ]
    LOOP_BACKEND=file run_loop claims
    expect_in "$output" on-files
    [[ "$output" != *from-config* ]]
    printf '{"backend": 7}\n' >"$LOOP_HOME/config.json"
    run_loop _ claim x
    expect_status 2
    expect_in "$stderr" "config.json"
}

# metric NAME{LABELS}: the value of that series in $output ("" if absent).
metric() { awk -v k="$1" '$1 == k { print $2 }' <<<"$output"; }

@test "redis: metrics count what the scripts did, across sessions, with type and worker labels" {
    new_session
    a=$SID
    new_session
    b=$SID
    run_loop _ claim file:x --session "$a"
    run_loop _ claim plain --session "$a"
    # Three tries of another session: three contentions.
    run_loop _ claim file:x --session "$b"
    expect_status 1
    run_loop _ claim file:x --session "$b"
    expect_status 1
    run_loop _ claim file:x --session "$b" --wait 100ms
    expect_status 1
    run_loop _ unclaim plain --session "$a"
    run_loop _ unclaim file:x --force
    run_loop _ claim ttl:y --session "$b" --ttl 1s
    sleep 1.2
    run_loop reap
    run_loop _ claim file:x --session "$b" --wait 1s
    expect_status 0
    run_loop metrics
    expect_status 0
    [ "$(metric 'loop_claim_acquisitions_total{type="file",worker="none"}')" = 2 ]
    [ "$(metric 'loop_claim_acquisitions_total{type="none",worker="none"}')" = 1 ]
    [ "$(metric 'loop_claim_releases_total{type="none",worker="none"}')" = 1 ]
    [ "$(metric 'loop_claim_contentions_total{type="file",worker="none"}')" = 3 ]
    [ "$(metric 'loop_claim_timeouts_total{type="file",worker="none"}')" = 1 ]
    [ "$(metric 'loop_claims_forced_total{type="file",worker="none"}')" = 1 ]
    [ "$(metric 'loop_claims_reaped_total{reason="ttl",type="ttl",worker="none"}')" = 1 ]
    [ "$(metric 'loop_claims_active{mode="exclusive",type="file",worker="none"}')" = 1 ]
    [ "$(metric 'loop_claim_wait_seconds_count')" = 1 ]
    [ "$(metric 'loop_claim_wait_seconds_bucket{le="+Inf"}')" = 1 ]
    [ "$(metric 'loop_sessions_alive')" = 2 ]
    [ "$(metric 'loop_supervisor_up')" = 0 ]
    if command -v promtool >/dev/null; then
        promtool check metrics <<<"$output"
    fi
    # One claim.contended for the two tries of --wait 0 (same holder), one
    # for the call that waits (its first busy try is always logged).
    run_loop events --json
    [ "$(grep -c '"claim.contended"' <<<"$output")" -eq 2 ]
    [ "$(grep -c '"claim.timeout"' <<<"$output")" -eq 1 ]
    # Another prefix on the same server counts for itself.
    use_redis_prefix 5s other
    run_loop metrics
    [ -z "$(metric 'loop_claim_acquisitions_total{type="file",worker="none"}')" ]
}

@test "redis: metrics counters are kept apart from the capped event stream" {
    new_session
    run_loop _ claim q:2 --session "$SID"
    redis-cli -s "$REDIS_SOCK" del "t$BATS_TEST_NUMBER:events" >/dev/null
    run_loop metrics
    [ "$(metric 'loop_claim_acquisitions_total{type="q",worker="none"}')" = 1 ]
}

@test "redis: the keeper keeps a shell's claim past the session TTL, and ends with it" {
    use_redis_prefix 3s # a heartbeat every 1 s: 2 s of slack for a late one
    sh -c '"$LOOP" _ claim x >"$TEST_DIR/held"; exec sleep 1000' </dev/null 3>&- &
    shell=$!
    track "$shell"
    wait_for grep -q claimed "$TEST_DIR/held"
    wait_for keeper_started
    keeper=$(keeper_pid)
    # Two session TTLs later the claim still stands: heartbeats.
    sleep 6.5
    new_session
    run_loop _ claim x --session "$SID"
    expect_status 1
    kill_pid "$shell"
    run_loop _ claim x --session "$SID" --wait 30s
    expect_status 0
    # The keeper ended the dead session (the waiter may have taken the claim
    # over first: then the keeper released none).
    wait_for grep -q "is dead (pid $shell exited): ended" "$LOOP_HOME/logs/keeper.log"
    # The keeper still looks after $SID's anchor; once that holds nothing, it ends.
    run_loop _ session end "$SID"
    kill_pid "$ANCHOR"
    wait_for sh -c "! kill -0 $keeper 2>/dev/null"
    grep -q "nothing local holds a claim: done" "$LOOP_HOME/logs/keeper.log"
}

# keeper_outlives_with ARGS...: runs `loop _ with ARGS -- COMMAND`, where
# COMMAND ($WITH_COMMAND, default: nothing) runs and then waits for a go;
# while it waits, the keeper started meanwhile (running the file
# $KEEPER_EXE, when set) also keeps a shell's claim.
# Checks that the keeper still runs once the with is done (a with adopts
# what its command leaves behind, as a subreaper, and stops it at the end).
keeper_outlives_with() {
    "$LOOP" _ with "$@" -- sh -c "${WITH_COMMAND:-true}"'; until [ -e "$1/go" ]; do sleep 0.05; done' \
        sh "$TEST_DIR" </dev/null 3>&- &
    local with=$! keeper shell
    track "$with"
    wait_for keeper_joined
    keeper=$(keeper_pid)
    [ -z "${KEEPER_EXE:-}" ] || [ "$(readlink "/proc/$keeper/exe")" = "$KEEPER_EXE" ]
    sh -c '"$LOOP" _ claim x >"$TEST_DIR/held"; exec sleep 1000' </dev/null 3>&- &
    shell=$!
    track "$shell"
    wait_for grep -q claimed "$TEST_DIR/held"
    touch "$TEST_DIR/go"
    wait "$with"
    run dead_or_zombie "$keeper"
    [ "$status" -ne 0 ]
    [ "$(keeper_pid)" = "$keeper" ]
    kill_pid "$shell"
    wait_for dead_or_zombie "$keeper"
}

@test "redis: the keeper a with started is not left over from it: it outlives the with" {
    keeper_outlives_with w
}

@test "redis: a keeper started by a claim in a with's command is not left over from the with" {
    # A session with a TTL: the with itself starts no keeper; a claim of
    # its command's own (implicit session) does, and the with adopts it
    # (the middle process of the keeper's double fork exits).
    new_session --ttl 30s
    WITH_COMMAND='env -u LOOP_SESSION_ID "$LOOP" _ claim inner >/dev/null' \
        keeper_outlives_with w --session "$SID"
}

@test "redis: a keeper started by another copy of loop in a with's command is not left over either" {
    # As after an upgrade, or with a second build on the PATH: the keeper
    # runs another file than the with does, and is still a keeper.
    mkdir "$TEST_DIR/other"
    cp "$LOOP" "$TEST_DIR/other/loop"
    new_session --ttl 30s
    KEEPER_EXE="$TEST_DIR/other/loop" \
        WITH_COMMAND='env -u LOOP_SESSION_ID "$TEST_DIR/other/loop" _ claim inner >/dev/null' \
        keeper_outlives_with w --session "$SID"
}

@test "redis: a with killed while its command runs on is kept by its group, and the keeper stays idle" {
    use_redis_prefix 3s # a pass every second
    # The with's parent never reaps it (sleep): killed, it stays a zombie.
    # Its command dies with it; what the command started in its group lives.
    sh -c '"$LOOP" _ with g -- sh -c "sleep 1000 & echo \$! >\"$1/cmd\"; wait" sh "$1" \
        >/dev/null & echo $! >"$1/with"; exec sleep 1000' sh "$TEST_DIR" </dev/null 3>&- &
    track $!
    wait_for nonempty "$TEST_DIR/cmd"
    cmd=$(cat "$TEST_DIR/cmd")
    track "$cmd"
    wait_for keeper_joined
    keeper=$(keeper_pid)
    kill -KILL "$(cat "$TEST_DIR/with")"
    wait_for dead_or_zombie "$(cat "$TEST_DIR/with")"
    # The group lives: the claim stays.
    run_loop _ claim g
    expect_status 1
    # Three passes later the keeper has used far less than the 3 s of CPU
    # a keeper woken at once, forever, by the zombie's pidfd would (clock
    # ticks of /proc/PID/stat; a generous bound).
    local before after
    before=$(awk '{print $14 + $15}' "/proc/$keeper/stat")
    sleep 3
    after=$(awk '{print $14 + $15}' "/proc/$keeper/stat")
    [ $((after - before)) -lt 100 ] || { echo "keeper used $((after - before)) ticks" >&2; false; }
    # The group ends: the next pass releases the claim.
    kill_pid "$cmd"
    run_loop _ claim g --wait 10s
    expect_status 0
}

@test "redis: a shell that claims again after the keeper let it go is heartbeaten when its key runs short" {
    use_redis_prefix 6s # a pass every 2 s
    sh -c '"$LOOP" _ claim keep >"$TEST_DIR/keep"; exec sleep 1000' </dev/null 3>&- &
    track $!
    wait_for grep -q claimed "$TEST_DIR/keep"
    # A shell that claims, releases, waits, and claims again.
    sh -c '"$LOOP" _ claim a >/dev/null && "$LOOP" _ unclaim a >/dev/null && echo $$ >"$1/shell"
        until [ -e "$1/go" ]; do sleep 0.05; done
        "$LOOP" _ claim b >"$1/b"; exec sleep 1000' sh "$TEST_DIR" </dev/null 3>&- &
    track $!
    wait_for nonempty "$TEST_DIR/shell"
    host_key=$(redis-cli -s "$REDIS_SOCK" --scan --pattern "t$BATS_TEST_NUMBER:host:*")
    # The keeper's next pass drops the shell's session: it holds nothing.
    wait_for sh -c "[ \$(redis-cli -s '$REDIS_SOCK' scard '$host_key') -eq 1 ]"
    skey=$(redis-cli -s "$REDIS_SOCK" --scan --pattern "t$BATS_TEST_NUMBER:session:p$(cat "$TEST_DIR/shell")-*")
    [ -n "$skey" ]
    # 3 s left: past the next pass (2 s at most), but not a tick to spare.
    redis-cli -s "$REDIS_SOCK" pexpire "$skey" 3000 >/dev/null
    redis-cli -s "$REDIS_SOCK" monitor >"$TEST_DIR/mon" 2>&1 </dev/null 3>&- &
    mon=$!
    track "$mon"
    wait_for grep -q OK "$TEST_DIR/mon"
    touch "$TEST_DIR/go"
    wait_for grep -q claimed "$TEST_DIR/b"
    # The keeper takes the session up again (a PTTL of its own, not a script's).
    wait_for sh -c "grep -v 'lua\\]' '$TEST_DIR/mon' | grep -q '\"PTTL\" \"$skey\"'"
    kill_pid "$mon"
    [ "$(redis-cli -s "$REDIS_SOCK" pttl "$skey")" -gt 4000 ]
}

@test "redis: a session new to the keeper costs it no script and no look at the sessions it keeps" {
    use_redis_prefix 60s # a whole pass (heartbeats) every 10 s
    sh -c '"$LOOP" _ claim a >"$TEST_DIR/a"; exec sleep 1000' </dev/null 3>&- &
    track $!
    wait_for grep -q claimed "$TEST_DIR/a"
    wait_for keeper_joined
    local try mon a_session
    for try in 1 2 3; do
        redis-cli -s "$REDIS_SOCK" monitor >"$TEST_DIR/mon" 2>&1 </dev/null 3>&- &
        mon=$!
        track "$mon"
        wait_for grep -q OK "$TEST_DIR/mon"
        sh -c '"$LOOP" _ claim b'"$try"' >"$TEST_DIR/b"; exec sleep 1000' </dev/null 3>&- &
        track $!
        # The keeper takes the new session up: it reads its key's TTL (a
        # command of its own, not one of a script).
        wait_for sh -c "grep -v 'lua\\]' '$TEST_DIR/mon' | grep -q '\"PTTL\"'"
        redis-cli -s "$REDIS_SOCK" ping >/dev/null
        wait_for grep -q '"ping"' "$TEST_DIR/mon"
        kill_pid "$mon"
        # A whole pass that happened to fall in the window refreshes the
        # keeper key: look again.
        grep -q '"SET" "t[0-9]*:keeper:' "$TEST_DIR/mon" || break
    done
    # One script: b's claim. The keeper neither heartbeat the new session
    # nor looked at a's.
    [ "$(grep -c '"EVALSHA"' "$TEST_DIR/mon")" -eq 1 ]
    run_loop _ owner a --json
    expect_status 0
    a_session=$(jq -r '.[0].session' <<<"$output")
    [ -n "$a_session" ]
    run grep -c "session:$a_session" "$TEST_DIR/mon"
    [ "$output" -eq 0 ]
}

@test "redis: a shell whose claim was forced away holds nothing: the keeper lets it go and ends" {
    use_redis_prefix 3s # the keeper looks every second
    sh -c '"$LOOP" _ claim x >"$TEST_DIR/held"; exec sleep 1000' </dev/null 3>&- &
    shell=$!
    track "$shell"
    wait_for grep -q claimed "$TEST_DIR/held"
    wait_for keeper_joined
    keeper=$(keeper_pid)
    run_loop _ unclaim x --force
    expect_status 0
    # The shell lives on, holding nothing: its session is no reason to run.
    wait_for dead_or_zombie "$keeper"
    grep -q "nothing local holds a claim: done" "$LOOP_HOME/logs/keeper.log"
    kill -0 "$shell"
}

# stand_in_keeper: once a claim has started this host's keeper, replaces it
# with a process of ours that holds the keeper key and lives through the
# SIGUSR1 a new session sends, so that no keeper talks to the server while
# a test counts commands. Sets KEEPER_KEY.
stand_in_keeper() {
    stop_joined_keeper
    sh -c 'trap "" USR1; exec sleep 1000' </dev/null >/dev/null 2>&1 3>&- &
    local stand_in=$!
    track "$stand_in"
    KEEPER_KEY=$(redis-cli -s "$REDIS_SOCK" --scan --pattern "t$BATS_TEST_NUMBER:keeper:*")
    redis-cli -s "$REDIS_SOCK" set "$KEEPER_KEY" "$stand_in stand-in" px 60000 >/dev/null
}

# sent_by ARGS...: run_loop ARGS while MONITOR watches the server; SENT gets
# the commands of clients (a script's own calls are tagged "lua").
sent_by() {
    redis-cli -s "$REDIS_SOCK" monitor >"$TEST_DIR/mon" 2>&1 </dev/null 3>&- &
    local mon=$!
    track "$mon"
    wait_for grep -q OK "$TEST_DIR/mon"
    run_loop "$@"
    redis-cli -s "$REDIS_SOCK" ping >/dev/null
    wait_for grep -q '"ping"' "$TEST_DIR/mon"
    kill_pid "$mon"
    SENT=$(sed -n '/^OK$/,/"ping"/p' "$TEST_DIR/mon" | grep -v -e '^OK$' -e 'lua\]' -e '"ping"')
}

@test "redis: one round trip per claim: the claim path sends one command" {
    run_loop _ claim one # loads the scripts, starts a keeper
    expect_status 0
    stand_in_keeper
    sent_by _ claim two
    expect_status 0
    [ "$(grep -c . <<<"$SENT")" -eq 1 ] || { echo "$SENT"; false; }
    expect_in "$SENT" '"EVALSHA"'
}

@test "redis: a with costs two round trips: its claims, then one that releases them and ends it" {
    run_loop _ claim one # loads the scripts, starts a keeper
    expect_status 0
    stand_in_keeper
    run_loop _ with warm -- true # loads the end script
    expect_status 0
    sent_by _ with two -- true
    expect_status 0
    [ "$(grep -c . <<<"$SENT")" -eq 2 ] || { echo "$SENT"; false; }
    [ "$(grep -c '"EVALSHA"' <<<"$SENT")" -eq 2 ] || { echo "$SENT"; false; }
    run_loop _ owner two
    expect_status 1
    # Its session is gone, and so is its place in the host's set: what is
    # left is the session of this test's shell (it holds "one").
    [ "$(redis-cli -s "$REDIS_SOCK" --scan --pattern "t$BATS_TEST_NUMBER:session:*" | grep -c .)" -eq 1 ]
    [ "$(redis-cli -s "$REDIS_SOCK" scard "${KEEPER_KEY/keeper/host}")" -eq 1 ]
}

@test "redis: one round trip per claim with --session; a dead session's grant is given back" {
    new_session
    sid=$SID
    owner=$ANCHOR
    run_loop _ claim one --session "$sid" # loads the scripts, starts a keeper
    expect_status 0
    stand_in_keeper
    sent_by _ claim two --session "$sid"
    expect_status 0
    expect_in "$output" "claimed two"
    [ "$(grep -c . <<<"$SENT")" -eq 1 ] || { echo "$SENT"; false; }
    expect_in "$SENT" '"EVALSHA"'
    run_loop _ owner two --json
    expect_status 0
    [ "$(jq -r ".[0].session" <<<"$output")" = "$sid" ]
    [ "$(jq -r ".[0].pid" <<<"$output")" = "$owner" ]
    # Its anchor dies; no keeper has noticed yet: the record still stands.
    kill_pid "$owner"
    run_loop _ claim three --session "$sid"
    expect_status 2
    expect_in "$stderr" "session $sid is dead"
    run_loop _ owner three
    expect_status 1
    # A nonce of another incarnation, and an id never started.
    run_loop _ claim four --session "$sid@0123456789abcdef"
    expect_status 2
    expect_in "$stderr" "a later incarnation replaced it"
    run_loop _ claim four --session no-such-session
    expect_status 2
    expect_in "$stderr" "is unknown or has ended"
    run_loop _ owner four
    expect_status 1
}

@test "redis: a holder in another pid namespace is another host: held by its TTL, never judged dead" {
    command -v unshare >/dev/null || skip "unshare is not installed"
    unshare --pid --fork --mount-proc true 2>/dev/null || skip "cannot create a pid namespace here"
    use_redis_prefix 2s
    unshare --pid --fork --mount-proc --kill-child sh -c \
        '"$LOOP" _ claim job >"$TEST_DIR/ns.out" 2>&1; exec sleep 1000' </dev/null 3>&- &
    ns=$!
    track "$ns"
    wait_for grep -q "claimed job" "$TEST_DIR/ns.out"
    new_session
    run_loop _ claim job --session "$SID"
    expect_status 1
    run_loop claims
    expect_in "$output" "yes"
    # The whole "host" goes (its keeper with it): the claim goes at its TTL.
    kill_pid "$ns"
    run_loop _ claim job --session "$SID" --wait 30s
    expect_status 0
}

@test "redis: doctor checks the server: eviction is a problem, no persistence is said" {
    redis-cli -s "$REDIS_SOCK" config set maxmemory-policy allkeys-lru >/dev/null
    run_loop doctor
    redis-cli -s "$REDIS_SOCK" config set maxmemory-policy noeviction >/dev/null
    expect_status 1
    expect_in "$output" "maxmemory-policy is allkeys-lru"
    expect_in "$output" "persistence is off"
    run_loop doctor --json
    expect_status 0
    jq -e '.healthy == true and ([.findings[] | select(.severity == "problem")] | length) == 0' <<<"$output"
    run_loop --backend 'redis://127.0.0.1:1?connect_timeout=300ms' doctor
    expect_status 1
    expect_in "$output" "127.0.0.1:1"
}

@test "redis: events shows the fleet's events, and --follow the new ones" {
    new_session
    run_loop _ claim e1 --session "$SID"
    run_loop _ unclaim e1 --session "$SID"
    run_loop events
    expect_status 0
    expect_in "$output" "claim.acquired "
    expect_in "$output" "name=e1"
    expect_in "$output" "claim.released"
    run_loop events --json
    jq -e -s 'map(select(.event == "claim.acquired" and .name == "e1")) | length == 1' <<<"$output"
    start_bg "$TEST_DIR/follow" "$LOOP" events --follow
    follower=$BG
    wait_for grep -q "claim.released" "$TEST_DIR/follow"
    run_loop _ claim e2 --session "$SID"
    wait_for grep -q "name=e2" "$TEST_DIR/follow"
    kill_pid "$follower"
}

@test "redis: a holder whose session record cannot be read is held and shown as undecided" {
    new_session
    a=$SID
    run_loop _ claim x --session "$a"
    expect_status 0
    redis-cli -s "$REDIS_SOCK" set "t$BATS_TEST_NUMBER:session:$a" 'not json' keepttl >/dev/null
    new_session
    run_loop _ claim x --session "$SID"
    expect_status 1
    run_loop claims --json
    jq -e '.[0].alive == null' <<<"$output"
}

@test "redis: reap removes expired holders and those of ended sessions, never a live one" {
    new_session
    live=$SID
    run_loop _ claim keep --session "$live"
    run_loop _ claim t --session "$live" --ttl 1s
    ttl_session=$("$LOOP" _ session start --ttl 1s)
    run_loop _ claim y --session "$ttl_session"
    expect_status 0
    sleep 1.5 # both TTLs pass; no heartbeat comes
    run_loop reap --dry-run --json
    expect_status 0
    jq -e '.dry_run and ([.claims[].name] | sort == ["t", "y"])' <<<"$output"
    run_loop _ owner t --json
    [ "$(jq length <<<"$output")" -eq 0 ] || [ "$status" -eq 1 ]
    [ -n "$(redis-cli -s "$REDIS_SOCK" get "t$BATS_TEST_NUMBER:claim:t")" ]
    run_loop reap --json
    expect_status 0
    jq -e '([.claims[].name] | sort == ["t", "y"]) and ([.claims[] | select(.name == "t")][0].expired)' <<<"$output"
    [ -z "$(redis-cli -s "$REDIS_SOCK" get "t$BATS_TEST_NUMBER:claim:t")" ]
    [ -z "$(redis-cli -s "$REDIS_SOCK" get "t$BATS_TEST_NUMBER:claim:y")" ]
    run_loop _ owner keep
    expect_status 0
    run_loop events
    expect_in "$output" "claim.expired"
    expect_in "$output" "claim.reaped"
}

@test "redis: without a keeper, reap ends this host's dead sessions and frees their claims" {
    new_session
    a=$SID
    holder=$ANCHOR
    run_loop _ claim d --session "$a"
    stop_joined_keeper
    kill_pid "$holder"
    run_loop reap
    expect_status 0
    expect_in "$output" "reaped claim d (session $a"
    expect_in "$output" "removed session $a"
    run_loop _ owner d
    expect_status 1
}

@test "redis: a keeper killed with SIGKILL is replaced by the host's next claim" {
    sh -c '"$LOOP" _ claim a >"$TEST_DIR/a"; exec sleep 1000' </dev/null 3>&- &
    track $!
    wait_for grep -q claimed "$TEST_DIR/a"
    wait_for keeper_started
    k1=$(keeper_pid)
    kill -KILL "$k1"
    # Dead (a zombie counts: nobody may reap it) before the next claim looks.
    wait_for dead_or_zombie "$k1"
    sh -c '"$LOOP" _ claim b >"$TEST_DIR/b"; exec sleep 1000' </dev/null 3>&- &
    track $!
    wait_for grep -q claimed "$TEST_DIR/b"
    replaced() {
        local k
        k=$(keeper_pid)
        [ -n "$k" ] && [ "$k" != "$k1" ] && kill -0 "$k" 2>/dev/null
    }
    wait_for replaced
}

@test "redis: a session anchored on another host is not kept by this host's keeper: it goes at its TTL" {
    command -v unshare >/dev/null || skip "unshare is not installed"
    unshare --pid --fork --mount-proc true 2>/dev/null || skip "cannot create a pid namespace here"
    use_redis_prefix 2s
    unshare --pid --fork --mount-proc --kill-child sh -c \
        'sleep 1000 & "$LOOP" _ session start --pid $! >"$TEST_DIR/sid"; exec sleep 1000' </dev/null 3>&- &
    ns=$!
    track "$ns"
    wait_for grep -q . "$TEST_DIR/sid"
    foreign=$(cat "$TEST_DIR/sid")
    # Used from here (this host's keeper starts for the claim).
    run_loop _ claim fx --session "$foreign"
    expect_status 0
    kill_pid "$ns" # that host dies, its keeper with it
    new_session
    run_loop _ claim fx --session "$SID" --wait 30s
    expect_status 0
}

# start_own_redis TTL: a server of this test's own (OWN_REDIS its pid), for
# a test that kills it; LOOP_BACKEND points at it with session_ttl TTL.
start_own_redis() {
    redis-server --port 0 --unixsocket "$TEST_DIR/r.sock" --unixsocketperm 700 --save '' \
        --appendonly no --dir "$TEST_DIR" </dev/null >"$TEST_DIR/redis.log" 2>&1 3>&- &
    OWN_REDIS=$!
    track "$OWN_REDIS"
    wait_for redis_answers "$TEST_DIR/r.sock"
    export LOOP_BACKEND="redis+unix://$TEST_DIR/r.sock?prefix=k:&session_ttl=$1"
}

@test "redis: the host keeper exits once a whole session TTL passed without the server" {
    start_own_redis 1s
    new_session
    run_loop _ claim x --session "$SID" # starts the keeper
    expect_status 0
    wait_for keeper_joined
    k=$(keeper_pid)
    kill_pid "$OWN_REDIS"
    # Its sessions lapsed on the server after a TTL without heartbeats: it
    # does not bring them back when the server returns.
    wait_for dead_or_zombie "$k"
    grep -q "unreachable for a whole session ttl" "$LOOP_HOME/logs/keeper.log" ||
        { cat "$LOOP_HOME/logs/keeper.log"; false; }
}

@test "redis: a with whose server is killed loses its claim and its command: exit 3 naming the server" {
    start_own_redis 2s
    start_bg "$TEST_DIR/with.out" "$LOOP" _ with --ttl 1s job -- \
        bash -c 'echo $$ >"$TEST_DIR/cmd.pid"; exec sleep 1000'
    w=$BG
    wait_for test -s "$TEST_DIR/cmd.pid"
    cmd=$(cat "$TEST_DIR/cmd.pid")
    track "$cmd"
    kill_pid "$OWN_REDIS"
    st=0
    wait "$w" || st=$?
    [ "$st" -eq 3 ] || { echo "exit $st"; cat "$TEST_DIR/with.out"; false; }
    grep -q "redis $TEST_DIR/r.sock" "$TEST_DIR/with.out" || { cat "$TEST_DIR/with.out"; false; }
    dead_or_zombie "$cmd"
}
