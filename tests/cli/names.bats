#!/usr/bin/env bats
# Claim names (SPEC section 3): 1 to 200 bytes of [A-Za-z0-9._:@+=/-], not
# starting with '-' or '/', not ending with '/', no empty path segment and
# no segment starting with '.'. Anything else is refused with exit 2, a
# message naming the problem, and nothing written under the home. A name
# with '/' is stored under an encoded file name (never a path on disk) and
# shown everywhere as given.

# shellcheck disable=SC2154 # $status, $output, $lines and $stderr come from run
load helpers

setup() {
    loop_setup
    new_session
    # The home exists with its directories, so "nothing written" is visible.
    run_loop _ claim probe --session "$SID"
    expect_status 0
    run_loop _ unclaim probe --session "$SID"
    expect_status 0
    claims_empty
    LOCKS_BEFORE=$(ls -A "$LOOP_HOME/locks")
}

# refused NAME PROBLEM: claim, unclaim, renew, owner and with all refuse NAME
# with exit 2 and PROBLEM in the message; nothing is written.
refused() {
    local name=$1 problem=$2
    run_loop _ claim "$name" --session "$SID"
    expect_status 2
    [ -z "$output" ]
    expect_in "$stderr" "$problem"
    claims_empty
    [ "$(ls -A "$LOOP_HOME/locks")" = "$LOCKS_BEFORE" ]

    run_loop _ claim ok-name "$name" --session "$SID"
    expect_status 2
    expect_in "$stderr" "$problem"
    claims_empty

    run_loop _ unclaim "$name" --session "$SID"
    expect_status 2
    expect_in "$stderr" "$problem"

    run_loop _ renew "$name" --session "$SID"
    expect_status 2
    expect_in "$stderr" "$problem"

    run_loop _ owner "$name"
    expect_status 2
    expect_in "$stderr" "$problem"

    run_loop _ with "$name" --session "$SID" -- touch "$TEST_DIR/ran"
    expect_status 2
    expect_in "$stderr" "$problem"
    [ ! -e "$TEST_DIR/ran" ]
    claims_empty
    [ "$(ls -A "$LOOP_HOME/locks")" = "$LOCKS_BEFORE" ]
}

@test "an empty name is refused" {
    refused '' "is empty"
}

@test "'/' is refused" {
    refused / "starts with '/'"
}

@test "a name starting with '/' is refused" {
    refused /abs "'/abs' starts with '/'"
}

@test "a name ending with '/' is refused" {
    refused a/ "'a/' ends with '/'"
}

@test "an empty path segment is refused" {
    refused a//b "'a//b' has an empty path segment"
}

@test "a '..' segment is refused" {
    refused x/../y "'x/../y' has a path segment starting with '.'"
}

@test "a '.' segment is refused" {
    refused x/./y "has a path segment starting with '.'"
}

@test "a segment starting with '.' is refused" {
    refused a/.b "'a/.b' has a path segment starting with '.'"
}

@test "'..' is refused" {
    refused .. "starts with '.'"
}

@test "'.' is refused" {
    refused . "starts with '.'"
}

@test "a name starting with '.' is refused" {
    refused .hidden "'.hidden' starts with '.'"
}

@test "a name starting with '-' is refused and named" {
    # As the only argument it looks like a flag; the message must still name it.
    run_loop _ claim -x --session "$SID"
    expect_status 2
    expect_in "$stderr" "-x"
    claims_empty
    run_loop _ claim ok-name -x --session "$SID"
    expect_status 2
    expect_in "$stderr" "-x"
    claims_empty
    [ "$(ls -A "$LOOP_HOME/locks")" = "$LOCKS_BEFORE" ]
}

@test "a name with a space is refused" {
    refused 'a b' "contains ' '"
}

@test "a name with a tab is refused" {
    refused $'a\tb' "contains the byte 0x09"
}

@test "a name with a newline is refused" {
    refused $'a\nb' "contains the byte 0x0a"
}

@test "a name with a control byte is refused" {
    refused $'a\x01b' "contains the byte 0x01"
}

@test "a name of 201 bytes is refused" {
    refused "$(printf 'a%.0s' {1..201})" "is longer than 200 bytes"
}

