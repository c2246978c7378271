#!/bin/bash
# Regression tests for the decision defects a review found in sockvisord, one check each,
# held to README.md "What each command does in each state":
#   D1 two reloads of a config with no programs (the daemon aborted: "double free")
#   D2 restart of a program with no live instance (after stop, autostart = false, after a
#      reload that raises numprocs) never returned and wedged the program
#   D3 start of a STARTING or BACKOFF program, restart of a STOPPING one
#   D4 startsecs = 0 (ready = started): a worker that exits at once was respawned hundreds
#      of times instead of backing off to FATAL
#   D5 reload that adds a failing program, or rolls one to a generation that never gets
#      ready, said "reloaded" and exited 0
#   D6 sockvisord -t accepted an unknown user and two sockets on one address
#   D7 a config error at start-up (unknown user) exited 71, not 78
# Every command runs under run_timed (killed at its bound + slack), every wait is bounded.
. "$(dirname "$0")/lib.sh"
# On any exit, kill the daemon before cleanup() kills the workers: a daemon still alive
# then could spawn a worker after that sweep (a wedged restart does), left behind.
trap 'rc=$?; set +e; [ -n "$DAEMON_PID" ] && kill -KILL "$DAEMON_PID" 2>/dev/null; (exit "$rc"); cleanup' EXIT
set +e # each check records its own verdict; lib.sh helpers that must stop the run call die

