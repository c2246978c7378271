/* The supervisor: events in, decisions by the tables (sm, rollout), effects out through
 * SvOps.
 *
 * Every entry point turns what happened into events on one queue and then drains it in
 * sv_dispatch(): an event feeds one instance's state machine; what that changes for its
 * program (a candidate ready, a drain over) may queue more events, never run them then and
 * there, so nothing here re-enters itself. When the queue is empty, the programs that
 * changed look at their waiting jobs; objects leave every slot at once but are freed only at
 * the end of dispatch, and every later event names instances by id, so a stale exit or timer
 * is a no-op.
 *
 * A program runs numprocs instances, one per index. A restart is a rollout (rollout.h):
 * per index a candidate of the next generation starts on the same sockets and replaces the
 * current instance once ready; the replaced one drains. Configurations and held sockets are
 * reference-counted, so a draining generation keeps its stopsignal and sockets until gone. */
#include "supervisor-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "sockvisor/duration.h"
#include "sockvisor/policy.h"
#include "sockvisor/status.h"
#include "sockvisor/stoporder.h"

/* Rounds of "drain the queue, then settle" per dispatch; far above anything real. A loop
 * that needs more is a bug: it is logged and broken off rather than spinning. */
#define DISPATCH_ROUNDS_MAX 100000

/* ---- small shared pieces ---- */

uint64_t sv_now(const SvSupervisor *s) {
        return s->ops->now(s->ctx);
}

const char *sv_instance_name(const Instance *i, char *buf, size_t len) {
        if (i->conf->numprocs > 1 || i->prog->n > 1)
                (void) snprintf(buf, len, "%s:%u", i->prog->name, i->index);
        else
                (void) snprintf(buf, len, "%s", i->prog->name);
        return buf;
}

void sv_logf(const SvSupervisor *s, int level, const Instance *i, const char *fmt, ...) {
        char text[1024], name[80];
        size_t o = 0;
        SvLogWho who = {};
        if (i) {
                sv_instance_name(i, name, sizeof(name));
                who = (SvLogWho){ .program = i->prog->name, .instance = name, .pid = i->pid, .generation = i->gen };
                o = (size_t) snprintf(text, sizeof(text), i->pid > 0 ? "%s[gen %u pid %d]: " : "%s[gen %u]: ", name,
                                      i->gen, (int) i->pid);
        }
        va_list ap;
        va_start(ap, fmt);
        if (o < sizeof(text))
                (void) vsnprintf(text + o, sizeof(text) - o, fmt, ap);
        va_end(ap);
        s->ops->log(s->ctx, level, &who, text);
}

void sv_replyf(const SvSupervisor *s, SvConnId conn, CtlReplyKind kind, const char *fmt, ...) {
        char text[CTL_LINE_MAX];
        if (!conn)
                return;
        text[0] = '\0';
        if (fmt) {
                va_list ap;
                va_start(ap, fmt);
                (void) vsnprintf(text, sizeof(text), fmt, ap);
                va_end(ap);
        }
        s->ops->reply(s->ctx, conn, kind, text);
}

/* A progress line to every client waiting on p. */
void sv_progress(const SvSupervisor *s, const Program *p, const char *fmt, ...) {
        char text[CTL_LINE_MAX];
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        for (const Waiter *w = p->waiters; w; w = w->next)
                if (w->job->j.conn)
                        s->ops->reply(s->ctx, w->job->j.conn, CTL_REPLY_PROGRESS, text);
}

CfgRef *sv_cfgref_new(SvSupervisor *s, SvConfig *cfg) {
        CfgRef *r = calloc(1, sizeof(CfgRef));
        if (!r)
                return NULL;
        r->socks = calloc(cfg->n_sockets ? cfg->n_sockets : 1, sizeof(HeldSocket *));
        if (!r->socks) {
                free(r);
                return NULL;
        }
        r->s = s;
        r->cfg = cfg;
        r->refs = r->holders = 1;
        return r;
}

CfgRef *sv_cfgref_hold(CfgRef *r) {
        r->holders++;
        return sv_cfgref_ref(r);
}

static void cfgref_drop_sockets(CfgRef *r) {
        for (size_t k = 0; k < r->cfg->n_sockets; k++) {
                sv_held_unref(r->s, r->socks[k]);
                r->socks[k] = NULL;
        }
}

/* The last holder gone: no instance will start from it, so its sockets go (each stays
 * open while an instance that was given it lives). */
CfgRef *sv_cfgref_release(CfgRef *r) {
        if (!r)
                return NULL;
        if (r->holders > 0 && --r->holders == 0)
                cfgref_drop_sockets(r);
        return sv_cfgref_unref(r);
}

CfgRef *sv_cfgref_ref(CfgRef *r) {
        r->refs++;
        return r;
}

CfgRef *sv_cfgref_unref(CfgRef *r) {
        if (r && --r->refs == 0) {
                cfgref_drop_sockets(r);
                free(r->socks);
                sv_config_free(r->cfg);
                free(r);
        }
        return NULL;
}

HeldSocket *sv_held_find(const SvSupervisor *s, const char *name) {
        for (HeldSocket *h = s->socks; h; h = h->next)
                if (h->configured && strcmp(h->name, name) == 0)
                        return h;
        return NULL;
}

void sv_held_unref(SvSupervisor *s, HeldSocket *h) {
        if (!h || --h->refs > 0)
                return;
        for (HeldSocket **pp = &s->socks; *pp; pp = &(*pp)->next)
                if (*pp == h) {
                        *pp = h->next;
                        break;
                }
        sv_logf(s, LOG_INFO, NULL, "socket '%s': closed %s (no configuration or generation uses it any more)", h->name,
                h->info.address);
        s->ops->socket_close(s->ctx, &h->info);
        free(h->name);
        free(h);
}

