#!/bin/bash
# A control client that half-closes (shutdown(SHUT_WR)) after its request still gets every
# reply line and the final OK/ERR: EOF on the daemon's read side only means the client is
# done sending. Checked for an immediate answer (status, version) and a waiting one (stop of
# a worker that ignores SIGTERM, so the daemon waits stopwaitsecs and sends progress). A
# client that half-closes before a complete request gets an ERR saying so. A client that
# goes away entirely during a waiting command does not hurt the daemon or the command.
. "$(dirname "$0")/lib.sh"

CTLRAW=$BUILD/tests/sv-ctlraw

cat >"$T/sockvisor.ini" <<EOF
[sockvisord]
control = $CTL

[program:slow]
command = $TESTWORKER --ignore-term $T/slow.report
ready = notify
stopwaitsecs = 1s
EOF

start_daemon "$T/sockvisor.ini"
wait_for_file "$T/slow.report" || die "slow wrote no report"
wait_state slow 5 RUNNING || die "slow is '$STATE', not RUNNING"
track "$(report_field "$T/slow.report" pid)"

# raw NAME ARGS...: runs sv-ctlraw, output in $T/NAME.out, exit status in RC.
raw() {
        local name=$1
        shift
        RC=0
        "$CTLRAW" "$@" >"$T/$name.out" 2>"$T/$name.err" || RC=$?
}
show() { sed 's/^/    /' "$T/$1.out" "$T/$1.err"; }

# --- immediate answers ---
for how in open half; do
        flag=
        [ "$how" = half ] && flag=-H
        raw "status-$how" $flag -t 5000 "$CTL" "SOCKVISOR/1 status"
        if [ "$RC" = 0 ] && [ "$(tail -n 1 "$T/status-$how.out")" = OK ] &&
                grep -q '^| .*slow .*RUNNING' "$T/status-$how.out"; then
                pass "status ($how client): its rows and the final OK"
        else
                fail "status ($how client): exit $RC, expected the rows and OK:"
                show "status-$how"
        fi
        raw "version-$how" $flag -t 5000 "$CTL" "SOCKVISOR/1 version"
        if [ "$RC" = 0 ] && grep -q '^OK sockvisord ' "$T/version-$how.out"; then
                pass "version ($how client): $(cat "$T/version-$how.out")"
        else
                fail "version ($how client): exit $RC, expected 'OK sockvisord ...':"
                show "version-$how"
        fi
done

# --- a waiting command: stop takes stopwaitsecs (1s), then SIGKILL ---
# CPU ticks the daemon used so far: a half-closed socket stays readable (EOF) forever, and
# a daemon that keeps polling for it spins through the whole wait.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }
w=$(report_field "$T/slow.report" pid)
t0=$(ms_now)
c0=$(cpu_ticks)
raw stop-half -H -t 10000 "$CTL" "SOCKVISOR/1 stop slow"
ms=$(($(ms_now) - t0))
ticks=$(($(cpu_ticks) - c0))
if [ "$RC" = 0 ] && grep -q '^OK stop done' "$T/stop-half.out" && grep -q '^\. ' "$T/stop-half.out"; then
        pass "stop (half-closed client): progress lines and 'OK stop done' after ${ms} ms"
else
        fail "stop (half-closed client): exit $RC after ${ms} ms, expected progress and 'OK stop done':"
        show stop-half
fi
[ "$ms" -ge 900 ] && pass "the stop really waited (${ms} ms, stopwaitsecs = 1s)" ||
        fail "stop answered after ${ms} ms; it should have waited about 1s for SIGKILL"
wait_gone "$w" 5 && pass "worker $w is gone" || fail "worker $w still exists after the stop"
[ "$ticks" -lt 30 ] && pass "the daemon idled while it waited ($ticks CPU ticks of $(getconf CLK_TCK)/s)" ||
        fail "the daemon used $ticks CPU ticks during a 1s wait: it spins on the half-closed socket"

# --- half-closed before the request was complete ---
raw partial -H -n -t 5000 "$CTL" "SOCKVISOR/1 status"
if [ "$RC" = 0 ] && grep -q '^ERR .*incomplete' "$T/partial.out"; then
        pass "a request cut short by a half-close: $(cat "$T/partial.out")"
else
        fail "a request cut short by a half-close: exit $RC, expected 'ERR ... incomplete ...':"
        show partial
fi
raw empty -H -n -t 5000 "$CTL" ""
if [ "$RC" = 0 ] && grep -q '^ERR .*incomplete' "$T/empty.out"; then
        pass "a half-close with no request at all: $(cat "$T/empty.out")"
else
        fail "a half-close with no request at all: exit $RC, expected 'ERR ... incomplete ...':"
        show empty
fi

# --- a client that goes away entirely while its command waits ---
ctl start slow >/dev/null 2>&1 || fail "start slow failed"
wait_state slow 5 RUNNING || fail "slow is '$STATE', not RUNNING after start"
w=$(ctl pid slow)
track "$w"
raw gone -t 300 "$CTL" "SOCKVISOR/1 stop slow" # gives up (exit 3) and closes while the stop waits
[ "$RC" = 3 ] && pass "a client left during the stop" || fail "the client did not time out (exit $RC)"
wait_gone "$w" 5 && pass "the stop went on without its client: worker $w is gone" ||
        fail "worker $w still exists 5s after its stop began"
wait_state slow 5 STOPPED && pass "slow is STOPPED" || fail "slow is '$STATE', expected STOPPED"
raw after -H -t 5000 "$CTL" "SOCKVISOR/1 version"
[ "$RC" = 0 ] && pass "the daemon still answers afterwards" || { fail "no answer afterwards (exit $RC)"; show after; }
kill -0 "$DAEMON_PID" 2>/dev/null && pass "sockvisord is alive" || fail "sockvisord died"

stop_daemon
finish
