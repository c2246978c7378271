#!/bin/bash
# 750 programs and one worker that double-forks 60 orphans: every orphan is reparented to
# sockvisord (a child subreaper) and reaped when it exits, so no zombie is ever left under
# the daemon. With 750 children the daemon's /proc children list is far over 4 KB: the
# orphans, the newest pids, sit at its end (where a reader of the first 4 KB never looks).
. "$(dirname "$0")/lib.sh"

N=${SV_REAP_MANY_N:-750}
ORPHANS=60
cat >"$T/orphans.sh" <<'EOF2'
#!/bin/sh
# Waits for the go file, then leaves $2 orphans behind: each subshell forks a sleep and
# exits at once, so the sleep's parent is gone and it is reparented to the subreaper.
for _ in $(seq 1 600); do [ -e "$1" ] && break; sleep 0.1; done
i=0
while [ "$i" -lt "$2" ]; do
        ( sleep 59 & )
        i=$((i + 1))
done
exec sleep 3600
EOF2
chmod +x "$T/orphans.sh"
{
        printf '[sockvisord]\ncontrol = %s\n\n' "$CTL"
        for i in $(seq 1 "$N"); do
                printf '[program:idle%d]\ncommand = sleep 3600\nstopwaitsecs = 5s\n\n' "$i"
        done
        printf '[program:forker]\ncommand = %s %s %s\n' "$T/orphans.sh" "$T/go" "$ORPHANS"
} >"$T/sockvisor.ini"

t0=$(ms_now)
start_daemon "$T/sockvisor.ini"
running=0
for _ in $(seq 1 300); do
        running=$(ctl status 2>/dev/null | awk '$2 == "RUNNING"' | wc -l)
        [ "$running" -ge $((N + 1)) ] && break
        sleep 0.1
done
[ "$running" -ge $((N + 1)) ] && pass "$((N + 1)) programs RUNNING after $(($(ms_now) - t0)) ms" ||
        fail "only $running of $((N + 1)) programs RUNNING after 30 s"
kids=$(children_of "$DAEMON_PID" | wc -l)
bytes=$(cat /proc/"$DAEMON_PID"/task/*/children | wc -c)
log "sockvisord has $kids children; its children files hold $bytes bytes"

touch "$T/go"
# The orphans appear under the daemon (sleep 59: ours, by pid).
orphans_now() { { ps -o pid=,args= --ppid "$DAEMON_PID" || true; } | awk '$2 == "sleep" && $3 == "59" { print $1 }'; }
seen=0
for _ in $(seq 1 200); do
        seen=$(orphans_now | wc -l)
        [ "$seen" -ge "$ORPHANS" ] && break
        sleep 0.1
done
[ "$seen" -ge "$ORPHANS" ] && pass "$seen orphans reparented to sockvisord" ||
        fail "only $seen of $ORPHANS orphans under sockvisord"
orphan_pids=$(orphans_now)
kill -KILL $orphan_pids 2>/dev/null || true

# Once they have died, none is left as a zombie: /proc/*/stat state Z with sockvisord as
# the parent.
zombies_under() {
        { cat /proc/[0-9]*/stat 2>/dev/null || true; } |
                awk -v p="$DAEMON_PID" '{ sub(/.*\) /, ""); if ($1 == "Z" && $2 == p) n++ } END { print n + 0 }'
}
z=0 left=0
for _ in $(seq 1 100); do
        left=$(orphans_now | wc -l)
        z=$(zombies_under)
        [ "$left" = 0 ] && [ "$z" = 0 ] && break
        sleep 0.1
done
[ "$left" = 0 ] && [ "$z" = 0 ] && pass "every orphan reaped: no zombie under sockvisord" ||
        fail "$left orphans still under sockvisord, $z zombies (state Z, ppid $DAEMON_PID)"
[ "$(ctl status forker | awk '$1 == "forker" { print $2 }')" = RUNNING ] && pass "the forking worker is still RUNNING" ||
        fail "forker: $(ctl status forker 2>&1 | tr '\n' ';')"
[ "$(($(ms_now) - t0))" -lt 60000 ] && pass "done in $(($(ms_now) - t0)) ms" || fail "took $(($(ms_now) - t0)) ms (limit 60 s)"

stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
finish
