#!/bin/bash
# The bind-adoption shim (libsockvisor-bind.so) without the daemon: sv-holdexec holds a
# listener as sockvisord will (non-blocking, at fd 3, SOCKVISOR_BIND_FDS=3, the shim in
# LD_PRELOAD) and runs unmodified self-binding servers. Two generations adopt the one held
# socket at once (no EADDRINUSE), both serve, a blocking server never sees EAGAIN, killing
# one leaves the other serving, and python's http.server and node adopt too.
. "$(dirname "$0")/lib.sh"

SHIM=$BUILD/libsockvisor-bind.so
HOLDEXEC=$BUILD/tests/sv-holdexec
SELFBIND=$BUILD/tests/sv-selfbind
[ -f "$SHIM" ] || die "no $SHIM: build the sockvisor-bind target"

ports=($("$FREEPORT" -n 6))
P=${ports[0]} Q=${ports[1]} R=${ports[2]} PY=${ports[3]} NODE=${ports[4]} W=${ports[5]}

# Waits (bounded, 10 s) until FILE has at least N lines matching PATTERN.
wait_lines() { # FILE PATTERN N
        for _ in $(seq 1 100); do
                [ "$(grep -cE -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
                sleep 0.1
        done
        return 1
}
# The inodes of the listeners on PORT, one per line.
listeners() { ss -ltnHe "sport = :$1" | sed -n 's/.* ino:\([0-9]*\) .*/\1/p'; }
# Does PID hold socket inode INODE at some fd? And at fd FD?
holds() { ls -l "/proc/$1/fd" 2>/dev/null | grep -q "socket:\[$2\]$"; }
# Starts sv-holdexec with ARGS; sets HPID, and OUT/ERR are $T/NAME.out/.err.
holdexec() { # NAME ARGS...
        local name=$1
        shift
        "$HOLDEXEC" -s "$SHIM" "$@" >"$T/$name.out" 2>"$T/$name.err" &
        HPID=$!
        STARTED_PIDS+=("$HPID")
}
stop_holdexec() { # PID
        kill -TERM "$1" 2>/dev/null || true
        wait_gone "$1" 10 || { fail "sv-holdexec $1 did not stop within 10 s"; kill -KILL "$1"; }
        wait "$1" 2>/dev/null || true
}

# --- 1. two generations of the classic server on one held socket ---
holdexec gen -n 2 "127.0.0.1:$P" -- "$SELFBIND" "$P"
H=$HPID
wait_lines "$T/gen.err" "adopted held fd 3" 2 || fail "two adoptions not reported: $(cat "$T/gen.err")"
wait_lines "$T/gen.out" "listening on" 2 || true
inode=$(awk '$1 == "inode" { print $2 }' "$T/gen.out")
mapfile -t gpids < <(awk '$1 == "pid" { print $2 }' "$T/gen.out")
sed 's/^/    /' "$T/gen.err"
grep -q "Address already in use" "$T/gen.err" && fail "a generation met EADDRINUSE" ||
        pass "two self-binding servers bound 0.0.0.0:$P at once, no EADDRINUSE"
sleep 0.2 # an idle blocking server sits in accept(): on EAGAIN it would be gone by now
for pid in "${gpids[@]}"; do
        kill -0 "$pid" 2>/dev/null && pass "pid $pid waits in accept() on the idle non-blocking listener" ||
                fail "pid $pid exited while idle: $(grep -h "accept" "$T/gen.err")"
        grep -qx "sockvisor-bind: pid $pid: fd 4: bind(0.0.0.0:$P) adopted held fd 3 (127.0.0.1:$P), blocking view" "$T/gen.err" &&
                pass "pid $pid: one adoption line with its fd, the address it asked for and the held one" ||
                fail "pid $pid: no exact adoption line"
        [ "$(readlink "/proc/$pid/fd/4")" = "socket:[$inode]" ] &&
                pass "pid $pid: its own fd 4 is the held socket (inode $inode)" ||
                fail "pid $pid: fd 4 is $(readlink "/proc/$pid/fd/4"), not socket:[$inode]"
done
[ "$(listeners "$P")" = "$inode" ] && pass "the only listener on $P is the held socket" ||
        fail "listeners on $P: $(ss -ltnHe "sport = :$P")"
backlog=$(ss -ltnH "sport = :$P" | awk '{ print $3 }')
[ "$backlog" = 4096 ] && pass "listen(128) of the programs left the held backlog (4096) alone" ||
        fail "the shared listener's backlog is '$backlog', the holder set 4096: a program's listen() reached it"
nb=$(awk '$1 == "flags:" { print $2 }' "/proc/$H/fdinfo/$(ls -l "/proc/$H/fd" | sed -n "s/.* \([0-9]*\) -> socket:\[$inode\]$/\1/p")" || true)
(( (8#${nb:-0} & 8#4000) != 0 )) && pass "the shared listener stays non-blocking (flags $nb)" ||
        fail "the shared listener is blocking (flags $nb): the test runs the wrong case"

# Load on both: the blocking servers compete on one non-blocking listener, so most wake-ups
# of the loser end in EAGAIN; sv-selfbind exits on any accept error.
"$LOADCLIENT" -p "$P" -c 16 -d 3 >"$T/load1.out" 2>"$T/load1.err" && rc=0 || rc=$?
log "load: $(cat "$T/load1.out")"
[ "$rc" = 0 ] && grep -q " failed=0 " "$T/load1.out" && pass "load on two generations: 0 failed" ||
        fail "load on two generations failed (rc $rc): $(cat "$T/load1.out" "$T/load1.err")"
grep -q " pids=2 " "$T/load1.out" && pass "replies came from both pids" || fail "replies not from both pids"
alive=0
for pid in "${gpids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=$((alive + 1)); done
[ "$alive" = 2 ] && ! grep -q "accept:" "$T/gen.err" &&
        pass "no blocking-view server saw an error from accept (EAGAIN) under load" ||
        fail "a server died or saw an accept error: $(grep accept: "$T/gen.err")"

# Kill one generation: only its copy goes, the other keeps serving on the same socket.
kill -KILL "${gpids[0]}"
wait_lines "$T/gen.out" "^exit ${gpids[0]} " 1 || fail "pid ${gpids[0]} not reaped"
"$LOADCLIENT" -p "$P" -c 8 -d 2 >"$T/load2.out" 2>"$T/load2.err" && rc=0 || rc=$?
log "load: $(cat "$T/load2.out")"
[ "$rc" = 0 ] && grep -q " failed=0 " "$T/load2.out" && grep -q " pids=1 " "$T/load2.out" &&
        pass "after killing ${gpids[0]}, ${gpids[1]} alone serves with 0 failed" ||
        fail "after the kill: rc $rc $(cat "$T/load2.out" "$T/load2.err")"

# A third generation starts while the second serves (a restart): it adopts too.
kill -USR1 "$H"
wait_lines "$T/gen.err" "adopted held fd 3" 3 && pass "a third generation adopted the socket while the second served" ||
        fail "third generation: $(tail -n 3 "$T/gen.err")"
g3=$(awk '$1 == "pid" { p = $2 } END { print p }' "$T/gen.out")
wait_lines "$T/gen.out" "pid $g3 listening" 1 || true
kill -TERM "${gpids[1]}"
"$LOADCLIENT" -p "$P" -c 8 -d 1 >"$T/load3.out" 2>&1 && grep -q " pids=1 " "$T/load3.out" &&
        pass "generation 3 serves alone" || fail "generation 3: $(cat "$T/load3.out")"
holds "$g3" "$inode" && pass "generation 3 holds inode $inode" || fail "generation 3 does not hold inode $inode"
stop_holdexec "$H"

# --- 2. the program's view of the blocking mode ---
holdexec flags -n 1 "127.0.0.1:$W" -- "$SELFBIND" --report-flags "$W"
wait_lines "$T/flags.out" "^flags " 1 || fail "no flags report: $(cat "$T/flags.err")"
grep -qx "flags start=block/nonblock fionbio1=nonblock/nonblock setfl0=block/nonblock setfl1=nonblock/nonblock fionbio0=block/nonblock" "$T/flags.out" &&
        pass "F_GETFL shows the program's view; FIONBIO and F_SETFL change the view, never the shared flag" ||
        fail "view/real flags: $(grep ^flags "$T/flags.out")"
"$LOADCLIENT" -p "$W" -c 4 -d 1 >"$T/load4.out" 2>&1 && pass "it serves after toggling" || fail "after toggling: $(cat "$T/load4.out")"
stop_holdexec "$HPID"

# --- 3. a bind to another port passes through, and nothing is printed ---
holdexec other -n 1 "127.0.0.1:$R" -- "$SELFBIND" "$Q"
wait_lines "$T/other.out" "^pid " 1 || true
opid=$(awk '$1 == "pid" { print $2 }' "$T/other.out")
for _ in $(seq 1 100); do [ -n "$(listeners "$Q")" ] && break; sleep 0.1; done
rinode=$(awk '$1 == "inode" { print $2 }' "$T/other.out")
qinode=$(listeners "$Q")
[ -n "$qinode" ] && [ "$qinode" != "$rinode" ] && holds "$opid" "$qinode" &&
        pass "bind to port $Q (held: $R) passed through: its own socket, inode $qinode" ||
        fail "bind to $Q: listener '$qinode', held $rinode"
grep -q "sockvisor-bind" "$T/other.err" && fail "the shim printed for a bind it did not touch: $(cat "$T/other.err")" ||
        pass "nothing printed for a pass-through bind"
http_get "$Q" | grep -q "pid=$opid" && pass "it serves on its own port $Q" || fail "no reply on $Q"
stop_holdexec "$HPID"

# --- 4. a bind that cannot adopt and meets EADDRINUSE says why ---
holdexec v6 -n 1 "[::]:$R" -- "$SELFBIND" --addr 127.0.0.1 "$R"
wait_lines "$T/v6.out" "^exit " 1 || fail "the IPv4 server on a held [::]:$R port did not exit"
grep -q "sv-selfbind: bind 127.0.0.1:$R: Address already in use" "$T/v6.err" &&
        grep -q "^sockvisor-bind: pid [0-9]*: fd 4: bind(127.0.0.1:$R): Address already in use; held fd 3 (\[::\]:$R) is on that port but was not adopted: the program binds IPv4 and the held socket is IPv6$" "$T/v6.err" &&
        pass "EADDRINUSE on a held port names the held socket and why it did not match" ||
        fail "EADDRINUSE explanation: $(cat "$T/v6.err")"
stop_holdexec "$HPID"

# --- 5. real servers: python's http.server (through pyenv's shell shim, if that is what
# python3 is: the wrapper loads the shim too and must leave the fds alone) and node ---
mkdir -p "$T/www" && echo hello >"$T/www/index.html"
(cd "$T/www" && exec "$HOLDEXEC" -s "$SHIM" -n 1 "127.0.0.1:$PY" -- python3 -m http.server "$PY" --bind 127.0.0.1 \
        >"$T/py.out" 2>"$T/py.err") &
PYH=$!
STARTED_PIDS+=("$PYH")
wait_lines "$T/py.err" "adopted held fd" 1 &&
        grep -q "bind(127.0.0.1:$PY) adopted held fd 3 (127.0.0.1:$PY)" "$T/py.err" &&
        pass "python3 -m http.server --bind 127.0.0.1 adopted the held socket" ||
        fail "python: $(cat "$T/py.err")"
code=
for _ in $(seq 1 50); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PY/index.html" || true)
        [ "$code" = 200 ] && break
        sleep 0.1
done
[ "$code" = 200 ] && [ "$(listeners "$PY")" = "$(awk '$1 == "inode" { print $2 }' "$T/py.out")" ] &&
        pass "python serves 200 on the held socket, the only listener on $PY" || fail "python: http $code, listeners $(listeners "$PY")"
stop_holdexec "$PYH"

if command -v node >/dev/null; then
        holdexec node -n 1 "127.0.0.1:$NODE" -- node -e \
                "require('http').createServer((q, s) => s.end('pid=' + process.pid + '\n')).listen($NODE)"
        wait_lines "$T/node.err" "adopted held fd" 1 &&
                grep -q "bind(\[::\]:$NODE) adopted held fd 3 (127.0.0.1:$NODE), non-blocking view" "$T/node.err" &&
                pass "node's listen($NODE) binds [::] and adopted the IPv4 held socket" || fail "node: $(cat "$T/node.err")"
        "$LOADCLIENT" -p "$NODE" -c 8 -d 1 >"$T/load5.out" 2>&1 && pass "node serves: $(cat "$T/load5.out")" ||
                fail "node under load: $(cat "$T/load5.out")"
        stop_holdexec "$HPID"
else
        log "skip: node is not installed, the [::] bind of a Node server is not tested"
fi

# --- 6. a non-blocking view on a blocking listener (what the daemon must not hand over) warns ---
holdexec warn -b -n 1 "127.0.0.1:$W" -- python3 -c "
import socket, time
s = socket.socket(); s.setblocking(False); s.bind(('127.0.0.1', $W)); time.sleep(30)"
wait_lines "$T/warn.err" "warning: held fd 3 is a blocking listener" 1 &&
        pass "a non-blocking view on a blocking listener is warned about" || fail "no warning: $(cat "$T/warn.err")"
stop_holdexec "$HPID"

finish
