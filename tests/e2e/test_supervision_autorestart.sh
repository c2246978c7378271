#!/bin/bash
# What happens after a worker exits on its own (autorestart = true|false|unexpected with
# exitcodes), autostart = false, and the sockvisorctl verbs on one name, several names,
# `all` and an unknown name (exit 1, listing the known programs).
. "$(dirname "$0")/lib.sh"

# Waits (bounded) until NAME runs under a pid other than OLD; NEW holds the last pid seen.
wait_new_pid() { # NAME OLD SECONDS
        for _ in $(seq 1 $(($3 * 10))); do
                NEW=$(ctl pid "$1" 2>/dev/null || echo 0)
                [ "$NEW" != 0 ] && [ "$NEW" != "$2" ] && [ "$(state_of "$1")" = RUNNING ] && return 0
                sleep 0.1
        done
        return 1
}

# === 1. autorestart, exitcodes, autostart ===
# Each "sleep 2" program is ready (RUNNING) after startsecs = 1 s and exits on its own at
# 2 s. hup records each SIGHUP, and on SIGTERM reaps its sleep before it exits, so that no
# orphan outlives the daemon.
cat >"$T/sockvisor.ini" <<EOF2
[sockvisord]
control = $CTL

[program:noauto]
command = $TESTWORKER $T/noauto.report
ready = notify
autorestart = false

[program:sigdeath]
command = $TESTWORKER $T/sigdeath.report
ready = notify

[program:exp3]
command = /bin/sh -c 'sleep 2; exit 3'
ready = started
startsecs = 1
autorestart = unexpected
exitcodes = 0,3

[program:unexp4]
command = /bin/sh -c 'sleep 2; exit 4'
ready = started
startsecs = 1
autorestart = unexpected
exitcodes = 0,3

[program:dflt0]
command = /bin/sh -c 'sleep 2; exit 0'
ready = started
startsecs = 1

[program:always]
command = /bin/sh -c 'sleep 2; exit 0'
ready = started
startsecs = 1
autorestart = true

[program:lazy]
command = $TESTWORKER $T/lazy.report
ready = notify
autostart = false

[program:hup]
command = /bin/sh -c 'trap "echo hup >>$T/hup.log" HUP; trap "kill \\\$! 2>/dev/null; wait; exit 0" TERM; while :; do sleep 1 & wait; done'
ready = started
startsecs = 500ms
EOF2

start_daemon "$T/sockvisor.ini"
unexp4_first=$(ctl pid unexp4)
always_first=$(ctl pid always)
[ "$unexp4_first" != 0 ] && [ "$always_first" != 0 ] || fail "unexp4 and always have no pid right after start-up"
[ "$(state_of lazy)" = STOPPED ] && [ "$(ctl pid lazy)" = 0 ] && [ ! -e "$T/lazy.report" ] &&
        pass "autostart = false: lazy is STOPPED and was not started" ||
        fail "autostart = false: lazy is '$(state_of lazy)', pid '$(ctl pid lazy)'"

# autorestart = false: a worker killed by SIGTERM stays EXITED.
wait_state noauto 5 RUNNING || fail "noauto is '$STATE', not RUNNING"
w=$(report_field "$T/noauto.report" pid)
track "$w"
ctl signal TERM noauto >"$T/signal1.out" 2>&1 && pass "signal TERM noauto exits 0: $(cat "$T/signal1.out")" ||
        fail "signal TERM noauto failed: $(cat "$T/signal1.out")"
wait_state noauto 3 EXITED && pass "autorestart = false: noauto is EXITED after SIGTERM" ||
        fail "noauto is '$STATE', expected EXITED"
wait_gone "$w" 2 || fail "noauto's pid $w was not reaped"

# default (unexpected): a signal death is unexpected, so it is restarted.
wait_state sigdeath 5 RUNNING || fail "sigdeath is '$STATE', not RUNNING"
w=$(ctl pid sigdeath)
track "$w"
ctl signal TERM sigdeath >/dev/null 2>&1 || fail "signal TERM sigdeath failed"
wait_new_pid sigdeath "$w" 5 && pass "autorestart = unexpected: sigdeath died of SIGTERM, restarted as pid $NEW" ||
        fail "sigdeath was not restarted after SIGTERM (pid '$NEW', state '$(state_of sigdeath)')"
track "$NEW"

# exit 3 is in exitcodes = 0,3: expected, EXITED; exit 0 with the default exitcodes too.
for p in exp3 dflt0; do
        wait_state "$p" 6 EXITED && transitions "$p" | grep -q "STARTING RUNNING" &&
                pass "$p ran, exited with an expected status, and is EXITED" ||
                fail "$p is '$STATE'; transitions: $(transitions "$p" | tr '\n' ';')"
