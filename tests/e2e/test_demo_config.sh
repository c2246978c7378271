#!/bin/bash
# The README's first example, as a new user runs it: conf/demo.ini as shipped (only the
# control socket and the two ports moved to this test's own), python3 -m http.server
# unmodified behind intercept_bind, and sockvisor-demo beside it. Both answer; a restart of
# the unmodified one under load fails no request and gives it a new pid.
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PORT=$("$FREEPORT")
PORT2=$("$FREEPORT")
while [ "$PORT2" = "$PORT" ]; do PORT2=$("$FREEPORT"); done
sed -e "s|^control = .*|control = $CTL|" -e "s|8080|$PORT|g" -e "s|8081|$PORT2|g" "$SRC/conf/demo.ini" >"$T/demo.ini"
grep -q "http.server $PORT --bind" "$T/demo.ini" || die "conf/demo.ini no longer runs python3 -m http.server on 8080"
"$SOCKVISORD" -t -c "$T/demo.ini" >"$T/check.out" 2>&1 && pass "sockvisord -t accepts conf/demo.ini" ||
        die "sockvisord -t rejects conf/demo.ini: $(cat "$T/check.out")"

# run-demo.sh puts the build directory on PATH for sockvisor-demo, and runs from the
# repository root (http.server serves it)
cd "$SRC"
PATH="$BUILD:$PATH" start_daemon "$T/demo.ini"
wait_state demo 15 RUNNING || die "demo (python3 -m http.server) is not RUNNING: $STATE"
wait_state notify-demo 15 RUNNING || die "notify-demo is not RUNNING: $STATE"
listing=$(curl -s --max-time 5 "http://127.0.0.1:$PORT/" || true)
grep -q "README.md" <<<"$listing" && pass "curl http://127.0.0.1:$PORT/ lists the repository (python3 -m http.server)" ||
        fail "python3 -m http.server does not answer on $PORT: '${listing:0:200}'"
body=$(curl -s --max-time 5 "http://127.0.0.1:$PORT2/" || true)
grep -q "program=notify-demo" <<<"$body" && pass "sockvisor-demo answers on $PORT2: $body" ||
        fail "sockvisor-demo does not answer on $PORT2: '$body'"
ctl status >"$T/status" && sed 's/^/    /' "$T/status"

before=$(ctl pid demo)
"$LOADCLIENT" -p "$PORT" -a -c 4 -d 60 -r "$T/stop-load" -P /README.md >"$T/load.out" 2>"$T/load.err" &
lpid=$!
STARTED_PIDS+=("$lpid")
sleep 0.5
ctl restart demo >"$T/restart.out" 2>&1 && pass "sockvisorctl restart demo: $(tr '\n' ';' <"$T/restart.out")" ||
        fail "restart demo failed: $(cat "$T/restart.out")"
sleep 0.5
touch "$T/stop-load"
wait "$lpid" && lrc=0 || lrc=$?
after=$(ctl pid demo)
[ "$lrc" -eq 0 ] && pass "0 failed requests across the restart: $(cat "$T/load.out")" ||
        fail "requests failed across the restart: $(cat "$T/load.out") $(head -3 "$T/load.err")"
[ -n "$after" ] && [ "$after" != "$before" ] && pass "demo has a new pid: $before -> $after" ||
        fail "demo's pid: $before -> '$after'"
stop_daemon
[ "$DAEMON_RC" -eq 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
finish
