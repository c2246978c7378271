#!/bin/bash
# The unix socket kinds besides stream: unix-dgram: and unix-seqpacket:, on a path and as an
# abstract name (and unix:@name). A worker gets each of them and each works (a datagram
# sent from here arrives, a seqpacket connection gets its echo); a restart keeps the same
# inodes; the mode applies; a stale socket file is replaced; a live datagram socket at the
# path (also one connected to another peer, whose connect() probe answers EPERM) and a live
# seqpacket listener are refused and left in place; an abstract name in use is refused by
# bind's EADDRINUSE; sockets and status show the kind; a reload that changes a socket's
# kind binds it anew; a socket passed in by a service manager with another type is refused
# naming both types; a bad scheme lists every valid one.
. "$(dirname "$0")/lib.sh"

UK=$BUILD/tests/sv-unixkinds
A=svk$$ # abstract names: unique to this run
DG=$T/dg.sock SP=$T/sp.sock

# A stale datagram socket file where the datagram socket goes: sockvisord must replace it.
# (An inode number may be reused at once, so the stale one is told apart by its mode, and
# by datagrams reaching the worker through the path.)
"$UK" stale dgram "$DG" || die "cannot make a stale socket file"
chmod 0701 "$DG"

cat >"$T/kinds.ini" <<EOF2
[sockvisord]
control = $CTL
[socket:dg]
listen = unix-dgram:$DG
mode = 0620
[socket:sp]
listen = unix-seqpacket:$SP
mode = 0600
backlog = 8
[socket:adg]
listen = unix-dgram:@$A-dg
[socket:asp]
listen = unix-seqpacket:@$A-sp
[socket:ast]
listen = unix:@$A-st
[socket:chg]
listen = unix-dgram:@$A-chg
[program:kinds]
command = $UK worker $T/report
sockets = dg,sp,adg,asp,ast
ready = notify
[program:chgp]
command = $UK worker $T/chg-report
sockets = chg
ready = notify
EOF2

"$SOCKVISORD" -t -c "$T/kinds.ini" >"$T/check.out" 2>&1 && pass "the config with every unix kind checks" ||
        die "sockvisord -t refused it: $(cat "$T/check.out")"
start_daemon "$T/kinds.ini"
wait_for_file "$T/report" || die "the worker wrote no report: $(cat "$T/daemon.log")"
wait_state kinds 10 RUNNING || fail "kinds is $STATE, not RUNNING"
log "report: $(tr '\n' ';' <"$T/report")"

# Each fd is of the kind its listen= says: a datagram socket is not listened on, the rest are.
expect_fd() { # FD TYPE ADDR LISTENING
        grep -qx "fd $1 $2 $3 $4 inode [0-9]*" "$T/report" && pass "fd $1 is a $2 socket at $3, $4" ||
                fail "fd $1: expected '$2 $3 $4', report: $(tr '\n' ';' <"$T/report")"
}
expect_fd 3 dgram "$DG" unlistened
expect_fd 4 seqpacket "$SP" listening
expect_fd 5 dgram "@$A-dg" unlistened
expect_fd 6 seqpacket "@$A-sp" listening
expect_fd 7 stream "@$A-st" listening
grep -qx "names dg:sp:adg:asp:ast" "$T/report" && pass "LISTEN_FDNAMES names them in order" ||
        fail "names: $(grep names "$T/report")"

# The stale file was replaced, and the modes apply to the files bound.
new_ino=$(stat -c %i "$DG")
[ "$(stat -c %a "$DG")" != 701 ] && pass "the stale socket file was replaced (mode 0701 -> $(stat -c %a "$DG"))" ||
        fail "the stale socket file is still there (mode $(stat -c %a "$DG"), inode $new_ino)"
[ "$(stat -c %a "$DG")" = 620 ] && pass "unix-dgram socket file has mode 0620" || fail "dg mode $(stat -c %a "$DG")"
[ "$(stat -c %a "$SP")" = 600 ] && pass "unix-seqpacket socket file has mode 0600" || fail "sp mode $(stat -c %a "$SP")"
[ -e "$DG.lock" ] && [ -e "$SP.lock" ] && pass "both paths have their .lock file" || fail "no lock files"

