#!/bin/bash
# Runs INSIDE the container booted by run-in-systemd.sh (systemd 252 is PID 1), as root,
# in /lab/files, which holds:
#   stage/          `DESTDIR=stage cmake --install BUILD`: the binaries, the configured
#                   sockvisord.service, sockvisord.socket and sockvisor.ini where the
#                   project installs them (with the default prefix: /usr/local/...)
#   sv-loadclient   the load client from BUILD/tests
#   settings        optional: SOCKET_UNIT=0 (service only, sockvisord binds 8080 itself),
#                   SANITIZER_ENV="ASAN_OPTIONS=... UBSAN_OPTIONS=..." (sanitizer build)
# Checks the shipped units end to end: start, restart of a program under load, reload,
# upgrade of sockvisord in place under load (same MainPID, sockets and workers), restart of
# sockvisord itself under load (sockets kept by systemd), stop.
set -uo pipefail

SOCKET_UNIT=1
SANITIZER_ENV=
[ -r settings ] && . ./settings
FAILURES=0
LAB=$PWD
W=$(mktemp -d /tmp/sv-inside.XXXXXX)

log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*"; }
fail() { log "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
pass() { log "ok: $*"; }
check() { # DESCRIPTION COMMAND...: pass or fail on the command's status
        local what=$1
        shift
        if "$@"; then pass "$what"; else fail "$what"; fi
}
on_exit() {
        local rc=$?
        if [ "$FAILURES" -ne 0 ] || [ "$rc" -ne 0 ]; then
                log "--- systemctl status sockvisord.socket sockvisord.service"
                systemctl --no-pager -l status sockvisord.socket sockvisord.service 2>&1 | sed 's/^/    /'
                log "--- journalctl -u sockvisord.socket -u sockvisord.service"
                journalctl --no-pager -o short-precise -u sockvisord.socket -u sockvisord.service 2>&1 | sed 's/^/    /'
        fi
        cp "$W"/load.* "${LAB_OUT:-/tmp}/" 2>/dev/null
        rm -rf "$W"
}
trap on_exit EXIT

# --- install exactly what `cmake --install` installs ---
[ -d stage ] || { log "FATAL: no stage/ in $LAB"; exit 1; }
cp -r --preserve=mode stage/. /
UNIT=$(find stage -name sockvisord.service -path '*systemd/system*' | head -n 1)
[ -n "$UNIT" ] || { log "FATAL: the install has no sockvisord.service"; exit 1; }
[ -n "$(find stage -name sockvisord.socket)" ] || { log "FATAL: the install has no sockvisord.socket"; exit 1; }
UNIT=/${UNIT#stage/}
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT")
SOCKVISORD=${EXEC%% *}
CONF=$(sed -n 's/.* -c \([^ ]*\).*/\1/p' <<<"$EXEC")
[ -x "$SOCKVISORD" ] && [ -r "$CONF" ] ||
        { log "FATAL: ExecStart= '$EXEC' names a binary or config that the install did not provide"; exit 1; }
log "installed: unit $UNIT, ExecStart=$EXEC"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
command -v sockvisorctl >/dev/null || { log "FATAL: sockvisorctl not on PATH after the install"; exit 1; }
LOADCLIENT=$LAB/sv-loadclient
if [ -n "$SANITIZER_ENV" ]; then
        mkdir -p /etc/systemd/system/sockvisord.service.d
        { echo "[Service]"; for e in $SANITIZER_ENV; do echo "Environment=$e"; done; } \
                >/etc/systemd/system/sockvisord.service.d/sanitizer.conf
        export $SANITIZER_ENV
        log "sanitizer build: $SANITIZER_ENV (service drop-in)"
fi
timeout 30 systemctl daemon-reload || { log "FATAL: daemon-reload failed"; exit 1; }

# --- helpers ---
prop() { systemctl show -p "$1" --value sockvisord.service; } # PROPERTY
http_get() { curl -s --max-time 5 "http://127.0.0.1:$1/"; }
# Inodes of the sockets listening on 127.0.0.1:PORT, one per line (from `ss -e`).
inodes() { ss -Hltne "sport = :$1" 2>/dev/null | grep -o 'ino:[0-9]*' | cut -d: -f2; }
holders() { ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:.*'; }
# PROGRAM STATE PID GEN from `sockvisorctl status` (the state is the first state word).
status_of() {
        timeout 10 sockvisorctl status 2>/dev/null | awk -v n="$1" '{
                for (k = 1; k <= NF; k++)
                        if ($k ~ /^(STOPPED|STARTING|RUNNING|BACKOFF|STOPPING|EXITED|FATAL)$/) break
                if ($1 == n && k <= NF - 2) { print $k, $(k + 1), $(k + 2); exit } }'
}
wait_running() { # PROGRAM SECONDS
        for _ in $(seq 1 $(($2 * 10))); do
                case $(status_of "$1") in RUNNING*) return 0 ;; esac
                sleep 0.1
        done
        return 1
}
wait_answer() { # PORT SECONDS PATTERN
        for _ in $(seq 1 $(($2 * 10))); do
                case $(http_get "$1") in $3) return 0 ;; esac
                sleep 0.1
        done
        return 1
}
load_start() { # NAME: 8 clients for 4 s on 8080
        "$LOADCLIENT" -p 8080 -c 8 -d 4 >"$W/load.$1.out" 2>"$W/load.$1.err" &
        LOAD_PID=$!
}
load_check() { # NAME
        local rc=0 summary failed ok
        wait "$LOAD_PID" || rc=$?
        summary=$(cat "$W/load.$1.out")
        log "load ($1): $summary"
        sed 's/^/    /' "$W/load.$1.err"
        failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$summary")
        ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$summary")
        if [ "$rc" -eq 0 ] && [ "${failed:-x}" = 0 ] && [ "${ok:-0}" -gt 0 ]; then
                pass "$1 under load: failed=0, ok=$ok"
        else
                fail "$1 under load: load client exit $rc: $summary"
        fi
}
ms_now() { date +%s%3N; }

