#!/bin/bash
# Servers that know nothing of sockvisor (issue 12): they bind their port themselves, never
# send READY=1 and die on SIGTERM mid-request. With intercept_bind = yes (the shim hands
# their bind() the held socket), ready = accepting (the default with it: ready once a
# process waits on the socket) and drain = idle (an old one is frozen and killed once it
# holds no accepted connection), each gets what a notify-speaking worker gets:
#  1. the classic C server of the "Address already in use" write-ups (tests/tools/selfbind.c:
#     bind(0.0.0.0:PORT) without SO_REUSEADDR, blocking accept, no signal handling, closes
#     first): 10 restarts under load, 0 failed requests, a new pid each time, every
#     generation on sockvisord's socket;
#  2. a version that never listens is rolled back while the old one serves, under load;
#  3. a version that boots for 1.5 s: the old one serves until the new one accepts;
#  4. `python3 -m http.server`: 10 restarts under load, 0 failed, a new pid each time.
. "$(dirname "$0")/lib.sh"

SELFBIND=$BUILD/tests/sv-selfbind
[ -x "$SELFBIND" ] || die "$SELFBIND is missing (tests/tools/selfbind.c)"
[ -e "$BUILD/libsockvisor-bind.so" ] || die "the shim $BUILD/libsockvisor-bind.so is missing"
PY=$(command -v python3) || die "python3 is not installed (scripts/install-deps.sh installs it)"

PORT=$("$FREEPORT")
write_config() { # COMMAND [EXTRA KEY LINES]
        app_config "$1" "intercept_bind = yes
drain = idle
ready_timeout = 5s
stopwaitsecs = 5s
startretries = 0
${2:-}"
}

