#!/bin/bash
# Soak: N sequential `sockvisorctl restart app` (default 10,000) while a load client keeps
# 16 connections busy on the program's held socket (127.0.0.1 only). Prints the restarts
# that exited 0, the load client's summary (requests, failed, longest gap), the daemon's
# fds and RSS at the start, after the first 1% of restarts and at the end, and the zombies
# left. Bounded: it stops after N restarts or MAX_S seconds (default 900), whichever is
# first, and kills what it started by pid.
#
#   bench/soak.sh BUILD_DIR [N]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [N]" >&2; exit 64; }
B=$(cd "$1" && pwd)
N=${2:-10000}
MAX_S=${MAX_S:-900}

T=$(mktemp -d /tmp/sv-soak.XXXXXX)
DAEMON= LOAD=
cleanup() {
        [ -n "$LOAD" ] && kill -KILL "$LOAD" 2>/dev/null || true
        [ -n "$DAEMON" ] && kill -KILL "$DAEMON" 2>/dev/null || true
        rm -rf "$T"
}
trap cleanup EXIT

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
zombies() { # children of PID in state Z
        local n=0 c
        for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
                [ "$(awk '{ print $3 }' "/proc/$c/stat" 2>/dev/null)" = Z ] && n=$((n + 1))
        done
        echo $n
}

port=$("$B/tests/sv-freeport")
ctl=$T/ctl.sock
printf '%s\n' "[sockvisord]" "control = $ctl" "[socket:web]" "listen = tcp://127.0.0.1:$port" \
        "[program:app]" "command = $B/sockvisor-demo" "sockets = web" "ready = notify" \
        "ready_timeout = 10s" "stopwaitsecs = 5" >"$T/soak.ini"
"$B/sockvisord" -c "$T/soak.ini" >"$T/daemon.log" 2>&1 &
DAEMON=$!
for _ in $(seq 1 100); do
        "$B/sockvisorctl" -s "$ctl" status app 2>/dev/null | grep -q RUNNING && break
        sleep 0.1
done
"$B/tests/sv-loadclient" -p "$port" -c 16 -d "$MAX_S" -r "$T/stop" >"$T/load.out" 2>&1 &
LOAD=$!
sleep 0.5
f0=$(fds "$DAEMON") r0=$(rss "$DAEMON")
f1=$f0 r1=$r0
ok=0 done_n=0 early=$((N / 100 > 0 ? N / 100 : 1))
start=$(date +%s)
while [ "$done_n" -lt "$N" ] && [ $(($(date +%s) - start)) -lt "$MAX_S" ]; do
        "$B/sockvisorctl" -s "$ctl" restart app >/dev/null 2>>"$T/restart.err" && ok=$((ok + 1))
        done_n=$((done_n + 1))
        [ "$done_n" -eq "$early" ] && f1=$(fds "$DAEMON") r1=$(rss "$DAEMON")
done
elapsed=$(($(date +%s) - start))
touch "$T/stop"
wait "$LOAD" || true
LOAD=
f2=$(fds "$DAEMON") r2=$(rss "$DAEMON") z=$(zombies "$DAEMON")
echo "restarts: $ok of $done_n exited 0 in ${elapsed}s (asked for $N)"
echo "load: $(cat "$T/load.out")"
echo "daemon fds: $f0 at start, $f1 after $early restarts, $f2 at the end"
echo "daemon RSS kB: $r0 at start, $r1 after $early restarts, $r2 at the end"
echo "zombies: $z"
if [ -s "$T/restart.err" ]; then
        echo "first restart errors:"
        head -5 "$T/restart.err"
fi
kill -TERM "$DAEMON"
wait "$DAEMON" || true
DAEMON=