done
grep -qE "exp3\[gen [0-9]+( pid [0-9]+)?\]: .*exited with status 3" "$T/daemon.log" &&
        pass "the log says exp3 exited with status 3" || fail "no 'exited with status 3' for exp3 in the log"
# exit 4 is not in exitcodes: restarted; autorestart = true restarts even after exit 0.
wait_new_pid unexp4 "$unexp4_first" 6 && pass "exit 4 not in exitcodes = 0,3: unexp4 restarted as pid $NEW" ||
        fail "unexp4 was not restarted (pid '$NEW', was $unexp4_first; $(transitions unexp4 | tr '\n' ';'))"
wait_new_pid always "$always_first" 6 && pass "autorestart = true: always restarted after exit 0 as pid $NEW" ||
        fail "always was not restarted (pid '$NEW', was $always_first)"

# Nothing comes back later either.
sleep 1.5
for p in noauto exp3 dflt0; do
        [ "$(tries "$p")" = 1 ] && [ "$(state_of "$p")" = EXITED ] && pass "$p was started once and stays EXITED" ||
                fail "$p: $(tries "$p") starts, state '$(state_of "$p")'"
done

# autostart = false: `start` starts it.
rc=0
ctl start lazy >"$T/start.out" 2>&1 || rc=$?
w=$(report_field "$T/lazy.report" pid)
track "$w"
[ "$rc" = 0 ] && [ "$(state_of lazy)" = RUNNING ] && pass "start lazy: exit 0, RUNNING" ||
        fail "start lazy exited $rc, state '$(state_of lazy)': $(cat "$T/start.out")"
[ -n "$w" ] && [ "$(ctl pid lazy)" = "$w" ] && pass "pid lazy = $w, as the worker reports" ||
        fail "pid lazy says '$(ctl pid lazy)', the worker reports '$w'"

# signal HUP: delivered to the worker, which handles it and keeps running.
h=$(ctl pid hup)
rc=0
ctl signal HUP hup >"$T/signal2.out" 2>&1 || rc=$?
[ "$rc" = 0 ] && pass "signal HUP hup exits 0" || fail "signal HUP hup exited $rc: $(cat "$T/signal2.out")"
for _ in $(seq 1 30); do grep -q hup "$T/hup.log" 2>/dev/null && break; sleep 0.1; done
grep -q hup "$T/hup.log" 2>/dev/null && pass "the worker got SIGHUP" || fail "the worker did not record a SIGHUP"
[ "$(ctl pid hup)" = "$h" ] && [ "$(state_of hup)" = RUNNING ] && pass "hup still RUNNING as pid $h" ||
        fail "hup is '$(state_of hup)' as pid '$(ctl pid hup)', was $h"

# Unknown names: exit 1 and the known programs listed, for every verb.
for cmd in "status" "start" "stop" "restart" "pid" "signal HUP"; do
        rc=0
        # shellcheck disable=SC2086 # $cmd is a verb and its argument
        out=$(ctl $cmd nosuch 2>&1) || rc=$?
        [ "$rc" = 1 ] && grep -q nosuch <<<"$out" && grep -q noauto <<<"$out" && grep -q lazy <<<"$out" &&
                grep -q unexp4 <<<"$out" && pass "$cmd nosuch: exit 1, known programs listed" ||
                fail "$cmd nosuch: exit $rc: $out"
done
rc=0
out=$(ctl stop lazy nosuch 2>&1) || rc=$?
[ "$rc" = 1 ] && [ "$(state_of lazy)" = RUNNING ] && pass "stop lazy nosuch: exit 1 and lazy untouched" ||
        fail "stop lazy nosuch: exit $rc, lazy '$(state_of lazy)': $out"

# Stopping a "sleep 2" program kills sh and orphans its sleep: reparented to the daemon (a
# child subreaper), it must be reaped by it when it ends, well before the daemon exits.
ctl stop unexp4 always >"$T/stop.out" 2>&1 || fail "stop unexp4 always failed: $(cat "$T/stop.out")"
orphans() { ps -o pid=,comm= --ppid "$DAEMON_PID" | awk '$2 == "sleep" { print $1 }' || true; }
o=$(orphans | tr '\n' ' ')
for _ in $(seq 1 40); do [ -z "$(orphans)" ] && break; sleep 0.1; done
[ -z "$(orphans)" ] && [ -z "$(zombies_of "$DAEMON_PID")" ] && pass "orphaned sleeps (${o:-none seen}) reaped by the daemon" ||
        fail "orphans left under the daemon: $(children_of "$DAEMON_PID" | tr '\n' ' ')"
stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"

