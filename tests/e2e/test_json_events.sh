#!/bin/bash
# Machine-readable everything: status, sockets and pid --json parse with a strict JSON
# parser and say what the text says; restart --json is JSON lines with the exit code of
# the command; events --json streams the state first, then every transition as it
# happens, each chaining from the last word on its instance, through a restart, a failed
# rollout, a reload and an upgrade, until sockvisord stops.
. "$(dirname "$0")/lib.sh"

PORT=$("$FREEPORT")
MODE=$T/mode
echo good >"$MODE"
cat >"$T/sockvisor.ini" <<EOF
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT

[program:app]
command = /bin/sh -c 'if [ "\$(cat $MODE)" = bad ]; then exit 3; fi; exec $DEMO'
sockets = web
ready = notify
numprocs = 2
ready_timeout = 3s

[program:idle]
command = /bin/sleep 1000
autostart = false
EOF
start_daemon "$T/sockvisor.ini"
for _ in $(seq 1 50); do
        [ "$(status_rows | awk '$1 == "app:1" { print $2 }')" = RUNNING ] && break
        sleep 0.1
done

# A strict parser: Python's json refuses NaN-free garbage, trailing commas, invalid UTF-8.
py_check() { # SCRIPT: reads the JSON document on stdin
        python3 -c "import json, sys
d = json.loads(sys.stdin.buffer.read().decode('utf-8', 'strict'))
$1"
}

