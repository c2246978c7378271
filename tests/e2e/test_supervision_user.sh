#!/bin/bash
# user = nobody and umask = 027: the worker runs with nobody's uid, gid and supplementary
# groups (every one of real, effective, saved and fs ids) and umask 0027, and still gets
# its socket and readiness through. Checked for the first generation and after a restart.
# Needs root (the daemon switches user); skipped otherwise.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
        log "skip: not running as root, the daemon cannot switch to user nobody"
        finish
        exit 0
fi
id nobody >/dev/null 2>&1 || die "no user 'nobody' on this system"
NUID=$(id -u nobody)
NGID=$(id -g nobody)
NGROUPS=$(id -G nobody | tr ' ' '\n' | sort -n | tr '\n' ' ')

# The worker writes its report as nobody: the directory must be reachable and its own.
chmod 755 "$T"
mkdir "$T/w"
# nobody must be able to execute the worker: the build tree may sit under a 0700
# directory (a fresh clone in a mktemp dir, /root), so run a copy from our own dir.
cp "$TESTWORKER" "$T/sv-testworker"
chmod 755 "$T/sv-testworker"
TESTWORKER=$T/sv-testworker
chown "$NUID:$NGID" "$T/w"
PORT=$("$FREEPORT")
cat >"$T/sockvisor.ini" <<EOF2
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT

[program:app]
command = $TESTWORKER $T/w/report
sockets = web
ready = notify
user = nobody
umask = 027
EOF2

ids() { awk -v k="$2:" '$1 == k { $1 = ""; print substr($0, 2) }' "/proc/$1/status"; } # PID Uid|Gid|Groups|Umask

check_worker() { # GENERATION
        local gen=$1 r=$T/w/report pid
        wait_for_file "$r" || { fail "gen $gen: no report"; return; }
        wait_state app 5 RUNNING || fail "gen $gen: app is '$STATE', not RUNNING (READY=1 from nobody lost?)"
        pid=$(report_field "$r" pid)
        track "$pid"
        [ "$(ctl pid app)" = "$pid" ] || fail "gen $gen: pid app says '$(ctl pid app)', the report $pid"
        log "gen $gen: pid $pid: Uid $(ids "$pid" Uid) / Gid $(ids "$pid" Gid) / Groups $(ids "$pid" Groups)"
        [ "$(ids "$pid" Uid | tr '\t' ' ' | tr -s ' ')" = "$NUID $NUID $NUID $NUID" ] &&
                pass "gen $gen: real, effective, saved and fs uid are nobody's ($NUID)" ||
                fail "gen $gen: Uid: $(ids "$pid" Uid), expected $NUID x4"
        [ "$(ids "$pid" Gid | tr '\t' ' ' | tr -s ' ')" = "$NGID $NGID $NGID $NGID" ] &&
                pass "gen $gen: every gid is nobody's ($NGID)" || fail "gen $gen: Gid: $(ids "$pid" Gid), expected $NGID x4"
        local groups
        groups=$(ids "$pid" Groups | tr ' \t' '\n\n' | grep . | sort -n | tr '\n' ' ')
        [ "$groups" = "$NGROUPS" ] && pass "gen $gen: supplementary groups are nobody's: $groups" ||
                fail "gen $gen: Groups: '$groups', expected '$NGROUPS' (id -G nobody)"
        [ "$(ids "$pid" Umask)" = 0027 ] && grep -qx "umask 0027" "$r" && pass "gen $gen: umask 0027" ||
                fail "gen $gen: umask $(ids "$pid" Umask), report: $(grep umask "$r")"
        [ "$(stat -c '%u %a' "$r")" = "$NUID 640" ] && pass "gen $gen: the report was created by nobody, mode 0640" ||
                fail "gen $gen: report owner and mode: $(stat -c '%u %a' "$r")"
        grep -q "^fd 3 port $PORT " "$r" && grep -qx "env LISTEN_PID=$pid" "$r" &&
                pass "gen $gen: the socket is still fd 3, LISTEN_PID=$pid" || fail "gen $gen: socket or LISTEN_PID missing"
}

start_daemon "$T/sockvisor.ini"
check_worker 1
rm -f "$T/w/report"
ctl restart app >"$T/restart.out" 2>&1 && pass "restart exited 0" || fail "restart failed: $(cat "$T/restart.out")"
check_worker 2
[ "$(ids "$DAEMON_PID" Uid | awk '{ print $1 }')" = 0 ] && pass "the daemon itself is still root" ||
        fail "the daemon's Uid: $(ids "$DAEMON_PID" Uid)"
stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
finish