/* ---- the event queue ---- */

void sv_enqueue(SvSupervisor *s, const Instance *i, SmEvent ev, const char *cause) {
        if (s->q_len == s->q_cap) {
                size_t cap = s->q_cap ? s->q_cap * 2 : 64;
                Event *q = malloc(cap * sizeof(Event));
                if (!q) {
                        sv_logf(s, LOG_ERR, i, "out of memory queueing %s; dropped", sm_event_to_string(ev));
                        return;
                }
                for (size_t k = 0; k < s->q_len; k++) /* unwrap the ring */
                        q[k] = s->queue[(s->q_head + k) % s->q_cap];
                free(s->queue);
                s->queue = q;
                s->q_head = 0;
                s->q_cap = cap;
        }
        Event *e = &s->queue[(s->q_head + s->q_len++) % s->q_cap];
        *e = (Event){ .id = i->id, .ev = ev };
        (void) snprintf(e->cause, sizeof(e->cause), "%s", cause ? cause : "");
}

static bool dequeue(SvSupervisor *s, Event *ret) {
        if (s->q_len == 0)
                return false;
        *ret = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_len--;
        return true;
}

/* Empty after a burst (start-up queues an event per program: 4 MB with 10,000): give the
 * ring back rather than hold its peak for the daemon's life. */
static void shrink_queue(SvSupervisor *s) {
        if (s->q_len > 0 || s->q_cap <= 64)
                return;
        free(s->queue);
        s->queue = NULL;
        s->q_cap = s->q_head = 0;
}

/* ---- instances ---- */

bool sv_state_terminal(SmState st) {
        return st == SM_STOPPED || st == SM_EXITED || st == SM_FATAL;
}

/* Alive in the sense that matters for stopping: a process, or a timer that will make one. */
bool sv_instance_live(const Instance *i) {
        return i && !sv_state_terminal(i->sm.state);
}

Instance *sv_instance_new(Program *p, unsigned index, unsigned gen, const SvProgramConf *conf, CfgRef *cr) {
        SvSupervisor *s = p->s;
        Instance *i = calloc(1, sizeof(Instance));
        if (!i)
                return NULL;
        i->socks = calloc(conf->n_sockets ? conf->n_sockets : 1, sizeof(HeldSocket *));
        if (!i->socks) {
                free(i);
                return NULL;
        }
        i->id = ++s->last_id;
        i->prog = p;
        i->index = index;
        i->gen = gen;
        i->conf = conf;
        i->cr = sv_cfgref_ref(cr);
        sv_instance_index(s, i);
        sv_instance_take_sockets(s, i);
        sm_init(&i->sm, sv_now(s));
        return i;
}

/* The sockets of its configuration, one reference each: taken when it is made, and again
 * when an instance that has ended is started once more. */
void sv_instance_take_sockets(SvSupervisor *s, Instance *i) {
        const SvProgramConf *conf = i->conf;
        if (i->n_socks > 0)
                return;
        for (size_t k = 0; k < conf->n_sockets; k++) {
                HeldSocket *h = i->cr->socks[conf->socket_idx[k]];
                if (!h) { /* cannot happen: a configuration is applied only once its sockets are held */
                        sv_logf(s, LOG_ERR, NULL, "program '%s': socket '%s' is not held (a bug)", i->prog->name,
                                i->cr->cfg->sockets[conf->socket_idx[k]].name);
                        continue;
                }
                h->refs++;
                i->socks[i->n_socks++] = h;
        }
}

static void instance_release_sockets(SvSupervisor *s, Instance *i) {
        for (size_t k = 0; k < i->n_socks; k++)
                sv_held_unref(s, i->socks[k]);
        i->n_socks = 0;
}

Instance *sv_instance_free(SvSupervisor *s, Instance *i) {
        if (!i)
                return NULL;
        if (i->sm.deadline_usec) /* a timer still armed for it (one that fired is gone) */
                s->ops->arm(s->ctx, i->id, 0);
        if (sv_idmap_get(&s->by_id, i->id) == i)
                (void) sv_idmap_remove(&s->by_id, i->id);
        if (sv_pidmap_get(&s->by_pid, i->pid) == i)
                (void) sv_pidmap_remove(&s->by_pid, i->pid);
        instance_release_sockets(s, i);
        free(i->error);
        free(i->health);
        free(i->socks);
        sv_cfgref_unref(i->cr);
        free(i);
        return NULL;
}

/* Out of every slot: freed at the end of dispatch; events naming it are no-ops from now. */
void sv_bury(SvSupervisor *s, Instance *i) {
        i->next = s->graveyard;
        s->graveyard = i;
}

static bool is_current(const Instance *i) {
        return i->index < i->prog->cap && i->prog->cur[i->index] == i;
}

static Instance *find_in_program(const Program *p, SvInstanceId id, pid_t pid) {
        for (unsigned k = 0; k < p->cap; k++) {
                Instance *c = p->cur[k], *n = p->cand[k];
                if (c && (id ? c->id == id : c->pid == pid))
                        return c;
                if (n && (id ? n->id == id : n->pid == pid))
                        return n;
        }
        for (Instance *d = p->draining; d; d = d->next)
                if (id ? d->id == id : d->pid == pid)
                        return d;
        return NULL;
}

void sv_instance_index(SvSupervisor *s, Instance *i) {
        if (sv_idmap_put(&s->by_id, i->id, i) < 0 || (i->pid > 0 && sv_pidmap_put(&s->by_pid, i->pid, i) < 0))
                s->index_lost = true;
}

void sv_instance_set_pid(SvSupervisor *s, Instance *i, pid_t pid) {
        if (sv_pidmap_get(&s->by_pid, i->pid) == i)
                (void) sv_pidmap_remove(&s->by_pid, i->pid);
        i->pid = pid;
        if (pid > 0 && sv_pidmap_put(&s->by_pid, pid, i) < 0)
                s->index_lost = true;
}

