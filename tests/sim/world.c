/* The simulated world behind SvOps: a virtual clock, one event queue (timers the
 * supervisor arms, process events the world schedules), simulated processes with fresh
 * pids, fake sockets and recorded replies. Deterministic from the episode's seed. */
#include "sim.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>


static void *grow(void *p, size_t *cap, size_t need, size_t elem) {
        if (need <= *cap)
                return p;
        size_t n = *cap ? *cap * 2 : 64;
        while (n < need)
                n *= 2;
        void *q = realloc(p, n * elem);
        if (!q) {
                fprintf(stderr, "sv-sim: out of memory\n");
                exit(2);
        }
        *cap = n;
        return q;
}

/* ---- event queue: a binary heap ordered by (at, seq) ---- */

static bool ev_before(const Event *a, const Event *b) {
        return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void ev_push(World *w, EvKind kind, uint64_t at, uint64_t a, uint32_t token) {
        w->heap = grow(w->heap, &w->cap_heap, w->n_heap + 1, sizeof(Event));
        size_t i = w->n_heap++;
        Event e = { .at = at < w->now ? w->now : at, .seq = w->seq++, .a = a, .token = token, .kind = kind };
        while (i > 0 && ev_before(&e, &w->heap[(i - 1) / 2])) {
                w->heap[i] = w->heap[(i - 1) / 2];
                i = (i - 1) / 2;
        }
        w->heap[i] = e;
}

static Event ev_pop(World *w) {
        Event top = w->heap[0], last = w->heap[--w->n_heap];
        size_t i = 0;
        for (;;) {
                size_t c = 2 * i + 1;
                if (c >= w->n_heap)
                        break;
                if (c + 1 < w->n_heap && ev_before(&w->heap[c + 1], &w->heap[c]))
                        c++;
                if (!ev_before(&w->heap[c], &last))
                        break;
                w->heap[i] = w->heap[c];
                i = c;
        }
        if (w->n_heap > 0)
                w->heap[i] = last;
        return top;
}

bool world_next_at(const World *w, uint64_t *ret_at) {
        if (w->n_heap == 0)
                return false;
        *ret_at = w->heap[0].at;
        return true;
}

/* ---- timers: instance id -> token; a queued timer fires only with the current token ---- */

static uint32_t *tm_slot(World *w, uint64_t id) {
        if (2 * (w->tm_used + 1) > w->tm_cap) {
                size_t old_cap = w->tm_cap;
                uint64_t *ok = w->tm_keys;
                uint32_t *ot = w->tm_tokens;
                w->tm_cap = old_cap ? old_cap * 2 : 256;
                w->tm_keys = calloc(w->tm_cap, sizeof(uint64_t));
                w->tm_tokens = calloc(w->tm_cap, sizeof(uint32_t));
                if (!w->tm_keys || !w->tm_tokens)
                        exit(2);
                w->tm_used = 0;
                for (size_t k = 0; k < old_cap; k++)
                        if (ok[k])
                                *tm_slot(w, ok[k]) = ot[k];
                free(ok);
                free(ot);
        }
        size_t h = (size_t) (id * 0x9e3779b97f4a7c15ULL) & (w->tm_cap - 1);
        while (w->tm_keys[h] && w->tm_keys[h] != id)
                h = (h + 1) & (w->tm_cap - 1);
        if (!w->tm_keys[h]) {
                w->tm_keys[h] = id;
                w->tm_used++;
        }
        return &w->tm_tokens[h];
}

/* ---- processes ---- */

Proc *world_proc(World *w, pid_t pid) {
        if (pid < w->pid_base || (size_t) (pid - w->pid_base) >= w->n_procs)
                return NULL;
        return &w->procs[pid - w->pid_base];
}

unsigned world_alive_of(const World *w, unsigned prog) {
        unsigned n = 0;
        for (size_t k = 0; k < w->n_alive; k++)
                n += w->procs[w->alive[k]].prog == prog;
        return n;
}

/* Schedules p's exit at `at` unless an earlier one is pending. */
static void proc_exit_at(World *w, Proc *p, uint64_t at, int code, int status) {
        if (p->exit_at && p->exit_at <= at)
                return;
        p->exit_at = at;
        p->exit_code = code;
        p->exit_status = status;
        ev_push(w, EV_EXIT, at, (uint64_t) p->pid, ++p->exit_token);
}

static void proc_draw_behaviour(World *w, Proc *p, const Profile *pf, uint64_t startsecs) {
        Rng *r = &w->rng;
        uint64_t now = w->now;
        p->ignore_stop = rng_chance(r, pf->ignore_stop_pm);
        bool slow = rng_chance(r, pf->slow_drain_pm);
        p->drain_usec = slow ? rng_range(r, 1 * SEC, 7 * SEC) : rng_range(r, 0, 800 * MSEC);

        bool announces = p->notify || p->accepting_mode; /* ready by a sign, not by time */
        uint64_t ready_in = announces ? rng_range(r, 0, pf->ready_max_usec) : startsecs;
        if (rng_chance(r, pf->crash_start_pm)) {
                uint64_t t = rng_range(r, 0, ready_in > 0 ? ready_in - (ready_in > 1 ? 1 : 0) : 0);
                bool sig = rng_chance(r, 300);
                proc_exit_at(w, p, now + t, sig ? CLD_KILLED : CLD_EXITED, sig ? SIGSEGV : 1);
                return;
        }
        if (announces && rng_chance(r, pf->hang_pm))
                return; /* never ready, never exits on its own */
        p->ready_at = now + ready_in;
        if (announces)
                ev_push(w, EV_READY, p->ready_at, (uint64_t) p->pid, 0);
        if (rng_chance(r, pf->wedge_pm))
                p->wedge_at = p->ready_at + rng_range(r, 0, 10 * SEC);
        if (p->watchdog_usec) /* pings from its start; the supervisor counts them once it is RUNNING */
                ev_push(w, EV_PING, now + rng_range(r, 0, p->watchdog_usec / 3), (uint64_t) p->pid, 0);
        if (rng_chance(r, pf->crash_run_pm)) {
                bool sig = rng_chance(r, 500);
                proc_exit_at(w, p, p->ready_at + rng_range(r, 1 * MSEC, 20 * SEC), sig ? CLD_KILLED : CLD_EXITED,
                             sig ? SIGABRT : (int) rng_range(r, 1, 3));
        } else if (rng_chance(r, pf->exit0_pm))
                proc_exit_at(w, p, p->ready_at + rng_range(r, 1 * MSEC, 20 * SEC), CLD_EXITED, 0);
}

static void proc_reap(World *w, Proc *p) {
        p->alive = false;
        size_t slot = p->alive_slot;
        w->alive[slot] = w->alive[--w->n_alive];
        w->procs[w->alive[slot]].alive_slot = slot;
}

static const char *sig_name(int sig) {
        const char *s = sv_signal_to_string(sig);
        return s ? s : "?";
}

/* ---- the ops ---- */

static uint64_t op_now(void *ctx) {
        return ((World *) ctx)->now;
}

static uint64_t op_realtime(void *ctx) { /* a fixed epoch plus the virtual clock: deterministic */
        return 1796169600ULL * 1000000ULL + ((World *) ctx)->now;
}

static int op_spawn(void *ctx, const SvSpawnSpec *spec, pid_t *ret_pid, SvDiag *d) {
        World *w = ctx;
        int prog = gen_name_index(spec->program);
        if (prog < 0) {
                violation(w, "spawn", "spawn of '%s', a name the configuration never had", spec->program);
                return -EINVAL;
        }
        if (w->stop_hold[prog])
                violation(w, "2 stop always wins", "%s spawned after its stop answered OK, with no start since",
                          spec->instance);
        if (w->shutting)
                violation(w, "5 shutdown", "%s spawned while shutting down", spec->instance);
        if (spec->n_sockets != spec->conf->n_sockets || spec->n_fds - spec->n_sockets > spec->conf->fdstore_max)
                violation(w, "spawn", "%s gets %zu fds (%zu sockets) but its configuration lists %zu sockets and "
                          "fdstore_max %u", spec->instance, spec->n_fds, spec->n_sockets, spec->conf->n_sockets,
                          spec->conf->fdstore_max);
        for (size_t k = spec->n_sockets; k < spec->n_fds; k++) {
                int f = spec->fds[k] - SFD_BASE;
                if (f < 0 || (size_t) f >= w->n_sfds || !w->sfds[f].open || w->sfds[f].prog != (unsigned) prog)
                        violation(w, "fd store", "%s gets stored fd %d, which is no open fd stored by %s",
                                  spec->instance, spec->fds[k], spec->program);
        }
        for (size_t k = 0; k < spec->n_sockets; k++) {
                bool found = false;
                for (size_t s = 0; s < w->n_socks; s++)
                        if (w->socks[s].open && w->socks[s].fd == spec->fds[k])
                                found = true;
                if (!found)
                        violation(w, "spawn", "%s gets fd %d, which is not an open held socket", spec->instance,
                                  spec->fds[k]);
        }
        w->n_spawns++;
        const char *colon = strchr(spec->instance, ':');
        unsigned index = colon ? (unsigned) atoi(colon + 1) : 0;
        if (index < GEN_NUMPROCS_MAX)
                w->last_spawn[prog][index] = w->now;
        const Profile *pf = &w->prof[prog];
        if (rng_chance(&w->rng, pf->spawn_fail_pm)) {
                diag_set(d, 0, "cannot exec /usr/bin/sim-worker: No such file or directory");
                if (w->verbose)
                        printf("[%10.6f] spawn %s: ENOENT\n", w->now / 1e6, spec->instance);
                return -ENOENT;
        }
        w->procs = grow(w->procs, &w->cap_procs, w->n_procs + 1, sizeof(Proc));
        w->alive = grow(w->alive, &w->cap_alive, w->n_alive + 1, sizeof(size_t));
        Proc *p = &w->procs[w->n_procs];
        *p = (Proc) {
                .pid = w->pid_base + (pid_t) w->n_procs,
                .id = spec->id,
                .prog = (unsigned) prog,
                .index = index,
                .generation = spec->generation,
                .numprocs = spec->conf->numprocs,
                .surge = spec->conf->restart_surge,
                .stopwait_usec = spec->conf->stopwait_usec,
                .ready_usec = spec->conf->ready != SV_READY_STARTED ? spec->conf->ready_timeout_usec
                                                                    : spec->conf->startsecs_usec,
                .stopsig = spec->conf->stopsignal,
                .watchdog_usec = spec->conf->watchdog_usec,
                .notify = spec->conf->ready == SV_READY_NOTIFY,
                .accepting_mode = spec->conf->ready == SV_READY_ACCEPTING,
                .drain_idle = spec->conf->drain == SV_DRAIN_IDLE,
                .alive = true,
                .spawned_at = w->now,
                .alive_slot = w->n_alive,
        };
        w->alive[w->n_alive++] = w->n_procs++;
        proc_draw_behaviour(w, p, pf, spec->conf->startsecs_usec);
        if (w->verbose)
                printf("[%10.6f] spawn %s gen %u id %llu -> pid %d\n", w->now / 1e6, spec->instance,
                       spec->generation, (unsigned long long) spec->id, (int) p->pid);
        *ret_pid = p->pid;
        return 0;
}

static void op_signal(void *ctx, pid_t pid, int sig, bool group) {
        World *w = ctx;
        Proc *p = world_proc(w, pid);
        w->n_signals++;
        if (w->verbose)
                printf("[%10.6f] signal %s%d %s\n", w->now / 1e6, group ? "-" : "", (int) pid,
                       sig_name(sig));
        if (!p) {
                violation(w, "signal", "signal %d to pid %d, which the world never spawned", sig, (int) pid);
                return;
        }
        if (!p->alive && group && sig == SIGKILL)
                return; /* killasgroup: what the leader left in its group goes after its exit */
        if (p->drain_idle && sig == p->stopsig && !w->in_signal_command)
                violation(w, "drain = idle", "pid %d (drain = idle) was sent its stopsignal %s", (int) pid,
                          sig_name(sig));
        if (p->drain_idle && sig == SIGKILL && !w->in_signal_command && p->observed == SV_OBSERVE_IDLE && !p->idle_reported &&
            w->now < p->idle_since + p->stopwait_usec)
                violation(w, "drain = idle", "pid %d killed %.3f s into its drain, busy, before stopwaitsecs (%.3f s)",
                          (int) pid, (w->now - p->idle_since) / 1e6, p->stopwait_usec / 1e6);
        if (!p->alive) {
                violation(w, "signal", "signal %s to pid %d after its exit was reported (pid reuse hazard)",
                          sig_name(sig), (int) pid);
                return;
        }
        p->signalled = true;
        p->user_signalled = p->user_signalled || w->in_signal_command;
        if (sig == SIGKILL)
                proc_exit_at(w, p, w->now + rng_range(&w->rng, 1, 5) * MSEC, CLD_KILLED, SIGKILL);
        else if (sig == p->stopsig) {
                if (!p->ignore_stop && !p->stop_seen)
                        proc_exit_at(w, p, w->now + p->drain_usec, CLD_EXITED, 0);
                p->stop_seen = true;
        } else if (sig != 0 && rng_chance(&w->rng, 300))
                proc_exit_at(w, p, w->now + rng_range(&w->rng, 0, 10) * MSEC, CLD_KILLED, sig);
}

static void op_arm(void *ctx, SvInstanceId id, uint64_t at) {
        World *w = ctx;
        uint32_t *tok = tm_slot(w, id);
        ++*tok;
        if (at)
                ev_push(w, EV_TIMER, at, id, *tok);
}

static int op_socket_open(void *ctx, const SvSocketConf *sc, bool startup, SvSocketInfo *ret, SvDiag *d) {
        World *w = ctx;
        int name = sc->name && sc->name[0] == 's' ? atoi(sc->name + 1) : -1;
        if (w->in_reload && w->reload_old) {
                char listen[SV_ADDR_STRLEN];
                for (size_t k = 0; k < w->reload_old->n_sockets; k++) {
                        gen_socket_listen(&w->reload_old->sockets[k], listen, sizeof(listen));
                        if ((int) w->reload_old->sockets[k].name == name && strcmp(listen, sc->listen) == 0)
                                violation(w, "reload", "socket s%d re-bound although its listen line is unchanged",
                                          name);
                }
        }
        for (size_t s = 0; s < w->n_socks; s++)
                if (w->socks[s].open && strcmp(w->socks[s].listen, sc->listen) == 0) {
                        diag_set(d, 0, "bind %s: Address already in use (held by us)", sc->listen);
                        w->socket_failed = true;
                        return -EADDRINUSE;
                }
        if (rng_chance(&w->rng, w->socket_fail_pm)) {
                diag_set(d, 0, "bind %s: Address already in use", sc->listen);
                w->socket_failed = true;
                return -EADDRINUSE;
        }
        w->socks = grow(w->socks, &w->cap_socks, w->n_socks + 1, sizeof(WSock));
        WSock *ws = &w->socks[w->n_socks];
        *ws = (WSock) { .fd = 100 + (int) w->n_socks, .open = true, .name = (unsigned) name };
        snprintf(ws->listen, sizeof(ws->listen), "%s", sc->listen);
        *ret = (SvSocketInfo) { .handle = (void *) (uintptr_t) (w->n_socks + 1), .fd = ws->fd,
                                .inode = 5000 + w->n_socks };
        snprintf(ret->address, sizeof(ret->address), "%s", sc->listen);
        w->n_socks++;
        w->socks_open++;
        return 0;
}

static WSock *sock_of(World *w, const SvSocketInfo *si, const char *what) {
        uintptr_t h = (uintptr_t) si->handle;
        if (h == 0 || h > w->n_socks || w->socks[h - 1].fd != si->fd) {
                violation(w, "sockets", "%s of a socket the world never opened (fd %d)", what, si->fd);
                return NULL;
        }
        WSock *ws = &w->socks[h - 1];
        if (!ws->open) {
                violation(w, "sockets", "%s of fd %d (%s), already closed", what, ws->fd, ws->listen);
                return NULL;
        }
        return ws;
}

static int op_socket_adjust(void *ctx, const SvSocketInfo *si, const SvSocketConf *sc, SvDiag *d) {
        (void) sock_of(ctx, si, "adjust");
        return 0;
}

static void op_socket_retire(void *ctx, const SvSocketInfo *si) {
        WSock *ws = sock_of(ctx, si, "retire");
        if (ws)
                ws->retired = true;
}

static void op_socket_close(void *ctx, SvSocketInfo *si) {
        World *w = ctx;
        WSock *ws = sock_of(w, si, "close");
        if (ws) {
                ws->open = false;
                w->socks_open--;
        }
}

Conn *world_conn(World *w, SvConnId id) {
        return id >= 1 && id <= w->n_conns ? &w->conns[id - 1] : NULL;
}

Conn *world_conn_new(World *w) {
        w->conns = grow(w->conns, &w->cap_conns, w->n_conns + 1, sizeof(Conn));
        Conn *c = &w->conns[w->n_conns++];
        *c = (Conn) { .id = w->n_conns, .sent_at = w->now };
        return c;
}

static void op_reply(void *ctx, SvConnId id, CtlReplyKind kind, const char *text) {
        World *w = ctx;
        static const char *const kinds[] = { ".", "|", "OK", "ERR" };
        Conn *c = world_conn(w, id);
        if (w->verbose)
                printf("[%10.6f] reply #%llu %s %s\n", w->now / 1e6, (unsigned long long) id,
                       kind < _CTL_REPLY_MAX ? kinds[kind] : "?", text ? text : "");
        if (!c) {
                violation(w, "reply", "reply to connection %llu, which never sent a command", (unsigned long long) id);
                return;
        }
        if (c->final) {
                violation(w, "reply", "reply '%s %s' to #%llu (%s) after its final line",
                          kind < _CTL_REPLY_MAX ? kinds[kind] : "?", text ? text : "", (unsigned long long) id, c->line);
                return;
        }
        if (kind == CTL_REPLY_PROGRESS)
                c->progress = true;
        if (kind == CTL_REPLY_OUTPUT && c->verb == SV_VERB_EVENTS)
                check_event_line(w, c, text ? text : "");
        if (!ctl_reply_is_final(kind))
                return;
        c->final = true;
        c->ok = kind == CTL_REPLY_OK;
        c->post_pending = true;
        snprintf(c->text, sizeof(c->text), "%s", text ? text : "");
        world_logf(w, "#%llu %s -> %s %s", (unsigned long long) id, c->line, kinds[kind], text ? text : "");
}

static void op_usage(void *ctx, const pid_t *pgids, size_t n, SvGroupUsage *ret) {
        World *w = ctx;
        for (size_t k = 0; k < n; k++) {
                Proc *p = world_proc(w, pgids[k]);
                ret[k] = (SvGroupUsage){ .procs = p && p->alive };
        }
}

static void op_service_manager(void *ctx, const char *a) {
        World *w = ctx;
        if (strstr(a, "READY=1"))
                w->sm_ready = true;
}

static void op_log(void *ctx, int level, const SvLogWho *who, const char *text) {
        World *w = ctx;
        if (who && who->instance)
                world_logf(w, "<%d> %s[%d]: %s", level, who->instance, (int) who->pid, text);
        else
                world_logf(w, "<%d> %s", level, text);
}

static void op_set_log_target(void *ctx, SvLogTo t) {
}

static void op_exit(void *ctx, int status) {
        World *w = ctx;
        if (w->exit_called)
                violation(w, "5 shutdown", "ops->exit called twice");
        if (!w->shutting)
                violation(w, "5 shutdown", "ops->exit(%d) without a shutdown", status);
        w->exit_called = true;
        w->exit_at = w->now;
        world_logf(w, "exit(%d)", status);
}

/* ---- the fd store ---- */

static WFd *sfd_of(World *w, int fd, const char *what) {
        int f = fd - SFD_BASE;
        if (f < 0 || (size_t) f >= w->n_sfds || !w->sfds[f].open) {
                violation(w, "fd store", "%s of fd %d, which is no open stored fd", what, fd);
                return NULL;
        }
        return &w->sfds[f];
}

static void op_fd_close(void *ctx, int fd) {
        World *w = ctx;
        WFd *f = sfd_of(w, fd, "close");
        if (f) {
                f->open = f->watched = false;
                w->sfds_open--;
        }
}

static void op_fd_watch(void *ctx, int fd) {
        WFd *f = sfd_of(ctx, fd, "watch");
        if (f)
                f->watched = true;
}

/* ready = accepting: reported a little after it starts to accept (the daemon looks at an
 * interval). drain = idle: reported once its requests in flight are done (drain_usec); one
 * that ignores its stop stays busy and meets stopwaitsecs. */
static void op_observe(void *ctx, SvInstanceId id, pid_t pid, SvObserve what, const SvSocketInfo *socks, size_t n) {
        World *w = ctx;
        Proc *p = world_proc(w, pid);
        if (w->verbose)
                printf("[%10.6f] observe id %llu pid %d: %d\n", w->now / 1e6, (unsigned long long) id, (int) pid, what);
        if (what == SV_OBSERVE_NONE) {
                if (p)
                        p->observed = SV_OBSERVE_NONE;
                return;
        }
        if (!p || !p->alive || p->id != id) {
                violation(w, "observe", "observe %d of instance %llu, pid %d, which is not alive as that instance", what,
                          (unsigned long long) id, (int) pid);
                return;
        }
        if ((what == SV_OBSERVE_ACCEPTING && !p->accepting_mode) || (what == SV_OBSERVE_IDLE && !p->drain_idle))
                violation(w, "observe", "pid %d watched for %s, which its configuration does not ask for", (int) pid,
                          what == SV_OBSERVE_ACCEPTING ? "accepting" : "idle");
        p->observed = what;
        p->watched = true;
        if (what == SV_OBSERVE_ACCEPTING && p->listening)
                ev_push(w, EV_OBSERVE, w->now + rng_range(&w->rng, 2, 50) * MSEC, (uint64_t) p->pid, what);
        if (what == SV_OBSERVE_IDLE) {
                if (!p->idle_since) /* an upgrade watches again: the drain began at the first */
                        p->idle_since = w->now;
                if (!p->ignore_stop)
                        ev_push(w, EV_OBSERVE, w->now + p->drain_usec + rng_range(&w->rng, 0, 20) * MSEC,
                                (uint64_t) p->pid, what);
        }
}

/* healthcheck=: the first probe at once, then one per interval, each answered within its
 * timeout; a wedged worker fails them, and now and then a healthy one does too. */
static void op_probe(void *ctx, SvInstanceId id, pid_t pid, const SvProgramConf *conf) {
        World *w = ctx;
        Proc *p = NULL;
        for (size_t k = w->n_procs; k-- > 0 && !p;)
                if (w->procs[k].id == id)
                        p = &w->procs[k];
        if (w->verbose)
                printf("[%10.6f] probe id %llu pid %d: %s\n", w->now / 1e6, (unsigned long long) id, (int) pid,
                       conf ? "start" : "end");
        if (!p) {
                violation(w, "11 health", "probe of instance %llu, which the world never spawned",
                          (unsigned long long) id);
                return;
        }
        p->probe_token++;
        p->probed = conf != NULL;
        if (!conf)
                return;
        if (!p->alive || p->pid != pid)
                violation(w, "11 health", "probing of instance %llu (pid %d), which is not alive as that pid",
                          (unsigned long long) id, (int) pid);
        if (conf->health.kind == SV_HEALTH_NONE)
                violation(w, "11 health", "pid %d probed, and its configuration has no healthcheck=", (int) pid);
        if (w->shutting)
                violation(w, "11 health", "pid %d probed while shutting down", (int) pid);
        p->probe_interval_usec = conf->health.interval_usec;
        p->probe_timeout_usec = conf->health.timeout_usec;
        ev_push(w, EV_PROBE, w->now + rng_range(&w->rng, 0, p->probe_timeout_usec), (uint64_t) p->pid, p->probe_token);
}

/* Asked once a generation's last process is reaped: none of that generation is alive, the
 * live workers it is told of are exactly the processes alive, and its sockets are open ones
 * of the world. The world's workers leave nothing behind: nothing is found. */
static unsigned op_escapees(void *ctx, const SvEscapeQuery *q) {
        World *w = ctx;
        int prog = gen_name_index(q->program);
        w->n_escape_sweeps++;
        /* The daemon's search asks for the live workers when it runs: the same answer. */
        size_t n_live = sv_supervisor_live_pids(w->sv, NULL, 0);
        pid_t *live = calloc(n_live ? n_live : 1, sizeof(pid_t));
        if (!live)
                abort();
        n_live = sv_supervisor_live_pids(w->sv, live, n_live);
        for (size_t k = 0; k < w->n_alive; k++) {
                const Proc *p = &w->procs[w->alive[k]];
                bool listed = false;
                for (size_t m = 0; m < n_live && !listed; m++)
                        listed = live[m] == p->pid;
                if ((int) p->prog == prog && p->generation == q->generation)
                        violation(w, "escapees", "asked what generation %u of %s left behind, but its pid %d is alive",
                                  q->generation, q->program, (int) p->pid);
                if (!listed)
                        violation(w, "escapees", "pid %d (p%u gen %u) is alive but not among the %zu live workers",
                                  (int) p->pid, p->prog, p->generation, n_live);
        }
        for (size_t m = 0; m < n_live; m++) {
                const Proc *p = world_proc(w, live[m]);
                if (!p || !p->alive)
                        violation(w, "escapees", "pid %d is among the live workers but is not alive", (int) live[m]);
        }
        free(live);
        if (q->n_socks == 0)
                violation(w, "escapees", "asked about generation %u of %s, which has no sockets", q->generation,
                          q->program);
        for (size_t k = 0; k < q->n_socks; k++)
                (void) sock_of(w, &q->socks[k], "escapees");
        return 0;
}

static int op_fd_carry(void *ctx, int fd, bool restoring) {
        return sfd_of(ctx, fd, restoring ? "restore" : "carry") ? 0 : -EBADF;
}

/* READY=1 from p, and now and then fds with it (stored or, without FDSTORE=1, refused), or
 * FDSTOREREMOVE=1. */
static void notify_ready(World *w, Proc *p) {
        SvNotifyMsg m = { .ready = true, .fdpoll = true };
        Rng *r = &w->rng;
        snprintf(m.fdname, sizeof(m.fdname), "f%u", (unsigned) rng_below(r, 2));
        if (rng_chance(r, 250)) {
                m.fdstore = !rng_chance(r, 100);
                m.fdpoll = !rng_chance(r, 300);
                m.n_fds = (size_t) rng_range(r, 1, 2);
                for (size_t k = 0; k < m.n_fds; k++) {
                        w->sfds = grow(w->sfds, &w->cap_sfds, w->n_sfds + 1, sizeof(WFd));
                        w->sfds[w->n_sfds] = (WFd){ .fd = SFD_BASE + (int) w->n_sfds, .open = true, .prog = p->prog };
                        m.fds[k] = w->sfds[w->n_sfds++].fd;
                        w->sfds_open++;
                }
        } else if (rng_chance(r, 60))
                m.fdstore_remove = true;
        sv_supervisor_notify(w->sv, p->pid, &m);
}

void world_fd_hangup(World *w) {
        size_t watched = 0;
        for (size_t k = 0; k < w->n_sfds; k++)
                watched += w->sfds[k].watched;
        if (!watched)
                return;
        size_t pick = rng_below(&w->rng, watched);
        for (size_t k = 0; k < w->n_sfds; k++)
                if (w->sfds[k].watched && pick-- == 0) {
                        world_logf(w, "stored fd %d hangs up", w->sfds[k].fd);
                        w->sfds[k].watched = false; /* reported once, as the daemon drops its source */
                        sv_supervisor_fd_hangup(w->sv, w->sfds[k].fd);
                        return;
                }
}

/* The upgrade: what the previous image held comes back by fd, and every pid by id. */
static int op_socket_export(void *ctx, const SvSocketInfo *si, char *buf, size_t len) {
        WSock *ws = sock_of(ctx, si, "export");
        return ws ? snprintf(buf, len, "world-socket=%u", (unsigned) (uintptr_t) si->handle) : -EBADF;
}

static int op_socket_import(void *ctx, const char *name, const SvSocketInfo *saved, const char *ext,
                            SvSocketInfo *ret, SvDiag *d) {
        World *w = ctx;
        unsigned h = 0;
        if (sscanf(ext, "world-socket=%u", &h) != 1 || h == 0 || h > w->n_socks || w->socks[h - 1].fd != saved->fd ||
            !w->socks[h - 1].open) {
                violation(w, "8 upgrade", "socket '%s': import of fd %d with '%s', which the world does not hold", name,
                          saved->fd, ext);
                return diag_set(d, 0, "not held"), -EBADF;
        }
        *ret = *saved;
        ret->handle = (void *) (uintptr_t) h;
        return 0;
}

static int op_adopt(void *ctx, SvInstanceId id, pid_t pid) {
        World *w = ctx;
        Proc *p = world_proc(w, pid);
        if (!p || !p->alive || p->id != id) {
                violation(w, "8 upgrade", "adopt of pid %d for instance %llu, which is no live worker of it", (int) pid,
                          (unsigned long long) id);
                return -ESRCH;
        }
        return 0;
}

void world_forget_timers(World *w) {
        for (size_t k = 0; k < w->n_sfds; k++)
                w->sfds[k].watched = false; /* the new image watches them again */
        for (size_t k = 0; k < w->tm_cap; k++)
                if (w->tm_keys[k])
                        w->tm_tokens[k]++; /* every armed timer is stale: execve drops them */
        for (size_t k = 0; k < w->n_procs; k++) { /* and every /proc watch and probe */
                w->procs[k].observed = SV_OBSERVE_NONE;
                w->procs[k].probed = false;
                w->procs[k].probe_token++;
        }
}

const SvOps world_ops = {
        .now = op_now,
        .realtime = op_realtime,
        .spawn = op_spawn,
        .signal = op_signal,
        .arm = op_arm,
        .socket_open = op_socket_open,
        .socket_adjust = op_socket_adjust,
        .socket_retire = op_socket_retire,
        .socket_close = op_socket_close,
        .reply = op_reply,
        .usage = op_usage,
        .service_manager = op_service_manager,
        .log = op_log,
        .set_log_target = op_set_log_target,
        .exit = op_exit,
        .socket_export = op_socket_export,
        .socket_import = op_socket_import,
        .adopt = op_adopt,
        .fd_close = op_fd_close,
        .fd_watch = op_fd_watch,
        .fd_carry = op_fd_carry,
        .observe = op_observe,
        .probe = op_probe,
        .escapees = op_escapees,
};

/* ---- events ---- */

void world_run_event(World *w) {
        Event e = ev_pop(w);
        w->now = e.at;
        switch (e.kind) {
        case EV_TIMER:
                if (*tm_slot(w, e.a) != e.token)
                        return; /* re-armed or disarmed since */
                ++*tm_slot(w, e.a);
                if (w->verbose)
                        printf("[%10.6f] timer id %llu\n", w->now / 1e6, (unsigned long long) e.a);
                sv_supervisor_timer(w->sv, e.a);
                break;
        case EV_READY: {
                Proc *p = world_proc(w, (pid_t) e.a);
                if (!p || !p->alive)
                        return;
                if (p->accepting_mode) {
                        p->listening = true;
                        if (p->observed == SV_OBSERVE_ACCEPTING)
                                ev_push(w, EV_OBSERVE, w->now + rng_range(&w->rng, 2, 50) * MSEC, (uint64_t) p->pid,
                                        SV_OBSERVE_ACCEPTING);
                        break;
                }
                if (w->verbose)
                        printf("[%10.6f] pid %d READY=1\n", w->now / 1e6, (int) p->pid);
                notify_ready(w, p);
                break;
        }
        case EV_OBSERVE: {
                Proc *p = world_proc(w, (pid_t) e.a);
                if (!p || !p->alive || p->observed != (SvObserve) e.token)
                        return; /* the watch ended, or changed, since */
                if (e.token == SV_OBSERVE_IDLE)
                        p->idle_reported = true;
                if (w->verbose)
                        printf("[%10.6f] pid %d observed %s\n", w->now / 1e6, (int) p->pid,
                               e.token == SV_OBSERVE_IDLE ? "idle" : "accepting");
                sv_supervisor_observed(w->sv, p->id, (SvObserve) e.token,
                                       e.token == SV_OBSERVE_IDLE ? "sim: idle" : "sim: accepting");
                break;
        }
        case EV_PING: {
                Proc *p = world_proc(w, (pid_t) e.a);
                if (!p || !p->alive || (p->wedge_at && w->now >= p->wedge_at))
                        return; /* wedged: no more pings */
                uint64_t gap = p->watchdog_usec / 3 ? p->watchdog_usec / 3 : 1;
                ev_push(w, EV_PING, w->now + rng_range(&w->rng, gap / 2, gap), (uint64_t) p->pid, 0);
                sv_supervisor_notify(w->sv, p->pid, &(SvNotifyMsg){ .watchdog = true, .fdpoll = true });
                break;
        }
        case EV_PROBE: {
                Proc *p = world_proc(w, (pid_t) e.a);
                if (!p || !p->alive || !p->probed || p->probe_token != e.token)
                        return; /* probing ended or began anew since */
                bool healthy = !(p->wedge_at && w->now >= p->wedge_at) && !rng_chance(&w->rng, 30);
                uint64_t next = p->probe_interval_usec > p->probe_timeout_usec ? p->probe_interval_usec : 1;
                ev_push(w, EV_PROBE, w->now + next, (uint64_t) p->pid, p->probe_token);
                sv_supervisor_probed(w->sv, p->id, healthy, healthy ? "" : "sim: HTTP 503");
                break;
        }
        case EV_EXIT: {
                Proc *p = world_proc(w, (pid_t) e.a);
                if (!p || !p->alive || p->exit_token != e.token)
                        return;
                proc_reap(w, p);
                bool healthy = p->ready_at && p->ready_at <= w->now;
                if ((!p->signalled && healthy) || p->user_signalled)
                        check_disturb(w, p->prog); /* a crash or exit of its own, or asked for, after ready */
                if (w->verbose)
                        printf("[%10.6f] pid %d exited %s %d\n", w->now / 1e6, (int) p->pid,
                               p->exit_code == CLD_EXITED ? "status" : "signal", p->exit_status);
                pid_t pid = p->pid;
                sv_supervisor_exited(w->sv, p->id, p->exit_code, p->exit_status);
                p = world_proc(w, pid); /* the call may have spawned: w->procs moved */
                if (p && p->probed)
                        violation(w, "11 health", "pid %d is still probed after its exit was reported", (int) pid);
                break;
        }
        }
}

/* ---- log ring ---- */

void world_logf(World *w, const char *fmt, ...) {
        char *line = w->logs[w->log_next];
        int n = snprintf(line, sizeof(w->logs[0]), "[%10.6f] ", w->now / 1e6);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof(w->logs[0]) - (size_t) n, fmt, ap);
        va_end(ap);
        if (w->verbose)
                printf("%s\n", line);
        w->log_next = (w->log_next + 1) % LOG_RING;
        if (w->n_logs < LOG_RING)
                w->n_logs++;
}