@test "non-ASCII bytes are refused" {
    refused $'caf\xc3\xa9' "contains the byte 0xc3"
}

@test "other punctuation is refused" {
    local c
    for c in '*' '?' '$' '#' '%' '&' '(' '[' '{' '~' '!' ',' ';' '"' "'" '\' '|' '<' '>'; do
        run_loop _ claim "a${c}b" --session "$SID"
        expect_status 2
        expect_in "$stderr" "contains '$c'"
    done
    claims_empty
}

@test "the message tells which characters are allowed" {
    run_loop _ claim 'a b' --session "$SID"
    expect_status 2
    expect_in "$stderr" "1 to 200"
    expect_in "$stderr" "A-Z a-z 0-9 . _ : @ + = - /"
    expect_in "$stderr" "no empty or '.'-led segment"
}

@test "a name of exactly 200 bytes is accepted" {
    name=$(printf 'a%.0s' {1..200})
    run_loop _ claim "$name" --session "$SID"
    expect_status 0
    [ "$output" = "claimed $name (fence 1)" ]
    [ -f "$LOOP_HOME/claims/$name" ]
    run_loop _ unclaim "$name" --session "$SID"
    expect_status 0
    claims_empty
}

@test "every allowed character is accepted" {
    name='Az09._:@+=-x'
    run_loop _ claim "$name" --session "$SID" --json
    expect_status 0
    jq -e --arg n "$name" '.name == $n' <<<"$output"
    [ -f "$LOOP_HOME/claims/$name" ]
    run_loop _ claim 'file:src/x' --session "$SID"
    expect_status 0
    run_loop _ claim 'issue-42' 'repo@main' 'a=b+c' --session "$SID"
    expect_status 0
    [ "${#lines[@]}" -eq 3 ]
}

@test "names are case-sensitive" {
    run_loop _ claim Job --session "$SID"
    expect_status 0
    new_session
    run_loop _ claim job --session "$SID"
    expect_status 0
}

@test "a repeated name in one call counts once" {
    run_loop _ claim job-1 job-1 --session "$SID"
    expect_status 0
    [ "$output" = "claimed job-1 (fence 1)" ]
}

# ------------------------------------------------------------ names with '/'

# The one file under claims/ (and the lock file of NAME): never a path.
only_claim_file() {
    local files
    files=$(ls -A "$LOOP_HOME/claims")
    [ "$files" = "$1" ] || { echo "claims/ holds: $files" >&2; return 1; }
    [ -z "$(find "$LOOP_HOME" -mindepth 2 -type d)" ] || { find "$LOOP_HOME" -type d >&2; return 1; }
}

@test "repo-x/issue-42 is a name: claim, owner, claims, unclaim" {
    run_loop _ claim repo-x/issue-42 --session "$SID"
    expect_status 0
    [ "$output" = "claimed repo-x/issue-42 (fence 1)" ]
    only_claim_file 'repo-x%issue-42'
    [ -f "$LOOP_HOME/locks/repo-x%issue-42" ]

    run_loop _ owner repo-x/issue-42
    expect_status 0
    expect_in "$output" "$SID"
    run_loop _ owner repo-x/issue-42 --json
    expect_status 0
    jq -e '.[0].name == "repo-x/issue-42"' <<<"$output"

    run_loop claims
    expect_status 0
    expect_in "$output" "repo-x/issue-42"
    [[ "$output" != *"%"* ]]
    run_loop claims --json
    expect_status 0
    jq -e '[.[] | .name] == ["repo-x/issue-42"]' <<<"$output"
    run_loop status --json
    expect_status 0
    [[ "$output" == *'"repo-x/issue-42"'* ]]
    [[ "$output" != *"%"* ]]

    # Another session is refused with the name as given.
    local first=$SID
    new_session
    run_loop _ claim repo-x/issue-42 --session "$SID" --wait 0
    expect_status 1
    expect_in "$stderr" "claim repo-x/issue-42: held by session $first"

    run_loop _ unclaim repo-x/issue-42 --session "$first"
    expect_status 0
    claims_empty
}

