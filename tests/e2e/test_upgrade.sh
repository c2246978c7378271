#!/bin/bash
# sockvisorctl upgrade: sockvisord re-executes itself in place. 20 upgrades under load (32
# clients), alternating this build's binary and a copy at another path: no failed request,
# the same daemon pid, the same workers, the same fd count, no zombie, and restart works
# afterwards. An upgrade in the middle of a rolling restart, of a crash-loop backoff and of
# a stop that waits for SIGKILL lets each of them go on and finish (and answers the
# waiting command). Bad targets are refused with nothing changed; SIGUSR2 upgrades too; a
# restore that fails in the new image hands everything back to the previous binary.
. "$(dirname "$0")/lib.sh"

PORT=$("$FREEPORT")
COPY=$T/bin/sockvisord-copy
mkdir -p "$T/bin"
cp "$SOCKVISORD" "$COPY"
cat >"$T/sockvisor.ini" <<EOF
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT

[program:app]
command = $DEMO
sockets = web
ready = notify
numprocs = 2
stopwaitsecs = 10s

[program:slow]
command = $TESTWORKER --ready-file $T/slow.ready $T/slow.out
ready = notify
ready_timeout = 60s
stopwaitsecs = 2s

[program:crashy]
command = $TESTWORKER --exit-if $T/crash 1 $T/crashy.out
ready = notify
startsecs = 1s
startretries = 100

[program:stubborn]
command = $TESTWORKER --ignore-term $T/stubborn.out
ready = notify
stopwaitsecs = 3s
EOF
touch "$T/slow.ready"
# Every instance of NAME (app:0, app:1) RUNNING, within SECONDS.
wait_all_running() { # NAME SECONDS
        for _ in $(seq 1 $(($2 * 10))); do
                status_rows | awk -v n="$1" '{ b = $1; sub(/:[0-9]+$/, "", b) } b == n { seen++; if ($2 != "RUNNING") bad++ }
                        END { exit !(seen > 0 && !bad) }' && return 0
                sleep 0.1
        done
        return 1
}
start_daemon "$T/sockvisor.ini"
wait_all_running app 10 || die "app is not RUNNING: $(status_rows)"
wait_state slow 10 RUNNING || die "slow is $STATE, not RUNNING"
wait_state stubborn 10 RUNNING || die "stubborn is $STATE, not RUNNING"
upgrades_logged() { grep -c 'upgraded sockvisord' "$T/daemon.log" || true; }

# --- 1. 20 upgrades under load ---
pids_before=$(ctl pid app | sort | tr '\n' ' ')
"$LOADCLIENT" -p "$PORT" -c 32 -d 6 >"$T/load.out" 2>"$T/load.err" &
LOAD_PID=$!
STARTED_PIDS+=("$LOAD_PID")
sleep 0.5
ok=0
for i in $(seq 1 20); do
        target=$SOCKVISORD
        [ $((i % 2)) = 0 ] && target=$COPY
        if out=$(timeout 30 "$SOCKVISORCTL" -s "$CTL" upgrade --exec "$target" 2>&1); then
                ok=$((ok + 1))
                case $(tail -n 1 <<<"$out") in
                "upgraded sockvisord "*" in "*" ms; 4 programs, "*" carried over") ;;
                *) fail "upgrade $i: unexpected answer: $out" ;;
                esac
        else
                fail "upgrade $i to $target failed: $out"
        fi
        [ "$(readlink "/proc/$DAEMON_PID/exe")" = "$target" ] || fail "upgrade $i: the daemon runs $(readlink "/proc/$DAEMON_PID/exe"), not $target"
        # counted from the first upgrade on: before it, sd-event may hold a timerfd it made
        # on demand for a start-up timer, which a new image makes only when it needs one
        [ "$i" = 1 ] && fds_before=$(fd_count "$DAEMON_PID")
        sleep 0.2
done
log "last upgrade said: $(tail -n 1 <<<"$out")"
load_rc=0
wait "$LOAD_PID" || load_rc=$?
summary=$(cat "$T/load.out")
log "load: $summary"
[ "$ok" = 20 ] && pass "20 upgrades exited 0, alternating two binaries" || fail "only $ok of 20 upgrades exited 0"
failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$summary")
[ "$load_rc" = 0 ] && [ "${failed:-x}" = 0 ] && pass "0 failed requests under 32 clients" ||
        fail "requests failed during the upgrades (rc $load_rc): $summary"
