#!/bin/bash
# Boots the root from build-root.sh with systemd-nspawn (systemd 252 as PID 1), runs one
# test script in it as root once boot has finished, powers off, and exits with the test's
# exit code.
#
#   tests/systemd/run-in-systemd.sh [-t SECS] [-o OUTDIR] [-r ROOT] FILES_DIR TEST_SCRIPT [-- NSPAWN_ARGS...]
#
#   FILES_DIR    copied to /lab/files in the container: the test's cwd and $LAB_FILES
#   TEST_SCRIPT  run as `bash TEST_SCRIPT` under `timeout -k 5 SECS` (default 120)
#   -o OUTDIR    keep output.log, runner.log, journal.log (whole boot), nspawn.log and
#                what the test wrote to $LAB_OUT (/lab/out) in OUTDIR
#   -r ROOT      the root (default $SV_SDROOT, else /var/cache/sockvisor-test/root); built
#                with build-root.sh if missing
#   NSPAWN_ARGS  extra systemd-nspawn options, e.g. --bind-ro=/usr/lib/x86_64-linux-gnu/libasan.so.8
#
# The test's output is printed after the container has powered off. Exit: the test's
# exit code; 124 the test hit -t; 125 the lab itself failed (no boot, no result, watchdog).
#
# Facts this relies on (see /work/shared/notes/real-systemd.md):
# - --register=no --keep-unit: there may be no systemd/machined on the host to register with.
# - SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1: a pure cgroup2 inside, even on a hybrid host.
# - nspawn creates payload/ and supervisor/ under its own cgroup, so each run gets its own
#   parent cgroup (sv-sd-PID in every hierarchy), removed afterwards.
# - --volatile=overlay: the root is a read-only lower layer, writes go to tmpfs: every run
#   starts clean and runs can share one root.
# - --private-network: only lo inside; tests use 127.0.0.1.
# - No /dev/console output with --console=pipe: results come back through /lab.
# - A poweroff that hangs keeps nspawn up forever: a watchdog gives the whole container
#   SECS+60 s, then SIGTERM to nspawn, then 10 s later SIGKILL to its PID 1 and nspawn.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SECS=120
OUTDIR=
ROOT=${SV_SDROOT:-/var/cache/sockvisor-test/root}

say() { printf '[%s] run-in-systemd: %s\n' "$(date +%T.%3N)" "$*" >&2; }
usage() { sed -n '6,17s/^# \{0,1\}//p' "$0" >&2; exit 125; }

while getopts "t:o:r:h" opt; do
        case $opt in
        t) SECS=$OPTARG ;;
        o) OUTDIR=$OPTARG ;;
        r) ROOT=$OPTARG ;;
        *) usage ;;
        esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
FILES=$1
TEST=$2
shift 2
if [ "${1:-}" = "--" ]; then shift; fi
EXTRA=("$@")
[[ "$SECS" =~ ^[0-9]+$ ]] || { say "-t '$SECS': expected seconds"; exit 125; }
[ -d "$FILES" ] || { say "FILES_DIR '$FILES' is not a directory"; exit 125; }
[ -r "$TEST" ] || { say "TEST_SCRIPT '$TEST' not readable"; exit 125; }
[ "$(id -u)" -eq 0 ] || { say "needs root"; exit 125; }
command -v systemd-nspawn >/dev/null ||
        { say "systemd-nspawn missing: apt-get install -y --no-install-recommends systemd-container"; exit 125; }

"$HERE/build-root.sh" "$ROOT" || { say "no root to boot ($ROOT)"; exit 125; }

S=$(mktemp -d /tmp/sockvisor-sd.XXXXXX)
chmod 0755 "$S"
MACHINE=sv-$$
CG=sv-sd-$$
CGDIRS=()
NSPAWN_PID=

mkdir -p "$S/out"
cp -a "$FILES" "$S/files"
cp "$TEST" "$S/test.sh"
cat >"$S/runner" <<EOF
#!/bin/bash
# Written by run-in-systemd.sh; run by lab-runner.service inside the container.
exec >/lab/runner.log 2>&1
echo "runner: boot: \$(timeout 60 systemctl is-system-running --wait 2>&1)"
systemctl --no-pager --failed --no-legend
echo "runner: PID 1: \$(readlink /proc/1/exe), \$(systemctl --version | head -n 1), virt: \$(systemd-detect-virt), cgroup fs: \$(stat -fc %T /sys/fs/cgroup)"
cd /lab/files
export LAB_FILES=/lab/files LAB_OUT=/lab/out
rc=0
timeout -k 5 $SECS bash /lab/test.sh >/lab/output.log 2>&1 </dev/null || rc=\$?
echo "runner: test exited \$rc"
journalctl -b --no-pager -o short-precise >/lab/journal.log 2>&1
echo \$rc >/lab/rc.tmp && mv /lab/rc.tmp /lab/rc
sync
systemctl --no-block poweroff
EOF

