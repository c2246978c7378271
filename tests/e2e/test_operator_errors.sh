#!/bin/bash
# What an operator sees when something is wrong: config check, bind failures, unix socket
# hygiene (lock, live-listener probe, stale file, mode), the control socket's mode and peer
# check, and sockvisorctl with no daemon. Every message must say what and where.
. "$(dirname "$0")/lib.sh"

ports=($("$FREEPORT" -n 2))
PORT=${ports[0]} BUSY=${ports[1]}

# --- -t: check a config and exit ---
cat >"$T/good.ini" <<EOF
[sockvisord]
control = $CTL
[socket:web]
listen = tcp://127.0.0.1:$PORT
[program:app]
command = $DEMO
sockets = web
EOF
out=$("$SOCKVISORD" -t -c "$T/good.ini" 2>&1) && grep -q "configuration OK" <<<"$out" &&
        pass "-t accepts a good file: $out" || fail "-t on a good file: $out"

printf '[sockvisord]\ncontrol = %s\n[program:app]\ncommand = %s\nsockets = nope\nstartsecs = 5 seconds\n' "$CTL" "$DEMO" >"$T/bad.ini"
rc=0
out=$("$SOCKVISORD" -t -c "$T/bad.ini" 2>&1) || rc=$?
[ "$rc" = 78 ] && grep -q "bad.ini:6: \[program:app\] startsecs" <<<"$out" &&
        pass "-t rejects a bad value with exit 78 and file:line: $out" || fail "-t on a bad file (rc $rc): $out"
sed -i '/startsecs/d' "$T/bad.ini"
rc=0
out=$("$SOCKVISORD" -c "$T/bad.ini" 2>&1) || rc=$?
[ "$rc" = 78 ] && grep -q "bad.ini:5: \[program:app\] sockets: no \[socket:nope\]" <<<"$out" && [ ! -e "$CTL" ] &&
        pass "the daemon refuses to start on a config error (78): $out" || fail "daemon on a bad file (rc $rc): $out"

# --- bind failure: the port is taken by someone else ---
cat >"$T/busy.ini" <<EOF
[sockvisord]
control = $CTL
[socket:web]
listen = tcp://127.0.0.1:$BUSY
[program:app]
command = $DEMO
sockets = web
EOF
# Hold the port with a first sockvisord, then start a second on the same port.
start_daemon "$T/busy.ini"
cp "$T/busy.ini" "$T/busy2.ini"
sed -i "s|$CTL|$T/control2.sock|" "$T/busy2.ini"
rc=0
out=$(timeout 10 "$SOCKVISORD" -c "$T/busy2.ini" 2>&1) || rc=$?
[ "$rc" = 71 ] && grep -q "socket 'web': cannot bind tcp://127.0.0.1:$BUSY: Address already in use" <<<"$out" &&
        pass "a taken port fails with 71 and names socket, address and reason" || fail "taken port (rc $rc): $out"

# --- a second daemon on the same control socket is refused; the first keeps running ---
sed -i "s|$BUSY|$PORT|" "$T/busy.ini"
rc=0
"$SOCKVISORD" -c "$T/busy.ini" >"$T/second.out" 2>&1 & # no timeout(1): its pid names the notify directory
second=$!
for _ in $(seq 1 100); do kill -0 "$second" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$second" 2>/dev/null || true
wait "$second" || rc=$?
out=$(cat "$T/second.out")
[ "$rc" = 71 ] && grep -q "control socket" <<<"$out" && grep -q "another sockvisord" <<<"$out" &&
        pass "a second daemon on the same control socket is refused: $(grep control <<<"$out" | head -1)" ||
        fail "second daemon (rc $rc): $out"
# It had made its notify directory (notify-PID-XXXXXX) before the control socket failed.
notify_base=/run/sockvisor
[ "$(id -u)" = 0 ] || notify_base=${XDG_RUNTIME_DIR:-/tmp}
left=$(find "$notify_base" -maxdepth 1 -name "notify-$second-*" 2>/dev/null | head -n 1)
[ -z "$left" ] && pass "the refused daemon removed its notify directory" || fail "the refused daemon left $left"
ctl status >/dev/null && pass "the first daemon still answers" || fail "the first daemon stopped answering"

