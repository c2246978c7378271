#!/bin/bash
# Every command in every state, as README.md "What each command does in each state" says:
# start, stop, restart, signal HUP and reload, in STOPPED, STARTING, RUNNING, BACKOFF,
# STOPPING, EXITED, FATAL and ROLLOUT (a restart under way), with numprocs = 1 and 3:
# 80 cases, one program each. Each case checks (a) the first output line (or the exit)
# within 1 s, (b) the exit within the documented bound + 2 s, (c) the exit status, (d) the
# state afterwards, and (e) that `stop NAME` then stops it: exit 0, STOPPED, no process left.
#
# The states are made with sv-testworker options, not with sleeps: --ready-file keeps an
# instance STARTING until the test creates the file, --exit-if crash-loops it (BACKOFF with
# startretries = 10, FATAL with 0) until the test removes the file, --ignore-term keeps
# STOPPING for stopwaitsecs (5 s: long enough to reach it on a loaded machine), autorestart = false plus a SIGTERM from the test gives EXITED,
# and a restart whose new instance waits on its ready file is ROLLOUT.
#
# start/stop/restart/signal run in parallel on one daemon. reload acts on the whole daemon
# and is refused while any start, stop or restart is under way, so its cases run on daemons
# of their own: one for the states with nothing under way (expect exit 0, nothing changed),
# one for STOPPING (a stop is under way) and one for ROLLOUT (both refused, nothing changed).
. "$(dirname "$0")/lib.sh"
# On any exit, kill the daemon before cleanup() kills the workers: a daemon still alive
# then could spawn a worker after that sweep (a wedged restart does), left behind.
trap 'rc=$?; set +e; [ -n "$DAEMON_PID" ] && kill -KILL "$DAEMON_PID" 2>/dev/null; (exit "$rc"); cleanup' EXIT

STATES=(STOPPED STARTING RUNNING BACKOFF STOPPING EXITED FATAL ROLLOUT)
# ready_timeout (ready = notify): the ready bound. It is also how long a STARTING state (and
# the candidate of a ROLLOUT) lasts when nothing makes it ready: the setup of 64 programs
# must fit in it, which under ASan and UBSan, beside other load, took more than 5 s.
R=8
# stopwaitsecs of the STOPPING programs (they ignore SIGTERM): how long that state lasts.
SW=5
if [ "$FIRST_LINE_MAX" != 1.0 ]; then R=15 SW=12; fi
SLACK=2 # added to every documented bound
mkdir -p "$T/res" "$T/out" "$T/setup" "$T/fin"

pname() { echo "${1,,}-$2-$3"; } # STATE CMD N -> program name
stop_bound() { [ "$1" = STOPPING ] && echo $((SW + 1)) || echo 2; } # S = stopwaitsecs + 1

conf_program() { # NAME STATE N
        local name=$1 st=$2 n=$3 opts="--on-hup $T/$1.hup --ready-file $T/$1.ready" extra= wait=1s
        case $st in
        STOPPED) extra="autostart = false" ;;
        BACKOFF) opts="$opts --exit-if $T/$name.crash 3" extra="startretries = 10" ;;
        FATAL) opts="$opts --exit-if $T/$name.crash 3" extra="startretries = 0" ;;
        STOPPING) opts="--ignore-term $opts" wait=${SW}s ;;
        EXITED) extra="autorestart = false" ;;
        esac
        case $st in BACKOFF | FATAL) touch "$T/$name.crash" ;; esac
        [ "$st" = STARTING ] || touch "$T/$name.ready"
        cat <<EOF
[program:$name]
command = $TESTWORKER $opts $T/$name.report
numprocs = $n
restart_surge = 1
ready = notify
ready_timeout = ${R}s
startsecs = 500ms
stopwaitsecs = $wait
$extra
EOF
}

