#!/usr/bin/env bats
# src/static_unwind.cpp: the statically linked binary finds exception
# handlers through its eh_frame_hdr table, so an error exit costs about what
# a success does. Without it the first throw sorted every frame description
# of the binary: 29 million instructions (4 ms here) for `loop _ claim` of a
# bad name, against 0.4 million now. Counted by callgrind (instructions, not
# time: the same figure on a loaded machine); the bound is generous.

# shellcheck disable=SC2154 # $status and $output come from run
load helpers

setup() {
    loop_setup
    if ! file -L "$LOOP" | grep -q "statically linked"; then
        skip "the binary under test is not linked statically"
    fi
    command -v valgrind >/dev/null || skip "valgrind is not installed (scripts/setup)"
}

# instructions CMD...: the instructions CMD executed, counted by callgrind;
# CMD's exit status goes to $TEST_DIR/status (valgrind exits with it).
instructions() {
    local rc=0
    valgrind --tool=callgrind --callgrind-out-file="$TEST_DIR/callgrind.out" "$@" \
        >"$TEST_DIR/out" 2>"$TEST_DIR/valgrind.err" || rc=$?
    echo "$rc" >"$TEST_DIR/status"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$TEST_DIR/valgrind.err"
}

@test "the binary carries the eh_frame_hdr table the unwinder searches" {
    run readelf -lW "$LOOP"
    [ "$status" -eq 0 ]
    [[ "$output" == *GNU_EH_FRAME* ]]
}

@test "an exit 2 (a bad claim name) throws and catches in under 5 million instructions" {
    run instructions "$LOOP" _ claim 'bad name'
    [ "$status" -eq 0 ]
    echo "instructions: $output"
    [ -n "$output" ]
    [ "$output" -lt 5000000 ]
    # The exception was caught where it should be: the message, and exit 2.
    grep -q "contains ' '" "$TEST_DIR/valgrind.err"
    [ "$(cat "$TEST_DIR/status")" -eq 2 ]
}

@test "an exit 3 (nothing listens on the Redis port) also stays under 5 million" {
    run instructions "$LOOP" --backend redis://127.0.0.1:1 _ owner x
    [ "$status" -eq 0 ]
    echo "instructions: $output"
    [ -n "$output" ]
    [ "$output" -lt 5000000 ]
    grep -q "127.0.0.1:1" "$TEST_DIR/valgrind.err"
    [ "$(cat "$TEST_DIR/status")" -eq 3 ]
}