log "PID 1: $(readlink /proc/1/exe), $(systemctl --version | head -n 1), virt $(systemd-detect-virt)"

# --- 1. start ---
units=sockvisord.service
[ "$SOCKET_UNIT" = 1 ] && units="sockvisord.socket sockvisord.service"
log "1. systemctl start $units"
t=$(ms_now)
rc=0
timeout 60 systemctl start $units || rc=$?
log "start took $(($(ms_now) - t)) ms (exit $rc)"
[ "$rc" -eq 0 ] || { fail "systemctl start $units exited $rc"; exit 1; }
check "sockvisord.service is active" [ "$(prop ActiveState)" = active ]
MAIN1=$(prop MainPID)
check "MainPID $MAIN1 is sockvisord" [ "$(cat /proc/"$MAIN1"/comm 2>/dev/null)" = sockvisord ]
if wait_running demo 10; then pass "sockvisorctl status: demo $(status_of demo)"; else
        fail "demo not RUNNING: '$(status_of demo)'"; timeout 10 sockvisorctl status; fi
reply=$(http_get 8080)
case $reply in pid=*) pass "127.0.0.1:8080 answers: $reply" ;; *) fail "127.0.0.1:8080 answers '$reply'" ;; esac
log "8080 held by: $(holders 8080)"
n=$(inodes 8080 | wc -l)
check "one listening socket on 8080 (found $n)" [ "$n" -eq 1 ]
if [ "$SOCKET_UNIT" = 1 ]; then
        holders 8080 | grep -q '"systemd",pid=1,' && holders 8080 | grep -q "\"sockvisord\",pid=$MAIN1," &&
                pass "sockvisord adopted the socket of sockvisord.socket (held by systemd and sockvisord)" ||
                fail "8080 is not one socket shared by systemd and sockvisord: $(holders 8080)"
fi

# --- 2. restart of a program under load ---
log "2. sockvisorctl restart demo under load"
load_start program-restart
sleep 1
if timeout 30 sockvisorctl restart demo >"$W/restart.out" 2>&1; then pass "sockvisorctl restart demo exited 0"; else
        fail "sockvisorctl restart demo: $(cat "$W/restart.out")"; fi
sed 's/^/    /' "$W/restart.out"
load_check program-restart
s=$(status_of demo)
check "demo RUNNING generation 2 after the restart ($s)" [ "$(awk '{ print $1, $3 }' <<<"$s")" = "RUNNING 2" ]