# The contract of one case: sets E_RC (0 | ERR), E_STATES (allowed states afterwards),
# E_BOUND (s), E_PRE (rm-crash: remove the crash file first), E_POST (ready: create the
# ready file 0.5 s into the command), E_HUP (SIGHUPs the instances must have seen),
# E_SAME (pids unchanged), E_NEWGEN (a new generation serves), E_SETTLE (s to wait before
# looking at the state, for "stays STOPPED"), E_SETUP (expected exit of the command that
# made the state: 0 | ERR | empty), E_SETUP_MSG (a word its output must have).
expect() { # STATE CMD N
        local st=$1 cmd=$2 n=$3 S
        S=$(stop_bound "$st")
        local RB=$((n * (R + S) + S)) # rolling restart: ceil(n / surge) x (R + S) + S
        E_RC=0 E_STATES= E_BOUND=1 E_PRE= E_POST= E_HUP= E_SAME= E_NEWGEN= E_SETTLE=0 E_SETUP= E_SETUP_MSG= E_SENT_OK=
        case $st:$cmd in
        STOPPED:start | STOPPED:restart | EXITED:start | EXITED:restart) E_STATES=RUNNING E_BOUND=$((R + S)) ;;
        STOPPED:stop | EXITED:stop | FATAL:stop) E_STATES=STOPPED ;;
        STOPPED:signal) E_RC=ERR E_STATES=STOPPED ;;
        STOPPED:reload) E_STATES=STOPPED E_BOUND=$RB ;;
        STARTING:start) E_STATES=RUNNING E_BOUND=$((R + S)) E_POST=ready ;;
        STARTING:stop) E_STATES=STOPPED E_BOUND=$S ;;
        STARTING:restart) E_STATES=RUNNING E_BOUND=$RB E_POST=ready E_NEWGEN=1 ;;
        STARTING:signal) E_STATES=RUNNING E_POST=ready E_HUP=$n E_SAME=1 ;;
        STARTING:reload) E_STATES=RUNNING E_BOUND=$RB E_POST=ready E_SAME=1 ;;
        RUNNING:start) E_STATES=RUNNING E_SAME=1 ;;
        RUNNING:stop) E_STATES=STOPPED E_BOUND=$S ;;
        RUNNING:restart) E_STATES=RUNNING E_BOUND=$RB E_NEWGEN=1 ;;
        RUNNING:signal) E_STATES=RUNNING E_HUP=$n E_SAME=1 ;;
        RUNNING:reload) E_STATES=RUNNING E_BOUND=$RB E_SAME=1 ;;
        BACKOFF:start | BACKOFF:restart | FATAL:start | FATAL:restart)
                E_STATES=RUNNING E_BOUND=$((R + S)) E_PRE=rm-crash ;;
        BACKOFF:stop) E_STATES=STOPPED E_SETTLE=3 ;; # the retry (1 s, 2 s gaps) must not fire
        # a crash-looping instance has a process only during a retry: one caught STARTING is
        # signalled, as the STARTING row says (OK, with its "sent SIG... to pid" line)
        BACKOFF:signal) E_RC=ERR E_SENT_OK=1 E_STATES="BACKOFF STARTING" ;;
        BACKOFF:reload) E_STATES="BACKOFF STARTING" E_BOUND=$RB ;;
        STOPPING:start | STOPPING:restart) E_STATES=RUNNING E_BOUND=$((S + R + S)) E_SETUP=0 ;;
        STOPPING:stop) E_STATES=STOPPED E_BOUND=$S E_SETUP=0 ;;
        STOPPING:signal) E_STATES="STOPPING STOPPED" E_HUP=$n E_SETUP=0 ;;
        STOPPING:reload) E_RC=ERR E_STATES="STOPPING STOPPED" E_SETUP=0 ;; # refused: a stop is under way
        EXITED:signal) E_RC=ERR E_STATES=EXITED ;;
        EXITED:reload) E_STATES=EXITED E_BOUND=$RB ;;
        FATAL:signal) E_RC=ERR E_STATES=FATAL ;;
        FATAL:reload) E_STATES=FATAL E_BOUND=$RB ;;
        ROLLOUT:start | ROLLOUT:restart | ROLLOUT:reload) E_RC=ERR E_STATES=RUNNING E_POST=ready E_SETUP=0 ;;
        ROLLOUT:stop) E_STATES=STOPPED E_BOUND=$S E_SETUP=ERR E_SETUP_MSG=stop ;;
        ROLLOUT:signal) E_STATES=RUNNING E_POST=ready E_HUP=$n E_SETUP=0 ;;
        *) die "no contract for $st $cmd" ;;
        esac
}

