/* Upgrade in place: the supervisor's whole state to text (statefile.h) and back.
 *
 * Records, in this order, each naming only what came before it:
 *
 *     sock ...   the held sockets (configured, or retired and still draining)
 *     cfg ...    every configuration still referenced, as the text it was parsed from,
 *                with the held socket each of its [socket:] sections is
 *     core ...   the running configuration, the id counter, READY=1 sent
 *     job ...    control commands still waiting
 *     prog ...   a program (priority order), its rollout, then its
 *       wait ... waiting jobs (arrival order),
 *       fdstore ... the fds its workers stored, and
 *       inst ... instances: current, candidate or draining, with pid, state and deadline
 *     end
 *
 * Reference counts are not written: they follow from the references, and the restore
 * checks them against the counts the writer had (refs=, holders=), so a state that does
 * not add up is refused rather than run. */
#include "supervisor-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* ---- a supervisor that does nothing: what the previous image becomes at execve ---- */

static uint64_t null_now(void *ctx) {
        return 0;
}
static void null_signal(void *ctx, pid_t pid, int sig, bool group) {
}
static void null_arm(void *ctx, SvInstanceId id, uint64_t at) {
}
static void null_socket_close(void *ctx, SvSocketInfo *si) {
        si->handle = NULL; /* the next image owns the fd now */
}
static void null_reply(void *ctx, SvConnId conn, CtlReplyKind kind, const char *text) {
}
static void null_log(void *ctx, int level, const SvLogWho *who, const char *text) {
}
static void null_service_manager(void *ctx, const char *assignments) {
}
static void null_fd_close(void *ctx, int fd) {
}
static void null_observe(void *ctx, SvInstanceId id, pid_t pid, SvObserve what, const SvSocketInfo *socks, size_t n) {
}
static void null_probe(void *ctx, SvInstanceId id, pid_t pid, const SvProgramConf *conf) {
}

static const SvOps null_ops = {
        .now = null_now,
        .realtime = null_now,
        .signal = null_signal,
        .arm = null_arm,
        .socket_close = null_socket_close,
        .reply = null_reply,
        .log = null_log,
        .service_manager = null_service_manager,
        .fd_close = null_fd_close,
        .observe = null_observe,
        .probe = null_probe,
};

SvSupervisor *sv_supervisor_abandon(SvSupervisor *s) {
        if (!s)
                return NULL;
        s->ops = &null_ops;
        return sv_supervisor_free(s);
}

/* ---- saving ---- */

typedef struct PtrIds {
        const void **v;
        size_t n, cap;
        bool oom;
} PtrIds;

/* The 1-based id of p, added when new; 0 for NULL. */
static uint64_t ptr_id(PtrIds *ids, const void *p) {
        if (!p)
                return 0;
        for (size_t k = 0; k < ids->n; k++)
                if (ids->v[k] == p)
                        return k + 1;
        if (ids->n == ids->cap) {
                size_t cap = ids->cap ? ids->cap * 2 : 16;
                const void **v = realloc(ids->v, cap * sizeof(*v));
                if (!v) {
                        ids->oom = true;
                        return 0;
                }
                ids->v = v;
                ids->cap = cap;
        }
        ids->v[ids->n++] = p;
        return ids->n;
}

static size_t conf_index(const CfgRef *cr, const SvProgramConf *conf) {
        return (size_t) (conf - cr->cfg->programs);
}

typedef struct Saver {
        const SvSupervisor *s;
        SvStateOut *o;
        PtrIds cfgs, socks, jobs;
        int err; /* a stored fd that cannot cross */
} Saver;

static void collect_instance_cfg(Saver *sv, const Instance *i) {
        if (i)
                (void) ptr_id(&sv->cfgs, i->cr);
}

static void save_instance(Saver *sv, const Instance *i, const char *where) {
        SvStateOut *o = sv->o;
        uint64_t socks[SV_PROGRAM_SOCKETS_MAX];
        for (size_t k = 0; k < i->n_socks; k++)
                socks[k] = ptr_id(&sv->socks, i->socks[k]);
        sv_state_record(o, "inst");
        sv_state_u64(o, "id", i->id);
        sv_state_str(o, "where", where);
        sv_state_u64(o, "index", i->index);
        sv_state_u64(o, "gen", i->gen);
        sv_state_i64(o, "pid", i->pid);
        sv_state_u64(o, "cfg", ptr_id(&sv->cfgs, i->cr));
        sv_state_u64(o, "conf", conf_index(i->cr, i->conf));
        sv_state_ids(o, "socks", socks, i->n_socks);
        sv_state_str(o, "state", sm_state_to_string(i->sm.state));
        sv_state_u64(o, "since", i->sm.since_usec);
        sv_state_u64(o, "deadline", i->sm.deadline_usec);
        sv_state_u64(o, "started", i->sm.started_usec);
        sv_state_u64(o, "failed_starts", i->sm.failed_starts);
        sv_state_u64(o, "outcome", i->sm.outcome);
        sv_state_u64(o, "spawned", i->spawned_usec);
        sv_state_u64(o, "stop", i->stop_usec);
        sv_state_bool(o, "holds_slot", i->holds_slot);
        sv_state_bool(o, "start_when_stopped", i->start_when_stopped);
        sv_state_u64(o, "start_wanted", i->start_wanted_usec);
        sv_state_bool(o, "expected_exit", i->expected_exit);
        sv_state_str(o, "exit_text", i->exit_text);
        sv_state_str(o, "error", sv_text(i->error));
        sv_state_str(o, "status", i->status);
        /* health (written since watchdog= and healthcheck=; a reader finds them optional) */
        sv_state_bool(o, "unhealthy", i->sm.unhealthy);
        sv_state_bool(o, "replace_wanted", i->replace_wanted);
        sv_state_u64(o, "probe_failures", i->probe_failures);
        sv_state_u64(o, "health_streak", i->health_streak);
        sv_state_str(o, "health", sv_text(i->health));
}