SLACK=2
RESULTS=()
check() { # ID TEXT CONDITION-STATUS (0 = holds)
        if [ "$3" = 0 ]; then
                pass "$1 $2"
                RESULTS+=("PASS $1 $2")
        else
                fail "$1 $2"
                RESULTS+=("FAIL $1 $2")
        fi
}
# check_cmd ID TEXT OUT RC(0|ERR) BOUND: the exit status and the bound of a run_timed OUT.
check_cmd() {
        local id=$1 text=$2 out=$3 want=$4 bound=$5 rc el ok=0
        rc=$(report_field "$out" rc) el=$(report_field "$out" elapsed)
        if [ "$want" = 0 ]; then [ "$rc" = 0 ] || ok=1; else { [ -n "$rc" ] && [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$rc" != 137 ]; } || ok=1; fi
        awk -v e="${el:-99}" -v b="$((bound + SLACK))" 'BEGIN { exit !(e > b) }' && ok=1
        [ "$ok" = 0 ] || log "    $text: exit ${rc:-none}$([ "$rc" = 124 ] && echo ' (hung, killed)') after ${el:-?}s (bound ${bound}s): $(tail -n +4 "$out" | tail -n 2 | tr '\n' ' ' | cut -c1-200)"
        check "$id" "$text (exit ${rc:-none}, ${el:-?}s, bound ${bound}s)" "$ok"
}
# All rows of NAME in STATE, at least N of them.
all_in() { # NAME N STATE
        status_rows >"$T/all_in.status"
        prog_rows "$T/all_in.status" "$1" | awk -v n="$2" -v s="$3" '{ c++; if ($2 != s) bad = 1 } END { exit !(c >= n && !bad) }'
}
wait_all_in() { # NAME N STATE SECONDS
        for _ in $(seq 1 $(($4 * 10))); do all_in "$1" "$2" "$3" && return 0; sleep 0.1; done
        return 1
}
rows_of() { status_rows >"$T/rows.status"; prog_rows "$T/rows.status" "$1" | awk '{ printf "%s%s", (NR > 1 ? "," : ""), $2 }'; }
left_of() { procs_with "$T/$1.report" | wc -l; }
worker() { # NAME [OPTIONS...] -> a command = line
        local name=$1
        shift
        echo "$TESTWORKER $* $T/$name.report"
}
# A fresh daemon per group: a crash in one group does not hide the others' results.
new_daemon() { # CONFIG
        if [ -n "$DAEMON_PID" ]; then stop_daemon; fi
        kill_tracked
        cat "$T/daemon.log" >>"$T/all-daemons.log" 2>/dev/null || true
        : >"$T/daemon.log"
        start_daemon "$1"
}
alive() { kill -0 "$DAEMON_PID" 2>/dev/null && ctl version >/dev/null 2>&1; }

# --- D1: two reloads of a config with no programs ---
printf '[sockvisord]\ncontrol = %s\n' "$CTL" >"$T/empty.ini"
new_daemon "$T/empty.ini"
run_timed "$T/d1.r1" 5 reload
run_timed "$T/d1.r2" 5 reload
sleep 0.3
st=0
alive && run_timed "$T/d1.status" 5 status && [ "$(report_field "$T/d1.status" rc)" = 0 ] || st=1
check D1 "two reloads of a config with no programs: the daemon stays up and answers status" "$st"
[ "$st" = 0 ] || log "    daemon: $(tail -n 3 "$T/daemon.log" | tr '\n' ' ')"

# --- D2: restart of a program with no live instance ---
R=2 S=2 # ready_timeout = 2s; stopwaitsecs = 1s
cat >"$T/d2.ini" <<EOF
[sockvisord]
control = $CTL
[program:stopped]
command = $(worker stopped)
ready = notify
ready_timeout = ${R}s
stopwaitsecs = 1s
[program:manual]
command = $(worker manual)
ready = notify
ready_timeout = ${R}s
stopwaitsecs = 1s
autostart = false
[program:grown]
command = $(worker grown)
ready = notify
ready_timeout = ${R}s
stopwaitsecs = 1s
numprocs = 1
EOF
new_daemon "$T/d2.ini"
wait_all_in stopped 1 RUNNING 5 && wait_all_in grown 1 RUNNING 5 || log "    d2 setup: stopped '$(rows_of stopped)', grown '$(rows_of grown)'"
run_timed "$T/d2.stop" $((S + SLACK + 1)) stop stopped
sed -i 's/^numprocs = 1$/numprocs = 2/' "$T/d2.ini"
run_timed "$T/d2.reload" 15 reload
log "    reload raising grown's numprocs to 2: exit $(report_field "$T/d2.reload" rc); grown is '$(rows_of grown)'"
declare -A NPROCS=([stopped]=1 [manual]=1 [grown]=2)
declare -A WHY=([stopped]="after stop" [manual]="with autostart = false" [grown]="after a reload that raised numprocs to 2")
for p in stopped manual grown; do
        n=${NPROCS[$p]}
        b=$((n * (R + S) + S))
        run_timed "$T/d2.$p.restart" $((b + SLACK + 1)) restart "$p" &
        eval "pid_$p=\$!"
done
for p in stopped manual grown; do eval "wait \$pid_$p" || true; done
for p in stopped manual grown; do
        n=${NPROCS[$p]}
        b=$((n * (R + S) + S))
        check_cmd D2 "restart $p (${WHY[$p]}) returns" "$T/d2.$p.restart" 0 "$b"
        wait_all_in "$p" "$n" RUNNING 2
        st=$?; check D2 "restart $p (${WHY[$p]}) leaves $n RUNNING (is '$(rows_of "$p")')" "$st"
done
# Then stop, start, restart and reload all work on each of them.
for p in stopped manual grown; do
        n=${NPROCS[$p]}
        b=$((n * (R + S) + S))
        run_timed "$T/d2.$p.stop2" $((S + SLACK + 1)) stop "$p"
        check_cmd D2 "then stop $p" "$T/d2.$p.stop2" 0 "$S"
        wait_all_in "$p" "$n" STOPPED 2 && [ "$(left_of "$p")" = 0 ]
        st=$?; check D2 "then stop $p: STOPPED, no process left (is '$(rows_of "$p")', $(left_of "$p") left)" "$st"
        run_timed "$T/d2.$p.start" $((R + S + SLACK + 1)) start "$p"
        check_cmd D2 "then start $p" "$T/d2.$p.start" 0 $((R + S))
        run_timed "$T/d2.$p.restart2" $((b + SLACK + 1)) restart "$p"
        check_cmd D2 "then restart $p" "$T/d2.$p.restart2" 0 "$b"
done
run_timed "$T/d2.reload2" 15 reload
check_cmd D2 "then reload (unchanged file)" "$T/d2.reload2" 0 10
for p in stopped manual grown; do
        wait_all_in "$p" "${NPROCS[$p]}" RUNNING 2
        st=$?; check D2 "after all that $p is RUNNING (is '$(rows_of "$p")')" "$st"
done

# --- D3: start of STARTING and of BACKOFF, restart of STOPPING ---
R=5 # ready_timeout = 5s
cat >"$T/d3.ini" <<EOF
[sockvisord]
control = $CTL
[program:starting]
command = $(worker starting --ready-file "$T/starting.ready")
ready = notify
ready_timeout = ${R}s
stopwaitsecs = 1s
[program:backoff]
command = $(worker backoff --exit-if "$T/backoff.crash" 3 --ready-file "$T/backoff.ready")
ready = notify
ready_timeout = ${R}s
stopwaitsecs = 1s
startretries = 10
[program:stopping]
command = $(worker stopping --ignore-term)
ready = notify
ready_timeout = ${R}s
stopwaitsecs = 2s
EOF
touch "$T/backoff.crash"
new_daemon "$T/d3.ini"
wait_all_in stopping 1 RUNNING 5
run_timed "$T/d3.setupstop" 10 stop stopping &
setup_stop=$!
wait_all_in starting 1 STARTING 3
wait_all_in backoff 1 BACKOFF 3
wait_all_in stopping 1 STOPPING 3
log "    d3 states: starting '$(rows_of starting)', backoff '$(rows_of backoff)', stopping '$(rows_of stopping)'"
rm -f "$T/backoff.crash"
run_timed "$T/d3.start-starting" $((R + 2 + SLACK + 1)) start starting &
j1=$!
run_timed "$T/d3.start-backoff" $((R + 2 + SLACK + 1)) start backoff &
j2=$!
run_timed "$T/d3.restart-stopping" $((3 + R + 3 + SLACK + 1)) restart stopping &
j3=$!
sleep 2 # the starts must still be waiting, and say so
touch "$T/starting.ready" "$T/backoff.ready"
wait "$j1" || true
wait "$j2" || true
wait "$j3" || true
wait "$setup_stop" || true
for p in starting backoff; do
        f=$T/d3.start-$p
        first=$(report_field "$f" first) el=$(report_field "$f" elapsed) line=$(sed -n 4p "$f")
        awk -v f="${first:-99}" -v e="${el:-0}" -v m="$FIRST_LINE_MAX" 'BEGIN { exit !(f <= m && e > f + 0.5) }' &&
                grep -qi wait <<<"$line"
        st=$?; check D3 "start of a ${p^^} program says within 1 s what it waits for (first line after ${first:-?}s: '${line:0:100}')" "$st"
        check_cmd D3 "start of a ${p^^} program returns once it is ready" "$f" 0 $((R + 2))
        wait_all_in "$p" 1 RUNNING 2
        st=$?; check D3 "start of a ${p^^} program leaves it RUNNING (is '$(rows_of "$p")')" "$st"
done
check_cmd D3 "restart of a STOPPING program does not hang" "$T/d3.restart-stopping" 0 $((3 + R + 3))
wait_all_in stopping 1 RUNNING 2
st=$?; check D3 "restart of a STOPPING program leaves it RUNNING (is '$(rows_of stopping)')" "$st"
for p in starting backoff stopping; do
        run_timed "$T/d3.$p.stop" $((3 + SLACK + 1)) stop "$p"
        rc=$(report_field "$T/d3.$p.stop" rc)
        wait_all_in "$p" 1 STOPPED 2 && [ "$rc" = 0 ] && [ "$(left_of "$p")" = 0 ]
        st=$?; check D3 "afterwards stop $p stops it (exit ${rc:-none}, '$(rows_of "$p")', $(left_of "$p") left)" "$st"
done

# --- D4: startsecs = 0, a worker that exits at once: backoff, then FATAL ---
cat >"$T/d4.ini" <<EOF
[sockvisord]
control = $CTL
[program:quick]
command = $(worker quick --on-hup "$T/quick.spawns" --exit 1)
ready = started
startsecs = 0
startretries = 2
EOF
new_daemon "$T/d4.ini"
t0=$EPOCHREALTIME
sleep 8
spawns=$(grep -c '^armed' "$T/quick.spawns" 2>/dev/null || true)
state=$(rows_of quick)
[ "${spawns:-0}" = 3 ]
st=$?; check D4 "startsecs = 0, exits at once: spawned startretries + 1 = 3 times in 8 s (spawned ${spawns:-0})" "$st"
[ "$state" = FATAL ]
st=$?; check D4 "startsecs = 0, exits at once: FATAL after the retries (is '$state')" "$st"
gaps=$(transitions quick | awk '$3 == "STARTING" { if (t != "") { d = $1 - t; if (d < 0) d += 86400; printf "%.2f ", d } t = $1 }')
read -r -a g <<<"$gaps"
[ "${#g[@]}" = 2 ] && awk -v a="${g[0]}" -v b="${g[1]}" 'BEGIN { exit !(a >= 0.8 && a < 1.8 && b >= 1.6 && b < 3) }'
st=$?; check D4 "startsecs = 0: the retries come after 1 s, then 2 s (gaps: ${gaps:0:60})" "$st"

# --- D5: reload that adds failing programs, or rolls one to a never-ready generation ---
R=2
cat >"$T/d5.ini" <<EOF
[sockvisord]
control = $CTL
[program:keep]
command = $(worker keep)
ready = notify
ready_timeout = ${R}s
stopwaitsecs = 1s
EOF
new_daemon "$T/d5.ini"
wait_all_in keep 1 RUNNING 5
keep_pid=$(status_rows keep | awk '$1 == "keep" { print $3 }')
cat >>"$T/d5.ini" <<EOF
[program:crashy]
command = $(worker crashy --exit 3)
ready = notify
ready_timeout = ${R}s
stopwaitsecs = 1s
[program:nocmd]
command = $T/no-such-command-xyz
ready = notify
ready_timeout = ${R}s
stopwaitsecs = 1s
EOF
run_timed "$T/d5.add" $((R + 2 + SLACK + 1)) reload
rc=$(report_field "$T/d5.add" rc)
[ -n "$rc" ] && [ "$rc" != 0 ] && [ "$rc" != 124 ] && tail -n +4 "$T/d5.add" | grep -q crashy && tail -n +4 "$T/d5.add" | grep -q nocmd
st=$?; check D5 "reload adding a worker that exits at once and a command that does not exist: exit non-zero naming both (exit ${rc:-none}: $(tail -n +4 "$T/d5.add" | tail -n 2 | tr '\n' ' ' | cut -c1-160))" "$st"
sed -i "s|^command = $TESTWORKER  *$T/keep.report\$|command = $TESTWORKER --no-ready $T/keep.report|" "$T/d5.ini"
grep -q -- "--no-ready $T/keep.report" "$T/d5.ini" || die "d5: could not change keep's command"
run_timed "$T/d5.roll" $((R + 2 + 2 + SLACK + 1)) reload
rc=$(report_field "$T/d5.roll" rc)
[ -n "$rc" ] && [ "$rc" != 0 ] && [ "$rc" != 124 ] && tail -n +4 "$T/d5.roll" | grep -q keep
st=$?; check D5 "reload rolling keep to a generation that never gets ready: exit non-zero naming keep (exit ${rc:-none}: $(tail -n +4 "$T/d5.roll" | tail -n 2 | tr '\n' ' ' | cut -c1-160))" "$st"
sleep $((R + 1))
now_pid=$(status_rows keep | awk '$1 == "keep" && $2 == "RUNNING" { print $3 }')
[ -n "$keep_pid" ] && [ "$now_pid" = "$keep_pid" ] && kill -0 "$keep_pid" 2>/dev/null
st=$?; check D5 "the old generation of keep keeps serving: pid $keep_pid RUNNING (is '$(rows_of keep)', pid '${now_pid}')" "$st"

# --- D6, D7: the config check and start-up ---
cat >"$T/d6-user.ini" <<EOF
[sockvisord]
control = $CTL
[program:app]
command = $(worker app)
user = no-such-user-xyz
EOF
rc=0
out=$(timeout 10 "$SOCKVISORD" -t -c "$T/d6-user.ini" 2>&1) || rc=$?
[ "$rc" = 78 ] && grep -q "no-such-user-xyz" <<<"$out" && grep -q "d6-user.ini:5" <<<"$out"
st=$?; check D6 "-t with user = no-such-user-xyz: exit 78 naming the user and line 5 (exit $rc: ${out:0:160})" "$st"
port=$("$FREEPORT")
cat >"$T/d6-addr.ini" <<EOF
[sockvisord]
control = $CTL
[socket:a]
listen = tcp://127.0.0.1:$port
[socket:b]
listen = tcp://127.0.0.1:$port
[program:app]
command = $(worker app)
sockets = a,b
EOF
rc=0
out=$(timeout 10 "$SOCKVISORD" -t -c "$T/d6-addr.ini" 2>&1) || rc=$?
[ "$rc" = 78 ]
st=$?; check D6 "-t with two [socket:] sections on one address: exit 78 (exit $rc: ${out:0:160})" "$st"

if [ -n "$DAEMON_PID" ]; then stop_daemon; fi
kill_tracked
rc=0
timeout 10 "$SOCKVISORD" -c "$T/d6-user.ini" >"$T/d7.out" 2>&1 || rc=$?
[ "$rc" = 78 ] && grep -q "no-such-user-xyz" "$T/d7.out"
st=$?; check D7 "a config error at start-up (unknown user): exit 78, not 71 (exit $rc: $(head -c 160 "$T/d7.out"))" "$st"
kill_tracked

cat "$T/daemon.log" >>"$T/all-daemons.log" 2>/dev/null || true
cp "$T/all-daemons.log" "$T/daemon.log" 2>/dev/null || true
printf '\n'
printf '%s\n' "${RESULTS[@]}"
log "$(printf '%s\n' "${RESULTS[@]}" | grep -c '^PASS' || true) passed, $(printf '%s\n' "${RESULTS[@]}" | grep -c '^FAIL' || true) failed"
finish
