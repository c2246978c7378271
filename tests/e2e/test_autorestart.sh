#!/bin/bash
# A worker that dies unexpectedly (SIGKILL, a crash) is started again on the same socket,
# at once since it had been ready; clients only wait in the accept queue meanwhile.
. "$(dirname "$0")/lib.sh"

PORT=$("$FREEPORT")
cat >"$T/sockvisor.ini" <<EOF2
[sockvisord]
control = $CTL
[socket:web]
listen = tcp://127.0.0.1:$PORT
[program:app]
command = $DEMO
sockets = web
ready = notify
EOF2
start_daemon "$T/sockvisor.ini"
first=$(ctl pid app)
"$LOADCLIENT" -p "$PORT" -c 8 -d 3 >"$T/load.out" 2>"$T/load.err" &
LOAD_PID=$!
STARTED_PIDS+=("$LOAD_PID")
sleep 0.5
kill -KILL "$first"
new=
for _ in $(seq 1 50); do
        new=$(ctl pid app)
        [ "$new" != 0 ] && [ "$new" != "$first" ] && ctl status | grep -q RUNNING && break
        sleep 0.1
done
[ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$first" ] && pass "pid $first killed; pid $new took over" ||
        fail "no new worker after SIGKILL (pid now '$new')"
grep -q "exited with signal KILL" "$T/daemon.log" && pass "the log names the cause" || fail "the log does not say how the worker died"
[[ "$(http_get "$PORT")" == "pid=$new "* ]] && pass "the new worker answers" || fail "the new worker does not answer"
load_rc=0
wait "$LOAD_PID" || load_rc=$?
log "load: $(cat "$T/load.out")"
# Connections accepted by the killed worker die with it (reset); new ones wait in the queue.
reset=$(sed -n 's/.* reset=\([0-9]*\).*/\1/p' "$T/load.out")
refused=$(sed -n 's/.* refused=\([0-9]*\).*/\1/p' "$T/load.out")
[ "${refused:-x}" = 0 ] && pass "no connection refused while the worker was replaced (reset by the kill: $reset)" ||
        fail "connections were refused: $(cat "$T/load.out")"
[ -z "$(zombies_of "$DAEMON_PID")" ] && pass "no zombies" || fail "zombies left"
stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
finish