static void save_program(Saver *sv, const Program *p) {
        SvStateOut *o = sv->o;
        sv_state_record(o, "prog");
        sv_state_str(o, "name", p->name);
        sv_state_u64(o, "cfg", ptr_id(&sv->cfgs, p->cr));
        sv_state_u64(o, "conf", conf_index(p->cr, p->conf));
        sv_state_u64(o, "last_gen", p->last_gen);
        sv_state_u64(o, "n", p->n);
        sv_state_u64(o, "cap", p->cap);
        sv_state_bool(o, "removed", p->removed);
        sv_state_bool(o, "stop_sent", p->stop_sent);
        sv_state_bool(o, "dirty", p->dirty);
        sv_state_str(o, "ro", sv_rollout_state_to_string(p->ro.state));
        sv_state_u64(o, "ro_gen", p->ro.gen);
        sv_state_u64(o, "ro_n_old", p->ro.n_old);
        sv_state_u64(o, "ro_n_target", p->ro.n_target);
        sv_state_u64(o, "ro_surge", p->ro.surge);
        sv_state_u64(o, "ro_next", p->ro.next);
        sv_state_u64(o, "ro_in_flight", p->ro.in_flight);
        sv_state_u64(o, "ro_promoted", p->ro.promoted);
        sv_state_u64(o, "ro_cfg", ptr_id(&sv->cfgs, p->ro_cr));
        sv_state_u64(o, "ro_conf", p->ro_cr ? conf_index(p->ro_cr, p->ro_conf) : 0);
        sv_state_bool(o, "ro_done", p->ro_done);
        sv_state_str(o, "ro_error", sv_program_ro_error(p));
        sv_state_bool(o, "ro_health", p->ro_health);
        sv_state_u64(o, "ro_end", p->ro.end);
        sv_state_u64(o, "ro_begin", p->ro_begin_usec);
        sv_state_u64(o, "n_restarts", p->stats.restarts);
        sv_state_u64(o, "n_failed_starts", p->stats.failed_starts);
        sv_state_u64(o, "n_rollbacks", p->stats.rollbacks);
        sv_state_u64(o, "n_unhealthy", p->stats.unhealthy);
        sv_state_u64(o, "n_rollouts", p->stats.rollouts);
        sv_state_ids(o, "rollout_buckets", p->stats.rollout_buckets, SV_ROLLOUT_BUCKETS);
        sv_state_u64(o, "rollout_usec_sum", p->stats.rollout_usec_sum);
        sv_state_u64(o, "n_escaped_killed", p->stats.escaped_killed);
        for (const Waiter *w = p->waiters; w; w = w->next) {
                sv_state_record(o, "wait");
                sv_state_u64(o, "job", ptr_id(&sv->jobs, w->job));
                sv_state_u64(o, "what", w->what);
                sv_state_bool(o, "after_stop", w->after_stop);
                sv_state_bool(o, "after_drain", w->after_drain);
                sv_state_u64(o, "since", w->since_usec);
                sv_state_u64(o, "index", (uint64_t) (w->index + 1)); /* 0: the whole program */
        }
        for (size_t k = 0; k < p->n_fdstore; k++) {
                const StoredFd *f = &p->fdstore[k];
                sv_state_record(o, "fdstore");
                sv_state_i64(o, "fd", f->fd);
                sv_state_str(o, "name", f->name);
                sv_state_bool(o, "poll", f->poll);
                int r = sv->s->ops->fd_carry ? sv->s->ops->fd_carry(sv->s->ctx, f->fd, false) : -EOPNOTSUPP;
                if (r < 0 && !sv->err)
                        sv->err = r;
        }
        for (unsigned k = 0; k < p->cap; k++) {
                if (p->cur[k])
                        save_instance(sv, p->cur[k], "cur");
                if (p->cand[k])
                        save_instance(sv, p->cand[k], "cand");
        }
        for (const Instance *d = p->draining; d; d = d->next)
                save_instance(sv, d, "drain");
}

int sv_supervisor_upgrade_check(const SvSupervisor *s, SvDiag *d) {
        if (!s->cr)
                return diag_set(d, 0, "nothing is loaded yet"), -EBUSY;
        if (s->shutting_down)
                return diag_set(d, 0, "sockvisord is shutting down (nothing changed)"), -EBUSY;
        if (s->dispatching || s->q_len || s->graveyard) /* an op called in the middle of a decision */
                return diag_set(d, 0, "the supervisor is in the middle of an event; try again"), -EBUSY;
        return 0;
}

