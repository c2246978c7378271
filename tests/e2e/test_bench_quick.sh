#!/bin/bash
# The benchmark harness in its quick mode (bench/run.sh --quick), so that it cannot rot:
# it must run on this build's sockvisord and sockvisorctl without network, print its table,
# and show sockvisor with no failed request in scenarios a-d and u (sockvisord upgraded in
# place under load, keeping its pid). In e (a worker killed with SIGKILL) the requests that
# worker had already accepted are lost whoever supervises it: at most one per concurrent
# client (4 in quick mode), and nothing may be refused.
. "$(dirname "$0")/lib.sh"

REPO=$(cd "$(dirname "$0")/../.." && pwd)
rc=0
TMPDIR=$T timeout 240 bash "$REPO/bench/run.sh" --quick --build-dir "$BUILD" >"$T/bench.out" 2>"$T/bench.err" || rc=$?
sed 's/^/    /' "$T/bench.out"
if [ "$rc" -eq 0 ]; then
        pass "bench/run.sh --quick exited 0"
else
        fail "bench/run.sh --quick exited $rc"
        tail -n 40 "$T/bench.err" | sed 's/^/    /'
fi

# Columns: | scenario | supervisor | requests | failed | refused | reset | timeout | short | gap ms | ...
col() { awk -F'|' -v c="$2" '{ v = $(c + 1); gsub(/ /, "", v); print v; exit }' <<<"$1"; }
for sc in a b c d e; do
        row=$(grep -E "^\| $sc: " "$T/bench.out" | grep -F "| sockvisor |" || true)
        if [ -z "$row" ]; then
                fail "no sockvisor row for scenario $sc"
                continue
        fi
        requests=$(col "$row" 3); failed=$(col "$row" 4); refused=$(col "$row" 5)
        case "$requests" in ''|*[!0-9]*) fail "scenario $sc: sockvisor row has no figures: $row"; continue ;; esac
        [ "$requests" -gt 0 ] || { fail "scenario $sc: no request was made"; continue; }
        if [ "$sc" = e ]; then
                [ "$refused" = 0 ] && [ "$failed" -le 4 ] &&
                        pass "scenario e: sockvisor refused 0, lost $failed in flight at the SIGKILL (of $requests)" ||
                        fail "scenario e: sockvisor refused $refused, failed $failed: $row"
        else
                [ "$failed" = 0 ] && pass "scenario $sc: sockvisor failed=0 of $requests" ||
                        fail "scenario $sc: sockvisor failed=$failed: $row"
        fi
done
for peer in "self-binding, stop+start, no SO_REUSEADDR" "self-binding, stop+start, SO_REUSEADDR"; do
        n=$(grep -E '^\| [a-e]: ' "$T/bench.out" | grep -cF "| $peer |" || true)
        [ "$n" -eq 5 ] && pass "5 rows for '$peer'" || fail "expected 5 rows for '$peer', found $n"
done
# u: sockvisord upgraded in place under load (plain, then --exec COPY): nothing fails, same pid.
row=$(grep -E '^\| u: ' "$T/bench.out" | grep -F "| sockvisor |" || true)
failed=$(col "$row" 4)
[ "$failed" = 0 ] && grep -qF "(same)" <<<"$row" && pass "scenario u: sockvisor failed=0, same daemon pid" ||
        fail "scenario u: sockvisor row: ${row:-none}"
grep -qE "^\| sockvisor \| sockvisorctl status \| [0-9.]+ \|" "$T/bench.out" &&
        pass "control-plane row for sockvisor" || fail "no control-plane row for sockvisor"
# Nothing the harness started is left running.
# (No grep with the pattern in its own arguments: it would find itself.)
left=
for f in /proc/[0-9]*/cmdline; do
        p=${f#/proc/}; p=${p%/cmdline}
        [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
        c=$(tr '\0' ' ' <"$f" 2>/dev/null) || continue
        case "$c" in *"$T/sockvisor-bench."*) left+=" $p: $c" ;; esac
done
[ -z "$left" ] && pass "the harness left no process behind" || fail "processes left behind: $left"
finish