# --- control socket: 0600, and the peer's uid is checked even when the mode lets it in ---
[ "$(stat -c %a "$CTL")" = 600 ] && pass "control socket is 0600" || fail "control socket mode $(stat -c %a "$CTL")"
stop_daemon
cat >"$T/open.ini" <<EOF
[sockvisord]
control = $T/open.sock
control_mode = 0666
EOF
chmod 755 "$T"
"$SOCKVISORD" -c "$T/open.ini" >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
CTL=$T/open.sock wait_for_daemon
if command -v setpriv >/dev/null; then
        rc=0
        out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SOCKVISORCTL" -s "$T/open.sock" status 2>&1) || rc=$?
        [ "$rc" = 1 ] && grep -q "permission denied: uid 65534" <<<"$out" &&
                pass "uid 65534 is refused by the peer check: $out" || fail "peer check (rc $rc): $out"
else
        log "skip: setpriv not installed, peer check not tried"
fi
stop_daemon

# --- unix sockets: mode, live listener, stale file ---
US=$T/app.sock
cat >"$T/unix.ini" <<EOF
[sockvisord]
control = $CTL
[socket:u]
listen = unix:$US
mode = 0660
[program:app]
command = $TESTWORKER $T/report
sockets = u
ready = notify
EOF
start_daemon "$T/unix.ini"
[ "$(stat -c %a "$US")" = 660 ] && pass "unix socket created with mode 0660" || fail "unix socket mode $(stat -c %a "$US")"
wait_for_file "$T/report" && grep -q "^fd 3 other socket:" "$T/report" && pass "the worker got the unix socket at fd 3" ||
        fail "worker report: $(cat "$T/report" 2>/dev/null)"
# A second daemon (other control socket) must not steal or unlink the live path.
sed "s|$CTL|$T/control3.sock|" "$T/unix.ini" >"$T/unix2.ini"
rc=0
out=$(timeout 10 "$SOCKVISORD" -c "$T/unix2.ini" 2>&1) || rc=$?
[ "$rc" = 71 ] && grep -q "socket 'u'" <<<"$out" && [ -S "$US" ] &&
        pass "a second daemon does not take the live unix path: $(grep "socket 'u'" <<<"$out")" || fail "unix path (rc $rc): $out"
stop_daemon
[ ! -e "$US" ] && pass "unix socket file removed on exit" || fail "unix socket file left behind"
# A daemon killed with SIGKILL leaves its socket files behind. Its orphaned worker still
# holds the unix listener, so the path is live: the next start must refuse to unlink it.
# Once the orphan is gone the files are stale and the next start replaces them.
rm -f "$T/report"
start_daemon "$T/unix.ini"
wait_for_file "$T/report" || fail "no report from the worker"
orphan=$(awk '$1 == "pid" { print $2 }' "$T/report")
STARTED_PIDS+=("$orphan")
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
[ -S "$US" ] && [ -S "$CTL" ] && pass "SIGKILL left the socket files behind" || fail "expected socket files left behind"
rc=0
out=$(timeout 10 "$SOCKVISORD" -c "$T/unix.ini" 2>&1) || rc=$?
[ "$rc" = 71 ] && grep -q "a live process is listening on $US" <<<"$out" &&
        pass "the orphaned worker's live listener is not unlinked: $(grep live <<<"$out")" || fail "orphan (rc $rc): $out"
kill -TERM "$orphan"
for _ in $(seq 1 50); do kill -0 "$orphan" 2>/dev/null || break; sleep 0.1; done
start_daemon "$T/unix.ini"
pass "stale unix socket and control socket files are replaced on the next start"
stop_daemon

# --- sockvisorctl with no daemon ---
rc=0
out=$("$SOCKVISORCTL" -s "$T/nobody-here.sock" status 2>&1) || rc=$?
[ "$rc" = 69 ] && grep -q "no sockvisord control socket at $T/nobody-here.sock" <<<"$out" &&
        pass "no daemon: exit 69 and a clear message: $out" || fail "no daemon (rc $rc): $out"
finish
