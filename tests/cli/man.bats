#!/usr/bin/env bats
# The manual page man/loop.1: well-formed, renders, and documents every verb
# and flag the binary has.

# shellcheck disable=SC2154 # $status, $output, $lines and $stderr come from run
load helpers

setup() {
    loop_setup
    PAGE=$LOOP_SOURCE_DIR/man/loop.1
    [ -f "$PAGE" ]
}

# subcommands HELP-ARGS...: the subcommand names listed by `loop ARGS --help`.
subcommands() {
    "$LOOP" "$@" --help | awk '/^Subcommands:/ { on = 1; next } on && NF { print $1 }'
}

# flags VERB...: the long and short flags listed by `loop VERB... --help`,
# without --help.
flags() {
    "$LOOP" "$@" --help | awk '/^Options:/ { on = 1; next } /^[A-Z]/ { on = 0 } on' |
        grep -oE '^ +(-[A-Za-z],)?--[a-z][a-z-]*' | tr -d ' ' | tr ',' '\n' | grep -vx -- '-h\|--help'
}

@test "mandoc -T lint reports no errors or warnings" {
    command -v mandoc >/dev/null || skip "mandoc is not installed"
    run mandoc -T lint -W warning "$PAGE"
    [ "$status" -eq 0 ] || { show; false; }
    [ -z "$output" ]
    # Style notes are fine; nothing worse.
    run mandoc -T lint "$PAGE"
    run grep -E 'WARNING|ERROR|UNSUPP|BADARG' <<<"$output"
    [ "$status" -eq 1 ] || { show; false; }
}

@test "man -l renders the page" {
    command -v man >/dev/null || skip "man is not installed"
    run env MANPAGER=cat PAGER=cat MANWIDTH=80 man -l "$PAGE"
    [ "$status" -eq 0 ] || { show; false; }
    expect_in "$output" "loop — local control-loop supervisor with filesystem claims"
    local s
    for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS ENVIRONMENT FILES "EXIT STATUS" EXAMPLES "SEE ALSO"; do
        grep -qx "$s" <<<"$output" || { echo "section $s missing" >&2; false; }
    done
}

@test "every verb of 'loop --help' is documented" {
    run subcommands
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -ge 5 ]
    local v
    for v in "${lines[@]}"; do
        [ "$v" = _ ] && continue
        grep -qE "^\.It Cm $v( |$)" "$PAGE" || { echo "verb $v not in COMMANDS" >&2; false; }
        grep -qE "^\.Cm $v$" "$PAGE" || { echo "verb $v not in SYNOPSIS" >&2; false; }
    done
}

@test "every verb of 'loop _ --help' is documented" {
    run subcommands _
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -ge 6 ]
    local v
    for v in "${lines[@]}"; do
        [ "$v" = session ] && continue
        grep -qE "^\.It Cm _ $v( |$)" "$PAGE" || { echo "verb _ $v not in COMMANDS" >&2; false; }
        grep -qE "^\.Cm _ $v$" "$PAGE" || { echo "verb _ $v not in SYNOPSIS" >&2; false; }
    done
    run subcommands _ session
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -ge 3 ]
    for v in "${lines[@]}"; do
        grep -qE "^\.It Cm _ session $v( |$)" "$PAGE" || { echo "verb _ session $v not in COMMANDS" >&2; false; }
        grep -qE "^\.Cm _ session $v$" "$PAGE" || { echo "verb _ session $v not in SYNOPSIS" >&2; false; }
    done
}

@test "every flag of every verb is documented" {
    local verbs=() v f missing=()
    while read -r v; do
        [ "$v" = _ ] || verbs+=("$v")
    done < <(subcommands)
    while read -r v; do
        [ "$v" = session ] || verbs+=("_ $v")
    done < <(subcommands _)
    while read -r v; do
        verbs+=("_ session $v")
    done < <(subcommands _ session)
    [ "${#verbs[@]}" -ge 12 ]
    for f in $(flags); do
        grep -qE "Fl ${f#-}( |$)" "$PAGE" || missing+=("$f")
    done
    for v in "${verbs[@]}"; do
        # shellcheck disable=SC2086
        for f in $(flags $v); do
            grep -qE "Fl ${f#-}( |$)" "$PAGE" || missing+=("$v $f")
        done
    done
    [ "${#missing[@]}" -eq 0 ] || { printf 'not documented: %s\n' "${missing[@]}" >&2; false; }
}

@test "the environment, files and exit codes are documented" {
    local e
    for e in LOOP_HOME XDG_STATE_HOME HOME LOOP_SESSION_ID LOOP_CLAIM_FENCE NO_COLOR; do
        grep -qx "\.It Ev $e" "$PAGE" || { echo "$e not in ENVIRONMENT" >&2; false; }
    done
    for e in claims/ locks/ sessions/ txn/ events.jsonl logs/ supervisor.lock; do
        grep -q "^\.It Pa $e" "$PAGE" || { echo "$e not in FILES" >&2; false; }
    done
    for e in 0 1 2 3; do
        grep -qx "\.It $e" "$PAGE" || { echo "exit $e not in EXIT STATUS" >&2; false; }
    done
    grep -q 'export LOOP_SESSION_ID=$(loop _ session start)' "$PAGE"
    grep -q '^\* \* \* \* \* loop reap >/dev/null$' "$PAGE"
    grep -q '^\.Xr flock 1' "$PAGE"
}
