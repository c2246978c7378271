#!/bin/bash
# The same measure as bench/scale.sh, for supervisord: N programs (default 10,000), each
# `sleep 3600`, in one config; prints the time from supervisord's start until all N are
# RUNNING, `supervisorctl status` of one program and of all (median of 9 and 5 runs, the
# client's start included), its context switches over 10 s idle, its RSS and fd count.
# supervisord is Debian's package, unpacked into a temp dir (apt-get download + dpkg -x:
# nothing installed, no system-wide supervisord started). It keeps two pipes per child, so
# its fd limit is raised to 4 N + 1,024 (root may raise the hard limit). Bounded: MAX_S
# seconds (default 600) for the start-up; kills what it started, by pid.
#
#   bench/scale_supervisord.sh BUILD_DIR [N]      (BUILD_DIR: for sv-freeport only)
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [N]" >&2; exit 2; }
N=${2:-10000}
MAX_S=${MAX_S:-600}
PY=/usr/bin/python3

T=$(mktemp -d /tmp/sv-scale-sup.XXXXXX)
SUP=
cleanup() {
        if [ -n "$SUP" ] && kill -TERM "$SUP" 2>/dev/null; then
                for _ in $(seq 1 600); do kill -0 "$SUP" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$SUP" 2>/dev/null || true
        fi
        rm -rf "$T"
}
trap cleanup EXIT

(cd "$T" && apt-get download supervisor >/dev/null 2>&1) || { echo "cannot download Debian's supervisor package" >&2; exit 1; }
dpkg -x "$T"/supervisor_*.deb "$T/pkg"
export PYTHONPATH=$T/pkg/usr/lib/python3/dist-packages
$PY -c 'import supervisor' 2>/dev/null || { echo "supervisor does not import with $PY" >&2; exit 1; }
version=$($PY -c 'from supervisor.options import VERSION; print(VERSION)' 2>/dev/null || echo '?')

mkdir -p "$T/logs"
{
        printf '[unix_http_server]\nfile = %s\n\n' "$T/sup.sock"
        printf '[supervisord]\nnodaemon = true\nlogfile = %s\npidfile = %s\nchildlogdir = %s\nminfds = %d\n\n' \
                "$T/sup.log" "$T/sup.pid" "$T/logs" $((4 * N + 1024))
        printf '[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n'
        printf '[supervisorctl]\nserverurl = unix://%s\n\n' "$T/sup.sock"
        for i in $(seq 1 "$N"); do
                printf '[program:p%d]\ncommand = sleep 3600\nstdout_logfile = NONE\nstderr_logfile = NONE\n\n' "$i"
        done
} >"$T/sup.conf"

ctl() { timeout 120 $PY -m supervisor.supervisorctl -c "$T/sup.conf" "$@"; }
ms_now() { date +%s%3N; }
median_ms() { # RUNS ARGS...
        local runs=$1 k t0 t1
        shift
        for k in $(seq 1 "$runs"); do
                t0=$(date +%s%N)
                ctl "$@" >/dev/null || true # exit 3 when a program is not RUNNING
                t1=$(date +%s%N)
                echo $(((t1 - t0) / 1000))
        done | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] / 1000 }'
}
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'; }

t0=$(ms_now)
(ulimit -n $((4 * N + 1024)) && exec $PY -m supervisor.supervisord -c "$T/sup.conf") >"$T/out.log" 2>&1 &
SUP=$!
running=0
while [ $(($(ms_now) - t0)) -lt $((MAX_S * 1000)) ]; do
        kill -0 "$SUP" 2>/dev/null || { tail -n 5 "$T/out.log" "$T/sup.log" >&2; exit 1; }
        running=$(ctl status 2>/dev/null | awk '$2 == "RUNNING"' | wc -l || true)
        [ "$running" -ge "$N" ] && break
        sleep 1
done
up_ms=$(($(ms_now) - t0))
[ "$running" -ge "$N" ] || echo "only $running of $N RUNNING after $MAX_S s" >&2
one=$(median_ms 9 status p1)
all=$(median_ms 5 status)
sleep 1
s0=$(switches "$SUP")
sleep 10
s1=$(switches "$SUP")
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$SUP/status")
fds=$(ls "/proc/$SUP/fd" | wc -l)
printf 'supervisord %s\nprograms %s\nrunning %s\nall_running_ms %s\nstatus_one_ms %s\nstatus_all_ms %s\n' \
        "$version" "$N" "$running" "$up_ms" "$one" "$all"
printf 'idle_wakeups_10s %s\nrss_kb %s\nfds %s\n' "$((s1 - s0))" "$rss" "$fds"
