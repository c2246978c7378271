#!/bin/bash
# sockvisord under a real systemd (252, PID 1 in systemd-nspawn on a Debian 12 root built
# once by tests/systemd/build-root.sh): the shipped sockvisord.socket and the configured
# sockvisord.service, installed with `cmake --install` as a user would, are started,
# reloaded, restarted under load and stopped. The checks are in tests/systemd/inside-test.sh.
#
# Needs root, debootstrap and systemd-container, and the Debian mirror the first time (the
# root is cached in $SV_SDROOT, default /var/cache/sockvisor-test/root). Not root: skipped.
# SV_SD_SOCKET_UNIT=0 runs the service without sockvisord.socket (sockvisord binds 8080).
# SV_SD_KEEP=DIR keeps the container's logs (whole boot journal, runner, nspawn) in DIR.
if [ "$(id -u)" -ne 0 ]; then
        printf '[%s] SKIP: not root: booting systemd in systemd-nspawn needs root\n' "$(date +%T.%3N)"
        exit 0
fi
. "$(dirname "$0")/lib.sh"
SD=$(cd "$(dirname "$0")/../systemd" && pwd)

echo "(sockvisord runs in the container, not here: its journal is in the output above)" >"$T/daemon.log"

# What goes into the container: the install tree, exactly as `cmake --install` lays it out.
mkdir -p "$T/files"
DESTDIR="$T/files/stage" cmake --install "$BUILD" >"$T/install.log" 2>&1 ||
        die "cmake --install $BUILD failed: $(tail -n 5 "$T/install.log")"
# The installed config serves nothing and the demo worker is not installed: the test's own
# config goes where the installed one is, and sockvisor-demo beside sockvisorctl.
conf=$(find "$T/files/stage" -name sockvisor.ini -path '*/sockvisor/*' | head -n 1)
ctl=$(find "$T/files/stage" -name sockvisorctl -type f -perm -u+x | head -n 1)
[ -n "$conf" ] && [ -n "$ctl" ] || die "cmake --install put no sockvisor.ini or sockvisorctl in $T/files/stage"
cp "$SD/nspawn.ini" "$conf"
cp "$DEMO" "$(dirname "$ctl")/sockvisor-demo"
cp "$LOADCLIENT" "$T/files/sv-loadclient"
echo "SOCKET_UNIT=${SV_SD_SOCKET_UNIT:-1}" >"$T/files/settings"

# Libraries the binaries need that the root lacks (libasan, libubsan of a sanitizer build):
# the host's copies, read-only. Host and root are both Debian 12.
ROOT=${SV_SDROOT:-/var/cache/sockvisor-test/root}
"$SD/build-root.sh" "$ROOT" || die "cannot build the systemd root $ROOT (see above)"
binds=()
for lib in $(find "$T/files" -type f -perm -u+x -exec ldd {} + 2>/dev/null |
        awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u); do
        [ -e "$ROOT$lib" ] && continue
        binds+=("--bind-ro=$(readlink -f "$lib"):$(readlink -f "$(dirname "$lib")")/$(basename "$lib")")
done
if [ ${#binds[@]} -gt 0 ]; then
        log "host libraries bound into the container: $(printf '%s ' "${binds[@]}" | sed 's/--bind-ro=//g')"
fi
# The sanitizer options of CI's second pass reach the service through a drop-in.
san=
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
        if [ -n "${!v:-}" ]; then san+="$v=${!v} "; fi
done
echo "SANITIZER_ENV='${san% }'" >>"$T/files/settings"

log "booting systemd in systemd-nspawn (root $ROOT)"
rc=0
"$SD/run-in-systemd.sh" -t 150 -r "$ROOT" -o "$T/out" "$T/files" "$SD/inside-test.sh" -- "${binds[@]}" || rc=$?
# lib.sh prints daemon.log on failure: the container's boot state and failed units.
cp "$T/out/runner.log" "$T/daemon.log" 2>/dev/null || true
if [ -n "${SV_SD_KEEP:-}" ]; then mkdir -p "$SV_SD_KEEP" && cp -a "$T/out/." "$SV_SD_KEEP/"; fi
case $rc in
0) pass "every check inside the container passed" ;;
124) fail "the test inside the container hit its 150 s limit" ;;
125) fail "the container did not boot or gave no result (run-in-systemd.sh exit 125)" ;;
*) fail "checks inside the container failed (exit $rc)" ;;
esac
finish