# Each works, from outside: datagrams arrive, connections get their echo.
wait_msg() { # TEXT -> 0 once the worker logged it (bounded, 5 s)
        for _ in $(seq 1 50); do
                grep -q "$1" "$T/report.msgs" 2>/dev/null && return 0
                sleep 0.1
        done
        return 1
}
"$UK" send "$DG" "hello-path-1" && wait_msg "fd 3 got hello-path-1" &&
        pass "a datagram sent to $DG reached the worker" || fail "no datagram on the path socket"
"$UK" send "@$A-dg" "hello-abs-1" && wait_msg "fd 5 got hello-abs-1" &&
        pass "a datagram sent to @$A-dg reached the worker" || fail "no datagram on the abstract socket"
[ "$("$UK" call seqpacket "$SP" ping-1)" = "echo:ping-1" ] && pass "a seqpacket connection to $SP got its echo" ||
        fail "seqpacket on the path did not answer"
[ "$("$UK" call seqpacket "@$A-sp" ping-2)" = "echo:ping-2" ] &&
        pass "a seqpacket connection to @$A-sp got its echo" || fail "seqpacket on the abstract name did not answer"
[ "$("$UK" call stream "@$A-st" ping-3)" = "echo:ping-3" ] && pass "a stream connection to @$A-st got its echo" ||
        fail "unix:@name did not answer"
"$UK" call stream "$SP" nope >/dev/null 2>"$T/wrongtype.err" && fail "a stream connect to the seqpacket socket worked" ||
        pass "a stream connect to the seqpacket socket is refused: $(cat "$T/wrongtype.err")"

# sockets and status show the kind.
ctl sockets >"$T/sockets.out"
log "sockets: $(tr '\n' ';' <"$T/sockets.out" | tr -s ' ')"
kind_of() { awk -v n="$1" '$1 == n && $6 == "listening" { print $NF }' "$T/sockets.out"; }
addr_of() { awk -v n="$1" '$1 == n && $6 == "listening" { print $2 }' "$T/sockets.out"; }
ino_of() { awk -v n="$1" '$1 == n && $6 == "listening" { print $4 }' "$T/sockets.out"; }
for row in "dg unix-dgram unix-dgram:$DG" "sp unix-seqpacket unix-seqpacket:$SP" "adg unix-dgram unix-dgram:@$A-dg" \
        "asp unix-seqpacket unix-seqpacket:@$A-sp" "ast unix-stream unix:@$A-st"; do
        set -- $row
        [ "$(kind_of "$1")" = "$2" ] && [ "$(addr_of "$1")" = "$3" ] && pass "sockets: $1 is $2 at $3" ||
                fail "sockets: $1 shows '$(kind_of "$1")' at '$(addr_of "$1")', expected $2 at $3"
done
grep -q "^SOCKET .* KIND$" "$T/sockets.out" && pass "sockets has a KIND column" || fail "no KIND header"
ctl status kinds >"$T/status.out"
grep -q "dg=unix-dgram:$DG,sp=unix-seqpacket:$SP,adg=unix-dgram:@$A-dg,asp=unix-seqpacket:@$A-sp,ast=unix:@$A-st" \
        "$T/status.out" && pass "status shows each socket with its kind" || fail "status: $(cat "$T/status.out")"

# A restart keeps every socket: the new worker reports the same inodes, and datagrams reach it.
before=$(awk '$1 == "fd" { print $2, $NF }' "$T/report" | sort)
old_pid=$(ctl pid kinds)
rm -f "$T/report"
ctl restart kinds >"$T/restart.out" 2>&1 && pass "restart kinds exited 0" || fail "restart: $(cat "$T/restart.out")"
wait_for_file "$T/report" || fail "the new worker wrote no report"
after=$(awk '$1 == "fd" { print $2, $NF }' "$T/report" | sort)
[ -n "$before" ] && [ "$before" = "$after" ] && pass "after a restart every fd has the same socket inode" ||
        fail "inodes before: $before; after: $after"
