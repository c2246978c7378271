#!/bin/bash
# A flood of control connections that never make a request (1,500 silent, 200 with half a
# line, re-opened as fast as the daemon closes them) does not lock the operator out:
# `status` answers quickly while it holds, a stream (events) already under way is neither
# dropped nor timed out, the log lines about it stay few ("suppressed N"), and the daemon's
# fds are back to where they were soon after. Then the timeouts themselves: a silent
# connection is closed after 5 s, a half line after 10 s. Last, an idle daemon does not wake.
. "$(dirname "$0")/lib.sh"

CTLFLOOD=$BUILD/tests/sv-ctlflood
PORT=$("$FREEPORT")
cat >"$T/sockvisor.ini" <<EOF
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT

[program:app]
command = $TESTWORKER $T/report
sockets = web
ready = notify
ready_timeout = 5s
stopwaitsecs = 2s
EOF

start_daemon "$T/sockvisor.ini"
wait_state app 10 RUNNING || die "app not RUNNING: $STATE"
ctl events >"$T/events.out" 2>&1 &
EVENTS_PID=$!
STARTED_PIDS+=("$EVENTS_PID")
for _ in $(seq 1 50); do [ -s "$T/events.out" ] && break; sleep 0.1; done
base=$(fd_count "$DAEMON_PID") # with the events stream's connection
log "daemon fds before the flood: $base"

"$CTLFLOOD" -r "$CTL" 1500 200 8 >"$T/flood.out" 2>&1 &
FLOOD_PID=$!
STARTED_PIDS+=("$FLOOD_PID")
for _ in $(seq 1 150); do grep -q '^opened' "$T/flood.out" && break; sleep 0.1; done
grep -q '^opened' "$T/flood.out" || die "the flood did not get its connections open in 15 s: $(cat "$T/flood.out")"
log "flood: $(head -n 1 "$T/flood.out"); daemon fds now $(fd_count "$DAEMON_PID")"

worst=0 answered=0
for k in 1 2 3 4 5; do
        t0=$(ms_now)
        if ctl status >"$T/status.out" 2>&1 && grep -q RUNNING "$T/status.out"; then
                ms=$(($(ms_now) - t0))
                log "status during the flood ($k): ${ms} ms"
                [ "$ms" -gt "$worst" ] && worst=$ms
                answered=$((answered + 1))
        else
                fail "status failed during the flood: $(cat "$T/status.out")"
        fi
        sleep 0.5
done
[ "$answered" = 5 ] && [ "$worst" -lt 2000 ] && pass "status answers during the flood: slowest of 5 took ${worst} ms (bound 2000)" ||
        fail "status answered $answered of 5 times during the flood, the slowest in ${worst} ms"

rc=0
wait "$FLOOD_PID" || rc=$?
sed 's/^/    /' "$T/flood.out"
[ "$rc" = 0 ] && pass "the flood opened all 1,700 connections" || fail "the flood could not open its connections (rc $rc)"
grep -q '^re-opened [1-9]' "$T/flood.out" && pass "the daemon made room by closing flood connections" ||
        fail "no flood connection was closed to make room"

back=
for k in $(seq 1 150); do
        n=$(fd_count "$DAEMON_PID")
        [ "$n" -le "$base" ] && { back=$k; break; }
        sleep 0.1
done
[ -n "$back" ] && pass "daemon fds back to $base within $((back * 100)) ms of the flood's end" ||
        fail "daemon fds $(fd_count "$DAEMON_PID") 15 s after the flood, $base before"

kill -0 "$EVENTS_PID" 2>/dev/null && pass "the events stream outlived the flood and the 5 s idle timeout" ||
        fail "the events stream was dropped: $(tail -n 3 "$T/events.out")"
ctl restart app >/dev/null 2>&1 || fail "restart after the flood failed"
for _ in $(seq 1 50); do grep -q 'STARTING' "$T/events.out" && break; sleep 0.1; done
grep -q 'STARTING' "$T/events.out" && pass "the events stream still reports (the restart's STARTING)" ||
        fail "no event from the restart: $(tail -n 3 "$T/events.out")"

lines=$(grep -c 'control: ' "$T/daemon.log" || true)
log "control warnings logged during the flood: $lines; e.g. $(grep -m 1 'suppressed' "$T/daemon.log" || true)"
[ "$lines" -lt 40 ] && pass "the flood's log lines are rate-limited ($lines lines)" || fail "$lines control warnings logged"
grep -q 'suppressed [0-9]* messages' "$T/daemon.log" && pass "the rate limit says how many it held back" ||
        fail "no 'suppressed N messages' line"

# The timeouts, one connection of each kind, nothing else going on.
"$CTLFLOOD" "$CTL" 1 1 12 >"$T/timeouts.out" 2>&1 || true
sed 's/^/    /' "$T/timeouts.out"
read -r idle_ms < <(awk '/^idle:/ { print $(NF - 1) }' "$T/timeouts.out")
read -r half_ms < <(awk '/^half-line:/ { print $(NF - 1) }' "$T/timeouts.out")
[ "${idle_ms:-0}" -ge 4500 ] && [ "${idle_ms:-0}" -le 7000 ] && pass "a silent connection is closed after ${idle_ms} ms (5 s)" ||
        fail "silent connection closed after ${idle_ms:-never} ms, not about 5 s"
[ "${half_ms:-0}" -ge 9500 ] && [ "${half_ms:-0}" -le 12000 ] && pass "a half line is closed after ${half_ms} ms (10 s)" ||
        fail "half-line connection closed after ${half_ms:-never} ms, not about 10 s"

# Idle means idle: once the last connection has its answer, no timeout timer stays due (it
# was left armed for a deadline that no longer applied, and woke the daemon 5 s later).
kill "$EVENTS_PID" 2>/dev/null || true
wait "$EVENTS_PID" 2>/dev/null || true
ctl status >/dev/null 2>&1 || fail "status before the idle check failed"
sleep 0.5
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'; }
s0=$(switches "$DAEMON_PID")
sleep 6
s1=$(switches "$DAEMON_PID")
[ "$s1" = "$s0" ] && pass "idle daemon: 0 wakeups in the 6 s after the last command (its 5 s deadline included)" ||
        fail "idle daemon woke $((s1 - s0)) times in the 6 s after the last command"

stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
finish