void sv_text_set(char **slot, size_t max, const char *fmt, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(buf, max < sizeof(buf) ? max : sizeof(buf), fmt, ap);
        va_end(ap);
        sv_text_clear(slot);
        if (buf[0])
                *slot = strdup(buf);
}

void sv_text_clear(char **slot) {
        free(*slot);
        *slot = NULL;
}

const char *sv_text(const char *t) {
        return t ? t : "";
}

/* In one of its program's slots (cur or cand at its index, or draining): what the scan finds. */
static bool in_slots(const Instance *i) {
        const Program *p = i->prog;
        if (i->index < p->cap && (p->cur[i->index] == i || p->cand[i->index] == i))
                return true;
        for (const Instance *d = p->draining; d; d = d->next)
                if (d == i)
                        return true;
        return false;
}

Instance *sv_instance_find(const SvSupervisor *s, SvInstanceId id, pid_t pid) {
        if (!id && pid <= 0)
                return NULL;
        if (!s->index_lost) {
                Instance *i = id ? sv_idmap_get(&s->by_id, id) : sv_pidmap_get(&s->by_pid, pid);
                return i && (id ? i->id == id : i->pid == pid) && in_slots(i) ? i : NULL;
        }
        for (size_t q = 0; q < s->n_progs; q++) {
                Instance *i = find_in_program(s->progs[q], id, pid);
                if (i)
                        return i;
        }
        return NULL;
}

static SmPolicy instance_policy(const Instance *i) {
        const Program *p = i->prog;
        bool keep = is_current(i) && !p->s->shutting_down && !p->removed;
        SmPolicy pol = sv_policy(i->conf, keep, i->expected_exit);
        /* unhealthy again soon after replacing one: back off as failed starts do */
        pol.replace_delay_usec = i->health_streak ? sm_backoff_delay(&pol, i->health_streak) : 0;
        return pol;
}

/* The program's counters (metrics): what this transition was. */
static void count_transition(Instance *i, const SmResult *res, unsigned failed_before, SmOutcome outcome_before,
                             bool was_unhealthy) {
        SvProgramStats *st = &i->prog->stats;
        if (res->to == SM_STARTING && res->from != SM_STARTING && (res->from == SM_BACKOFF || !is_current(i)))
                st->restarts++; /* after an exit, or a rollout's (or a replacement's) new instance */
        if (i->sm.failed_starts > failed_before ||
            (i->sm.outcome == SM_OUTCOME_READY_TIMEOUT && outcome_before != SM_OUTCOME_READY_TIMEOUT))
                st->failed_starts++;
        if (i->sm.unhealthy && !was_unhealthy)
                st->unhealthy++;
}

/* Why an instance that was healthy is unhealthy now, for its log line and status. */
static void health_verdict(Instance *i, SmEvent ev, const char *cause) {
        if (ev == SM_EV_TIMEOUT)
                sv_text_set(&i->health, 192, "no WATCHDOG=1 within %s", SV_DUR(i->conf->watchdog_usec));
        else
                sv_text_set(&i->health, 192, "%s", cause);
}

static int instance_spawn(SvSupervisor *s, Instance *i) {
        int fds[SV_PROGRAM_SOCKETS_MAX + SV_FDSTORE_MAX];
        char *names[SV_PROGRAM_SOCKETS_MAX + SV_FDSTORE_MAX];
        char iname[80];
        SvDiag d = {};
        pid_t pid = 0;

        size_t n = 0;
        for (size_t k = 0; k < i->n_socks; k++) {
                fds[n] = i->socks[k]->info.fd;
                names[n++] = i->socks[k]->name;
        }
        /* after its sockets; as many as its own configuration allows (a rollout to a lower
         * fdstore_max passes fewer, and trims the store once it is done) */
        for (size_t k = 0; k < i->prog->n_fdstore && k < i->conf->fdstore_max && n < ELEMENTSOF(fds); k++) {
                fds[n] = i->prog->fdstore[k].fd;
                names[n++] = i->prog->fdstore[k].name;
        }
        SvSpawnSpec spec = {
                .id = i->id,
                .program = i->prog->name,
                .instance = sv_instance_name(i, iname, sizeof(iname)),
                .index = i->index,
                .generation = i->gen,
                .conf = i->conf,
                .fds = fds,
                .fd_names = names,
                .n_fds = n,
                .n_sockets = i->n_socks,
        };
        int r = s->ops->spawn(s->ctx, &spec, &pid, &d);
        if (r < 0) {
                sv_text_set(&i->error, 256, "%s", d.msg[0] ? d.msg : strerror(-r));
                sv_logf(s, LOG_ERR, i, "cannot start: %s", sv_text(i->error));
                return r;
        }
        sv_instance_set_pid(s, i, pid);
        sv_text_clear(&i->error);
        i->status[0] = i->exit_text[0] = '\0';
        i->spawned_usec = sv_now(s);
        sv_logf(s, LOG_INFO, i, "started: %s", i->conf->command);
        return 0;
}

/* SIGKILL, to its group with killasgroup; nothing is left to observe of it then. */
static void instance_kill(SvSupervisor *s, Instance *i) {
        i->kill_sent = true;
        s->ops->signal(s->ctx, i->pid, 9 /* SIGKILL */, i->conf->killasgroup);
}

