#!/bin/bash
# The Debian package, end to end: built with dpkg-buildpackage from a temporary copy of the
# tree (the source tree is left as it was), checked with lintian (no error), then installed
# with apt into the real-systemd test root (build-root.sh's, booted by run-in-systemd.sh),
# where deb-inside.sh starts, checks and stops the service and reinstalls over an edited
# conffile.
#   tests/systemd/deb-test.sh [SOURCE_DIR]
# Exit 0 passed, 1 failed, 77 skipped (not root, or no systemd-nspawn).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "${1:-$HERE/../..}" && pwd)
say() { printf '[%s] deb-test: %s\n' "$(date +%T.%3N)" "$*"; }
die() { say "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || { say "SKIP: not root: booting systemd in systemd-nspawn needs root"; exit 77; }
command -v systemd-nspawn >/dev/null || { say "SKIP: no systemd-nspawn (package systemd-container)"; exit 77; }
for tool in dpkg-buildpackage dh lintian git; do
        command -v "$tool" >/dev/null || die "$tool missing: scripts/install-deps.sh installs it"
done
ROOT=${SV_SDROOT:-/var/cache/sockvisor-test/root}
"$HERE/build-root.sh" "$ROOT" || die "cannot build the systemd root $ROOT"

W=$(mktemp -d /tmp/sockvisor-deb.XXXXXX)
trap 'rm -rf "$W"' EXIT
# The tree as it is (uncommitted changes too), without what git ignores (build directories).
mkdir -p "$W/src/sockvisor" "$W/files/deps"
git -C "$SRC" ls-files -z --cached --others --exclude-standard |
        tar -C "$SRC" --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$W/src/sockvisor" -xf - ||
        die "cannot copy $SRC"

say "dpkg-buildpackage -us -uc -b in $W/src/sockvisor"
t0=$(date +%s)
if ! (cd "$W/src/sockvisor" && DEB_BUILD_OPTIONS="nocheck parallel=2" nice dpkg-buildpackage -us -uc -b \
        >"$W/build.log" 2>&1); then
        tail -n 40 "$W/build.log"
        die "dpkg-buildpackage failed"
fi
deb=$(ls "$W"/src/sockvisor_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || die "dpkg-buildpackage made no sockvisor_*.deb: $(ls "$W/src")"
say "built ${deb##*/} in $(($(date +%s) - t0)) s"

lint=$(lintian "$deb" 2>&1 | grep -v '^running with root privileges')
[ -n "$lint" ] && say "lintian:" && printf '    %s\n' "$lint"
grep -q '^E:' <<<"$lint" && die "lintian reports errors"
say "lintian: no error"

# The container has no network: dependencies the root lacks go in as .debs, fetched here.
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/[(|].*//; s/ //g' | grep .)
for p in $deps; do
        dpkg --root="$ROOT" -s "$p" >/dev/null 2>&1 && continue
        (cd "$W/files/deps" && apt-get download -q "$p" >/dev/null 2>&1) || die "apt-get download $p failed"
        say "dependency the root lacks, installed with the package: $p"
done
cp "$deb" "$W/files/"

"$HERE/run-in-systemd.sh" -t 240 -r "$ROOT" "$W/files" "$HERE/deb-inside.sh"
rc=$?
case $rc in
0) say "ok: every check inside the container passed" ;;
124) die "the test inside the container hit its limit" ;;
125) die "the container did not boot or gave no result" ;;
*) die "checks inside the container failed (exit $rc)" ;;
esac
