#!/bin/bash
# sockvisord as a systemd Type=notify service, under sv-fakesystemd (the service manager's
# side of sd_notify, with an fd store and WatchdogSec=): READY=1 only once the app is ready,
# STATUS= kept current, RELOADING=1/READY=1 around a reload, one FDSTORE=1 per held socket,
# FDSTOREREMOVE=1 when a reload drops one, a restart of sockvisord itself under load that
# adopts the stored socket (same inode, 0 failed requests), STOPPING=1 and exit 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"

FAKESD=$BUILD/tests/sv-fakesystemd
[ -x "$FAKESD" ] || die "$FAKESD not built"
NLOG=$T/notify.log
WATCHDOG_USEC=4000000 # WatchdogSec=4s: sockvisord pings every 2 s, or is killed with SIGABRT
READY_DELAY_MS=1000   # the demo becomes ready (and serves) this long after it starts

ports=($("$FREEPORT" -n 2))
PORT=${ports[0]} PEXTRA=${ports[1]}

write_config() { # base | extra
        cat >"$T/sockvisor.ini" <<EOF
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT

[program:app]
command = $DEMO --ready-delay $READY_DELAY_MS
sockets = web
ready = notify
ready_timeout = 10s
stopwaitsecs = 10s
EOF
        [ "$1" = extra ] && cat >>"$T/sockvisor.ini" <<EOF

[socket:extra]
listen = tcp://127.0.0.1:$PEXTRA

[program:extraapp]
command = $DEMO
sockets = extra
ready = notify
EOF
        return 0
}

# --- reading the notify log ---
# A message line is "msg PID K=V|K=V...". The regex of a message from PID with line KV.
msg_re() { printf '^msg %s (.*[|])?%s([|]|$)' "$1" "$2"; } # PID K=V
nlines() { wc -l <"$NLOG"; }
# First line number > FROM matching ERE, or nothing.
find_line() { # FROM ERE
        awk -v from="$1" -v re="$2" 'NR > from && $0 ~ re { print NR; exit }' "$NLOG" 2>/dev/null || true
}
count_lines() { # FROM ERE
        awk -v from="$1" -v re="$2" 'NR > from && $0 ~ re { n++ } END { print n + 0 }' "$NLOG" 2>/dev/null || echo 0
}
# Polls (bounded) until a line > FROM matches ERE; LINE gets its number.
wait_line() { # FROM ERE [SECONDS]
        local tenths=$((${3:-15} * 10))
        for _ in $(seq 1 "$tenths"); do
                LINE=$(find_line "$1" "$2")
                [ -n "$LINE" ] && return 0
                sleep 0.1
        done
        LINE=
        return 1
}
line_at() { sed -n "${1}p" "$NLOG"; }
show_log() { log "notify log:"; grep -vE '^msg [0-9]+ WATCHDOG=1$' "$NLOG" | sed 's/^/    /' | tail -n 60; }

socket_inode() { # NAME -> inode of the held socket, from sockvisorctl sockets
        ctl sockets | awk -v n="$1" '$1 == n && $6 == "listening" { print $4 }'
}
port_refuses() { # PORT: nothing accepts connections there any more (bounded wait)
        for _ in $(seq 1 50); do
                if ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
                sleep 0.1
        done
        return 1
}

write_config base
: >"$NLOG"
t0=$(ms_now)
"$FAKESD" -o "$NLOG" -w "$WATCHDOG_USEC" -- "$SOCKVISORD" -c "$T/sockvisor.ini" >>"$T/daemon.log" 2>&1 &
FAKESD_PID=$!
DAEMON_PID=$FAKESD_PID # what wait_for_daemon and cleanup watch; sockvisord has $T in its command line
wait_line 0 '^start [0-9]+ 0$' 5 || die "sv-fakesystemd did not start sockvisord: $(cat "$NLOG")"
D1=$(line_at "$LINE" | awk '{ print $2 }')
pass "sv-fakesystemd started sockvisord (pid $D1) with no stored fds"

# 1. READY=1 with STATUS=, only once the app's worker is ready (it serves from then on).
if wait_line 0 "$(msg_re "$D1" READY=1)" 20; then
        t_ready=$(ms_now)
        state=$(state_of app)
        ready_msg=$(line_at "$LINE")
        ready_line=$LINE
        [ "$state" = RUNNING ] && pass "READY=1 arrived when app was RUNNING" ||
                fail "READY=1 arrived while app was '$state': $ready_msg"
        [ $((t_ready - t0)) -ge "$READY_DELAY_MS" ] &&
                pass "READY=1 came $((t_ready - t0)) ms after start, not before the worker's ${READY_DELAY_MS} ms" ||
                fail "READY=1 came $((t_ready - t0)) ms after start, before the worker could be ready"
        first=$(http_get "$PORT")
        [[ "$first" == pid=* ]] && pass "the demo answers: $first" || fail "the demo does not answer after READY=1: '$first'"
        grep -qE '(^msg [0-9]+ |[|])STATUS=' <<<"$ready_msg" && pass "READY=1 came with a status: $ready_msg" ||
                fail "READY=1 without STATUS=: $ready_msg"
        n=$(count_lines 0 "$(msg_re "$D1" READY=1)")
        [ "$n" -eq 1 ] && pass "one READY=1 at start-up" || fail "$n READY=1 messages at start-up"