/* Feeds one event to the instance's state machine and carries out what it returns. */
static void instance_feed(SvSupervisor *s, Instance *i, SmEvent ev, const char *cause) {
        uint64_t now = sv_now(s);
        bool was_unhealthy = i->sm.unhealthy;
        /* healthy for as long as the longest backoff: a new failure starts a new count */
        if (i->sm.state == SM_RUNNING && !was_unhealthy && now - i->sm.since_usec >= SV_BACKOFF_MAX_USEC)
                i->health_streak = 0;
        SmPolicy pol = instance_policy(i);
        SmResult res;
        unsigned failed_before = i->sm.failed_starts;
        SmOutcome outcome_before = i->sm.outcome;

        sm_step(&i->sm, ev, now, &pol, &res);
        if (!res.handled) {
                sv_logf(s, LOG_DEBUG, i, "%s ignored in state %s", sm_event_to_string(ev), sm_state_to_string(res.from));
                return;
        }
        count_transition(i, &res, failed_before, outcome_before, was_unhealthy);
        if (i->sm.unhealthy && !was_unhealthy) {
                health_verdict(i, ev, cause);
                if (i->sm.deadline_usec > now)
                        sv_logf(s, LOG_WARNING, i, "unhealthy: %s; replacing it in %s (unhealthy replacements in a "
                                "row: %u)", sv_text(i->health), SV_DUR(i->sm.deadline_usec - now), i->health_streak);
        }
        if (res.actions & SM_ACT_REPLACE) { /* once nothing is in the way: sv_settle */
                i->replace_wanted = true;
                sv_program_dirty(i->prog);
        }
        if (res.from != res.to)
                sv_logf(s, LOG_INFO, i, "%s -> %s (%s)", sm_state_to_string(res.from), sm_state_to_string(res.to),
                        cause);
        if (sv_state_terminal(res.to)) /* no process and none to come: its sockets may close */
                instance_release_sockets(s, i);
        if (res.actions & SM_ACT_DISARM_TIMER)
                s->ops->arm(s->ctx, i->id, 0);
        if (res.actions & SM_ACT_SIGNAL_STOP && i->pid > 0) {
                i->stop_usec = now;
                if (i->conf->drain == SV_DRAIN_IDLE) /* no signal: sv_instance_observe below freezes it */
                        sv_logf(s, LOG_INFO, i, "draining by observation: killed once it holds no accepted "
                                "connection, within %s", SV_DUR(i->conf->stopwait_usec));
                else
                        s->ops->signal(s->ctx, i->pid, i->conf->stopsignal, i->conf->stopasgroup);
        }
        if (res.actions & SM_ACT_SIGNAL_KILL && i->pid > 0) {
                if (i->conf->drain == SV_DRAIN_IDLE)
                        sv_logf(s, LOG_WARNING, i, "still holds an accepted connection after %s; sending SIGKILL%s",
                                SV_DUR(i->conf->stopwait_usec), i->conf->killasgroup ? " to its process group" : "");
                else
                        sv_logf(s, LOG_WARNING, i, "still running %s after SIG%s; sending SIGKILL%s",
                                SV_DUR(i->conf->stopwait_usec), SV_SIGNAME(i->conf->stopsignal),
                                i->conf->killasgroup ? " to its process group" : "");
                instance_kill(s, i);
        }
        bool spawn_failed = res.actions & SM_ACT_SPAWN && instance_spawn(s, i) < 0;
        if (spawn_failed) /* what comes next is the failure's to say, timer included */
                sv_enqueue(s, i, SM_EV_SPAWN_FAILED, sv_text(i->error));
        else if (res.actions & SM_ACT_ARM_TIMER)
                s->ops->arm(s->ctx, i->id, i->sm.deadline_usec);
        if (res.to == SM_BACKOFF && res.from != SM_BACKOFF && i->sm.deadline_usec > now)
                sv_logf(s, LOG_INFO, i, "retrying in %s (failed starts in a row: %u of %u allowed retries)",
                        SV_DUR(i->sm.deadline_usec - now), i->sm.failed_starts, i->conf->startretries);
        if (res.to == SM_FATAL)
                sv_logf(s, LOG_ERR, i, "gave up after %u failed starts in a row; 'sockvisorctl start %s' tries again",
                        i->sm.failed_starts, i->prog->name);
        if (res.from != res.to) /* after the spawn: a new process's pid is known */
                sv_events_transition(s, i, res.from, cause);
        sv_instance_observe(s, i);
        sv_react(s, i, &res);
}

/* ---- observation: ready = accepting, drain = idle ---- */

static SvObserve observe_wanted(const Instance *i) {
        if (i->pid <= 0 || i->kill_sent)
                return SV_OBSERVE_NONE;
        if (i->sm.state == SM_STARTING && i->conf->ready == SV_READY_ACCEPTING)
                return SV_OBSERVE_ACCEPTING;
        if (i->sm.state == SM_STOPPING && i->conf->drain == SV_DRAIN_IDLE)
                return SV_OBSERVE_IDLE;
        return SV_OBSERVE_NONE;
}

static bool probe_wanted(const Instance *i) {
        return i->conf->health.kind != SV_HEALTH_NONE && i->sm.state == SM_RUNNING && !i->sm.unhealthy && i->pid > 0 &&
               !i->kill_sent && !i->prog->s->shutting_down;
}

static void instance_probe(SvSupervisor *s, Instance *i) {
        bool want = probe_wanted(i);
        if (want == i->probing)
                return;
        i->probing = want;
        i->probe_failures = 0;
        s->ops->probe(s->ctx, i->id, i->pid, want ? i->conf : NULL);
}

void sv_instance_observe(SvSupervisor *s, Instance *i) {
        instance_probe(s, i);
        SvObserve want = observe_wanted(i);
        if (want == i->observing)
                return;
        SvSocketInfo socks[SV_PROGRAM_SOCKETS_MAX];
        size_t n = 0;
        for (size_t k = 0; want != SV_OBSERVE_NONE && k < i->n_socks && n < ELEMENTSOF(socks); k++)
                socks[n++] = i->socks[k]->info;
        i->observing = want;
        s->ops->observe(s->ctx, i->id, i->pid, want, socks, n);
}

