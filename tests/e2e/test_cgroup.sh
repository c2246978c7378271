#!/bin/bash
# Per-instance cgroups v2: where sockvisord may make them (root here), each worker runs in
# its own, and a process that left the worker's process group (setsid) is still reached:
# `stop` ends it, a worker that exits takes it along, a restart gives the new generation a
# new cgroup and removes the old one, and shutdown leaves no cgroup behind. Skipped where
# there is no writable cgroup2 (not root, or a read-only /sys/fs/cgroup).
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { log "skip: not root: sockvisord makes cgroups only as root or when delegated"; exit 0; }
CGMOUNT=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo | sed 's/\\040/ /g')
[ -n "$CGMOUNT" ] && [ -w "$CGMOUNT" ] || { log "skip: no writable cgroup2 mount"; exit 0; }

# The worker starts a child in a session of its own (not in its process group, so a
# process-group kill never reaches it), writes its pid, and serves nothing.
cat >"$T/cg.ini" <<CONF
[sockvisord]
control = $CTL

[program:web]
command = /bin/sh -c 'setsid sleep 600 </dev/null >/dev/null 2>&1 & echo \$! >$T/escapee.pid; exec sleep 600'
startsecs = 0
stopwaitsecs = 5
autorestart = false

# Its child ignores SIGTERM: SIGKILL follows after the grace period (5 s).
[program:stubborn]
command = /bin/sh -c 'setsid sh -c "trap \"\" TERM; exec sleep 600" </dev/null >/dev/null 2>&1 & echo \$! >$T/stubborn.pid; exec sleep 600'
startsecs = 0
autorestart = false
CONF

# The escapees are `sleep 600` without $T in their command line, so lib.sh's cleanup cannot
# find them: when a check failed and one survived, kill it here, by the pid it wrote.
ESCAPEES=()
kill_escapees() {
        local p
        for p in "${ESCAPEES[@]}"; do
                [ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "sleep 600 " ] && kill -KILL "$p" 2>/dev/null
        done
        return 0
}
trap 'rc=$?; kill_escapees; (exit $rc); cleanup' EXIT
read_escapee() { wait_for_file "$T/escapee.pid" || die "the worker wrote no escapee pid"; esc=$(cat "$T/escapee.pid"); ESCAPEES+=("$esc"); }

start_daemon "$T/cg.ini"
wait_state web 10 RUNNING || die "web is $STATE, not RUNNING"
grep -q "each worker runs in its own cgroup under" "$T/daemon.log" && pass "the daemon says it uses cgroups" ||
        fail "no 'each worker runs in its own cgroup' line in the log"
