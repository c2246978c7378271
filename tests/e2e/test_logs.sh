#!/bin/bash
# Program logs: stdout_logfile= and friends. Real workers write numbered lines; sockvisord
# captures them through a pipe per program and stream, writes and rotates the files.
#   1. rotation at maxbytes keeps exactly `backups` files, and every line is in them once,
#      in order, across a worker restart too;
#   2. `tail -f`, started before a restart and rotations, sees every line written after;
#   3. an upgrade of sockvisord in the middle of fast output loses no line;
#   4. a worker writing faster than the "disk" (a FIFO nobody reads) is never blocked: it
#      keeps writing and answering, status counts the dropped bytes, the loop answers;
#   5. a symlink at the log path is refused with an error that says so;
#   6. output = journal: tail says so and gives the journalctl command.
. "$(dirname "$0")/lib.sh"

PORT=$("$FREEPORT")
# A worker: N numbered lines ("g<generation> <seq> xxx"), DELAY s apart (0: as fast as it
# can), "g<gen> DONE", then it stays, answering HTTP on its socket (fd 3) when it has one.
# Every 1000 lines it writes its count to PROGRESS, if given.
cat >"$T/writer.py" <<'PY'
import os, sys, time, socket, threading
gen = os.environ.get("SOCKVISOR_GENERATION", "?")
n, delay = int(sys.argv[1]), float(sys.argv[2])
progress = sys.argv[3] if len(sys.argv) > 3 else None
if os.environ.get("LISTEN_FDS"):
    def serve():
        s = socket.socket(fileno=3)
        while True:
            c, _ = s.accept()
            c.recv(1024)
            c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
            c.close()
    threading.Thread(target=serve, daemon=True).start()
i = 0
while n == 0 or i < n:
    i += 1
    os.write(1, ("g%s %07d %s\n" % (gen, i, "x" * 30)).encode())
    if progress and i % 1000 == 0:
        with open(progress + ".tmp", "w") as f:
            f.write("%d\n" % i)
        os.rename(progress + ".tmp", progress)
    if delay:
        time.sleep(delay)
os.write(1, ("g%s DONE\n" % gen).encode())
while True:
    time.sleep(1)
PY

ln -s "$T/target" "$T/sym.log"
mkfifo "$T/fifo"
exec 9<>"$T/fifo" # exists with a reader that never reads: writes block once it is full

cat >"$T/sockvisor.ini" <<INI
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT

[program:rot]
command = python3 $T/writer.py 1500 0
stdout_logfile = $T/rot.log
stdout_logfile_maxbytes = 16KB
stdout_logfile_backups = 3
stderr_logfile = NONE
startsecs = 200ms

[program:follow]
command = python3 $T/writer.py 0 0.005
stdout_logfile = $T/follow.log
stdout_logfile_maxbytes = 8KB
stdout_logfile_backups = 2
redirect_stderr = true
startsecs = 200ms

[program:up]
command = python3 $T/writer.py 60000 0.00005
stdout_logfile = $T/up.log
stdout_logfile_maxbytes = 0
autostart = false
startsecs = 200ms

[program:slow]
command = python3 $T/writer.py 0 0 $T/slow.progress
sockets = web
stdout_logfile = $T/fifo
autostart = false
startsecs = 200ms

[program:sym]
command = python3 $T/writer.py 10 0
stdout_logfile = $T/sym.log
autostart = false

[program:jour]
command = python3 $T/writer.py 10 0
output = journal
autostart = false
INI
"$SOCKVISORD" -t -c "$T/sockvisor.ini" >/dev/null || die "the config does not check"
start_daemon "$T/sockvisor.ini"
wait_state rot 10 RUNNING || die "rot not RUNNING: $STATE"
wait_state follow 10 RUNNING || die "follow not RUNNING: $STATE"

# The lines of FILES (oldest first) are "g<G> <seq>" for seq = FROM..TO of one generation,
# each once, in order: prints "ok", or what is wrong.
seq_check() { # GEN FROM TO FILES...
        local g=$1 from=$2 to=$3
        shift 3
        cat "$@" | awk -v g="g$g" -v from="$from" -v to="$to" '
                $1 != g { next }
                $2 == "DONE" { next }
                { n = $2 + 0; if (n != from + seen) { printf "line %d: seq %d where %d was due\n", NR, n, from + seen; bad = 1; exit } seen++ }
                END { if (!bad && from + seen - 1 != to) printf "%d lines of %s, want %d (%d..%d)\n", seen, g, to - from + 1, from, to; else if (!bad) print "ok" }'
}

