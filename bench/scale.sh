#!/bin/bash
# Scale: N programs (default 10,000) in one config, each `sleep 3600` with one shared
# listening socket on 127.0.0.1 passed to every worker (the daemon's cost is what is
# measured, not a server's; SV_SOCKETS_MAX is 256, so not a socket each). Prints the time
# from the daemon's start until all N are RUNNING, the latency of `sockvisorctl status`
# for one program and for all (median of 9 and 5 runs; the client's own start included),
# the daemon's context switches over 10 s idle (its wakeups: every thread counted), its
# RSS and its fd count. Bounded: MAX_S seconds (default 300) for the start-up, then it
# kills the daemon it started, by pid.
#
#   bench/scale.sh BUILD_DIR [N]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [N]" >&2; exit 64; }
B=$(cd "$1" && pwd)
N=${2:-10000}
MAX_S=${MAX_S:-300}

T=$(mktemp -d /tmp/sv-scale.XXXXXX)
DAEMON=
cleanup() {
        if [ -n "$DAEMON" ] && kill -TERM "$DAEMON" 2>/dev/null; then
                for _ in $(seq 1 300); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$DAEMON" 2>/dev/null || true
        fi
        rm -rf "$T"
}
trap cleanup EXIT

ctl() { "$B/sockvisorctl" -s "$T/ctl.sock" "$@"; }
ms_now() { date +%s%3N; }
median_ms() { # RUNS ARGS...: median wall time of `sockvisorctl ARGS`, in ms (3 decimals)
        local runs=$1 k t0 t1
        shift
        for k in $(seq 1 "$runs"); do
                t0=$(date +%s%N)
                ctl "$@" >/dev/null
                t1=$(date +%s%N)
                echo $(((t1 - t0) / 1000))
        done | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] / 1000 }'
}
switches() { # every thread's voluntary + involuntary context switches
        cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'
}

PORT=$("$B/tests/sv-freeport")
{
        printf '[sockvisord]\ncontrol = %s\n\n[socket:web]\nlisten = tcp://127.0.0.1:%s\n\n' "$T/ctl.sock" "$PORT"
        for i in $(seq 1 "$N"); do
                printf '[program:p%d]\ncommand = sleep 3600\nsockets = web\n\n' "$i"
        done
} >"$T/scale.ini"

t0=$(ms_now)
"$B/sockvisord" -c "$T/scale.ini" >"$T/daemon.log" 2>&1 &
DAEMON=$!
running=0
while [ $(($(ms_now) - t0)) -lt $((MAX_S * 1000)) ]; do
        kill -0 "$DAEMON" 2>/dev/null || { tail -n 5 "$T/daemon.log" >&2; exit 1; }
        running=$(ctl status 2>/dev/null | awk '$2 == "RUNNING"' | wc -l || true)
        [ "$running" -ge "$N" ] && break
        sleep 0.2
done
up_ms=$(($(ms_now) - t0))
[ "$running" -ge "$N" ] || echo "only $running of $N RUNNING after $MAX_S s" >&2
one=$(median_ms 9 status p1)
all=$(median_ms 5 status)
sleep 1
s0=$(switches "$DAEMON")
sleep 10
s1=$(switches "$DAEMON")
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$DAEMON/status")
fds=$(ls "/proc/$DAEMON/fd" | wc -l)
printf 'programs %s\nrunning %s\nall_running_ms %s\nstatus_one_ms %s\nstatus_all_ms %s\n' "$N" "$running" "$up_ms" "$one" "$all"
printf 'idle_wakeups_10s %s\nrss_kb %s\nfds %s\n' "$((s1 - s0))" "$rss" "$fds"
