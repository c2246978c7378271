# Shared by bench/scale.sh and bench/scale_supervisord.sh: sourced, not run. Each defines
# ctl() (its supervisor's control client) and running_count() (how many programs its log
# says entered RUNNING: polling `status` of 10,000 programs would cost the supervisor more
# than the start-up being measured), then calls wait_all_running and measure_idle.

ms_now() { date +%s%3N; }

# Median wall time of `ctl ARGS...` over RUNS runs, in ms with one decimal (the client's
# own start included; its exit status is not the point: supervisorctl exits 3 when some
# program is not RUNNING).
median_ms() { # RUNS ARGS...
        local runs=$1 k t0 t1
        shift
        for k in $(seq 1 "$runs"); do
                t0=$(date +%s%N)
                ctl "$@" >/dev/null || true
                t1=$(date +%s%N)
                echo $(((t1 - t0) / 1000))
        done | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] / 1000 }'
}

# Every thread's voluntary + involuntary context switches: its wakeups.
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'; }

# Polls running_count every POLL_S until it reaches N or MAX_S has passed since T0_MS, then
# checks with one `ctl status`; sets RUNNING (from that status) and UP_MS. The supervisor
# (PID) dying ends it with LOG's tail.
wait_all_running() { # PID T0_MS POLL_S LOG...
        local pid=$1 t0=$2 poll=$3
        shift 3
        RUNNING=0
        while [ $(($(ms_now) - t0)) -lt $((MAX_S * 1000)) ]; do
                kill -0 "$pid" 2>/dev/null || { tail -n 5 "$@" >&2; exit 1; }
                [ "$(running_count)" -ge "$N" ] && break
                sleep "$poll"
        done
        UP_MS=$(($(ms_now) - t0))
        RUNNING=$(ctl status 2>/dev/null | awk '$2 == "RUNNING"' | wc -l || true)
        [ "$RUNNING" -ge "$N" ] || echo "only $RUNNING of $N RUNNING after $MAX_S s" >&2
}

# Median wall time of `ctl status`, each run after GAP_S seconds of quiet (sockvisord keeps
# its reading of /proc for 1 s: this is the figure of a status that has to read it anew).
median_cold_ms() { # RUNS GAP_S
        local k
        for k in $(seq 1 "$1"); do
                sleep "$2"
                median_ms 1 status
                echo
        done | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] }'
}

# Prints the figures both scripts report, for the supervisor PID: status latencies (all:
# back to back, as `watch` would, then each after a quiet 1.5 s), its wakeups over 10 s
# idle, RSS and fds.
measure_idle() { # PID
        local one all cold s0 s1
        one=$(median_ms 9 status p1)
        all=$(median_ms 5 status)
        sleep 1
        s0=$(switches "$1")
        sleep 10
        s1=$(switches "$1")
        cold=$(median_cold_ms 3 1.5)
        printf 'programs %s\nrunning %s\nall_running_ms %s\nstatus_one_ms %s\nstatus_all_ms %s\nstatus_all_cold_ms %s\n' \
                "$N" "$RUNNING" "$UP_MS" "$one" "$all" "$cold"
        printf 'idle_wakeups_10s %s\nrss_kb %s\nfds %s\n' "$((s1 - s0))" "$(awk '/^VmRSS/ { print $2 }' "/proc/$1/status")" \
                "$(ls "/proc/$1/fd" | wc -l)"
}
