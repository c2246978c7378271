#!/bin/bash
# sockvisord as PID 1 of a PID namespace, as in a container (`unshare --pid --fork
# --mount-proc`): every orphan in the namespace is reparented to it and reaped, SIGTERM from
# outside (the runtime's `stop`) and from inside (`kill 1`) stops every program gracefully,
# and it exits 0. Needs root (a PID namespace); skipped otherwise.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! unshare --pid --fork --mount-proc true 2>/dev/null; then
        log "skip: cannot make a PID namespace here (needs root and unshare)"
        exit 0
fi

PORT=$("$FREEPORT")
# The worker leaves 30 orphans (each a subshell's `sleep 4`, whose parent exits at once),
# then serves: in a container they are reparented to PID 1, sockvisord.
cat >"$T/pid1.ini" <<CONF
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT

[program:web]
command = /bin/sh -c 'i=0; while [ \$i -lt 30 ]; do (sleep 4 &); i=\$((i+1)); done; exec python3 -m http.server $PORT --bind 127.0.0.1'
sockets = web
intercept_bind = yes
stopwaitsecs = 5
CONF

# Starts sockvisord as PID 1 of a new PID namespace; DAEMON_PID is unshare's pid,
# INIT_PID sockvisord's pid as seen from here.
start_pid1() {
        unshare --pid --fork --mount-proc --kill-child "$SOCKVISORD" -c "$T/pid1.ini" >>"$T/daemon.log" 2>&1 &
        DAEMON_PID=$!
        INIT_PID=
        for _ in $(seq 1 50); do
                INIT_PID=$(pgrep -P "$DAEMON_PID" -x sockvisord || true)
                [ -n "$INIT_PID" ] && break
                sleep 0.1
        done
        [ -n "$INIT_PID" ] || die "sockvisord did not start under unshare"
        wait_for_daemon
        wait_state web 15 RUNNING || die "web is $STATE, not RUNNING, under PID 1"
}

# Waits (bounded) for unshare, which returns sockvisord's exit status.
wait_exit() {
        for _ in $(seq 1 200); do
                kill -0 "$DAEMON_PID" 2>/dev/null || break
                sleep 0.05
        done
        if kill -0 "$DAEMON_PID" 2>/dev/null; then
                fail "sockvisord (PID 1) still running 10 s after SIGTERM"
                kill -KILL "$DAEMON_PID"
        fi
        DAEMON_RC=0
        wait "$DAEMON_PID" || DAEMON_RC=$?
        DAEMON_PID=
}

sleeps_under() { # PID: its children that are `sleep` or zombies
        children_of "$1" | while read -r p s; do
                c=$(cat "/proc/$p/comm" 2>/dev/null || true)
                if [ "$c" = sleep ] || [ "$s" = Z ]; then echo "$p"; fi
        done
}

start_pid1
ns_pid=$(awk '/^NSpid:/ { print $NF }' "/proc/$INIT_PID/status")
[ "$ns_pid" = 1 ] && pass "sockvisord is PID 1 in its namespace" || fail "sockvisord is pid $ns_pid in its namespace, not 1"
http_get "$PORT" / | grep -q 'Directory listing' && pass "the worker serves on 127.0.0.1:$PORT" ||
        fail "no answer from the worker under PID 1"

# The orphans: reparented to sockvisord while they live, reaped once they exit.
orphans=$(sleeps_under "$INIT_PID" | wc -l)
[ "$orphans" -ge 1 ] && pass "$orphans orphans were reparented to PID 1" ||
        fail "no orphan was reparented to sockvisord (expected up to 30 sleeps)"
left=1
for _ in $(seq 1 100); do
        left=$(sleeps_under "$INIT_PID" | wc -l)
        [ "$left" -eq 0 ] && break
        sleep 0.1
done
[ "$left" -eq 0 ] && pass "every orphan was reaped (no zombie, none left)" ||
        fail "$left orphans or zombies still under PID 1 10 s after they started (sleep 4)"

# SIGTERM from outside the namespace, as `docker stop` or a pod's deletion send it.
kill -TERM "$INIT_PID"
wait_exit
[ "$DAEMON_RC" -eq 0 ] && pass "SIGTERM from outside: exit 0" || fail "SIGTERM from outside: exit $DAEMON_RC, not 0"
grep -q "web\[gen 1 pid [0-9]*\]: RUNNING -> STOPPING (sockvisord is shutting down)" "$T/daemon.log" &&
        grep -q "every program has stopped" "$T/daemon.log" && pass "the program was stopped gracefully first" ||
        fail "no graceful stop of web in the log"
if curl -s --max-time 2 "http://127.0.0.1:$PORT/" >/dev/null; then
        fail "127.0.0.1:$PORT still answers after exit"
else
        pass "nothing serves on 127.0.0.1:$PORT after exit"
fi

# SIGTERM from inside the namespace (`kill 1` in the container): a PID 1 without a
# handler would ignore it; sockvisord takes it as any SIGTERM.
: >"$T/daemon.log"
start_pid1
nsenter --target "$INIT_PID" --pid --mount -- kill -TERM 1
wait_exit
[ "$DAEMON_RC" -eq 0 ] && pass "kill -TERM 1 inside the namespace: exit 0" ||
        fail "kill -TERM 1 inside the namespace: exit $DAEMON_RC, not 0"
grep -q "SIGTERM received" "$T/daemon.log" && pass "the log says why it stopped" || fail "no 'SIGTERM received' in the log"
finish