kill -0 "$DAEMON_PID" && pass "the daemon pid ($DAEMON_PID) is unchanged" || fail "the daemon is gone"
pids_after=$(ctl pid app | sort | tr '\n' ' ')
[ "$pids_after" = "$pids_before" ] && pass "the same workers answer: $pids_after" ||
        fail "workers changed across the upgrades: $pids_before -> $pids_after"
fds_after=$(fd_count "$DAEMON_PID")
[ "$fds_after" = "$fds_before" ] && pass "fd count unchanged across 19 upgrades ($fds_before)" || {
        fail "fd count $fds_before -> $fds_after"
        ls -l "/proc/$DAEMON_PID/fd"
}
z=$(zombies_of "$DAEMON_PID")
[ -z "$z" ] && pass "no zombie" || fail "zombie children: $z"
bad_fds=$(for f in /proc/"$(ctl pid app | head -n 1)"/fd/*; do readlink "$f"; done | grep -c memfd || true)
[ "$bad_fds" = 0 ] && pass "no state memfd leaked into a worker" || fail "a worker holds $bad_fds memfd(s)"
if out=$(ctl restart app 2>&1); then
        pass "restart works after the upgrades: $(tail -n 1 <<<"$out")"
else
        fail "restart after the upgrades: $out"
fi
[ "$(ctl pid app | sort | tr '\n' ' ')" != "$pids_before" ] && pass "the restart replaced the workers" ||
        fail "the restart did not replace the workers"

# --- 2. during a rolling restart: the restart goes on, and its caller is answered ---
rm -f "$T/slow.ready"
gen_before=$(status_rows slow | awk '{ print $4 }')
"$SOCKVISORCTL" -s "$CTL" restart slow >"$T/restart.slow" 2>&1 &
RESTART_PID=$!
STARTED_PIDS+=("$RESTART_PID")
for _ in $(seq 1 50); do status_rows | grep -q '^slow_(new) STARTING' && break; sleep 0.1; done
status_rows | grep -q '^slow_(new) STARTING' || fail "no candidate of slow is starting: $(status_rows)"
ctl upgrade >"$T/up.2" 2>&1 && pass "upgrade while slow is rolling: $(tail -n 1 "$T/up.2")" || fail "upgrade during the rollout: $(cat "$T/up.2")"
status_rows | grep -q '^slow_(new) STARTING' && pass "the candidate is still starting after the upgrade" ||
        fail "the rollout was lost: $(status_rows)"
touch "$T/slow.ready"
rc=0
for _ in $(seq 1 100); do kill -0 "$RESTART_PID" 2>/dev/null || break; sleep 0.1; done
wait "$RESTART_PID" || rc=$?
[ "$rc" = 0 ] && grep -q 'restart done' "$T/restart.slow" && pass "the waiting restart was answered by the new image: $(tail -n 1 "$T/restart.slow")" ||
        fail "restart slow (rc $rc): $(cat "$T/restart.slow")"
gen_after=$(status_rows slow | awk '$2 == "RUNNING" { print $4 }')
[ "$gen_after" = $((gen_before + 1)) ] && pass "slow runs generation $gen_after" || fail "slow: generation $gen_before -> '$gen_after': $(status_rows slow)"

# --- 3. during a crash-loop backoff: the retries go on ---
touch "$T/crash"
ctl stop crashy >/dev/null 2>&1
ctl start crashy >/dev/null 2>&1 || true # ERR at its first failed attempt; it goes on retrying
wait_state crashy 10 BACKOFF || fail "crashy is $STATE, not BACKOFF"
tries_before=$(tries crashy)
ctl upgrade >"$T/up.3" 2>&1 && pass "upgrade during the backoff: $(tail -n 1 "$T/up.3")" || fail "upgrade during the backoff: $(cat "$T/up.3")"
st=$(state_of crashy)
case $st in BACKOFF|STARTING) pass "crashy still in its retry loop after the upgrade ($st)" ;; *) fail "crashy is $st after the upgrade" ;; esac
for _ in $(seq 1 60); do [ "$(tries crashy)" -gt "$tries_before" ] && break; sleep 0.1; done
[ "$(tries crashy)" -gt "$tries_before" ] && pass "the backoff timer fired after the upgrade (tries $tries_before -> $(tries crashy))" ||
        fail "no retry after the upgrade (tries $tries_before)"
rm -f "$T/crash"
wait_state crashy 30 RUNNING && pass "crashy RUNNING once the crash cause is gone" || fail "crashy is $STATE"

# --- 4. during a stop that waits for SIGKILL: the timer and the caller survive ---
spid=$(ctl pid stubborn)
t0=$(ms_now)
"$SOCKVISORCTL" -s "$CTL" stop stubborn >"$T/stop.out" 2>&1 &
STOP_PID=$!
STARTED_PIDS+=("$STOP_PID")
sleep 0.5
ctl upgrade >"$T/up.4" 2>&1 && pass "upgrade while stubborn is stopping" || fail "upgrade during the stop: $(cat "$T/up.4")"
rc=0
for _ in $(seq 1 100); do kill -0 "$STOP_PID" 2>/dev/null || break; sleep 0.1; done
wait "$STOP_PID" || rc=$?
took=$(($(ms_now) - t0))
[ "$rc" = 0 ] && pass "the waiting stop was answered after ${took} ms: $(tail -n 1 "$T/stop.out")" || fail "stop stubborn (rc $rc): $(cat "$T/stop.out")"
wait_gone "$spid" 2 && pass "stubborn (pid $spid) was killed at its deadline" || fail "stubborn (pid $spid) still there"

# --- 5. refused targets change nothing ---
pids=$(ctl pid all | sort | tr '\n' ' ')
chmod -x "$COPY"
for target in /nonexistent/sockvisord "$COPY" /bin/true; do
        rc=0
        out=$(ctl upgrade --exec "$target" 2>&1) || rc=$?
        [ "$rc" != 0 ] && grep -q "upgrade refused: .*(nothing changed)" <<<"$out" &&
                pass "refused $target: $out" || fail "upgrade to $target (rc $rc): $out"
done
[ "$(ctl pid all | sort | tr '\n' ' ')" = "$pids" ] && kill -0 "$DAEMON_PID" && pass "nothing changed by the refusals" ||
        fail "the refusals changed something"
rc=0
out=$(ctl upgrade --exec relative/path 2>&1) || rc=$?
[ "$rc" != 0 ] && pass "a missing relative path is refused too (rc $rc)" || fail "relative path accepted: $out"

chmod +x "$COPY" # the daemon runs the copy now: a plain upgrade (and SIGUSR2) re-executes it

# --- 6. SIGUSR2 ---
n=$(upgrades_logged)
kill -USR2 "$DAEMON_PID"
for _ in $(seq 1 50); do [ "$(upgrades_logged)" -gt "$n" ] && break; sleep 0.1; done
[ "$(upgrades_logged)" -gt "$n" ] && kill -0 "$DAEMON_PID" && pass "SIGUSR2 upgrades in place" || fail "SIGUSR2 did not upgrade"
ctl version >/dev/null && pass "the daemon answers after SIGUSR2" || fail "no answer after SIGUSR2"
stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "shutdown after the upgrades exits 0" || fail "shutdown exit status $DAEMON_RC"

# --- 7. a restore that fails in the new image: the previous binary takes everything back ---
SOCKVISOR_TEST_FAIL_RESTORE=1 start_daemon "$T/sockvisor.ini"
wait_all_running app 10 || die "app is not RUNNING: $(status_rows)"
pids=$(ctl pid app | sort | tr '\n' ' ')
"$LOADCLIENT" -p "$PORT" -c 8 -d 2 >"$T/load2.out" 2>"$T/load2.err" &
LOAD_PID=$!
sleep 0.5
rc=0
out=$(ctl upgrade 2>&1) || rc=$?
[ "$rc" != 0 ] && grep -q "took everything back" <<<"$out" && pass "a failed restore is reported: $(tail -n 1 <<<"$out")" ||
        fail "failed restore (rc $rc): $out"
wait "$LOAD_PID" || true
failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' "$T/load2.out")
[ "${failed:-x}" = 0 ] && pass "0 failed requests across the fall-back" || fail "requests failed: $(cat "$T/load2.out")"
[ "$(ctl pid app | sort | tr '\n' ' ')" = "$pids" ] && kill -0 "$DAEMON_PID" && pass "same daemon and workers after the fall-back" ||
        fail "the fall-back changed something"
ctl restart app >/dev/null 2>&1 && pass "restart works after the fall-back" || fail "restart after the fall-back"
stop_daemon
finish