held_inode() { ctl sockets | awk '$1 == "web" { print $4 }'; }
# The pid's fds include the held socket, and it listens on no socket of its own.
on_held_socket() { # PID WHEN
        local inode listening own
        inode=$(held_inode)
        listening=$(ss -ltnHe | sed -n 's/.* ino:\([0-9]*\) .*/\1/p')
        local fds
        fds=$(ls -l "/proc/$1/fd" 2>/dev/null || true) # no `ls | grep -q`: under pipefail, ls may die of SIGPIPE
        grep -q "socket:\[$inode\]" <<<"$fds" ||
                { fail "$2: pid $1 does not hold sockvisord's socket (inode $inode)"; return; }
        for own in $(sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p' <<<"$fds"); do
                [ "$own" != "$inode" ] && grep -qx "$own" <<<"$listening" &&
                        { fail "$2: pid $1 listens on a socket of its own: $(ss -ltnHe | grep "ino:$own ")"; return; }
        done
        pass "$2: pid $1 serves on sockvisord's socket (inode $inode), no listener of its own"
}

# ---- 1. the classic self-binding C server ----
write_config "$SELFBIND $PORT"
start_daemon "$T/sockvisor.ini"
wait_state app 10 RUNNING || die "app is not RUNNING: $STATE"
first=$(http_get "$PORT" || true)
grep -q "pid=$(ctl pid app)" <<<"$first" && pass "the classic server answers: $first" ||
        die "the classic server does not answer on 127.0.0.1:$PORT: '$first'"
on_held_socket "$(ctl pid app)" "generation 1"
grep -q "accepting: pid [0-9]* waits in " "$T/daemon.log" &&
        pass "ready by observation: $(grep -o "accepting: pid [0-9]* waits in .*" "$T/daemon.log" | head -1)" ||
        fail "the daemon log does not say it saw the server accept"

restarts_under_load app 10 -c 8
on_held_socket "$LAST_PIDS" "after 10 restarts"
[ "$RESTARTS_OK" -eq 10 ] && pass "10 restarts of the classic server returned OK" || fail "$RESTARTS_OK of 10 restarts OK"
load_ok "10 restarts of the classic server"
idle=$(grep -c "idle ([0-9]* process.* frozen, no accepted connection" "$T/daemon.log" || true)
[ "$idle" -ge 10 ] && pass "every old generation was frozen and killed idle ($idle times)" ||
        fail "only $idle old generations were killed idle; log: $(grep -E 'idle|SIGKILL' "$T/daemon.log" | tail -3)"
grep -q "Address already in use" "$T/daemon.log" && fail "a generation met 'Address already in use'"
z=$(zombies_of "$DAEMON_PID")
[ -z "$z" ] && pass "no zombie children" || fail "zombies: $z"

# ---- 2. a version that never listens is rolled back; the old one serves ----
serving=$(ctl pid app)
write_config "$SELFBIND $PORT --never-listen"
"$LOADCLIENT" -p "$PORT" -c 4 -d 60 -r "$T/stop-load2" >"$T/load2.out" 2>&1 &
lpid=$!
STARTED_PIDS+=("$lpid")
sleep 0.3
rc=0
ctl reload >"$T/reload.out" 2>&1 || rc=$?
touch "$T/stop-load2"
wait "$lpid" && lrc=0 || lrc=$?
[ "$rc" -ne 0 ] && grep -q "app" "$T/reload.out" && pass "the reload to a version that never listens fails: $(tail -1 "$T/reload.out")" ||
        fail "reload to a never-listening version returned $rc: $(cat "$T/reload.out")"
grep -q "STARTING -> STOPPING (ready_timeout passed)" "$T/daemon.log" && pass "the new generation was not ready (it never accepted)" ||
        fail "the daemon log does not say the new generation was not ready"
[ "$(ctl pid app)" = "$serving" ] && pass "the old generation (pid $serving) still serves" ||
        fail "app's pid changed from $serving to $(ctl pid app)"
[ "$lrc" -eq 0 ] && pass "0 failed requests during the failed deploy: $(cat "$T/load2.out")" ||
        fail "requests failed during the failed deploy: $(cat "$T/load2.out")"
stop_daemon

# ---- 3. a slow boot: the old generation serves until the new one accepts ----
write_config "$SELFBIND $PORT --boot-ms 1500"
start_daemon "$T/sockvisor.ini"
wait_state app 10 RUNNING || die "slow-boot app is not RUNNING: $STATE"
restarts_under_load app 2 -c 8
on_held_socket "$LAST_PIDS" "after 2 slow-boot restarts"
load_ok "slow boot"
gap=$(load_field gap_ms)
[ -n "$gap" ] && [ "$gap" -lt 1000 ] && pass "slow boot: no stall (longest gap ${gap} ms, boot 1500 ms)" ||
        fail "slow boot: clients stalled ${gap} ms: the old generation was stopped before the new one accepted"
stop_daemon

# ---- 3b. long requests: every request takes 300 ms, so the old generation always has some
# in flight. Told that it drains (its timer slack, read by the shim), it accepts nothing
# more, finishes what it holds and is killed idle, long before stopwaitsecs. ----
write_config "$SELFBIND $PORT --slow-ms 300"
start_daemon "$T/sockvisor.ini"
wait_state app 10 RUNNING || die "slow-request app is not RUNNING: $STATE"
restarts_under_load app 4 -c 8
load_ok "long requests, 4 restarts"
grep -q "still holds an accepted connection" "$T/daemon.log" &&
        fail "long requests: an old generation met stopwaitsecs: $(grep 'still holds' "$T/daemon.log" | head -1)"
idle=$(grep -c "idle ([0-9]* process.* frozen, no accepted connection" "$T/daemon.log" || true)
[ "$idle" -ge 4 ] && pass "long requests: every old generation stopped accepting and was killed idle ($idle)" ||
        fail "long requests: only $idle old generations were killed idle"
stop_daemon
: >"$T/daemon.log"

# ---- 4. python3 -m http.server, unmodified ----
mkdir -p "$T/www"
echo "hello from $T/www" >"$T/www/index.html"
write_config "$PY -m http.server $PORT --bind 127.0.0.1 --directory $T/www"
start_daemon "$T/sockvisor.ini"
wait_state app 15 RUNNING || die "python3 -m http.server is not RUNNING: $STATE"
body=$(http_get "$PORT" || true)
grep -q "hello from" <<<"$body" && pass "python3 -m http.server answers: $body" ||
        die "python3 -m http.server does not answer: '$body'"
on_held_socket "$(ctl pid app)" "http.server generation 1"
restarts_under_load app 10 -a -c 4
on_held_socket "$LAST_PIDS" "after 10 restarts of http.server"
[ "$RESTARTS_OK" -eq 10 ] && pass "10 restarts of python3 -m http.server returned OK" ||
        fail "$RESTARTS_OK of 10 restarts OK"
load_ok "10 restarts of http.server"
stop_daemon
[ "$DAEMON_RC" -eq 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"

finish
