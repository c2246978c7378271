#!/bin/bash
# A bad deploy never takes the service down: a new generation that never becomes ready,
# or that exits at once, is stopped; the restart exits non-zero with the reason; the old
# generation keeps answering throughout, under load, with zero failed requests.
. "$(dirname "$0")/lib.sh"

PORT=$("$FREEPORT")
MODE=$T/mode # what the next generation does: good, never-ready or crash
echo good >"$MODE"
# A user's own wrapper: sh picks the behaviour, then execs the demo (same pid, so
# LISTEN_PID still matches).
cat >"$T/sockvisor.ini" <<EOF
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT

[program:app]
command = /bin/sh -c 'case \$(cat $MODE) in never-ready) exec $DEMO --never-ready;; crash) exit 3;; *) exec $DEMO;; esac'
sockets = web
ready = notify
ready_timeout = 1500ms
stopwaitsecs = 5s
EOF

start_daemon "$T/sockvisor.ini"
old=$(ctl pid app)
[ "$old" -gt 0 ] && pass "generation 1 runs as pid $old" || die "no worker pid"

"$LOADCLIENT" -p "$PORT" -c 16 -d 6 >"$T/load.out" 2>"$T/load.err" &
LOAD_PID=$!
STARTED_PIDS+=("$LOAD_PID")
sleep 0.3

# 1. The new generation never sends READY=1.
echo never-ready >"$MODE"
rc=0
ctl restart app >"$T/restart1.out" 2>"$T/restart1.err" || rc=$?
sed 's/^/    /' "$T/restart1.out" "$T/restart1.err"
[ "$rc" -ne 0 ] && pass "restart to a never-ready generation exited $rc" || fail "restart to a never-ready generation exited 0"
grep -q "not ready within 1.50s" "$T/restart1.err" && grep -q "keeps serving" "$T/restart1.err" &&
        pass "the reason names the timeout and the generation that keeps serving" ||
        fail "the reason is unclear: $(cat "$T/restart1.err")"
cand=$(grep -o 'started generation 2 (pid [0-9]*' "$T/restart1.out" | grep -o '[0-9]*$' || true)
[ -n "$cand" ] && ! kill -0 "$cand" 2>/dev/null && pass "the never-ready generation (pid $cand) was stopped" ||
        fail "the never-ready generation (pid '$cand') is still running or was never started"
[ "$(ctl pid app)" = "$old" ] && pass "pid $old still serves" || fail "the serving pid changed to $(ctl pid app)"
body=$(http_get "$PORT")
[[ "$body" == "pid=$old "* ]] && pass "the old generation answers: $body" || fail "unexpected answer: '$body'"

# 2. The new generation exits at once.
echo crash >"$MODE"
rc=0
ctl restart app >"$T/restart2.out" 2>"$T/restart2.err" || rc=$?
sed 's/^/    /' "$T/restart2.out" "$T/restart2.err"
[ "$rc" -ne 0 ] && pass "restart to a crashing generation exited $rc" || fail "restart to a crashing generation exited 0"
grep -q "exited with status 3 before it was ready" "$T/restart2.err" && pass "the reason names the exit status" ||
        fail "the reason is unclear: $(cat "$T/restart2.err")"
[ "$(ctl pid app)" = "$old" ] && pass "pid $old still serves" || fail "the serving pid changed"

# 3. A good deploy after the bad ones goes through.
echo good >"$MODE"
ctl restart app >"$T/restart3.out" 2>&1 && pass "a good restart after the bad ones exits 0" ||
        fail "the good restart failed: $(cat "$T/restart3.out")"
new=$(ctl pid app)
[ "$new" != "$old" ] && pass "generation $(ctl status | awk '$1 == "app" { print $4 }') (pid $new) replaced pid $old" ||
        fail "the pid did not change"

load_rc=0
wait "$LOAD_PID" || load_rc=$?
summary=$(cat "$T/load.out")
log "load: $summary"
[ "$load_rc" -eq 0 ] && grep -q ' failed=0 ' <<<"$summary" && pass "0 failed requests through both rollbacks" ||
        fail "requests failed: $summary $(cat "$T/load.err")"

z=$(zombies_of "$DAEMON_PID")
[ -z "$z" ] && pass "no zombies" || fail "zombies: $z"
stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
finish
