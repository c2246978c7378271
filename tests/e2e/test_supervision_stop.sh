#!/bin/bash
# Stopping: a worker that ignores its stopsignal is SIGKILLed after stopwaitsecs;
# stopasgroup = true signals the worker's whole process group, so a grandchild goes too;
# killasgroup = true does the same for the SIGKILL; and the daemon is a child subreaper, so an orphaned grandchild is reparented to it and
# reaped when it dies (never left a zombie); with per-worker cgroups (as root), it ends with its
# worker instead.
. "$(dirname "$0")/lib.sh"

cat >"$T/sockvisor.ini" <<EOF2
[sockvisord]
control = $CTL

[program:stubborn]
command = $TESTWORKER --ignore-term $T/stubborn.report
ready = notify
stopwaitsecs = 1s

[program:group]
command = $TESTWORKER --fork-grandchild $T/group.report
ready = notify
stopasgroup = true
stopwaitsecs = 5s

[program:killgrp]
command = $TESTWORKER --ignore-term --fork-grandchild $T/killgrp.report
ready = notify
killasgroup = true
stopwaitsecs = 1s

[program:orphan]
command = $TESTWORKER --fork-grandchild $T/orphan.report
ready = notify
stopwaitsecs = 5s
EOF2

start_daemon "$T/sockvisor.ini"
for p in stubborn group killgrp orphan; do
        wait_for_file "$T/$p.report" || die "$p wrote no report"
        wait_state "$p" 5 RUNNING || die "$p is '$STATE', not RUNNING"
done
track "$(report_field "$T/stubborn.report" pid)" "$(report_field "$T/group.report" pid)" \
        "$(report_field "$T/group.report" grandchild)" "$(report_field "$T/killgrp.report" pid)" \
        "$(report_field "$T/killgrp.report" grandchild)" "$(report_field "$T/orphan.report" pid)" \
        "$(report_field "$T/orphan.report" grandchild)"

# --- stopwaitsecs, then SIGKILL ---
w=$(report_field "$T/stubborn.report" pid)
[ "$(ctl pid stubborn)" = "$w" ] && pass "pid stubborn = $w, as the worker reports" ||
        fail "pid stubborn says '$(ctl pid stubborn)', the worker reports $w"
t0=$(ms_now)
rc=0
ctl stop stubborn >"$T/stop1.out" 2>&1 || rc=$?
ms=$(($(ms_now) - t0))
sed 's/^/    /' "$T/stop1.out"
[ "$rc" = 0 ] && pass "stop of a worker ignoring SIGTERM exits 0" || fail "stop exited $rc"
[ "$ms" -ge 1000 ] && [ "$ms" -lt 5000 ] && pass "stop took ${ms} ms (stopwaitsecs = 1s, then SIGKILL)" ||
        fail "stop took ${ms} ms, expected 1000..5000"
gone "$w" && pass "worker $w is gone (and reaped)" || fail "worker $w still exists after stop"
grep -q "stubborn\[gen [0-9]* pid $w\]: .*SIGKILL" "$T/daemon.log" && pass "the log says SIGKILL was sent" ||
        fail "the log does not mention SIGKILL for pid $w"
[ "$(state_of stubborn)" = STOPPED ] && pass "stubborn is STOPPED" || fail "stubborn is '$(state_of stubborn)', not STOPPED"

# --- stopasgroup: the stopsignal reaches the grandchild too ---
w=$(report_field "$T/group.report" pid)
g=$(report_field "$T/group.report" grandchild)
[ -n "$g" ] && [ "$(ps -o pgid= -p "$g" | tr -d ' ')" = "$w" ] &&
        pass "worker $w leads its own process group; grandchild $g is in it" ||
        fail "grandchild '$g' is not in process group $w (pgid $(ps -o pgid= -p "$g" 2>/dev/null))"
