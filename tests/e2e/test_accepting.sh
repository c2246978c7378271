#!/bin/bash
# ready = accepting (issue 12) for servers that never send READY=1 and take 1.5 s to boot:
# Node (`server.listen(port)` after a timer), Python asyncio (start_server after a sleep),
# nginx (its workers register the socket in epoll) and gunicorn (its sync workers select()
# on it, in children of the master). sockvisord reads /proc to see one of the instance's
# processes wait on the socket; until then the old generation serves alone. Each restart
# under load: 0 failed requests and no stall (the longest gap far below the boot time),
# and the restart says how long the new generation took to accept.
. "$(dirname "$0")/lib.sh"

BOOT_MS=1500
NODE=$(command -v node || command -v nodejs) || die "node is not installed: Debian package 'nodejs' (scripts/install-deps.sh installs it)"
PY=$(command -v python3) || die "python3 is not installed"
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX_BIN" ] || die "nginx is not installed: Debian package 'nginx'"
GUNICORN=$(command -v gunicorn || command -v gunicorn3) || die "gunicorn is not installed: Debian package 'gunicorn'"
[ -e "$BUILD/libsockvisor-bind.so" ] || die "the shim $BUILD/libsockvisor-bind.so is missing"

PORT=$("$FREEPORT")

write_config() { # COMMAND KEY-LINES
        app_config "$1" "ready = accepting
ready_timeout = 10s
stopwaitsecs = 30s
$2"
}

# Starts the daemon on the config, restarts app twice under load, stops the daemon.
slow_boot() { # LABEL LOADCLIENT-ARGS...
        local label=$1 i before failures_before=$FAILURES
        shift
        start_daemon "$T/sockvisor.ini"
        wait_state app 20 RUNNING || { fail "$label is not RUNNING: $STATE"; stop_daemon; return; }
        before=$(ctl pid app)
        rm -f "$T/stop-load"
        "$LOADCLIENT" -p "$PORT" "$@" -d 60 -r "$T/stop-load" >"$T/load.out" 2>"$T/load.err" &
        local lpid=$!
        STARTED_PIDS+=("$lpid")
        sleep 0.5
        for i in 1 2; do
                ctl restart app >"$T/restart.$i" 2>&1 || fail "$label: restart $i failed: $(cat "$T/restart.$i")"
                sleep 0.3
        done
        touch "$T/stop-load"
        LOAD_RC=0
        wait "$lpid" || LOAD_RC=$?
        LOAD_SUMMARY=$(cat "$T/load.out")
        local ready_line gap
        ready_line=$(grep -h "ready after" "$T/restart.1" | head -1)
        gap=$(load_field gap_ms)
        load_ok "$label, 2 slow-boot restarts"
        [ -n "$gap" ] && [ "$gap" -lt 1000 ] && pass "$label: no stall: longest gap ${gap} ms with a ${BOOT_MS} ms boot; $ready_line" ||
                fail "$label: clients stalled ${gap} ms (boot ${BOOT_MS} ms): $LOAD_SUMMARY"
        [ "$(ctl pid app)" != "$before" ] || fail "$label: the pid did not change"
        grep -q "accepting: pid [0-9]* waits in" "$T/daemon.log" &&
                pass "$label: seen accepting: $(grep -o "accepting: pid [0-9]* waits in .*" "$T/daemon.log" | tail -1)" ||
                fail "$label: the daemon log does not say how it saw the server accept"
        stop_daemon
        if [ "$FAILURES" -gt "$failures_before" ]; then
                log "$label: daemon log:"
                sed 's/^/    /' "$T/daemon.log" | tail -n 40
        fi
        : >"$T/daemon.log"
}

# ---- Node: server.listen(port) after a 1.5 s boot; binds :: itself (the shim hands it ours) ----
cat >"$T/app.js" <<JS
const http = require('http');
setTimeout(() => {
        http.createServer((req, res) => {
                res.writeHead(200, { 'Content-Type': 'text/plain' });
                res.end('pid=' + process.pid + '\n');
        }).listen($PORT);
}, $BOOT_MS);
JS
write_config "$NODE $T/app.js" "intercept_bind = yes
drain = idle"
slow_boot node

# ---- Python asyncio: start_server after a 1.5 s sleep ----
cat >"$T/app.py" <<PY
import asyncio, os, time
time.sleep($BOOT_MS / 1000)
async def handle(reader, writer):
    await reader.readuntil(b"\r\n\r\n")
    body = ("pid=%d\n" % os.getpid()).encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    await writer.drain()
    writer.close()
async def main():
    server = await asyncio.start_server(handle, "0.0.0.0", $PORT)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY
write_config "$PY $T/app.py" "intercept_bind = yes
drain = idle"
slow_boot "python asyncio"

# ---- nginx: NGINX=3; (its own inheritance), a shell that sleeps first; its workers use epoll ----
N=$T/nginx
nginx_conf "$N" "$PORT"
cat >"$T/nginx.sh" <<SH
#!/bin/sh
sleep $((BOOT_MS / 1000)).$((BOOT_MS % 1000))
exec $NGINX_BIN -p $N/ -c conf/nginx.conf -e $N/logs/error.log -g 'daemon off; master_process on;'
SH
chmod +x "$T/nginx.sh"
write_config "$T/nginx.sh" "fd_env = nginx
stopsignal = QUIT
killasgroup = yes"
sed -i 's/^listen = .*/&\nblocking = no/' "$T/sockvisor.ini"
slow_boot nginx

# ---- gunicorn: sync workers, forked by the master, import an app that boots for 1.5 s ----
cat >"$T/wsgiapp.py" <<PY
import os, time
time.sleep($BOOT_MS / 1000)
def app(environ, start_response):
    body = ("pid=%d\n" % os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
PY
write_config "$GUNICORN --chdir $T/. --bind 127.0.0.1:$PORT --workers 2 wsgiapp:app" "intercept_bind = yes
stopsignal = TERM
killasgroup = yes"
slow_boot gunicorn -a

finish
