# Shared helpers for the end-to-end tests: sourced, not run.
# Each test runs the real daemon on 127.0.0.1 and a private temp dir, and kills only
# the processes it started, by pid.
set -euo pipefail

BUILD=${1:?usage: $0 BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
SOCKVISORD=$BUILD/sockvisord
SOCKVISORCTL=$BUILD/sockvisorctl
DEMO=$BUILD/sockvisor-demo
LOADCLIENT=$BUILD/tests/sv-loadclient
FREEPORT=$BUILD/tests/sv-freeport
TESTWORKER=$BUILD/tests/sv-testworker

# A waiting command says what it waits for within 1 s (README). Under ASan and UBSan every
# process (each sockvisorctl too) starts several times slower, and the matrix runs 64
# clients at once on 2 cores: there the clients' own start-up is most of that second, so
# the sanitized pass allows 3 s. The daemon's side is checked in virtual time by tests/sim.
FIRST_LINE_MAX=1.0
if ldd "$SOCKVISORD" 2>/dev/null | grep -q libasan; then FIRST_LINE_MAX=3.0; fi

T=$(mktemp -d /tmp/sockvisor-e2e.XXXXXX)
CTL=$T/control.sock
DAEMON_PID=
STARTED_PIDS=()
FAILURES=0

log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*"; }
fail() { log "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
pass() { log "ok: $*"; }
die() { log "FATAL: $*"; exit 1; }

cleanup() {
        local rc=$?
        set +e
        kill_tracked
        for pid in "${STARTED_PIDS[@]}" $DAEMON_PID; do
                kill -KILL "$pid" 2>/dev/null || true
        done
        if [ "$rc" -ne 0 ] || [ "$FAILURES" -ne 0 ]; then
                log "daemon log ($T/daemon.log):"
                sed 's/^/    /' "$T/daemon.log" 2>/dev/null | tail -n 80 || true
        fi
        [ -n "${KEEP_T:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

ctl() { "$SOCKVISORCTL" -s "$CTL" "$@"; }

# Waits (bounded) until the control socket answers.
wait_for_daemon() {
        for _ in $(seq 1 100); do
                if ctl version >/dev/null 2>&1; then return 0; fi
                kill -0 "$DAEMON_PID" 2>/dev/null || die "sockvisord exited during start-up"
                sleep 0.1
        done
        die "sockvisord did not answer on $CTL within 10s"
}

start_daemon() { # CONFIG
        "$SOCKVISORD" -c "$1" >>"$T/daemon.log" 2>&1 &
        DAEMON_PID=$!
        wait_for_daemon
}

# Sends SIGTERM and waits (bounded) for the exit; sets DAEMON_RC to its exit status.
# Not in a $(...) subshell: only this shell can wait for the daemon.
stop_daemon() {
        DAEMON_RC=0
        kill -TERM "$DAEMON_PID"
        for _ in $(seq 1 200); do
                kill -0 "$DAEMON_PID" 2>/dev/null || break
                sleep 0.05
        done
        if kill -0 "$DAEMON_PID" 2>/dev/null; then
                fail "sockvisord still running 10s after SIGTERM"
                kill -KILL "$DAEMON_PID"
        fi
        wait "$DAEMON_PID" || DAEMON_RC=$?
        DAEMON_PID=
}

# Children of a pid, with their state letter: "PID STATE" per line (none: empty, not an
# error, or set -e would end the script at "z=$(zombies_of ...)").
children_of() { { ps -o pid=,stat= --ppid "$1" || true; } | awk '{ print $1, substr($2, 1, 1) }'; }

zombies_of() { children_of "$1" | awk '$2 == "Z" { print $1 }'; }

fd_count() { ls "/proc/$1/fd" | wc -l; }

http_get() { # PORT [PATH] -> body
        curl -s --max-time 5 "http://127.0.0.1:$1${2:-/}"
}

# Waits (bounded) for a file to appear.
wait_for_file() {
        for _ in $(seq 1 100); do
                [ -s "$1" ] && return 0
                sleep 0.1
        done
        return 1
}

# --- status, transitions and process helpers ---
# `status` as "NAME STATE PID GEN" lines, whatever the name column looks like ("app",
# "app:1", "app (new)" -> "app_(new)"): the state is the first field that is a state name.
status_rows() { # [NAME...]
        ctl status "$@" 2>/dev/null | awk '{
                for (k = 1; k <= NF; k++)
                        if ($k ~ /^(STOPPED|STARTING|RUNNING|BACKOFF|STOPPING|EXITED|FATAL)$/) break
                if (k > NF - 2) next
                name = $1
                for (q = 2; q < k; q++) name = name "_" $q
                print name, $k, $(k + 1), $(k + 2) }'
}
state_of() { status_rows "$1" | awk -v n="$1" '$1 == n { print $2; exit }'; }
# Polls (bounded) until NAME is in one of STATES; STATE holds the last state seen.
wait_state() { # NAME SECONDS STATE...
        local name=$1 tenths=$(($2 * 10)) s
        shift 2
        for _ in $(seq 1 "$tenths"); do
                STATE=$(state_of "$name")
                for s in "$@"; do [ "$STATE" = "$s" ] && return 0; done
                sleep 0.1
        done
        return 1
}
# "SECONDS FROM TO" for each logged transition "NAME[gen G pid P]: FROM -> TO (cause)".
transitions() { # NAME
        grep -E "^[0-9:.]+ sockvisord: $1\[gen [0-9]+( pid [0-9]+)?\]: [A-Z]+ -> [A-Z]+ " "$T/daemon.log" |
                awk '{ split($1, t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3]
                       for (k = 1; k < NF; k++) if ($k == "->") { print s, $(k - 1), $(k + 1); break } }'
}
# How many times NAME was started (transitions into STARTING).
tries() { transitions "$1" | awk '$3 == "STARTING"' | wc -l; }
# Reaped, not just dead: a zombie still has its /proc entry.
gone() { [ ! -e "/proc/$1" ]; }
wait_gone() { # PID SECONDS
        for _ in $(seq 1 $(($2 * 10))); do gone "$1" && return 0; sleep 0.1; done
        return 1
}
ms_now() { date +%s%3N; }
report_field() { awk -v k="$2" '$1 == k { print $2; exit }' "$1" 2>/dev/null; } # FILE KEY
# Workers and their children outlive a daemon killed by cleanup(): on exit, kill what we
# tracked while /proc says it is still our worker, and whatever runs with our $T in its
# command line (only this test's processes have it).
TRACKED=()
track() { TRACKED+=("$@"); }
kill_tracked() {
        local p f
        for p in "${TRACKED[@]}"; do
                grep -qaE "sv-testworker|sockvisor-demo" "/proc/$p/cmdline" 2>/dev/null && kill -KILL "$p" 2>/dev/null
        done
        for f in /proc/[0-9]*/cmdline; do
                p=${f#/proc/}
                p=${p%/cmdline}
                [ "$p" != $$ ] && [ "$p" != "$BASHPID" ] && grep -qaF "$T/" "$f" 2>/dev/null && kill -KILL "$p" 2>/dev/null
        done
        return 0
}

finish() {
        if [ "$FAILURES" -ne 0 ]; then
                log "$FAILURES check(s) failed"
                exit 1
        fi
        log "all checks passed"
}

# --- timed commands and per-program rows (for the command contract tests) ---
# Runs `sockvisorctl -s $CTL ARGS...` killed by timeout(1) after LIMIT s (a hung client
# never outlives the test) and writes OUT: "first SECONDS" (when its first output line, or
# its exit, came), "elapsed SECONDS", "rc N" (124/137: killed by the timeout), then the
# output lines (stdout and stderr). Times are from the start of the call.
run_timed() { # OUT LIMIT ARGS...
        local out=$1 limit=$2 t0 first= line rc
        shift 2
        t0=$EPOCHREALTIME
        {
                rc=0 # `|| rc=$?`: the caller may run under set -e
                timeout -k 1 "$limit" "$SOCKVISORCTL" -s "$CTL" "$@" 2>&1 </dev/null || rc=$?
                echo "@@rc $rc"
        } | while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$out.raw"
        awk -v t0="$t0" 'NR == 1 { printf "first %.3f\n", $1 - t0 }
                $2 == "@@rc" { printf "elapsed %.3f\nrc %s\n", $1 - t0, $3 }' "$out.raw" >"$out.tmp"
        awk '$2 != "@@rc" { $1 = ""; print substr($0, 2) }' "$out.raw" >>"$out.tmp"
        rm -f "$out.raw"
        mv "$out.tmp" "$out" # whole: a poller sees all of it or nothing
}
# The rows of one program's instances from a status dump ("NAME STATE PID GEN" lines as
# status_rows prints them): NAME, NAME:K, "NAME (new)" and "NAME:K (new)".
prog_rows() { # STATUSFILE NAME
        awk -v n="$2" '{ b = $1; sub(/_\(new\)$/, "", b); sub(/:[0-9]+$/, "", b) } b == n' "$1" 2>/dev/null
}
# Pids of live processes whose command line contains STRING (ours have $T in it).
procs_with() { # STRING
        local f p
        for f in /proc/[0-9]*/cmdline; do
                p=${f#/proc/}
                p=${p%/cmdline}
                [ "$p" != $$ ] && [ "$p" != "$BASHPID" ] && grep -qaF -- "$1" "$f" 2>/dev/null &&
                        [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ] && echo "$p"
        done
        return 0
}

# --- servers that take the held socket themselves (the fd dialects) ---
# Every process of PROGRAM (its master and the master's children) holds INODE, the only
# listener on $PORT has that inode, and none of them listens on a socket of its own.
check_inherited() { # PROGRAM LABEL WHEN INODE
        local prog=$1 label=$2 when=$3 inode=$4 master pids pid held own listening n=0
        master=$(ctl pid "$prog")
        pids="$master $(ps -o pid= --ppid "$master" | tr '\n' ' ')"
        listening=$(ss -ltnHe | sed -n 's/.* ino:\([0-9]*\) .*/\1/p')
        [ "$(ss -ltnHe "sport = :$PORT" | sed -n 's/.* ino:\([0-9]*\) .*/\1/p')" = "$inode" ] &&
                pass "$when: the only listener on port $PORT is sockvisord's socket (inode $inode)" ||
                fail "$when: listeners on $PORT: $(ss -ltnHe "sport = :$PORT")"
        for pid in $pids; do
                held=$(ls -l "/proc/$pid/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p')
                if grep -qx "$inode" <<<"$held"; then n=$((n + 1)); else fail "$when: process $pid does not hold $inode"; fi
                for own in $held; do
                        if [ "$own" != "$inode" ] && grep -qx "$own" <<<"$listening"; then
                                fail "$when: process $pid listens on a socket of its own: $(ss -ltnHe | grep "ino:$own ")"
                        fi
                done
        done
        [ "$n" -ge 3 ] && pass "$when: master and workers ($n processes) hold inode $inode and listen on nothing else" ||
                fail "$when: only $n $label processes hold the socket (pids $pids)"
}

# Restarts PROGRAM N times, 0.5 s apart, under the load client (ARGS: its options besides
# -p $PORT, -d and -r), then stops the load. Every restart must give PROGRAM new pids, none
# seen before. Sets RESTARTS_OK, LOAD_RC, LOAD_SUMMARY and LAST_PIDS (after the last
# restart), and load_field reads a figure from the summary.
restarts_under_load() { # PROGRAM N ARGS...
        local prog=$1 n=$2 i p before seen=""
        shift 2
        rm -f "$T/stop-load"
        "$LOADCLIENT" -p "$PORT" "$@" -d 120 -r "$T/stop-load" >"$T/load.out" 2>"$T/load.err" &
        local lpid=$!
        STARTED_PIDS+=("$lpid")
        sleep 0.5
        RESTARTS_OK=0
        LAST_PIDS=$(ctl pid "$prog" | tr '\n' ' ')
        LAST_PIDS=${LAST_PIDS% }
        for i in $(seq 1 "$n"); do
                before=$LAST_PIDS
                seen="$seen $before"
                if ctl restart "$prog" >"$T/restart.$i" 2>&1; then
                        RESTARTS_OK=$((RESTARTS_OK + 1))
                else
                        fail "restart $i exited non-zero: $(cat "$T/restart.$i")"
                fi
                LAST_PIDS=$(ctl pid "$prog" | tr '\n' ' ')
                LAST_PIDS=${LAST_PIDS% }
                for p in $LAST_PIDS; do
                        grep -qw -- "$p" <<<"$seen" && fail "restart $i: pid $p ran before it (pids $before -> $LAST_PIDS)"
                done
                [ -n "$LAST_PIDS" ] || fail "restart $i: no pid after it"
                sleep 0.5
        done
        touch "$T/stop-load"
        LOAD_RC=0
        wait "$lpid" || LOAD_RC=$?
        LOAD_SUMMARY=$(cat "$T/load.out")
        log "load: $LOAD_SUMMARY"
        sed 's/^/    /' "$T/load.err"
}
# A private nginx prefix in DIR serving "pid=N" on 127.0.0.1:PORT with 2 workers.
nginx_conf() { # DIR PORT
        mkdir -p "$1/conf" "$1/logs"
        cat >"$1/conf/nginx.conf" <<CONF
worker_processes 2;
pid $1/nginx.pid;
error_log $1/logs/error.log notice;
events { worker_connections 1024; }
http {
        access_log off;
        server {
                listen 127.0.0.1:$2;
                location / { return 200 "pid=\$pid\n"; }
        }
}
CONF
}
load_field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$LOAD_SUMMARY"; } # KEY
# The last load run (LOAD_RC, LOAD_SUMMARY) failed no request: a pass or a fail naming LABEL.
load_ok() { # LABEL
        local failed
        failed=$(load_field failed)
        [ "$LOAD_RC" -eq 0 ] && [ "${failed:-x}" = 0 ] && pass "$1: 0 failed requests: $LOAD_SUMMARY" ||
                fail "$1: requests failed (rc $LOAD_RC): $LOAD_SUMMARY $(head -3 "$T/load.err" 2>/dev/null)"
}
# $T/sockvisor.ini: the control socket, [socket:web] on 127.0.0.1:$PORT and [program:app]
# running COMMAND on it, with KEY = value LINES besides command= and sockets=.
app_config() { # COMMAND LINES
        cat >"$T/sockvisor.ini" <<INI
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT

[program:app]
command = $1
sockets = web
$2
INI
}
