#!/bin/bash
# The cost of a restart: N sequential `sockvisorctl restart app` of one program on one held
# socket, each waited for, under no load. Prints the total, the per-restart median and
# p99, and the daemon's fds, RSS and CPU before and after, so that two builds can be
# compared in one run on this noisy machine:
#
#   bench/restart_cost.sh BUILD_DIR [N] [BUILD_DIR_2 ...]
#
# Each build gets its own daemon on its own port (127.0.0.1 only); they run one after the
# other, then once more in reverse order, and both rounds are printed.
set -euo pipefail
usage() { echo "usage: $0 BUILD_DIR [N] [BUILD_DIR ...]" >&2; exit 64; }
[ $# -ge 1 ] || usage
builds=("$1")
shift
N=1000
if [ $# -ge 1 ] && [[ $1 =~ ^[0-9]+$ ]]; then
        N=$1
        shift
fi
builds+=("$@")

T=$(mktemp -d /tmp/sv-restart-cost.XXXXXX)
DAEMON=
cleanup() {
        [ -n "$DAEMON" ] && kill -KILL "$DAEMON" 2>/dev/null || true
        rm -rf "$T"
}
trap cleanup EXIT

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }

run_one() { # BUILD
        local b=$1 port ctl cfg
        b=$(cd "$b" && pwd)
        port=$("$b/tests/sv-freeport")
        ctl=$T/ctl.sock
        cfg=$T/bench.ini
        cat >"$cfg" <<EOF
[sockvisord]
control = $ctl
[socket:web]
listen = tcp://127.0.0.1:$port
[program:app]
command = $b/sockvisor-demo
sockets = web
ready = notify
ready_timeout = 10s
stopwaitsecs = 5
EOF
        "$b/sockvisord" -c "$cfg" >"$T/daemon.log" 2>&1 &
        DAEMON=$!
        for _ in $(seq 1 100); do
                "$b/sockvisorctl" -s "$ctl" status app 2>/dev/null | grep -q RUNNING && break
                sleep 0.1
        done
        local f0 r0 c0 t0 t1
        f0=$(fds "$DAEMON") r0=$(rss "$DAEMON") c0=$(ticks "$DAEMON")
        : >"$T/times"
        t0=$(date +%s%N)
        for _ in $(seq 1 "$N"); do
                local s e
                s=$(date +%s%N)
                "$b/sockvisorctl" -s "$ctl" restart app >/dev/null
                e=$(date +%s%N)
                echo $(((e - s) / 1000)) >>"$T/times"
        done
        t1=$(date +%s%N)
        local f1 r1 c1
        f1=$(fds "$DAEMON") r1=$(rss "$DAEMON") c1=$(ticks "$DAEMON")
        kill -TERM "$DAEMON"
        wait "$DAEMON" || true
        DAEMON=
        sort -n "$T/times" >"$T/sorted"
        local med p99
        med=$(awk -v n="$N" 'NR == int((n + 1) / 2) { print }' "$T/sorted")
        p99=$(awk -v n="$N" 'NR == int(n * 0.99 + 0.5) { print }' "$T/sorted")
        awk -v b="$b" -v n="$N" -v ns=$((t1 - t0)) -v med="$med" -v p99="$p99" -v f0="$f0" -v f1="$f1" \
                -v r0="$r0" -v r1="$r1" -v cpu=$((c1 - c0)) 'BEGIN {
                printf "%-40s %6d restarts in %7.2f s  median %6.2f ms  p99 %6.2f ms  fds %d -> %d  RSS %d -> %d kB  CPU %d ticks\n",
                        b, n, ns / 1e9, med / 1000, p99 / 1000, f0, f1, r0, r1, cpu }'
}

for b in "${builds[@]}"; do run_one "$b"; done
if [ ${#builds[@]} -gt 1 ]; then
        echo "(reverse order)"
        for ((k = ${#builds[@]} - 1; k >= 0; k--)); do run_one "${builds[$k]}"; done
fi
