#!/bin/bash
# 1,500 programs under a soft fd limit of 1,024 (the hard one higher): all RUNNING (the
# daemon holds no fd per worker: no pidfd, no child source), sockvisord's soft limit raised
# to the hard one at start, and each worker still gets the soft limit of 1,024 the daemon
# was started with (select() in a worker breaks on fds >= 1024). The programs share 200
# sockets (SV_SOCKETS_MAX is 256), so a worker gets fds too.
. "$(dirname "$0")/lib.sh"

N=${SV_MANY_PROGRAMS_N:-1500}
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -le $((N + 100)) ]; then
        log "SKIP: the hard fd limit ($hard) is too low for $N sockets"
        exit 0
fi
tag=$(basename "$T")
{
        printf '[sockvisord]\ncontrol = %s\n\n' "$CTL"
        for i in $(seq 1 "$N"); do
                [ "$i" -le 200 ] && printf '[socket:s%d]\nlisten = unix:@%s-%d\n\n' "$i" "$tag" "$i"
                printf '[program:p%d]\ncommand = sleep 3600\nsockets = s%d\n\n' "$i" $(((i - 1) % 200 + 1))
        done
} >"$T/sockvisor.ini"

t0=$(ms_now)
# the soft limit only for the daemon (and so its workers): a subshell
( ulimit -Sn 1024 && exec "$SOCKVISORD" -c "$T/sockvisor.ini" ) >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 1 600); do
        ctl version >/dev/null 2>&1 && break
        kill -0 "$DAEMON_PID" 2>/dev/null || die "sockvisord exited during start-up: $(tail -n 3 "$T/daemon.log")"
        sleep 0.1
done
running=0
for _ in $(seq 1 600); do
        running=$(ctl status 2>/dev/null | awk '$2 == "RUNNING"' | wc -l)
        [ "$running" -ge "$N" ] && break
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.1
done
[ "$running" -ge "$N" ] && pass "all $N programs RUNNING after $(($(ms_now) - t0)) ms under ulimit -Sn 1024" ||
        fail "only $running of $N programs RUNNING"

soft_of() { awk '/^Max open files/ { print $4; exit }' "/proc/$1/limits"; }
dsoft=$(soft_of "$DAEMON_PID")
fds=$(fd_count "$DAEMON_PID")
[ "$dsoft" = "$hard" ] && pass "sockvisord raised its soft limit to the hard one ($dsoft), holds $fds fds" ||
        fail "sockvisord's soft fd limit is $dsoft, not the hard $hard"
[ "$fds" -lt 400 ] && pass "no fd per worker: $fds fds for $N workers and 200 sockets" || fail "$fds fds held"
wpid=$(ctl status p$N | awk '$1 == "p'"$N"'" { print $3 }')
wsoft=$(soft_of "$wpid" 2>/dev/null || echo "?")
[ "$wsoft" = 1024 ] && pass "a worker (p$N, pid $wpid) has the original soft limit: 1024" ||
        fail "worker p$N (pid $wpid) has a soft fd limit of $wsoft, not 1024"

stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
finish