else
        wait_for_daemon
        show_log
        fail "no READY=1 from sockvisord (pid $D1) within 20 s"
        ready_line=$(nlines)
fi
wait_for_daemon
[ "$(ctl pid)" = "$D1" ] && pass "sockvisorctl pid names the service's main pid $D1" ||
        fail "sockvisorctl pid says '$(ctl pid)', the service manager started $D1"
track $(ctl pid app)

# 2. One FDSTORE=1 per held socket, named after its section, carrying that very socket.
web_ino=$(socket_inode web)
[ -n "$web_ino" ] || die "no inode for socket web: $(ctl sockets)"
wait_line 0 '^fdstore web ' 5 || true
n_store=$(count_lines 0 "$(msg_re "$D1" FDSTORE=1)")
n_web=$(count_lines 0 "^msg $D1 (.*[|])?FDSTORE=1[|](.*[|])?FDNAME=web([|]|\$)|^msg $D1 (.*[|])?FDNAME=web[|](.*[|])?FDSTORE=1([|]|\$)")
[ "$n_store" -eq 1 ] && [ "$n_web" -eq 1 ] && pass "exactly one FDSTORE=1 message, with FDNAME=web" ||
        fail "$n_store FDSTORE=1 message(s), $n_web with FDNAME=web (1 expected): $(grep FDSTORE "$NLOG" || true)"
stored_ino=$(awk '$1 == "fdstore" && $2 == "web" { print $3; exit }' "$NLOG")
[ "$stored_ino" = "$web_ino" ] && pass "the stored fd is socket web (inode $web_ino)" ||
        fail "the fd store got inode '${stored_ino}', sockvisorctl sockets shows $web_ino for web"

# 1b. STATUS= is kept current: stopping and starting app changes it. A restart of app is
#     reported too if the daemon says anything about it (the counts may well not change).
last_status() { grep -oE "^msg $D1 (.*[|])?STATUS=[^|]*" "$NLOG" | tail -n 1 | sed 's/.*STATUS=//'; }
from=$(nlines)
ctl restart app >"$T/restart.out" 2>&1 || fail "restart app failed: $(cat "$T/restart.out")"
track $(ctl pid app)
sleep 0.3
n=$(count_lines "$from" "$(msg_re "$D1" 'STATUS=[^|]*')")
log "note: $n STATUS= update(s) during a restart of app; last status: '$(last_status)'"
for step in stop start; do
        before=$(last_status)
        from=$(nlines)
        ctl "$step" app >"$T/$step.out" 2>&1 || fail "$step app failed: $(cat "$T/$step.out")"
        if wait_line "$from" "$(msg_re "$D1" 'STATUS=[^|]*')" 5; then
                sleep 0.2
                after=$(last_status)
                [ "$after" != "$before" ] && pass "STATUS= updated by '$step app': '$before' -> '$after'" ||
                        fail "STATUS= re-sent but unchanged by '$step app': '$after'"
        else
                fail "no STATUS= update after '$step app' (status stays '$before')"
        fi
done
track $(ctl pid app)

# 3. reload (unchanged file): RELOADING=1, then READY=1. Then the same through SIGHUP,
#    which the service manager forwards to the main pid (ExecReload=kill -HUP $MAINPID).
for how in sockvisorctl SIGHUP; do
        from=$(nlines)
        if [ "$how" = SIGHUP ]; then
                kill -HUP "$FAKESD_PID"
        else
                ctl reload >"$T/reload.out" 2>&1 || fail "reload failed: $(cat "$T/reload.out")"
        fi
        if wait_line "$from" "$(msg_re "$D1" RELOADING=1)" 10; then
                rl=$LINE
                wait_line "$rl" "$(msg_re "$D1" READY=1)" 10 &&
                        pass "reload by $how: RELOADING=1 (line $rl) then READY=1 (line $LINE)" ||
                        fail "reload by $how: RELOADING=1 but no READY=1 after it"
                grep -q "MONOTONIC_USEC=" <<<"$(line_at "$rl")" && pass "RELOADING=1 carries MONOTONIC_USEC= (Type=notify-reload)" ||
                        log "note: RELOADING=1 without MONOTONIC_USEC= (systemd's Type=notify-reload wants it)"
        else
                fail "reload by $how: no RELOADING=1"
        fi
