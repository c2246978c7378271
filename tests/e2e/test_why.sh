#!/bin/bash
# The port doctor: each reason for "Address already in use" reproduced for real on
# 127.0.0.1 (or a unix path in $T), and `sockvisorctl why` must name it, its holder and the
# fix: another listener, TIME_WAIT left by a server that closed first (with and without
# SO_REUSEADDR, checked against a real bind), a child still holding an accepted connection,
# a stale unix socket file versus a live one, and sockvisord's own bind failure.
. "$(dirname "$0")/lib.sh"

WHYTOOL=$BUILD/tests/sv-whytool
[ -x "$WHYTOOL" ] || die "$WHYTOOL is missing (tests/CMakeLists.txt: add_executable(sv-whytool tools/whytool.c))"
# Never needs a daemon. Exit 1 says a bind would fail (the cause is printed): what most
# checks here set up, so only 2 and above (usage, a crash) end the script.
why() { local rc=0; "$SOCKVISORCTL" -s "$T/no-daemon.sock" why "$@" || rc=$?; [ "$rc" -le 1 ] || return "$rc"; }

# Starts a holder in the background; waits (bounded) for its ready file; HOLDER = its pid
# (or the pid it wrote, for "child").
hold() { # NAME ARGS...
        local name=$1
        shift
        "$WHYTOOL" -t 60 -o "$T/$name.ready" "$@" &
        STARTED_PIDS+=($!)
        LAST_BG=$!
        wait_for_file "$T/$name.ready" || die "sv-whytool $* did not get ready"
        HOLDER=$(cat "$T/$name.ready")
}
stop() { kill -KILL "$@" 2>/dev/null || true; for p in "$@"; do wait "$p" 2>/dev/null || true; done; }

ports=($("$FREEPORT" -n 9))
P_LISTEN=${ports[0]} P_TW=${ports[1]} P_TWR=${ports[2]} P_CHILD=${ports[3]} P_DAEMON=${ports[4]} P_FREE=${ports[5]}
P_FORK=${ports[6]} P_FORKBIG=${ports[7]} P_LATIN=${ports[8]}

# --- another process listens on the port ---
hold listener listen tcp "$P_LISTEN"
out=$(why "$P_LISTEN")
grep -q "pid $HOLDER (.*sv-whytool .*listen tcp $P_LISTEN)" <<<"$out" && grep -q "fix: stop pid $HOLDER (kill $HOLDER)" <<<"$out" &&
        pass "a listener on the port: named with its pid and command" || fail "listener: $out"
out=$(why "tcp://0.0.0.0:$P_LISTEN")
grep -q "every address" <<<"$out" && grep -q "pid $HOLDER" <<<"$out" &&
        pass "0.0.0.0 against 127.0.0.1: the wildcard conflict is explained" || fail "wildcard: $out"
out=$(why --json "tcp://127.0.0.1:$P_LISTEN")
grep -q "\"kind\":\"listener\"" <<<"$out" && grep -q "\"pids\":\[$HOLDER\]" <<<"$out" && grep -q '"in_use":true' <<<"$out" &&
        pass "--json: listener, pid, in_use" || fail "--json: $out"
out=$(why "tcp://127.0.0.2:$P_LISTEN")
grep -q "is free" <<<"$out" && pass "127.0.0.2 on the same port is free (no overlap)" || fail "other address: $out"
stop "$LAST_BG"

# --- TIME_WAIT left by a server that closes first, without SO_REUSEADDR ---
"$WHYTOOL" -t 30 closefirst "$P_TW" 300
bind_out=$("$WHYTOOL" trybind "$P_TW" || true)
bind_reuse_out=$("$WHYTOOL" -r trybind "$P_TW" || true)
out=$(why "tcp://127.0.0.1:$P_TW")
n=$(grep -oE '[0-9]+ closed connections' <<<"$out" | awk '{ print $1 }')
log "plain bind: $bind_out; with SO_REUSEADDR: $bind_reuse_out"
[ "$bind_out" = "bind: Address already in use" ] && [ "${n:-0}" -ge 250 ] && grep -q "TIME_WAIT" <<<"$out" &&
        grep -q "will NOT get past" <<<"$out" && [ "$bind_reuse_out" = "bind: Address already in use" ] &&
        pass "TIME_WAIT without SO_REUSEADDR: $n counted, SO_REUSEADDR correctly said not to help" ||
        fail "TIME_WAIT (no reuse): $out"
