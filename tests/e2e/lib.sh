# Shared helpers for the end-to-end tests: sourced, not run.
# Each test runs the real daemon on 127.0.0.1 and a private temp dir, and kills only
# the processes it started, by pid.
set -euo pipefail

BUILD=${1:?usage: $0 BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
SOCKVISORD=$BUILD/sockvisord
SOCKVISORCTL=$BUILD/sockvisorctl
DEMO=$BUILD/sockvisor-demo
LOADCLIENT=$BUILD/tests/sv-loadclient
FREEPORT=$BUILD/tests/sv-freeport
TESTWORKER=$BUILD/tests/sv-testworker

T=$(mktemp -d /tmp/sockvisor-e2e.XXXXXX)
CTL=$T/control.sock
DAEMON_PID=
STARTED_PIDS=()
FAILURES=0

log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*"; }
fail() { log "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
pass() { log "ok: $*"; }
die() { log "FATAL: $*"; exit 1; }

cleanup() {
        local rc=$?
        for pid in "${STARTED_PIDS[@]}" $DAEMON_PID; do
                kill -KILL "$pid" 2>/dev/null || true
        done
        if [ "$rc" -ne 0 ] || [ "$FAILURES" -ne 0 ]; then
                log "daemon log ($T/daemon.log):"
                sed 's/^/    /' "$T/daemon.log" 2>/dev/null | tail -n 80 || true
        fi
        rm -rf "$T"
}
trap cleanup EXIT

ctl() { "$SOCKVISORCTL" -s "$CTL" "$@"; }

# Waits (bounded) until the control socket answers.
wait_for_daemon() {
        for _ in $(seq 1 100); do
                if ctl version >/dev/null 2>&1; then return 0; fi
                kill -0 "$DAEMON_PID" 2>/dev/null || die "sockvisord exited during start-up"
                sleep 0.1
        done
        die "sockvisord did not answer on $CTL within 10s"
}

start_daemon() { # CONFIG
        "$SOCKVISORD" -c "$1" >>"$T/daemon.log" 2>&1 &
        DAEMON_PID=$!
        wait_for_daemon
}

# Sends SIGTERM and waits (bounded) for the exit; sets DAEMON_RC to its exit status.
# Not in a $(...) subshell: only this shell can wait for the daemon.
stop_daemon() {
        DAEMON_RC=0
        kill -TERM "$DAEMON_PID"
        for _ in $(seq 1 200); do
                kill -0 "$DAEMON_PID" 2>/dev/null || break
                sleep 0.05
        done
        if kill -0 "$DAEMON_PID" 2>/dev/null; then
                fail "sockvisord still running 10s after SIGTERM"
                kill -KILL "$DAEMON_PID"
        fi
        wait "$DAEMON_PID" || DAEMON_RC=$?
        DAEMON_PID=
}

# Children of a pid, with their state letter: "PID STATE" per line.
children_of() { ps -o pid=,stat= --ppid "$1" | awk '{ print $1, substr($2, 1, 1) }'; }

zombies_of() { children_of "$1" | awk '$2 == "Z" { print $1 }'; }

fd_count() { ls "/proc/$1/fd" | wc -l; }

http_get() { # PORT [PATH] -> body
        curl -s --max-time 5 "http://127.0.0.1:$1${2:-/}"
}

# Waits (bounded) for a file to appear.
wait_for_file() {
        for _ in $(seq 1 100); do
                [ -s "$1" ] && return 0
                sleep 0.1
        done
        return 1
}

finish() {
        if [ "$FAILURES" -ne 0 ]; then
                log "$FAILURES check(s) failed"
                exit 1
        fi
        log "all checks passed"
}
