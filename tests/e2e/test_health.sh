#!/bin/bash
# Health while running: a worker that wedges (GET /wedge on the demo: it accepts, answers
# and pings no more, and ignores SIGTERM) is found out by watchdog= or by healthcheck=, and
# replaced the zero-downtime way: the new generation is ready first, the requests that
# waited in the shared accept queue meanwhile are answered by it (none fails), the wedged
# one is killed, and a program that stays sick is replaced with a growing backoff.
. "$(dirname "$0")/lib.sh"

PORT=$("$FREEPORT")

# Wedges the current worker: the /wedge request itself is never answered.
wedge() {
        curl -s --max-time 1 "http://127.0.0.1:$PORT/wedge" >/dev/null 2>&1 || true
}

# Waits (bounded, SECONDS) for a pid other than OLD to serve app; sets NEW.
wait_new_pid() { # OLD SECONDS
        NEW=
        for _ in $(seq 1 $(($2 * 10))); do
                NEW=$(ctl pid app 2>/dev/null || true)
                [ -n "$NEW" ] && [ "$NEW" != "$1" ] && [ "$(state_of app)" = RUNNING ] && return 0
                sleep 0.1
        done
        return 1
}

# Load started once the worker is wedged: every request waits in the accept queue, and the
# replacement answers all of them.
wedged_load() { # LABEL
        wedge &
        local w=$!
        sleep 0.1
        LOAD_RC=0
        LOAD_SUMMARY=$("$LOADCLIENT" -p "$PORT" -c 8 -d 3 -t 8000 2>"$T/load.err") || LOAD_RC=$?
        load_ok "$1"
        wait "$w" || true
}

# The daemon log since the last mark (each part starts one: the file is shared).
mark_log() { LOG_MARK=$(wc -l <"$T/daemon.log" 2>/dev/null || echo 0); }
new_log() { tail -n +$((${LOG_MARK:-0} + 1)) "$T/daemon.log"; }

no_zombies() { # LABEL
        local z
        z=$(zombies_of "$DAEMON_PID")
        [ -z "$z" ] && pass "$1: no zombie" || fail "$1: zombies: $z"
}

# --- 1. watchdog= ---
app_config "$DEMO" "ready = notify
watchdog = 600ms
stopwaitsecs = 2s"
start_daemon "$T/sockvisor.ini"
wait_state app 5 RUNNING || die "app not RUNNING: $STATE"
pid1=$(ctl pid app)
track "$pid1"
sleep 1.5 # several watchdog periods: the pings keep it
[ "$(ctl pid app)" = "$pid1" ] && ! grep -q unhealthy "$T/daemon.log" &&
        pass "watchdog: pid $pid1 pings (WATCHDOG_USEC, WATCHDOG_PID) and stays" ||
        fail "watchdog: a pinging worker was replaced: $(grep unhealthy "$T/daemon.log" | head -2)"

t0=$(ms_now)
wedged_load "watchdog: requests sent while the worker is wedged"
wait_new_pid "$pid1" 5 && pass "watchdog: pid $NEW replaced wedged pid $pid1" ||
        fail "watchdog: no replacement of wedged pid $pid1 (state $(state_of app))"
track "$NEW"
grep -q "unhealthy (no WATCHDOG=1 within 600ms): replacing it with generation 2" "$T/daemon.log" &&
        pass "watchdog: the log says why" || fail "watchdog: no 'unhealthy (no WATCHDOG=1 within 600ms)' line"
grep -q "RUNNING -> STOPPING (unhealthy (no WATCHDOG=1 within 600ms): replaced by generation 2)" "$T/daemon.log" &&
        pass "watchdog: the wedged one was stopped only once generation 2 was ready" ||
        fail "watchdog: no 'replaced by generation 2' transition"
wait_gone "$pid1" 5 && pass "watchdog: wedged pid $pid1 killed ($(($(ms_now) - t0)) ms after the wedge)" ||
        fail "watchdog: wedged pid $pid1 still there"
grep -q "still running 2.00s after SIGTERM; sending SIGKILL" "$T/daemon.log" &&
        pass "watchdog: SIGTERM unanswered, SIGKILL after stopwaitsecs" || fail "watchdog: no SIGKILL line"
no_zombies watchdog
stop_daemon

# --- 2. healthcheck = http:// ---
app_config "$DEMO" "ready = notify
healthcheck = http://127.0.0.1:%(port)s/healthz
healthcheck_interval = 300ms
healthcheck_timeout = 200ms
healthcheck_failures = 2
stopwaitsecs = 1s"
mark_log
start_daemon "$T/sockvisor.ini"
wait_state app 5 RUNNING || die "app not RUNNING: $STATE"
pid1=$(ctl pid app)
track "$pid1"
sleep 1 # three probes pass
! new_log | grep -q "health check failed" && pass "http probe: a healthy worker passes" ||
        fail "http probe: failures on a healthy worker: $(new_log | grep 'health check failed' | head -2)"
