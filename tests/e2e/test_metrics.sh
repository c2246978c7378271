#!/bin/bash
# Metrics and health over HTTP ([sockvisord] metrics=): /metrics passes `promtool check
# metrics`; a real Prometheus on 127.0.0.1 scrapes it and its HTTP API returns the restart
# count after N restarts; /healthz is 200, then 503 naming a FATAL program, then 200 again;
# 64 connections that send nothing stop neither /metrics nor `sockvisorctl status`; the
# accept-queue gauge shows the connections waiting on a wedged worker; the endpoint is never
# handed to a worker, survives an upgrade on the same socket and moves with a reload.
. "$(dirname "$0")/lib.sh"

PORT=$("$FREEPORT")
MPORT=$("$FREEPORT")
PROMTOOL=$(command -v promtool || true)
PROMETHEUS=$(command -v prometheus || true)
if [ -z "$PROMTOOL" ] || [ -z "$PROMETHEUS" ]; then
        log "SKIP: promtool/prometheus not installed (Debian's prometheus package; scripts/install-deps.sh adds it)"
        exit 0
fi

config() { # METRICS_PORT EXTRA_PROGRAMS
        cat >"$T/sockvisor.ini" <<INI
[sockvisord]
control = $CTL
metrics = tcp://127.0.0.1:$1

[socket:web]
listen = tcp://127.0.0.1:$PORT
backlog = 64

[program:app]
command = $DEMO
sockets = web
ready = notify
stopwaitsecs = 1s
$2
INI
}

