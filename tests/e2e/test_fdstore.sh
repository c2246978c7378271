#!/bin/bash
# The worker fd store (fdstore_max=): a worker stores a memfd holding a counter with
# FDSTORE=1, and after 3 restarts the counter is 3; a stored TCP connection reaches the next
# generation and still works (one connection, as the server sees it); status and sockets
# show the store; FDSTOREREMOVE=1 drops it; over fdstore_max is refused with a log line; an
# upgrade of sockvisord keeps the store; a connection reset by its peer (POLLHUP/POLLERR) is
# dropped; stop empties the store.
. "$(dirname "$0")/lib.sh"

FDW=$BUILD/tests/sv-fdstoreworker
UP_PORT=$("$FREEPORT")
# The upstream a worker keeps a connection to: prints what arrives, one line per line, with
# the connection's number; on "reset" in $T/reset it closes with an RST (SO_LINGER 0).
cat >"$T/upstream.py" <<'EOF'
import os, socket, struct, sys, time
port, out, reset = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(4)
open(out + ".ready", "w").write("listening\n")
s.settimeout(60)
conn_no = 0
c, _ = s.accept()
conn_no += 1
c.settimeout(0.1)
buf = b""
deadline = time.time() + 120
while time.time() < deadline:
    if os.path.exists(reset):
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        with open(out, "a") as f:
            f.write("reset\n")
        break
    try:
        d = c.recv(4096)
    except socket.timeout:
        continue
    if not d:
        break
    buf += d
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        with open(out, "a") as f:
            f.write("conn %d: %s\n" % (conn_no, line.decode()))
EOF
python3 "$T/upstream.py" "$UP_PORT" "$T/upstream.out" "$T/reset" &
UP_PID=$!
STARTED_PIDS+=("$UP_PID")
wait_for_file "$T/upstream.out.ready" || die "the upstream did not start"

cat >"$T/sockvisor.ini" <<EOF
[sockvisord]
control = $CTL

[program:counter]
command = $FDW --counter --remove-on-hup counter $T/counter.out
ready = notify
fdstore_max = 2

[program:up]
command = $FDW --upstream $UP_PORT $T/up.out
ready = notify
fdstore_max = 1

[program:many]
command = $FDW --store-extra 3 $T/many.out
ready = notify
fdstore_max = 2

[program:nostore]
command = $FDW --counter $T/nostore.out
ready = notify
EOF
start_daemon "$T/sockvisor.ini"
for p in counter up many nostore; do wait_state "$p" 10 RUNNING || die "$p is $STATE, not RUNNING"; done

# --- the counter across restarts ---
[ "$(report_field "$T/counter.out" counter)" = 0 ] && pass "generation 1 made the counter (0)" ||
        fail "generation 1: $(cat "$T/counter.out")"
for i in 1 2 3; do
        ctl restart counter >/dev/null || fail "restart $i of counter"
done
c=$(report_field "$T/counter.out" counter)
[ "$c" = 3 ] && pass "after 3 restarts the counter is 3" || fail "after 3 restarts: counter '$c' ($(cat "$T/counter.out"))"
grep -qx "got counter" "$T/counter.out" && pass "LISTEN_FDNAMES names it 'counter'" || fail "no 'got counter': $(cat "$T/counter.out")"
st=$(ctl status counter)
grep -q "fd store: counter (fd [0-9]*); 1 of 2" <<<"$st" && pass "status shows the store: $(grep 'fd store' <<<"$st")" ||
        fail "status: $st"
ctl sockets | grep -q "^counter .*stored by counter" && pass "sockets lists the stored fd" || fail "sockets: $(ctl sockets)"

# --- without fdstore_max a store is refused, and its fd closed ---
[ "$(report_field "$T/nostore.out" counter)" = 0 ] || fail "nostore: $(cat "$T/nostore.out")"
grep -q "nostore.*refused 1 fd sent with 'counter': the program has no fd store (set fdstore_max = N)" "$T/daemon.log" &&
        pass "a store without fdstore_max is refused with a log line" || fail "no refusal logged for nostore"
ctl restart nostore >/dev/null
[ "$(report_field "$T/nostore.out" counter)" = 0 ] && pass "... and the next generation gets nothing" ||
        fail "nostore got a counter: $(cat "$T/nostore.out")"