int sv_supervisor_save(const SvSupervisor *s, SvStateOut *o, SvDiag *d) {
        Saver sv = { .s = s, .o = o };
        int r = sv_supervisor_upgrade_check(s, d);
        if (r < 0)
                return r;

        /* ids first: sockets in list order, configurations as first met, jobs in list order */
        for (const HeldSocket *h = s->socks; h; h = h->next)
                (void) ptr_id(&sv.socks, h);
        (void) ptr_id(&sv.cfgs, s->cr);
        for (size_t q = 0; q < s->n_progs; q++) {
                const Program *p = s->progs[q];
                (void) ptr_id(&sv.cfgs, p->cr);
                (void) ptr_id(&sv.cfgs, p->ro_cr);
                for (unsigned k = 0; k < p->cap; k++) {
                        collect_instance_cfg(&sv, p->cur[k]);
                        collect_instance_cfg(&sv, p->cand[k]);
                }
                for (const Instance *i = p->draining; i; i = i->next)
                        collect_instance_cfg(&sv, i);
        }
        for (const Job *j = s->jobs; j; j = j->next)
                (void) ptr_id(&sv.jobs, j);

        for (const HeldSocket *h = s->socks; h; h = h->next) {
                char ext[256];
                int n = s->ops->socket_export ? s->ops->socket_export(s->ctx, &h->info, ext, sizeof(ext)) : 0;
                if (n < 0 || (size_t) n >= sizeof(ext)) {
                        r = diag_set(d, 0, "socket '%s': cannot be carried over: %s", h->name,
                                     n < 0 ? strerror(-n) : "too much to say");
                        goto done;
                }
                ext[n] = '\0';
                sv_state_record(o, "sock");
                sv_state_u64(o, "id", ptr_id(&sv.socks, h));
                sv_state_str(o, "name", h->name);
                sv_state_i64(o, "fd", h->info.fd);
                sv_state_u64(o, "inode", h->info.inode);
                sv_state_bool(o, "adopted", h->info.adopted);
                sv_state_bool(o, "configured", h->configured);
                sv_state_str(o, "address", h->info.address);
                sv_state_u64(o, "refs", h->refs);
                sv_state_str(o, "ext", ext);
        }
        for (size_t c = 0; c < sv.cfgs.n; c++) {
                const CfgRef *cr = sv.cfgs.v[c];
                uint64_t socks[SV_SOCKETS_MAX];
                if (!cr->cfg->source) {
                        r = diag_set(d, 0, "a configuration without its text cannot be carried over (a bug)");
                        goto done;
                }
                for (size_t k = 0; k < cr->cfg->n_sockets; k++)
                        socks[k] = ptr_id(&sv.socks, cr->socks[k]);
                sv_state_record(o, "cfg");
                sv_state_u64(o, "id", c + 1);
                sv_state_str(o, "origin", cr->cfg->origin);
                sv_state_u64(o, "refs", cr->refs);
                sv_state_u64(o, "holders", cr->holders);
                sv_state_ids(o, "socks", socks, cr->cfg->n_sockets);
                sv_state_str(o, "text", cr->cfg->source);
        }
        sv_state_record(o, "core");
        sv_state_u64(o, "cfg", ptr_id(&sv.cfgs, s->cr));
        sv_state_u64(o, "last_id", s->last_id);
        sv_state_bool(o, "started", s->started);
        sv_state_bool(o, "ready_sent", s->ready_sent);
        sv_state_str(o, "last_status", s->last_status);
        /* events subscribers, as two lists: keys an older reader skips (a record kind would
         * stop it) */
        uint64_t subs[SV_SUBSCRIBERS_SAVED], subs_json[SV_SUBSCRIBERS_SAVED];
        size_t n_subs = 0;
        for (const Subscriber *u = s->subs; u && n_subs < SV_SUBSCRIBERS_SAVED; u = u->next, n_subs++) {
                subs[n_subs] = u->conn;
                subs_json[n_subs] = u->json;
        }
        if (n_subs) {
                sv_state_ids(o, "subs", subs, n_subs);
                sv_state_ids(o, "subs_json", subs_json, n_subs);
        }
        for (const Job *j = s->jobs; j; j = j->next) {
                sv_state_record(o, "job");
                sv_state_u64(o, "id", ptr_id(&sv.jobs, j));
                sv_state_str(o, "kind", sv_job_verb(j->j.kind));
                sv_state_u64(o, "conn", j->j.conn);
                sv_state_u64(o, "pending", j->j.pending);
                sv_state_u64(o, "parts", j->j.parts);
                sv_state_u64(o, "failed", j->j.failed);
                sv_state_u64(o, "t0", j->j.t0_usec);
                sv_state_str(o, "done_text", j->j.done_text);
                sv_state_str(o, "first_error", j->j.first_error);
                sv_state_str(o, "failed_names", j->j.failed_names);
        }
        for (size_t q = 0; q < s->n_progs; q++)
                save_program(&sv, s->progs[q]);
        sv_state_record(o, "end");
        sv_state_record(o, ""); /* the last line ends too */
        if (sv.err) {
                r = diag_set(d, 0, "a stored fd cannot be carried over: %s", strerror(-sv.err));
                goto done;
        }
        r = o->failed || sv.cfgs.oom || sv.socks.oom || sv.jobs.oom ? diag_set(d, 0, "out of memory"), -ENOMEM : 0;
done:
        free(sv.cfgs.v);
        free(sv.socks.v);
        free(sv.jobs.v);
        return r;
}

/* ---- restoring ---- */

typedef struct SockEnt {
        HeldSocket *h;
        uint64_t refs; /* as the writer counted them */
} SockEnt;

typedef struct CfgEnt {
        CfgRef *cr; /* with one hold of the loader's own, released at the end */
        uint64_t refs, holders;
} CfgEnt;

typedef struct Loader {
        SvSupervisor *s;
        SvStateIn *in;
        SockEnt *socks;
        size_t n_socks, cap_socks;
        HeldSocket **socks_tail;
        CfgEnt *cfgs;
        size_t n_cfgs, cap_cfgs;
        Job **jobs;
        size_t n_jobs, cap_jobs;
        Job **jobs_tail;
} Loader;

static bool grow_array(void **v, size_t *cap, size_t n, size_t size) {
        if (n < *cap)
                return true;
        size_t c = *cap ? *cap * 2 : 16;
        void *nv = realloc(*v, c * size);
        if (!nv)
                return false;
        *v = nv;
        *cap = c;
        return true;
}

static int load_oom(Loader *l) {
        l->in->err = -ENOMEM;
        return diag_set(l->in->d, 0, "out of memory"), -ENOMEM;
}