[ "$(ino_of dg)" = "$(awk '$2 == 3 { print $NF }' "$T/report")" ] && pass "the inode is the one sockets shows" ||
        fail "sockets shows $(ino_of dg) for dg"
[ "$(stat -c %i "$DG")" = "$new_ino" ] && pass "the socket file at $DG is the same one" || fail "the file changed"
"$UK" send "$DG" "hello-path-2" && wait_msg "fd 3 got hello-path-2" && [ "$(ctl pid kinds)" != "$old_pid" ] &&
        pass "the new generation receives datagrams on the same socket" || fail "no datagram after the restart"
[ "$("$UK" call seqpacket "$SP" ping-4)" = "echo:ping-4" ] && pass "and seqpacket connections" ||
        fail "seqpacket after the restart"

# Live sockets at a path are refused and left alone: a datagram socket, one connected to a
# peer (its connect() probe answers EPERM, not 0), and a seqpacket listener. A second
# daemon, on its own control socket, is the one refused.
"$UK" hold dgram "$T/peer.sock" "$T/peer.ready" >/dev/null &
PEER=$!
STARTED_PIDS+=($PEER)
wait_for_file_exists() { for _ in $(seq 1 50); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
wait_for_file_exists "$T/peer.ready" || die "the peer holder did not start"
n=0
for live in "dgram $T/live-dg.sock" "dgram $T/live-conn.sock $T/peer.sock" "seqpacket $T/live-sp.sock"; do
        set -- $live
        n=$((n + 1))
        "$UK" hold "$1" "$2" "$T/live$n.ready" ${3:+"$3"} >"$T/live$n.out" &
        HOLD=$!
        STARTED_PIDS+=($HOLD)
        wait_for_file_exists "$T/live$n.ready" || die "holder $n did not start"
        ino=$(stat -c %i "$2")
        scheme=unix-$1
        cat >"$T/live$n.ini" <<EOF2
[sockvisord]
control = $T/control-live$n.sock
[socket:live]
listen = $scheme:$2
EOF2
        rc=0
        timeout 10 "$SOCKVISORD" -c "$T/live$n.ini" >"$T/live$n.log" 2>&1 || rc=$?
        grep -qE "a live process (is listening on|has a socket bound at) $2" "$T/live$n.log" && [ "$rc" = 71 ] &&
                pass "a live $1 socket at $2${3:+ (connected to a peer)} is refused (exit 71): $(grep -o 'a live process.*' "$T/live$n.log")" ||
                fail "live $1 socket${3:+ (connected)}: exit $rc, log: $(cat "$T/live$n.log")"
        [ -S "$2" ] && [ "$(stat -c %i "$2")" = "$ino" ] && pass "its socket file is still there, the same inode" ||
                fail "the live socket file $2 was removed or replaced"
        if [ "$1" = dgram ] && [ -z "${3:-}" ]; then
                "$UK" send "$2" "still-alive"
                for _ in $(seq 1 50); do grep -q "got still-alive" "$T/live$n.out" && break; sleep 0.1; done
                grep -q "got still-alive" "$T/live$n.out" && pass "and the live datagram socket still receives" ||
                        fail "the live datagram socket no longer receives"
        fi
        kill "$HOLD" 2>/dev/null || true
done
kill "$PEER" 2>/dev/null || true

# An abstract name has no file, so no lock and no probe: bind's EADDRINUSE detects a clash.
"$UK" hold dgram "@$A-busy" "$T/busy.ready" >/dev/null &
STARTED_PIDS+=($!)
BUSY=$!
wait_for_file_exists "$T/busy.ready" || die "the abstract holder did not start"
cat >"$T/busy.ini" <<EOF2
[sockvisord]
control = $T/control-busy.sock
[socket:busy]
listen = unix-dgram:@$A-busy
EOF2
rc=0
timeout 10 "$SOCKVISORD" -c "$T/busy.ini" >"$T/busy.log" 2>&1 || rc=$?
# (the port doctor then names the holder, as it does for a port in use)
grep -q "socket 'busy': cannot bind unix-dgram:@$A-busy: Address already in use" "$T/busy.log" &&
        grep -q "in use by pid $BUSY .*bound to unix-dgram:@$A-busy" "$T/busy.log" && [ "$rc" = 71 ] &&
        pass "an abstract name in use is refused by bind (exit 71), naming pid $BUSY" ||
        fail "abstract clash: exit $rc, log: $(cat "$T/busy.log")"
kill "$BUSY" 2>/dev/null || true
ls "$T" | grep -q "@\|busy.lock" && fail "an abstract name left a file: $(ls "$T")" || pass "no file for abstract names"

# A reload that changes only the kind is a new address: bound anew, the program rolls onto it.
wait_for_file "$T/chg-report" || fail "chgp wrote no report"
grep -q "^fd 3 dgram @$A-chg unlistened" "$T/chg-report" && pass "chgp got a dgram socket" ||
        fail "chg report: $(cat "$T/chg-report")"
chg_ino=$(ino_of chg)
rm -f "$T/chg-report"
sed -i "s|^listen = unix-dgram:@$A-chg|listen = unix-seqpacket:@$A-chg|" "$T/kinds.ini"
ctl reload >"$T/reload.out" 2>&1 && pass "reload exited 0" || fail "reload: $(cat "$T/reload.out")"
log "reload: $(tr '\n' ';' <"$T/reload.out")"
grep -q "socket chg: bound unix-seqpacket:@$A-chg" "$T/reload.out" && pass "reload bound chg anew as unix-seqpacket" ||
        fail "reload did not bind chg: $(cat "$T/reload.out")"
wait_for_file "$T/chg-report" || fail "chgp did not roll onto the new socket"
grep -q "^fd 3 seqpacket @$A-chg listening" "$T/chg-report" && pass "chgp now gets a seqpacket socket" ||
        fail "chg report after reload: $(cat "$T/chg-report" 2>/dev/null)"
ctl sockets >"$T/sockets.out"
[ "$(kind_of chg)" = unix-seqpacket ] && [ "$(ino_of chg)" != "$chg_ino" ] &&
        pass "sockets shows chg as unix-seqpacket, another inode" || fail "sockets after reload: $(cat "$T/sockets.out")"
[ "$("$UK" call seqpacket "@$A-chg" ping-5)" = "echo:ping-5" ] && pass "the re-bound seqpacket socket serves" ||
        fail "the re-bound socket does not serve"

stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
[ ! -e "$DG" ] && [ ! -e "$SP" ] && pass "the socket files are removed on exit" || fail "socket files left: $(ls "$T")"

# Config: a path is one file whatever the kind; a bad scheme lists every valid scheme.
cat >"$T/clash.ini" <<EOF2
[socket:a]
listen = unix:$T/same.sock
[socket:b]
listen = unix-dgram:$T/same.sock
EOF2
rc=0
"$SOCKVISORD" -t -c "$T/clash.ini" >"$T/clash.out" 2>&1 || rc=$?
[ "$rc" = 78 ] && grep -q "\[socket:a\]" "$T/clash.out" && pass "unix: and unix-dgram: on one path clash: $(head -1 "$T/clash.out")" ||
        fail "clash: exit $rc, $(cat "$T/clash.out")"
printf '[socket:a]\nlisten = unix:@%s-x\n[socket:b]\nlisten = unix-dgram:@%s-x\n' "$A" "$A" >"$T/abs.ini"
"$SOCKVISORD" -t -c "$T/abs.ini" >"$T/abs.out" 2>&1 && pass "unix:@n and unix-dgram:@n may both be configured" ||
        fail "abstract names of two kinds: $(cat "$T/abs.out")"
printf '[socket:a]\nlisten = unix-stream:/run/x.sock\n' >"$T/bad.ini"
rc=0
"$SOCKVISORD" -t -c "$T/bad.ini" >"$T/bad.out" 2>&1 || rc=$?
ok=1
for form in tcp://HOST:PORT udp://HOST:PORT unix:/PATH unix-dgram:/PATH unix-seqpacket:/PATH unix:@NAME \
        unix-dgram:@NAME unix-seqpacket:@NAME; do
        grep -qF "$form" "$T/bad.out" || ok=0
done
[ "$rc" = 78 ] && [ "$ok" = 1 ] && grep -q "bad.ini:2:.*unknown scheme 'unix-stream'" "$T/bad.out" &&
        pass "a bad scheme is a config error listing every valid scheme" || fail "bad scheme: exit $rc, $(cat "$T/bad.out")"

# Adoption: a socket passed in with another type is refused, naming both types.
if command -v systemd-socket-activate >/dev/null; then
        cat >"$T/adopt.ini" <<EOF2
[sockvisord]
control = $T/control-adopt.sock
[socket:dg]
listen = unix-dgram:$T/adopt.sock
EOF2
        systemd-socket-activate --seqpacket -l "$T/adopt.sock" --fdname=dg "$SOCKVISORD" -c "$T/adopt.ini" \
                >"$T/adopt.log" 2>&1 &
        ACT=$!
        STARTED_PIDS+=($ACT)
        for _ in $(seq 1 50); do [ -S "$T/adopt.sock" ] && break; sleep 0.1; done
        "$UK" call seqpacket "$T/adopt.sock" wake >/dev/null 2>&1 || true # the activator execs on a connection
        for _ in $(seq 1 100); do kill -0 "$ACT" 2>/dev/null || break; sleep 0.1; done
        rc=0
        wait "$ACT" || rc=$?
        grep -q "passed a SOCK_SEQPACKET socket under this name (ListenSequentialPacket= in the socket unit), but listen = unix-dgram:$T/adopt.sock wants a SOCK_DGRAM socket (ListenDatagram=)" \
                "$T/adopt.log" && [ "$rc" != 0 ] && pass "a seqpacket socket passed for a unix-dgram listen= is refused (exit $rc)" ||
                fail "adoption of the wrong type: exit $rc, $(cat "$T/adopt.log")"

        rm -f "$T/adopt.sock"
        cat >"$T/adopt2.ini" <<EOF2
[sockvisord]
control = $T/control-adopt2.sock
[socket:dg]
listen = unix-dgram:$T/adopt2.sock
[program:kinds]
command = $UK worker $T/adopt-report
sockets = dg
ready = notify
EOF2
        systemd-socket-activate --datagram -l "$T/adopt2.sock" --fdname=dg "$SOCKVISORD" -c "$T/adopt2.ini" \
                >"$T/adopt2.log" 2>&1 &
        DAEMON_PID=$!
        CTL=$T/control-adopt2.sock
        for _ in $(seq 1 50); do [ -S "$T/adopt2.sock" ] && break; sleep 0.1; done
        ino=$(stat -c %i "$T/adopt2.sock")
        "$UK" send "$T/adopt2.sock" "first" # the activator execs on the first datagram
        wait_for_daemon
        wait_for_file "$T/adopt-report" || fail "no worker on the adopted socket"
        grep -q "socket 'dg': adopted fd 3 from the service manager (unix-dgram:$T/adopt2.sock" "$T/adopt2.log" &&
                pass "a unix-dgram socket passed in is adopted" || fail "adoption: $(cat "$T/adopt2.log")"
        for _ in $(seq 1 50); do grep -q "got first" "$T/adopt-report.msgs" 2>/dev/null && break; sleep 0.1; done
        grep -q "fd 3 got first" "$T/adopt-report.msgs" 2>/dev/null &&
                pass "the datagram that woke the activator reached the worker" || fail "the first datagram was lost"
        [ "$(stat -c %i "$T/adopt2.sock")" = "$ino" ] && pass "the adopted socket file was not re-bound" ||
                fail "the socket file changed"
        stop_daemon
else
        log "systemd-socket-activate not installed: adoption not tested"
fi

[ "$FAILURES" -eq 0 ] || exit 1