# Each hierarchy the container's systemd or nspawn may use: pure v2, or the hybrid's
# unified and name=systemd trees.
cgroup_roots() {
        if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
                echo /sys/fs/cgroup
        else
                local d
                for d in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
                        [ -e "$d/cgroup.procs" ] && echo "$d"
                done
        fi
        return 0
}

cleanup() {
        local d i
        if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
                kill_container
        fi
        for d in "${CGDIRS[@]}"; do
                for i in 1 2 3 4 5 6 7 8 9 10; do
                        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
                        [ -d "$d" ] || break
                        sleep 0.2
                done
                [ -d "$d" ] && say "warning: could not remove cgroup $d"
        done
        rmdir "/run/systemd/nspawn/propagate/$MACHINE" 2>/dev/null
        rm -rf "$S"
        return 0
}

# SIGTERM asks nspawn to halt the container; then SIGKILL to its PID 1 and to nspawn.
kill_container() {
        local leader
        leader=$(pgrep -P "$NSPAWN_PID" | head -n 1)
        kill -TERM "$NSPAWN_PID" 2>/dev/null
        local until=$(($(date +%s) + 10))
        while kill -0 "$NSPAWN_PID" 2>/dev/null && [ "$(date +%s)" -lt "$until" ]; do
                sleep 0.1
        done
        if kill -0 "$NSPAWN_PID" 2>/dev/null; then
                say "nspawn still up 10 s after SIGTERM: SIGKILL to the container's PID 1 ($leader) and nspawn ($NSPAWN_PID)"
                [ -n "$leader" ] && kill -KILL "$leader" 2>/dev/null
                kill -KILL "$NSPAWN_PID" 2>/dev/null
        fi
        wait "$NSPAWN_PID" 2>/dev/null
        NSPAWN_PID=
}
trap cleanup EXIT
trap 'say "interrupted"; exit 125' INT TERM HUP

for r in $(cgroup_roots); do
        mkdir -p "$r/$CG" && CGDIRS+=("$r/$CG")
done

t0=$(date +%s%3N)
(
        for d in "${CGDIRS[@]}"; do echo "$BASHPID" >"$d/cgroup.procs"; done
        SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 exec systemd-nspawn --quiet --boot \
                --directory="$ROOT" --machine="$MACHINE" --register=no --keep-unit \
                --private-network --volatile=overlay --bind="$S:/lab" --console=pipe \
                "${EXTRA[@]}" </dev/null >"$S/nspawn.log" 2>&1
) &
NSPAWN_PID=$!

limit=$((SECS + 60))
deadline=$(($(date +%s) + limit))
while kill -0 "$NSPAWN_PID" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
        sleep 0.1
done
watchdog=0
if kill -0 "$NSPAWN_PID" 2>/dev/null; then
        say "container still up after $limit s: stopping it"
        watchdog=1
        kill_container
fi
nspawn_rc=0
[ -n "$NSPAWN_PID" ] && { wait "$NSPAWN_PID" || nspawn_rc=$?; }
NSPAWN_PID=
elapsed=$(($(date +%s%3N) - t0))

if [ -s "$S/output.log" ]; then cat "$S/output.log"; fi
rc=125
if [ -s "$S/rc" ]; then
        rc=$(cat "$S/rc")
else
        say "no result from the container (nspawn exit $nspawn_rc, watchdog $watchdog); runner and nspawn logs:"
        sed 's/^/    /' "$S/runner.log" "$S/nspawn.log" 2>/dev/null | tail -n 60 >&2
        grep -v 'Attempted to remove disk file system' "$S/nspawn.log" >&2 2>/dev/null
        if [ -s "$S/journal.log" ]; then tail -n 60 "$S/journal.log" | sed 's/^/    /' >&2; fi
fi
[ "$watchdog" = 1 ] && [ "$rc" = 0 ] && rc=125
say "container ran $((elapsed / 1000)).$(printf %03d $((elapsed % 1000))) s (boot, test, poweroff); test exit $rc"

if [ -n "$OUTDIR" ]; then
        mkdir -p "$OUTDIR"
        cp -a "$S/output.log" "$S/runner.log" "$S/journal.log" "$S/nspawn.log" "$OUTDIR/" 2>/dev/null
        cp -a "$S/out/." "$OUTDIR/" 2>/dev/null
fi
exit "$rc"
