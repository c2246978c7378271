#!/bin/bash
# numprocs = 3: three instances NAME:0..2 serve one socket; `restart` is rolling under
# load: never fewer than 3 ready instances, never more than 3 + restart_surge processes,
# no failed request, and all three end on generation 2. Each new instance takes 300 ms to
# become ready (--ready-delay), so the restart lasts long enough to be sampled.
. "$(dirname "$0")/lib.sh"

N=3
SURGE=1
PORT=$("$FREEPORT")
cat >"$T/sockvisor.ini" <<EOF2
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT

[program:web]
command = $DEMO --ready-delay 300
sockets = web
ready = notify
numprocs = $N
restart_surge = $SURGE
ready_timeout = 10s
stopwaitsecs = 10s
EOF2

running_rows() { status_rows web | awk '$2 == "RUNNING"' | wc -l; }
pid_rows() { status_rows web | awk '$3 ~ /^[1-9][0-9]*$/' | wc -l; }

start_daemon "$T/sockvisor.ini"
for _ in $(seq 1 50); do [ "$(running_rows)" = "$N" ] && break; sleep 0.1; done
status_rows web | sed 's/^/    /'
[ "$(status_rows web | awk '{ print $1 }' | sort | tr '\n' ' ')" = "web:0 web:1 web:2 " ] &&
        pass "status shows instances web:0, web:1, web:2" || fail "instance names: $(ctl status web 2>&1 | tr '\n' ';')"
old=$(status_rows web | awk '$2 == "RUNNING" { print $3 }' | sort -u)
[ "$(running_rows)" = "$N" ] && [ "$(wc -w <<<"$old")" = "$N" ] &&
        pass "$N instances RUNNING with $N distinct pids: $(echo $old)" || fail "not $N RUNNING instances with distinct pids"
[ "$(status_rows web | awk '{ print $4 }' | sort -u | tr '\n' ' ')" = "1 " ] && pass "all on generation 1" ||
        fail "generations: $(status_rows web | awk '{ print $4 }' | tr '\n' ' ')"

# Every instance serves: a short load sees N distinct pids.
"$LOADCLIENT" -p "$PORT" -c 16 -d 2 >"$T/load0.out" 2>"$T/load0.err" || true
log "load before the restart: $(cat "$T/load0.out")"
pids=$(sed -n 's/.* pids=\([0-9]*\).*/\1/p' "$T/load0.out")
grep -q ' failed=0 ' "$T/load0.out" && [ "${pids:-0}" -ge "$N" ] && pass "$pids distinct pids answered, 0 failed" ||
        fail "before the restart: $(cat "$T/load0.out")"

# Rolling restart under load, with status sampled every 50 ms while it runs.
"$LOADCLIENT" -p "$PORT" -c 16 -d 8 >"$T/load.out" 2>"$T/load.err" &
LOAD_PID=$!
STARTED_PIDS+=("$LOAD_PID")
sleep 1
ctl restart web >"$T/restart.out" 2>&1 &
RESTART_PID=$!
STARTED_PIDS+=("$RESTART_PID")
samples=0 min_running=999 max_pids=0
for _ in $(seq 1 400); do
        kill -0 "$RESTART_PID" 2>/dev/null || break
        rows=$(status_rows web)
        read -r r p <<<"$(awk '$2 == "RUNNING" { r++ } $3 ~ /^[1-9][0-9]*$/ { p++ } END { print r + 0, p + 0 }' <<<"$rows")"
        if [ -n "$rows" ]; then
                samples=$((samples + 1))
                [ "$r" -lt "$min_running" ] && min_running=$r
                [ "$p" -gt "$max_pids" ] && max_pids=$p
                [ "$r" -ge "$N" ] || { log "sample: $r RUNNING:"; sed 's/^/    /' <<<"$rows"; }
                [ "$p" -le $((N + SURGE)) ] || { log "sample: $p with a pid:"; sed 's/^/    /' <<<"$rows"; }
        fi
        sleep 0.05
done
rc=0
if kill -0 "$RESTART_PID" 2>/dev/null; then
        fail "restart still running after 20 s"
        rc=1
else
        wait "$RESTART_PID" || rc=$?
