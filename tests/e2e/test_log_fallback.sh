#!/bin/bash
# log = journal must never lose the daemon's lines. Without journald (no socket at
# /run/systemd/journal/socket: sd_journal_send() would still report success, into the
# void), they go to stderr after one warning that says so, and a reload does not repeat
# the warning. With journald there, the lines must be in the journal: this test then reads
# them back with journalctl instead of skipping.
. "$(dirname "$0")/lib.sh"

JSOCK=/run/systemd/journal/socket
PROG=logfb$$

cat >"$T/sockvisor.ini" <<EOF
[sockvisord]
control = $CTL
log = journal

[program:$PROG]
command = $TESTWORKER $T/w.report
ready = notify
EOF

# The daemon's own lines on its stderr: "HH:MM:SS.mmm sockvisord: ...".
own_lines() { grep -E "^[0-9:.]+ sockvisord: " "$T/daemon.log" || true; }
warning='log = journal, but journald is not listening on /run/systemd/journal/socket'

start_daemon "$T/sockvisor.ini"
wait_for_file "$T/w.report" || die "the worker wrote no report"
wait_state "$PROG" 5 RUNNING || die "$PROG is '$STATE', not RUNNING"
track "$(report_field "$T/w.report" pid)"
kill -HUP "$DAEMON_PID"
for _ in $(seq 1 50); do # bounded: 5 s
        grep -q "reloaded $T/sockvisor.ini" "$T/daemon.log" && break
        [ -S "$JSOCK" ] && break
        sleep 0.1
done
pid=$DAEMON_PID

if [ -S "$JSOCK" ]; then
        log "journald listens on $JSOCK: the lines must be in the journal"
        command -v journalctl >/dev/null || die "journald runs but journalctl is missing: cannot check the journal"
        found=
        for _ in $(seq 1 50); do # bounded: 5 s for journald to write them
                out=$(journalctl --no-pager -o cat _PID="$pid" SYSLOG_IDENTIFIER=sockvisord 2>/dev/null || true)
                if grep -q "running (pid $pid)" <<<"$out" && grep -q "reloaded $T/sockvisor.ini" <<<"$out" &&
                        grep -q "^$PROG\[gen 1 pid [0-9]*\]: STARTING -> RUNNING" <<<"$out"; then
                        found=1
                        break
                fi
                sleep 0.1
        done
        [ -n "$found" ] && pass "the start, the worker's transitions and the reload are in the journal" ||
                fail "the journal lacks the daemon's lines (journalctl _PID=$pid SYSLOG_IDENTIFIER=sockvisord)"
        n=$(journalctl --no-pager -o cat SOCKVISOR_PROGRAM="$PROG" _PID="$pid" 2>/dev/null | grep -c . || true)
        [ "$n" -ge 1 ] && pass "$n journal entries carry SOCKVISOR_PROGRAM=$PROG" ||
                fail "no journal entry carries SOCKVISOR_PROGRAM=$PROG"
        grep -qF "$warning" "$T/daemon.log" && fail "warned that journald is missing while it listens" ||
                pass "no false warning about journald"
else
        log "journald does not listen here ($(ls -l "$JSOCK" 2>&1)): the lines must reach stderr"
        n=$(grep -cF "$warning" "$T/daemon.log" || true)
        [ "$n" = 1 ] && pass "one warning: $(grep -F "$warning" "$T/daemon.log" | sed 's/^[0-9:.]* //')" ||
                fail "expected the warning once (start-up, then a reload), found it $n times"
        own_lines | grep -q "sockvisord $(ctl version | awk '{ print $3 }') running (pid $pid)" &&
                pass "the start-up line is on stderr" || fail "the start-up line is not on stderr"
        own_lines | grep -qE "sockvisord: $PROG\[gen 1 pid [0-9]+\]: STARTING -> RUNNING" &&
                pass "the worker's transitions (sv_log_instance) are on stderr" ||
                fail "the worker's transitions are not on stderr"
        own_lines | grep -q "reloaded $T/sockvisor.ini" && pass "the reload's lines are on stderr" ||
                fail "the reload's lines are not on stderr"
fi

stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "clean exit" || fail "sockvisord exited $DAEMON_RC"
if [ ! -S "$JSOCK" ]; then
        grep -q "sockvisord: sockvisord stopped" "$T/daemon.log" && pass "the shutdown line is on stderr" ||
                fail "the shutdown line is not on stderr"
fi
finish