# === 2. several names and `all` ===
cat >"$T/sockvisor2.ini" <<EOF2
[sockvisord]
control = $CTL
[program:a]
command = $TESTWORKER $T/a.report
ready = notify
[program:b]
command = $TESTWORKER $T/b.report
ready = notify
[program:c]
command = $TESTWORKER $T/c.report
ready = notify
autostart = false
EOF2
start_daemon "$T/sockvisor2.ini"
pids_of() { for p in "$@"; do ctl pid "$p"; done | tr '\n' ' '; }
track_progs() { for p in "$@"; do track "$(ctl pid "$p")"; done; }
states_of() { for p in "$@"; do state_of "$p"; done | tr '\n' ' '; }
all_pids() { status_rows | awk '$3 ~ /^[1-9][0-9]*$/ { print $3 }'; }
wait_state a 5 RUNNING && wait_state b 5 RUNNING || fail "a and b are not RUNNING"
[ "$(status_rows a b | wc -l)" = 2 ] && [ "$(status_rows | wc -l)" = 3 ] &&
        pass "status a b shows 2 rows, status 3" || fail "status a b: $(ctl status a b 2>&1)"
[ "$(ctl pid a b | wc -l)" = 2 ] && [ "$(ctl pid a b | tr '\n' ' ')" = "$(pids_of a b)" ] &&
        pass "pid a b: one pid a line" || fail "pid a b: $(ctl pid a b 2>&1 | tr '\n' ' ')"
rc=0
ctl start all >"$T/all1.out" 2>&1 || rc=$?
[ "$rc" = 0 ] && [ "$(states_of a b c)" = "RUNNING RUNNING RUNNING " ] && pass "start all: exit 0, a b c RUNNING" ||
        fail "start all exited $rc: $(states_of a b c): $(cat "$T/all1.out")"
track_progs a b c
rc=0
ctl stop a c >"$T/stop.out" 2>&1 || rc=$?
[ "$rc" = 0 ] && [ "$(states_of a b c)" = "STOPPED RUNNING STOPPED " ] && pass "stop a c: exit 0, only a and c STOPPED" ||
        fail "stop a c exited $rc: $(states_of a b c): $(cat "$T/stop.out")"
rc=0
ctl start a c >"$T/start.out" 2>&1 || rc=$?
[ "$rc" = 0 ] && [ "$(states_of a b c)" = "RUNNING RUNNING RUNNING " ] && pass "start a c: exit 0, a b c RUNNING" ||
        fail "start a c exited $rc: $(states_of a b c): $(cat "$T/start.out")"
b_pid=$(ctl pid b)
track_progs a c
rc=0
ctl restart a b >"$T/restart.out" 2>&1 || rc=$?
[ "$rc" = 0 ] && [ "$(ctl pid b)" != "$b_pid" ] && [ "$(states_of a b)" = "RUNNING RUNNING " ] &&
        pass "restart a b: exit 0, new pids" || fail "restart a b exited $rc: $(cat "$T/restart.out")"
track_progs a b
rc=0
ctl signal TERM all >"$T/signal.out" 2>&1 || rc=$?
[ "$rc" = 0 ] && pass "signal TERM all exits 0" || fail "signal TERM all exited $rc: $(cat "$T/signal.out")"
sleep 0.5
for p in a b c; do wait_state "$p" 5 RUNNING || fail "$p is '$STATE' after signal TERM all"; done
track_progs a b c
[ "$(ctl pid all | grep -c '^[1-9]')" = 3 ] && pass "pid all: 3 pids" || fail "pid all: $(ctl pid all 2>&1 | tr '\n' ' ')"
old=$(all_pids | tr '\n' ' ')
rc=0
ctl stop all >"$T/all2.out" 2>&1 || rc=$?
[ "$rc" = 0 ] && [ "$(states_of a b c)" = "STOPPED STOPPED STOPPED " ] && [ -z "$(all_pids)" ] &&
        pass "stop all: exit 0, a b c STOPPED, no pids" || fail "stop all exited $rc: $(states_of a b c): $(cat "$T/all2.out")"
for w in $old; do gone "$w" || fail "pid $w still exists after stop all"; done
[ -z "$(children_of "$DAEMON_PID")" ] && pass "no children left after stop all" ||
        fail "children after stop all: $(children_of "$DAEMON_PID" | tr '\n' ' ')"
rc=0
ctl start all >"$T/all3.out" 2>&1 || rc=$?
[ "$rc" = 0 ] && [ "$(states_of a b c)" = "RUNNING RUNNING RUNNING " ] && [ "$(all_pids | sort -u | wc -l)" = 3 ] &&
        pass "start all: exit 0, a b c RUNNING with 3 pids" || fail "start all exited $rc: $(states_of a b c)"
track_progs a b c
z=$(zombies_of "$DAEMON_PID")
[ -z "$z" ] && pass "no zombies" || fail "zombies: $z"
stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
finish
