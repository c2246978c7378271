#!/bin/bash
# A program that dies before it is ready is retried after 1 s, 2 s, 4 s ... (BACKOFF), and
# after the first try plus startretries retries goes to FATAL; the daemon idles between
# tries (CPU time barely moves); `start` re-arms a FATAL program. Every transition is
# logged as "NAME[gen G pid P]: A -> B (cause)", which gives the timings checked here.
. "$(dirname "$0")/lib.sh"

# utime + stime of a process, in clock ticks (fields 14 and 15, counted after "(comm)").
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

cat >"$T/sockvisor.ini" <<EOF2
[sockvisord]
control = $CTL

[program:crash]
command = /bin/false
ready = started
startsecs = 1

[program:crash1]
command = $TESTWORKER --exit 2 $T/crash1.report
ready = notify
startretries = 1
EOF2

start_daemon "$T/sockvisor.ini"
ticks0=$(cpu_ticks "$DAEMON_PID")

# Poll (bounded, 15 s) through the crash loop; remember every state seen.
seen=" "
for _ in $(seq 1 75); do
        s=$(state_of crash)
        [[ "$seen" == *" $s "* ]] || seen="$seen$s "
        [ "$s" = FATAL ] && break
        sleep 0.2
done
ticks1=$(cpu_ticks "$DAEMON_PID")
log "states seen: $seen"
[[ "$seen" == *" BACKOFF "* ]] && pass "crash went through BACKOFF" || fail "crash never showed BACKOFF (seen:$seen)"
[ "$s" = FATAL ] && pass "crash reached FATAL within 15 s" || fail "crash is '$s' after 15 s, not FATAL"

transitions crash | sed 's/^/    /'
n=$(tries crash)
[ "$n" = 4 ] && pass "crash was tried 4 times (first try + startretries = 3 by default)" ||
        fail "crash was tried $n times, expected 4"
[ "$(transitions crash | awk '$3 == "BACKOFF"' | wc -l)" = 3 ] && pass "3 BACKOFF waits" ||
        fail "expected 3 transitions into BACKOFF"
transitions crash | tail -n 1 | grep -q " FATAL$" && pass "the last transition is into FATAL" ||
        fail "the last transition is not into FATAL"
# Each BACKOFF lasts from "-> BACKOFF" to the next "BACKOFF ->": 1 s, 2 s, 4 s.
waits=$(transitions crash | awk '$3 == "BACKOFF" { t = $1 } $2 == "BACKOFF" && t != "" {
        d = $1 - t; if (d < 0) d += 86400; printf "%.3f ", d; t = "" }')
log "backoff waits: $waits"
read -r -a w <<<"$waits"
if [ "${#w[@]}" -ne 3 ]; then
        fail "expected 3 backoff waits, got '${waits}'"
else
        expect=(1 2 4)
        for k in 0 1 2; do
                awk -v d="${w[$k]}" -v e="${expect[$k]}" 'BEGIN { exit !(d >= 0.8 * e && d < e + 1.5) }' &&
                        pass "backoff $((k + 1)) lasted ${w[$k]} s (expected ${expect[$k]} s)" ||
                        fail "backoff $((k + 1)) lasted ${w[$k]} s, expected about ${expect[$k]} s"
        done
fi
cpu=$((ticks1 - ticks0))
[ "$cpu" -lt 50 ] && pass "the daemon used $cpu ticks of CPU over the crash loop (idles between tries)" ||
        fail "the daemon used $cpu ticks of CPU over the crash loop (busy-waits?)"

# startretries = 1: two tries, one BACKOFF, FATAL.
[ "$(state_of crash1)" = FATAL ] && [ "$(tries crash1)" = 2 ] &&
        [ "$(transitions crash1 | awk '$3 == "BACKOFF"' | wc -l)" = 1 ] &&
        pass "startretries = 1: tried twice, then FATAL" ||
        fail "startretries = 1: state '$(state_of crash1)', $(tries crash1) tries: $(transitions crash1 | tr '\n' ';')"
grep -qE "crash1\[gen [0-9]+( pid [0-9]+)?\]: .*exited with status 2" "$T/daemon.log" &&
        pass "the log names the exit status" || fail "the log does not say 'exited with status 2'"

# FATAL stays FATAL: nothing is tried any more.
sleep 1
[ "$(tries crash)" = 4 ] && [ "$(state_of crash)" = FATAL ] && pass "FATAL is not retried" ||
        fail "crash was tried again while FATAL"

# `start` re-arms it: STARTING/BACKOFF again, then FATAL again after another full loop.
ctl start crash >"$T/start.out" 2>&1 &
START_PID=$!
STARTED_PIDS+=("$START_PID")
wait_state crash 3 STARTING BACKOFF && pass "start re-armed FATAL crash: now $STATE" ||
        fail "start did not re-arm crash: still '$STATE'"
transitions crash | grep -q "FATAL STARTING" && pass "the log shows FATAL -> STARTING" ||
        fail "no FATAL -> STARTING transition logged"
wait_state crash 15 FATAL && pass "after the second loop crash is FATAL again" || fail "crash is '$STATE', not FATAL again"
[ "$(tries crash)" = 8 ] && pass "the re-armed loop tried 4 times again" || fail "tries after re-arm: $(tries crash), expected 8"
for _ in $(seq 1 50); do kill -0 "$START_PID" 2>/dev/null || break; sleep 0.1; done
start_rc=0
if kill -0 "$START_PID" 2>/dev/null; then
        fail "sockvisorctl start has not answered 5 s after crash went FATAL"
else
        wait "$START_PID" || start_rc=$?
        log "start said (rc $start_rc): $(tr '\n' ' ' <"$T/start.out")"
        [ "$start_rc" -ne 0 ] && pass "start of a program that ends FATAL exits non-zero" ||
                fail "start exited 0 although crash never became ready"
fi

z=$(zombies_of "$DAEMON_PID")
[ -z "$z" ] && pass "no zombies" || fail "zombies: $z"
stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
finish