# --- one daemon per group of cases ---
CASES=() # "STATE CMD N" of the current daemon
write_config() {
        local c st cmd n
        printf '[sockvisord]\ncontrol = %s\n\n' "$CTL" >"$T/sockvisor.ini"
        for c in "${CASES[@]}"; do
                read -r st cmd n <<<"$c"
                conf_program "$(pname "$st" "$cmd" "$n")" "$st" "$n" >>"$T/sockvisor.ini"
        done
}
snapshot() { status_rows >"$1"; } # FILE
# All rows of NAME in the allowed STATES, and at least N of them.
rows_in() { # FILE NAME N STATES...
        local file=$1 name=$2 n=$3
        shift 3
        prog_rows "$file" "$name" | awk -v ok=" $* " -v n="$n" '
                { c++; if (index(ok, " " $2 " ") == 0) bad = 1 } END { exit !(c >= n && !bad) }'
}
rows_text() { prog_rows "$1" "$2" | awk '{ printf "%s%s", (NR > 1 ? "," : ""), $2 }'; }
precondition() { # STATE NAME N FILE
        local st=$1 name=$2 n=$3 f=$4
        case $st in
        ROLLOUT)
                prog_rows "$f" "$name" | awk -v n="$n" '/_\(new\)/ && $2 == "STARTING" { s++ }
                        !/_\(new\)/ && $2 == "RUNNING" { r++ } END { exit !(s >= 1 && r == n) }' ;;
        STARTING) rows_in "$f" "$name" "$n" STARTING && [ "$(grep -c '^armed' "$T/$name.hup" 2>/dev/null)" -ge "$n" ] ;;
        *) rows_in "$f" "$name" "$n" "$st" ;;
        esac
}

SETUP_PIDS=()
setup_states() {
        local c st cmd n name p ok
        start_daemon "$T/sockvisor.ini"
        # The states that start from RUNNING: wait (bounded) until they are.
        for _ in $(seq 1 100); do
                snapshot "$T/boot.status"
                ok=1
                for c in "${CASES[@]}"; do
                        read -r st cmd n <<<"$c"
                        case $st in RUNNING | STOPPING | EXITED | ROLLOUT) ;; *) continue ;; esac
                        rows_in "$T/boot.status" "$(pname "$st" "$cmd" "$n")" "$n" RUNNING || ok=0
                done
                [ "$ok" = 1 ] && break
                sleep 0.1
        done
        sleep 0.6 # past startsecs: a healthy run, so EXITED (not BACKOFF) follows a death
        for c in "${CASES[@]}"; do
                read -r st cmd n <<<"$c"
                name=$(pname "$st" "$cmd" "$n")
                case $st in
                EXITED)
                        for p in $(prog_rows "$T/boot.status" "$name" | awk '{ print $3 }'); do
                                kill -TERM "$p" 2>/dev/null
                        done ;;
                STOPPING)
                        run_timed "$T/setup/$name" 30 stop "$name" &
                        SETUP_PIDS+=($!) ;;
                ROLLOUT)
                        rm -f "$T/$name.ready"
                        run_timed "$T/setup/$name" 60 restart "$name" &
                        SETUP_PIDS+=($!) ;;
                esac
        done
        # Every program in its state (bounded: 5 s); a case whose state was not reached says so.
        for _ in $(seq 1 50); do
                snapshot "$T/pre.status"
                ok=1
                for c in "${CASES[@]}"; do
                        read -r st cmd n <<<"$c"
                        precondition "$st" "$(pname "$st" "$cmd" "$n")" "$n" "$T/pre.status" || ok=0
                done
                [ "$ok" = 1 ] && break
                sleep 0.1
        done
        for c in "${CASES[@]}"; do
                read -r st cmd n <<<"$c"
                name=$(pname "$st" "$cmd" "$n")
                precondition "$st" "$name" "$n" "$T/pre.status" ||
                        echo "setup: not $st but '$(rows_text "$T/pre.status" "$name")'" >"$T/res/$name.setup"
        done
}

