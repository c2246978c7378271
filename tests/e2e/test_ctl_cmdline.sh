#!/bin/bash
# sockvisorctl's command line against a real daemon: options after the command, '--',
# COMMAND --help and help COMMAND, "did you mean" for a mistyped command or option, every
# documented exit code (0, 1, 2, 69 for no daemon and for a stale socket, 77 for a user the
# 0600 control socket keeps out), why's exit codes on a port this test holds and on a free
# one (and as nobody below 1024: a bind failure that is not EADDRINUSE), and the bash
# completion (commands, options, program and instance names, socket names, and nothing,
# fast, with no daemon).
. "$(dirname "$0")/lib.sh"

WHYTOOL=$BUILD/tests/sv-whytool
COMPLETION=$(cd "$(dirname "$0")/../.." && pwd)/completion/sockvisorctl.bash
read -r PORT P_HELD P_FREE <<<"$("$FREEPORT" -n 3 | tr '\n' ' ')"

app_config "$DEMO" ""
cat >>"$T/sockvisor.ini" <<EOF

[program:pool]
command = $DEMO
sockets = web
numprocs = 2

[group:front]
programs = app,pool
EOF
start_daemon "$T/sockvisor.ini"
for _ in $(seq 1 100); do status_rows | grep -q "^pool:1 RUNNING " && break; sleep 0.1; done
status_rows | grep -q "^pool:1 RUNNING " || die "pool:1 is not RUNNING: $(status_rows)"

# Runs sockvisorctl ARGS...: RC, OUT (stdout) and ERR (stderr), never ending the script.
run() {
        RC=0
        "$SOCKVISORCTL" "$@" >"$T/run.out" 2>"$T/run.err" || RC=$?
        OUT=$(cat "$T/run.out")
        ERR=$(cat "$T/run.err")
}

# --- options after the command, and '--' ---
run status -s "$CTL"
[ "$RC" = 0 ] && grep -q "^pool:1 " <<<"$OUT" && pass "status -s SOCKET: the option after the command" ||
        fail "status -s (rc $RC): $OUT $ERR"
run restart --json app -s "$CTL"
[ "$RC" = 0 ] && tail -n 1 <<<"$OUT" | grep -q '"type":"ok"' && pass "restart --json app -s SOCKET: JSON lines, exit 0" ||
        fail "restart --json app (rc $RC): $OUT $ERR"
run --json -s "$CTL" status app
[ "$RC" = 0 ] && python3 -c 'import json, sys; assert [r["instance"] for r in json.loads(sys.stdin.read())] == ["app"]' <<<"$OUT" &&
        pass "--json before the command" || fail "--json status app (rc $RC): $OUT $ERR"
run -s "$CTL" status -- app
[ "$RC" = 0 ] && grep -q "^app " <<<"$OUT" && pass "'--' ends the options" || fail "status -- app (rc $RC): $OUT $ERR"

# --- help ---
run restart --help
[ "$RC" = 0 ] && grep -q "^Usage: sockvisorctl restart \[OPTIONS\] NAME...|all" <<<"$OUT" && grep -q -- "--json" <<<"$OUT" &&
        grep -q "^Example:" <<<"$OUT" && grep -q "sockvisorctl restart app" <<<"$OUT" && grep -q "77" <<<"$OUT" &&
        pass "restart --help: synopsis, options, example, exit codes" || fail "restart --help (rc $RC): $OUT $ERR"
cmd_help=$OUT
run help restart
[ "$RC" = 0 ] && [ "$OUT" = "$cmd_help" ] && pass "help restart prints what restart --help does" ||
        fail "help restart (rc $RC) differs: $OUT"
run help tail
grep -q -- "-f, --follow" <<<"$OUT" && grep -q -- "-n, --lines N" <<<"$OUT" && pass "help tail lists -f and -n" ||
        fail "help tail: $OUT"
run help
[ "$RC" = 0 ] && grep -q "^Commands:" <<<"$OUT" && grep -qE "^  2 +usage error" <<<"$OUT" &&
        grep -qE "^  77 +permission denied" <<<"$OUT" && pass "help alone: the commands and the exit codes" ||
        fail "help (rc $RC): $OUT"
run --help
[ "$OUT" = "$(sed -n p "$T/run.out")" ] && grep -q "^Commands:" <<<"$OUT" && pass "--help: the general help" || fail "--help: $OUT"

