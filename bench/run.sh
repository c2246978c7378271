#!/bin/bash
# sockvisor benchmark: zero-downtime restarts and control-plane cost, side by side with the
# supervisors users would otherwise pick, in one run on one machine. See bench/README.md.
#
#   bench/run.sh                 install what is missing (Debian packages, pm2 from npm),
#                                build, run every scenario against every peer, print tables
#   bench/run.sh --quick         short smoke run, no installs, no network: sockvisor (both
#                                rows) and the self-binding peers (others with --peers);
#                                exit 1 only if sockvisor fails a scenario (2: the harness broke)
# Options: --build-dir DIR (use DIR's sockvisord, sockvisorctl, libsockvisor-bind.so instead
#          of building), --no-install, --peers LIST|all, --scenarios LIST (a,b,c,d,e,k,u; u:
#          the supervisor itself upgraded under load), --out FILE (markdown copy of the
#          results), --keep (keep the work dir), -h.
#
# Loopback only; every wait is bounded; only the processes this script started are killed
# (by pid, or because their command line holds this run's private work dir).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
QUICK=0
BUILD_DIR=
INSTALL=1
PEERS_ARG=
SCEN_ARG=
OUT=
KEEP=0
CMDLINE=$(echo "bench/run.sh $*" | sed "s/ *$//")

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
        case "$1" in
        --quick) QUICK=1 ;;
        --build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift ;;
        --no-install) INSTALL=0 ;;
        --peers) PEERS_ARG=${2:?--peers needs a list}; shift ;;
        --scenarios) SCEN_ARG=${2:?--scenarios needs a list}; shift ;;
        --out) OUT=${2:?--out needs a file}; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench/run.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
        esac
        shift
done
[ "$QUICK" = 1 ] && INSTALL=0

ALL_PEERS="selfbind selfbind-reuse supervisord supervisord-fcgi server-starter s6 s6-fdholder pm2 sockvisor sockvisor-unmodified"
QUICK_PEERS="selfbind selfbind-reuse sockvisor sockvisor-unmodified"
if [ -z "$PEERS_ARG" ]; then
        [ "$QUICK" = 1 ] && PEERS=$QUICK_PEERS || PEERS=$ALL_PEERS
elif [ "$PEERS_ARG" = all ]; then
        PEERS=$ALL_PEERS
