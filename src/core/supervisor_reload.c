/* Load and reload: carry out the plan reloadplan.c makes. New sockets are bound before
 * anything else changes, so a failed bind leaves everything as it was; then sockets are
 * adjusted or retired and programs added, removed, rolled or stopped. */
#include "supervisor-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "sockvisor/reloadplan.h"

typedef struct Applied {
        unsigned added, removed, changed, unchanged;
} Applied;

static void close_new(SvSupervisor *s, HeldSocket **bound, size_t n) {
        for (size_t k = 0; k < n; k++)
                if (bound[k]) {
                        s->ops->socket_close(s->ctx, &bound[k]->info);
                        free(bound[k]->name);
                        free(bound[k]);
                        bound[k] = NULL;
                }
}

/* Step 1: bind (or adopt) every socket the plan says is new. All or nothing. */
static int bind_new(SvSupervisor *s, const SvConfig *cfg, const SvReloadPlan *plan, bool startup, HeldSocket **bound,
                    SvDiag *d) {
        for (size_t k = 0; k < cfg->n_sockets; k++) {
                if (plan->sockets[k] != SV_SOCK_BIND)
                        continue;
                const SvSocketConf *sc = &cfg->sockets[k];
                HeldSocket *h = calloc(1, sizeof(HeldSocket));
                char *name = strdup(sc->name);
                if (!h || !name) {
                        free(h);
                        free(name);
                        close_new(s, bound, cfg->n_sockets);
                        return diag_set(d, sc->line, "socket '%s': out of memory", sc->name), -ENOMEM;
                }
                int r = s->ops->socket_open(s->ctx, sc, startup, &h->info, d);
                if (r < 0) {
                        free(h);
                        free(name);
                        close_new(s, bound, cfg->n_sockets);
                        return r;
                }
                h->name = name;
                h->refs = 0; /* the configurations naming it take theirs */
                h->configured = true;
                bound[k] = h;
        }
        return 0;
}

/* Step 2: sockets held now: adjust in place, or retire (closed once no generation uses
 * them); then the new ones join. */
static void sockets_update(SvSupervisor *s, SvConnId conn, const SvConfig *cfg, const SvReloadPlan *plan,
                           HeldSocket **bound) {
        const SvConfig *cur = s->cr ? s->cr->cfg : NULL;
        for (HeldSocket *h = s->socks, *next; h; h = next) {
                next = h->next;
                if (!h->configured)
                        continue;
                int old = cur ? sv_config_find_socket(cur, h->name) : -1;
                int idx = sv_config_find_socket(cfg, h->name);
                if (old >= 0 && (size_t) old < plan->n_old_sockets && plan->retire[old]) {
                        h->configured = false;
                        s->ops->socket_retire(s->ctx, &h->info);
                        sv_replyf(s, conn, CTL_REPLY_PROGRESS, "socket %s: %s; the old one closes once no generation "
                                                               "uses it",
                                  h->name, idx >= 0 ? "new address" : "removed");
                } else if (idx >= 0 && plan->sockets[idx] == SV_SOCK_ADJUST) {
                        const SvSocketConf *sc = &cfg->sockets[idx];
                        SvDiag d = {};
                        int r = s->ops->socket_adjust(s->ctx, &h->info, sc, &d);
                        if (r < 0 || d.msg[0])
                                sv_logf(s, r < 0 ? LOG_ERR : LOG_WARNING, NULL, "socket '%s': %s", h->name, d.msg);
                        if (r < 0)
                                sv_replyf(s, conn, CTL_REPLY_PROGRESS, "socket %s: not adjusted: %s", h->name, d.msg);
                        else
                                sv_replyf(s, conn, CTL_REPLY_PROGRESS,
                                          "socket %s: adjusted in place, same fd (backlog %d, %s, mode %04o)%s%s",
                                          sc->name, sc->backlog, sc->blocking ? "blocking" : "non-blocking",
                                          (unsigned) sc->mode, d.msg[0] ? "; " : "", d.msg);
                }
        }
        for (size_t k = 0; k < cfg->n_sockets; k++)
                if (bound[k]) {
                        HeldSocket *h = bound[k];
                        h->next = s->socks;
                        s->socks = h;
                        if (h->info.adopted)
                                sv_logf(s, LOG_INFO, NULL,
                                        "socket '%s': adopted fd %d from the service manager (%s, inode %lu): not bound "
                                        "again",
                                        h->name, h->info.fd, h->info.address, h->info.inode);
                        else
                                sv_logf(s, LOG_INFO, NULL, "socket '%s': listening on %s (fd %d)", h->name,
                                        h->info.address, h->info.fd);
                        if (s->cr)
                                sv_replyf(s, conn, CTL_REPLY_PROGRESS, "socket %s: bound %s", h->name,
                                          cfg->sockets[k].listen);
                }
}