# --- did you mean ---
run -s "$CTL" stauts
[ "$RC" = 2 ] && grep -q "unknown command 'stauts'; did you mean 'status'?" <<<"$ERR" && [ -z "$OUT" ] &&
        pass "a mistyped command: exit 2, $(head -1 <<<"$ERR")" || fail "stauts (rc $RC): $ERR"
run -s "$CTL" tail --folow app
[ "$RC" = 2 ] && grep -q "unknown option '--folow' for 'tail'; did you mean '--follow'?" <<<"$ERR" &&
        grep -q "sockvisorctl tail --help" <<<"$ERR" && pass "a mistyped option: exit 2, $(head -1 <<<"$ERR")" ||
        fail "tail --folow (rc $RC): $ERR"
run help stauts
[ "$RC" = 2 ] && grep -q "did you mean 'status'?" <<<"$ERR" && pass "help of a mistyped command" || fail "help stauts (rc $RC): $ERR"

# --- exit codes ---
run -s "$CTL" restart nosuch
[ "$RC" = 1 ] && grep -q "nosuch" <<<"$ERR" && pass "the daemon answers ERR: exit 1" || fail "restart nosuch (rc $RC): $ERR"
run -s "$CTL" reload now
[ "$RC" = 2 ] && grep -q "'reload' takes no arguments" <<<"$ERR" && pass "an extra argument: exit 2" || fail "reload now (rc $RC): $ERR"
run -s "$T/nobody-here.sock" status
[ "$RC" = 69 ] && grep -q "no sockvisord control socket at" <<<"$ERR" && pass "no socket: exit 69" || fail "no socket (rc $RC): $ERR"
"$WHYTOOL" -o "$T/stale.ready" stale "$T/stale.sock"
run -s "$T/stale.sock" status
[ "$RC" = 69 ] && grep -q "nothing is listening" <<<"$ERR" && pass "a stale socket (refused): exit 69" ||
        fail "stale socket (rc $RC): $ERR"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
        chmod 755 "$T" # nobody may reach the socket file: its own 0600 is what refuses
        [ "$(stat -c %a "$CTL")" = 600 ] || fail "the control socket is $(stat -c %a "$CTL"), not 600"
        RC=0
        ERR=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$SOCKVISORCTL" -s "$CTL" status 2>&1 >/dev/null) || RC=$?
        [ "$RC" = 77 ] && grep -q "permission denied on $CTL" <<<"$ERR" && pass "permission denied: exit 77: $ERR" ||
                fail "as nobody (rc $RC): $ERR"
        chmod 700 "$T"
else
        log "skip: not root or no setpriv: exit 77 not tried"
fi

# --- why: 0 when a bind would work now, 1 when it would not (the cause printed), 2 usage ---
"$WHYTOOL" -t 60 -o "$T/held.ready" listen tcp "$P_HELD" &
STARTED_PIDS+=($!)
HOLDER_BG=$!
wait_for_file "$T/held.ready" || die "sv-whytool did not get ready"
HOLDER=$(cat "$T/held.ready")
for addr in "127.0.0.1:$P_HELD" ":$P_HELD" "$P_HELD" "tcp://127.0.0.1:$P_HELD"; do
        run why "$addr"
        [ "$RC" = 1 ] && grep -q "pid $HOLDER" <<<"$OUT" && pass "why $addr on a held port: exit 1, the holder named" ||
                fail "why $addr held (rc $RC): $OUT $ERR"
done
for addr in "127.0.0.1:$P_FREE" ":$P_FREE" "[::1]:$P_FREE" "tcp://127.0.0.1:$P_FREE"; do
        run why "$addr"
        [ "$RC" = 0 ] && grep -q "is free" <<<"$OUT" && pass "why $addr on a free port: exit 0" ||
                fail "why $addr free (rc $RC): $OUT $ERR"
done
run why --json "127.0.0.1:$P_HELD"
[ "$RC" = 1 ] && grep -q '"in_use":true' <<<"$OUT" && pass "why --json on a held port: exit 1 too" || fail "why --json (rc $RC): $OUT"
kill -KILL "$HOLDER_BG" 2>/dev/null || true
wait "$HOLDER_BG" 2>/dev/null || true
run why 0
[ "$RC" = 2 ] && pass "why 0: exit 2" || fail "why 0 (rc $RC): $ERR"
run why "host:http"
[ "$RC" = 2 ] && pass "why host:http: exit 2 ($(head -1 <<<"$ERR"))" || fail "why host:http (rc $RC): $ERR"
# Below 1024 as nobody the bind fails with EACCES, not EADDRINUSE: still exit 1, with the cause.
low=
for p in 1023 1022 1021 1020; do ss -Hltn "sport = :$p" | grep -q . || { low=$p; break; }; done
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && [ -n "$low" ] &&
        [ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)" -gt "$low" ]; then
        RC=0
        OUT=$(cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups "$SOCKVISORCTL" why "127.0.0.1:$low" 2>&1) || RC=$?
        [ "$RC" = 1 ] && grep -q "Permission denied" <<<"$OUT" && grep -q "CAP_NET_BIND_SERVICE" <<<"$OUT" &&
                pass "why 127.0.0.1:$low as nobody: exit 1, permission denied and the fix" || fail "why $low as nobody (rc $RC): $OUT"