# --- 1. rotation ---
for _ in $(seq 1 100); do grep -q "g1 DONE" "$T/rot.log" 2>/dev/null && break; sleep 0.1; done
grep -q "g1 DONE" "$T/rot.log" || fail "rotation: rot's last line never reached rot.log"
files=$(cd "$T" && ls rot.log* | sort | tr '\n' ' ')
[ "$files" = "rot.log rot.log.1 rot.log.2 rot.log.3 " ] && pass "rotation: exactly 3 backups ($files)" ||
        fail "rotation: files are '$files', want rot.log rot.log.1 rot.log.2 rot.log.3"
# every rotated file reached maxbytes (16384) and was cut at the end of the line that did
sizes_ok=yes
for f in rot.log.1 rot.log.2 rot.log.3; do
        s=$(stat -c %s "$T/$f")
        { [ "$s" -ge 16384 ] && [ "$s" -lt $((16384 + 42)) ] && [ "$(tail -c 1 "$T/$f" | od -An -c | tr -d ' ')" = '\n' ]; } ||
                sizes_ok="$f is $s bytes"
done
[ "$sizes_ok" = yes ] && pass "rotation: each rotated file holds 16KB, cut after a whole line" || fail "rotation: $sizes_ok"
# 1500 lines of 42 bytes: 63000 bytes, 3 rotations of 16KB: all of them are still there
r=$(seq_check 1 1 1500 "$T/rot.log.3" "$T/rot.log.2" "$T/rot.log.1" "$T/rot.log")
[ "$r" = ok ] && pass "rotation: lines 1..1500 are in rot.log.3 .. rot.log once each, in order" || fail "rotation: $r"
# a restart: generation 2 writes into the same pipe and file; the oldest backups go
ctl restart rot >/dev/null || fail "rotation: restart rot failed"
for _ in $(seq 1 100); do grep -q "g2 DONE" "$T/rot.log" 2>/dev/null && break; sleep 0.1; done
files=$(cd "$T" && ls rot.log* | sort | tr '\n' ' ')
# 63000 more bytes: the files (4 x 16KB) keep the newest; from the oldest kept line of
# generation 2 to its last, none is missing or repeated
# (awk reads the files itself: `cat | awk '...exit'` dies of SIGPIPE under pipefail)
first=$(awk '$1 == "g2" { print $2 + 0; exit }' "$T/rot.log.3" "$T/rot.log.2" "$T/rot.log.1" "$T/rot.log")
r=$(seq_check 2 "${first:-1}" 1500 "$T/rot.log.3" "$T/rot.log.2" "$T/rot.log.1" "$T/rot.log")
[ "$files" = "rot.log rot.log.1 rot.log.2 rot.log.3 " ] && [ "$r" = ok ] && [ "${first:-9999}" -lt 100 ] &&
        pass "rotation: after a restart, still 3 backups; generation 2's lines $first..1500 there once, in order" ||
        fail "rotation after a restart: files '$files'; from ${first:-none}: $r"

# --- 2. tail -f across a restart and rotations ---
"$SOCKVISORCTL" -s "$CTL" tail -f -n 0 follow >"$T/tail.out" 2>"$T/tail.err" &
TAIL_PID=$!
track "$TAIL_PID"
sleep 0.5
head -1 "$T/tail.out" | grep -qF "==> $T/follow.log <==" && pass "tail -f: says what it follows" ||
        fail "tail -f: first line is '$(head -1 "$T/tail.out")'"
ctl restart follow >/dev/null || fail "tail -f: restart follow failed"
# up to 200 lines/s of 42 bytes, 8KB files: wait (bounded) for two rotations after the restart
rm -f "$T/follow.log.1" "$T/follow.log.2"
for _ in $(seq 1 150); do [ -e "$T/follow.log.2" ] && break; sleep 0.1; done
# two rotations are 390 lines of generation 2 written: let tail catch up with them (bounded;
# on a loaded machine it may be a second behind)
g2_last() { { grep '^g2 ' "$T/tail.out" || true; } | tail -1 | awk '{ print $2 + 0 }'; }
for _ in $(seq 1 100); do [ "$(g2_last)" -gt 390 ] && break; sleep 0.1; done
kill "$TAIL_PID" 2>/dev/null || true
wait "$TAIL_PID" 2>/dev/null || true
[ -e "$T/follow.log.2" ] && pass "tail -f: follow.log rotated at least twice meanwhile" ||
        fail "tail -f: follow.log did not rotate twice within 15 s"