static int load_sock(Loader *l, const SvStateRec *r) {
        SvStateIn *in = l->in;
        SvSocketInfo saved = {
                .fd = (int) sv_rec_i64(in, r, "fd"),
                .inode = (unsigned long) sv_rec_u64(in, r, "inode"),
                .adopted = sv_rec_bool(in, r, "adopted"),
        };
        uint64_t id = sv_rec_u64(in, r, "id"), refs = sv_rec_u64(in, r, "refs");
        const char *name = sv_rec_str(in, r, "name"), *address = sv_rec_str(in, r, "address");
        const char *ext = sv_rec_opt(r, "ext");
        bool configured = sv_rec_bool(in, r, "configured");
        if (in->err)
                return in->err;
        if (id != l->n_socks + 1 || !*name || refs == 0)
                return sv_rec_fail(in, r, "socket record out of order or empty (id %" PRIu64 ")", id);
        (void) snprintf(saved.address, sizeof(saved.address), "%s", address);
        HeldSocket *h = calloc(1, sizeof(HeldSocket));
        if (!h || !grow_array((void **) &l->socks, &l->cap_socks, l->n_socks, sizeof(SockEnt)) ||
            !(h->name = strdup(name))) {
                free(h);
                return load_oom(l);
        }
        SvDiag d = {};
        int e = l->s->ops->socket_import(l->s->ctx, name, &saved, ext ? ext : "", &h->info, &d);
        if (e < 0) {
                free(h->name);
                free(h);
                return sv_rec_fail(in, r, "socket '%s' (fd %d): %s", name, saved.fd, d.msg[0] ? d.msg : strerror(-e));
        }
        h->configured = configured;
        *l->socks_tail = h; /* in the writer's order */
        l->socks_tail = &h->next;
        l->socks[l->n_socks++] = (SockEnt){ .h = h, .refs = refs };
        return 0;
}

static HeldSocket *sock_by_id(Loader *l, const SvStateRec *r, uint64_t id) {
        if (id == 0 || id > l->n_socks) {
                sv_rec_fail(l->in, r, "no socket %" PRIu64, id);
                return NULL;
        }
        return l->socks[id - 1].h;
}

static CfgRef *cfg_by_id(Loader *l, const SvStateRec *r, const char *key) {
        uint64_t id = sv_rec_u64(l->in, r, key);
        if (l->in->err)
                return NULL;
        if (id == 0 || id > l->n_cfgs) {
                sv_rec_fail(l->in, r, "%s=%" PRIu64 ": no such configuration", key, id);
                return NULL;
        }
        return l->cfgs[id - 1].cr;
}

/* The program conf index `key` names in cr, which must be program `name`. */
static const SvProgramConf *conf_by_index(Loader *l, const SvStateRec *r, const CfgRef *cr, const char *key,
                                          const char *name) {
        uint64_t k = sv_rec_below(l->in, r, key, cr->cfg->n_programs);
        if (l->in->err)
                return NULL;
        const SvProgramConf *pc = &cr->cfg->programs[k];
        if (strcmp(pc->name, name) != 0) {
                sv_rec_fail(l->in, r, "%s=%" PRIu64 " is program '%s', not '%s'", key, k, pc->name, name);
                return NULL;
        }
        return pc;
}

static int load_cfg(Loader *l, const SvStateRec *r) {
        SvStateIn *in = l->in;
        uint64_t id = sv_rec_u64(in, r, "id"), refs = sv_rec_u64(in, r, "refs"), holders = sv_rec_u64(in, r, "holders");
        uint64_t socks[SV_SOCKETS_MAX];
        size_t n = sv_rec_ids(in, r, "socks", socks, SV_SOCKETS_MAX);
        const char *origin = sv_rec_str(in, r, "origin"), *text = sv_rec_str(in, r, "text");
        if (in->err)
                return in->err;
        if (id != l->n_cfgs + 1 || refs == 0 || holders > refs)
                return sv_rec_fail(in, r, "configuration record out of order or unreferenced (id %" PRIu64 ")", id);
        SvConfig *cfg = NULL;
        SvDiag pd = {};
        int e = sv_config_parse_string(text, origin, &cfg, &pd);
        if (e < 0)
                return sv_rec_fail(in, r, "the configuration it runs does not parse in this build: %s", pd.msg);
        if (n != cfg->n_sockets) {
                sv_rec_fail(in, r, "%zu socket references for %zu [socket:] sections", n, cfg->n_sockets);
                sv_config_free(cfg);
                return in->err;
        }
        CfgRef *cr = NULL;
        if (!grow_array((void **) &l->cfgs, &l->cap_cfgs, l->n_cfgs, sizeof(CfgEnt)) ||
            !(cr = sv_cfgref_new(l->s, cfg))) {
                sv_config_free(cfg);
                return load_oom(l);
        }
        l->cfgs[l->n_cfgs++] = (CfgEnt){ .cr = cr, .refs = refs, .holders = holders };
        for (size_t k = 0; k < n; k++) {
                if (socks[k] == 0) {
                        if (holders > 0)
                                return sv_rec_fail(in, r, "socket '%s' is not held", cfg->sockets[k].name);
                        continue;
                }
                HeldSocket *h = sock_by_id(l, r, socks[k]);
                if (!h)
                        return in->err;
                if (strcmp(h->name, cfg->sockets[k].name) != 0)
                        return sv_rec_fail(in, r, "socket %" PRIu64 " is '%s', not '%s'", socks[k], h->name,
                                           cfg->sockets[k].name);
                h->refs++;
                cr->socks[k] = h;
        }
        return 0;
}

static int load_core(Loader *l, const SvStateRec *r) {
        SvSupervisor *s = l->s;
        CfgRef *cr = cfg_by_id(l, r, "cfg");
        s->last_id = sv_rec_u64(l->in, r, "last_id");
        s->started = sv_rec_bool(l->in, r, "started");
        s->ready_sent = sv_rec_bool(l->in, r, "ready_sent");
        (void) snprintf(s->last_status, sizeof(s->last_status), "%s", sv_rec_str(l->in, r, "last_status"));
        if (l->in->err)
                return l->in->err;
        uint64_t subs[SV_SUBSCRIBERS_SAVED], subs_json[SV_SUBSCRIBERS_SAVED];
        size_t n_subs = 0, n_json = 0;
        if (sv_rec_opt(r, "subs")) {
                n_subs = sv_rec_ids(l->in, r, "subs", subs, SV_SUBSCRIBERS_SAVED);
                n_json = sv_rec_ids(l->in, r, "subs_json", subs_json, SV_SUBSCRIBERS_SAVED);
                if (!l->in->err && n_json != n_subs)
                        return sv_rec_fail(l->in, r, "%zu events subscribers but %zu json flags", n_subs, n_json);
        }
        if (l->in->err)
                return l->in->err;
        Subscriber **tail = &s->subs;
        for (size_t k = 0; k < n_subs; k++) {
                Subscriber *u = calloc(1, sizeof(Subscriber));
                if (!u)
                        return load_oom(l);
                *u = (Subscriber){ .conn = subs[k], .json = subs_json[k] != 0 };
                *tail = u;
                tail = &u->next;
        }
        s->cr = sv_cfgref_hold(cr);
        s->ops->set_log_target(s->ctx, cr->cfg->log_to);
        return 0;
}