pre_action() { [ "$E_PRE" = rm-crash ] && rm -f "$T/$1.crash"; return 0; }
# The ready file comes 0.5 s into the command, and not before the daemon has answered it
# (its first line; at most FIRST_LINE_MAX): on a loaded machine a late command must not find the
# state already gone (a rollout finished before "start" got there).
post_action() { # NAME OUTFILE
        [ "$E_POST" = ready ] || return 0
        sleep 0.5
        local tries
        tries=$(awk -v m="$FIRST_LINE_MAX" 'BEGIN { print int(m * 20) }') # up to the first-line bound
        for _ in $(seq 1 "$tries"); do [ -s "$2.raw" ] || [ -e "$2" ] && break; sleep 0.05; done
        touch "$T/$1.ready"
}

# The verdict of one case from its output file; writes res/NAME: "rc elapsed first|states|reasons".
judge() { # STATE CMD N OUTFILE
        set +e
        local st=$1 cmd=$2 n=$3 out=$4 name rc el first why=() f k hups
        name=$(pname "$st" "$cmd" "$n")
        expect "$st" "$cmd" "$n"
        [ -e "$T/res/$name.setup" ] && why+=("$(cat "$T/res/$name.setup")")
        rc=$(report_field "$out" rc) el=$(report_field "$out" elapsed) first=$(report_field "$out" first)
        if [ -z "$rc" ]; then
                why+=("no result")
        elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
                why+=("hung: killed after $((E_BOUND + SLACK + 1))s")
        elif [ "$E_RC" = 0 ] && [ "$rc" != 0 ]; then
                why+=("exit $rc, expected 0: $(tail -n +4 "$out" | tail -n 1 | cut -c1-110)")
        elif [ "$E_RC" = ERR ] && [ "$rc" = 0 ] && ! { [ -n "$E_SENT_OK" ] && grep -q ": sent SIG[A-Z0-9]* to pid [0-9]" "$out"; }; then
                why+=("exit 0, expected an error")
        fi
        if [ -n "$rc" ]; then
                awk -v f="$first" -v m="$FIRST_LINE_MAX" 'BEGIN { exit !(f > m) }' && why+=("first line after ${first}s")
                awk -v e="$el" -v b="$((E_BOUND + SLACK))" 'BEGIN { exit !(e > b) }' &&
                        why+=("took ${el}s, bound ${E_BOUND}s + ${SLACK}s")
        fi
        sleep "$E_SETTLE"
        f=$T/res/$name.status
        # The state afterwards, polled (bounded: 4 s). Not faster: each status walks /proc in
        # the daemon, and 64 cases polling at once would slow down the commands under test.
        for k in $(seq 1 16); do
                status_rows >"$f"
                rows_in "$f" "$name" "$n" $E_STATES && break
                sleep 0.25
        done
        rows_in "$f" "$name" "$n" $E_STATES || why+=("state '$(rows_text "$f" "$name")', expected $E_STATES")
        if [ -n "$E_HUP" ]; then
                hups=$(grep -c '^hup' "$T/$name.hup" 2>/dev/null)
                [ "${hups:-0}" -ge "$E_HUP" ] || why+=("${hups:-0} instance(s) got SIGHUP, expected $E_HUP")
        fi
        if [ -n "$E_SAME" ]; then
                [ "$(prog_rows "$T/pre.status" "$name" | awk '{ print $3 }' | sort)" = \
                  "$(prog_rows "$f" "$name" | awk '{ print $3 }' | sort)" ] || why+=("pids changed")
        fi
        if [ -n "$E_NEWGEN" ]; then
                local g0
                g0=$(prog_rows "$T/pre.status" "$name" | awk '$4 + 0 > m { m = $4 + 0 } END { print m + 0 }')
                prog_rows "$f" "$name" | awk -v g="$g0" '$4 + 0 <= g { bad = 1 } END { exit bad }' ||
                        why+=("no new generation (was $g0)")
        fi
        if [ -n "$E_SETUP" ]; then # the command that made the state: wait (bounded) for its end
                local s=$T/setup/$name src
                for k in $(seq 1 300); do [ -e "$s" ] && break; sleep 0.1; done
                src=$(report_field "$s" rc)
                if [ "$E_SETUP" = 0 ] && [ "$src" != 0 ]; then
                        why+=("the $([ "$st" = ROLLOUT ] && echo restart || echo stop) under way ended ${src:-never}, expected 0")
                elif [ "$E_SETUP" = ERR ] && { [ "${src:-0}" = 0 ] || ! tail -n +4 "$s" | grep -qi "$E_SETUP_MSG"; }; then
                        why+=("the restart under way ended '${src:-never}', expected an error naming the $E_SETUP_MSG")
                fi
        fi
        local IFS=';'
        printf '%s %s %s|%s|%s\n' "${rc:--}" "${el:--}" "${first:--}" "$(rows_text "$f" "$name")" "${why[*]}" >"$T/res/$name"
}

