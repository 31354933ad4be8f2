#!/usr/bin/env bats
# loop completion bash|zsh: the scripts load, complete verbs, flags, live
# claim names and session ids (from the home on the command line), and list
# exactly the verbs and flags the binary has.

# shellcheck disable=SC2154 # $status, $output, $lines and $stderr come from run
load helpers

setup() {
    loop_setup
    # shellcheck disable=SC1090
    source <("$LOOP" completion bash)
}

# complete_bash WORD...: runs the bash completion as bash does for a command
# line made of WORD... with the cursor at the end of the last word, and sets
# GOT to the candidates, sorted and space-separated.
complete_bash() {
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _loop
    GOT=$(printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | paste -sd' ')
}

# expect_got TEXT: the last completion offered exactly TEXT.
expect_got() {
    [ "$GOT" = "$1" ] && return 0
    echo "expected: '$1'" >&2
    echo "got:      '$GOT'" >&2
    return 1
}

# help_subs ARGS...: the subcommands `loop ARGS... --help` lists, sorted.
help_subs() {
    "$LOOP" "$@" --help | awk '/^Subcommands:/ { on = 1; next } on && NF { print $1 }' |
        LC_ALL=C sort | paste -sd' '
}

# help_flags ARGS...: the flags `loop ARGS... --help` lists, without -h and
# --help, with '=' after those that take a value, sorted.
help_flags() {
    "$LOOP" "$@" --help | awk '
        /^Options:/ { on = 1; next }
        /^[^ ]/ { on = 0 }
        on && /^ +-/ {
            head = substr($0, 1, 30)
            n = split(head, f, " ")
            k = split(f[1], names, ",")
            for (i = 1; i <= k; i++)
                if (names[i] != "-h" && names[i] != "--help")
                    print names[i] (n > 1 ? "=" : "")
        }' | LC_ALL=C sort | paste -sd' '
}

# script_subs PATH / script_flags PATH: the same, from the script's tables.
script_subs() {
    _loop_subs_of "$1"
    # shellcheck disable=SC2086 # a space-separated list
    printf '%s\n' $_loop_r | LC_ALL=C sort | paste -sd' '
}
script_flags() {
    _loop_flags_of "$1"
    # shellcheck disable=SC2086 # a space-separated list
    printf '%s\n' $_loop_r | LC_ALL=C sort | paste -sd' '
}

# ------------------------------------------------------------ the scripts

@test "completion bash|zsh print scripts; another shell is refused (exit 2)" {
    run_loop completion bash
    expect_status 0
    bash -n <<<"$output"
    expect_in "$output" "complete -F _loop loop"
    run_loop completion zsh
    expect_status 0
    [ "${lines[0]}" = "#compdef loop" ]
    if command -v zsh >/dev/null; then zsh -n <<<"$output"; fi
    run_loop completion fish
    expect_status 2
    [ -z "$output" ]
    expect_in "$stderr" "'fish'"
    expect_in "$stderr" "bash or zsh"
    run_loop completion
    expect_status 2
    expect_in "$stderr" "bash|zsh"
}

@test "the bash script passes shellcheck" {
    command -v shellcheck >/dev/null || skip "shellcheck is not installed"
    run shellcheck -s bash <("$LOOP" completion bash)
    [ "$status" -eq 0 ] || { show; false; }
}

# ------------------------------------------------------------ kept in sync

@test "every verb of 'loop --help' is in the script, and no other" {
    local help
    help=$(help_subs)
    [ -n "$help" ]
    local v
    for v in $help; do
        _loop_subs_of ''
        _loop_in "$v" "$_loop_r" || { echo "verb $v missing from the script" >&2; false; }
    done
    [ "$(script_subs '')" = "$help" ] || { echo "script: $(script_subs '') / help: $help" >&2; false; }
    [ "$(script_subs _)" = "$(help_subs _)" ]
    [ "$(script_subs '_ session')" = "$(help_subs _ session)" ]
}

@test "the flags of every verb match 'loop VERB --help'" {
    local paths=('') v w bad=0
    for v in $(script_subs ''); do
        paths+=("$v")
        for w in $(script_subs "$v"); do
            paths+=("$v $w")
            for x in $(script_subs "$v $w"); do paths+=("$v $w $x"); done
        done
    done
    [ "${#paths[@]}" -ge 18 ]
    local p want have
    for p in "${paths[@]}"; do
        # shellcheck disable=SC2086
        have=$(help_flags $p)
        want=$(script_flags "$p")
        if [ "$have" != "$want" ]; then
            echo "loop $p: --help has '$have', the script has '$want'" >&2
            bad=1
        fi
    done
    [ "$bad" -eq 0 ]
}