else
        log "skip: not root, no setpriv or no free port below 1024: why's EACCES not tried"
fi

# --- bash completion ---
bash -n "$COMPLETION" && pass "bash -n $COMPLETION" || fail "bash -n $COMPLETION"
# Completes WORDS... (the last one is the word being completed) in a bash that sourced the
# script: COMPREPLY, one word per line.
complete_words() {
        bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
                 _sockvisorctl; printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETION" "$@"
}
has() { grep -qx -- "$1" <<<"$2"; } # WORD REPLY
got=$(complete_words "$SOCKVISORCTL" "")
has status "$got" && has restart "$got" && has why "$got" && has help "$got" && ! has __complete "$got" &&
        pass "commands: $(tr '\n' ' ' <<<"$got")" || fail "commands: $got"
got=$(complete_words "$SOCKVISORCTL" re)
[ "$(tr '\n' ' ' <<<"$got")" = "restart reload " ] && pass "'re': restart reload" || fail "'re': $got"
got=$(complete_words "$SOCKVISORCTL" -s "$CTL" status "")
has app "$got" && has pool "$got" && has pool:0 "$got" && has pool:1 "$got" &&
        pass "status NAME: programs and instances: $(tr '\n' ' ' <<<"$got")" || fail "status names: $got"
got=$(complete_words "$SOCKVISORCTL" -s "$CTL" restart p)
has pool "$got" && has pool:1 "$got" && ! has app "$got" && pass "restart p: $(tr '\n' ' ' <<<"$got")" || fail "restart p: $got"
got=$(complete_words "$SOCKVISORCTL" -s "$CTL" stop "")
has all "$got" && pass "stop offers all" || fail "stop: $got"
# bash splits "pool:" at the colon: what follows it is what is offered.
got=$(complete_words "$SOCKVISORCTL" -s "$CTL" restart pool :)
[ "$(tr '\n' ' ' <<<"$got")" = "* 0 1 " ] && pass "restart pool: (split at ':'): * 0 1" || fail "restart pool: : $got"
# Groups: GROUP, GROUP:* and GROUP:PROG for each member, as every command takes them.
got=$(complete_words "$SOCKVISORCTL" -s "$CTL" restart f)
[ "$(sort <<<"$got" | tr '\n' ' ')" = "front front:* front:app front:pool " ] &&
        pass "restart f: front front:* front:app front:pool" || fail "restart f: $got"
got=$(complete_words "$SOCKVISORCTL" -s "$CTL" stop front : p)
[ "$got" = pool ] && pass "stop front:p (split at ':'): pool" || fail "stop front : p: $got"
got=$(complete_words "$SOCKVISORCTL" tail --)
has --follow "$got" && has --lines "$got" && has --socket "$got" && ! has --json "$got" &&
        pass "tail --: its options: $(tr '\n' ' ' <<<"$got")" || fail "tail options: $got"
got=$(complete_words "$SOCKVISORCTL" -s "$CTL" exec --socket "")
[ "$got" = web ] && pass "exec --socket: the held socket names" || fail "exec --socket: $got"
got=$(complete_words "$SOCKVISORCTL" -s "$CTL" why "")
[ "$got" = "tcp://127.0.0.1:$PORT" ] && pass "why: the held sockets' addresses" || fail "why: $got"
t0=$(ms_now)
got=$(complete_words "$SOCKVISORCTL" -s "$T/nobody-here.sock" status "")
ms=$(($(ms_now) - t0))
[ -z "$got" ] && [ "$ms" -lt 1000 ] && pass "no daemon: no names, in $ms ms" || fail "no daemon: '$got' in $ms ms"
RC=0
out=$("$SOCKVISORCTL" -s "$T/nobody-here.sock" __complete names 2>&1) || RC=$?
[ "$RC" = 0 ] && [ -z "$out" ] && pass "__complete names with no daemon: nothing, exit 0" || fail "__complete (rc $RC): $out"

stop_daemon
finish
