#!/usr/bin/env bats
# scripts/demo-fleet: two hosts (pid namespaces, a supervisor each) work one
# queue on one Redis; no item is worked twice or missed, and the script
# leaves no process or temp dir behind.

load helpers

@test "demo-fleet: two hosts, one queue, every item worked exactly once" {
    command -v redis-server >/dev/null || skip "redis-server not installed"
    unshare --pid --fork --mount-proc true 2>/dev/null || skip "cannot create pid namespaces here"
    run env TMPDIR="$TEST_DIR" "$LOOP_SOURCE_DIR/scripts/demo-fleet" --loop "$LOOP" 16 2
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"0 violation(s)"* ]]
    [ -z "$(find "$TEST_DIR" -maxdepth 1 -name 'demo-fleet.*')" ]
}