static int load_job(Loader *l, const SvStateRec *r) {
        SvStateIn *in = l->in;
        uint64_t id = sv_rec_u64(in, r, "id");
        const char *kind = sv_rec_str(in, r, "kind");
        SvJob j = {
                .conn = sv_rec_u64(in, r, "conn"),
                .pending = (unsigned) sv_rec_below(in, r, "pending", 1u << 20),
                .parts = (unsigned) sv_rec_below(in, r, "parts", 1u << 20),
                .failed = (unsigned) sv_rec_below(in, r, "failed", 1u << 20),
                .t0_usec = sv_rec_u64(in, r, "t0"),
        };
        (void) snprintf(j.done_text, sizeof(j.done_text), "%s", sv_rec_str(in, r, "done_text"));
        (void) snprintf(j.first_error, sizeof(j.first_error), "%s", sv_rec_str(in, r, "first_error"));
        (void) snprintf(j.failed_names, sizeof(j.failed_names), "%s", sv_rec_str(in, r, "failed_names"));
        if (in->err)
                return in->err;
        j.kind = _SV_JOB_KIND_MAX;
        for (int k = 0; k < _SV_JOB_KIND_MAX; k++)
                if (strcmp(kind, sv_job_verb(k)) == 0)
                        j.kind = k;
        if (j.kind == _SV_JOB_KIND_MAX || id != l->n_jobs + 1 || j.pending == 0)
                return sv_rec_fail(in, r, "job %" PRIu64 " (%s): out of order, unknown or already done", id, kind);
        Job *job = calloc(1, sizeof(Job));
        if (!job || !grow_array((void **) &l->jobs, &l->cap_jobs, l->n_jobs, sizeof(Job *))) {
                free(job);
                return load_oom(l);
        }
        job->j = j;
        *l->jobs_tail = job;
        l->jobs_tail = &job->next;
        l->jobs[l->n_jobs++] = job;
        return 0;
}

/* A key a previous writer may not have written: 0 (false, empty) when absent. */
static uint64_t opt_below(SvStateIn *in, const SvStateRec *r, const char *key, uint64_t max) {
        return sv_rec_opt(r, key) ? sv_rec_below(in, r, key, max) : 0;
}

static bool opt_bool(SvStateIn *in, const SvStateRec *r, const char *key) {
        return sv_rec_opt(r, key) ? sv_rec_bool(in, r, key) : false;
}

static int load_program(Loader *l, const SvStateRec *r, Program **ret) {
        SvStateIn *in = l->in;
        SvSupervisor *s = l->s;
        const char *name = sv_rec_str(in, r, "name"), *ro = sv_rec_str(in, r, "ro");
        CfgRef *cr = cfg_by_id(l, r, "cfg");
        const SvProgramConf *conf = cr ? conf_by_index(l, r, cr, "conf", name) : NULL;
        uint64_t cap = sv_rec_below(in, r, "cap", SV_NUMPROCS_MAX * 2 + 1), n = sv_rec_u64(in, r, "n");
        bool removed = sv_rec_bool(in, r, "removed");
        if (in->err)
                return in->err;
        for (size_t q = 0; q < s->n_progs && !removed; q++) /* a removed one may still be stopping */
                if (!s->progs[q]->removed && strcmp(s->progs[q]->name, name) == 0)
                        return sv_rec_fail(in, r, "program '%s' twice", name);
        if (n > cap || cap < conf->numprocs)
                return sv_rec_fail(in, r, "program '%s': %" PRIu64 " indexes in use, %" PRIu64 " slots", name, n, cap);
        Program **v = realloc(s->progs, (s->n_progs + 1) * sizeof(Program *));
        if (!v)
                return load_oom(l);
        s->progs = v;
        Program *p = sv_program_new(s, conf, cr);
        if (!p || sv_program_resize(p, (unsigned) cap) < 0) {
                if (p)
                        sv_program_free(s, p);
                return load_oom(l);
        }
        s->progs[s->n_progs++] = p;
        p->n = (unsigned) n;
        p->last_gen = (unsigned) sv_rec_u64(in, r, "last_gen");
        p->removed = removed;
        p->stop_sent = sv_rec_bool(in, r, "stop_sent");
        p->dirty = sv_rec_bool(in, r, "dirty");
        s->any_removed |= removed;
        s->recount_all = true; /* its instances come after it */
        if (p->dirty)
                sv_program_touch(p);
        p->ro = (SvRollout){
                .gen = (unsigned) sv_rec_u64(in, r, "ro_gen"),
                .n_old = (unsigned) sv_rec_below(in, r, "ro_n_old", SV_NUMPROCS_MAX * 2 + 1),
                .n_target = (unsigned) sv_rec_below(in, r, "ro_n_target", SV_NUMPROCS_MAX + 1),
                .surge = (unsigned) sv_rec_below(in, r, "ro_surge", SV_NUMPROCS_MAX + 1),
                .next = (unsigned) sv_rec_below(in, r, "ro_next", SV_NUMPROCS_MAX + 1),
                .in_flight = (unsigned) sv_rec_below(in, r, "ro_in_flight", SV_NUMPROCS_MAX * 2 + 1),
                .promoted = (unsigned) sv_rec_below(in, r, "ro_promoted", SV_NUMPROCS_MAX + 1),
                .end = (unsigned) opt_below(in, r, "ro_end", SV_NUMPROCS_MAX + 1),
        };
        if (!sv_rec_opt(r, "ro_end")) /* written before a rollout could cover a part */
                p->ro.end = p->ro.n_target;
        p->ro_health = opt_bool(in, r, "ro_health");
        p->ro_begin_usec = opt_below(in, r, "ro_begin", UINT64_MAX);
        p->stats = (SvProgramStats){
                .restarts = opt_below(in, r, "n_restarts", UINT64_MAX),
                .failed_starts = opt_below(in, r, "n_failed_starts", UINT64_MAX),
                .rollbacks = opt_below(in, r, "n_rollbacks", UINT64_MAX),
                .unhealthy = opt_below(in, r, "n_unhealthy", UINT64_MAX),
                .rollouts = opt_below(in, r, "n_rollouts", UINT64_MAX),
                .rollout_usec_sum = opt_below(in, r, "rollout_usec_sum", UINT64_MAX),
                .escaped_killed = opt_below(in, r, "n_escaped_killed", UINT64_MAX),
        };
        if (sv_rec_opt(r, "rollout_buckets"))
                (void) sv_rec_ids(in, r, "rollout_buckets", p->stats.rollout_buckets, SV_ROLLOUT_BUCKETS);
        p->ro_done = sv_rec_bool(in, r, "ro_done");
        sv_program_set_ro_error(p, "%s", sv_rec_str(in, r, "ro_error"));
        if (in->err)
                return in->err;
        if (strcmp(ro, sv_rollout_state_to_string(SV_RO_ROLLING)) == 0)
                p->ro.state = SV_RO_ROLLING;
        else if (strcmp(ro, sv_rollout_state_to_string(SV_RO_IDLE)) != 0)
                return sv_rec_fail(in, r, "program '%s': rollout state '%s' is unknown", name, ro);
        if (sv_rec_u64(in, r, "ro_cfg") != 0) {
                CfgRef *rcr = cfg_by_id(l, r, "ro_cfg");
                const SvProgramConf *rc = rcr ? conf_by_index(l, r, rcr, "ro_conf", name) : NULL;
                if (!rc)
                        return in->err;
                p->ro_cr = sv_cfgref_hold(rcr);
                p->ro_conf = rc;
        }
        if (p->ro.state == SV_RO_ROLLING && (!p->ro_cr || p->ro.n_target > cap || p->ro.next > p->ro.n_target ||
                                          p->ro.end > p->ro.n_target))
                return sv_rec_fail(in, r, "program '%s': a rollout without a target that fits", name);
        *ret = p;
        return in->err;
}

