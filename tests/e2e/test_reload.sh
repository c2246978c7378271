#!/bin/bash
# reload (sockvisorctl reload and SIGHUP): a file with an error changes nothing and names
# its line; a good file adds, removes and changes exactly what differs, while load runs
# against an unchanged program with zero failed requests, whose socket keeps its inode.
. "$(dirname "$0")/lib.sh"

ports=($("$FREEPORT" -n 4))
PSTABLE=${ports[0]} POLD=${ports[1]} PNEW=${ports[2]} PMOVED=${ports[3]}

write_config() { # VARIANT: base or next
        {
                cat <<EOF
[sockvisord]
control = $CTL

[socket:stable]
listen = tcp://127.0.0.1:$PSTABLE

[socket:oldsock]
listen = tcp://127.0.0.1:$POLD

[program:stable]
command = $DEMO
sockets = stable
ready = notify
numprocs = 2
EOF
                if [ "$1" = base ]; then
                        cat <<EOF

[program:gone]
command = $DEMO
sockets = oldsock
ready = notify

[program:changing]
command = $DEMO
sockets = oldsock
ready = notify
environment = VERSION=1
EOF
                else
                        cat <<EOF

[program:changing]
command = $DEMO
sockets = oldsock
ready = notify
environment = VERSION=2

[socket:fresh]
listen = tcp://127.0.0.1:$PNEW

[program:added]
command = $DEMO
sockets = fresh
ready = notify
EOF
                fi
        } >"$T/sockvisor.ini"
}

socket_inode() { # NAME -> inode of the held socket, from sockvisorctl sockets
        ctl sockets | awk -v n="$1" '$1 == n && $6 == "listening" { print $4 }'
}

write_config base
start_daemon "$T/sockvisor.ini"
stable_pids=$(ctl pid stable | sort | tr '\n' ' ')
gone_pid=$(ctl pid gone)
changing_pid=$(ctl pid changing)
stable_ino=$(socket_inode stable)
old_ino=$(socket_inode oldsock)
[ -n "$stable_ino" ] && pass "socket stable has inode $stable_ino" || die "no inode for socket stable: $(ctl sockets)"
worker_ino=$(readlink "/proc/$(ctl pid stable | head -1)/fd/3" | tr -dc 0-9)
[ "$worker_ino" = "$stable_ino" ] && pass "the worker's fd 3 is that same socket" ||
        fail "worker fd 3 is socket $worker_ino, daemon holds $stable_ino"