wedge
seen=
for _ in $(seq 1 40); do # the status shows the failing probe, then the replacement
        s=$(ctl status app 2>/dev/null || true)
        case $s in *"health check failing (1 of 2)"* | *"unhealthy: 2 health checks failed"*) seen=$s; break ;; esac
        sleep 0.05
done
[ -n "$seen" ] && pass "http probe: status says: $(grep -o 'health check failing.*\|unhealthy:.*' <<<"$seen" | head -1)" ||
        fail "http probe: status never showed the failing probe"
wait_new_pid "$pid1" 5 && pass "http probe: pid $NEW replaced wedged pid $pid1" ||
        fail "http probe: no replacement (state $(state_of app))"
track "$NEW"
grep -q "health check failed (2 of 2 in a row): no answer within 200ms" "$T/daemon.log" &&
        pass "http probe: timeouts counted" ||
        fail "http probe: no 'health check failed (2 of 2 in a row)' line: $(grep 'health check' "$T/daemon.log" | tail -2)"
wait_gone "$pid1" 4 && pass "http probe: wedged pid $pid1 killed" || fail "http probe: pid $pid1 still there"
body=$(http_get "$PORT" /)
[[ $body == *"pid=$NEW"* ]] && pass "http probe: generation 2 serves" || fail "http probe: got '$body'"
no_zombies "http probe"
stop_daemon

# --- 3. healthcheck = exec:, and the backoff of a program that stays sick ---
SICK=$T/sick
app_config "$DEMO" "ready = notify
healthcheck = exec:/bin/sh -c 'if [ -e $SICK ]; then echo \"sick flag set for \$SOCKVISOR_PROGRAM pid \$SOCKVISOR_PID\"; exit 1; fi'
healthcheck_interval = 300ms
healthcheck_timeout = 300ms
healthcheck_failures = 1
stopwaitsecs = 1s"
mark_log
start_daemon "$T/sockvisor.ini"
wait_state app 5 RUNNING || die "app not RUNNING: $STATE"
pid1=$(ctl pid app)
track "$pid1"
sleep 0.6
! new_log | grep -q "health check failed" && pass "exec probe: exit 0 is healthy" ||
        fail "exec probe: failures on a healthy worker: $(new_log | grep 'health check failed' | head -2)"
touch "$SICK"
wait_new_pid "$pid1" 5 && pass "exec probe: pid $NEW replaced pid $pid1" || fail "exec probe: no replacement"
grep -q "sick flag set for app pid $pid1" "$T/daemon.log" &&
        pass "exec probe: its output (with SOCKVISOR_PROGRAM, SOCKVISOR_PID) is the reason" ||
        fail "exec probe: no output in the log: $(grep 'health check failed' "$T/daemon.log" | head -2)"
# still sick: each replacement is unhealthy at once, and waits longer (1 s, then 2 s)
for _ in $(seq 1 60); do
        grep -q "replacing it in 2.00s (unhealthy replacements in a row: 2)" "$T/daemon.log" && break
        sleep 0.1
done
grep -q "replacing it in 1.00s (unhealthy replacements in a row: 1)" "$T/daemon.log" &&
        grep -q "replacing it in 2.00s (unhealthy replacements in a row: 2)" "$T/daemon.log" &&
        pass "exec probe: a program that stays sick is replaced with backoff (1 s, 2 s)" ||
        fail "exec probe: no backoff lines: $(grep 'replacing it' "$T/daemon.log" | tail -3)"
s=$(ctl status app 2>/dev/null || true)
[[ $s == *"unhealthy: 1 health check failed in a row, the last: "*"sick flag set"*"replacing it"* ]] &&
        pass "exec probe: status says why and what next" || fail "exec probe: status: $s"
rm -f "$SICK"
sleep 3 # the replacement under way (or due) is healthy now, and stays
p=$(ctl pid app)
sleep 1
[ "$(ctl pid app)" = "$p" ] && [ "$(state_of app)" = RUNNING ] && pass "exec probe: healthy again, pid $p stays" ||
        fail "exec probe: still replaced after the flag went"
no_zombies "exec probe"
[ -z "$(procs_with "$SICK")" ] && pass "exec probe: no probe process left" || fail "exec probe: probes left: $(procs_with "$SICK")"
stop_daemon
finish