else
        PEERS=${PEERS_ARG//,/ }
fi
if [ -n "$SCEN_ARG" ]; then SCENARIOS=$SCEN_ARG
elif [ "$QUICK" = 1 ]; then SCENARIOS=a,b,c,d,e,u
else SCENARIOS=a,b,c,d,e,k,u; fi
SCENARIOS=${SCENARIOS//,/ }

# --- timings: full run and quick run --------------------------------------------------
if [ "$QUICK" = 1 ]; then
        CONC=4; D_A=3; D_B=3; D_C=3; D_D=3; D_E=3; D_K=3; D_U=3
        FIRST=500; FIRST_KILL=1200; INTERVAL=1200; LONG_MS=1000; READY_DELAY=1500; BROKEN_TIMEOUT=1500ms
        KILL_EVERY=10000; TIMEOUT_MS=1000; IDLE_S=1; RTT_N=10; NPROGS=100
        U_MARGIN=1000   # two upgrades in 3 s: a plain one and one --exec COPY
else
        CONC=8; D_A=10; D_B=10; D_C=8; D_D=12; D_E=8; D_K=6; D_U=10
        FIRST=1000; FIRST_KILL=1500; INTERVAL=2000; LONG_MS=2000; READY_DELAY=1500; BROKEN_TIMEOUT=3s
        KILL_EVERY=3000; TIMEOUT_MS=5000; IDLE_S=5; RTT_N=100; NPROGS=1000
        U_MARGIN=1500
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/sockvisor-bench.XXXXXX")
BIN=$T/bin
mkdir -p "$BIN"
SUP_PIDS=()             # supervisors (or self-binding workers) we started, current run
ALL_STARTED=()          # every pid we started directly, for the final cleanup
HARNESS_BROKE=0
SOCKVISOR_FAILED=0

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

now_ms() { local t=${EPOCHREALTIME/./}; NOW=$((10#$t / 1000)); }
sleep_ms() { [ "$1" -gt 0 ] && sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; return 0; }

# Kills every process whose command line holds DIR/ (ours only: DIR is a private mktemp
# dir), except this shell.
sweep() { # DIR
        local f p
        for f in /proc/[0-9]*/cmdline; do
                p=${f#/proc/}; p=${p%/cmdline}
                [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
                grep -qaF "$1/" "$f" 2>/dev/null && kill -KILL "$p" 2>/dev/null
        done
        return 0
}
descendants() { # PID -> PID and its descendants, parents first
        local p c
        echo "$1"
        for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do descendants "$c"; done
}
kill_tree() { # SIGNAL PID...
        local sig=$1 p all=()
        shift
        for p in "$@"; do all+=($(descendants "$p")); done
        [ ${#all[@]} -gt 0 ] && kill "-$sig" "${all[@]}" 2>/dev/null
        return 0
}
wait_dead() { # PID TENTHS: until the pid is gone or a zombie
        local s
        for _ in $(seq 1 "$2"); do
                s=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
                [ "$s" = Z ] && return 0
                sleep 0.1
        done
        return 1
}

cleanup() {
        local rc=$?
        set +e
        trap - EXIT INT TERM
        stop_peer 2>/dev/null
        for p in "${ALL_STARTED[@]}"; do kill_tree KILL "$p"; done
        if [ -d "$T/pm2-homes" ]; then
                for h in "$T"/pm2-homes/*; do [ -d "$h" ] && PM2_HOME=$h timeout 20 pm2 kill >/dev/null 2>&1; done
        fi
        sweep "$T"
        if [ "$KEEP" = 1 ]; then log "work dir kept: $T"; else rm -rf "$T"; fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- installs and build ------------------------------------------------------------------
install_deps() {
        local want=() p
        command -v apt-get >/dev/null || { log "no apt-get: not installing anything"; return 0; }
        for p in build-essential cmake pkg-config libsystemd-dev libinih-dev procps \
                 supervisor libserver-starter-perl s6; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || want+=("$p")
        done
        # Node may come from elsewhere than Debian: only install it if there is none.
        command -v node >/dev/null || want+=(nodejs)
        command -v npm >/dev/null || want+=(npm)
        if [ ${#want[@]} -gt 0 ]; then
                log "installing: ${want[*]}"
                local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
                $sudo apt-get update >"$T/apt.log" 2>&1 || log "apt-get update failed (see the peers marked n/a)"
                for p in "${want[@]}"; do   # one by one: one missing package must not block the rest
                        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$p" \
                                >>"$T/apt.log" 2>&1 || log "could not install $p"
                done
        fi
        if ! command -v pm2 >/dev/null && command -v npm >/dev/null; then
                log "installing pm2 with npm"
                timeout 300 npm i -g pm2 >"$T/npm.log" 2>&1 || log "could not install pm2"
        fi
        # Debian's supervisor package starts a system-wide supervisord; we run our own.
        return 0
}
[ "$INSTALL" = 1 ] && install_deps

build() {
        if [ -n "$BUILD_DIR" ]; then
                BUILD_DIR=$(cd "$BUILD_DIR" && pwd) || { log "no build dir $BUILD_DIR"; exit 2; }
        else
                BUILD_DIR=$HERE/.build
                log "building sockvisor into $BUILD_DIR"
                { cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DSV_BUILD_TESTS=OFF &&
                  cmake --build "$BUILD_DIR" -j "$(nproc)" --target sockvisord sockvisorctl sockvisor-bind; } >"$T/build.log" 2>&1 ||
                        { cat "$T/build.log" >&2; log "build failed"; exit 2; }
        fi
        SOCKVISORD=$BUILD_DIR/sockvisord
        SOCKVISORCTL=$BUILD_DIR/sockvisorctl
        SHIM=$BUILD_DIR/libsockvisor-bind.so   # intercept_bind: sockvisord finds it beside itself
        [ -x "$SOCKVISORD" ] && [ -x "$SOCKVISORCTL" ] || { log "no sockvisord/sockvisorctl in $BUILD_DIR"; exit 2; }
        cc -std=c17 -O2 -pthread -o "$BIN/bench-worker" "$HERE/worker.c" 2>"$T/cc.log" &&
                cc -std=c17 -O2 -D_GNU_SOURCE -pthread -o "$BIN/sv-loadclient" "$REPO/tests/tools/loadclient.c" 2>>"$T/cc.log" ||
                { cat "$T/cc.log" >&2; log "cc failed"; exit 2; }
        cp "$HERE/worker.js" "$BIN/worker.js"
}
build
WORKER=$BIN/bench-worker
LOADCLIENT=$BIN/sv-loadclient

# --- peers ---------------------------------------------------------------------------------
# Each peer: why_na (prints a reason if it cannot run), start (config in $R, socket on $PORT,
# worker options in WOPTS), restart, kill_one (SIGKILL one worker), stop, sup_pids (the
# supervisor's own processes, for RSS), ctl_status (control-plane round trip, if any).
peer_label() {
        case "$1" in
        selfbind) echo "self-binding, stop+start, no SO_REUSEADDR" ;;
        selfbind-reuse) echo "self-binding, stop+start, SO_REUSEADDR" ;;
        supervisord) echo "supervisord [program] (self-binding)" ;;
        supervisord-fcgi) echo "supervisord [fcgi-program] x2, rolling" ;;
        server-starter) echo "Server::Starter (start_server, HUP)" ;;
        s6) echo "s6 (s6-svc -r, self-binding)" ;;
        s6-fdholder) echo "s6 + s6-fdholder-daemon" ;;
        pm2) echo "pm2 cluster x2, reload (Node worker)" ;;
        sockvisor) echo "sockvisor" ;;
        sockvisor-unmodified) echo "sockvisor, unmodified server (intercept_bind, accepting, drain=idle)" ;;
        *) echo "$1" ;;
        esac
}

why_na() {
        local c
        case "$1" in
        selfbind|selfbind-reuse|sockvisor) return 0 ;;
        sockvisor-unmodified) [ -e "$SHIM" ] || echo "no libsockvisor-bind.so beside sockvisord in $BUILD_DIR" ;;
        supervisord|supervisord-fcgi) for c in supervisord supervisorctl; do command -v $c >/dev/null || { echo "$c not installed"; return; }; done ;;
        server-starter) command -v start_server >/dev/null || echo "start_server not installed" ;;
        s6) for c in s6-svscan s6-svc; do command -v $c >/dev/null || { echo "$c not installed"; return; }; done ;;
        s6-fdholder) for c in s6-svscan s6-svc s6-fdholder-daemon s6-fdholder-store s6-fdholder-retrieve; do
                        command -v $c >/dev/null || { echo "$c not installed"; return; }; done ;;
        pm2) command -v pm2 >/dev/null && command -v node >/dev/null || echo "pm2 or node not installed" ;;
        *) echo "unknown peer" ;;
        esac
}

worker_cmd() { # the C worker's command line for this run, with socket options "$@"
        printf '%q ' "$WORKER" "$@" --pid-dir "$R/pids" "${WOPTS[@]}"
}

start_bg() { # CMD... in the background, logged; sets BGPID
        "$@" >>"$R/sup.log" 2>&1 &
        BGPID=$!
        ALL_STARTED+=("$BGPID")
}

supervisord_conf() { # SECTION-BODY
        cat >"$R/supervisord.conf" <<EOF
[supervisord]
nodaemon = true
logfile = $R/supervisord.log
pidfile = $R/supervisord.pid
childlogdir = $R
minfds = 16384
[unix_http_server]
file = $R/supervisor.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl = unix://$R/supervisor.sock
$1
EOF
}

s6_service() { # NAME RUN-SCRIPT-BODY
        mkdir -p "$R/scan/$1"
        printf '#!/bin/sh\nexec 2>>%q/%s.log\n%s\n' "$R" "$1" "$2" >"$R/scan/$1/run"
        chmod +x "$R/scan/$1/run"
}

start_peer() {
        SUP_PIDS=()
        case "$PEER" in
        selfbind|selfbind-reuse)
                local reuse=(); [ "$PEER" = selfbind-reuse ] && reuse=(--reuseaddr)
                # The harness is the supervisor here, like systemd with Restart=always: a
                # failed bind is retried every 100 ms (systemd's RestartSec default).
                SELF_ARGS=(--bind "$PORT" "${reuse[@]}" --bind-retry 120000)
                start_bg "$WORKER" "${SELF_ARGS[@]}" --pid-dir "$R/pids" "${WOPTS[@]}"
                SUP_PIDS=("$BGPID") ;;
        supervisord)
                supervisord_conf "[program:app]
command = $(worker_cmd --bind "$PORT" --reuseaddr --bind-retry 120000)
autorestart = true
startsecs = 1
stopwaitsecs = 10
stdout_logfile = $R/app.log
redirect_stderr = true"
                start_bg supervisord -c "$R/supervisord.conf"
                SUP_PIDS=("$BGPID") ;;
        supervisord-fcgi)
                supervisord_conf "[fcgi-program:app]
socket = tcp://127.0.0.1:$PORT
command = $(worker_cmd --fd 0)
process_name = %(program_name)s_%(process_num)02d
numprocs = 2
autorestart = true
startsecs = 1
stopwaitsecs = 10
stdout_logfile = $R/app.log
redirect_stderr = true"
                start_bg supervisord -c "$R/supervisord.conf"
                SUP_PIDS=("$BGPID") ;;
        server-starter)
                start_bg start_server --port="127.0.0.1:$PORT" --pid-file="$R/ss.pid" --status-file="$R/ss.status" \
                        -- "$WORKER" --pid-dir "$R/pids" "${WOPTS[@]}"
                SUP_PIDS=("$BGPID") ;;
        s6)
                s6_service app "exec $(worker_cmd --bind "$PORT" --reuseaddr --bind-retry 120000)"
                start_bg s6-svscan "$R/scan"
                SUP_PIDS=("$BGPID") ;;
        s6-fdholder)
                mkdir -p "$R/rules/uid/$(id -u)/env"
                touch "$R/rules/uid/$(id -u)/allow"
                echo '^' >"$R/rules/uid/$(id -u)/env/S6_FDHOLDER_STORE_REGEX"
                echo '^' >"$R/rules/uid/$(id -u)/env/S6_FDHOLDER_RETRIEVE_REGEX"
                s6_service fdholder "exec s6-fdholder-daemon -i $R/rules $R/fdh.sock"
                start_bg s6-svscan "$R/scan"
                SUP_PIDS=("$BGPID")
                for _ in $(seq 1 50); do [ -S "$R/fdh.sock" ] && break; sleep 0.1; done
                # Bind once and give the socket to the holder; every worker generation gets it back.
                timeout 5 "$WORKER" --bind-exec "$PORT" s6-fdholder-store "$R/fdh.sock" "socket:web" >>"$R/sup.log" 2>&1 ||
                        { echo "s6-fdholder-store failed" >"$R/start.err"; return 1; }
                s6_service app "exec s6-fdholder-retrieve $R/fdh.sock socket:web $(worker_cmd --fd 0)"
                timeout 5 s6-svscanctl -a "$R/scan" >/dev/null 2>&1 ;;
        pm2)
                export PM2_HOME=$T/pm2-homes/$RUN_ID
                mkdir -p "$PM2_HOME"
                local env="BENCH_PORT: '$PORT', BENCH_PID_DIR: '$R/pids'"
                [ -n "$JS_READY_DELAY" ] && env+=", BENCH_READY_DELAY: '$JS_READY_DELAY'"
                [ -n "$JS_NEVER_IF" ] && env+=", BENCH_NEVER_READY_IF: '$JS_NEVER_IF'"
                cat >"$R/ecosystem.config.js" <<EOF
module.exports = { apps: [{ name: 'app', script: '$BIN/worker.js', exec_mode: 'cluster', instances: 2,
  autorestart: true, env: { $env } }] };
EOF
                timeout 60 pm2 start "$R/ecosystem.config.js" >>"$R/sup.log" 2>&1 ||
                        { echo "pm2 start failed" >"$R/start.err"; return 1; }
                local pidf=$PM2_HOME/pm2.pid
                [ -s "$pidf" ] && SUP_PIDS=("$(cat "$pidf")") ;;
        sockvisor|sockvisor-unmodified)
                # sockvisor: the worker takes fd 3 (LISTEN_FDS) and sends READY=1.
                # sockvisor-unmodified: the worker binds 127.0.0.1:PORT itself (no
                # SO_REUSEADDR, no retry), never sends READY=1 and dies on SIGTERM; the shim
                # gives its bind() the held socket, readiness is seen (a process waits on the
                # socket) and an old generation is frozen and killed once idle.
                local cmd keys
                if [ "$PEER" = sockvisor ]; then
                        cmd=$(worker_cmd); keys="ready = notify"
                else
                        cmd=$(worker_cmd --bind "$PORT" --unmodified)
                        keys=$'intercept_bind = yes\ndrain = idle'
                fi
                cat >"$R/sockvisor.ini" <<EOF
[sockvisord]
control = $R/ctl.sock
log = stderr

[socket:web]
listen = tcp://127.0.0.1:$PORT

[program:app]
command = $cmd
sockets = web
$keys
ready_timeout = $SV_READY_TIMEOUT
stopwaitsecs = 10s
autorestart = true
EOF
                start_bg "$SOCKVISORD" -c "$R/sockvisor.ini"
                SUP_PIDS=("$BGPID") ;;
        esac
        return 0
}

restart_peer() {
        case "$PEER" in
        selfbind|selfbind-reuse)
                local old=${SUP_PIDS[0]}
                kill -TERM "$old" 2>/dev/null
                wait_dead "$old" 300 || kill -KILL "$old" 2>/dev/null
                wait "$old" 2>/dev/null
                start_bg "$WORKER" "${SELF_ARGS[@]}" --pid-dir "$R/pids" "${WOPTS[@]}"
                SUP_PIDS=("$BGPID") ;;
        supervisord)
                timeout 60 supervisorctl -c "$R/supervisord.conf" restart app ;;
        supervisord-fcgi)
                timeout 60 supervisorctl -c "$R/supervisord.conf" restart app:app_00 &&
                        timeout 60 supervisorctl -c "$R/supervisord.conf" restart app:app_01 ;;
        server-starter)
                kill -HUP "${SUP_PIDS[0]}" ;;
        s6|s6-fdholder)
                timeout 10 s6-svc -r "$R/scan/app" ;;
        pm2)
                timeout 60 pm2 reload app ;;
        sockvisor|sockvisor-unmodified)
                timeout 60 "$SOCKVISORCTL" -s "$R/ctl.sock" restart app ;;
        esac
}

# SIGKILL one serving worker (its pid file says it serves).
kill_one() {
        local p
        for p in $(ls "$R/pids" 2>/dev/null); do
                [ -e "/proc/$p" ] || continue
                kill -KILL "$p" 2>/dev/null || continue
                rm -f "$R/pids/$p"
                case "$PEER" in
                selfbind|selfbind-reuse)
                        # Our own Restart=always: notice the death, wait 100 ms, start again.
                        wait "$p" 2>/dev/null
                        sleep 0.1
                        start_bg "$WORKER" "${SELF_ARGS[@]}" --pid-dir "$R/pids" "${WOPTS[@]}"
                        SUP_PIDS=("$BGPID") ;;
                esac
                return 0
        done
        return 1
}

# --- scenario u: the supervisor itself upgraded in place ------------------------------------
# Each peer's nearest equivalent of "replace the supervisor's own binary under load", or why
# it has none (printed as n/a). See "Scenario u" in bench/README.md for what each one does.
upgrade_na() { # PEER -> a reason, or nothing if the peer can be upgraded in place
        case "$1" in
        selfbind|selfbind-reuse) echo "no supervisor to upgrade: the worker is the only process" ;;
        server-starter) echo "start_server cannot be replaced without restarting its worker: it holds the socket and is the workers' parent, and has no re-exec" ;;
        esac
}
row_peer_label() { [ "${sc:-}" = u ] && u_peer_label "$PEER" || peer_label "$PEER"; }
u_peer_label() { # the peer without its restart command, which scenario u does not use
        case "$1" in
        supervisord-fcgi) echo "supervisord [fcgi-program] x2" ;;
        server-starter) echo "Server::Starter (start_server)" ;;
        s6) echo "s6 (self-binding)" ;;
        pm2) echo "pm2 cluster x2 (Node worker)" ;;
        *) peer_label "$1" ;;
        esac
}
upgrade_label() {
        case "$PEER" in
        supervisord|supervisord-fcgi) echo "supervisorctl reload" ;;
        pm2) echo "pm2 update" ;;
        s6|s6-fdholder) echo "s6-svscanctl -b, finish execs s6-svscan" ;;
        sockvisor|sockvisor-unmodified) echo "sockvisorctl upgrade [--exec COPY]" ;;
        esac
}
prepare_upgrade() { # once per run, after start_peer
        case "$PEER" in
        s6|s6-fdholder)
                # s6-svscan -b execs into .s6-svscan/finish without touching the s6-supervise
                # processes; finish execs s6-svscan again (same pid) when the harness asked
                # for an upgrade, and exits otherwise (a real shutdown).
                mkdir -p "$R/scan/.s6-svscan"
                printf '#!/bin/sh\nif [ -e %q ]; then rm -f %q; exec s6-svscan %q; fi\nexit 0\n' \
                        "$R/upgrading" "$R/upgrading" "$R/scan" >"$R/scan/.s6-svscan/finish"
                chmod +x "$R/scan/.s6-svscan/finish" ;;
        sockvisor)
                cp "$SOCKVISORD" "$R/sockvisord-copy" ;;
        sockvisor-unmodified)   # the copy finds the shim beside itself, as the original does
                cp "$SOCKVISORD" "$R/sockvisord-copy" && cp "$SHIM" "$R/" ;;
        esac
}
upgrade_peer() { # N: the Nth upgrade of this run (sockvisor alternates plain and --exec COPY)
        case "$PEER" in
        supervisord|supervisord-fcgi)
                timeout 60 supervisorctl -c "$R/supervisord.conf" reload </dev/null ;;
        pm2)
                timeout 120 pm2 update </dev/null ;;
        s6|s6-fdholder)
                touch "$R/upgrading"
                timeout 10 s6-svscanctl -b "$R/scan" ;;
        sockvisor|sockvisor-unmodified)
                if [ $(($1 % 2)) = 1 ]; then
                        timeout 60 "$SOCKVISORCTL" -s "$R/ctl.sock" upgrade
                else
                        timeout 60 "$SOCKVISORCTL" -s "$R/ctl.sock" upgrade --exec "$R/sockvisord-copy"
                fi ;;
        esac
}
sup_answers() { # the supervisor answers a control command (after an upgrade: the new one)
        case "$PEER" in
        supervisord|supervisord-fcgi)
                timeout 10 supervisorctl -c "$R/supervisord.conf" pid 2>/dev/null | grep -qx '[0-9][0-9]*' ;;
        pm2)
                timeout 30 pm2 jlist >/dev/null 2>&1 ;;
        s6|s6-fdholder)
                # s6-svscanctl has no reply: it succeeds once a reader has the control fifo
                # open. The flag gone means finish ran, so it is the new s6-svscan reading.
                [ ! -e "$R/upgrading" ] && timeout 5 s6-svscanctl -z "$R/scan" >/dev/null 2>&1 ;;
        sockvisor|sockvisor-unmodified)
                # No timeout(1) around it: pid is a quick command, sockvisorctl bounds its
                # own wait, and one process start less matters when the target is 20 ms.
                "$SOCKVISORCTL" -s "$R/ctl.sock" pid >/dev/null 2>&1 ;;
        esac
}
wait_answers() { # DEADLINE_MS: polls sup_answers every 5 ms (bounded by count and time)
        for _ in $(seq 1 6000); do
                sup_answers && return 0
                now_ms; [ "$NOW" -ge "$1" ] && return 1
                sleep 0.005
        done
        return 1
}
sup_pid_now() { # the supervisor's main pid as it says (or as its pid file says)
        local p=
        case "$PEER" in
        supervisord|supervisord-fcgi) p=$(cat "$R/supervisord.pid" 2>/dev/null) ;;   # its own pid file: no Python start-up
        pm2) p=$(cat "$PM2_HOME/pm2.pid" 2>/dev/null) ;;
        s6|s6-fdholder) p=${SUP_PIDS[0]} ;;
        sockvisor|sockvisor-unmodified) p=$(timeout 10 "$SOCKVISORCTL" -s "$R/ctl.sock" pid 2>/dev/null) ;;
        esac
        [ -n "$p" ] && [ -z "${p//[0-9]/}" ] && kill -0 "$p" 2>/dev/null && echo "$p" || echo "?"
}

start_time() { # PID -> its start time in clock ticks since boot (field 22 of stat), or nothing
        local s
        s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
        s=${s##*) }
        awk '{ print $20 }' <<<"$s"
}

stop_peer() {
        [ -n "${PEER:-}" ] && [ -n "${R:-}" ] || return 0
        # s6 only (a small tree; 1,000 programs would make this slow): the whole tree as it
        # is now. After an upgrade (u) the s6-supervise processes a re-exec'd s6-svscan
        # forgot are no longer reachable from SUP_PIDS once it exits, and must not outlive
        # the run. Each pid with its start time, so that a pid reused meanwhile is left alone.
        local tree=() p
        case "$PEER" in
        s6|s6-fdholder)
                for p in $(for p in "${SUP_PIDS[@]}"; do descendants "$p"; done); do
                        tree+=("$p:$(start_time "$p")")
                done ;;
        esac
        case "$PEER" in
        pm2) [ -n "${PM2_HOME:-}" ] && timeout 30 pm2 kill >>"$R/sup.log" 2>&1 ;;
        s6|s6-fdholder) timeout 5 s6-svscanctl -t "$R/scan" >/dev/null 2>&1 ;;
        esac
        for p in "${SUP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
        for p in "${SUP_PIDS[@]}"; do wait_dead "$p" 150 || true; done
        for p in "${SUP_PIDS[@]}"; do kill_tree KILL "$p"; wait "$p" 2>/dev/null; done
        for p in "${tree[@]}"; do
                [ "$(start_time "${p%%:*}")" = "${p#*:}" ] && kill -KILL "${p%%:*}" 2>/dev/null
        done
        for p in $(ls "$R/pids" 2>/dev/null); do
                grep -qaE "bench-worker|node" "/proc/$p/cmdline" 2>/dev/null && kill -KILL "$p" 2>/dev/null
        done
        sweep "$R"
        unset PM2_HOME
        SUP_PIDS=()
        return 0
}

# A worker, not part of the supervisor: by its program name (argv[0]); under pm2 every
# process but the God daemon.
is_worker() { # PID
        local a0
        a0=$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -n 1)
        [ -n "$a0" ] || return 0
        if [ "$PEER" = pm2 ]; then
                case "$a0" in *"God Daemon"*) return 1 ;; *) return 0 ;; esac
        fi
        case "${a0##*/}" in bench-worker|sleep|node) return 0 ;; esac
        return 1
}

# The supervisor's own processes: the tree under SUP_PIDS, less the workers.
sup_rss_kb() {
        local total=0 p kb
        [ "$PEER" = selfbind ] || [ "$PEER" = selfbind-reuse ] && { echo -; return; }
        for p in $(for s in "${SUP_PIDS[@]}"; do descendants "$s"; done); do
                is_worker "$p" && continue
                kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
                total=$((total + ${kb:-0}))
        done
        echo "$total"
}

probe() { "$WORKER" --probe "$PORT" --timeout "${1:-500}" 2>/dev/null; }

# Polls until a pid not in OLD answers, up to DEADLINE (ms); sets NEWPID or returns 1.
wait_new_pid() { # "OLD PIDS" DEADLINE_MS
        local p
        NEWPID=
        for _ in $(seq 1 3000); do
                p=$(probe 300)
                if [ -n "$p" ] && ! grep -qw -- "$p" <<<"$1"; then NEWPID=$p; return 0; fi
                now_ms
                [ "$NOW" -ge "$2" ] && return 1
                sleep 0.02
        done
        return 1
}

# --- one scenario against one peer ----------------------------------------------------------
ROWS=()
U_ROWS=()               # scenario u has its own table (its own columns)
RUN_N=0
row() { # ROW: scenario u's rows go to their table, n/a rows padded to its 16 columns
        local r=$1 bars
        if [ "${sc:-}" = u ]; then
                bars=${r//[^|]/}
                while [ ${#bars} -lt 17 ]; do r+=" |"; bars+="|"; done
                U_ROWS+=("$r")
        else
                ROWS+=("$r")
        fi
        printf '%s\n' "$r" >>"$T/rows"
}

scenario_label() {
        case "$1" in
        a) echo "a: restart every 2 s" ;;
        b) echo "b: slow boot (ready after 1.5 s)" ;;
        c) echo "c: broken deploy (never ready)" ;;
        d) echo "d: long requests (${LONG_MS} ms) at every restart" ;;
        e) echo "e: SIGKILL a worker" ;;
        k) echo "k: restart every 2 s, keep-alive clients" ;;
        u) echo "u: upgrade the supervisor every 2 s" ;;
        esac
}

median() { sort -n | awk 'NF { v[++n] = $1 } END { if (n == 0) print "never"; else print v[int((n + 1) / 2)] }'; }

run_one() { # PEER SCENARIO
        PEER=$1
        local sc=$2 na dur margin lc_extra=() t_start t_end next restarts=0 restarts_ok=0 durs=() rc
        RUN_N=$((RUN_N + 1))
        RUN_ID=$RUN_N-$PEER-$sc
        R=$T/run-$RUN_ID
        mkdir -p "$R/pids"
        na=$(why_na "$PEER")
        [ -z "$na" ] && [ "$sc" = u ] && na=$(upgrade_na "$PEER")
        if [ -n "$na" ]; then
                row "| $(scenario_label "$sc") | $(row_peer_label) | n/a ($na) | | | | | | | | | | | |"
                return 0
        fi
        PORT=$("$WORKER" --pick-port) || { HARNESS_BROKE=1; return 1; }
        WOPTS=(); JS_READY_DELAY=; JS_NEVER_IF=; SV_READY_TIMEOUT=10s
        case "$sc" in
        a) dur=$D_A; margin=1500 ;;
        b) dur=$D_B; margin=2000; WOPTS=(--ready-delay "$READY_DELAY"); JS_READY_DELAY=$READY_DELAY ;;
        c) dur=$D_C; margin=0; WOPTS=(--never-ready-if "$R/broken"); JS_NEVER_IF=$R/broken; SV_READY_TIMEOUT=$BROKEN_TIMEOUT ;;
        d) dur=$D_D; margin=1500; lc_extra=(-P "/sleep?ms=$LONG_MS" -t $((LONG_MS + TIMEOUT_MS))) ;;
        e) dur=$D_E; margin=1000 ;;
        k) dur=$D_K; margin=1500 ;;
        u) dur=$D_U; margin=$U_MARGIN ;;
        esac
        [ "$sc" = d ] || lc_extra=(-t "$TIMEOUT_MS")
        [ "$sc" = k ] && lc_extra+=(-k)
        log "run $RUN_ID: $(peer_label "$PEER"), $(scenario_label "$sc"), port $PORT"
        if ! start_peer; then
                row "| $(scenario_label "$sc") | $(row_peer_label) | n/a (start failed: $(cat "$R/start.err" 2>/dev/null)) | | | | | | | | | | | |"
                stop_peer
                return 0
        fi
        # Serving: a worker answers (bounded).
        local first=
        for _ in $(seq 1 150); do first=$(probe 300) && [ -n "$first" ] && break; sleep 0.1; done
        if [ -z "$first" ]; then
                row "| $(scenario_label "$sc") | $(row_peer_label) | n/a (did not serve within 15 s) | | | | | | | | | | | |"
                log "  did not serve; log: $(tail -n 5 "$R/sup.log" 2>/dev/null | tr '\n' ' ')"
                stop_peer
                return 0
        fi
        [ "$PEER" = pm2 ] || [ "$PEER" = supervisord-fcgi ] && sleep 1   # both instances up

        "$LOADCLIENT" -p "$PORT" -c "$CONC" -d "$dur" "${lc_extra[@]}" >"$R/load.out" 2>"$R/load.err" &
        local lpid=$!
        ALL_STARTED+=("$lpid")
        now_ms; t_start=$NOW; t_end=$((t_start + dur * 1000))
        next=$((t_start + FIRST))
        local outcome= sup0= sup1= same_pid=0 self_ms=() upg_fail=
        case "$sc" in
        a|b|d|k)
                while :; do
                        [ "$next" -ge $((t_end - margin)) ] && break
                        now_ms; [ "$NOW" -lt "$next" ] && sleep_ms $((next - NOW))
                        now_ms; [ "$NOW" -ge $((t_end - margin)) ] && break
                        local old t0
                        old=$(ls "$R/pids"; for p in "${SUP_PIDS[@]}"; do echo "$p"; done)
                        t0=$NOW
                        restarts=$((restarts + 1))
                        restart_peer >>"$R/restart.log" 2>&1
                        if wait_new_pid "$old" $((t_end + 1000)); then
                                now_ms; durs+=($((NOW - t0))); restarts_ok=$((restarts_ok + 1))
                        fi
                        next=$((next + INTERVAL)); now_ms; [ "$next" -lt "$NOW" ] && next=$NOW
                done ;;
        c)
                sleep_ms $((next - NOW))
                local old t0
                old=$(ls "$R/pids")
                touch "$R/broken"
                now_ms; t0=$NOW
                restarts=1
                restart_peer >>"$R/restart.log" 2>&1; rc=$?
                now_ms; durs+=($((NOW - t0)))
                # Give the peer the rest of the run, then: does an old worker still answer?
                now_ms; [ "$NOW" -lt $((t_end - 300)) ] && sleep_ms $((t_end - 300 - NOW))
                local last; last=$(probe 300)
                if [ -n "$last" ] && grep -qw -- "$last" <<<"$old"; then outcome="old kept serving"
                elif [ -n "$last" ]; then outcome="new pid $last serves?"
                else outcome="down"; fi ;;
        e)
                next=$((t_start + FIRST_KILL))
                while :; do
                        [ "$next" -ge $((t_end - margin)) ] && break
                        now_ms; [ "$NOW" -lt "$next" ] && sleep_ms $((next - NOW))
                        now_ms; [ "$NOW" -ge $((t_end - margin)) ] && break
                        local old t0
                        old=$(ls "$R/pids"; for p in "${SUP_PIDS[@]}"; do echo "$p"; done)
                        t0=$NOW
                        restarts=$((restarts + 1))
                        kill_one
                        if [ "$PEER" = pm2 ] || [ "$PEER" = supervisord-fcgi ]; then
                                # Two workers: the other one keeps answering; time the replacement.
                                for _ in $(seq 1 500); do
                                        local n; n=$(ls "$R/pids" | grep -vxF "$old" | head -n 1)
                                        [ -n "$n" ] && break
                                        now_ms; [ "$NOW" -ge $((t_end + 1000)) ] && break
                                        sleep 0.02
                                done
                                now_ms; [ -n "$n" ] && { durs+=($((NOW - t0))); restarts_ok=$((restarts_ok + 1)); }
                        elif wait_new_pid "$old" $((t_end + 1000)); then
                                now_ms; durs+=($((NOW - t0))); restarts_ok=$((restarts_ok + 1))
                        fi
                        next=$((next + KILL_EVERY)); now_ms; [ "$next" -lt "$NOW" ] && next=$NOW
                done ;;
        u)
                # The supervisor itself is replaced, like a: every INTERVAL from FIRST on. Timed
                # from the command until it returned and the supervisor answers again.
                prepare_upgrade
                sup0=$(sup_pid_now)
                while :; do
                        [ "$next" -ge $((t_end - margin)) ] && break
                        now_ms; [ "$NOW" -lt "$next" ] && sleep_ms $((next - NOW))
                        now_ms; [ "$NOW" -ge $((t_end - margin)) ] && break
                        local t0 out urc d
                        t0=$NOW
                        restarts=$((restarts + 1))
                        out=$(upgrade_peer "$restarts" 2>&1); urc=$?
                        printf -- '--- upgrade %d: exit %d\n%s\n' "$restarts" "$urc" "$out" >>"$R/restart.log"
                        if [ "$urc" = 0 ] && wait_answers $((t_end + 5000)); then
                                now_ms; durs+=($((NOW - t0))); restarts_ok=$((restarts_ok + 1))
                        elif [ "$urc" != 0 ]; then
                                upg_fail="exit $urc: $(tail -n 1 <<<"$out" | cut -c 1-200)"
                        else
                                upg_fail="no answer after the upgrade"
                        fi
                        # pm2 update starts a new God daemon: follow it (RSS, stop).
                        [ "$PEER" = pm2 ] && [ -s "$PM2_HOME/pm2.pid" ] && SUP_PIDS=("$(cat "$PM2_HOME/pm2.pid")")
                        sup1=$(sup_pid_now)
                        [ "$sup1" = "$sup0" ] && same_pid=$((same_pid + 1))
                        # sockvisorctl upgrade says how long the daemon took ("... in 4 ms; ...").
                        d=$(sed -n 's/.* in \([0-9][0-9.]*\) ms.*/\1/p' <<<"$out" | head -n 1)
                        [ -n "$d" ] && self_ms+=("$d")
                        next=$((next + INTERVAL)); now_ms; [ "$next" -lt "$NOW" ] && next=$NOW
                done ;;
        esac
        wait "$lpid"
        local rss; rss=$(sup_rss_kb)
        stop_peer

        local s; s=$(head -n 1 "$R/load.out")
        if [ -z "$s" ]; then
                row "| $(scenario_label "$sc") | $(row_peer_label) | n/a (load client printed nothing) | | | | | | | | | | | |"
                HARNESS_BROKE=1
                return 0
        fi
        f() { sed -n "s/.*[ ^]$1=\([0-9]*\).*/\1/p" <<<" $s"; }
        local req ok failed refused reset timeout short other pids p50 p99 gap
        req=$(f requests); failed=$(f failed); refused=$(f refused); reset=$(f reset)
        timeout=$(f timeout); short=$(f short); other=$(f other); pids=$(f pids)
        p50=$(f p50_us); p99=$(f p99_us); gap=$(f gap_ms)
        if [ "$sc" = u ]; then
                u_row
                return 0
        fi
        local rcol
        if [ "$sc" = c ]; then
                rcol="$outcome (cmd ${durs[0]} ms)"
        elif [ "$restarts" -eq 0 ]; then
                rcol="-"
        else
                rcol="$(printf '%s\n' "${durs[@]}" | median) ($restarts_ok/$restarts)"
        fi
        local rss_col=-
        [ "$rss" != - ] && [ -n "$rss" ] && rss_col=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
        row "| $(scenario_label "$sc") | $(row_peer_label) | $req | $failed | $refused | $reset | $timeout | $((short + other)) | $gap | $(awk -v u="$p50" 'BEGIN { printf "%.2f", u / 1000 }') | $(awk -v u="$p99" 'BEGIN { printf "%.1f", u / 1000 }') | $pids | $rcol | $rss_col |"
        log "  $s | restart: $rcol | rss: $rss_col MB"
        # sockvisor's bar, for both of its rows (the unmodified server is promised the same):
        # no failed request at all in a-d and k; in e, a SIGKILL loses what the killed worker
        # had accepted (at most one request per concurrent client, whoever supervises), but
        # nothing may be refused and nothing else may fail.
        if [ "$PEER" = sockvisor ] || [ "$PEER" = sockvisor-unmodified ]; then
                if [ "$sc" = e ]; then
                        if [ "${refused:-1}" != 0 ] || [ "${failed:-1}" -gt $((CONC * restarts)) ]; then
                                SOCKVISOR_FAILED=1; log "  $PEER FAILED scenario e"
                        fi
                elif [ "${failed:-1}" != 0 ]; then
                        SOCKVISOR_FAILED=1; log "  $PEER FAILED requests in scenario $sc"
                fi
        fi
        return 0
}