/* The new configuration takes its references: bound now, or kept (found by name). */
static void sockets_attach(SvSupervisor *s, CfgRef *cr, HeldSocket **bound) {
        for (size_t k = 0; k < cr->cfg->n_sockets; k++) {
                HeldSocket *h = bound[k] ? bound[k] : sv_held_find(s, cr->cfg->sockets[k].name);
                if (h)
                        h->refs++;
                cr->socks[k] = h;
        }
}

/* Step 3: the programs the supervisor has. view_progs[q] is the program plan->programs[q]
 * is about. */
static void programs_update(SvSupervisor *s, SvConnId conn, Job *job, const SvConfig *cfg, CfgRef *cr,
                            const SvReloadPlan *plan, Program **view_progs, Applied *a) {
        for (size_t q = 0; q < plan->n_programs; q++) {
                Program *p = view_progs[q];
                const SvProgramConf *npc = sv_config_find_program(cfg, p->name);
                if (plan->programs[q] != SV_PROG_UNCHANGED)
                        sv_program_yield_health(p, "superseded by a reload");
                else if (p->ro.state == SV_RO_ROLLING && p->ro_health) { /* it goes on, to the equal new one */
                        sv_cfgref_release(p->ro_cr);
                        p->ro_cr = sv_cfgref_hold(cr);
                        p->ro_conf = npc;
                }
                switch (plan->programs[q]) {
                case SV_PROG_REMOVE:
                        a->removed++;
                        p->removed = true;
                        s->any_removed = true;
                        sv_program_touch(p);
                        sv_replyf(s, conn, CTL_REPLY_PROGRESS, "program %s: removed; stopping it", p->name);
                        sv_program_stop(p, "removed from the configuration");
                        break;
                case SV_PROG_UNCHANGED:
                        a->unchanged++;
                        sv_program_set_conf(p, npc, cr); /* equal content, in the new configuration */
                        break;
                case SV_PROG_ROLL:
                        a->changed++;
                        sv_replyf(s, conn, CTL_REPLY_PROGRESS, "program %s: changed; rolling restart to the new "
                                                               "configuration",
                                  p->name);
                        if (job)
                                sv_waiter_add(p, job, WAIT_ROLLOUT);
                        sv_program_begin_rollout(p, npc, cr);
                        break;
                case SV_PROG_STOP_THEN_SET:
                        a->changed++;
                        sv_replyf(s, conn, CTL_REPLY_PROGRESS, "program %s: changed, autostart=false; stopping it",
                                  p->name);
                        sv_program_stop(p, "configuration changed, autostart=false");
                        sv_program_set_conf(p, npc, cr);
                        sv_program_set_numprocs(p, npc->numprocs);
                        break;
                case SV_PROG_SET:
                        a->changed++;
                        sv_replyf(s, conn, CTL_REPLY_PROGRESS, "program %s: changed (not running)", p->name);
                        sv_program_set_conf(p, npc, cr);
                        sv_program_set_numprocs(p, npc->numprocs);
                        break;
                default:
                        break;
                }
        }
}

