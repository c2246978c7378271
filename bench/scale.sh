#!/bin/bash
# Scale: N programs (default 10,000) in one config, each `sleep 3600` (or CMD) with one shared
# listening socket on 127.0.0.1 passed to every worker (the daemon's cost is what is
# measured, not a server's; SV_SOCKETS_MAX is 256, so not a socket each). Prints the time
# from the daemon's start until all N are RUNNING, the latency of `sockvisorctl status`
# for one program and for all (median of 9 and 5 runs; the client's own start included),
# the daemon's context switches over 10 s idle (its wakeups: every thread counted), its
# RSS and its fd count. First, as spawn_floor_ms, the floor under the start-up figure: N
# copies of the same command started by a bare posix_spawnp loop (bench/spawn_floor.c) on
# the same machine in the same run. Bounded: MAX_S seconds (default 300) for the start-up,
# then it kills the daemon it started, by pid.
#
#   [CMD='sleep 3600'] bench/scale.sh BUILD_DIR [N]
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
running_count() { grep -c ': STARTING -> RUNNING' "$T/daemon.log" || true; }
. "$(dirname "$0")/lib.sh"

PORT=$("$B/tests/sv-freeport")
{
        printf '[sockvisord]\ncontrol = %s\n\n[socket:web]\nlisten = tcp://127.0.0.1:%s\n\n' "$T/ctl.sock" "$PORT"
        for i in $(seq 1 "$N"); do
                printf '[program:p%d]\ncommand = %s\nsockets = web\n\n' "$i" "${CMD:-sleep 3600}"
        done
} >"$T/scale.ini"

cc -std=c17 -O2 -o "$T/spawn_floor" "$(dirname "$0")/spawn_floor.c"
read -r -a CMD_ARGV <<<"${CMD:-sleep 3600}"
echo "spawn_floor_ms $("$T/spawn_floor" "$N" "${CMD_ARGV[@]}")"

t0=$(ms_now)
"$B/sockvisord" -c "$T/scale.ini" >"$T/daemon.log" 2>&1 &
DAEMON=$!
wait_all_running "$DAEMON" "$t0" 0.1 "$T/daemon.log"
measure_idle "$DAEMON"