out=$(why --json "tcp://127.0.0.1:$P_TW")
grep -q '"kind":"time_wait"' <<<"$out" && grep -q '"reuseaddr_helps":false' <<<"$out" &&
        pass "--json: time_wait, reuseaddr_helps false" || fail "--json TIME_WAIT: $out"

# --- the same, by a server that set SO_REUSEADDR ---
"$WHYTOOL" -r -t 30 closefirst "$P_TWR" 300
bind_out=$("$WHYTOOL" trybind "$P_TWR" || true)
bind_reuse_out=$("$WHYTOOL" -r trybind "$P_TWR" || true)
out=$(why "$P_TWR")
n=$(grep -oE '[0-9]+ closed connections' <<<"$out" | awk '{ print $1 }')
log "plain bind: $bind_out; with SO_REUSEADDR: $bind_reuse_out"
[ "$bind_out" = "bind: Address already in use" ] && [ "${n:-0}" -ge 250 ] &&
        grep -q "fix: set SO_REUSEADDR" <<<"$out" && [ "$bind_reuse_out" = "bind: ok" ] &&
        pass "TIME_WAIT with SO_REUSEADDR: $n counted, SO_REUSEADDR correctly said to help" ||
        fail "TIME_WAIT (reuse): $out"
grep -qE "goes in [0-9]+ s" <<<"$out" && pass "the longest TIME_WAIT timer is shown" || fail "timer: $out"

# --- a child keeps an accepted connection after the listener exited ---
hold child child "$P_CHILD"
CHILD=$HOLDER
out=$(why "tcp://127.0.0.1:$P_CHILD")
grep -q "pid $CHILD (.*sv-whytool.*) still holds 1 connection" <<<"$out" && grep -q "no listener left" <<<"$out" &&
        grep -q "kill $CHILD" <<<"$out" &&
        pass "a child holding a connection is named (pid $CHILD)" || fail "child: $out"
stop "$CHILD" "$LAST_BG"

# --- unix: a stale socket file and a live listener are told apart ---
"$WHYTOOL" -o "$T/stale.ready" stale "$T/stale.sock"
out=$(why "unix:$T/stale.sock")
grep -q "stale socket file" <<<"$out" && grep -q "rm $T/stale.sock" <<<"$out" &&
        pass "a stale unix socket file: remove it" || fail "stale unix: $out"
hold unix unix "$T/live.sock"
out=$(why "unix:$T/live.sock")
grep -q "pid $HOLDER (.*sv-whytool" <<<"$out" && grep -q "listens on unix:$T/live.sock" <<<"$out" &&
        ! grep -q stale <<<"$out" && pass "a live unix listener: its pid" || fail "live unix: $out"
stop "$LAST_BG"
out=$(why "unix:$T/live.sock")
grep -q "stale socket file" <<<"$out" && pass "the same file once its listener died: stale" || fail "after death: $out"

