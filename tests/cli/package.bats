#!/usr/bin/env bats
# scripts/package: the Debian package of loop. It is built once (from the
# build directory of $LOOP, no rebuild) into a temporary directory, extracted
# with dpkg-deb -x, and checked: its loop runs, the man pages, completions,
# systemd unit and documents are where Debian looks for them, and lintian
# reports no error.

# shellcheck disable=SC2154 # $status, $output, $lines and $stderr come from run
load helpers

setup_file() {
    command -v dpkg-deb >/dev/null || return 0
    : "${LOOP_BUILD_DIR:=$(dirname "$LOOP")}"
    export LOOP_BUILD_DIR
    grep -q '^LOOP_SANITIZE:BOOL=ON' "$LOOP_BUILD_DIR/CMakeCache.txt" && return 0
    PKG_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/loop-package.XXXXXX")
    export PKG_DIR
    "$LOOP_SOURCE_DIR/scripts/package" "$PKG_DIR/out" >"$PKG_DIR/deb" 2>"$PKG_DIR/err" || return 0
    dpkg-deb -x "$(cat "$PKG_DIR/deb")" "$PKG_DIR/root"
}

teardown_file() {
    [ -n "${PKG_DIR:-}" ] && rm -rf "$PKG_DIR"
    return 0
}

setup() {
    loop_setup
    command -v dpkg-deb >/dev/null || skip "dpkg-deb is not installed"
    if grep -q '^LOOP_SANITIZE:BOOL=ON' "$LOOP_BUILD_DIR/CMakeCache.txt"; then
        skip "$LOOP_BUILD_DIR is a sanitizer build; the package is built from a release build"
    fi
    [ -s "$PKG_DIR/deb" ] || { cat "$PKG_DIR/err" >&2; false; }
    DEB=$(cat "$PKG_DIR/deb")
    ROOT=$PKG_DIR/root
}

@test "the package is named and versioned after the project" {
    local version
    version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$LOOP_BUILD_DIR/CMakeCache.txt")
    [ -n "$version" ]
    [[ "$DEB" == */loop_"$version"-1_*.deb ]] || { echo "deb: $DEB" >&2; false; }
    run dpkg-deb -f "$DEB" Package Version Section Maintainer
    [ "$status" -eq 0 ] || { show; false; }
    expect_in "$output" "Package: loop"
    expect_in "$output" "Version: $version-1"
    expect_in "$output" "Section: utils"
    [[ "$output" =~ Maintainer:\ .+\ \<.+@.+\> ]] || { show; false; }
}

@test "the extracted loop runs: loop version" {
    [ -x "$ROOT/usr/bin/loop" ]
    run --separate-stderr "$ROOT/usr/bin/loop" version
    [ "$status" -eq 0 ] || { show; false; }
    expect_in "$output" "$("$LOOP" version)"
    # stripped, and the same program as the build's
    file "$ROOT/usr/bin/loop" | grep -q 'stripped' && ! file "$ROOT/usr/bin/loop" | grep -q 'not stripped'
}

@test "man pages are gzipped where man looks, and render" {
    local page
    for page in man1/loop.1 man5/loop-playbook.5 man7/loop-claims.7; do
        [ -f "$ROOT/usr/share/man/$page.gz" ] || { echo "missing $page.gz" >&2; false; }
        gzip -t "$ROOT/usr/share/man/$page.gz"
        # the same page as in the source tree
        cmp <(gzip -dc "$ROOT/usr/share/man/$page.gz") "$LOOP_SOURCE_DIR/man/${page#*/}"
    done
    command -v man >/dev/null || return 0
    run env MANPAGER=cat PAGER=cat MANWIDTH=80 MANPATH="$ROOT/usr/share/man" man loop-claims
    [ "$status" -eq 0 ] || { show; false; }
    expect_in "$output" "how loop claims work"
}

@test "bash and zsh completions are the ones loop prints" {
    cmp "$ROOT/usr/share/bash-completion/completions/loop" <("$LOOP" completion bash)
    cmp "$ROOT/usr/share/zsh/vendor-completions/_loop" <("$LOOP" completion zsh)
}

@test "the systemd unit runs the installed loop on the instance's playbook" {
    local unit=$ROOT/usr/lib/systemd/system/loop-supervise@.service
    [ -f "$unit" ]
    grep -qx 'ExecStart=/usr/bin/loop supervise %I' "$unit"
    grep -qx 'KillMode=mixed' "$unit"
    grep -qx 'Restart=on-failure' "$unit"
    grep -qx 'StateDirectory=loop/%i' "$unit"
    grep -qx 'Environment=LOOP_HOME=%S/loop/%i' "$unit"
    # systemd stops the supervisor no sooner than the default stop_timeout
    # (10s) lets it stop its workers
    local t
    t=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$unit")
    [ -n "$t" ] && [ "$t" -gt 10 ]
    if command -v systemd-analyze >/dev/null; then
        # systemd parses an instance of it without a complaint (it reports
        # bad settings on stderr, exit 0), with the binary it names replaced
        # by the extracted one
        mkdir "$TEST_DIR/units"
        sed "s|/usr/bin/loop|$ROOT/usr/bin/loop|" "$unit" \
            >"$TEST_DIR/units/loop-supervise@etc-loop-web.json.service"
        run --separate-stderr systemd-analyze verify --man=no \
            "$TEST_DIR/units/loop-supervise@etc-loop-web.json.service"
        [ "$status" -eq 0 ] || { show; false; }
        [ -z "$stderr" ] || { show; false; }
    fi
}

@test "copyright, changelog and examples are in /usr/share/doc/loop" {
    local doc=$ROOT/usr/share/doc/loop
    grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' "$doc/copyright"
    gzip -dc "$doc/changelog.Debian.gz" | head -1 | grep -q "^loop ($(dpkg-deb -f "$DEB" Version)) "
    [ -f "$doc/examples/cron-reap.md" ]
    grep -q '/usr/bin/loop reap' "$doc/examples/cron.d/loop-reap"
    [ -x "$ROOT/usr/share/loop/playbooks/queue/work-queue.sh" ]
}

@test "lintian reports no errors" {
    command -v lintian >/dev/null || skip "lintian is not installed"
    run --separate-stderr lintian --fail-on none "$DEB"
    [ "$status" -eq 0 ] || { show; false; }
    local errors
    errors=$(grep '^E:' <<<"$output" || true)
    [ -z "$errors" ] || { echo "$output" >&2; false; }
    # the static binary is overridden, not reported
    run --separate-stderr lintian --fail-on none --show-overrides "$DEB"
    expect_in "$output" "statically-linked-binary"
}