# --- 3. reload: a second program on a socket sockvisord binds itself ---
log "3. systemctl reload sockvisord with [socket:api] tcp://127.0.0.1:8081 and [program:api] added"
cat >>"$CONF" <<'EOF'

[socket:api]
listen = tcp://127.0.0.1:8081

[program:api]
command = sockvisor-demo
sockets = api
ready = notify
output = journal
EOF
"$SOCKVISORD" -t -c "$CONF" >"$W/t.out" 2>&1 || fail "sockvisord -t rejects the changed config: $(cat "$W/t.out")"
rc=0
timeout 30 systemctl reload sockvisord || rc=$?
check "systemctl reload sockvisord exited 0 ($rc)" [ "$rc" -eq 0 ]
if wait_answer 8081 10 '*program=api*'; then pass "new program api answers on 8081: $(http_get 8081)"; else
        fail "8081 does not answer after the reload: '$(http_get 8081)'"; fi
check "api RUNNING ($(status_of api))" wait_running api 5
check "demo untouched by the reload (generation 2: $(status_of demo))" [ "$(status_of demo | awk '{ print $3 }')" = 2 ]
check "still active after the reload ($(prop ActiveState))" [ "$(prop ActiveState)" = active ]
check "same MainPID after the reload ($MAIN1 -> $(prop MainPID))" [ "$(prop MainPID)" = "$MAIN1" ]

# --- journal: sockvisord's lines carry fields; output = journal streams a program's output ---
api_pid=$(timeout 10 sockvisorctl pid api 2>/dev/null | head -n 1)
journalctl --sync 2>/dev/null || true
fields=$(journalctl --no-pager -o verbose SOCKVISOR_PROGRAM=demo 2>/dev/null)
check "sockvisord's log lines about demo carry SOCKVISOR_PROGRAM, SOCKVISOR_PID and PRIORITY" \
        grep -q 'SOCKVISOR_PID=' <<<"$fields"
grep -q 'PRIORITY=' <<<"$fields" || fail "no PRIORITY= field on sockvisord's entries"
grep -q 'SOCKVISOR_GENERATION=' <<<"$fields" || fail "no SOCKVISOR_GENERATION= field on sockvisord's entries"
api_out=$(journalctl --no-pager -o cat SYSLOG_IDENTIFIER=api 2>/dev/null)
check "api's own stderr is in the journal under identifier 'api' (output = journal)" \
        grep -q "demo pid ${api_pid:-x} generation" <<<"$api_out"

# --- 3b. upgrade of sockvisord in place (re-exec, same pid) under load ---
log "3b. sockvisorctl upgrade under load"
ino80=$(inodes 8080 | head -n 1)
ino81=$(inodes 8081 | head -n 1)
pids_before=$(timeout 10 sockvisorctl pid all 2>/dev/null | sort | tr '\n' ' ')
load_start upgrade
sleep 1
# ActiveState sampled every 10 ms while the upgrades run: active, or reloading (RELOADING=1
# until the new image says READY=1), never anything else.
( for _ in $(seq 1 100); do prop ActiveState; sleep 0.01; done ) >"$W/states" &
states_pid=$!
rc=0
for i in 1 2 3; do
        out=$(timeout 20 sockvisorctl upgrade 2>&1) || { rc=$?; fail "upgrade $i exited $rc: $out"; }
        log "upgrade $i: $(tail -n 1 <<<"$out")"
        sleep 0.3
done
wait "$states_pid"
load_check upgrade
bad_states=$(grep -vxE 'active|reloading' "$W/states" | sort | uniq -c | tr '\n' ' ')
check "ActiveState stayed active throughout ($(sort "$W/states" | uniq -c | tr '\n' ' '))" [ -z "$bad_states" ]
check "active after the upgrades ($(prop ActiveState))" [ "$(prop ActiveState)" = active ]
check "same MainPID after the upgrades ($MAIN1 -> $(prop MainPID))" [ "$(prop MainPID)" = "$MAIN1" ]
check "8080: the same socket inode after the upgrades ($ino80 -> $(inodes 8080 | tr '\n' ' '))" [ "$(inodes 8080)" = "$ino80" ]
check "8081: the same socket inode after the upgrades ($ino81 -> $(inodes 8081 | tr '\n' ' '))" [ "$(inodes 8081)" = "$ino81" ]
pids_after=$(timeout 10 sockvisorctl pid all 2>/dev/null | sort | tr '\n' ' ')
check "the same workers after the upgrades ($pids_before -> $pids_after)" [ -n "$pids_before" -a "$pids_before" = "$pids_after" ]
check "sockvisord's log says it upgraded" \
        sh -c "journalctl --no-pager -u sockvisord.service | grep -q 'upgraded sockvisord'"