done

# 5. A socket added by a reload is stored; removed by the next reload, it is dropped from
#    the store (FDSTOREREMOVE=1 with FDNAME=extra) and really closed.
write_config extra
from=$(nlines)
ctl reload >"$T/reload.out" 2>&1 || fail "reload adding 'extra' failed: $(cat "$T/reload.out")"
track $(ctl pid extraapp 2>/dev/null || true)
extra_ino=$(socket_inode extra)
if wait_line "$from" '^fdstore extra ' 10; then
        ino=$(line_at "$LINE" | awk '{ print $3 }')
        [ "$ino" = "$extra_ino" ] && pass "socket extra stored after the reload (inode $ino)" ||
                fail "stored inode $ino for extra, sockvisorctl sockets shows '$extra_ino'"
else
        fail "socket extra was not stored after the reload that added it"
fi
n=$(count_lines "$from" "$(msg_re "$D1" FDSTORE=1)")
[ "$n" -eq 1 ] && pass "that reload stored only the new socket" || fail "that reload sent $n FDSTORE=1 messages (1 expected)"
write_config base
from=$(nlines)
ctl reload >"$T/reload.out" 2>&1 || fail "reload removing 'extra' failed: $(cat "$T/reload.out")"
if wait_line "$from" "^msg $D1 (.*[|])?(FDSTOREREMOVE=1[|](.*[|])?FDNAME=extra|FDNAME=extra[|](.*[|])?FDSTOREREMOVE=1)([|]|\$)" 15; then
        pass "FDSTOREREMOVE=1 with FDNAME=extra after the reload that removed it"
        [ -n "$(find_line "$from" '^fdremove extra 1$')" ] && pass "the service manager dropped its one 'extra' fd" ||
                fail "the fd store did not drop exactly one 'extra' fd: $(grep fdremove "$NLOG" || true)"
else
        fail "no FDSTOREREMOVE=1 for 'extra' within 15 s of the reload that removed it"
fi
port_refuses "$PEXTRA" && pass "port $PEXTRA of the removed socket refuses connections" ||
        fail "something still accepts on $PEXTRA after 'extra' was removed"
n=$(count_lines 0 "$(msg_re "$D1" FDSTORE=1)")
[ "$n" -eq 2 ] && pass "2 FDSTORE=1 messages over the life of the first daemon (web, extra)" ||
        fail "$n FDSTORE=1 messages over the life of the first daemon (2 expected: web, extra)"

# 4. Restart of sockvisord itself (SIGUSR1: the service manager's restart) under load: the
#    new daemon gets the stored socket back as LISTEN_FDS, adopts it, and no request fails.
from=$(nlines)
dlog_from=$(wc -l <"$T/daemon.log")
"$LOADCLIENT" -p "$PORT" -c 8 -d 5 >"$T/load.out" 2>"$T/load.err" &
LOAD_PID=$!
STARTED_PIDS+=("$LOAD_PID")
sleep 1
kill -USR1 "$FAKESD_PID"
D2=
if wait_line "$from" '^start [0-9]+ [0-9]+$' 20; then
        start_line=$LINE
        read -r _ D2 nfds <<<"$(line_at "$start_line")"
        [ "$nfds" = 1 ] && pass "the new sockvisord ($D2) got 1 stored fd" || fail "the new sockvisord got $nfds stored fds (1 expected)"
        [ -n "$(find_line "$from" "$(msg_re "$D1" STOPPING=1)")" ] && pass "STOPPING=1 from the old daemon $D1" ||
                fail "no STOPPING=1 from the old daemon $D1"
        ex=$(awk -v from="$from" -v to="$start_line" 'NR > from && NR < to && $1 == "exit" { print $2 }' "$NLOG")
        [ "$ex" = 0 ] && pass "the old daemon exited 0" || fail "the old daemon's exit: '$ex'"
        env_names=$(tr '\0' '\n' <"/proc/$D2/environ" 2>/dev/null | sed -n 's/^LISTEN_FDNAMES=//p')
        [ "$env_names" = web ] && pass "the new daemon was started with LISTEN_FDNAMES=web" ||
                fail "the new daemon's LISTEN_FDNAMES: '$env_names'"
else
        show_log
        fail "sockvisord was not started again within 20 s of SIGUSR1"
fi
if [ -n "$D2" ]; then
        wait_line "$start_line" "$(msg_re "$D2" READY=1)" 20 && pass "READY=1 from the new daemon $D2" ||
                fail "no READY=1 from the new daemon $D2"
fi
wait_for_daemon
[ -n "$D2" ] && [ "$(ctl pid)" = "$D2" ] && pass "sockvisorctl now answers from the new daemon $D2" ||
        fail "sockvisorctl pid says '$(ctl pid)', the new daemon is '$D2'"