void sv_supervisor_observed(SvSupervisor *s, SvInstanceId id, SvObserve what, const char *how) {
        Instance *i = sv_instance_find(s, id, 0);
        if (!i || what == SV_OBSERVE_NONE || i->observing != what) {
                sv_logf(s, LOG_DEBUG, i, "stale observation of instance %llu (%s); ignored", (unsigned long long) id,
                        how);
                return;
        }
        if (what == SV_OBSERVE_ACCEPTING) {
                char cause[96];
                (void) snprintf(cause, sizeof(cause), "accepting: %s", how);
                sv_enqueue(s, i, SM_EV_READY, cause);
        } else {
                /* frozen, and no connection of its own to finish: nothing is lost by killing it,
                 * and whatever waits in the shared accept queue goes to the next generation */
                sv_logf(s, LOG_INFO, i, "idle (%s); sending SIGKILL%s", how,
                        i->conf->killasgroup ? " to its process group" : "");
                instance_kill(s, i);
                sv_instance_observe(s, i);
        }
        sv_dispatch(s);
}

void sv_supervisor_probed(SvSupervisor *s, SvInstanceId id, bool healthy, const char *why) {
        Instance *i = sv_instance_find(s, id, 0);
        if (!i || !i->probing) {
                sv_logf(s, LOG_DEBUG, i, "stale probe result of instance %llu; ignored", (unsigned long long) id);
                return;
        }
        unsigned need = i->conf->health.failures;
        if (healthy) {
                if (i->probe_failures)
                        sv_logf(s, LOG_INFO, i, "health check passed again after %u failed", i->probe_failures);
                i->probe_failures = 0;
                sv_text_clear(&i->health);
                sv_program_dirty(i->prog);
                return;
        }
        i->probe_failures++;
        sv_text_set(&i->health, 192, "%s", why && why[0] ? why : "failed");
        sv_logf(s, LOG_WARNING, i, "health check failed (%u of %u in a row): %s", i->probe_failures, need, sv_text(i->health));
        sv_program_dirty(i->prog);
        if (i->probe_failures >= need) {
                char cause[256];
                (void) snprintf(cause, sizeof(cause), "%u health check%s failed in a row, the last: %s",
                                i->probe_failures, i->probe_failures == 1 ? "" : "s", sv_text(i->health));
                sv_enqueue(s, i, SM_EV_UNHEALTHY, cause);
        }
        sv_dispatch(s);
}

/* ---- shutdown, GC, reporting ---- */

static void shutdown_step(SvSupervisor *s) {
        if (!s->shutting_down || s->exited || s->totals.stopping)
                return; /* the level being stopped is not down yet: sv_stop_order_next's WAIT, in O(1) */
        SvStopItem *v = calloc(s->n_progs ? s->n_progs : 1, sizeof(SvStopItem));
        if (!v)
                return;
        for (size_t q = 0; q < s->n_progs; q++)
                v[q] = (SvStopItem){ .priority = s->progs[q]->conf->priority, .live = sv_program_live(s->progs[q]),
                                     .stop_sent = s->progs[q]->stop_sent };
        int level = 0;
        SvStopNext next = sv_stop_order_next(v, s->n_progs, &level);
        free(v);
        if (next == SV_STOP_LEVEL)
                for (size_t q = 0; q < s->n_progs; q++) {
                        Program *p = s->progs[q];
                        if (sv_program_live(p) && !p->stop_sent && p->conf->priority == level) {
                                p->stop_sent = true;
                                sv_program_touch(p);
                                sv_program_stop(p, "sockvisord is shutting down");
                        }
                }
        else if (next == SV_STOP_DONE && s->q_len == 0) {
                s->exited = true;
                sv_logf(s, LOG_INFO, NULL, "every program has stopped");
                sv_events_end_all(s, "sockvisord stopped");
                s->ops->exit(s->ctx, 0);
        }
}

static void gc(SvSupervisor *s) {
        while (s->graveyard) {
                Instance *i = s->graveyard;
                s->graveyard = i->next;
                sv_instance_free(s, i);
        }
        bool removed_left = false; /* one still stopping: looked at again next time */
        for (size_t q = 0; q < s->n_progs && s->any_removed;) {
                Program *p = s->progs[q];
                removed_left |= p->removed;
                if (p->removed && !sv_program_live(p) && !p->waiters) {
                        sv_logf(s, LOG_INFO, NULL, "program '%s': stopped and removed", p->name);
                        sv_program_free(s, p);
                        memmove(s->progs + q, s->progs + q + 1, (s->n_progs - q - 1) * sizeof(Program *));
                        s->n_progs--;
                } else
                        q++;
        }
        s->any_removed = removed_left;
}

/* Keeps STATUS= current, and sends READY=1 once start-up has settled. */
static void report(SvSupervisor *s) {
        SvStatusCounts c = { .stopping = s->shutting_down, .total = s->totals.total, .running = s->totals.running,
                             .failing = s->totals.failing };
        char status[256], msg[300];
        for (size_t q = 0; q < s->n_progs && s->totals.rolling; q++) { /* the first rolling, by priority */
                const Program *p = s->progs[q];
                if (p->ro.state == SV_RO_ROLLING && !c.rolling_program) {
                        c.rolling_program = p->name;
                        c.rolling_gen = p->ro.gen;
                        c.rolling_health = p->ro_health;
                }
        }
        for (const HeldSocket *h = s->socks; h; h = h->next)
                c.sockets += h->configured;
        sv_status_summary(status, sizeof(status), &c);
        if (s->started && !s->ready_sent && !s->shutting_down && s->totals.unsettled == 0) {
                s->ready_sent = true;
                (void) snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
                s->ops->service_manager(s->ctx, msg);
                (void) snprintf(s->last_status, sizeof(s->last_status), "%s", status);
                sv_logf(s, LOG_INFO, NULL, "ready: %s", status);
                return;
        }
        if (strcmp(status, s->last_status) != 0) {
                (void) snprintf(s->last_status, sizeof(s->last_status), "%s", status);
                (void) snprintf(msg, sizeof(msg), "STATUS=%s", status);
                s->ops->service_manager(s->ctx, msg);
        }
}

