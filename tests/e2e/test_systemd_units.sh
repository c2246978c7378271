#!/bin/bash
# The shipped units pass systemd-analyze verify. The service unit is the one CMake
# configured; its ExecStart paths point at the install location, so for verify (which
# checks that the binaries exist) they are pointed at this build's binaries.
. "$(dirname "$0")/lib.sh"

command -v systemd-analyze >/dev/null || die "systemd-analyze not installed (package systemd)"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
unit=$BUILD/systemd/sockvisord.service
[ -f "$unit" ] || die "$unit was not configured by CMake"
grep -q '^ExecStart=/.*/sockvisord -c /.*/sockvisor/sockvisor.ini$' "$unit" && pass "ExecStart has the install paths filled in" ||
        fail "ExecStart not configured: $(grep ExecStart= "$unit")"
grep -q '@' "$unit" && fail "unsubstituted @VAR@ left in $unit" || pass "no @VAR@ left"
mkdir -p "$T/units"
sed "s|^\(ExecStart[A-Za-z]*=\)[^ ]*/sockvisord|\1$SOCKVISORD|" "$unit" >"$T/units/sockvisord.service"
cp "$SRC/systemd/sockvisord.socket" "$T/units/"
out=$(cd "$T/units" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no ./sockvisord.service ./sockvisord.socket 2>&1)
rc=$?
# verify also lints units it pulls in from the host; only lines about ours count
ours=$(grep -E 'sockvisord\.(service|socket)' <<<"$out" || true)
[ "$rc" = 0 ] && [ -z "$ours" ] && pass "systemd-analyze verify accepts sockvisord.service and sockvisord.socket" ||
        fail "systemd-analyze verify (rc $rc): $out"
grep -q '^Type=notify' "$unit" && grep -q '^FileDescriptorStoreMax=' "$unit" && grep -q '^KillMode=mixed' "$unit" &&
        grep -q '^ExecReload=' "$unit" && grep -q '^RuntimeDirectory=' "$unit" &&
        pass "Type=notify, ExecReload, KillMode=mixed, FileDescriptorStoreMax, RuntimeDirectory are set" ||
        fail "a required setting is missing from the service unit"
grep -q '^FileDescriptorName=web' "$SRC/systemd/sockvisord.socket" && pass "the socket unit names its fd 'web'" ||
        fail "the socket unit has no FileDescriptorName="
finish