# ------------------------------------------------------------ bash

@test "bash: verbs" {
    complete_bash loop _ cl
    expect_got "claim"
    complete_bash loop sup
    expect_got "supervise"
    complete_bash loop _ session ''
    expect_got "end heartbeat start"
    complete_bash loop ''
    local v
    for v in $(help_subs); do expect_in " $GOT " " $v "; done
    # a verb name given as an argument is not a verb
    complete_bash loop _ owner claim ''
    expect_got ""
}

@test "bash: flags" {
    complete_bash loop _ claim --w
    expect_got "--wait"
    complete_bash loop _ claim x --s
    expect_got "--session --shared --shared-name"
    complete_bash loop --h
    expect_got "--help --home"
    complete_bash loop reap --dry-run -
    expect_got "--dry-run --help --json --retention"
    # a flag that takes a value: nothing but its value is offered
    complete_bash loop _ claim x --wait ''
    expect_got ""
}

@test "bash: completion completes the shell names" {
    complete_bash loop completion ''
    expect_got "bash zsh"
}

@test "bash: unclaim, owner and renew complete held claims" {
    new_session
    "$LOOP" _ claim repo-x --session "$SID" >/dev/null
    "$LOOP" _ claim host:db=main --session "$SID" >/dev/null
    complete_bash "$LOOP" _ unclaim ''
    expect_got "host:db=main repo-x"
    complete_bash "$LOOP" _ unclaim re
    expect_got "repo-x"
    complete_bash "$LOOP" _ owner r
    expect_got "repo-x"
    complete_bash "$LOOP" _ renew repo-x --ttl 10s ''
    expect_got "host:db=main repo-x"
    # bash splits the word at ':'; the reply is what follows it
    complete_bash "$LOOP" _ unclaim host : d
    expect_got "db=main"
    complete_bash "$LOOP" _ unclaim host : db = m
    expect_got "main"
    complete_bash "$LOOP" _ unclaim host :
    expect_got "db=main"
    # `loop` found on PATH
    mkdir "$TEST_DIR/bin"
    ln -s "$LOOP" "$TEST_DIR/bin/loop"
    PATH="$TEST_DIR/bin:$PATH" complete_bash loop _ unclaim r
    expect_got "repo-x"
}

@test "bash: --home on the command line is used by the lookups" {
    new_session
    "$LOOP" _ claim repo-x --session "$SID" >/dev/null
    local other=$TEST_DIR/other
    "$LOOP" --home "$other" _ claim repo-y --session \
        "$("$LOOP" --home "$other" _ session start --pid "$ANCHOR")" >/dev/null
    complete_bash "$LOOP" _ unclaim ''
    expect_got "repo-x"
    complete_bash "$LOOP" --home "$other" _ unclaim ''
    expect_got "repo-y"
    complete_bash "$LOOP" --home = "$other" _ unclaim ''
    expect_got "repo-y"
    complete_bash "$LOOP" _ unclaim --home "$other" ''
    expect_got "repo-y"
    # ~ is expanded as the shell would
    # shellcheck disable=SC2088 # the word as typed, unexpanded
    HOME=$TEST_DIR complete_bash "$LOOP" --home '~/other' _ owner ''
    expect_got "repo-y"
}

@test "bash: lookups never create a home or anything in it" {
    complete_bash "$LOOP" _ unclaim ''
    expect_got ""
    [ ! -e "$LOOP_HOME" ]
    complete_bash "$LOOP" --home "$TEST_DIR/nowhere" _ session end ''
    expect_got ""
    [ ! -e "$TEST_DIR/nowhere" ]
    # a directory that is not (yet) a home is left as it is
    mkdir "$TEST_DIR/plain"
    complete_bash "$LOOP" --home "$TEST_DIR/plain" _ unclaim ''
    expect_got ""
    complete_bash "$LOOP" --home "$TEST_DIR/plain" _ claim x --session ''
    expect_got ""
    [ -z "$(ls -A "$TEST_DIR/plain")" ]
}