u_row() { # the row of scenario u, from run_one's variables; sockvisor's bar
        local rss_col=- ucol pcol notes n
        [ "$rss" != - ] && [ -n "$rss" ] && rss_col=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
        if [ "$restarts" -eq 0 ]; then ucol=-
        else ucol="$(printf '%s\n' "${durs[@]}" | median) ($restarts_ok/$restarts)"; fi
        if [ "$restarts" -eq 0 ]; then pcol=-
        elif [ "$same_pid" = "$restarts" ]; then pcol="$sup0 → $sup1 (same)"
        else pcol="$sup0 → $sup1 (changed at $((restarts - same_pid))/$restarts)"; fi
        notes="\`$(upgrade_label)\`"
        [ ${#self_ms[@]} -gt 0 ] && notes+="; the daemon reports $(printf '%s\n' "${self_ms[@]}" | median) ms (median)"
        if [ "$PEER" = s6 ] || [ "$PEER" = s6-fdholder ]; then
                n=$(grep -c 'another instance of s6-supervise is already running' "$R/sup.log" 2>/dev/null)
                notes+="; the new s6-svscan does not know the running s6-supervise: ${n:-0} failed s6-supervise spawns (already running)"
        fi
        [ -n "$upg_fail" ] && notes+="; an upgrade failed ($upg_fail)"
        row "| $(scenario_label "$sc") | $(row_peer_label) | $req | $failed | $refused | $reset | $timeout | $((short + other)) | $gap | $(awk -v u="$p50" 'BEGIN { printf "%.2f", u / 1000 }') | $(awk -v u="$p99" 'BEGIN { printf "%.1f", u / 1000 }') | $pids | $ucol | $pcol | $rss_col | $notes |"
        log "  $s | upgrade: $ucol | pid: $pcol | $notes"
        # sockvisor's bar (both rows): an in-place upgrade loses no request, every upgrade
        # succeeds, and the daemon keeps its pid and its one worker.
        if [ "$PEER" = sockvisor ] || [ "$PEER" = sockvisor-unmodified ]; then
                if [ "${failed:-1}" != 0 ]; then
                        SOCKVISOR_FAILED=1; log "  $PEER FAILED requests in scenario u"
                fi
                if [ "$restarts" -eq 0 ] || [ "$restarts_ok" != "$restarts" ]; then
                        SOCKVISOR_FAILED=1; log "  $PEER FAILED scenario u: $restarts_ok of $restarts upgrades succeeded${upg_fail:+ ($upg_fail)}"
                fi
                if [ "$same_pid" != "$restarts" ] || [ "${pids:-0}" != 1 ]; then
                        SOCKVISOR_FAILED=1; log "  $PEER FAILED scenario u: daemon pid $pcol, $pids worker pids (want the same pid and 1 worker)"
                fi
        fi
}

# --- control plane --------------------------------------------------------------------------
CP_ROWS=()
ctx_switches() { # PID...: voluntary + involuntary context switches of every thread
        local total=0 p t v
        for p in "$@"; do
                for t in /proc/"$p"/task/*/status; do
                        v=$(awk '/ctxt_switches/ { s += $2 } END { print s + 0 }' "$t" 2>/dev/null)
                        total=$((total + ${v:-0}))
                done
        done
        echo "$total"
}
sup_main_pids() { # the supervisor's own processes (no workers)
        local p
        for p in $(for s in "${SUP_PIDS[@]}"; do descendants "$s"; done); do
                is_worker "$p" && continue
                echo "$p"
        done
}
status_cmd() {
        case "$PEER" in
        sockvisor|sockvisor-unmodified) timeout 30 "$SOCKVISORCTL" -s "$R/ctl.sock" status ;;
        supervisord|supervisord-fcgi) timeout 30 supervisorctl -c "$R/supervisord.conf" status ;;
        pm2) timeout 30 pm2 jlist ;;
        s6|s6-fdholder) timeout 30 s6-svstat "$R/scan/app" ;;
        *) return 2 ;;
        esac
}
status_label() {
        case "$PEER" in
        sockvisor|sockvisor-unmodified) echo "sockvisorctl status" ;;
        supervisord|supervisord-fcgi) echo "supervisorctl status" ;;
        pm2) echo "pm2 jlist" ;;
        s6|s6-fdholder) echo "s6-svstat" ;;
        *) echo "-" ;;
        esac
}

control_plane_one() { # PEER: idle wakeups/s with one program, status round trip (median of RTT_N)
        PEER=$1
        RUN_N=$((RUN_N + 1)); RUN_ID=$RUN_N-$PEER-cp
        R=$T/run-$RUN_ID
        mkdir -p "$R/pids"
        local na; na=$(why_na "$PEER")
        [ -n "$na" ] && { CP_ROWS+=("| $(peer_label "$PEER") | n/a ($na) | | | |"); return 0; }
        PORT=$("$WORKER" --pick-port); WOPTS=(); JS_READY_DELAY=; JS_NEVER_IF=; SV_READY_TIMEOUT=10s
        log "control plane: $(peer_label "$PEER")"
        start_peer || { CP_ROWS+=("| $(peer_label "$PEER") | n/a (start failed) | | | |"); stop_peer; return 0; }
        local first=
        for _ in $(seq 1 150); do first=$(probe 300) && [ -n "$first" ] && break; sleep 0.1; done
        sleep 1
        local pids c0 c1 wake rss rtt=- label
        pids=$(sup_main_pids)
        c0=$(ctx_switches $pids); sleep "$IDLE_S"; c1=$(ctx_switches $pids)
        wake=$(awk -v a="$c0" -v b="$c1" -v s="$IDLE_S" 'BEGIN { printf "%.1f", (b - a) / s }')
        rss=$(sup_rss_kb)
        [ "$rss" != - ] && rss=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
        label=$(status_label)
        if [ "$label" != - ]; then
                local times=() t0 i
                for i in $(seq 1 "$RTT_N"); do
                        now_ms; t0=${EPOCHREALTIME/./}
                        status_cmd >/dev/null 2>&1
                        local t1=${EPOCHREALTIME/./}
                        times+=($(( (10#$t1 - 10#$t0) / 100 )))   # tenths of ms
                done
                rtt=$(printf '%s\n' "${times[@]}" | median | awk '{ printf "%.1f", $1 / 10 }')
        fi
        [ -z "$first" ] && wake="$wake (did not serve)"
        CP_ROWS+=("| $(peer_label "$PEER") | $label | $rtt | $wake | $rss |")
        stop_peer
}

MANY_ROWS=()
many_programs() { # PEER: NPROGS programs of /bin/sleep: time to start all, status time, RSS, idle wakeups
        PEER=$1
        RUN_N=$((RUN_N + 1)); RUN_ID=$RUN_N-$PEER-many
        R=$T/run-$RUN_ID
        mkdir -p "$R/pids"
        local na; na=$(why_na "$PEER")
        [ -n "$na" ] && { MANY_ROWS+=("| $PEER | n/a ($na) | | | | |"); return 0; }
        log "$NPROGS programs: $PEER"
        local i running=0 t0 t_all=- st=- rss wake
        now_ms; t0=$NOW
        case "$PEER" in
        sockvisor)
                { printf '[sockvisord]\ncontrol = %s\nlog = stderr\n' "$R/ctl.sock"
                  for i in $(seq 1 "$NPROGS"); do
                          printf '\n[program:p%d]\ncommand = /bin/sleep 100000\nready = started\nstartsecs = 0\n' "$i"
                  done; } >"$R/sockvisor.ini"
                now_ms; t0=$NOW
                start_bg "$SOCKVISORD" -c "$R/sockvisor.ini"; SUP_PIDS=("$BGPID") ;;
        supervisord)
                local body=
                body=$(for i in $(seq 1 "$NPROGS"); do
                        printf '[program:p%d]\ncommand = /bin/sleep 100000\nstartsecs = 0\nautorestart = false\nstdout_logfile = NONE\nstderr_logfile = NONE\n' "$i"
                done)
                supervisord_conf "$body"
                now_ms; t0=$NOW
                start_bg supervisord -c "$R/supervisord.conf"; SUP_PIDS=("$BGPID") ;;
        esac
        for _ in $(seq 1 1200); do
                running=$(status_cmd_many 2>/dev/null | grep -c RUNNING)
                [ "$running" -ge "$NPROGS" ] && { now_ms; t_all=$((NOW - t0)); break; }
                kill -0 "${SUP_PIDS[0]}" 2>/dev/null || break
                sleep 0.1
        done
        [ "$t_all" = - ] && t_all="not all running ($running)"
        local times=() t1 t2
        for i in 1 2 3 4 5; do
                t1=${EPOCHREALTIME/./}; status_cmd_many >/dev/null 2>&1; t2=${EPOCHREALTIME/./}
                times+=($(( (10#$t2 - 10#$t1) / 1000 )))
        done
        st=$(printf '%s\n' "${times[@]}" | median)
        sleep 1
        local pids c0 c1
        pids=$(sup_main_pids)
        c0=$(ctx_switches $pids); sleep "$IDLE_S"; c1=$(ctx_switches $pids)
        wake=$(awk -v a="$c0" -v b="$c1" -v s="$IDLE_S" 'BEGIN { printf "%.1f", (b - a) / s }')
        rss=$(sup_rss_kb); rss=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
        MANY_ROWS+=("| $(peer_label "$PEER") | $t_all | $st | $rss | $wake |")
        stop_peer
}
status_cmd_many() {
        case "$PEER" in
        sockvisor) timeout 30 "$SOCKVISORCTL" -s "$R/ctl.sock" status ;;
        supervisord) timeout 60 supervisorctl -c "$R/supervisord.conf" status ;;
        esac
}

# --- main -----------------------------------------------------------------------------------
START_S=$SECONDS
: >"$T/rows"
for sc in $SCENARIOS; do
        for peer in $PEERS; do
                run_one "$peer" "$sc" || HARNESS_BROKE=1
        done
done
CP_PEERS=$PEERS
for peer in $CP_PEERS; do
        case "$peer" in selfbind|selfbind-reuse) continue ;; esac
        control_plane_one "$peer"
done
for peer in sockvisor supervisord; do
        [ "$QUICK" = 1 ] && [ "$peer" != sockvisor ] && continue
        [[ " $PEERS " == *" $peer "* ]] || continue   # not grep -w: sockvisor-unmodified is not sockvisor
        many_programs "$peer"
done
ELAPSED=$((SECONDS - START_S))

# --- report ---------------------------------------------------------------------------------
machine() {
        local cpu
        cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
        echo "- Machine: $(nproc) CPUs ($cpu), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
        echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); run took ${ELAPSED} s"
        echo "- Command: \`$CMDLINE\`"
        local v=()
        command -v supervisord >/dev/null && v+=("supervisor $(supervisord --version 2>/dev/null)")
        command -v start_server >/dev/null && v+=("Server::Starter $(perl -MServer::Starter -e 'print $Server::Starter::VERSION' 2>/dev/null)")
        command -v s6-svscan >/dev/null && v+=("s6 $(dpkg-query -W -f='${Version}' s6 2>/dev/null)")
        command -v pm2 >/dev/null && v+=("pm2 $(PM2_HOME=$T/pm2-version timeout 20 pm2 --version 2>/dev/null | tail -n 1; PM2_HOME=$T/pm2-version timeout 20 pm2 kill >/dev/null 2>&1) on node $(node --version 2>/dev/null)")
        v+=("sockvisor $("$SOCKVISORCTL" version 2>/dev/null | head -n 1 || true)")
        echo "- Versions: $(IFS=';'; echo "${v[*]}" | sed 's/;/; /g')"
        echo "- Load: sv-loadclient, $CONC concurrent connect-request-close loops on 127.0.0.1; scenario durations a=${D_A}s b=${D_B}s c=${D_C}s d=${D_D}s e=${D_E}s k=${D_K}s u=${D_U}s"
}
report() {
        echo "## Restarts under load"
        echo
        machine
        echo
        if [ ${#ROWS[@]} -gt 0 ]; then
                echo "| scenario | supervisor | requests | failed | refused | reset | timeout | short | gap ms | p50 ms | p99 ms | pids | restart ms (ok/total) | supervisor RSS MB |"
                echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
                printf '%s\n' "${ROWS[@]}"
                echo
        fi
        if [ ${#U_ROWS[@]} -gt 0 ]; then
                echo "## The supervisor upgraded under load"
                echo
                echo "| scenario | supervisor | requests | failed | refused | reset | timeout | short | gap ms | p50 ms | p99 ms | worker pids | upgrade ms (ok/total) | supervisor pid before → after | supervisor RSS MB | upgrade command, notes |"
                echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
                printf '%s\n' "${U_ROWS[@]}"
                echo
        fi
        echo "## Control plane, one program"
        echo
        echo "| supervisor | status command | status round trip ms (median of $RTT_N) | idle wakeups/s (${IDLE_S} s) | supervisor RSS MB |"
        echo "|---|---|---|---|---|"
        [ ${#CP_ROWS[@]} -gt 0 ] && printf '%s\n' "${CP_ROWS[@]}"
        echo
        echo "## Control plane, $NPROGS programs (/bin/sleep)"
        echo
        echo "| supervisor | time until all RUNNING ms | status ms (median of 5) | daemon RSS MB | idle wakeups/s (${IDLE_S} s) |"
        echo "|---|---|---|---|---|"
        [ ${#MANY_ROWS[@]} -gt 0 ] && printf '%s\n' "${MANY_ROWS[@]}"
}
report | tee "$T/report.md"
if [ -n "$OUT" ]; then cp "$T/report.md" "$OUT"; fi
[ "$QUICK" = 1 ] || cp "$T/report.md" "$HERE/last-run.md" 2>/dev/null || true

if [ "$HARNESS_BROKE" = 1 ]; then log "the harness broke (see above)"; exit 2; fi
if [ "$SOCKVISOR_FAILED" = 1 ]; then log "sockvisor failed a scenario (see above)"; exit 1; fi
exit 0