static int load_waiter(Loader *l, const SvStateRec *r, Program *p) {
        SvStateIn *in = l->in;
        uint64_t job = sv_rec_u64(in, r, "job");
        uint64_t what = sv_rec_below(in, r, "what", WAIT_ROLLOUT + 1);
        Waiter w = {
                .what = (WaitFor) what,
                .after_stop = sv_rec_bool(in, r, "after_stop"),
                .after_drain = sv_rec_bool(in, r, "after_drain"),
                .since_usec = sv_rec_u64(in, r, "since"),
                .index = (int) opt_below(in, r, "index", SV_NUMPROCS_MAX + 1) - 1,
        };
        if (in->err)
                return in->err;
        if (job == 0 || job > l->n_jobs)
                return sv_rec_fail(in, r, "program '%s' waits for job %" PRIu64 ", which is not there", p->name, job);
        Waiter *nw = calloc(1, sizeof(Waiter));
        if (!nw)
                return load_oom(l);
        *nw = w;
        nw->job = l->jobs[job - 1];
        Waiter **pp = &p->waiters; /* arrival order */
        while (*pp)
                pp = &(*pp)->next;
        *pp = nw;
        return 0;
}

static int load_stored_fd(Loader *l, const SvStateRec *r, Program *p) {
        SvStateIn *in = l->in;
        int fd = (int) sv_rec_i64(in, r, "fd");
        const char *name = sv_rec_str(in, r, "name");
        bool poll = sv_rec_bool(in, r, "poll");
        if (in->err)
                return in->err;
        if (fd < 0 || !sv_fdname_valid(name) || p->n_fdstore >= SV_FDSTORE_MAX)
                return sv_rec_fail(in, r, "program '%s': stored fd %d '%s' is not valid here", p->name, fd, name);
        for (size_t q = 0; q < l->s->n_progs; q++)
                for (size_t k = 0; k < l->s->progs[q]->n_fdstore; k++)
                        if (l->s->progs[q]->fdstore[k].fd == fd)
                                return sv_rec_fail(in, r, "stored fd %d twice", fd);
        if (l->s->ops->fd_carry(l->s->ctx, fd, true) < 0)
                return sv_rec_fail(in, r, "program '%s': stored fd %d '%s' did not come through", p->name, fd, name);
        StoredFd *v = realloc(p->fdstore, (p->n_fdstore + 1) * sizeof(StoredFd));
        if (!v)
                return load_oom(l);
        p->fdstore = v;
        StoredFd *e = &p->fdstore[p->n_fdstore++];
        *e = (StoredFd){ .fd = fd, .poll = poll };
        (void) snprintf(e->name, sizeof(e->name), "%s", name);
        return 0;
}

