#!/bin/bash
# A supervisord-style config run by a real daemon: [include] of conf.d/*.ini, a [group:],
# %(here)s and %(process_num)02d (each of numprocs = 3 runs its own command line), and
# durations like 200ms. Then the names every command takes: `restart GROUP`,
# `stop GROUP:*`, `restart pool:1`, `stop pool:2` touch only what they name; a typo gets a
# suggestion; a bad line in an included file is refused naming FILE:LINE, and a reload
# that meets it changes nothing that runs.
. "$(dirname "$0")/lib.sh"

ETC=$T/etc
mkdir -p "$ETC/conf.d"
cat >"$ETC/sockvisor.ini" <<EOF2
; the main file: what runs is in conf.d, as supervisord's [include] has it
[sockvisord]
control = $CTL

[include]
files = conf.d/*.ini
EOF2
cat >"$ETC/conf.d/10-pool.ini" <<'EOF2'
[program:pool]
command = /bin/sh -c 'echo %(program_name)s-%(process_num)02d >%(here)s/%(program_name)s-%(process_num)d.out && exec sleep 300'
numprocs = 3
startsecs = 200ms
stopwaitsecs = 2s
EOF2
cat >"$ETC/conf.d/20-backend.ini" <<'EOF2'
[program:web]
command = /bin/sleep 301
startsecs = 0.2s
stopwaitsecs = 2s

[program:api]
command = /bin/sleep 302
startsecs = 200ms
stopwaitsecs = 1m30s

[group:backend]
programs = web, api
EOF2

pid_of() { status_rows "$1" | awk -v n="$1" '$1 == n { print $3; exit }'; }
all_pids() { for n in pool:0 pool:1 pool:2 web api; do printf '%s=%s ' "$n" "$(pid_of "$n")"; done; }
wait_running() { # NAME...
        local n
        for n in "$@"; do wait_state "$n" 10 RUNNING || fail "$n is $STATE, not RUNNING"; done
}

"$SOCKVISORD" -t -c "$ETC/sockvisor.ini" >"$T/check.out" 2>&1 && pass "sockvisord -t accepts the config" ||
        fail "sockvisord -t: $(cat "$T/check.out")"
start_daemon "$ETC/sockvisor.ini"
wait_running pool:0 pool:1 pool:2 web api
ctl status | sed 's/^/    /'

# %(process_num)02d and %(here)s: each instance ran its own command, in conf.d
for k in 0 1 2; do
        got=$(cat "$ETC/conf.d/pool-$k.out" 2>/dev/null || true)
        [ "$got" = "pool-0$k" ] && pass "pool:$k ran with %(process_num)02d = 0$k in %(here)s" ||
                fail "pool:$k wrote '$got' to $ETC/conf.d/pool-$k.out"
done

# status shows group membership
ctl status --json >"$T/status.json"
grep '"program":"web"' "$T/status.json" | grep -q '"groups":\["backend"\]' &&
        grep '"program":"pool"' "$T/status.json" | grep -q '"groups":\[\]' &&
        pass "status --json: web is in groups [\"backend\"], pool in none" ||
        fail "groups in status --json: $(cat "$T/status.json")"
ctl status web | grep -q '^  group: backend$' && pass "status text: a 'group: backend' line under web" ||
        fail "status web: $(ctl status web 2>&1 | tr '\n' ';')"

# restart GROUP: web and api get new pids, the pool keeps its own
before=$(all_pids)
ctl restart backend >"$T/restart.out" 2>&1 || fail "restart backend: $(cat "$T/restart.out")"
wait_running web api
after=$(all_pids)
log "before: $before"
log "after:  $after"
for n in web api; do
        b=$(tr ' ' '\n' <<<"$before" | sed -n "s/^$n=//p") a=$(pid_of "$n")
        [ -n "$a" ] && [ "$a" != "$b" ] && pass "restart backend: $n restarted ($b -> $a)" || fail "restart backend: $n $b -> $a"
done
for n in pool:0 pool:1 pool:2; do
        b=$(tr ' ' '\n' <<<"$before" | sed -n "s/^$n=//p")
        [ "$(pid_of "$n")" = "$b" ] && pass "restart backend: $n untouched" || fail "restart backend touched $n"
done

# stop GROUP:*: both stop, nothing else does; start GROUP brings them back
pool_before=$(for n in pool:0 pool:1 pool:2; do pid_of "$n"; done | tr '\n' ' ')
ctl stop 'backend:*' >"$T/stop.out" 2>&1 || fail "stop backend:*: $(cat "$T/stop.out")"
[ "$(state_of web)" = STOPPED ] && [ "$(state_of api)" = STOPPED ] && pass "stop backend:*: web and api STOPPED" ||
        fail "after stop backend:*: web $(state_of web), api $(state_of api)"
[ "$(for n in pool:0 pool:1 pool:2; do pid_of "$n"; done | tr '\n' ' ')" = "$pool_before" ] &&
        pass "stop backend:*: the pool still runs, same pids" || fail "stop backend:* touched the pool"
ctl start backend >"$T/start.out" 2>&1 || fail "start backend: $(cat "$T/start.out")"
[ "$(state_of web)" = RUNNING ] && [ "$(state_of api)" = RUNNING ] && pass "start backend: both RUNNING" ||
        fail "after start backend: web $(state_of web), api $(state_of api)"

# restart pool:1: one instance, as status names it
p0=$(pid_of pool:0) p1=$(pid_of pool:1) p2=$(pid_of pool:2) web=$(pid_of web)
ctl restart pool:1 >"$T/restart1.out" 2>&1 && pass "restart pool:1 accepted" ||
        fail "restart pool:1: $(cat "$T/restart1.out")"
wait_running pool:1
[ "$(pid_of pool:1)" != "$p1" ] && [ -n "$(pid_of pool:1)" ] && pass "restart pool:1: new pid ($p1 -> $(pid_of pool:1))" ||
        fail "restart pool:1: pid $p1 -> $(pid_of pool:1)"
[ "$(pid_of pool:0)" = "$p0" ] && [ "$(pid_of pool:2)" = "$p2" ] && [ "$(pid_of web)" = "$web" ] &&
        pass "restart pool:1: pool:0, pool:2 and web untouched" ||
        fail "restart pool:1 touched others: $(all_pids)"
gone "$p1" && pass "restart pool:1: the old process is gone" || fail "pid $p1 still there"

# stop pool:2 / start pool:2
ctl stop pool:2 >"$T/stop2.out" 2>&1 || fail "stop pool:2: $(cat "$T/stop2.out")"
[ "$(state_of pool:2)" = STOPPED ] && [ "$(state_of pool:0)" = RUNNING ] && [ "$(state_of pool:1)" = RUNNING ] &&
        pass "stop pool:2: only pool:2 STOPPED" || fail "after stop pool:2: $(ctl status pool 2>&1 | tr '\n' ';')"
ctl start pool:2 >"$T/start2.out" 2>&1 || fail "start pool:2: $(cat "$T/start2.out")"
[ "$(state_of pool:2)" = RUNNING ] && pass "start pool:2: RUNNING again" || fail "start pool:2: $(state_of pool:2)"
ctl status pool:0 | grep -q '^pool:0 ' && ! ctl status pool:0 | grep -q '^pool:1 ' &&
        pass "status pool:0 shows that instance alone" || fail "status pool:0: $(ctl status pool:0 2>&1 | tr '\n' ';')"

# logfiles (what tail and logs read) takes the same names: a group is its programs
progs=$(ctl logfiles backend 2>&1 | awk '{ print $1 }' | sort -u | tr '\n' ' ')
[ "$progs" = "api web " ] && pass "logfiles backend: api and web" || fail "logfiles backend: '$progs'"
progs=$(ctl logfiles pool:1 2>&1 | awk '{ print $1 }' | sort -u | tr '\n' ' ')
[ "$progs" = "pool " ] && pass "logfiles pool:1: pool's files, shared by its instances" || fail "logfiles pool:1: '$progs'"

# names that are wrong: a suggestion, and nothing done
rc=0
ctl restart backnd >"$T/typo.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q "no program or group 'backnd'; did you mean 'backend'?" "$T/typo.out" &&
        pass "restart backnd: refused (exit $rc) with 'did you mean backend'" || fail "typo: rc $rc: $(cat "$T/typo.out")"
rc=0
ctl stop pool:7 >"$T/range.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q "pool has instances pool:0 to pool:2" "$T/range.out" && [ "$(state_of pool:0)" = RUNNING ] &&
        pass "stop pool:7: refused, the instances named" || fail "pool:7: rc $rc: $(cat "$T/range.out")"

# a bad line in an included file: named FILE:LINE, by -t and by a reload that changes nothing
printf '[program:extra]\ncommand = /bin/sleep 303\nnumprocs = lots\n' >"$ETC/conf.d/30-extra.ini"
rc=0
"$SOCKVISORD" -t -c "$ETC/sockvisor.ini" >"$T/check2.out" 2>&1 || rc=$?
[ "$rc" -eq 78 ] && grep -q "conf.d/30-extra.ini:3: \[program:extra\] numprocs" "$T/check2.out" &&
        pass "sockvisord -t: exit 78, error at conf.d/30-extra.ini:3" || fail "-t: rc $rc: $(cat "$T/check2.out")"
before=$(all_pids)
rc=0
ctl reload >"$T/reload.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q "conf.d/30-extra.ini:3: " "$T/reload.out" && pass "reload refused, naming conf.d/30-extra.ini:3" ||
        fail "reload with a bad include: rc $rc: $(cat "$T/reload.out")"
[ "$(all_pids)" = "$before" ] && pass "after the refused reload every program runs on, same pids" ||
        fail "the refused reload changed what runs: $before -> $(all_pids)"
# fixed: the reload reads the includes again and starts the new program
printf '[program:extra]\ncommand = /bin/sleep 303\nstartsecs = 100ms\n' >"$ETC/conf.d/30-extra.ini"
ctl reload >"$T/reload2.out" 2>&1 || fail "reload: $(cat "$T/reload2.out")"
wait_state extra 10 RUNNING && pass "reload read conf.d again: extra RUNNING" || fail "extra is $STATE"
[ "$(all_pids)" = "$before" ] && pass "the reload left the others alone" || fail "reload changed others: $(all_pids)"

# upgrade: the next image parses the bytes read then (main file and includes), not the
# files, which say otherwise now
before=$(all_pids)
printf '[program:extra]\ncommand = /bin/sleep 303\nnumprocs = lots\n' >"$ETC/conf.d/30-extra.ini"
ctl upgrade >"$T/upgrade.out" 2>&1 && pass "upgrade with includes: $(tail -n 1 "$T/upgrade.out")" ||
        fail "upgrade: $(cat "$T/upgrade.out")"
[ "$(all_pids)" = "$before" ] && [ "$(state_of extra)" = RUNNING ] && pass "after the upgrade: same pids, extra still runs" ||
        fail "after the upgrade: $before -> $(all_pids), extra $(state_of extra)"
ctl status --json web | grep -q '"groups":\["backend"\]' && pass "after the upgrade: web still in group backend" ||
        fail "groups after the upgrade: $(ctl status --json web 2>&1)"
p0=$(pid_of pool:0)
ctl restart pool:2 >"$T/restart2.out" 2>&1 && [ "$(pid_of pool:0)" = "$p0" ] && wait_state pool:2 10 RUNNING &&
        pass "after the upgrade: restart pool:2 touches pool:2 alone" || fail "restart pool:2: $(cat "$T/restart2.out")"

stop_daemon
[ "$DAEMON_RC" -eq 0 ] && pass "sockvisord exited 0" || fail "sockvisord exit $DAEMON_RC"
finish
