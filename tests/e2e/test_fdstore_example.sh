#!/bin/bash
# The README's fd store example runs as written: examples/fdstore-counter.py keeps a counter
# in a memfd in sockvisord's fd store, and serves it; after 3 restarts it serves 3.
. "$(dirname "$0")/lib.sh"

EXAMPLE=$(cd "$(dirname "$0")/../../examples" && pwd)/fdstore-counter.py
command -v python3 >/dev/null || die "python3 is not installed (scripts/install-deps installs it)"
PORT=$("$FREEPORT")
cat >"$T/sockvisor.ini" <<EOF
[sockvisord]
control = $CTL

[socket:web]
listen = tcp://127.0.0.1:$PORT

[program:counter]
command = $EXAMPLE
sockets = web
ready = notify
fdstore_max = 1
EOF
start_daemon "$T/sockvisor.ini"
wait_state counter 10 RUNNING || die "counter is $STATE: $(tail -n 5 "$T/daemon.log")"
first=$(http_get "$PORT")
case $first in counter=0*) pass "generation 1 serves $first" ;; *) fail "generation 1 serves '$first'" ;; esac
for i in 1 2 3; do ctl restart counter >/dev/null || fail "restart $i"; done
last=$(http_get "$PORT")
case $last in counter=3*) pass "after 3 restarts: $last" ;; *) fail "after 3 restarts: '$last'" ;; esac
ctl status counter | grep -q "fd store: counter (fd [0-9]*); 1 of 1" && pass "status shows the stored memfd" ||
        fail "status: $(ctl status counter)"
stop_daemon
finish