base=$(sed -n 's/.*each worker runs in its own cgroup under \([^:]*\):.*/\1/p' "$T/daemon.log" | head -1)
read_escapee
pid=$(ctl pid web)
cg_of() { awk -F: '$1 == "0" { print $3 }' "/proc/$1/cgroup" 2>/dev/null; }
rel=${base#"$CGMOUNT"}
[ "$(cg_of "$pid")" = "$rel/web.1" ] && pass "the worker is in its own cgroup $rel/web.1" ||
        fail "the worker $pid is in cgroup '$(cg_of "$pid")', not $rel/web.1"
[ "$(cg_of "$esc")" = "$rel/web.1" ] && pass "its setsid'd child is in the same cgroup" ||
        fail "the setsid'd child $esc is in '$(cg_of "$esc")'"
[ "$(ps -o sid= -p "$esc" | tr -d ' ')" != "$(ps -o sid= -p "$pid" | tr -d ' ')" ] &&
        pass "the child left the worker's session (a process-group kill misses it)" || fail "the child did not leave the session"

# stop: the child goes too, and the cgroup is removed.
ctl stop web >/dev/null || fail "stop web failed"
wait_gone "$esc" 5 && pass "stop ended the setsid'd child too" || fail "the setsid'd child $esc survived stop"
[ ! -d "$base/web.1" ] && pass "the stopped worker's cgroup was removed" || fail "$base/web.1 is still there"

# start, then the worker exits by itself: what it left in its cgroup is killed with it.
rm -f "$T/escapee.pid"
ctl start web >/dev/null || fail "start web failed"
read_escapee
pid=$(ctl pid web)
cg=$(cg_of "$pid")
[ "$cg" = "$rel/web.1" ] && pass "started again, it is in a new cgroup (web.1: start keeps the generation)" ||
        fail "the restarted worker is in '$cg'"
kill -KILL "$pid"
wait_gone "$esc" 5 && pass "a worker that died took its setsid'd child along" || fail "the child $esc outlived its worker"
grep -q "pid $pid exited leaving 1 process in its cgroup: sent SIGTERM" "$T/daemon.log" && pass "the log says so" ||
        fail "no 'exited leaving 1 process in its cgroup' line"
for _ in $(seq 1 50); do [ -d "$CGMOUNT$cg" ] || break; sleep 0.1; done
[ -n "$cg" ] && [ ! -d "$CGMOUNT$cg" ] && pass "its cgroup was removed" || fail "$CGMOUNT$cg is still there"

# restart: the new generation gets its own cgroup (web.2), the old one's is removed.
for _ in $(seq 1 50); do [ "$(state_of web)" = RUNNING ] && break; ctl start web >/dev/null 2>&1 || true; sleep 0.1; done
rm -f "$T/escapee.pid"
ctl restart web >/dev/null || fail "restart web failed"
pid=$(ctl pid web)
[ "$(cg_of "$pid")" = "$rel/web.2" ] && pass "after restart, generation 2 is in web.2" ||
        fail "after restart, the worker is in '$(cg_of "$pid")', not $rel/web.2"
[ ! -d "$base/web.1" ] && pass "generation 1's cgroup was removed" || fail "$base/web.1 is still there after restart"

# A child that ignores SIGTERM: alive 2 s after its worker exited, gone once the 5 s grace
# is over (SIGKILL through cgroup.kill).
wait_for_file "$T/stubborn.pid" || die "stubborn wrote no pid"
sesc=$(cat "$T/stubborn.pid")
ESCAPEES+=("$sesc")
spid=$(ctl pid stubborn)
t0=$(ms_now)
kill -KILL "$spid"
sleep 2
if gone "$sesc"; then fail "the SIGTERM-ignoring child $sesc went within 2 s"; else pass "the SIGTERM-ignoring child outlives SIGTERM"; fi
wait_gone "$sesc" 8 && pass "and is SIGKILLed after the grace ($(($(ms_now) - t0)) ms after its worker died)" ||
        fail "the SIGTERM-ignoring child $sesc survived the grace period"

# The same within an upgrade: the new image finds the leaf no worker it adopted is in, and
# sends the SIGKILL the previous image had pending.
rm -f "$T/stubborn.pid"
ctl start stubborn >/dev/null || fail "start stubborn again failed"
wait_for_file "$T/stubborn.pid" || die "stubborn wrote no pid the second time"
sesc=$(cat "$T/stubborn.pid")
ESCAPEES+=("$sesc")
spid=$(ctl pid stubborn)
leaf=$(cg_of "$sesc")
t0=$(ms_now)
kill -KILL "$spid"
for _ in $(seq 1 30); do grep -q "pid $spid exited leaving 1 process in its cgroup" "$T/daemon.log" && break; sleep 0.1; done
ctl upgrade >"$T/upgrade.out" 2>&1 || fail "upgrade failed: $(cat "$T/upgrade.out")"
gone "$sesc" && fail "the SIGTERM-ignoring child $sesc went at the upgrade, before its grace was over"
wait_gone "$sesc" 8 && pass "across an upgrade, the SIGTERM-ignoring child is SIGKILLed after the grace ($(($(ms_now) - t0)) ms)" ||
        fail "the SIGTERM-ignoring child $sesc survived the grace across the upgrade"
grep -q "cgroups after the upgrade: removed [0-9]* emptied, 1 still holding" "$T/daemon.log" &&
        pass "the new image took the leaf over: $(grep -o 'cgroups after the upgrade: .*' "$T/daemon.log" | tail -n 1)" ||
        fail "the new image did not say it took the leaf $leaf over"
for _ in $(seq 1 30); do [ -d "$CGMOUNT$leaf" ] || break; sleep 0.1; done
[ -n "$leaf" ] && [ ! -d "$CGMOUNT$leaf" ] && pass "and removed its cgroup $leaf" || fail "$CGMOUNT$leaf is still there"

# shutdown: nothing of ours is left in the hierarchy.
read_escapee
stop_daemon
[ "$DAEMON_RC" -eq 0 ] && pass "shutdown: exit 0" || fail "shutdown: exit $DAEMON_RC"
wait_gone "$esc" 5 && pass "shutdown ended the setsid'd child" || fail "the child $esc outlived sockvisord by 5 s"
[ ! -d "$base" ] && pass "shutdown removed $base" || fail "$base is still there: $(ls "$base" 2>&1 | tr '\n' ' ')"
finish