/* Settles the dirty programs, in priority order. A settle may touch more programs: read by
 * index, as the list may grow (and move) under it; those appended wait for the next round. */
static void settle_dirty(SvSupervisor *s) {
        bool all = s->touched_lost; /* the list is incomplete: every program */
        size_t n = all ? s->n_progs : s->n_touched;
        if (!all)
                sv_touched_sort(s);
        for (size_t k = 0; k < n; k++) {
                Program *p = all ? s->progs[k] : s->touched[k];
                if (p->dirty) {
                        p->dirty = false;
                        sv_settle(p);
                }
        }
}

void sv_dispatch(SvSupervisor *s) {
        if (s->dispatching)
                return; /* an entry point called from an op: its events wait in the queue */
        s->dispatching = true;
        for (unsigned round = 0;; round++) {
                if (round >= DISPATCH_ROUNDS_MAX) {
                        sv_logf(s, LOG_ERR, NULL, "dispatch did not settle after %u rounds; %zu events dropped (a bug)",
                                round, s->q_len);
                        s->q_len = 0;
                        break;
                }
                Event e;
                while (dequeue(s, &e)) {
                        Instance *i = sv_instance_find(s, e.id, 0);
                        if (i)
                                instance_feed(s, i, e.ev, e.cause);
                }
                settle_dirty(s);
                bool dirty = sv_any_dirty(s); /* a settle that changed something looks again */
                if (s->q_len == 0 && !dirty) {
                        sv_tally_update(s); /* what the shutdown order and READY=1 read */
                        shutdown_step(s);
                }
                if (s->q_len == 0 && !dirty)
                        break;
        }
        gc(s);
        shrink_queue(s);
        sv_tally_update(s);
        if (!s->exited)
                report(s);
        s->dispatching = false;
}

/* ---- entry points ---- */

int sv_supervisor_new(const SvOps *ops, void *ctx, SvSupervisor **ret) {
        SvSupervisor *s = calloc(1, sizeof(SvSupervisor));
        if (!s)
                return -ENOMEM;
        s->ops = ops;
        s->ctx = ctx;
        *ret = s;
        return 0;
}

SvSupervisor *sv_supervisor_free(SvSupervisor *s) {
        if (!s)
                return NULL;
        gc(s);
        for (size_t q = 0; q < s->n_progs; q++)
                sv_program_free(s, s->progs[q]);
        free(s->progs);
        sv_pidmap_done(&s->by_id);
        sv_pidmap_done(&s->by_pid);
        while (s->jobs) { /* parts of no program: answer them */
                Job *j = s->jobs;
                j->j.pending = 1;
                sv_job_release_share(s, j);
        }
        s->cr = sv_cfgref_release(s->cr);
        for (HeldSocket *h = s->socks, *next; h; h = next) { /* none, unless references went astray */
                next = h->next;
                s->ops->socket_close(s->ctx, &h->info);
                free(h->name);
                free(h);
        }
        sv_events_end_all(s, NULL);
        free(s->queue);
        free(s->touched);
        free(s);
        return NULL;
}

void sv_supervisor_start_all(SvSupervisor *s) {
        for (size_t q = 0; q < s->n_progs; q++) /* priority order */
                if (s->progs[q]->conf->autostart)
                        sv_program_start(s->progs[q], "sockvisord started");
        s->started = true;
        sv_dispatch(s); /* READY=1 at once when nothing needs to become ready */
}

static void add_pid(const Instance *i, pid_t *ret, size_t cap, size_t *n) {
        if (!i || i->pid <= 0 || (ret && *n >= cap))
                return;
        if (ret)
                ret[*n] = i->pid;
        (*n)++;
}

/* The pids of p's instances with a process into ret (at most cap); returns how many were
 * written (with ret NULL, how many there are). */
static size_t program_pids(const Program *p, pid_t *ret, size_t cap) {
        size_t n = 0;
        for (unsigned k = 0; k < p->cap; k++) {
                add_pid(p->cur[k], ret, cap, &n);
                add_pid(p->cand[k], ret, cap, &n);
        }
        for (const Instance *d = p->draining; d; d = d->next)
                add_pid(d, ret, cap, &n);
        return n;
}

static bool generation_has_process(const Program *p, unsigned gen) {
        for (unsigned k = 0; k < p->cap; k++)
                if ((p->cur[k] && p->cur[k]->pid > 0 && p->cur[k]->gen == gen) ||
                    (p->cand[k] && p->cand[k]->pid > 0 && p->cand[k]->gen == gen))
                        return true;
        for (const Instance *d = p->draining; d; d = d->next)
                if (d->pid > 0 && d->gen == gen)
                        return true;
        return false;
}

/* i was reaped. Once its generation has no process left, what still holds its sockets
 * outside every live worker (a child that called setsid() and went on serving old code)
 * is the ops' to find and stop; each is counted. */
static void sweep_escapees(SvSupervisor *s, Instance *i) {
        Program *p = i->prog;
        if (!s->ops->escapees || i->n_socks == 0 || generation_has_process(p, i->gen))
                return;
        SvSocketInfo socks[SV_PROGRAM_SOCKETS_MAX];
        size_t n_socks = 0;
        for (size_t k = 0; k < i->n_socks && n_socks < SV_PROGRAM_SOCKETS_MAX; k++)
                socks[n_socks++] = i->socks[k]->info;
        SvEscapeQuery q = { .program = p->name, .generation = i->gen, .socks = socks, .n_socks = n_socks,
                            .grace_usec = i->conf->stopwait_usec };
        unsigned n = s->ops->escapees(s->ctx, &q);
        p->stats.escaped_killed += n;
}