track $(ctl pid app)
new_log=$(tail -n +"$((dlog_from + 1))" "$T/daemon.log")
grep -q "socket 'web': adopted fd [0-9]* from the service manager" <<<"$new_log" &&
        pass "the new daemon adopted socket web: $(grep -o "socket 'web': adopted fd [0-9]* from the service manager" <<<"$new_log")" ||
        fail "the new daemon's log does not say it adopted socket web"
grep -q "socket 'web': listening on" <<<"$new_log" && fail "the new daemon bound socket web again" ||
        pass "the new daemon did not bind socket web"
ino=$(socket_inode web)
[ "$ino" = "$web_ino" ] && pass "socket web keeps inode $web_ino across the restart of sockvisord" ||
        fail "socket web is inode '$ino' after the restart of sockvisord, was $web_ino"
body=$(http_get "$PORT")
[[ "$body" == pid=* ]] && pass "the demo answers after the restart: $body" || fail "the demo does not answer after the restart: '$body'"
load_rc=0
wait "$LOAD_PID" || load_rc=$?
summary=$(cat "$T/load.out")
log "load: $summary"
sed 's/^/    /' "$T/load.err"
failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$summary")
ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$summary")
[ "$load_rc" -eq 0 ] && [ "${failed:-x}" = 0 ] && [ "${ok:-0}" -gt 0 ] &&
        pass "0 failed requests out of $ok across the restart of sockvisord" ||
        fail "load client reported failures across the restart of sockvisord (rc $load_rc): $summary"
if [ -n "$D2" ]; then
        n_add=$(count_lines 0 '^fdstore web ')
        n_dup=$(count_lines "$start_line" '^fddup web ')
        [ "$n_add" -eq 1 ] && pass "the store held one fd for web throughout (the new daemon re-sent it $n_dup time(s), deduplicated)" ||
                fail "$n_add fds stored for web (1 expected): $(grep '^fdstore' "$NLOG" || true)"
fi

# 6. SIGTERM to the service manager: STOPPING=1, the daemon exits 0, and so does it.
from=$(nlines)
worker=$(ctl pid app)
kill -TERM "$FAKESD_PID"
fakesd_rc=
for _ in $(seq 1 300); do
        kill -0 "$FAKESD_PID" 2>/dev/null || break
        sleep 0.1
done
if kill -0 "$FAKESD_PID" 2>/dev/null; then
        fail "sv-fakesystemd still running 30 s after SIGTERM"
        kill -KILL "$FAKESD_PID"
fi
fakesd_rc=0
wait "$FAKESD_PID" || fakesd_rc=$?
DAEMON_PID=
[ -n "$(find_line "$from" "$(msg_re "${D2:-x}" STOPPING=1)")" ] && pass "STOPPING=1 on SIGTERM" || fail "no STOPPING=1 on SIGTERM"
[ -n "$(find_line "$from" '^exit 0$')" ] && pass "sockvisord exited 0" ||
        fail "sockvisord's exit: $(awk -v from="$from" 'NR > from && $1 == "exit"' "$NLOG")"
[ "$fakesd_rc" = 0 ] && pass "sv-fakesystemd exited 0" || fail "sv-fakesystemd exited $fakesd_rc"
wait_gone "$worker" 5 && pass "the worker stopped with the daemon" || fail "worker $worker survived"
port_refuses "$PORT" && pass "port $PORT closed once the service and its fd store are gone" ||
        fail "something still accepts on $PORT"

# Over the whole run: every message came from the main pid (a worker that inherited our
# NOTIFY_SOCKET would show up here), every fd sent was stored, the watchdog was fed.
ign=$(grep -c '^ignored' "$NLOG" || true)
[ "$ign" -eq 0 ] && pass "no message from a process other than the main pid, none malformed" ||
        fail "$ign message(s) ignored: $(grep -B1 '^ignored' "$NLOG")"
closed=$(grep -c '^fdclose' "$NLOG" || true)
[ "$closed" -eq 0 ] && pass "no fd sent without FDSTORE=1" || fail "fds sent without FDSTORE=1: $(grep '^fdclose' "$NLOG")"
grep -q '^watchdog-timeout' "$NLOG" && fail "the watchdog fired: $(grep '^watchdog-timeout' "$NLOG")" ||
        pass "no watchdog timeout (WATCHDOG_USEC=$WATCHDOG_USEC)"
for d in $D1 $D2; do
        [ "$(count_lines 0 "$(msg_re "$d" WATCHDOG=1)")" -gt 0 ] && pass "daemon $d sent WATCHDOG=1" ||
                fail "daemon $d never sent WATCHDOG=1"
done
[ "$FAILURES" -eq 0 ] || show_log
finish