@test "a slash name and its look-alikes are distinct names" {
    run_loop _ claim a/b a:b a-b a.b --session "$SID" --json
    expect_status 0
    jq -e '[.[] | .name] | sort == ["a-b", "a.b", "a/b", "a:b"]' <<<"$output"
    [ "$(ls -A "$LOOP_HOME/claims" | LC_ALL=C sort | paste -sd' ')" = "a%b a-b a.b a:b" ]
    run_loop claims --json
    jq -e '[.[] | .name] | sort == ["a-b", "a.b", "a/b", "a:b"]' <<<"$output"
    run_loop _ unclaim a/b --session "$SID"
    expect_status 0
    [ "$(ls -A "$LOOP_HOME/claims" | LC_ALL=C sort | paste -sd' ')" = "a-b a.b a:b" ]
}

@test "file:src/main.py: claim --json, with, events and metrics show the name as given" {
    run_loop _ claim file:src/main.py --session "$SID" --json
    expect_status 0
    jq -e '.name == "file:src/main.py" and .fence == 1' <<<"$output"
    run_loop _ unclaim file:src/main.py --session "$SID"
    expect_status 0

    run_loop _ with file:src/main.py deep/a/b/c -- sh -c 'echo "$LOOP_CLAIM_FENCE" >"$1"' sh "$TEST_DIR/fence"
    expect_status 0
    [ "$(cat "$TEST_DIR/fence")" = "deep/a/b/c=1 file:src/main.py=2" ]
    claims_empty

    run_loop events --json
    expect_status 0
    [[ "$output" != *"%"* ]]
    # (setup's probe aside)
    jq -se '[.[] | select(.event == "claim.acquired" and .name != "probe") | .name] | sort ==
        ["deep/a/b/c", "file:src/main.py", "file:src/main.py"]' <<<"$output"
    run_loop events
    expect_in "$output" "file:src/main.py"

    run_loop metrics
    expect_status 0
    expect_in "$output" 'loop_claim_acquisitions_total{type="file",worker="none"} 2'
    expect_in "$output" 'loop_claim_releases_total{type="file",worker="none"} 2'
    [[ "$output" != *"%"* ]]
}

@test "completion offers slash names as given" {
    # shellcheck disable=SC1090
    source <("$LOOP" completion bash)
    run_loop _ claim repo-x/issue-42 repo-x/issue-7 other --session "$SID"
    expect_status 0
    COMP_WORDS=("$LOOP" _ unclaim repo-x/)
    COMP_CWORD=3
    COMP_LINE="${COMP_WORDS[*]}"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _loop
    [ "$(printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | paste -sd' ')" = "repo-x/issue-42 repo-x/issue-7" ]
}

@test "doctor knows encoded names; a file name that does not decode is reported" {
    run_loop _ claim repo-x/issue-42 --session "$SID"
    expect_status 0
    run_loop doctor
    expect_status 0
    # A claim file whose name decodes to no claim name ('a//b').
    cp "$LOOP_HOME/claims/repo-x%issue-42" "$LOOP_HOME/claims/a%%b"
    run_loop doctor
    expect_status 1
    expect_in "$output" "a%%b"
    expect_in "$output" "does not decode to a claim name"
    [[ "$output" != *"repo-x%issue-42"* ]]
    # Listing skips it and still works.
    run_loop claims --json
    expect_status 0
    jq -e '[.[] | .name] == ["repo-x/issue-42"]' <<<"$output"
    run_loop doctor --repair
    expect_status 0
    [ ! -e "$LOOP_HOME/claims/a%%b" ]
    [ -f "$LOOP_HOME/claims/repo-x%issue-42" ]
}

@test "a claim file copied under another encoded name is corrupt, not that name" {
    run_loop _ claim repo-x/issue-42 --session "$SID"
    expect_status 0
    cp "$LOOP_HOME/claims/repo-x%issue-42" "$LOOP_HOME/claims/repo-x%issue-43"
    run_loop _ claim repo-x/issue-43 --session "$SID"
    expect_status 3
    expect_in "$stderr" "'name' field says 'repo-x/issue-42'"
    run_loop doctor
    expect_status 1
    expect_in "$output" "'name' field says 'repo-x/issue-42', not its file name"
}

@test "a session id is still no path: '/' in --session is refused" {
    run_loop _ claim x --session a/b
    expect_status 2
    expect_in "$stderr" "session id 'a/b' contains '/'"
    claims_empty
}