/* Step 4: programs new in cfg. */
static int programs_add(SvSupervisor *s, SvConnId conn, Job *job, const SvConfig *cfg, CfgRef *cr,
                        const SvReloadPlan *plan, bool startup, Applied *a) {
        Program **progs = realloc(s->progs, (s->n_progs + cfg->n_programs + 1) * sizeof(Program *));
        if (!progs)
                return -ENOMEM;
        s->progs = progs;
        for (size_t k = 0; k < cfg->n_programs; k++) {
                if (plan->added[k] == SV_PROG_UNCHANGED)
                        continue;
                const SvProgramConf *npc = &cfg->programs[k];
                Program *p = sv_program_new(s, npc, cr);
                if (!p) {
                        sv_logf(s, LOG_ERR, NULL, "program '%s': out of memory", npc->name);
                        continue;
                }
                s->progs[s->n_progs++] = p;
                if (startup)
                        continue;
                a->added++;
                bool start = plan->added[k] == SV_PROG_ADD_START;
                sv_replyf(s, conn, CTL_REPLY_PROGRESS, "program %s: added%s", p->name, start ? "; starting it" : "");
                if (start) {
                        if (job)
                                sv_waiter_add(p, job, WAIT_RUNNING);
                        sv_program_start(p, "added by reload");
                }
        }
        return 0;
}

/* A rollout that failed part way leaves the indexes it replaced on its configuration: the
 * program is then not what its configuration says, and a reload must roll it. */
static bool runs_program_conf(const Instance *i, const Program *p) {
        const SvConfig *ic = i->cr->cfg, *pc = p->cr->cfg;
        if (i->conf == p->conf)
                return true;
        if (!sv_program_conf_equal(ic, i->conf, pc, p->conf)) /* a reload keeps equal ones as they run */
                return false;
        for (size_t k = 0; k < i->conf->n_sockets; k++)
                if (strcmp(ic->sockets[i->conf->socket_idx[k]].listen, pc->sockets[p->conf->socket_idx[k]].listen) != 0)
                        return false;
        return true;
}

static bool program_mixed(const Program *p) {
        for (unsigned k = 0; k < p->n && k < p->cap; k++)
                if (sv_instance_live(p->cur[k]) && !runs_program_conf(p->cur[k], p))
                        return true;
        return false;
}

static int apply(SvSupervisor *s, SvConnId conn, Job *job, SvConfig *cfg, bool startup, Applied *a, SvDiag *d) {
        CfgRef *cr = sv_cfgref_new(s, cfg);
        if (!cr) {
                sv_config_free(cfg);
                return diag_set(d, 0, "out of memory"), -ENOMEM;
        }
        size_t n = s->n_progs, nv = 0;
        const char **names = calloc(n ? n : 1, sizeof(char *));
        bool *running = calloc(n ? n : 1, sizeof(bool));
        bool *mixed = calloc(n ? n : 1, sizeof(bool));
        const SvProgramConf **confs = calloc(n ? n : 1, sizeof(SvProgramConf *));
        const SvConfig **cfgs = calloc(n ? n : 1, sizeof(SvConfig *));
        Program **view_progs = calloc(n ? n : 1, sizeof(Program *));
        HeldSocket **bound = calloc(cfg->n_sockets ? cfg->n_sockets : 1, sizeof(HeldSocket *));
        SvReloadPlan plan = {};
        int r = -ENOMEM;

        if (!names || !running || !mixed || !confs || !cfgs || !view_progs || !bound) {
                diag_set(d, 0, "out of memory");
                goto done;
        }
        for (size_t q = 0; q < n; q++)
                if (!s->progs[q]->removed) {
                        view_progs[nv] = s->progs[q];
                        names[nv] = s->progs[q]->name;
                        confs[nv] = s->progs[q]->conf;
                        cfgs[nv] = s->progs[q]->cr->cfg;
                        mixed[nv] = program_mixed(s->progs[q]);
                        running[nv++] = sv_program_running(s->progs[q]);
                }
        SvRuntimeView view = {
                .cfg = s->cr ? s->cr->cfg : NULL,
                .n_programs = nv,
                .names = names,
                .confs = confs,
                .cfgs = cfgs,
                .running = running,
                .mixed = mixed,
        };
        r = sv_reload_plan(&view, cfg, &plan, d);
        if (r < 0)
                goto done;
        r = bind_new(s, cfg, &plan, startup, bound, d);
        if (r < 0)
                goto done;
        /* from here on nothing fails: the reload is applied */
        if (plan.control_changed) {
                sv_logf(s, LOG_WARNING, NULL, "reload: the control socket changes only when sockvisord restarts");
                sv_replyf(s, conn, CTL_REPLY_PROGRESS, "note: control= and control_mode= take effect when sockvisord "
                                                       "restarts");
        }
        sockets_update(s, conn, cfg, &plan, bound);
        sockets_attach(s, cr, bound);
        programs_update(s, conn, job, cfg, cr, &plan, view_progs, a);
        s->ops->set_log_target(s->ctx, cfg->log_to);
        CfgRef *old = s->cr;
        s->cr = TAKE_PTR(cr); /* the supervisor's reference */
        (void) programs_add(s, conn, job, cfg, s->cr, &plan, startup, a);
        sv_program_sort(s);
        sv_cfgref_release(old);
        r = 0;
done:
        sv_reload_plan_done(&plan);
        sv_cfgref_release(cr);
        free(names);
        free(running);
        free(mixed);
        free(confs);
        free(cfgs);
        free(view_progs);
        free(bound);
        return r;
}

