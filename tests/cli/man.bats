#!/usr/bin/env bats
# The manual pages: well-formed, man/loop.1 renders and documents every verb
# and flag the binary has, and the pages read in the order they announce.

# shellcheck disable=SC2154 # $status, $output, $lines and $stderr come from run
load helpers

setup() {
    loop_setup
    PAGE=$LOOP_SOURCE_DIR/man/loop.1
    CLAIMS=$LOOP_SOURCE_DIR/man/loop-claims.7
    PAGES=("$PAGE" "$LOOP_SOURCE_DIR/man/loop-playbook.5" "$CLAIMS")
    local p
    for p in "${PAGES[@]}"; do [ -f "$p" ]; done
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

@test "mandoc -T lint reports no errors or warnings on any page" {
    command -v mandoc >/dev/null || skip "mandoc is not installed"
    local p
    for p in "${PAGES[@]}"; do
        run mandoc -T lint -W warning "$p"
        [ "$status" -eq 0 ] || { show; false; }
        [ -z "$output" ] || { show; false; }
        # Style notes are fine; nothing worse.
        run mandoc -T lint "$p"
        run grep -E 'WARNING|ERROR|UNSUPP|BADARG' <<<"$output"
        [ "$status" -eq 1 ] || { show; false; }
    done
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

@test "the supervise entry starts with what it does, options after" {
    # The first text line of the entry, after its synopsis line.
    local first
    first=$(awk '/^\.It Cm supervise /{ on = 1; next } on && !/^\./ { print; exit }' "$PAGE")
    [[ "$first" == "Run the workers declared in"* ]] || { echo "supervise starts with: $first" >&2; false; }
}

# headings FILE: the section and subsection titles of FILE, in order.
headings() {
    sed -nE 's/^\.S[hs] (.*)$/\1/p' "$1" | sed -E 's/^"(.*)"$/\1/'
}

# announced FILE: the sections the opening of FILE's DESCRIPTION refers to
# with .Sx, in the order it names them.
announced() {
    awk '/^\.Sh DESCRIPTION/ { on = 1; next } on && /^\.S[hs] / { exit } on' "$1" |
        sed -nE 's/^(.* )?\.?Sx (.*)$/\2/p' | sed -E 's/( [][(),.;:])+$//; s/^"(.*)"$/\1/'
}

@test "loop-claims(7) has its sections in the order its opening announces" {
    local ann=() heads=() subs=() h order=()
    mapfile -t ann < <(announced "$CLAIMS")
    mapfile -t heads < <(headings "$CLAIMS")
    mapfile -t subs < <(sed -nE 's/^\.Ss (.*)$/\1/p' "$CLAIMS" | sed -E 's/^"(.*)"$/\1/')
    [ "${#ann[@]}" -ge 5 ] || { echo "the opening announces ${#ann[@]} sections" >&2; false; }
    [ "${#subs[@]}" -ge 5 ]
    # Every subsection of the description is announced...
    for h in "${subs[@]}"; do
        printf '%s\n' "${ann[@]}" | grep -qxF -- "$h" || { echo "not announced: $h" >&2; false; }
    done
    # ...and the announced ones exist and come in the announced order.
    for h in "${heads[@]}"; do
        printf '%s\n' "${ann[@]}" | grep -qxF -- "$h" && order+=("$h")
    done
    [ "$(printf '%s\n' "${order[@]}")" = "$(printf '%s\n' "${ann[@]}")" ] || {
        echo "announced: ${ann[*]}" >&2
        echo "in order:  ${order[*]}" >&2
        false
    }
}

@test "the pages share one date and one date style" {
    local p d dates=() stamps
    for p in "${PAGES[@]}"; do
        d=$(sed -n 's/^\.Dd //p' "$p")
        [[ "$d" =~ ^(January|February|March|April|May|June|July|August|September|October|November|December)\ [1-9][0-9]?,\ [0-9]{4}$ ]] ||
            { echo "$p: .Dd $d is not 'Month D, YYYY'" >&2; false; }
        dates+=("$d")
    done
    [ "$(printf '%s\n' "${dates[@]}" | sort -u | wc -l)" -eq 1 ] || { printf '.Dd %s\n' "${dates[@]}" >&2; false; }
    # Dates in the text are RFC 3339 in UTC, as the JSON output writes them.
    stamps=$(cat "${PAGES[@]}" | grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}[^ ]*' || true)
    [ -n "$stamps" ]
    run grep -vxE '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z' <<<"$stamps"
    [ "$status" -eq 1 ] || { echo "not RFC 3339 UTC: $output" >&2; false; }
}
