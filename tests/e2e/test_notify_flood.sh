#!/bin/bash
# A local user who is not a program's user floods the notify socket (as user nobody, with
# the address read from a worker's environment, as /proc/net/unix would show it to anyone):
# its datagrams are refused, so the daemon spends next to no CPU on them, and `status` and
# `restart` (whose READY=1 comes through that same socket) keep working. The socket is a
# path in a private directory, removed when the daemon exits. Needs root (setpriv).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
        log "skip: not running as root, cannot run the flood as another user"
        exit 0
fi
id nobody >/dev/null 2>&1 || die "no user 'nobody' on this system"
NOTIFYFLOOD=$BUILD/tests/sv-notifyflood
FLOOD_SECS=5
PORT=$("$FREEPORT")
cat >"$T/sockvisor.ini" <<EOF2
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT

[program:app]
command = $TESTWORKER $T/report
sockets = web
ready = notify
ready_timeout = 10s
stopwaitsecs = 2s
EOF2

cpu_ms() { # PID: user + system time so far, in ms
        awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' "/proc/$1/stat"
}

start_daemon "$T/sockvisor.ini"
wait_state app 10 RUNNING || die "app not RUNNING: $STATE"
worker=$(ctl pid app)
addr=$(tr '\0' '\n' <"/proc/$worker/environ" | sed -n 's/^NOTIFY_SOCKET=//p')
log "NOTIFY_SOCKET=$addr"
case $addr in
/*) pass "NOTIFY_SOCKET is a path" ;;
*) fail "NOTIFY_SOCKET is not a path: $addr" ;;
esac
if [ -S "$addr" ]; then
        dir=$(dirname "$addr")
        [ "$(stat -c %a "$dir")" = 711 ] && [ "$(stat -c %a "$addr")" = 600 ] &&
                pass "its directory is 0711 and the socket 0600" ||
                fail "modes: directory $(stat -c %a "$dir"), socket $(stat -c %a "$addr")"
fi

cpu0=$(cpu_ms "$DAEMON_PID")
setpriv --reuid=65534 --regid=65534 --clear-groups "$NOTIFYFLOOD" "$addr" "$FLOOD_SECS" >"$T/flood.out" 2>&1 &
FLOOD_PID=$!
STARTED_PIDS+=("$FLOOD_PID")
sleep 0.5
t0=$(ms_now)
ctl status >"$T/status.out" 2>&1 && grep -q RUNNING "$T/status.out" &&
        pass "status answers during the flood ($(($(ms_now) - t0)) ms)" || fail "status failed: $(cat "$T/status.out")"
t0=$(ms_now)
timeout 20 "$SOCKVISORCTL" -s "$CTL" restart app >"$T/restart.out" 2>&1 &&
        pass "restart during the flood ($(($(ms_now) - t0)) ms): READY=1 got through" ||
        fail "restart failed during the flood: $(cat "$T/restart.out")"
rc=0
wait "$FLOOD_PID" || rc=$?
cpu1=$(cpu_ms "$DAEMON_PID")
log "flood as nobody for ${FLOOD_SECS}s: $(cat "$T/flood.out")"
log "daemon CPU time (utime+stime) during the flood: $((cpu1 - cpu0)) ms"
grep -q '^sent 0,' "$T/flood.out" && grep -q 'Permission denied' "$T/flood.out" &&
        pass "every datagram from nobody was refused" || fail "nobody reached the notify socket: $(cat "$T/flood.out")"
[ $((cpu1 - cpu0)) -lt 1500 ] && pass "the daemon spent $((cpu1 - cpu0)) ms of CPU in the ${FLOOD_SECS} s flood (bound 1500)" ||
        fail "the daemon spent $((cpu1 - cpu0)) ms of CPU during the ${FLOOD_SECS} s flood"

stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
case $addr in
/*) [ ! -e "$(dirname "$addr")" ] && pass "the notify directory is gone after the exit" ||
        fail "$(dirname "$addr") left behind" ;;
esac
finish
