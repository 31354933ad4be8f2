#!/usr/bin/env bats
# scripts/demo: shows the build's progress while it builds, says nothing of
# the build when nothing needs building, then runs the supervisor. Runs a
# copy of the script in a scratch tree, with cmake and the binary replaced by
# stand-ins that record how they were called.

# shellcheck disable=SC2154 # $status, $output and $lines come from run
load helpers

setup() {
    loop_setup
    TREE=$TEST_DIR/tree
    mkdir -p "$TREE/scripts" "$TEST_DIR/bin"
    cp "$LOOP_SOURCE_DIR/scripts/demo" "$LOOP_SOURCE_DIR/scripts/build" "$TREE/scripts/"
    # scripts/setup would install packages: nothing to do here.
    printf '#!/bin/sh\nexit 0\n' >"$TREE/scripts/setup"
    # cmake: configuring makes build/ with a stand-in loop that prints its
    # arguments; building prints ninja's step lines once, then "no work".
    cat >"$TEST_DIR/bin/cmake" <<'CMAKE'
#!/bin/sh
echo "cmake $*" >>"$CALLS"
case "$1" in
-S)
    mkdir -p build
    : >build/build.ninja
    printf '#!/bin/sh\necho "loop $*"\n' >build/loop
    chmod +x build/loop
    echo "-- Configuring done"
    ;;
--build)
    if [ -e build/built ]; then
        echo "ninja: no work to do."
        exit 0
    fi
    echo "[1/2] Building CXX object src/CMakeFiles/loop.dir/main.cpp.o"
    echo "[2/2] Linking CXX executable loop"
    case " $* " in *" -n "*) ;; *) : >build/built ;; esac
    ;;
esac
CMAKE
    chmod +x "$TREE/scripts/"* "$TEST_DIR/bin/cmake"
    export CALLS=$TEST_DIR/calls PATH=$TEST_DIR/bin:$PATH
    : >"$CALLS"
}

teardown() { loop_teardown; }

@test "scripts/demo shows the build's progress when something needs building" {
    run "$TREE/scripts/demo" -v
    [ "$status" -eq 0 ] || { show; false; }
    expect_in "$output" "[1/2] Building CXX object"
    expect_in "$output" "[2/2] Linking CXX executable loop"
    [ "${lines[-1]}" = "loop supervise playbooks/demo.json -v" ] || { show; false; }
    # The configure step stays quiet.
    [[ "$output" != *"Configuring done"* ]] || { show; false; }
}

@test "scripts/demo says nothing of the build when nothing needs building" {
    run "$TREE/scripts/demo"
    [ "$status" -eq 0 ] || { show; false; }
    : >"$CALLS"
    run "$TREE/scripts/demo"
    [ "$status" -eq 0 ] || { show; false; }
    [ "$output" = "loop supervise playbooks/demo.json" ] || { show; false; }
    # Only the dry run: nothing was configured or built again.
    run grep -v -- ' -n$' "$CALLS"
    [ "$status" -eq 1 ] || { cat "$CALLS" >&2; false; }
}