run_case() { # STATE CMD N
        set +e
        local st=$1 cmd=$2 n=$3 name args
        name=$(pname "$st" "$cmd" "$n")
        expect "$st" "$cmd" "$n"
        case $cmd in signal) args=(signal HUP "$name") ;; *) args=("$cmd" "$name") ;; esac
        pre_action "$name"
        run_timed "$T/out/$name" $((E_BOUND + SLACK + 1)) "${args[@]}" &
        local cp=$!
        post_action "$name" "$T/out/$name"
        wait "$cp" || true
        judge "$st" "$cmd" "$n" "$T/out/$name"
}

# (e): `stop NAME` afterwards stops it: exit 0 within S + slack, STOPPED, no process left.
final_stop() { # STATE CMD N
        set +e
        local st=$1 cmd=$2 n=$3 name S rc el why=()
        name=$(pname "$st" "$cmd" "$n")
        S=$(stop_bound "$st")
        run_timed "$T/fin/$name" $((S + SLACK + 1)) stop "$name"
        rc=$(report_field "$T/fin/$name" rc) el=$(report_field "$T/fin/$name" elapsed)
        [ "$rc" = 0 ] || why+=("then stop: exit ${rc:-none}$([ "$rc" = 124 ] && echo ' (hung)'): $(tail -n +4 "$T/fin/$name" | tail -n 1 | cut -c1-90)")
        awk -v e="${el:-99}" -v b="$((S + SLACK))" 'BEGIN { exit !(e > b) }' && why+=("then stop: took ${el}s")
        for _ in $(seq 1 8); do
                status_rows >"$T/fin/$name.status"
                rows_in "$T/fin/$name.status" "$name" "$n" STOPPED && break
                sleep 0.25
        done
        rows_in "$T/fin/$name.status" "$name" "$n" STOPPED ||
                why+=("then stop: state '$(rows_text "$T/fin/$name.status" "$name")'")
        local IFS=';'
        printf '%s' "${why[*]}" >"$T/fin/$name.why"
}

# Leftover processes per program, once for all (one /proc walk): "then stop: N left".
check_leftovers() {
        local c st cmd n name left
        sleep 0.3 # reaping
        ps -eww -o pid=,stat=,args= | awk '$2 !~ /^Z/' >"$T/ps.txt"
        for c in "${CASES[@]}"; do
                read -r st cmd n <<<"$c"
                name=$(pname "$st" "$cmd" "$n")
                left=$(grep -cF "$T/$name.report" "$T/ps.txt" || true)
                if [ "$left" -gt 0 ]; then
                        [ -s "$T/fin/$name.why" ] && printf ';' >>"$T/fin/$name.why"
                        printf 'then stop: %s process(es) left' "$left" >>"$T/fin/$name.why"
                fi
        done
}

