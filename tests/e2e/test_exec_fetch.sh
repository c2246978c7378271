#!/bin/bash
# sockvisorctl exec --socket NAME -- COMMAND: a process sockvisord did not start fetches a
# held socket over the control socket (SCM_RIGHTS) and serves on it: the same socket inode
# as sockvisord's, answering on its port, under load, while sockvisord's own worker
# restarts on another socket. Who may fetch is per socket (fetch_users=, fetch_groups=;
# root only by default), checked against the peer's credentials and logged.
. "$(dirname "$0")/lib.sh"

command -v setpriv >/dev/null || die "setpriv is not installed (package util-linux)"
[ "$(id -u)" = 0 ] || die "needs root: it runs clients as other uids"
PORT=$("$FREEPORT")
SPARE=$("$FREEPORT")
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# the control socket must be reachable by nobody: its directory too
chmod 755 "$T"
cat >"$T/sockvisor.ini" <<EOF
[sockvisord]
control = $CTL
control_mode = 0666

[socket:web]
listen = tcp://127.0.0.1:$PORT

[socket:spare]
listen = tcp://127.0.0.1:$SPARE
fetch_groups = $(getent group 65534 | cut -d: -f1)

[program:app]
command = $DEMO
sockets = web
ready = notify
EOF
start_daemon "$T/sockvisor.ini"
wait_state app 10 RUNNING || die "app is $STATE"
inode=$(ctl sockets | awk '$1 == "spare" { print $4 }')

# --- root fetches 'spare' and serves on it ---
"$SOCKVISORCTL" -s "$CTL" exec --socket spare -- "$DEMO" >"$T/exec.out" 2>&1 &
EXEC_PID=$!
STARTED_PIDS+=("$EXEC_PID")
for _ in $(seq 1 50); do [ "$(http_get "$SPARE")" != "" ] && break; sleep 0.1; done
reply=$(http_get "$SPARE")
case $reply in pid=$EXEC_PID*) pass "the exec'd server answers on the held socket: $reply" ;;
*) fail "spare port answers '$reply' (exec pid $EXEC_PID): $(cat "$T/exec.out")" ;; esac
got=$(readlink "/proc/$EXEC_PID/fd/3")
[ "$got" = "socket:[$inode]" ] && pass "fd 3 of the server is sockvisord's socket (inode $inode)" ||
        fail "fd 3 is '$got', sockvisord holds socket:[$inode]"
# its one socket is the fetched one: the control connection did not leak into it (what
# else it has, it inherited from this shell, as from any exec)
socks=$(for f in /proc/"$EXEC_PID"/fd/*; do readlink "$f"; done | grep -c '^socket:' || true)
[ "$socks" = 1 ] && pass "the server's only socket is the fetched one (no control connection leaked)" || {
        fail "the server has $socks sockets"
        ls -l "/proc/$EXEC_PID/fd"
}
grep -q "fetch: socket 'spare' (tcp://127.0.0.1:$SPARE, fd [0-9]*) sent to pid [0-9]*, uid 0 (root)" "$T/daemon.log" &&
        pass "the fetch is logged" || fail "no fetch in the log"

# --- it keeps serving while sockvisord restarts its own program, under load ---
"$LOADCLIENT" -p "$SPARE" -c 8 -d 3 >"$T/load.out" 2>"$T/load.err" &
LOAD_PID=$!
ctl restart app >/dev/null || fail "restart app"
ctl upgrade >/dev/null || fail "upgrade"
wait "$LOAD_PID" || true
failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' "$T/load.out")
[ "${failed:-x}" = 0 ] && pass "0 failed requests to the fetched socket across a restart and an upgrade: $(cat "$T/load.out")" ||
        fail "load on the fetched socket: $(cat "$T/load.out")"
kill "$EXEC_PID"
wait "$EXEC_PID" 2>/dev/null || true
ctl sockets | grep -q "^spare .*listening" && pass "sockvisord still holds spare after the server exited" ||
        fail "spare gone: $(ctl sockets)"

# --- who may fetch ---
rc=0
out=$("${NOBODY[@]}" "$SOCKVISORCTL" -s "$CTL" exec --socket web -- /bin/true 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "permission denied: uid 65534 (nobody) may not fetch socket 'web' (fetch_users = (none); fetch_groups = (none))" <<<"$out" &&
        pass "a uid not allowed is refused: $out" || fail "nobody fetching web (rc $rc): $out"
grep -q "fetch: refused socket 'web' to pid [0-9]*: permission denied" "$T/daemon.log" && pass "the refusal is logged" ||
        fail "refusal not logged"
rc=0
out=$("${NOBODY[@]}" "$SOCKVISORCTL" -s "$CTL" exec --socket spare -- /bin/sh -c \
        'echo "fds=$LISTEN_FDS names=$LISTEN_FDNAMES pid=$LISTEN_PID self=$$"; readlink /proc/self/fd/3' 2>&1) || rc=$?
[ "$rc" = 0 ] && grep -q "fds=1 names=spare pid=\([0-9]*\) self=\1" <<<"$out" && grep -q "socket:\[$inode\]" <<<"$out" &&
        pass "a member of fetch_groups gets it, with LISTEN_FDS, LISTEN_FDNAMES and its own LISTEN_PID" ||
        fail "nobody fetching spare (rc $rc): $out"
rc=0
out=$("${NOBODY[@]}" "$SOCKVISORCTL" -s "$CTL" exec --socket spare --socket web -- /bin/true 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "may not fetch socket 'web'" <<<"$out" && pass "all or nothing: one refused socket refuses the fetch" ||
        fail "mixed fetch (rc $rc): $out"
rc=0
out=$("${NOBODY[@]}" "$SOCKVISORCTL" -s "$CTL" restart app 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "permission denied: uid 65534 may not control this sockvisord" <<<"$out" &&
        pass "a fetcher may not control the daemon: $out" || fail "nobody restarting (rc $rc): $out"

# --- errors ---
rc=0
out=$(ctl exec --socket nosuch -- /bin/true 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "no socket named 'nosuch'; sockvisord holds: web, spare" <<<"$out" && pass "unknown socket: $out" ||
        fail "unknown socket (rc $rc): $out"
rc=0
out=$(ctl exec --socket spare 2>&1) || rc=$?
[ "$rc" = 2 ] && pass "no command: usage error ($out)" || fail "no command (rc $rc): $out"
rc=0
out=$(ctl exec --socket spare -- /nonexistent/server 2>&1) || rc=$?
[ "$rc" = 127 ] && grep -q "cannot run /nonexistent/server" <<<"$out" && pass "a missing command: $out" ||
        fail "missing command (rc $rc): $out"

# --- a reload that changes fetch_users applies at once, without re-binding ---
sed -i "s/^fetch_groups = .*/fetch_users = root/" "$T/sockvisor.ini"
ctl reload >/dev/null || fail "reload"
rc=0
out=$("${NOBODY[@]}" "$SOCKVISORCTL" -s "$CTL" exec --socket spare -- /bin/true 2>&1) || rc=$?
[ "$rc" = 1 ] && pass "after the reload nobody may no longer fetch spare" || fail "after reload (rc $rc): $out"
[ "$(ctl sockets | awk '$1 == "spare" { print $4 }')" = "$inode" ] && pass "spare was not re-bound by the reload" ||
        fail "spare re-bound"
stop_daemon
finish
