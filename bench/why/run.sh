#!/bin/bash
# Benchmark: `sockvisorctl why PORT` against `ss -tanp` and `netstat -tulpn` with about
# 10,000 open loopback sockets. Not part of the test suite.
#   [BASELINE=OTHER_BUILD_DIR] bench/why/run.sh [BUILD_DIR] [SOCKETS] [RUNS]
# Loopback only; the socket holder is bounded (it exits after 10 minutes) and killed on exit.
set -euo pipefail
BUILD=$(cd "${1:-$(dirname "$0")/../../build}" && pwd)
N=${2:-10000}
RUNS=${3:-30}
CTL=$BUILD/sockvisorctl
[ -x "$CTL" ] || { echo "no $CTL: build first (cmake --build build)" >&2; exit 1; }
if ! command -v netstat >/dev/null; then
        echo "installing net-tools for netstat..." >&2
        if [ "$(id -u)" = 0 ]; then apt-get install -y -qq net-tools >/dev/null; else sudo apt-get install -y -qq net-tools >/dev/null; fi
fi

W=$(mktemp -d /tmp/sv-bench-why.XXXXXX)
HOLDER=
cleanup() { [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

cc -O2 -o "$W/mksockets" "$(dirname "$0")/mksockets.c"
PORT=$("$BUILD/tests/sv-freeport" 2>/dev/null || echo 47123)
"$W/mksockets" "$PORT" "$N" 600 "$W/ready" &
HOLDER=$!
for _ in $(seq 1 600); do [ -s "$W/ready" ] && break; sleep 0.1; done
[ -s "$W/ready" ] || { echo "the socket holder did not get ready" >&2; exit 1; }
total=$(ss -tan | tail -n +2 | wc -l)
echo "sockets held by the helper: $(cat "$W/ready"); tcp sockets on the machine: $total; runs per command: $RUNS"

# Median and min wall time of RUNS runs of each command, in ms. The commands take turns
# (one run of each, RUNS times over) so that a busy moment of a shared machine hits all.
NAMES=("sockvisorctl_why_$PORT" "sockvisorctl_why_--json")
CMDS=("$CTL why $PORT" "$CTL why --json $PORT")
if [ -n "${BASELINE:-}" ]; then # BASELINE=OTHER_BUILD_DIR: its sockvisorctl too, e.g. the build before a change
        NAMES+=("baseline_why_$PORT" "baseline_why_--json")
        CMDS+=("$BASELINE/sockvisorctl why $PORT" "$BASELINE/sockvisorctl why --json $PORT")
fi
NAMES+=("ss_-tanp" "netstat_-tulpn")
CMDS+=("ss -tanp" "netstat -tulpn")
for c in "${CMDS[@]}"; do $c >/dev/null 2>&1 || true; done # warm up
for _ in $(seq 1 "$RUNS"); do
        for i in "${!CMDS[@]}"; do
                t0=$(date +%s%N)
                ${CMDS[$i]} >/dev/null 2>&1 || true
                t1=$(date +%s%N)
                echo "$i $(((t1 - t0) / 1000))"
        done
done >"$W/times"
for i in "${!CMDS[@]}"; do
        awk -v i="$i" '$1 == i { print $2 }' "$W/times" | sort -n | awk -v name="${NAMES[$i]}" '{ v[NR] = $1 } END {
                printf "%s %.2f %.2f\n", name, v[int((NR + 1) / 2)] / 1000, v[1] / 1000 }'
done >"$W/results"

why_ms=$(awk 'NR == 1 { print $2 }' "$W/results")
printf '%-28s %10s %10s %16s\n' COMMAND "MEDIAN_MS" "MIN_MS" "VS_WHY(MEDIAN)"
awk -v w="$why_ms" '{ printf "%-28s %10.2f %10.2f %15.1fx\n", $1, $2, $3, $2 / w }' "$W/results" | tr _ ' '
echo
echo "what why said:"
"$CTL" why "$PORT" | head -n 5 | cut -c1-400
