#!/bin/bash
# The same measure as bench/scale.sh, for supervisord: N programs (default 10,000), each
# `sleep 3600`, in one config; prints the time from supervisord's start until all N are
# RUNNING, `supervisorctl status` of one program and of all (median of 9 and 5 runs, the
# client's start included), its context switches over 10 s idle, its RSS and fd count.
# supervisord is Debian's package, unpacked into a temp dir (apt-get download + dpkg -x:
# nothing installed, no system-wide supervisord started). It keeps two pipes per child, so
# it gets 4 N + 1,024 fds (minfds=, and the soft limit raised to that); when the hard limit
# is lower (20,000 on these machines, and raising it needs CAP_SYS_RESOURCE), the script says
# so and stops: supervisord cannot run N programs there. Bounded: MAX_S seconds (default
# 600) for the start-up; kills what it started, by pid.
#
#   bench/scale_supervisord.sh BUILD_DIR [N]      (BUILD_DIR: for sv-freeport only)
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [N]" >&2; exit 2; }
N=${2:-10000}
MAX_S=${MAX_S:-600}
PY=/usr/bin/python3

FDS=$((4 * N + 1024))
HARD=$(ulimit -Hn)
if [ "$HARD" != unlimited ] && [ "$HARD" -lt "$FDS" ]; then
        echo "supervisord keeps 2 pipes per program: $N programs want $FDS fds, the hard limit here is $HARD" \
                "(sockvisord needs 16); try N <= $(((HARD - 1024) / 4))" >&2
        exit 1
fi

T=$(mktemp -d /tmp/sv-scale-sup.XXXXXX)
SUP=
cleanup() {
        local kids=
        if [ -n "$SUP" ] && kids=$(cat /proc/"$SUP"/task/*/children 2>/dev/null) && kill -TERM "$SUP" 2>/dev/null; then
                for _ in $(seq 1 600); do kill -0 "$SUP" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$SUP" 2>/dev/null || true
        fi
        # a supervisord killed before it stopped them leaves its `sleep 3600`s to init: ours, by pid
        for p in $kids; do
                [ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "sleep 3600 " ] && kill -KILL "$p" 2>/dev/null
        done
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
                "$T/sup.log" "$T/sup.pid" "$T/logs" "$FDS"
        printf '[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n'
        printf '[supervisorctl]\nserverurl = unix://%s\n\n' "$T/sup.sock"
        for i in $(seq 1 "$N"); do
                printf '[program:p%d]\ncommand = sleep 3600\nstdout_logfile = NONE\nstderr_logfile = NONE\n\n' "$i"
        done
} >"$T/sup.conf"

ctl() { timeout 120 $PY -m supervisor.supervisorctl -c "$T/sup.conf" "$@"; }
running_count() { grep -c 'entered RUNNING state' "$T/sup.log" || true; }
. "$(dirname "$0")/lib.sh"

t0=$(ms_now)
(ulimit -n "$FDS" && exec $PY -m supervisor.supervisord -c "$T/sup.conf") >"$T/out.log" 2>&1 &
SUP=$!
wait_all_running "$SUP" "$t0" 0.1 "$T/out.log" "$T/sup.log"
echo "supervisord $version"
measure_idle "$SUP"