# --- a free port, and usage errors ---
out=$(why "$P_FREE")
grep -q "is free" <<<"$out" && pass "a free port is said to be free" || fail "free: $out"
rc=0
out=$(why 0 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q "port 0" <<<"$out" && pass "why 0 is a usage error (2)" || fail "why 0 (rc $rc): $out"

# --- without privileges a holder may be invisible: said plainly ---
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
        hold listener2 listen tcp "$P_LISTEN"
        chmod 755 "$T"
        out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SOCKVISORCTL" why "$P_LISTEN" 2>&1 || true)
        grep -q "cannot see" <<<"$out" && grep -q "run as root" <<<"$out" &&
                pass "as nobody: the holder is said to be invisible, with what to do" || fail "as nobody: $out"
        stop "$LAST_BG"
else
        log "skip: not root or no setpriv: invisible holders not tried"
fi

# --- a listener inherited by a fork: both processes are named, the connections counted ---
# A few connections: both processes are read to the end, every connection is matched.
hold fork forked "$P_FORK" 20
read -r PARENT CHILD <<<"$HOLDER"
out=$(why "$P_FORK")
grep -q "in use by pid $PARENT (.*) and pid $CHILD (.*), which listens on .*shared by 2 processes" <<<"$out" &&
        grep -q "pid $PARENT (.*) and pid $CHILD (.*) still holds 20 connections on port $P_FORK" <<<"$out" &&
        grep -q "fix: stop pid $PARENT and $CHILD (kill $PARENT $CHILD)" <<<"$out" && ! grep -q "in all" <<<"$out" &&
        pass "a forked listener with 20 connections: both pids, every connection matched" || fail "forked: $out"
stop "$CHILD" "$LAST_BG"
# Many connections: each process is read only as far as the listener and its first fds;
# the connections are the kernel's total, and said not to be all matched.
hold forkbig forked "$P_FORKBIG" 600
read -r PARENT CHILD <<<"$HOLDER"
out=$(why "$P_FORKBIG")
json=$(why --json "$P_FORKBIG")
grep -q "in use by pid $PARENT (.*) and pid $CHILD (.*), which listens on .*shared by 2 processes" <<<"$out" &&
        grep -q "fix: stop pid $PARENT and $CHILD (kill $PARENT $CHILD)" <<<"$out" &&
        grep -qE "600 connections on port $P_FORKBIG in all .* pid $PARENT \(.*\) and pid $CHILD \(.*\) were read only in part and hold [0-9]+ of them there; the other [0-9]+ are not matched" <<<"$out" &&
        ! grep -q "still holds" <<<"$out" &&
        grep -q "\"processes_read_partly\":\[$PARENT,$CHILD\]" <<<"$json" && grep -q '"holder_matched":false' <<<"$json" &&
        pass "a forked listener with 600 connections: both pids, the connections a total, read in part" ||
        fail "forked, 600 connections: $out"
stop "$CHILD" "$LAST_BG"

# --- a holder whose command line is not UTF-8: --json is still JSON ---
# A real process on 127.0.0.1 with a Latin-1 byte in its argv (so in /proc/PID/cmdline);
# the output is read as bytes and decoded strictly, so a raw 0xe9 fails the parse. The
# script is a file: the byte must come before the 255 bytes of cmdline the doctor keeps.
cat >"$T/latin.py" <<'EOF'
import os, socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[2]))); s.listen()
open(sys.argv[3] + ".tmp", "w").write(str(os.getpid())); os.rename(sys.argv[3] + ".tmp", sys.argv[3])
time.sleep(60)
EOF
python3 "$T/latin.py" $'caf\xe9' "$P_LATIN" "$T/latin.ready" &
STARTED_PIDS+=($!)
LAST_BG=$!
wait_for_file "$T/latin.ready" || die "the Latin-1 holder did not get ready"
HOLDER=$(cat "$T/latin.ready")
why --json "$P_LATIN" >"$T/latin.json" || true
if check=$(python3 -c '
import json, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))  # strict: invalid UTF-8 raises
pid = int(sys.argv[2])
cmds = [h["command"] for s in d["sockets"] for h in s["holders"] if h["pid"] == pid]
assert cmds, "pid %d holds none of the sockets listed" % pid
assert "caf\ufffd" in cmds[0], "no U+FFFD in place of the byte: %r" % cmds[0]
f = [f for f in d["findings"] if f["kind"] == "listener"]
assert f and f[0]["pids"] == [pid] and "caf\ufffd" in f[0]["text"], "the finding: %r" % f
print(ascii(cmds[0]))' "$T/latin.json" "$HOLDER" 2>&1); then
        pass "--json with a Latin-1 command line: valid JSON, holder pid $HOLDER named as $check"
else
        fail "--json with a Latin-1 command line: $check; output: $(head -c 2000 "$T/latin.json" | od -c | head -n 20)"
fi
stop "$LAST_BG"

# --- sockvisord's own EADDRINUSE prints the diagnosis ---
hold busy listen tcp "$P_DAEMON"
cat >"$T/busy.ini" <<EOF
[sockvisord]
control = $CTL
[socket:web]
listen = tcp://127.0.0.1:$P_DAEMON
[program:app]
command = $DEMO
sockets = web
EOF
rc=0
out=$(timeout 10 "$SOCKVISORD" -c "$T/busy.ini" 2>&1) || rc=$?
[ "$rc" = 71 ] && grep -q "pid $HOLDER (.*sv-whytool" <<<"$out" && grep -q "fix: stop pid $HOLDER" <<<"$out" &&
        ! grep -q "ss -ltnp" <<<"$out" && grep "cannot bind" <<<"$out" | tail -n 1 | grep -qE "fix: stop pid $HOLDER [^;]*$" &&
        pass "sockvisord's bind failure names the holder and the fix" || fail "sockvisord on a taken port (rc $rc): $out"
stop "$LAST_BG"

finish
