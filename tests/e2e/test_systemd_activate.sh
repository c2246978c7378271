#!/bin/bash
# sockvisord started by systemd-socket-activate, which binds the port and passes it in as
# fd 3 named "web": sockvisord adopts it and binds nothing itself (the port is taken by
# the activator, so a bind would fail), a restart under load has 0 failed requests, a
# passed fd no section names is closed with a warning, and a passed fd that does not
# match its section's listen= is refused with a clear error.
. "$(dirname "$0")/lib.sh"

command -v systemd-socket-activate >/dev/null || die "systemd-socket-activate not installed (package systemd)"
ports=($("$FREEPORT" -n 3))
PORT=${ports[0]} OTHER=${ports[1]} WRONG=${ports[2]}
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

# The activator execs sockvisord when the first connection arrives; curl is that client.
systemd-socket-activate -l "127.0.0.1:$PORT" -l "127.0.0.1:$OTHER" --fdname=web:stray \
        "$SOCKVISORD" -c "$T/sockvisor.ini" >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$! # the activator execs sockvisord in place: same pid
body=$(curl -s --max-time 10 --retry 20 --retry-delay 0 --retry-connrefused "http://127.0.0.1:$PORT/")
[[ "$body" == pid=* ]] && pass "the first client was served through the passed socket: $body" || die "no answer: '$body'"
wait_for_daemon
grep -q "socket 'web': adopted fd 3 from the service manager" "$T/daemon.log" && pass "socket 'web' adopted, not bound" ||
        fail "no adoption in the log"
grep -q "listening on tcp://127.0.0.1:$PORT" "$T/daemon.log" && fail "sockvisord bound the port itself" ||
        pass "sockvisord bound nothing itself"
grep -q "passed in as 'stray', but no \[socket:stray\] section names it; closing it" "$T/daemon.log" &&
        pass "the stray fd is reported and closed" || fail "the stray fd was not reported"
# the activator became sockvisord (exec), so once the stray fd is closed nobody listens there
curl -s --max-time 2 "http://127.0.0.1:$OTHER/" >/dev/null && fail "the stray socket is still listening" ||
        pass "the stray socket is closed: its port refuses connections"
ino=$(ctl sockets | awk '$1 == "web" { print $4 }')
worker_ino=$(readlink "/proc/$(ctl pid app)/fd/3" | tr -dc 0-9)
[ -n "$ino" ] && [ "$ino" = "$worker_ino" ] && pass "the worker got the adopted socket (inode $ino)" ||
        fail "worker socket $worker_ino, held $ino"

"$LOADCLIENT" -p "$PORT" -c 16 -d 4 >"$T/load.out" 2>"$T/load.err" &
LOAD_PID=$!
STARTED_PIDS+=("$LOAD_PID")
sleep 0.3
ok=0
for i in 1 2 3; do
        ctl restart app >"$T/restart.$i" 2>&1 && ok=$((ok + 1))
        sleep 0.5
done
load_rc=0
wait "$LOAD_PID" || load_rc=$?
log "load: $(cat "$T/load.out")"
[ "$ok" = 3 ] && pass "3 restarts exited 0" || fail "only $ok of 3 restarts exited 0"
[ "$load_rc" = 0 ] && grep -q ' failed=0 ' "$T/load.out" && pass "0 failed requests on the adopted socket" ||
        fail "requests failed: $(cat "$T/load.out" "$T/load.err")"
stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"

# A passed fd whose address is not the section's listen= is refused, naming both.
sed "s|127.0.0.1:$PORT|127.0.0.1:$WRONG|" "$T/sockvisor.ini" >"$T/wrong.ini"
rc=0
out=$(timeout 20 systemd-socket-activate -l "127.0.0.1:$PORT" --fdname=web "$SOCKVISORD" -c "$T/wrong.ini" 2>&1 &
        curl -s --max-time 5 --retry 10 --retry-delay 0 --retry-connrefused "http://127.0.0.1:$PORT/" >/dev/null; wait $!) || rc=$?
grep -q "socket 'web': the service manager passed tcp://127.0.0.1:$PORT under this name, but listen = tcp://127.0.0.1:$WRONG" <<<"$out" &&
        [ "$rc" != 0 ] && pass "a mismatched fd is refused (exit $rc): $(grep "passed tcp" <<<"$out" | sed 's/.*error: //')" ||
        fail "mismatch not refused (rc $rc): $out"
finish