run_group() { # KIND: cmds | reload
        local kind=$1 c st cmd n name pids=() p
        write_config
        SETUP_PIDS=()
        setup_states
        log "group $kind: ${#CASES[@]} cases set up; running the commands"
        if [ "$kind" = cmds ]; then
                for c in "${CASES[@]}"; do
                        run_case $c &
                        pids+=($!)
                        sleep 0.02 # spreads the burst of forks: 64 at once add a second on 2 cores
                done
        else
                local rb=0
                for c in "${CASES[@]}"; do
                        read -r st cmd n <<<"$c"
                        expect "$st" reload "$n"
                        [ "$E_BOUND" -gt "$rb" ] && rb=$E_BOUND
                done
                run_timed "$T/out/reload-$kind" $((rb + SLACK + 1)) reload &
                p=$!
                for c in "${CASES[@]}"; do
                        read -r st cmd n <<<"$c"
                        expect "$st" reload "$n"
                        (post_action "$(pname "$st" "$cmd" "$n")" "$T/out/reload-$kind") &
                done
                wait "$p" || true
                for c in "${CASES[@]}"; do
                        judge $c "$T/out/reload-$kind" &
                        pids+=($!)
                done
        fi
        for p in "${pids[@]}"; do wait "$p" || true; done
        pids=()
        for c in "${CASES[@]}"; do
                final_stop $c &
                pids+=($!)
        done
        for p in "${pids[@]}" "${SETUP_PIDS[@]}"; do wait "$p" || true; done
        check_leftovers
        stop_daemon
        kill_tracked # whatever a wedged daemon left behind
        mv "$T/daemon.log" "$T/daemon-$kind.log"
        ALL_CASES+=("${CASES[@]}")
}

# MATRIX_GROUPS (for working on the tests): run only these groups.
want() { [ -z "${MATRIX_GROUPS:-}" ] || [[ " $MATRIX_GROUPS " == *" $1 "* ]]; }
ALL_CASES=()
t_start=$EPOCHREALTIME
CASES=()
for st in "${STATES[@]}"; do for cmd in start stop restart signal; do for n in 1 3; do
        CASES+=("$st $cmd $n")
done; done; done
if want cmds; then run_group cmds; fi
CASES=()
for st in STOPPED STARTING RUNNING BACKOFF EXITED FATAL; do for n in 1 3; do CASES+=("$st reload $n"); done; done
if want reload-idle; then run_group reload-idle; fi
CASES=("STOPPING reload 1" "STOPPING reload 3")
if want reload-stopping; then run_group reload-stopping; fi
CASES=("ROLLOUT reload 1" "ROLLOUT reload 3")
if want reload-rollout; then run_group reload-rollout; fi

# --- the table ---
passed=0 failed=0
printf '\n%-22s %4s %8s %6s  %-28s %s\n' CASE EXIT ELAPSED FIRST "STATE AFTER" VERDICT
for c in "${ALL_CASES[@]}"; do
        read -r st cmd n <<<"$c"
        name=$(pname "$st" "$cmd" "$n")
        IFS='|' read -r nums states why <"$T/res/$name" 2>/dev/null || nums="- - -" states=- why="no result"
        read -r rc el first <<<"$nums"
        fin=$(cat "$T/fin/$name.why" 2>/dev/null)
        [ -n "$fin" ] && why="${why:+$why;}$fin"
        if [ -z "$why" ]; then
                verdict=PASS passed=$((passed + 1))
        else
                verdict="FAIL: $why" failed=$((failed + 1))
        fi
        printf '%-22s %4s %8s %6s  %-28s %s\n' "$name" "$rc" "$el" "$first" "${states:0:28}" "$verdict"
done
printf '\nper state (passed/cases):'
for st in "${STATES[@]}"; do
        k=0 p=0
        for c in "${ALL_CASES[@]}"; do
                read -r s cmd n <<<"$c"
                [ "$s" = "$st" ] || continue
                k=$((k + 1))
                name=$(pname "$s" "$cmd" "$n")
                IFS='|' read -r _ _ why <"$T/res/$name" 2>/dev/null || why=x
                [ -z "$why" ] && [ ! -s "$T/fin/$name.why" ] && p=$((p + 1))
        done
        printf ' %s %d/%d' "$st" "$p" "$k"
done
printf '\n'
log "$passed passed, $failed failed ($(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s)"
if [ "$failed" -ne 0 ]; then
        for f in "$T"/daemon-*.log; do cat "$f" >>"$T/daemon.log"; done # cleanup() shows its tail
        FAILURES=$failed
fi
finish