procs=$(ctl status group | awk '$1 == "group" { print $6 }')
[ "$procs" = 2 ] && pass "status counts 2 processes in its group (PROCS)" || fail "status PROCS for group is '$procs', expected 2"
t0=$(ms_now)
rc=0
ctl stop group >"$T/stop2.out" 2>&1 || rc=$?
ms=$(($(ms_now) - t0))
[ "$rc" = 0 ] && pass "stop group exits 0 after ${ms} ms" || fail "stop group exited $rc: $(cat "$T/stop2.out")"
[ "$ms" -lt 4000 ] && pass "the group went on SIGTERM, no SIGKILL needed" || fail "stop group took ${ms} ms"
gone "$w" && pass "worker $w is gone" || fail "worker $w still exists"
wait_gone "$g" 3 && pass "grandchild $g is gone (stopasgroup) and reaped" ||
        fail "grandchild $g survived stopasgroup: $(ps -o pid=,ppid=,stat= -p "$g")"
z=$(zombies_of "$DAEMON_PID")
[ -z "$z" ] && pass "no zombie under the daemon" || fail "zombies under the daemon: $z"

# --- killasgroup: the worker ignores SIGTERM (sent to it alone); the SIGKILL after
# stopwaitsecs goes to the group, so the grandchild, which never got SIGTERM, goes too ---
w=$(report_field "$T/killgrp.report" pid)
g=$(report_field "$T/killgrp.report" grandchild)
t0=$(ms_now)
rc=0
ctl stop killgrp >"$T/stop4.out" 2>&1 || rc=$?
ms=$(($(ms_now) - t0))
[ "$rc" = 0 ] && [ "$ms" -ge 1000 ] && pass "stop killgrp exits 0 after ${ms} ms (SIGKILL after stopwaitsecs)" ||
        fail "stop killgrp exited $rc after ${ms} ms: $(cat "$T/stop4.out")"
gone "$w" && pass "worker $w is gone" || fail "worker $w still exists"
wait_gone "$g" 3 && pass "grandchild $g is gone (killasgroup) and reaped" ||
        fail "grandchild $g survived killasgroup: $(ps -o pid=,ppid=,stat= -p "$g")"
z=$(zombies_of "$DAEMON_PID")
[ -z "$z" ] && pass "no zombie under the daemon" || fail "zombies under the daemon: $z"

# --- without stopasgroup: the grandchild outlives the worker, is reparented to the
# daemon (child subreaper), and is reaped by it once the test kills it ---
w=$(report_field "$T/orphan.report" pid)
g=$(report_field "$T/orphan.report" grandchild)
rc=0
ctl stop orphan >"$T/stop3.out" 2>&1 || rc=$?
[ "$rc" = 0 ] && pass "stop orphan exits 0" || fail "stop orphan exited $rc: $(cat "$T/stop3.out")"
gone "$w" && pass "worker $w is gone" || fail "worker $w still exists"
if grep -q "each worker runs in its own cgroup" "$T/daemon.log"; then
        # With cgroups (root here), the grandchild is still the program's: it gets SIGTERM
        # as its worker exits (systemd's KillMode=control-group), and is reaped.
        wait_gone "$g" 5 && pass "grandchild $g ended with its worker (its cgroup) and was reaped" ||
                fail "grandchild $g outlived its worker's cgroup: $(ps -o pid=,ppid=,stat= -p "$g")"
        grep -q "pid $w exited leaving 1 process in its cgroup: sent SIGTERM" "$T/daemon.log" &&
                pass "the log says the worker left 1 process in its cgroup" || fail "no 'exited leaving 1 process' line"
else
        gstate=$(ps -o stat= -p "$g" | cut -c1)
        gppid=$(ps -o ppid= -p "$g" | tr -d ' ')
        [ -n "$gstate" ] && [ "$gstate" != Z ] && pass "grandchild $g survives a stop without stopasgroup" ||
                fail "grandchild $g did not survive (state '$gstate')"
        [ "$gppid" = "$DAEMON_PID" ] && pass "grandchild $g was reparented to the daemon (subreaper)" ||
                fail "grandchild $g has parent '$gppid', not the daemon $DAEMON_PID"
        kill -TERM "$g"
        wait_gone "$g" 3 && pass "the killed grandchild was reaped" ||
                fail "grandchild $g left behind: $(ps -o pid=,ppid=,stat= -p "$g")"
fi
z=$(zombies_of "$DAEMON_PID")
[ -z "$z" ] && pass "no zombie under the daemon" || fail "zombies under the daemon: $z"
[ -z "$(children_of "$DAEMON_PID")" ] && pass "the daemon has no children left" ||
        fail "children left: $(children_of "$DAEMON_PID" | tr '\n' ' ')"

stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
finish