static int load_instance(Loader *l, const SvStateRec *r, Program *p) {
        SvStateIn *in = l->in;
        SvSupervisor *s = l->s;
        uint64_t id = sv_rec_u64(in, r, "id"), index = sv_rec_below(in, r, "index", p->cap);
        int64_t pid = sv_rec_i64(in, r, "pid");
        const char *where = sv_rec_str(in, r, "where"), *state = sv_rec_str(in, r, "state");
        CfgRef *cr = cfg_by_id(l, r, "cfg");
        const SvProgramConf *conf = cr ? conf_by_index(l, r, cr, "conf", p->name) : NULL;
        uint64_t socks[SV_PROGRAM_SOCKETS_MAX];
        size_t n_socks = sv_rec_ids(in, r, "socks", socks, SV_PROGRAM_SOCKETS_MAX);
        if (in->err)
                return in->err;
        if (id == 0 || id > s->last_id || pid < 0 || pid > INT32_MAX || sv_instance_find(s, id, 0) ||
            (pid > 0 && sv_instance_find(s, 0, (pid_t) pid)))
                return sv_rec_fail(in, r, "instance %" PRIu64 " (pid %" PRId64 "): id or pid out of range or twice", id,
                                   pid);
        if (n_socks > conf->n_sockets)
                return sv_rec_fail(in, r, "instance %" PRIu64 ": %zu sockets, its configuration names %zu", id, n_socks,
                                   conf->n_sockets);
        Instance **slot = NULL;
        if (strcmp(where, "cur") == 0)
                slot = &p->cur[index];
        else if (strcmp(where, "cand") == 0)
                slot = &p->cand[index];
        else if (strcmp(where, "drain") != 0)
                return sv_rec_fail(in, r, "instance %" PRIu64 ": where=%s is not cur, cand or drain", id, where);
        if (slot && *slot)
                return sv_rec_fail(in, r, "instance %" PRIu64 ": %s slot %" PRIu64 " taken twice", id, where, index);

        SmState st = _SM_STATE_MAX;
        for (int k = 0; k < _SM_STATE_MAX; k++)
                if (strcmp(state, sm_state_to_string(k)) == 0)
                        st = k;
        if (st == _SM_STATE_MAX)
                return sv_rec_fail(in, r, "instance %" PRIu64 ": state '%s' is unknown", id, state);
        if ((pid > 0) != sm_state_has_process(st) && !(st == SM_STOPPING && pid == 0))
                return sv_rec_fail(in, r, "instance %" PRIu64 ": pid %" PRId64 " in state %s", id, pid, state);

        Instance *i = calloc(1, sizeof(Instance));
        HeldSocket **isocks = calloc(conf->n_sockets ? conf->n_sockets : 1, sizeof(HeldSocket *));
        if (!i || !isocks) {
                free(i);
                free(isocks);
                return load_oom(l);
        }
        *i = (Instance){
                .id = id,
                .prog = p,
                .index = (unsigned) index,
                .gen = (unsigned) sv_rec_u64(in, r, "gen"),
                .pid = (pid_t) pid,
                .conf = conf,
                .cr = sv_cfgref_ref(cr),
                .socks = isocks,
                .sm = {
                        .state = st,
                        .since_usec = sv_rec_u64(in, r, "since"),
                        .deadline_usec = sv_rec_u64(in, r, "deadline"),
                        .started_usec = sv_rec_u64(in, r, "started"),
                        .failed_starts = (unsigned) sv_rec_below(in, r, "failed_starts", 1u << 20),
                        .outcome = (SmOutcome) sv_rec_below(in, r, "outcome", SM_OUTCOME_UNHEALTHY + 1),
                        .unhealthy = opt_bool(in, r, "unhealthy"),
                },
                .replace_wanted = opt_bool(in, r, "replace_wanted"),
                .probe_failures = (unsigned) opt_below(in, r, "probe_failures", 1000),
                .health_streak = (unsigned) opt_below(in, r, "health_streak", 1u << 20),
                .spawned_usec = sv_rec_u64(in, r, "spawned"),
                .stop_usec = sv_rec_u64(in, r, "stop"),
                .holds_slot = sv_rec_bool(in, r, "holds_slot"),
                .start_when_stopped = sv_rec_bool(in, r, "start_when_stopped"),
                .start_wanted_usec = sv_rec_u64(in, r, "start_wanted"),
                .expected_exit = sv_rec_bool(in, r, "expected_exit"),
        };
        (void) snprintf(i->exit_text, sizeof(i->exit_text), "%s", sv_rec_str(in, r, "exit_text"));
        sv_text_set(&i->error, 256, "%s", sv_rec_str(in, r, "error"));
        (void) snprintf(i->status, sizeof(i->status), "%s", sv_rec_str(in, r, "status"));
        sv_text_set(&i->health, 192, "%s", sv_rec_opt(r, "health") ? sv_rec_str(in, r, "health") : "");
        /* linked before anything can fail below, so the program frees it */
        sv_instance_index(s, i);
        if (slot)
                *slot = i;
        else {
                Instance **pp = &p->draining;
                while (*pp)
                        pp = &(*pp)->next;
                *pp = i;
        }
        for (size_t k = 0; k < n_socks; k++) {
                HeldSocket *h = sock_by_id(l, r, socks[k]);
                if (!h)
                        return in->err;
                const char *want = cr->cfg->sockets[conf->socket_idx[k]].name;
                if (strcmp(h->name, want) != 0)
                        return sv_rec_fail(in, r, "instance %" PRIu64 ": socket %zu is '%s', not '%s'", id, k, h->name,
                                           want);
                h->refs++;
                i->socks[i->n_socks++] = h;
        }
        return in->err;
}

