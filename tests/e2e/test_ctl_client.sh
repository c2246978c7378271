#!/bin/bash
# sockvisorctl never hangs silently. A waiting verb (stop) has no client-side timeout: it
# relies on the daemon's bounds and progress lines; so when the daemon dies mid-command
# (the connection closes with no final OK/ERR line), sockvisorctl must say so in one line
# and exit 1 at once. Also: a control socket that closes before any line (exit 1), and one
# that answers a waiting verb with progress only and then closes.
. "$(dirname "$0")/lib.sh"

cat >"$T/sockvisor.ini" <<EOF
[sockvisord]
control = $CTL

[program:stubborn]
command = $TESTWORKER --ignore-term $T/stubborn.report
ready = notify
stopwaitsecs = 60s
EOF

start_daemon "$T/sockvisor.ini"
wait_for_file "$T/stubborn.report" || die "stubborn wrote no report"
w=$(report_field "$T/stubborn.report" pid)
track "$w"
wait_state stubborn 5 RUNNING || die "stubborn is '$STATE', not RUNNING"

# --- the daemon is killed while `stop` waits on a worker that ignores SIGTERM ---
timeout 30 "$SOCKVISORCTL" -s "$CTL" stop stubborn >"$T/stop.out" 2>"$T/stop.err" &
ctl_pid=$!
# The daemon says within a second what it waits for: wait (bounded) for that line.
for _ in $(seq 1 50); do [ -s "$T/stop.out" ] && break; sleep 0.1; done
[ -s "$T/stop.out" ] && pass "stop printed progress: $(head -1 "$T/stop.out")" || fail "stop printed no progress line"
kill -0 "$ctl_pid" 2>/dev/null && pass "sockvisorctl stop is still waiting (stopwaitsecs = 60s)" ||
        fail "sockvisorctl stop ended before the daemon was killed: $(cat "$T/stop.out" "$T/stop.err")"
t0=$(ms_now)
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
rc=0
wait "$ctl_pid" || rc=$?
ms=$(($(ms_now) - t0))
err=$(cat "$T/stop.err")
[ "$rc" = 1 ] && pass "sockvisorctl exits 1 when the daemon dies mid-command" ||
        fail "sockvisorctl exited $rc (124: it hung until timeout): $err"
[ "$ms" -lt 3000 ] && pass "it noticed within ${ms} ms of the kill" || fail "it took ${ms} ms after the kill"
[ "$(wc -l <"$T/stop.err")" = 1 ] && grep -q "^sockvisorctl: sockvisord on $CTL closed the connection" <<<"$err" &&
        grep -q "before 'stop' finished" <<<"$err" &&
        pass "one line on stderr names the socket and the verb: $err" || fail "stderr: '$err'"
# The orphan ignores SIGTERM: only SIGKILL ends it.
kill -KILL "$w" 2>/dev/null || true
wait_gone "$w" 5 || log "note: worker $w not reaped yet (its parent was killed)"

# --- a control socket that closes before any line, and one that sends progress then closes ---
if command -v python3 >/dev/null; then
        fake() { # MODE: "close" (read the request, close), "progress" (send a progress line, close)
                python3 - "$CTL" "$1" <<'PY' &
import os, socket, sys
path, mode = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
s.settimeout(20)
c, _ = s.accept()
c.settimeout(20)
c.recv(4096)
if mode == "progress":
    c.sendall(b". stopping app, waiting up to 10s\n")
c.close()
PY
                FAKE_PID=$!
                STARTED_PIDS+=("$FAKE_PID")
                for _ in $(seq 1 50); do [ -S "$CTL" ] && break; sleep 0.1; done
        }
        rm -f "$CTL"
        fake close
        rc=0
        out=$(timeout 30 "$SOCKVISORCTL" -s "$CTL" status 2>&1) || rc=$?
        [ "$rc" = 1 ] && grep -q "closed the connection before answering 'status'" <<<"$out" &&
                pass "a connection closed before any line: exit 1: $out" || fail "closed before any line (rc $rc): $out"
        wait "$FAKE_PID" 2>/dev/null || true
        rm -f "$CTL"
        fake progress
        rc=0
        out=$(timeout 30 "$SOCKVISORCTL" -s "$CTL" stop app 2>&1) || rc=$?
        [ "$rc" = 1 ] && grep -q "^stopping app, waiting" <<<"$out" &&
                grep -q "before 'stop' finished, so its outcome is unknown" <<<"$out" &&
                pass "progress then close: exit 1, outcome unknown: $(tail -1 <<<"$out")" ||
                fail "progress then close (rc $rc): $out"
        wait "$FAKE_PID" 2>/dev/null || true
else
        log "skip: python3 not installed, fake control sockets not tried"
fi
finish
