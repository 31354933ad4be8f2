#!/usr/bin/env bats
# playbooks/queue/work-queue.sh: the claim-then-recheck pattern for a queue.
# Several copies over one queue work every item exactly once, also when an
# item is finished by someone else between a worker's listing and its claim.

# shellcheck disable=SC2154 # $status, $output, $lines and $stderr come from run
load helpers

setup() {
    loop_setup
    WORKER=$LOOP_SOURCE_DIR/playbooks/queue/work-queue.sh
    QUEUE=$TEST_DIR/queue
    WORKED=$TEST_DIR/worked.log
    mkdir -p "$QUEUE/items" "$TEST_DIR/bin"
    # The script calls `loop` from PATH.
    ln -s "$LOOP" "$TEST_DIR/bin/loop"
    export PATH="$TEST_DIR/bin:$PATH" WORKED QUEUE
}

# items N: N item files item-01 ... item-N.
items() {
    local i
    for ((i = 1; i <= $1; i++)); do
        printf 'payload %d\n' "$i" >"$QUEUE/items/$(printf 'item-%02d' "$i")"
    done
}

# expect_each_once N: item-01 ... item-N each worked exactly once (one line
# each in $WORKED) and each marked done.
expect_each_once() {
    local want
    want=$(for ((i = 1; i <= $1; i++)); do printf 'item-%02d\n' "$i"; done)
    local twice
    twice=$(sort "$WORKED" | uniq -d)
    [ -z "$twice" ] || { echo "worked more than once: $twice" >&2; return 1; }
    [ "$(sort -u "$WORKED")" = "$want" ] || {
        echo "worked:" >&2
        sort "$WORKED" >&2
        return 1
    }
    [ "$(ls "$QUEUE/done")" = "$want" ] || { ls -a "$QUEUE/done" >&2; return 1; }
}

@test "4 workers over 20 items: each item is worked exactly once" {
    items 20
    # The work takes a moment, so that workers overtake each other and find
    # items that were listed as pending already done.
    # shellcheck disable=SC2016 # expanded by the work command's shell
    export WORK_CMD='echo "$ITEM" >>"$WORKED"; sleep 0.05'
    local pids=() i
    for i in 1 2 3 4; do
        start_bg "$TEST_DIR/worker-$i.out" "$WORKER" "$QUEUE"
        pids+=("$BG")
    done
    for i in 0 1 2 3; do
        wait_exit "${pids[$i]}"
        [ "$WAIT_STATUS" -eq 0 ] || { cat "$TEST_DIR/worker-$((i + 1)).out" >&2; false; }
    done
    expect_each_once 20
    claims_empty
    # Four workers each listed all twenty items: they met each other's.
    [ "$(wc -l <"$WORKED")" -eq 20 ]
}

@test "an item finished by another agent after the listing is not worked again" {
    items 3
    # While item-01 is worked, another agent takes item-02 the right way
    # (claim, work, mark done, release): the worker listed item-02 as pending
    # before that, and its claim of item-02 then succeeds.
    # shellcheck disable=SC2016 # expanded by the work command's shell
    export WORK_CMD='echo "$ITEM" >>"$WORKED"
        if [ "$ITEM" = item-01 ]; then
            loop _ with queue:item-02 -- sh -c "echo item-02 >>\"\$WORKED\" &&
                echo other >\"\$QUEUE/done/item-02\""
        fi'
    run --separate-stderr "$WORKER" "$QUEUE"
    [ "$status" -eq 0 ] || { show; false; }
    expect_each_once 3
    [ "$(cat "$QUEUE/done/item-02")" = other ]
    claims_empty
}

@test "an item held by another worker is waited for, not skipped for good" {
    items 2
    new_session
    "$LOOP" _ claim queue:item-01 --session "$SID" >/dev/null
    # shellcheck disable=SC2016 # expanded by the work command's shell
    export WORK_CMD='echo "$ITEM" >>"$WORKED"'
    start_bg "$TEST_DIR/worker.out" "$WORKER" "$QUEUE"
    local worker=$BG
    wait_for test -e "$QUEUE/done/item-02"
    # item-01 is still held: the worker waits for it
    [ ! -e "$QUEUE/done/item-01" ]
    kill -0 "$worker"
    # its holder dies without finishing it: the worker takes it over
    kill_pid "$ANCHOR"
    wait_exit "$worker"
    [ "$WAIT_STATUS" -eq 0 ] || { cat "$TEST_DIR/worker.out" >&2; false; }
    expect_each_once 2
    claims_empty
}

@test "a failing item is left pending and reported; exit 1" {
    items 2
    # shellcheck disable=SC2016 # expanded by the work command's shell
    export WORK_CMD='[ "$ITEM" != item-02 ] && echo "$ITEM" >>"$WORKED"'
    run --separate-stderr "$WORKER" "$QUEUE"
    [ "$status" -eq 1 ] || { show; false; }
    expect_in "$stderr" "item-02 failed; left pending"
    [ "$(ls "$QUEUE/done")" = item-01 ]
    claims_empty
}

@test "no queue: usage, exit 2" {
    run --separate-stderr "$WORKER" "$TEST_DIR/nowhere"
    [ "$status" -eq 2 ] || { show; false; }
    expect_in "$stderr" "usage: work-queue.sh QUEUE"
}
