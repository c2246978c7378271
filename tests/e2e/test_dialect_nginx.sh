#!/bin/bash
# A real nginx (Debian's nginx, unmodified) behind sockvisord through NGINX=3; (its own
# binary-upgrade inheritance), run as a plain program: a private prefix and config in the
# test's directory, `daemon off; master_process on;`, stopsignal = QUIT (nginx's graceful
# stop). It must take the held socket (the very inode `sockvisorctl sockets` shows, no bind
# of its own: it says "using inherited sockets") and survive 5 restarts under load with 0
# failed requests.
. "$(dirname "$0")/lib.sh"

NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX_BIN" ] ||
        die "nginx is not installed: Debian package 'nginx' (scripts/install-deps.sh installs it); not skipped"
command -v ss >/dev/null || die "ss is not installed: Debian package 'iproute2'"

PORT=$("$FREEPORT")
N=$T/nginx
nginx_conf "$N" "$PORT"
cat >"$T/sockvisor.ini" <<INI
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT
blocking = no

[program:nginx]
command = $NGINX_BIN -p $N/ -c conf/nginx.conf -e $N/logs/error.log -g 'daemon off; master_process on;'
sockets = web
fd_env = nginx
ready = started
startsecs = 1s
stopsignal = QUIT
stopwaitsecs = 10s
INI


start_daemon "$T/sockvisor.ini"
wait_state nginx 10 RUNNING || die "nginx is not RUNNING ($STATE); its log: $(tail -n 5 "$N/logs/error.log" 2>&1)"
first=$(http_get "$PORT" || true)
case "$first" in
pid=*) pass "nginx answers on 127.0.0.1:$PORT: $first" ;;
*) die "nginx does not answer on 127.0.0.1:$PORT: '$first'; its log: $(tail -n 5 "$N/logs/error.log" 2>&1)" ;;
esac
grep -q 'using inherited sockets from "3;"' "$N/logs/error.log" && pass "nginx says: using inherited sockets from \"3;\"" ||
        fail "nginx did not take NGINX=3;: $(grep -E 'inherited|bind' "$N/logs/error.log")"
inode=$(ctl sockets | awk '$1 == "web" { print $4 }')
[ -n "$inode" ] || die "sockvisorctl sockets shows no inode for web"
check_inherited nginx nginx "generation 1" "$inode"

restarts_under_load nginx 5 -c 16

[ "$RESTARTS_OK" -eq 5 ] && pass "5 restarts exited 0" || fail "only $RESTARTS_OK of 5 restarts exited 0"
ok=$(load_field ok) pids=$(load_field pids)
load_ok "5 restarts of nginx"
[ "${ok:-0}" -gt 1000 ] && pass "$ok requests served under load" || fail "too few requests served: ${ok:-0}"
[ "${pids:-0}" -ge 6 ] && pass "$pids distinct nginx workers answered" || fail "only ${pids:-0} worker pid(s) answered"

gen=$(status_rows nginx | awk '$1 == "nginx" { print $4 }')
[ "$gen" = 6 ] && pass "status shows generation 6" || fail "status shows generation '$gen', expected 6"
took=$(grep -c 'using inherited sockets from "3;"' "$N/logs/error.log" || true)
[ "$took" = 6 ] && pass "each of the 6 generations took the inherited socket" ||
        fail "$took of 6 generations said they use inherited sockets"
grep -q 'bind() to' "$N/logs/error.log" && fail "nginx tried to bind: $(grep 'bind() to' "$N/logs/error.log" | head -n 1)" ||
        pass "nginx never tried a bind of its own"
check_inherited nginx nginx "generation 6" "$inode"
[ "$(ctl sockets | awk '$1 == "web" { print $4 }')" = "$inode" ] && pass "the socket was never bound again (inode $inode)" ||
        fail "the socket's inode changed"

stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
[ -z "$(procs_with "$N/")" ] && pass "no nginx process left" || fail "nginx processes left: $(procs_with "$N/")"
finish
