#!/bin/bash
# Escapees (issue 15): a worker's child that called setsid() (and, as root, left the worker's
# cgroup) keeps the listening socket. Once its generation has stopped, sockvisord finds it by
# the socket it holds and stops it: after `restart` only the new generation answers, after
# `stop` nobody but sockvisord holds the socket, status counts them (escaped_killed), one that
# ignores SIGTERM gets SIGKILL after stopwaitsecs, and none outlives sockvisord's shutdown.
. "$(dirname "$0")/lib.sh"

ESCAPEE=$BUILD/tests/sv-escapee
PY=$(command -v python3) || die "python3 is not installed"
PORT=$("$FREEPORT")
PORT2=$("$FREEPORT")
[ "$PORT" != "$PORT2" ] || PORT2=$("$FREEPORT")
PORT3=$("$FREEPORT")
while [ "$PORT3" = "$PORT" ] || [ "$PORT3" = "$PORT2" ]; do PORT3=$("$FREEPORT"); done

cat >"$T/sockvisor.ini" <<INI
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT

[socket:stub]
listen = tcp://127.0.0.1:$PORT2

[program:app]
command = $ESCAPEE --grandchild $T/app.report
sockets = web
ready = accepting
stopwaitsecs = 2s

[program:stubborn]
command = $ESCAPEE --ignore-term $T/stubborn.report
sockets = stub
ready = accepting
stopwaitsecs = 1s

[socket:slow]
listen = tcp://127.0.0.1:$PORT3

[program:slow]
command = $ESCAPEE --ignore-term $T/slow.report
sockets = slow
ready = accepting
stopwaitsecs = 60s
INI