int gen_name_index(const char *name) {
        if (!name || name[0] != 'p' || name[1] < '0' || name[1] >= '0' + GEN_NAMES || name[2])
                return -1;
        return name[1] - '0';
}

static const Profile profiles[] = {
        /* spawn hang crash_s crash_r exit0 ignore slow ready_max wedge */
        { 0, 0, 0, 0, 0, 0, 0, 1 * SEC, 0 },                     /* healthy */
        { 5, 10, 20, 30, 20, 50, 50, 3 * SEC, 20 },              /* mostly fine */
        { 50, 100, 150, 150, 100, 200, 200, 6 * SEC, 100 },      /* flaky: slow, hangs, crashes */
        { 300, 200, 400, 300, 100, 300, 300, 2 * SEC, 150 },     /* broken */
        { 0, 0, 0, 0, 0, 700, 700, 1 * SEC, 0 },                 /* stubborn at stop */
        { 0, 0, 0, 50, 0, 0, 100, 1 * SEC, 500 },                /* wedges while it serves */
};

void world_init(World *w, uint64_t seed, unsigned episode, bool verbose) {
        memset(w, 0, sizeof(*w));
        w->seed = seed;
        w->episode = episode;
        w->verbose = verbose;
        rng_seed(&w->rng, seed);
        w->now = 1000 * SEC;
        w->pid_base = 1000;
        for (unsigned k = 0; k < GEN_NAMES; k++)
                w->prof[k] = profiles[rng_below(&w->rng, sizeof(profiles) / sizeof(profiles[0]))];
}

void world_done(World *w) {
        free(w->heap);
        free(w->tm_keys);
        free(w->tm_tokens);
        free(w->procs);
        free(w->alive);
        free(w->socks);
        for (size_t k = 0; k < w->n_conns; k++)
                free(w->conns[k].seen);
        free(w->conns);
        free(w->sfds);
}