# tail saw generation 2 from its first line up to its last, each line once, across rotations
last=$(g2_last)
r=$(seq_check 2 1 "${last:-0}" "$T/tail.out")
[ "${last:-0}" -gt 390 ] && [ "$r" = ok ] &&
        pass "tail -f: every line of generation 2 (1..$last) once, in order, across the rotations" ||
        fail "tail -f: generation 2 up to ${last:-none}: $r"

# --- 3. an upgrade in the middle of output ---
ctl start up >/dev/null || fail "upgrade: start up failed"
sleep 0.5
ctl upgrade >"$T/upgrade.out" 2>&1 || fail "upgrade failed: $(cat "$T/upgrade.out")"
for _ in $(seq 1 300); do grep -q "g1 DONE" "$T/up.log" 2>/dev/null && break; sleep 0.1; done
r=$(seq_check 1 1 60000 "$T/up.log")
grep -q "upgraded sockvisord" "$T/upgrade.out" && [ "$r" = ok ] &&
        pass "upgrade: lines 1..60000, written across the upgrade, all in up.log once, in order" ||
        fail "upgrade: $r ($(tail -1 "$T/upgrade.out"))"
wait_state follow 5 RUNNING && grep -q . "$T/follow.log" && pass "upgrade: capture goes on in the next image" ||
        fail "upgrade: follow is $STATE"

# --- 4. a writer faster than the disk ---
ctl start slow >/dev/null || fail "slow: start slow failed"
sleep 2 # the FIFO fills (64KB), then the 1 MiB buffer, then bytes are dropped
p1=$(cat "$T/slow.progress" 2>/dev/null || echo 0)
sleep 1
p2=$(cat "$T/slow.progress" 2>/dev/null || echo 0)
[ "$p2" -gt "$p1" ] && [ "$p1" -gt 30000 ] && pass "slow: the worker is not blocked ($p1 then $p2 lines, far more than the FIFO holds)" ||
        fail "slow: the worker's progress: $p1 then $p2 lines"
[ "$(http_get "$PORT" / 2>/dev/null)" = ok ] && pass "slow: the worker answers" || fail "slow: the worker does not answer"
t0=$(ms_now)
ctl status slow >"$T/status.slow" 2>&1 || fail "slow: status failed"
t1=$(ms_now)
dropped=$(awk '/dropped [0-9]+ bytes of output/ { for (i = 1; i <= NF; i++) if ($i == "dropped") print $(i + 1) }' "$T/status.slow")
[ "${dropped:-0}" -gt 1000000 ] && [ $((t1 - t0)) -lt 2000 ] &&
        pass "slow: status answers in $((t1 - t0)) ms and shows 'dropped $dropped bytes of output'" ||
        fail "slow: status ($((t1 - t0)) ms): $(cat "$T/status.slow")"
ctl stop slow >/dev/null || fail "slow: stop slow failed"

# --- 5. a symlink at the log path ---
out=$(ctl start sym 2>&1) && fail "symlink: start sym succeeded" || true
echo "$out" | grep -q "cannot open stdout_logfile $T/sym.log: it is a symbolic link" &&
        pass "symlink: refused: $(echo "$out" | grep -o "cannot open stdout_logfile.*symbolic link" | head -1)" ||
        fail "symlink: start sym said: $out"
[ ! -e "$T/target" ] && pass "symlink: its target was not created" || fail "symlink: $T/target exists"

# --- 6. output = journal ---
out=$(ctl tail jour 2>&1) && fail "journal: tail jour succeeded" || true
echo "$out" | grep -q "output = journal.*journalctl -t jour -n 10" && pass "journal: tail says: $out" ||
        fail "journal: tail jour said: $out"
out=$(ctl tail nosuch 2>&1) || true
echo "$out" | grep -q "no program or group 'nosuch'; known: rot, follow" && pass "tail: an unknown name is named" ||
        fail "tail nosuch said: $out"

# --- 7. logs: every program's files, prefixed ---
timeout 1 "$SOCKVISORCTL" -s "$CTL" logs -n 2 >"$T/logs.out" 2>"$T/logs.err" || true
grep -q '^rot | g2 DONE' "$T/logs.out" && grep -q '^follow | g2 ' "$T/logs.out" &&
        pass "logs: lines prefixed with their program" || fail "logs: $(head -5 "$T/logs.out")"

t0=$(ms_now)
stop_daemon
exec 9<&-
[ "$DAEMON_RC" = 0 ] && pass "shutdown in $(($(ms_now) - t0)) ms, status 0" || fail "shutdown: status $DAEMON_RC"
finish