int sv_supervisor_load(SvSupervisor *s, SvConfig *cfg, SvDiag *d) {
        Applied a = {};
        if (s->cr) {
                sv_config_free(cfg);
                return diag_set(d, 0, "a configuration is loaded already; reload instead"), -EBUSY;
        }
        return apply(s, 0, NULL, cfg, true, &a, d);
}

int sv_supervisor_reload_check(const SvSupervisor *s, SvDiag *d) {
        if (s->shutting_down)
                return diag_set(d, 0, "sockvisord is shutting down (nothing changed)"), -EBUSY;
        for (size_t q = 0; q < s->n_progs; q++) {
                const Program *p = s->progs[q];
                /* a replacement of an unhealthy instance gives way: see programs_update */
                if ((p->ro.state == SV_RO_ROLLING && !p->ro_health) || p->waiters)
                        return diag_set(d, 0,
                                        "program '%s' has a %s under way; reload again when it finishes (nothing "
                                        "changed)",
                                        p->name, p->waiters ? sv_job_verb(p->waiters->job->j.kind) : "restart"),
                               -EBUSY;
        }
        return 0;
}

void sv_supervisor_reload(SvSupervisor *s, SvConnId conn, SvConfig *next) {
        SvDiag d = {};
        Applied a = {};
        if (sv_supervisor_reload_check(s, &d) < 0) {
                sv_config_free(next);
                sv_logf(s, LOG_WARNING, NULL, "reload refused: %s", d.msg);
                sv_replyf(s, conn, CTL_REPLY_ERR, "%s", d.msg);
                return;
        }
        Job *job = sv_job_new(s, SV_JOB_RELOAD, conn);
        if (!job) {
                sv_config_free(next);
                sv_replyf(s, conn, CTL_REPLY_ERR, "out of memory (nothing changed)");
                return;
        }
        char origin[256];
        (void) snprintf(origin, sizeof(origin), "%s", next->origin ? next->origin : "the configuration");
        int r = apply(s, conn, job, next, false, &a, &d);
        if (r < 0) {
                job->j.conn = 0; /* answered here, with what went wrong */
                sv_job_release_share(s, job);
                sv_logf(s, LOG_ERR, NULL, "reload failed, nothing changed: %s", d.msg);
                sv_events_milestone(s, SV_EVENT_RELOAD, NULL, 0, "reload failed, nothing changed: %s", d.msg);
                sv_replyf(s, conn, CTL_REPLY_ERR, "%s (nothing changed)", d.msg);
                return;
        }
        sv_logf(s, LOG_INFO, NULL, "reloaded %s: %u added, %u removed, %u changed, %u unchanged", origin, a.added,
                a.removed, a.changed, a.unchanged);
        sv_events_milestone(s, SV_EVENT_RELOAD, NULL, 0, "reloaded %s: %u added, %u removed, %u changed, %u unchanged",
                            origin, a.added, a.removed, a.changed, a.unchanged);
        sv_replyf(s, conn, CTL_REPLY_PROGRESS, "%u added, %u removed, %u changed, %u unchanged", a.added, a.removed,
                  a.changed, a.unchanged);
        (void) snprintf(job->j.done_text, sizeof(job->j.done_text), "reloaded %s", origin);
        sv_job_release_share(s, job); /* OK now, unless it waits for what it started */
        sv_dispatch(s);
}
