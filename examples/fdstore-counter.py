#!/usr/bin/env python3
"""A worker that keeps a counter in a memfd across restarts, through sockvisord's fd store.

Run it as a program with `fdstore_max = 1` and `ready = notify` (see README, "The fd
store"). Each generation finds the memfd its predecessor stored (LISTEN_FDNAMES names it
"counter"), adds one and serves the number on its socket; the first one makes the memfd and
stores it with FDSTORE=1, as sd_pid_notify_with_fds(3) would.
"""
import array
import os
import signal
import socket
import sys


def notify(text, fds=()):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    addr = "\0" + path[1:] if path.startswith("@") else path
    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendmsg([text.encode()], ancillary, 0, addr)


def passed():
    """name -> fd of what sockvisord passed (sockets first, then the fd store)."""
    names = os.environ.get("LISTEN_FDNAMES", "").split(":")
    count = int(os.environ.get("LISTEN_FDS", "0"))
    return {names[k]: 3 + k for k in range(min(count, len(names)))}


fds = passed()
if "counter" in fds:
    counter = fds["counter"]
    value = int(os.pread(counter, 32, 0) or b"0") + 1
else:
    counter = os.memfd_create("counter")
    value = 0
os.ftruncate(counter, 0)
os.pwrite(counter, b"%d\n" % value, 0)
if "counter" not in fds:
    notify("FDSTORE=1\nFDNAME=counter", [counter])

listener = socket.socket(fileno=fds["web"]) if "web" in fds else None
notify("READY=1\nSTATUS=generation %s, counter %d" % (os.environ.get("SOCKVISOR_GENERATION", "?"), value))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while listener:
    conn, _ = listener.accept()
    with conn:
        conn.recv(4096)
        body = b"counter=%d pid=%d\n" % (value, os.getpid())
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
else:
    signal.pause()