# --- 4. restart of sockvisord itself under load ---
log "4. systemctl restart sockvisord under load"
ino80=$(inodes 8080 | head -n 1)
ino81=$(inodes 8081 | head -n 1)
store1=$(prop NFileDescriptorStore)
log "before: MainPID $MAIN1, inode 8080 $ino80, inode 8081 $ino81, NFileDescriptorStore $store1"
load_start daemon-restart
sleep 1
t=$(ms_now)
rc=0
timeout 90 systemctl restart sockvisord || rc=$?
log "systemctl restart took $(($(ms_now) - t)) ms (exit $rc)"
check "systemctl restart sockvisord exited 0" [ "$rc" -eq 0 ]
load_check daemon-restart
MAIN2=$(prop MainPID)
store2=$(prop NFileDescriptorStore)
log "after: MainPID $MAIN2, inode 8080 $(inodes 8080 | tr '\n' ' ')8081 $(inodes 8081 | tr '\n' ' ')NFileDescriptorStore $store2"
check "active after the restart" [ "$(prop ActiveState)" = active ]
check "new MainPID ($MAIN1 -> $MAIN2)" [ "$MAIN2" != "$MAIN1" -a "$MAIN2" != 0 ]
check "8080: the same listening socket (inode $ino80) after the restart" [ "$(inodes 8080)" = "$ino80" ]
reply=$(http_get 8080)
case $reply in pid=*) pass "8080 answers after the restart: $reply" ;; *) fail "8080 answers '$reply' after the restart" ;; esac
check "NFileDescriptorStore >= 1 (sockvisord stores its sockets with FDSTORE=1): $store2" [ "${store2:-0}" -ge 1 ]
check "8081 (bound by sockvisord itself): the same socket (inode $ino81) after the restart, from the fd store" \
        [ "$(inodes 8081)" = "$ino81" ]
if wait_answer 8081 10 '*program=api*'; then pass "api answers on 8081 after the restart"; else
        fail "8081 does not answer after the restart: '$(http_get 8081)'"; fi

# --- 5. stop ---
log "5. systemctl stop sockvisord"
t=$(ms_now)
rc=0
timeout 90 systemctl stop sockvisord || rc=$?
log "stop took $(($(ms_now) - t)) ms (exit $rc)"
check "systemctl stop exited 0" [ "$rc" -eq 0 ]
check "ActiveState inactive ($(prop ActiveState))" [ "$(prop ActiveState)" = inactive ]
check "Result success, main exit status 0 ($(prop Result), $(prop ExecMainStatus))" \
        [ "$(prop Result)" = success -a "$(prop ExecMainStatus)" = 0 ]
left=$(pgrep -a -x sockvisord; pgrep -a -x sockvisor-demo)
check "no sockvisord or demo process left${left:+: $left}" [ -z "$left" ]
if [ "$SOCKET_UNIT" = 1 ]; then
        check "sockvisord.socket still listening while the service is stopped" [ "$(inodes 8080 | wc -l)" -eq 1 ]
        timeout 30 systemctl stop sockvisord.socket
        check "8080 closed after stopping sockvisord.socket" [ -z "$(inodes 8080)" ]
fi
check "8081 closed" [ -z "$(inodes 8081)" ]

# A sanitizer (or any crash) report in the journal is a failure even if systemd was happy.
bad=$(journalctl --no-pager -u sockvisord.service | grep -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|core dumped|code=dumped' | head -n 5)
check "no sanitizer report or crash in the journal${bad:+: $bad}" [ -z "$bad" ]

if [ "$FAILURES" -ne 0 ]; then
        log "$FAILURES check(s) failed"
        exit 1
fi
log "all checks passed"
