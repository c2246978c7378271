#!/bin/bash
# The fd dialects as a worker sees them: %(fd:NAME) on the command line is the fd that
# socket really is, SERVER_STARTER_PORT / EINHORN_FD_* / LISTEN_FDS name the same fds by
# default, fd_env = nginx gives NGINX= alone, and stale values of every dialect in
# sockvisord's own environment never reach a worker. sockvisord -t refuses an unknown
# %(fd:NAME) with its line.
. "$(dirname "$0")/lib.sh"

ports=($("$FREEPORT" -n 2))
PA=${ports[0]} PB=${ports[1]}
# A server that takes its fd from argv, as Circus users write $(circus.sockets.web).
cat >"$T/fdserver.py" <<'PY'
import os, socket, sys
fd = int(sys.argv[1])
with open(sys.argv[2] + ".tmp", "w") as f:
    for k in sorted(os.environ):
        if k.startswith(("LISTEN_", "SERVER_STARTER", "EINHORN", "NGINX")):
            f.write("env %s=%s\n" % (k, os.environ[k]))
    f.write("argv %s\n" % " ".join(sys.argv[1:]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
s = socket.socket(fileno=fd)
for _ in range(1000):
    c, _ = s.accept()
    c.recv(4096)
    body = ("pid=%d fd=%d port=%d\n" % (os.getpid(), fd, s.getsockname()[1])).encode()
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    c.close()
PY
cat >"$T/sockvisor.ini" <<INI
[sockvisord]
control = $CTL

[socket:a]
listen = tcp://127.0.0.1:$PA
[socket:b]
listen = tcp://127.0.0.1:$PB
[socket:u]
listen = unix:$T/u.sock

[program:fdarg]
command = python3 $T/fdserver.py %(fd:b) $T/fdarg.env "100%%"
sockets = a, b, u
ready = started
startsecs = 500ms
stopwaitsecs = 2s

[program:nginxonly]
command = /bin/sh -c 'env > $T/nginxonly.tmp && mv $T/nginxonly.tmp $T/nginxonly.env && exec sleep 600'
sockets = u, a
fd_env = nginx
ready = started
startsecs = 500ms
stopwaitsecs = 2s
INI

# Stale values in sockvisord's own environment, as if it ran under start_server or einhorn.
SERVER_STARTER_PORT=0.0.0.0:1=9 SERVER_STARTER_GENERATION=41 EINHORN_FD_COUNT=4 EINHORN_FD_0=9 EINHORN_FD_3=12 \
        EINHORN_MASTER_PID=1 NGINX='9;10;' LISTEN_FDS=5 start_daemon "$T/sockvisor.ini"
wait_state fdarg 10 RUNNING || die "fdarg is not RUNNING: $STATE"
wait_state nginxonly 10 RUNNING || die "nginxonly is not RUNNING: $STATE"
wait_for_file "$T/fdarg.env" || die "fdarg wrote no report"
wait_for_file "$T/nginxonly.env" || die "nginxonly wrote no report"
sed 's/^/    /' "$T/fdarg.env"

r=$(http_get "$PB" || true)
case "$r" in
"pid="*" fd=4 port=$PB") pass "%(fd:b) gave the fd of socket b (4), and the server answers on b: $r" ;;
*) fail "the server on %(fd:b) answered '$r' on port $PB" ;;
esac
grep -qx "argv 4 $T/fdarg.env 100%" "$T/fdarg.env" && pass "argv: %(fd:b) -> 4, %% -> %" ||
        fail "argv: $(grep argv "$T/fdarg.env")"
expect_env() { # FILE LINE
        grep -qxF -- "$2" "$1" && pass "$(basename "$1" .env): $2" || fail "$(basename "$1" .env) lacks '$2'"
}
expect_env "$T/fdarg.env" "env SERVER_STARTER_PORT=127.0.0.1:$PA=3;127.0.0.1:$PB=4;$T/u.sock=5"
expect_env "$T/fdarg.env" "env SERVER_STARTER_GENERATION=1"
expect_env "$T/fdarg.env" "env EINHORN_FD_COUNT=3"
expect_env "$T/fdarg.env" "env EINHORN_FD_0=3"
expect_env "$T/fdarg.env" "env EINHORN_FD_1=4"
expect_env "$T/fdarg.env" "env EINHORN_FD_2=5"
expect_env "$T/fdarg.env" "env EINHORN_FD_FAMILY_2=AF_UNIX"
expect_env "$T/fdarg.env" "env LISTEN_FDS=3"
expect_env "$T/fdarg.env" "env LISTEN_FDNAMES=a:b:u"
grep -qE '^env (NGINX=|EINHORN_FD_3=|EINHORN_MASTER_PID=)' "$T/fdarg.env" &&
        fail "fdarg got a stale or unasked variable: $(grep -E '^env (NGINX|EINHORN_FD_3|EINHORN_MASTER)' "$T/fdarg.env")" ||
        pass "fdarg: no NGINX= (off by default), no stale EINHORN_FD_3 or EINHORN_MASTER_PID"

expect_env "$T/nginxonly.env" "NGINX=3;4;"
grep -qE '^(LISTEN_|SERVER_STARTER|EINHORN)' "$T/nginxonly.env" &&
        fail "fd_env = nginx, yet: $(grep -E '^(LISTEN_|SERVER_STARTER|EINHORN)' "$T/nginxonly.env" | tr '\n' ' ')" ||
        pass "fd_env = nginx: no LISTEN_*, SERVER_STARTER_* or EINHORN_* (not even sockvisord's stale ones)"

# The generation moves with a restart.
rm -f "$T/fdarg.env"
ctl restart fdarg >"$T/restart.out" 2>&1 && pass "restart exited 0" || fail "restart: $(cat "$T/restart.out")"
wait_for_file "$T/fdarg.env" && expect_env "$T/fdarg.env" "env SERVER_STARTER_GENERATION=2" ||
        fail "generation 2 wrote no report"

stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"

# Config errors: an unknown socket, one the program does not list, a bad fd_env.
check_bad() { # TEXT WANT
        printf '[sockvisord]\ncontrol = %s\n[socket:a]\nlisten = tcp://127.0.0.1:%s\n[socket:b]\nlisten = tcp://127.0.0.1:%s\n[program:p]\nsockets = a\n%s\n' \
                "$CTL" "$PA" "$PB" "$1" >"$T/bad.ini"
        local out rc=0
        out=$("$SOCKVISORD" -t -c "$T/bad.ini" 2>&1) || rc=$?
        [ "$rc" = 78 ] && grep -qF -- "$2" <<<"$out" && pass "sockvisord -t: $out" ||
                fail "sockvisord -t exited $rc, said '$out'; wanted 78 and '$2'"
}
check_bad "command = app %(fd:c)" "bad.ini:9: [program:p] command: %(fd:c): no [socket:c] is defined"
check_bad "command = app %(fd:b)" "bad.ini:9: [program:p] command: %(fd:b): [socket:b] is not in this program's sockets="
check_bad "command = app
fd_env = systemd,apache" "bad.ini:10: [program:p] fd_env: 'apache' is not an fd dialect"
finish