# 1. A file with an error: nothing changes, the error names the line.
cp "$T/sockvisor.ini" "$T/good.ini"
printf '\n[program:bad]\ncommand = %s\nstartsecs = soon\n' "$DEMO" >>"$T/sockvisor.ini"
bad_line=$(grep -n 'startsecs = soon' "$T/sockvisor.ini" | cut -d: -f1)
rc=0
out=$(ctl reload 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "sockvisor.ini:$bad_line: \[program:bad\] startsecs" <<<"$out" && grep -q "nothing changed" <<<"$out" &&
        pass "a bad file is refused with its line: $out" || fail "bad reload (rc $rc): $out"
[ "$(ctl pid stable | sort | tr '\n' ' ')" = "$stable_pids" ] && [ "$(ctl pid gone)" = "$gone_pid" ] &&
        [ "$(ctl pid changing)" = "$changing_pid" ] && pass "every program kept its pids" || fail "pids changed after a bad reload"
# SIGHUP takes the same path: still nothing changes, and the log says why.
kill -HUP "$DAEMON_PID"
sleep 0.3
grep -q "reload failed, nothing changed: .*sockvisor.ini:$bad_line:" "$T/daemon.log" &&
        pass "SIGHUP with a bad file logs the error and changes nothing" || fail "SIGHUP: no error in the log"
[ "$(ctl pid gone)" = "$gone_pid" ] || fail "SIGHUP with a bad file changed something"

# 2. A good file: add one, remove one, change one, while load runs against the unchanged one.
write_config next
"$LOADCLIENT" -p "$PSTABLE" -c 16 -d 4 >"$T/load.out" 2>"$T/load.err" &
LOAD_PID=$!
STARTED_PIDS+=("$LOAD_PID")
sleep 0.5
rc=0
ctl reload >"$T/reload.out" 2>&1 || rc=$?
sed 's/^/    /' "$T/reload.out"
[ "$rc" = 0 ] && pass "reload exited 0" || fail "reload exited $rc"
grep -q "program gone: removed" "$T/reload.out" && grep -q "program changing: changed" "$T/reload.out" &&
        grep -q "program added: added" "$T/reload.out" && grep -q "socket fresh: bound" "$T/reload.out" &&
        grep -q "1 added, 1 removed, 1 changed, 1 unchanged" "$T/reload.out" &&
        pass "reload printed what it changed" || fail "reload output incomplete"

# Wait (bounded) for the changes to settle.
for _ in $(seq 1 100); do
        st=$(ctl status)
        if ! grep -q '^gone' <<<"$st" && grep -q '^added .*RUNNING' <<<"$st" &&
                grep -qE '^changing +RUNNING +[0-9]+ +2 ' <<<"$st"; then break; fi
        sleep 0.1
done
st=$(ctl status)
sed 's/^/    /' <<<"$st"
kill -0 "$gone_pid" 2>/dev/null && fail "the removed program's worker $gone_pid still runs" || pass "removed program stopped"
grep -q '^gone' <<<"$st" && fail "status still lists the removed program" || pass "status no longer lists it"
new_changing=$(ctl pid changing)
[ "$new_changing" != "$changing_pid" ] && grep -qE '^changing +RUNNING +[0-9]+ +2 ' <<<"$st" &&
        tr '\0' '\n' <"/proc/$new_changing/environ" | grep -qx VERSION=2 &&
        pass "changed program runs generation 2 with the new environment (pid $new_changing)" ||
        fail "changed program not restarted with VERSION=2"
[[ "$(http_get "$PNEW")" == pid=* ]] && pass "added program serves on its new socket" || fail "added program does not answer"
[ "$(ctl pid stable | sort | tr '\n' ' ')" = "$stable_pids" ] && pass "unchanged program untouched: pids $stable_pids" ||
        fail "unchanged program was restarted"
[ "$(socket_inode stable)" = "$stable_ino" ] && pass "unchanged socket kept inode $stable_ino (never re-bound)" ||
        fail "socket stable changed inode: $stable_ino -> $(socket_inode stable)"
[ "$(socket_inode oldsock)" = "$old_ino" ] && pass "socket oldsock kept too (still used by 'changing')" ||
        fail "oldsock changed inode"

load_rc=0
wait "$LOAD_PID" || load_rc=$?
log "load: $(cat "$T/load.out")"
[ "$load_rc" = 0 ] && grep -q ' failed=0 ' "$T/load.out" && pass "0 failed requests against the unchanged program" ||
        fail "requests failed during reload: $(cat "$T/load.out" "$T/load.err")"

# 3. A socket moved to a new address: bound anew, the old one closes when unused.
sed -i "s|127.0.0.1:$POLD|127.0.0.1:$PMOVED|" "$T/sockvisor.ini"
ctl reload >"$T/reload2.out" 2>&1 && pass "reload with a moved socket exited 0" || fail "reload 2: $(cat "$T/reload2.out")"
for _ in $(seq 1 100); do
        ctl status | grep -qE '^changing +RUNNING +[0-9]+ +3 ' && break
        sleep 0.1
done
[[ "$(http_get "$PMOVED")" == *"program=changing"* ]] && pass "changing serves on the new address" ||
        fail "nothing answers on the moved address"
for _ in $(seq 1 50); do
        ctl sockets | grep -q "127.0.0.1:$POLD" || break
        sleep 0.1
done
ctl sockets | grep -q "127.0.0.1:$POLD" && fail "the old address is still held: $(ctl sockets)" ||
        pass "the old address was closed once its generation was gone"
curl -s --max-time 2 "http://127.0.0.1:$POLD/" >/dev/null && fail "the old port still answers" || pass "the old port refuses now"

# A program unchanged by two reloads in a row is still untouched (its instances run a
# configuration object of the first file, equal to the second's: that is no change).
[ "$(ctl pid stable | sort | tr '\n' ' ')" = "$stable_pids" ] && pass "after a second reload stable is untouched: pids $stable_pids" ||
        fail "the second reload restarted the unchanged program stable: pids $(ctl pid stable | tr '\n' ' '), were $stable_pids"

[ -z "$(zombies_of "$DAEMON_PID")" ] && pass "no zombies" || fail "zombies left"
stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "sockvisord exited 0" || fail "sockvisord exited $DAEMON_RC"
finish