/* The counts the writer had must be the ones the references make. */
static int load_check_counts(Loader *l) {
        for (size_t k = 0; k < l->n_socks; k++) {
                const SockEnt *e = &l->socks[k];
                if (e->h->refs != e->refs)
                        return sv_rec_fail(l->in, NULL, "socket '%s': %u references, the previous image counted %" PRIu64,
                                           e->h->name, e->h->refs, e->refs);
        }
        for (size_t c = 0; c < l->n_cfgs; c++) { /* +1: the loader's own, released next */
                const CfgEnt *e = &l->cfgs[c];
                if (e->cr->refs != e->refs + 1 || e->cr->holders != e->holders + 1)
                        return sv_rec_fail(l->in, NULL,
                                           "configuration %zu: %u references and %u holders, the previous image "
                                           "counted %" PRIu64 " and %" PRIu64,
                                           c + 1, e->cr->refs - 1, e->cr->holders - 1, e->refs, e->holders);
        }
        for (size_t j = 0; j < l->n_jobs; j++) { /* at rest a job waits for one share per waiter */
                unsigned waiters = 0;
                for (size_t q = 0; q < l->s->n_progs; q++)
                        for (const Waiter *w = l->s->progs[q]->waiters; w; w = w->next)
                                waiters += w->job == l->jobs[j];
                if (waiters != l->jobs[j]->j.pending)
                        return sv_rec_fail(l->in, NULL, "job %zu: %u waiters, the previous image counted %u", j + 1,
                                           waiters, l->jobs[j]->j.pending);
        }
        for (size_t q = 0; q < l->s->n_progs; q++) {
                const Program *p = l->s->progs[q];
                for (unsigned k = 0; k < p->cap; k++)
                        if (p->cand[k] && p->ro.state != SV_RO_ROLLING)
                                return sv_rec_fail(l->in, NULL, "program '%s': a candidate without a rollout", p->name);
        }
        return 0;
}

static int load_records(Loader *l) {
        SvStateIn *in = l->in;
        SvStateRec r;
        Program *p = NULL;
        bool core = false, insts = false; /* insts: p has had one, so no more waiters */
        int e;
        while ((e = sv_state_next(in, &r)) > 0) {
                const char *k = r.kind;
                if (strcmp(k, "end") == 0)
                        return core ? load_check_counts(l) : sv_rec_fail(in, &r, "no 'core' record");
                if (strcmp(k, "sock") == 0 && !l->n_cfgs)
                        e = load_sock(l, &r);
                else if (strcmp(k, "cfg") == 0 && !core)
                        e = load_cfg(l, &r);
                else if (strcmp(k, "core") == 0 && !core && l->n_cfgs) {
                        e = load_core(l, &r);
                        core = true;
                } else if (strcmp(k, "job") == 0 && core && !l->s->n_progs)
                        e = load_job(l, &r);
                else if (strcmp(k, "prog") == 0 && core) {
                        e = load_program(l, &r, &p);
                        insts = false;
                } else if (strcmp(k, "wait") == 0 && p && !insts)
                        e = load_waiter(l, &r, p);
                else if (strcmp(k, "fdstore") == 0 && p && !insts)
                        e = load_stored_fd(l, &r, p);
                else if (strcmp(k, "inst") == 0 && p) {
                        e = load_instance(l, &r, p);
                        insts = true;
                }
                else
                        e = sv_rec_fail(in, &r, "'%.40s' record unknown or out of place", k);
                if (e < 0)
                        return e;
        }
        return e < 0 ? e : sv_rec_fail(in, NULL, "ends without an 'end' record (cut short?)");
}

int sv_supervisor_restore(SvSupervisor *s, SvStateIn *in, SvDiag *d) {
        Loader l = { .s = s, .in = in, .socks_tail = &s->socks, .jobs_tail = &s->jobs };
        if (s->cr || s->socks || s->n_progs)
                return diag_set(d, 0, "restore into a supervisor that has a state already"), -EBUSY;
        if (!s->ops->socket_import || !s->ops->fd_carry)
                return diag_set(d, 0, "the ops cannot import sockets and fds"), -EOPNOTSUPP;
        SvDiag *saved_d = in->d;
        in->d = d;
        int r = load_records(&l);
        in->d = saved_d;
        if (r < 0) /* undo without a word to the world: the fds go back to the previous binary */
                s->ops = &null_ops;
        for (size_t c = 0; c < l.n_cfgs; c++)
                sv_cfgref_release(l.cfgs[c].cr);
        if (r < 0) {
                for (size_t q = 0; q < s->n_progs; q++) {
                        while (s->progs[q]->waiters) { /* the jobs go below, whatever they counted */
                                Waiter *w = s->progs[q]->waiters;
                                s->progs[q]->waiters = w->next;
                                free(w);
                        }
                        sv_program_free(s, s->progs[q]);
                }
                s->n_progs = 0;
                while (s->jobs) {
                        Job *j = s->jobs;
                        s->jobs = j->next;
                        free(j);
                }
                s->cr = sv_cfgref_release(s->cr);
        }
        free(l.socks);
        free(l.cfgs);
        free(l.jobs);
        return r;
}

static void resume_instance(SvSupervisor *s, Instance *i) {
        if (i->pid > 0 && s->ops->adopt(s->ctx, i->id, i->pid) < 0) {
                sv_logf(s, LOG_WARNING, i, "gone during the upgrade (no child of ours any more); counted as exited");
                (void) snprintf(i->exit_text, sizeof(i->exit_text), "unknown status");
                sv_instance_set_pid(s, i, 0);
                sv_enqueue(s, i, SM_EV_EXIT, "exited during the upgrade, status unknown");
        }
        if (i->sm.deadline_usec)
                s->ops->arm(s->ctx, i->id, i->sm.deadline_usec);
        sv_instance_observe(s, i); /* the previous image's watches ended with it */
}

void sv_supervisor_resume(SvSupervisor *s) {
        for (size_t q = 0; q < s->n_progs; q++) {
                Program *p = s->progs[q];
                for (size_t k = 0; k < p->n_fdstore; k++)
                        if (p->fdstore[k].poll)
                                s->ops->fd_watch(s->ctx, p->fdstore[k].fd);
                for (unsigned k = 0; k < p->cap; k++) {
                        if (p->cur[k])
                                resume_instance(s, p->cur[k]);
                        if (p->cand[k])
                                resume_instance(s, p->cand[k]);
                }
                for (Instance *i = p->draining; i; i = i->next)
                        resume_instance(s, i);
                sv_program_dirty(p); /* its waiters look again, as after any event */
        }
        sv_events_milestone(s, SV_EVENT_UPGRADE, NULL, 0, "a new sockvisord image took over: same pid, sockets and "
                            "workers");
        sv_dispatch(s);
}
