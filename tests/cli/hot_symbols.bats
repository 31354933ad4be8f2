#!/usr/bin/env bats
# cmake/hot-symbols.txt: when lld links the static binary, the functions a
# short-lived loop runs sit side by side in the list's order, so a verb
# faults in a few stretches of code instead of one in every other 64 KiB.

# shellcheck disable=SC2154 # $status and $output come from run
load helpers

setup() {
    loop_setup
    if ! readelf -p .comment "$LOOP" 2>/dev/null | grep -q "LLD"; then
        skip "the binary under test was not linked by lld"
    fi
    LIST="$BATS_TEST_DIRNAME/../../cmake/hot-symbols.txt"
}

# addresses: the address of each name of the list the binary defines, in
# the list's order, one a line (hex, as nm prints it).
addresses() {
    nm --defined-only "$LOOP" | awk '
        NR == FNR { if ($0 !~ /^#/ && $0 != "") order[$0] = ++n; next }
        ($3 in order) && !($3 in addr) { addr[$3] = $1 }
        END { for (s in addr) print order[s], addr[s] }' "$LIST" - |
        sort -n | cut -d' ' -f2
}

@test "the list names functions the binary has" {
    [ -f "$LIST" ]
    run addresses
    [ "$status" -eq 0 ]
    echo "found: ${#lines[@]} of $(grep -vc '^#' "$LIST")"
    [ "${#lines[@]}" -ge 300 ]
}

# A few names share a section with another (a C library object holds several
# functions; the section goes where its first listed name puts it), so the
# order is checked as a share: 79 of 965 out of order here, against 488
# when the same code is linked without the list.
@test "the listed functions are laid out in the list's order" {
    run addresses
    [ "$status" -eq 0 ]
    local prev=0 out_of_order=0 a
    for a in "${lines[@]}"; do
        if ((16#$a < prev)); then out_of_order=$((out_of_order + 1)); fi
        prev=$((16#$a))
    done
    echo "out of order: $out_of_order of ${#lines[@]}"
    [ $((5 * out_of_order)) -lt "${#lines[@]}" ]
}

# Here 15 stretches of 64 KiB hold them, against 48 without the list.
@test "they start in fewer than 32 stretches of 64 KiB" {
    run addresses
    [ "$status" -eq 0 ]
    local a stretches
    stretches="$(for a in "${lines[@]}"; do echo $((16#$a / 65536)); done | sort -u | wc -l)"
    echo "stretches: $stretches"
    [ "$stretches" -lt 32 ]
}