# --- status, sockets, pid ---
ctl status --json >"$T/status.json" && rc=0 || rc=$?
out=$(py_check 'rows = {r["instance"]: r for r in d}
a = rows["app:0"]; i = rows["idle"]
assert a["state"] == "RUNNING" and a["pid"] > 0 and a["generation"] == 1 and a["role"] == "current", a
assert a["rss_bytes"] > 0 and a["cpu_seconds"] >= 0 and a["processes"] == 1, a
assert a["sockets"] == [{"name": "web", "listen": "tcp://127.0.0.1:'"$PORT"'"}], a
assert i["state"] == "STOPPED" and i["pid"] is None, i
print(len(d), a["pid"], a["rss_bytes"])' <"$T/status.json" 2>&1) &&
        pass "status --json: $rc, a strict parser reads $out (rows, pid, rss)" || fail "status --json: $out"
[ "$(ctl pid app | head -1)" = "$(py_check 'print(d[0]["pid"])' <"$T/status.json")" ] &&
        pass "status --json names the pid 'pid' does" || fail "status --json and pid disagree"
ctl status | grep -qE '^app:0 +RUNNING +[0-9]+ +1 +[^ ]+ +1 +[0-9.]+(ms|s) +[0-9.]+[KMG] ' &&
        pass "status shows CPU and MEM per instance" || fail "status: no CPU/MEM columns: $(ctl status | head -2)"
out=$(ctl sockets --json | py_check 's = d[0]; assert s["socket"] == "web" and s["kind"] == "tcp" and s["fd"] > 2 and s["state"] == "listening", s; print(s["address"])' 2>&1) &&
        pass "sockets --json: $out" || fail "sockets --json: $out"
out=$(ctl pid --json app | py_check 'assert [r["instance"] for r in d] == ["app:0", "app:1"] and all(r["pid"] > 0 for r in d), d; print(len(d))' 2>&1) &&
        pass "pid --json app: $out rows" || fail "pid --json app: $out"
out=$(ctl pid --json | py_check 'assert d[0]["instance"] == "sockvisord" and d[0]["pid"] == '"$DAEMON_PID"', d' 2>&1) &&
        pass "pid --json: the daemon's pid" || fail "pid --json: $out"
out=$(ctl status --json nosuch 2>"$T/err" || echo "rc=$?")
[[ $out == *"[]"*"rc=1"* ]] && grep -q "nosuch" "$T/err" && pass "status --json of an unknown name: [] and exit 1, reason on stderr" ||
        fail "status --json nosuch: '$out' / $(cat "$T/err")"

# --- a follower, text and JSON, from here to the end ---
"$SOCKVISORCTL" -s "$CTL" events --json >"$T/events.json" 2>"$T/events.err" &
FJ=$!
"$SOCKVISORCTL" -s "$CTL" events >"$T/events.txt" 2>/dev/null &
FT=$!
STARTED_PIDS+=("$FJ" "$FT")
sleep 0.3

# --- restart --json: JSON lines, exit code kept ---
rc=0
ctl restart --json app >"$T/restart.json" 2>"$T/restart.err" || rc=$?
out=$(python3 -c 'import json, sys
l = [json.loads(x) for x in open(sys.argv[1], encoding="utf-8")]
assert l[-1]["type"] == "ok" and all(x["type"] == "progress" for x in l[:-1]), l
print(len(l), l[-1]["message"])' "$T/restart.json" 2>&1)
[ "$rc" = 0 ] && pass "restart --json: $out" || fail "restart --json rc $rc: $out"
live=
for _ in $(seq 1 20); do # as it happens, not when the stream ends
        grep -q '"type":"rollout-done"' "$T/events.json" && { live=1; break; }
        sleep 0.1
done
[ -n "$live" ] && pass "events --json: the restart's rollout-done reached the follower while it follows" ||
        fail "events --json: nothing streamed yet: $(wc -l <"$T/events.json") lines"
echo bad >"$MODE"
rc=0
ctl restart --json app >"$T/restart2.json" 2>&1 || rc=$?
out=$(python3 -c 'import json, sys
l = [json.loads(x) for x in open(sys.argv[1], encoding="utf-8")]
assert l[-1]["type"] == "error" and "status 3" in l[-1]["message"], l[-1]
print(l[-1]["message"][:80])' "$T/restart2.json" 2>&1)
[ "$rc" = 1 ] && pass "a failed restart --json ends with an error line and exit 1: $out" || fail "failed restart --json rc $rc: $out"
echo good >"$MODE"

ctl start idle >/dev/null
ctl stop idle >/dev/null
ctl reload >/dev/null
rc=0
ctl upgrade >"$T/upgrade.out" 2>&1 || rc=$?
[ "$rc" = 0 ] && pass "upgrade with two followers: $(tail -1 "$T/upgrade.out")" || fail "upgrade rc $rc: $(cat "$T/upgrade.out")"
ctl restart app >/dev/null # after the upgrade: the followers still hear it
sleep 0.3
stop_daemon
for _ in $(seq 1 50); do kill -0 "$FJ" 2>/dev/null || break; sleep 0.1; done
rc=0
wait "$FJ" || rc=$?
[ "$rc" = 0 ] && grep -q "sockvisord stopped" "$T/events.err" &&
        pass "events --json ended with the daemon: exit 0, 'sockvisord stopped' on stderr" ||
        fail "events --json rc $rc: $(cat "$T/events.err")"
wait "$FT" || true

# every line JSON; the snapshot first; each instance's transitions chain; the milestones
out=$(python3 - "$T/events.json" <<'PY' 2>&1
import json, sys
lines = [json.loads(x) for x in open(sys.argv[1], encoding="utf-8")]
types = [e["type"] for e in lines]
n_state = 0
while n_state < len(types) and types[n_state] == "state":
    n_state += 1
assert n_state == 3, ("the snapshot: app:0, app:1, idle", types[:5])
assert "state" not in types[n_state:], "state lines only in the snapshot"
last = {}
for e in lines:
    key = (e.get("program"), e.get("index"), e.get("generation"))
    if e["type"] == "state":
        last[key] = e["state"]
    elif e["type"] == "transition":
        prev = last.get(key)
        ok = prev is None or prev == e["from"] or (e["from"] == "STOPPED" and prev in ("STOPPED", "EXITED", "FATAL"))
        assert ok, ("does not chain", prev, e)
        last[key] = e["to"]
for want in ("rollout-begin", "rollout-done", "rollout-failed", "reload", "upgrade", "shutdown"):
    assert want in types, (want, "missing")
up = types.index("upgrade")
after = [e for e in lines[up:] if e["type"] == "transition" and e["program"] == "app"]
assert after, "no transition after the upgrade"
print(len(lines), "events,", types.count("transition"), "transitions,", len(after), "after the upgrade")
PY
)
[ $? = 0 ] && pass "events --json: $out" || fail "events --json: $out"
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z transition app:0 gen [0-9]+ pid [0-9]+ STOPPED -> STARTING \(generation [0-9]+ rolling out\)$' "$T/events.txt" &&
        pass "events (text): $(grep -c transition "$T/events.txt") transition lines, e.g. $(grep -m1 transition "$T/events.txt")" ||
        fail "events text: $(head -5 "$T/events.txt")"
finish
