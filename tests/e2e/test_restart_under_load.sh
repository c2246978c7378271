#!/bin/bash
# Restarts under load: 16 concurrent connect-request-close clients for 8 s while the
# program is restarted 6 times. No request may fail, more than one worker must have
# answered, every restart must exit 0, and no zombie may be left.
. "$(dirname "$0")/lib.sh"

PORT=$("$FREEPORT")
cat >"$T/sockvisor.ini" <<EOF
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT

[program:app]
command = $DEMO
sockets = web
ready = notify
ready_timeout = 10s
stopwaitsecs = 10s
EOF

start_daemon "$T/sockvisor.ini"
first=$(http_get "$PORT")
case "$first" in
pid=*) pass "demo answers: $first" ;;
*) die "demo does not answer on 127.0.0.1:$PORT: '$first'" ;;
esac
fds_before=$(fd_count "$DAEMON_PID")

"$LOADCLIENT" -p "$PORT" -c 16 -d 8 >"$T/load.out" 2>"$T/load.err" &
LOAD_PID=$!
STARTED_PIDS+=("$LOAD_PID")

sleep 0.5
restarts_ok=0
for i in 1 2 3 4 5 6; do
        if ctl restart app >"$T/restart.$i" 2>&1; then
                restarts_ok=$((restarts_ok + 1))
        else
                fail "restart $i exited non-zero: $(cat "$T/restart.$i")"
        fi
        z=$(zombies_of "$DAEMON_PID")
        [ -z "$z" ] || fail "zombie children of sockvisord after restart $i: $z"
        sleep 0.8
done
load_rc=0
wait "$LOAD_PID" || load_rc=$?
summary=$(cat "$T/load.out")
log "load: $summary"
sed 's/^/    /' "$T/load.err"
log "last restart said:"
sed 's/^/    /' "$T/restart.6"

[ "$restarts_ok" -eq 6 ] && pass "6 restarts exited 0" || fail "only $restarts_ok of 6 restarts exited 0"
failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$summary")
ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$summary")
pids=$(sed -n 's/.* pids=\([0-9]*\).*/\1/p' <<<"$summary")
[ "$load_rc" -eq 0 ] && [ "${failed:-x}" = 0 ] && pass "0 failed requests out of $ok" ||
        fail "load client reported failures (rc $load_rc): $summary"
[ "${ok:-0}" -gt 1000 ] && pass "$ok requests served" || fail "too few requests served: $ok"
[ "${pids:-0}" -ge 2 ] && pass "$pids distinct worker pids answered" || fail "only ${pids:-0} worker pid(s) answered"
grep -q "ready after" "$T/restart.6" && grep -q "exited after" "$T/restart.6" && grep -q "restart done in" "$T/restart.6" &&
        pass "restart reports each step with its duration" || fail "restart output lacks its steps"

# Exactly one worker remains, of the last generation, and nothing is left over.
kids=$(children_of "$DAEMON_PID")
nkids=$(grep -c . <<<"$kids" || true)
[ "$nkids" -eq 1 ] && pass "one worker left after the restarts" || fail "expected 1 child of sockvisord, found: $kids"
gen=$(ctl status | awk '$1 == "app" { print $4 }')
[ "$gen" = 7 ] && pass "status shows generation 7" || fail "status shows generation '$gen', expected 7"
fds_after=$(fd_count "$DAEMON_PID")
[ "$fds_after" -eq "$fds_before" ] && pass "daemon fd count unchanged ($fds_after)" ||
        fail "daemon fd count changed: $fds_before before, $fds_after after"

worker=$(ctl pid app)
stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "SIGTERM: sockvisord exited 0" || fail "SIGTERM: sockvisord exited $DAEMON_RC"
kill -0 "$worker" 2>/dev/null && fail "worker $worker survived the daemon's shutdown" || pass "worker stopped with the daemon"
[ ! -e "$CTL" ] && pass "control socket removed" || fail "control socket $CTL left behind"
finish
