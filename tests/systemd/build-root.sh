#!/bin/bash
# Builds (once) the Debian 12 root that tests/systemd/run-in-systemd.sh boots with
# systemd-nspawn: debootstrap minbase + systemd as PID 1, getty and timers masked, and a
# lab-runner.service that runs /lab/runner once boot has finished.
#
#   tests/systemd/build-root.sh [ROOT]     (default $SV_SDROOT, else /var/cache/sockvisor-test/root)
#
# Reused when ROOT/.sockvisor-root holds this recipe's version; built into ROOT.new and
# renamed, under a lock, so a killed or concurrent build never leaves a half root behind.
# Needs root, debootstrap and systemd-container. The mirror is the main Debian archive
# from the host's apt sources; override with SV_SDROOT_MIRROR=URL.
# Exit: 0 ready, 1 could not build (the reason is printed).
set -euo pipefail

ROOT_VERSION="sockvisor-sdroot 1: bookworm minbase systemd,systemd-sysv,dbus,procps,iproute2,curl,libinih1"
PACKAGES=systemd,systemd-sysv,dbus,procps,iproute2,curl,libinih1
ROOT=${1:-${SV_SDROOT:-/var/cache/sockvisor-test/root}}

say() { printf '[%s] build-root: %s\n' "$(date +%T.%3N)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

root_ready() { [ "$(cat "$ROOT/.sockvisor-root" 2>/dev/null)" = "$ROOT_VERSION" ]; }

root_ready && exit 0

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, systemd-nspawn)"
for tool in debootstrap:debootstrap systemd-nspawn:systemd-container timeout:coreutils curl:curl flock:util-linux; do
        command -v "${tool%%:*}" >/dev/null ||
                die "'${tool%%:*}' is missing: apt-get install -y --no-install-recommends ${tool#*:} (scripts/install-deps.sh)"
done

# The main archive (not -security) from the deb822 sources, else from sources.list.
find_mirror() {
        local f=/etc/apt/sources.list.d/debian.sources
        if [ -r "$f" ]; then
                awk 'BEGIN { RS = ""; FS = "\n" }
                     { uri = ""; suites = ""
                       for (i = 1; i <= NF; i++) {
                               if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
                               if ($i ~ /^Suites:/) suites = $i
                       }
                       if (uri != "" && suites ~ /[ \t]bookworm([ \t]|$)/) { print uri; exit } }' "$f"
        fi
        if [ -r /etc/apt/sources.list ]; then
                awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) break
                                   if ($(i + 1) == "bookworm") { print $i; exit } }' /etc/apt/sources.list
        fi
}

mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock -w 900 9 || die "another build of $ROOT holds $ROOT.lock for 15 min"
root_ready && exit 0 # built by whoever held the lock

MIRROR=${SV_SDROOT_MIRROR:-$(find_mirror | head -n 1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MIRROR=${MIRROR%/}
say "building $ROOT from $MIRROR (one time, about 1 min)"
curl -fsS --max-time 20 -o /dev/null "$MIRROR/dists/bookworm/Release" ||
        die "Debian mirror $MIRROR not reachable (GET dists/bookworm/Release failed); set SV_SDROOT_MIRROR=URL"

NEW=$ROOT.new
rm -rf "$NEW" "$ROOT"
t0=$(date +%s)
rc=0
timeout -k 10 600 debootstrap --variant=minbase --include="$PACKAGES" \
        bookworm "$NEW" "$MIRROR" >"$ROOT.debootstrap.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
        say "debootstrap failed (exit $rc$([ $rc = 124 ] && echo ', hit the 600 s limit')); last lines:"
        tail -n 20 "$ROOT.debootstrap.log" | sed 's/^/    /' >&2
        tail -n 20 "$NEW/debootstrap/debootstrap.log" 2>/dev/null | sed 's/^/    /' >&2 || true
        rm -rf "$NEW"
        exit 1
fi
say "debootstrap done in $(($(date +%s) - t0)) s"

# Empty machine-id: every boot gets a transient one (and "first boot" is not triggered).
: >"$NEW/etc/machine-id"
# Nothing that is not needed: no getty (there is no console), no periodic jobs.
for u in console-getty.service getty@tty1.service serial-getty@console.service \
        apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
        e2scrub_reap.service fstrim.timer systemd-tmpfiles-clean.timer; do
        ln -sf /dev/null "$NEW/etc/systemd/system/$u"
done
rm -f "$NEW"/var/cache/apt/archives/*.deb "$NEW"/var/cache/apt/*.bin

# The runner: run-in-systemd.sh writes /lab/runner for each run.
cat >"$NEW/etc/systemd/system/lab-runner.service" <<'EOF'
[Unit]
Description=sockvisor test runner (/lab/runner, written by run-in-systemd.sh)
After=multi-user.target
ConditionPathExists=/lab/runner

[Service]
Type=simple
ExecStart=/bin/bash /lab/runner
StandardOutput=journal
StandardError=journal

[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$NEW/etc/systemd/system/multi-user.target.wants"
ln -sf ../lab-runner.service "$NEW/etc/systemd/system/multi-user.target.wants/lab-runner.service"
mkdir -p "$NEW/lab"

echo "$ROOT_VERSION" >"$NEW/.sockvisor-root"
mv "$NEW" "$ROOT"
say "root ready: $ROOT ($(du -sh "$ROOT" 2>/dev/null | cut -f1)) in $(($(date +%s) - t0)) s"
