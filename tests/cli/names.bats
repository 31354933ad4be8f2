#!/usr/bin/env bats
# Claim names (SPEC section 3): 1 to 200 bytes of [A-Za-z0-9._:@+=-], not
# starting with '.' or '-'. Anything else is refused with exit 2, a message
# naming the problem, and nothing written under the home.

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
    refused / "contains '/'"
}

@test "a name with a slash is refused" {
    refused a/b "'a/b' contains '/'"
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
    expect_in "$stderr" "A-Z a-z 0-9 . _ : @ + = -"
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
    expect_status 2
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
