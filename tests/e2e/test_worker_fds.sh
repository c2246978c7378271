#!/bin/bash
# What a worker is given: exactly stdio and its sockets, at 3.. in sockets= order (the
# reverse of the daemon's own fd order, so a one-pass dup2 would clobber one), the
# activation variables, blocking listeners unless blocking = no (as systemd), and an unblocked
# signal mask. Checked for the first generation and again after a restart.
. "$(dirname "$0")/lib.sh"

ports=($("$FREEPORT" -n 4))
PA=${ports[0]} PB=${ports[1]} PC=${ports[2]} PD=${ports[3]}
cat >"$T/sockvisor.ini" <<EOF
[sockvisord]
control = $CTL

[socket:a]
listen = tcp://127.0.0.1:$PA
[socket:b]
listen = tcp://127.0.0.1:$PB
[socket:c]
listen = tcp://127.0.0.1:$PC
blocking = no
[socket:d]
listen = tcp://127.0.0.1:$PD

[program:report]
command = $TESTWORKER $T/report
sockets = d, c, b, a
ready = notify
ready_timeout = 5s
stopwaitsecs = 2s
EOF

check_report() { # GENERATION
        local r=$T/report gen=$1
        wait_for_file "$r" || { fail "generation $gen wrote no report"; return; }
        sed 's/^/    /' "$r"
        local pid
        pid=$(awk '$1 == "pid" { print $2 }' "$r")
        [ "$(awk '$1 == "fd" { print $2 }' "$r" | tr '\n' ' ')" = "0 1 2 3 4 5 6 " ] &&
                pass "gen $gen: open fds are exactly 0-2 and 3-6" || fail "gen $gen: unexpected fds: $(grep '^fd' "$r" | tr '\n' ';')"
        [ "$(awk '$1 == "fd" && $3 == "port" { print $2 ":" $4 }' "$r" | tr '\n' ' ')" = "3:$PD 4:$PC 5:$PB 6:$PA " ] &&
                pass "gen $gen: fds 3..6 are sockets d, c, b, a" || fail "gen $gen: sockets in the wrong order: $(grep port "$r" | tr '\n' ';')"
        grep -q "^fd 0 other /dev/null" "$r" && pass "gen $gen: stdin is /dev/null" || fail "gen $gen: stdin is not /dev/null"
        grep -q "^fd 4 port $PC nonblock$" "$r" && grep -q "^fd 3 port $PD block$" "$r" &&
                pass "gen $gen: blocking by default, non-blocking where asked" || fail "gen $gen: wrong O_NONBLOCK flags"
        grep -qx "env LISTEN_FDS=4" "$r" && grep -qx "env LISTEN_FDNAMES=d:c:b:a" "$r" && grep -qx "env LISTEN_PID=$pid" "$r" &&
                grep -qx "env SOCKVISOR_GENERATION=$gen" "$r" && grep -q "^env NOTIFY_SOCKET=/" "$r" &&
                pass "gen $gen: LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID=$pid, NOTIFY_SOCKET set" ||
                fail "gen $gen: activation variables wrong"
        grep -qx "sigterm-blocked 0" "$r" && pass "gen $gen: SIGTERM not blocked" || fail "gen $gen: inherited a blocked SIGTERM"
        # sockvisord ignores SIGPIPE, and a shell's background job (it, here) SIGINT and SIGQUIT
        local ign
        ign=$(awk '$1 == "SigIgn:" { print $2 }' "/proc/$pid/status" 2>/dev/null)
        [ "$ign" = 0000000000000000 ] && pass "gen $gen: no signal ignored (SigIgn $ign)" ||
                fail "gen $gen: the worker inherited ignored signals: SigIgn ${ign:-unreadable}"
}

start_daemon "$T/sockvisor.ini"
check_report 1
first=$(ctl pid report)
rm -f "$T/report"
# The restart only succeeds if READY=1, sent by hand without libsystemd, reaches us.
ctl restart report >"$T/restart.out" 2>&1 && pass "restart exited 0" || fail "restart failed: $(cat "$T/restart.out")"
check_report 2
kill -0 "$first" 2>/dev/null && fail "generation 1 (pid $first) still alive after the restart" ||
        pass "generation 1 stopped by SIGTERM"
stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
finish