# --- over fdstore_max ---
grep -q "many.*refused 1 fd sent with 'extra': the fd store is full (2 of fdstore_max = 2 stored)" "$T/daemon.log" &&
        pass "the third store over fdstore_max = 2 is refused with a log line" || fail "no overflow refusal logged"
ctl status many | grep -q "fd store: extra (fd [0-9]*), extra (fd [0-9]*); 2 of 2" && pass "many keeps 2 of 2" ||
        fail "many: $(ctl status many)"

# --- a stored connection reaches the next generation ---
ctl restart up >/dev/null || fail "restart up"
for _ in $(seq 1 30); do grep -q "gen 2" "$T/upstream.out" 2>/dev/null && break; sleep 0.1; done
grep -q "^conn 1: first pid" "$T/upstream.out" && grep -q "^conn 1: gen 2 pid" "$T/upstream.out" &&
        pass "generation 2 wrote on generation 1's connection: $(tr '\n' ';' <"$T/upstream.out")" ||
        fail "upstream saw: $(cat "$T/upstream.out" 2>/dev/null)"
grep -qx "upstream reused" "$T/up.out" && pass "generation 2 got the stored socket" || fail "up: $(cat "$T/up.out")"

# --- an upgrade of sockvisord keeps the store ---
ctl upgrade >"$T/upgrade.out" 2>&1 && pass "upgrade: $(tail -n 1 "$T/upgrade.out")" || fail "upgrade: $(cat "$T/upgrade.out")"
ctl restart counter >/dev/null
c=$(report_field "$T/counter.out" counter)
[ "$c" = 4 ] && pass "the counter went on across the upgrade (4)" || fail "after the upgrade: counter '$c'"
ctl restart up >/dev/null
for _ in $(seq 1 30); do grep -q "gen 3" "$T/upstream.out" 2>/dev/null && break; sleep 0.1; done
grep -q "^conn 1: gen 3 pid" "$T/upstream.out" && pass "the stored connection survived the upgrade" ||
        fail "upstream after the upgrade: $(cat "$T/upstream.out")"

# --- a stored connection reset by its peer is dropped (POLLHUP/POLLERR) ---
touch "$T/reset"
for _ in $(seq 1 50); do grep -q "stored fd 'upstream' hung up" "$T/daemon.log" && break; sleep 0.1; done
grep -q "program 'up': stored fd 'upstream' hung up" "$T/daemon.log" && pass "a reset connection is dropped from the store" ||
        fail "no hang-up logged"
ctl status up | grep -q "fd store" && fail "up still shows a store: $(ctl status up)" || pass "up's store is empty"

# --- FDSTOREREMOVE=1 ---
ctl signal HUP counter >/dev/null
for _ in $(seq 1 30); do grep -q "FDSTOREREMOVE=1: 1 stored fd named 'counter' closed" "$T/daemon.log" && break; sleep 0.1; done
grep -q "FDSTOREREMOVE=1: 1 stored fd named 'counter' closed" "$T/daemon.log" && pass "FDSTOREREMOVE=1 drops it" ||
        fail "no FDSTOREREMOVE logged"
ctl restart counter >/dev/null
[ "$(report_field "$T/counter.out" counter)" = 0 ] && pass "the next generation starts a new counter" ||
        fail "after FDSTOREREMOVE: $(cat "$T/counter.out")"

# --- stop empties the store ---
ctl restart counter >/dev/null
[ "$(report_field "$T/counter.out" counter)" = 1 ] || fail "counter before stop: $(cat "$T/counter.out")"
ctl stop counter >/dev/null
grep -q "program 'counter': 1 stored fd closed (the program is stopped)" "$T/daemon.log" && pass "stop empties the store" ||
        fail "no store emptied at stop"
ctl start counter >/dev/null
[ "$(report_field "$T/counter.out" counter)" = 0 ] && pass "a start after stop begins again at 0" ||
        fail "after stop/start: $(cat "$T/counter.out")"

# no fd left behind: the daemon's fds after emptying stores equal a fresh count
fds_mid=$(fd_count "$DAEMON_PID")
for i in 1 2 3 4 5; do ctl restart counter >/dev/null; done
[ "$(fd_count "$DAEMON_PID")" = "$fds_mid" ] && pass "fd count flat across 5 restarts with a stored fd ($fds_mid)" ||
        fail "fds $fds_mid -> $(fd_count "$DAEMON_PID")"
stop_daemon
[ "$DAEMON_RC" = 0 ] || fail "shutdown exit status $DAEMON_RC"
finish
