#!/bin/bash
# Runs INSIDE the container booted by run-in-systemd.sh (systemd 252 is PID 1), as root, in
# /lab/files, which holds sockvisor_*.deb and deps/ (the .debs of its dependencies that the
# root lacks: the container has no network). Installs the package as a user would, checks
# the service it enabled and started, that an edited conffile survives a reinstall, and
# stops the service. Run by deb-test.sh.
set -uo pipefail
FAILURES=0
log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*"; }
fail() { log "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
pass() { log "ok: $*"; }
check() { # DESCRIPTION COMMAND...
        local what=$1
        shift
        if "$@"; then pass "$what"; else fail "$what"; fi
}
on_exit() {
        if [ "$FAILURES" -ne 0 ]; then
                systemctl --no-pager -l status sockvisord.service 2>&1 | sed 's/^/    /'
                journalctl --no-pager -o short-precise -u sockvisord.service 2>&1 | tail -n 40 | sed 's/^/    /'
        fi
}
trap on_exit EXIT
export DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin
deb=$(ls ./sockvisor_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { log "FATAL: no sockvisor_*.deb in $PWD"; exit 1; }
CONF=/etc/sockvisor/sockvisor.ini

# --- install: the dependencies the root lacks come as files too ---
if ! timeout 120 apt-get install -y -q ./deps/*.deb "$deb" >install.log 2>&1 </dev/null; then
        log "FATAL: apt-get install failed:"
        tail -n 20 install.log
        exit 1
fi
pass "apt-get install $deb"
check "the service is enabled ($(systemctl is-enabled sockvisord.service))" \
        [ "$(systemctl is-enabled sockvisord.service)" = enabled ]
check "the socket unit is not enabled ($(systemctl is-enabled sockvisord.socket))" \
        [ "$(systemctl is-enabled sockvisord.socket)" = disabled ]
check "$CONF is a conffile" grep -qx "$CONF" /var/lib/dpkg/info/sockvisor.conffiles
check "the man pages are installed" test -f /usr/share/man/man8/sockvisord.8.gz -a \
        -f /usr/share/man/man1/sockvisorctl.1.gz -a -f /usr/share/man/man5/sockvisor.ini.5.gz
check "no demo binary in the package" test ! -e /usr/bin/sockvisor-demo

# --- start, status ---
timeout 30 systemctl start sockvisord.service || fail "systemctl start sockvisord failed"
check "sockvisord.service is active ($(systemctl is-active sockvisord.service))" systemctl -q is-active sockvisord.service
out=$(timeout 10 sockvisorctl status 2>&1)
rc=$?
check "sockvisorctl status answers (exit $rc): $out" [ "$rc" -eq 0 ]

# --- an edited conffile survives a reinstall, and is the one in use ---
printf '\n; edited by the operator\n[socket:edited]\nlisten = tcp://127.0.0.1:8099\n' >>"$CONF"
cp "$CONF" edited.ini
timeout 30 systemctl reload sockvisord.service || fail "systemctl reload sockvisord failed"
if ! timeout 120 apt-get install -y -q --reinstall "$deb" >reinstall.log 2>&1 </dev/null; then
        fail "apt-get install --reinstall failed: $(tail -n 20 reinstall.log)"
fi
check "the edited $CONF survives the reinstall" cmp -s "$CONF" edited.ini
check "sockvisord.service is active after the reinstall" systemctl -q is-active sockvisord.service
out=$(timeout 10 sockvisorctl sockets 2>&1)
check "the running daemon holds the edited config's socket 127.0.0.1:8099: $out" grep -q '127.0.0.1:8099' <<<"$out"

# --- stop ---
timeout 60 systemctl stop sockvisord.service || fail "systemctl stop sockvisord failed"
check "sockvisord.service is inactive after stop ($(systemctl is-active sockvisord.service))" \
        [ "$(systemctl is-active sockvisord.service)" = inactive ]
left=$(pgrep -a -x sockvisord)
check "no sockvisord process left${left:+: $left}" [ -z "$left" ]
log "$FAILURES failed"
[ "$FAILURES" -eq 0 ]