# N connections to PORT: "ANSWER COUNT" lines (the "worker=PID" markers, "unserved" for a
# connection nobody answered within 0.5 s, "refused"), sorted.
answers() { # PORT N
        "$PY" - "$1" "$2" <<'PY'
import collections, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
seen = collections.Counter()
for _ in range(n):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.settimeout(0.5)
            seen[s.recv(64).decode().strip() or "unserved"] += 1
    except ConnectionRefusedError:
        seen["refused"] += 1
    except OSError:
        seen["unserved"] += 1
for k, v in sorted(seen.items()):
    print(k, v)
PY
}
# Line K of REPORT ("worker W child C"): sets WORKER and CHILD.
report_line() { # REPORT K
        local line
        for _ in $(seq 1 100); do
                line=$(sed -n "$2p" "$1" 2>/dev/null)
                [ -n "$line" ] && break
                sleep 0.1
        done
        [ -n "$line" ] || die "$1 has no line $2"
        WORKER=$(awk '{ print $2 }' <<<"$line")
        CHILD=$(awk '{ print $4 }' <<<"$line")
        GRANDCHILD=$(awk '{ print $6 }' <<<"$line")
        track "$WORKER" "$CHILD" $GRANDCHILD
}
# Dead: no /proc entry, or a zombie nobody reaps (after sockvisord is gone).
dead() { gone "$1" || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
wait_dead() { # PID SECONDS
        for _ in $(seq 1 $(($2 * 10))); do dead "$1" && return 0; sleep 0.1; done
        return 1
}
# The pids with an fd on socket INODE.
holders_of() { # INODE
        find /proc/[0-9]*/fd -maxdepth 1 -lname "socket:\[$1\]" 2>/dev/null | cut -d/ -f3 | sort -u
        return 0
}
escaped_json() { ctl status --json "$1" | sed -n 's/.*"escaped_killed": *\([0-9]*\).*/\1/p' | head -n 1; }

start_daemon "$T/sockvisor.ini"
wait_state app 10 RUNNING || die "app is '$STATE', not RUNNING"
wait_state stubborn 10 RUNNING || die "stubborn is '$STATE', not RUNNING"
report_line "$T/app.report" 1
W1=$WORKER C1=$CHILD G1=$GRANDCHILD
INODE=$(ss -ltnHe "sport = :$PORT" | sed -n 's/.* ino:\([0-9]*\) .*/\1/p')
[ -n "$INODE" ] || die "nothing listens on $PORT"
[ "$(ps -o sid= -p "$C1" | tr -d ' ')" = "$C1" ] && pass "the child $C1 of worker $W1 leads a session of its own" ||
        fail "the child $C1 did not setsid(): sid $(ps -o sid= -p "$C1")"
holders_of "$INODE" | grep -qx "$C1" && pass "the child holds the listening socket (inode $INODE)" ||
        fail "the child $C1 does not hold inode $INODE: holders $(holders_of "$INODE" | tr '\n' ' ')"
a=$(answers "$PORT" 10)
[ "$a" = "worker=$W1 10" ] && pass "generation 1 answers: $a" || fail "before the restart: $a"

# --- restart: the old generation's child is stopped, only the new one answers ---
ctl restart app >"$T/restart.out" 2>&1 || fail "restart app failed: $(cat "$T/restart.out")"
report_line "$T/app.report" 2
W2=$WORKER C2=$CHILD G2=$GRANDCHILD
[ "$(ctl pid app)" = "$W2" ] || fail "pid app says '$(ctl pid app)', the new worker reports $W2"
wait_dead "$C1" 5 && pass "the escaped child $C1 of generation 1 is gone" || fail "the escaped child $C1 still runs"
wait_dead "$G1" 5 && pass "and its child $G1 too" || fail "the escaped grandchild $G1 still runs"
ok=0
for _ in $(seq 1 30); do # bounded: 3 s
        a=$(answers "$PORT" 40)
        [ "$a" = "worker=$W2 40" ] && { ok=1; break; }
        sleep 0.1
done
# and it stays so: 120 more, none served by the old generation
for _ in 1 2 3; do
        [ "$ok" = 1 ] && a=$(answers "$PORT" 40) && [ "$a" = "worker=$W2 40" ] || ok=0
done
[ "$ok" = 1 ] && pass "after restart all 160 requests carry the new generation's marker worker=$W2" ||
        fail "after restart, answers: $a"
grep -qF "escaped process $C1 (sv-escapee) held socket tcp://127.0.0.1:$PORT after generation 1 of program 'app' stopped; sent SIGTERM" \
        "$T/daemon.log" && pass "the log names the escaped process, its socket and generation" ||
        fail "the log does not say that $C1 escaped: $(grep -i escap "$T/daemon.log" | tail -n 3)"
n=$(escaped_json app)
[ "${n:-0}" = 2 ] && pass "status --json: escaped_killed = $n" || fail "status --json escaped_killed is '$n', not 2"
ctl status app | grep -q "escaped: 2 processes outlived" && pass "status says so: $(ctl status app | grep escaped:)" ||
        fail "status has no escaped line: $(ctl status app)"

# --- stop: nothing but sockvisord holds the socket, nobody answers ---
ctl stop app >"$T/stop.out" 2>&1 || fail "stop app failed: $(cat "$T/stop.out")"
wait_dead "$C2" 5 && wait_dead "$G2" 5 && pass "after stop, the escaped child $C2 of generation 2 and its child $G2 are gone" ||
        fail "$C2 or $G2 still runs after stop"
h=$(holders_of "$INODE" | tr '\n' ' ')
[ "$h" = "$DAEMON_PID " ] && pass "after stop only sockvisord ($DAEMON_PID) holds inode $INODE" ||
        fail "after stop inode $INODE is held by: $h (sockvisord is $DAEMON_PID)"
a=$(answers "$PORT" 2)
grep -q "worker=" <<<"$a" && fail "after stop, still served: $a" || pass "after stop nothing is served: $a"
n=$(escaped_json app)
[ "${n:-0}" -ge 4 ] && pass "escaped_killed = $n after the stop" || fail "escaped_killed is '$n' after the stop"

# --- a child that ignores SIGTERM gets SIGKILL after stopwaitsecs (1 s) ---
report_line "$T/stubborn.report" 1
S1=$CHILD
t0=$(ms_now)
ctl stop stubborn >"$T/stop2.out" 2>&1 || fail "stop stubborn failed: $(cat "$T/stop2.out")"
wait_dead "$S1" 6 && ms=$(($(ms_now) - t0)) && pass "the child $S1 that ignores SIGTERM is gone after ${ms} ms" ||
        fail "the child $S1 that ignores SIGTERM still runs"
grep -qF "escaped process $S1 (sv-escapee) was still running after SIGTERM; sent SIGKILL" "$T/daemon.log" &&
        pass "the log says SIGKILL followed" || fail "no SIGKILL logged for $S1"

# --- an upgrade within the grace: the next image does not carry the deadline, so the SIGKILL
# comes before the execve, not never ---
wait_state slow 10 RUNNING || fail "slow is '$STATE', not RUNNING"
report_line "$T/slow.report" 1
L1=$CHILD
ctl stop slow >"$T/stop3.out" 2>&1 || fail "stop slow failed: $(cat "$T/stop3.out")"
for _ in $(seq 1 50); do grep -qF "escaped process $L1 " "$T/daemon.log" && break; sleep 0.1; done
grep -qF "escaped process $L1 (sv-escapee) held socket" "$T/daemon.log" || fail "no SIGTERM logged for $L1"
gone "$L1" && fail "$L1 went on SIGTERM, which it ignores"
ctl upgrade >"$T/upgrade.out" 2>&1 || fail "upgrade failed: $(cat "$T/upgrade.out")"
wait_dead "$L1" 5 && pass "an upgrade 60 s before its SIGKILL was due: the escaped child $L1 is gone" ||
        fail "the escaped child $L1 outlived the upgrade (its SIGKILL was due 60 s after the stop)"
grep -q "upgrade: 1 escaped process(es) still within their SIGTERM grace get SIGKILL now" "$T/daemon.log" &&
        pass "the log says the upgrade cut its grace short" || fail "no log line about the SIGKILL before the upgrade"
n=$(escaped_json slow)
[ "${n:-0}" = 1 ] && pass "the new image counts it: escaped_killed = $n" || fail "after the upgrade escaped_killed of slow is '$n', not 1"

# --- shutdown: escapees go before sockvisord exits, one ignoring SIGTERM too ---
ctl start app >/dev/null 2>&1 || fail "start app failed"
ctl start stubborn >/dev/null 2>&1 || fail "start stubborn failed"
report_line "$T/app.report" 3
C3=$CHILD
report_line "$T/stubborn.report" 2
S2=$CHILD
stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
dead "$C3" && pass "after shutdown the escaped child $C3 is gone" || fail "$C3 outlived sockvisord"
dead "$S2" && pass "after shutdown the escaped child $S2 (ignores SIGTERM) is gone" || fail "$S2 outlived sockvisord"
finish