@test "bash: --session and session heartbeat|end complete live session ids" {
    new_session
    local live=$SID
    new_session
    local dead=$SID
    kill_pid "$ANCHOR"
    complete_bash "$LOOP" _ claim x --session ''
    expect_got "$live"
    # the cursor right after '=' of --session=
    complete_bash "$LOOP" _ claim x --session =
    expect_got "$live"
    complete_bash "$LOOP" _ session heartbeat ''
    expect_got "$live"
    complete_bash "$LOOP" _ session end ''
    expect_got "$live"
    complete_bash "$LOOP" _ session end "$live" ''
    expect_got ""
    [ "$dead" != "$live" ]
}

@test "bash: logs completes the workers and replicas that have a log" {
    complete_bash "$LOOP" logs ''
    expect_got ""
    [ ! -e "$LOOP_HOME" ]
    mkdir -p "$LOOP_HOME/logs"
    chmod 700 "$LOOP_HOME" "$LOOP_HOME/logs"
    : >"$LOOP_HOME/logs/web.1.log"
    : >"$LOOP_HOME/logs/web.1.log.1"
    : >"$LOOP_HOME/logs/web.2.log"
    : >"$LOOP_HOME/logs/db.1.log.3"
    : >"$LOOP_HOME/logs/keeper.log"
    : >"$LOOP_HOME/logs/.web.1.log.lock"
    complete_bash "$LOOP" logs ''
    expect_got "db db.1 web web.1 web.2"
    complete_bash "$LOOP" logs we
    expect_got "web web.1 web.2"
    complete_bash "$LOOP" logs web.1 ''
    expect_got ""
    complete_bash "$LOOP" logs -
    expect_got "--follow --help --lines -f -n"
}

@test "bash: supervise completes playbooks, --home directories" {
    mkdir "$TEST_DIR/pb" "$TEST_DIR/pb/sub"
    : >"$TEST_DIR/pb/a.json"
    : >"$TEST_DIR/pb/b.txt"
    cd "$TEST_DIR/pb"
    complete_bash loop supervise ''
    expect_got "a.json sub"
    complete_bash loop --home ''
    expect_got "sub"
    complete_bash loop supervise --metrics-file b
    expect_got "b.txt"
}

@test "bash: after 'with ... --' the command is completed" {
    complete_bash loop _ with x -- bas
    expect_in " $GOT " " bash "
    # "--" elsewhere ends nothing to complete
    complete_bash loop _ claim x -- ''
    expect_got ""
}

# ------------------------------------------------------------ zsh

@test "zsh: the script loads after compinit" {
    command -v zsh >/dev/null || skip "zsh is not installed"
    # shellcheck disable=SC2016 # expanded by zsh
    run --separate-stderr env ZDOTDIR="$TEST_DIR" zsh -f -c \
        'autoload -U compinit; compinit -u; source <("$LOOP" completion zsh)'
    [ "$status" -eq 0 ] || { show; false; }
    [ -z "$stderr" ] || { show; false; }
}

@test "zsh: verbs, flags, claims and sessions" {
    command -v zsh >/dev/null || skip "zsh is not installed"
    new_session
    "$LOOP" _ claim repo-x --session "$SID" >/dev/null
    # compadd stands in for the real one (which only works while the line
    # editor completes): it prints the candidates that match $PREFIX.
    # shellcheck disable=SC2016
    run --separate-stderr env ZDOTDIR="$TEST_DIR" zsh -f -c '
        autoload -U compinit; compinit -u; source <("$LOOP" completion zsh)
        compadd() { shift; local w; for w in "$@"; do [[ $w == "$PREFIX"* ]] && print -r -- $w; done; return 0 }
        t() { words=("$@"); CURRENT=$#; PREFIX=${@[-1]}; print -r -- "$(_loop | sort | paste -sd" ")" }
        t loop _ cl
        t loop _ claim --w
        t "$LOOP" _ unclaim ""
        t "$LOOP" _ claim x --session ""
        t loop completion ""
        t loop sup'
    [ "$status" -eq 0 ] || { show; false; }
    [ "${lines[0]}" = "claim" ] || { show; false; }
    [ "${lines[1]}" = "--wait" ] || { show; false; }
    [ "${lines[2]}" = "repo-x" ] || { show; false; }
    [ "${lines[3]}" = "$SID" ] || { show; false; }
    [ "${lines[4]}" = "bash zsh" ] || { show; false; }
    [ "${lines[5]}" = "supervise" ] || { show; false; }
}