size_t sv_supervisor_live_pids(const SvSupervisor *s, pid_t *ret, size_t cap) {
        size_t n = 0;
        for (size_t q = 0; q < s->n_progs; q++)
                n += program_pids(s->progs[q], ret ? ret + n : NULL, ret ? cap - n : 0);
        return n;
}

void sv_supervisor_escaped(SvSupervisor *s, const char *program, unsigned n) {
        for (size_t q = 0; q < s->n_progs; q++)
                if (strcmp(s->progs[q]->name, program) == 0) {
                        s->progs[q]->stats.escaped_killed += n;
                        return;
                }
}

void sv_supervisor_exited(SvSupervisor *s, SvInstanceId id, int code, int status) {
        Instance *i = sv_instance_find(s, id, 0);
        if (!i) {
                sv_logf(s, LOG_DEBUG, NULL, "exit of instance %llu, which is gone; ignored", (unsigned long long) id);
                return;
        }
        char cause[96];
        sv_exit_classify(i->conf, code, status, i->exit_text, sizeof(i->exit_text), &i->expected_exit);
        (void) snprintf(cause, sizeof(cause), "exited with %s", i->exit_text);
        sv_logf(s, LOG_INFO, i, "%s after %s", cause, SV_DUR(sv_now(s) - i->spawned_usec));
        /* With killasgroup, what the worker left in its group goes with it when it was being
         * stopped: a stop means the whole service. */
        if (i->sm.state == SM_STOPPING && i->conf->killasgroup && i->pid > 0)
                s->ops->signal(s->ctx, i->pid, 9 /* SIGKILL */, true);
        sv_instance_set_pid(s, i, 0); /* reaped: never signalled again (the pid may be reused) */
        i->kill_sent = false;
        sweep_escapees(s, i);
        sv_instance_observe(s, i);
        sv_enqueue(s, i, SM_EV_EXIT, cause);
        sv_dispatch(s);
}

void sv_supervisor_timer(SvSupervisor *s, SvInstanceId id) {
        Instance *i = sv_instance_find(s, id, 0);
        if (!i || i->sm.deadline_usec == 0) {
                sv_logf(s, LOG_DEBUG, i, "stale timer of instance %llu; ignored", (unsigned long long) id);
                return;
        }
        if (sv_now(s) < i->sm.deadline_usec) { /* early: wait for the real deadline */
                s->ops->arm(s->ctx, i->id, i->sm.deadline_usec);
                return;
        }
        sv_enqueue(s, i, SM_EV_TIMEOUT, sv_timeout_cause(i->sm.state, i->conf->ready));
        sv_dispatch(s);
}

void sv_supervisor_notify(SvSupervisor *s, pid_t pid, const SvNotifyMsg *m) {
        Instance *i = sv_instance_find(s, 0, pid);
        if (!i) {
                sv_logf(s, LOG_DEBUG, NULL, "notify: message from pid %d, which is no worker of ours; ignored", (int) pid);
                sv_fdstore_close_fds(s, m->fds, m->n_fds);
                return;
        }
        if (m->n_fds || m->fdstore_remove)
                sv_fdstore_message(s, i, m);
        if (m->has_status) {
                (void) snprintf(i->status, sizeof(i->status), "%s", m->status);
                sv_program_dirty(i->prog);
        }
        if (m->stopping)
                sv_logf(s, LOG_DEBUG, i, "STOPPING=1");
        if (m->watchdog)
                sv_enqueue(s, i, SM_EV_PING, "WATCHDOG=1");
        /* systemd's meaning: treat it as a missed watchdog now; once unhealthy, a repeat
         * would only put its replacement off */
        if (m->watchdog_trigger && !i->sm.unhealthy)
                sv_enqueue(s, i, SM_EV_UNHEALTHY, "it sent WATCHDOG=trigger");
        /* ready = accepting is what the operator trusts: a READY=1 that comes before the
         * server accepts (gunicorn's master sends one before its workers load the app) would
         * end the old generation too early */
        if (m->ready && i->conf->ready == SV_READY_ACCEPTING)
                sv_logf(s, LOG_DEBUG, i, "READY=1 ignored: ready = accepting waits until it accepts");
        else if (m->ready)
                sv_enqueue(s, i, SM_EV_READY, "READY=1");
        sv_dispatch(s);
}

void sv_supervisor_command(SvSupervisor *s, SvConnId conn, const CtlRequest *req) {
        sv_command(s, conn, req);
        sv_dispatch(s);
}

bool sv_supervisor_conn_waiting(const SvSupervisor *s, SvConnId conn) {
        for (const Job *j = s->jobs; j; j = j->next)
                if (j->j.conn == conn)
                        return true;
        return sv_events_has(s, conn);
}

void sv_supervisor_conn_closed(SvSupervisor *s, SvConnId conn) {
        sv_events_unsubscribe(s, conn);
        for (Job *j = s->jobs; j; j = j->next)
                if (j->j.conn == conn)
                        j->j.conn = 0;
}

void sv_supervisor_shutdown(SvSupervisor *s, const char *why) {
        if (s->shutting_down) {
                sv_logf(s, LOG_INFO, NULL, "already shutting down");
                return;
        }
        sv_logf(s, LOG_INFO, NULL, "%s: stopping every program, highest priority first", why);
        sv_events_milestone(s, SV_EVENT_SHUTDOWN, NULL, 0, "%s: stopping every program", why);
        s->shutting_down = true;
        s->ops->service_manager(s->ctx, "STOPPING=1\nSTATUS=stopping every program");
        for (size_t q = 0; q < s->n_progs; q++) {
                Program *p = s->progs[q];
                for (unsigned k = 0; k < p->n; k++) /* a retry timer must not start anything now */
                        if (p->cur[k] && p->cur[k]->sm.state == SM_BACKOFF)
                                sv_enqueue(s, p->cur[k], SM_EV_STOP, "sockvisord is shutting down");
                sv_program_cancel(p, "sockvisord is shutting down");
                for (Waiter *w = p->waiters, *next; w; w = next) {
                        next = w->next;
                        sv_waiter_done(p, w, false, "sockvisord is shutting down");
                }
        }
        sv_dispatch(s);
}

