# A private redis-server for the CLI tests of the Redis backend.
# shellcheck disable=SC2034 # used by the .bats files

# The Redis backend. start_redis (in setup_file) runs a private
# redis-server on a unix socket in its own temp dir and exports
# LOOP_BACKEND for it; stop_redis (in teardown_file) ends it and removes
# the dir. Each test uses its own key prefix (use_redis_prefix in setup).
start_redis() {
    command -v redis-server >/dev/null || skip "redis-server not installed (scripts/setup installs it)"
    REDIS_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/loop-redis.XXXXXX")
    export REDIS_DIR REDIS_SOCK="$REDIS_DIR/redis.sock"
    redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 --save '' \
        --appendonly no --dir "$REDIS_DIR" </dev/null >"$REDIS_DIR/log" 2>&1 3>&- &
    echo $! >"$REDIS_DIR/pid"
    local i
    for ((i = 0; i < 200; i++)); do
        [ "$(redis-cli -s "$REDIS_SOCK" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.05
    done
    cat "$REDIS_DIR/log" >&2
    return 1
}

stop_redis() {
    [ -n "${REDIS_DIR:-}" ] && [ -d "$REDIS_DIR" ] || return 0
    local pid
    pid=$(cat "$REDIS_DIR/pid" 2>/dev/null)
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null
        { wait "$pid" || true; } 2>/dev/null
        # not our child when setup_file ran in another shell
        local i
        for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -rf "$REDIS_DIR"
}

# use_redis_prefix [SESSION_TTL [SUFFIX]]: this test's keys under their own prefix
# (another one with SUFFIX).
use_redis_prefix() {
    export LOOP_BACKEND="redis+unix://$REDIS_SOCK?prefix=t$BATS_TEST_NUMBER${2:+-$2}:&session_ttl=${1:-5s}"
}