get() { curl -s --max-time 5 "http://127.0.0.1:${MPORT}$1"; }
code() { curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$@"; }
metric() { # SERIES (exact, labels included) -> value
        get /metrics | awk -v s="$1" '$1 == s { print $2 }'
}
sock_inode() { # PORT -> inode of the listener on 127.0.0.1:PORT
        ss -Hltne "sport = :$1" | sed -n 's/.* ino:\([0-9]*\).*/\1/p' | awk 'NR == 1'
}

config "$MPORT" ""
start_daemon "$T/sockvisor.ini"
wait_state app 5 RUNNING || die "app not RUNNING: $STATE"
APP=$(ctl pid app)
track "$APP"

# --- 1. the routes ---
[ "$(code "http://127.0.0.1:$MPORT/healthz")" = 200 ] && [ "$(get /healthz)" = ok ] &&
        pass "/healthz: 200 ok while app is RUNNING" || fail "/healthz: $(code "http://127.0.0.1:$MPORT/healthz") $(get /healthz)"
ctype=$(curl -s -o /dev/null --max-time 5 -w '%{content_type}' "http://127.0.0.1:$MPORT/metrics")
[ "$ctype" = "text/plain; version=0.0.4; charset=utf-8" ] && pass "/metrics: Content-Type $ctype" ||
        fail "/metrics: Content-Type '$ctype'"
[ "$(code "http://127.0.0.1:$MPORT/nope")" = 404 ] && pass "404 for another path" || fail "another path: not 404"
[ "$(code -X POST "http://127.0.0.1:$MPORT/metrics")" = 405 ] && pass "405 for POST /metrics" || fail "POST: not 405"
big=$(python3 -c "
import socket
s = socket.create_connection(('127.0.0.1', $MPORT), timeout=5)
s.sendall(b'GET /metrics HTTP/1.1\r\nX-Big: ' + b'a' * 9000 + b'\r\n\r\n')
print(s.recv(100).split(b'\r\n')[0].decode())")
[ "$big" = "HTTP/1.1 431 Request Header Fields Too Large" ] && pass "a 9 KB request head: 431" || fail "a 9 KB head: '$big'"
curl -s -D "$T/headers" -o /dev/null --max-time 5 "http://127.0.0.1:$MPORT/metrics"
grep -qi "^Connection: close" "$T/headers" && pass "Connection: close" || fail "no Connection: close: $(cat "$T/headers")"

# --- 2. promtool check metrics, and the series the issue names ---
get /metrics >"$T/metrics.txt"
if "$PROMTOOL" check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1; then
        pass "promtool check metrics accepts /metrics ($(grep -vc '^#' "$T/metrics.txt") samples)"
else
        fail "promtool check metrics: $(head -5 "$T/promtool.out")"
fi
for s in 'sockvisor_program_state{program="app",instance="app",state="RUNNING"} 1' \
        'sockvisor_program_state{program="app",instance="app",state="FATAL"} 0' \
        'sockvisor_restarts_total{program="app"} 0' 'sockvisor_failed_starts_total{program="app"} 0' \
        'sockvisor_rollbacks_total{program="app"} 0' 'sockvisor_unhealthy_total{program="app"} 0' \
        'sockvisor_restart_duration_seconds_bucket{program="app",le="+Inf"} 0' \
        'sockvisor_socket_queued_connections{socket="web"} 0' 'sockvisor_socket_backlog{socket="web"} 64' \
        "sockvisor_build_info{version=\"$(ctl version | awk 'NR == 1 { print $NF }')\"} 1"; do
        grep -qxF "$s" "$T/metrics.txt" && pass "series: $s" || fail "no series '$s'"
done
rss=$(awk -F'[{} ]' '$1 == "sockvisor_instance_resident_bytes" && /instance="app"/ { print $NF }' "$T/metrics.txt")
demo_rss=$(($(awk '{ print $2 }' "/proc/$APP/statm") * $(getconf PAGESIZE)))
[ -n "$rss" ] && [ "$rss" -gt 0 ] && [ "$rss" -ge $((demo_rss / 2)) ] && [ "$rss" -le $((demo_rss * 2)) ] &&
        pass "instance RSS $rss bytes (the demo's statm: $demo_rss)" || fail "instance RSS '$rss' (statm: $demo_rss)"
grep -q '^sockvisor_instance_cpu_seconds_total{program="app",instance="app",generation="1"} [0-9.]*$' "$T/metrics.txt" &&
        pass "instance CPU seconds" || fail "no instance CPU seconds"
fds=$(awk '$1 == "sockvisor_daemon_open_fds" { print $2 }' "$T/metrics.txt")
real_fds=$(fd_count "$DAEMON_PID")
[ -n "$fds" ] && [ "$fds" -ge $((real_fds - 3)) ] && [ "$fds" -le $((real_fds + 3)) ] &&
        pass "daemon open fds $fds (ls /proc/PID/fd: $real_fds)" || fail "daemon open fds '$fds' (ls: $real_fds)"
grep -q '^sockvisor_daemon_resident_bytes [1-9][0-9]*$' "$T/metrics.txt" && pass "daemon RSS" || fail "no daemon RSS"

# --- 3. the endpoint is the daemon's alone ---
MINO=$(sock_inode "$MPORT")
[ -n "$MINO" ] || fail "cannot find the metrics listener's inode (ss)"
worker_fds=$(ls -l "/proc/$APP/fd")
if [ -n "$MINO" ] && grep -q "socket:\[$MINO\]" <<<"$worker_fds"; then
        fail "worker $APP holds the metrics socket (inode $MINO)"
else
        pass "worker $APP does not hold the metrics socket (inode $MINO)"
fi

# --- 4. a real Prometheus scrapes it; restarts show in its query API ---
PPORT=$("$FREEPORT")
mkdir -p "$T/prom"
cat >"$T/prom/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: sockvisord
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
YML
(cd "$T/prom" && exec "$PROMETHEUS" --config.file="$T/prom/prometheus.yml" --storage.tsdb.path="$T/prom/tsdb" \
        --web.listen-address="127.0.0.1:$PPORT" >"$T/prom/log" 2>&1) &
PROM_PID=$!
STARTED_PIDS+=("$PROM_PID")
for _ in $(seq 1 300); do
        [ "$(code "http://127.0.0.1:$PPORT/-/ready")" = 200 ] && break
        kill -0 "$PROM_PID" 2>/dev/null || break
        sleep 0.1
done
[ "$(code "http://127.0.0.1:$PPORT/-/ready")" = 200 ] && pass "prometheus ready on 127.0.0.1:$PPORT" ||
        fail "prometheus not ready: $(tail -3 "$T/prom/log")"
query() { # PROMQL -> the first value, or empty
        curl -s --max-time 5 --data-urlencode "query=$1" "http://127.0.0.1:$PPORT/api/v1/query" | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}
N=3
for k in $(seq 1 $N); do
        ctl restart app >/dev/null || fail "restart $k failed"
done
track "$(ctl pid app)"
[ "$(metric 'sockvisor_restarts_total{program="app"}')" = "$N" ] && pass "/metrics: restarts_total $N after $N restarts" ||
        fail "/metrics: restarts_total $(metric 'sockvisor_restarts_total{program="app"}') after $N restarts"
[ "$(metric 'sockvisor_restart_duration_seconds_count{program="app"}')" = "$N" ] &&
        pass "/metrics: restart_duration_seconds_count $N" ||
        fail "/metrics: restart_duration_seconds_count $(metric 'sockvisor_restart_duration_seconds_count{program="app"}')"
v=
for _ in $(seq 1 150); do # bounded: 15 s
        v=$(query 'sockvisor_restarts_total{program="app"}')
        [ "$v" = "$N" ] && break
        sleep 0.1
done
[ "$v" = "$N" ] && pass "prometheus: sockvisor_restarts_total{program=\"app\"} = $v after $N restarts" ||
        fail "prometheus: query returned '$v', want $N; targets: $(curl -s "http://127.0.0.1:$PPORT/api/v1/targets" | head -c 400)"
up=$(query 'up{job="sockvisord"}')
[ "$up" = 1 ] && pass "prometheus: up{job=\"sockvisord\"} = 1" || fail "prometheus: up = '$up'"
kill "$PROM_PID" 2>/dev/null
wait "$PROM_PID" 2>/dev/null || true

# --- 5. /healthz flips to 503 while a program is FATAL, and back ---
config "$MPORT" "
[program:broken]
command = /bin/sh -c 'echo broken on purpose >&2; exit 3'
startretries = 0"
ctl reload >/dev/null 2>&1 || true # its verdict names broken, which did not come up
wait_state broken 10 FATAL || fail "broken is $STATE, not FATAL"
h=$(get /healthz)
c=$(code "http://127.0.0.1:$MPORT/healthz")
[ "$c" = 503 ] && [ "$h" = "broken FATAL: exited with status 3" ] && pass "/healthz: 503 '$h'" ||
        fail "/healthz while broken is FATAL: $c '$h'"
get /metrics >"$T/metrics.txt" # (not piped into grep -q: curl's SIGPIPE would fail the pipe)
grep -qxF 'sockvisor_program_state{program="broken",instance="broken",state="FATAL"} 1' "$T/metrics.txt" &&
        pass "program_state says broken is FATAL" || fail "no FATAL state series for broken"
config "$MPORT" ""
ctl reload >/dev/null || fail "reload without broken failed"
[ "$(code "http://127.0.0.1:$MPORT/healthz")" = 200 ] && pass "/healthz: 200 again once broken is gone" ||
        fail "/healthz after broken went: $(get /healthz)"

# --- 6. 64 slow clients: /metrics and status still answer ---
python3 - "$MPORT" 64 8 >"$T/slow.out" 2>&1 <<'PY' &
import socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    socks.append(s)
print("opened", len(socks), flush=True)
t0 = time.monotonic()
closed = []
for s in socks:
    s.settimeout(max(0.01, hold - (time.monotonic() - t0)))
    try:
        b = s.recv(100)
        closed.append(time.monotonic() - t0)
    except socket.timeout:
        pass
print("closed", len(closed), "max %.2f" % (max(closed) if closed else -1), flush=True)
PY
SLOW=$!
STARTED_PIDS+=("$SLOW")
for _ in $(seq 1 50); do grep -q opened "$T/slow.out" && break; sleep 0.1; done
grep -q "opened 64" "$T/slow.out" && pass "64 connections that send nothing are open" || fail "slow clients: $(cat "$T/slow.out")"
ok=0
worst=0
for k in $(seq 1 5); do
        t0=$(ms_now)
        [ "$(code "http://127.0.0.1:$MPORT/metrics")" = 200 ] && ok=$((ok + 1))
        d=$(($(ms_now) - t0))
        [ "$d" -gt "$worst" ] && worst=$d
        sleep 0.2
done
[ "$ok" = 5 ] && [ "$worst" -lt 1000 ] && pass "/metrics answered 5 of 5 during the slow clients (slowest ${worst} ms)" ||
        fail "/metrics during the slow clients: $ok of 5 answered, slowest ${worst} ms"
t0=$(ms_now)
ctl status >/dev/null && d=$(($(ms_now) - t0)) && [ "$d" -lt 1000 ] &&
        pass "sockvisorctl status answered in ${d} ms during the slow clients" ||
        fail "sockvisorctl status during the slow clients: rc or ${d:-?} ms"
wait "$SLOW" || true
# 16 held at most: the rest were closed when newer ones came, the last 16 by the 5 s deadline
grep -q "closed 64 max [4-7]\." "$T/slow.out" && pass "every slow client was closed, the last after the 5 s deadline ($(tail -1 "$T/slow.out"))" ||
        fail "slow clients: $(tail -1 "$T/slow.out") (want all 64 closed, the last at 4-7 s)"

# --- 7. the endpoint crosses an upgrade on the same socket, and moves with a reload ---
ctl upgrade >/dev/null || fail "upgrade failed"
[ "$(sock_inode "$MPORT")" = "$MINO" ] && pass "upgrade: the same metrics socket (inode $MINO)" ||
        fail "upgrade: metrics socket inode $(sock_inode "$MPORT"), was $MINO"
[ "$(metric 'sockvisor_restarts_total{program="app"}')" = "$N" ] && pass "upgrade: /metrics answers, restarts_total still $N" ||
        fail "upgrade: restarts_total '$(metric 'sockvisor_restarts_total{program="app"}')'"
M2=$("$FREEPORT")
config "$M2" ""
ctl reload >/dev/null || fail "reload to metrics port $M2 failed"
[ "$(code "http://127.0.0.1:$M2/healthz")" = 200 ] && [ "$(code "http://127.0.0.1:$MPORT/healthz")" = 000 ] &&
        pass "reload: metrics moved from :$MPORT to :$M2" || fail "reload: :$M2 $(code "http://127.0.0.1:$M2/healthz"), :$MPORT $(code "http://127.0.0.1:$MPORT/healthz")"
MPORT=$M2

# --- 8. the accept queue, while the worker accepts nothing ---
APP=$(ctl pid app)
track "$APP"
curl -s --max-time 10 "http://127.0.0.1:$PORT/wedge" >/dev/null 2>&1 &
WEDGE=$!
STARTED_PIDS+=("$WEDGE")
sleep 0.3
python3 - "$PORT" 5 6 >"$T/queue.out" 2>&1 <<'PY' &
import socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
print("connected", len(socks), flush=True)
time.sleep(hold)
PY
QUEUE=$!
STARTED_PIDS+=("$QUEUE")
q=
for _ in $(seq 1 30); do
        q=$(metric 'sockvisor_socket_queued_connections{socket="web"}')
        [ "$q" = 5 ] && break
        sleep 0.1
done
[ "$q" = 5 ] && pass "accept queue: 5 connections waiting on the wedged worker" ||
        fail "accept queue gauge '$q', want 5 ($(cat "$T/queue.out"))"
kill "$QUEUE" "$WEDGE" 2>/dev/null || true
wait "$QUEUE" "$WEDGE" 2>/dev/null || true

stop_daemon
finish