fi
sed 's/^/    /' "$T/restart.out"
[ "$rc" = 0 ] && pass "rolling restart exited 0" || fail "rolling restart exited $rc"
log "$samples status samples during the restart: at least $min_running RUNNING, at most $max_pids with a pid"
[ "$samples" -eq 0 ] || [ "$min_running" -ge "$N" ] && pass "never fewer than $N RUNNING while restarting" ||
        fail "only $min_running RUNNING at some point of the restart"
[ "$max_pids" -le $((N + SURGE)) ] && pass "never more than $N + $SURGE processes while restarting" ||
        fail "$max_pids processes at some point of the restart (restart_surge = $SURGE)"

# The same two bounds, exactly, from the logged transitions of web:0..2 in log order:
# a process exists from "-> STARTING" to a transition "(exited with ...)"; an instance
# is ready from "-> RUNNING" to "RUNNING ->". Counted once all N were first RUNNING.
replay=$(grep -E "sockvisord: web:[0-9]+\[gen [0-9]+( pid [0-9]+)?\]: [A-Z]+ -> [A-Z]+ " "$T/daemon.log" |
        awk -v n="$N" '{ for (k = 1; k < NF; k++) if ($k == "->") break
                from = $(k - 1); to = $(k + 1); cause = $(k + 2) " " $(k + 3)
                if (to == "STARTING") alive++
                if (cause == "(exited with") { alive--; exits++ }
                if (to == "RUNNING") run++
                if (from == "RUNNING") run--
                if (run >= n) up = 1
                if (up && run < minrun) minrun = run
                if (alive > maxalive) maxalive = alive }
                BEGIN { minrun = 999 }
                END { print exits + 0, (up ? minrun : -1), maxalive + 0 }')
read -r exits lminrun lmaxalive <<<"$replay"
if [ "${exits:-0}" -ge "$N" ]; then
        [ "$lminrun" -ge "$N" ] && pass "log replay: never fewer than $N RUNNING ($lminrun)" ||
                fail "log replay: only $lminrun RUNNING at some point"
        [ "$lmaxalive" -le $((N + SURGE)) ] && pass "log replay: at most $lmaxalive processes" ||
                fail "log replay: $lmaxalive processes at once (restart_surge = $SURGE)"
else
        log "skip: the log shows $exits exits of web instances, too few to replay"
fi

load_rc=0
wait "$LOAD_PID" || load_rc=$?
log "load during the restart: $(cat "$T/load.out")"
ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' "$T/load.out")
[ "$load_rc" = 0 ] && grep -q ' failed=0 ' "$T/load.out" && pass "0 failed requests out of $ok" ||
        fail "requests failed (rc $load_rc): $(cat "$T/load.out") $(cat "$T/load.err")"

status_rows web | sed 's/^/    /'
new=$(status_rows web | awk '$2 == "RUNNING" { print $3 }' | sort -u)
[ "$(running_rows)" = "$N" ] && [ "$(wc -w <<<"$new")" = "$N" ] && [ "$(status_rows web | wc -l)" = "$N" ] &&
        pass "$N instances RUNNING after the restart" || fail "after the restart: $(ctl status web 2>&1 | tr '\n' ';')"
[ "$(status_rows web | awk '{ print $4 }' | sort -u | tr '\n' ' ')" = "2 " ] && pass "all on generation 2" ||
        fail "generations after the restart: $(status_rows web | awk '{ print $4 }' | tr '\n' ' ')"
[ -z "$(comm -12 <(echo "$old") <(echo "$new"))" ] && pass "every pid is new" ||
        fail "pids kept across the restart: $(comm -12 <(echo "$old") <(echo "$new") | tr '\n' ' ')"
for w in $old; do gone "$w" || fail "old pid $w still exists"; done
[ "$(children_of "$DAEMON_PID" | grep -c .)" = "$N" ] && pass "the daemon has $N children" ||
        fail "children: $(children_of "$DAEMON_PID" | tr '\n' ' ')"
z=$(zombies_of "$DAEMON_PID")
[ -z "$z" ] && pass "no zombies" || fail "zombies: $z"
stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
for w in $new; do gone "$w" || fail "pid $w survived the daemon's shutdown"; done
finish