bool sv_supervisor_owns_pid(const SvSupervisor *s, pid_t pid) {
        return sv_instance_find(s, 0, pid) != NULL;
}

const SvConfig *sv_supervisor_config(const SvSupervisor *s) {
        return s->cr ? s->cr->cfg : NULL;
}

size_t sv_supervisor_n_programs(const SvSupervisor *s) {
        return s->n_progs;
}

static void view_count(const Instance *i, SvProgramView *v) {
        if (i && i->pid > 0)
                v->processes++;
        if (i && i->sm.unhealthy && i->pid > 0)
                v->unhealthy++;
}

void sv_supervisor_program_view(const SvSupervisor *s, size_t idx, SvProgramView *ret) {
        const Program *p = s->progs[idx];
        *ret = (SvProgramView){
                .name = p->name,
                .conf = p->conf,
                .cfg = p->cr->cfg,
                .n = p->n,
                .removed = p->removed,
                .rolling = p->ro.state == SV_RO_ROLLING,
                .health_rolling = p->ro.state == SV_RO_ROLLING && p->ro_health,
                .rollout_gen = p->ro.state == SV_RO_ROLLING ? p->ro.gen : 0,
                .rollout_target = p->ro.state == SV_RO_ROLLING ? p->ro.n_target : 0,
                .has_job = p->waiters != NULL,
                .n_fdstore = p->n_fdstore,
                .stats = p->stats,
        };
        for (unsigned k = 0; k < p->cap; k++) {
                view_count(p->cur[k], ret);
                view_count(p->cand[k], ret);
                ret->candidates += p->cand[k] != NULL;
                if (k < p->n && k < SV_NUMPROCS_MAX) {
                        ret->state[k] = p->cur[k] ? p->cur[k]->sm.state : SM_STOPPED;
                        ret->current_running += p->cur[k] && p->cur[k]->sm.state == SM_RUNNING;
                }
        }
        for (const Instance *d = p->draining; d; d = d->next) {
                view_count(d, ret);
                ret->draining++;
        }
}

static void instance_view(const Instance *i, SvInstanceRole role, SvInstanceView *v) {
        *v = (SvInstanceView){
                .program = i->prog->name,
                .index = i->index,
                .generation = i->gen,
                .pid = i->pid,
                .state = i->sm.state,
                .role = role,
                .unhealthy = i->sm.unhealthy,
                .spawned_usec = i->spawned_usec,
                .since_usec = i->sm.since_usec,
        };
        sv_instance_name(i, v->name, sizeof(v->name));
        if (i->sm.unhealthy)
                (void) snprintf(v->why, sizeof(v->why), "unhealthy: %s", sv_text(i->health));
        else if (i->pid <= 0 && i->sm.outcome == SM_OUTCOME_SPAWN_FAILED && i->error)
                (void) snprintf(v->why, sizeof(v->why), "%s", i->error);
        else if (i->pid <= 0 && i->exit_text[0])
                (void) snprintf(v->why, sizeof(v->why), "exited with %s", i->exit_text);
        else
                (void) snprintf(v->why, sizeof(v->why), "%s", i->status);
}

size_t sv_supervisor_instance_views(const SvSupervisor *s, size_t idx, SvInstanceView *v, size_t cap) {
        const Program *p = s->progs[idx];
        size_t n = 0;
        for (unsigned k = 0; k < p->n && k < p->cap; k++)
                if (p->cur[k]) {
                        if (n < cap)
                                instance_view(p->cur[k], SV_ROLE_CURRENT, &v[n]);
                        n++;
                }
        for (unsigned k = 0; k < p->cap; k++)
                if (p->cand[k]) {
                        if (n < cap)
                                instance_view(p->cand[k], SV_ROLE_CANDIDATE, &v[n]);
                        n++;
                }
        for (const Instance *d = p->draining; d; d = d->next, n++)
                if (n < cap)
                        instance_view(d, SV_ROLE_DRAINING, &v[n]);
        return n;
}

size_t sv_supervisor_socket_views(const SvSupervisor *s, SvSocketView *v, size_t cap) {
        size_t n = 0;
        for (const HeldSocket *h = s->socks; h; h = h->next, n++)
                if (n < cap)
                        v[n] = (SvSocketView){ .name = h->name, .info = h->info, .configured = h->configured };
        return n;
}

size_t sv_supervisor_n_sockets(const SvSupervisor *s) {
        size_t n = 0;
        for (const HeldSocket *h = s->socks; h; h = h->next)
                n++;
        return n;
}

size_t sv_supervisor_n_jobs(const SvSupervisor *s) {
        size_t n = 0;
        for (const Job *j = s->jobs; j; j = j->next)
                n++;
        return n;
}

size_t sv_supervisor_n_instances(const SvSupervisor *s) {
        size_t n = 0;
        for (size_t q = 0; q < s->n_progs; q++) {
                const Program *p = s->progs[q];
                for (unsigned k = 0; k < p->cap; k++)
                        n += (p->cur[k] != NULL) + (p->cand[k] != NULL);
                for (const Instance *d = p->draining; d; d = d->next)
                        n++;
        }
        for (const Instance *g = s->graveyard; g; g = g->next)
                n++;
        return n;
}
