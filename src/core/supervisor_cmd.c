/* Control commands: parse the names, decide against the contract in README.md ("What each
 * command does in each state"), act, and leave the waiting to jobs. */
#include "supervisor-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "sockvisor/cmdline.h"
#include "sockvisor/ctlverbs.h"
#include "sockvisor/duration.h"
#include "sockvisor/fetch.h"
#include "sockvisor/json.h"
#include "sockvisor/names.h"
#include "sockvisor/policy.h"
#include "sockvisor/status.h"

/* NAME, GROUP, NAME:*, NAME:N ... or "all" -> programs and, per program, which of its
 * instances (with_removed: status also shows removed ones still stopping). Answers ERR and
 * returns -ENOENT on an unknown name: nothing half-applies. ret_t may be NULL. */
static int resolve(SvSupervisor *s, SvConnId conn, char *const *args, size_t n_args, bool with_removed,
                   Program ***ret, size_t *ret_n, SvNameTarget **ret_t) {
        size_t n = s->n_progs, n_members = sv_names_group_members(s->cr->cfg);
        const SvConfig *c = s->cr->cfg;
        const char **names = calloc(n ? n : 1, sizeof(char *));
        bool *visible = calloc(n ? n : 1, sizeof(bool));
        unsigned *numprocs = calloc(n ? n : 1, sizeof(unsigned));
        SvNameTarget *t = calloc(n ? n : 1, sizeof(SvNameTarget));
        SvNameGroup *groups = calloc(c->n_groups ? c->n_groups : 1, sizeof(SvNameGroup));
        size_t *members = calloc(n_members ? n_members : 1, sizeof(size_t));
        Program **v = calloc(n ? n : 1, sizeof(Program *));
        SvDiag d = {};
        size_t nv = 0;
        int r = -ENOMEM;

        if (names && visible && numprocs && t && groups && members && v) {
                for (size_t q = 0; q < n; q++) {
                        names[q] = s->progs[q]->name;
                        visible[q] = with_removed || !s->progs[q]->removed;
                        numprocs[q] = s->progs[q]->n > s->progs[q]->conf->numprocs ? s->progs[q]->n
                                                                                    : s->progs[q]->conf->numprocs;
                }
                SvNameSet set = { .names = names, .visible = visible, .numprocs = numprocs, .n = n, .groups = groups };
                set.n_groups = sv_names_groups_from_config(c, names, visible, n, groups, members);
                r = sv_names_resolve(&set, args, n_args, t, &nv, &d);
        }
        if (r >= 0)
                for (size_t q = 0; q < nv; q++)
                        v[q] = s->progs[t[q].prog];
        free(names);
        free(visible);
        free(numprocs);
        free(groups);
        free(members);
        if (r < 0) {
                free(v);
                free(t);
                sv_replyf(s, conn, CTL_REPLY_ERR, "%s", r == -ENOMEM ? "out of memory" : d.msg);
                return r;
        }
        *ret = v;
        *ret_n = nv;
        if (ret_t)
                *ret_t = t;
        else
                free(t);
        return 0;
}

/* The groups p is in: a JSON array, or "a, b" (empty when none). */
static json_t *groups_json(const SvSupervisor *s, const Program *p) {
        const SvGroupConf *g[SV_GROUPS_MAX];
        size_t n = sv_config_groups_of(s->cr->cfg, p->name, g);
        json_t *a = json_array();
        for (size_t k = 0; a && k < n; k++)
                if (json_array_append_new(a, json_string(g[k]->name)) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static void groups_text(const SvSupervisor *s, const Program *p, char *buf, size_t len) {
        const SvGroupConf *g[SV_GROUPS_MAX];
        size_t n = sv_config_groups_of(s->cr->cfg, p->name, g), o = 0;
        buf[0] = '\0';
        for (size_t k = 0; k < n && o < len; k++)
                o += (size_t) snprintf(buf + o, len - o, "%s%s", k ? ", " : "", g[k]->name);
}

static void format_sockets(const Program *p, char *buf, size_t len) {
        const SvConfig *cfg = p->cr->cfg;
        size_t o = 0;
        buf[0] = '\0';
        for (size_t k = 0; k < p->conf->n_sockets && o < len; k++) {
                const SvSocketConf *sc = &cfg->sockets[p->conf->socket_idx[k]];
                o += (size_t) snprintf(buf + o, len - o, "%s%s=%s", k ? "," : "", sc->name, sc->listen);
        }
        if (!p->conf->n_sockets)
                (void) snprintf(buf, len, "-");
}

/* The STATUS column: what sockvisord is doing about the instance, or what it says itself. */
static void status_extra_of(const SvSupervisor *s, const Instance *i, char *extra, size_t len) {
        uint64_t now = sv_now(s);
        sv_status_extra(extra, len, i->sm.state, i->sm.deadline_usec > now ? i->sm.deadline_usec - now : 0,
                        i->exit_text, sv_text(i->error), i->status);
        /* health first: it says what sockvisord will do about the instance */
        if (i->sm.unhealthy && i->sm.state == SM_RUNNING) {
                const Instance *c = i->index < i->prog->cap ? i->prog->cand[i->index] : NULL;
                char next[96];
                if (i->sm.deadline_usec > now)
                        (void) snprintf(next, sizeof(next), "replacing it in %s", SV_DUR(i->sm.deadline_usec - now));
                else if (c)
                        (void) snprintf(next, sizeof(next), "generation %u replacing it, serving until that one is ready",
                                        c->gen);
                else
                        (void) snprintf(next, sizeof(next), "to be replaced once the job under way is done");
                (void) snprintf(extra, len, "unhealthy: %s; %s", sv_text(i->health), next);
        } else if (i->sm.unhealthy && i->sm.state == SM_STOPPING)
                (void) snprintf(extra, len, "replaced, unhealthy: %s", sv_text(i->health));
        else if (i->probe_failures && i->sm.state == SM_RUNNING)
                (void) snprintf(extra, len, "health check failing (%u of %u): %s", i->probe_failures,
                                i->conf->health.failures, sv_text(i->health));
        /* what an observed instance waits for, when it says nothing itself */
        if (!extra[0] && i->observing != SV_OBSERVE_NONE)
                (void) snprintf(extra, len, "%s (at most %s more)",
                                i->observing == SV_OBSERVE_ACCEPTING ? "waiting for it to accept"
                                                                     : "draining: killed once it holds no connection",
                                SV_DUR(i->sm.deadline_usec > now ? i->sm.deadline_usec - now : 0));
}

static void status_row(SvSupervisor *s, SvConnId conn, int w, const char *name, const Instance *i, const char *sockets,
                       const SvGroupUsage *use) {
        uint64_t now = sv_now(s);
        char extra[320] = "", line[CTL_LINE_MAX];
        if (i)
                status_extra_of(s, i, extra, sizeof(extra));
        SvStatusRow row = {
                .name = name,
                .state = i ? i->sm.state : SM_STOPPED,
                .pid = i ? i->pid : 0,
                .generation = i ? i->gen : 0,
                .uptime_usec = i && i->pid > 0 ? now - i->spawned_usec : 0,
                .procs = use->procs,
                .cpu_usec = use->cpu_usec,
                .rss_bytes = use->rss_bytes,
                .sockets = sockets,
                .extra = i ? extra : "",
        };
        sv_status_row(line, sizeof(line), w, &row);
        sv_replyf(s, conn, CTL_REPLY_OUTPUT, "%s", line);
}

/* One JSON object as an OUTPUT line (takes o); a row that could not be built (out of
 * memory) or does not fit is left out, and said so. */
static void reply_json(SvSupervisor *s, SvConnId conn, json_t *o, bool built) {
        char line[CTL_LINE_MAX];
        if (!built) {
                json_decref(o);
                sv_replyf(s, conn, CTL_REPLY_OUTPUT, "{\"error\":\"out of memory: a row is missing\"}");
        } else if (sv_json_line(o, line, sizeof(line)) < 0)
                sv_replyf(s, conn, CTL_REPLY_OUTPUT, "{\"error\":\"a row longer than the protocol's line\"}");
        else
                sv_replyf(s, conn, CTL_REPLY_OUTPUT, "%s", line);
}

/* "--json" among args: taken out (the names are the rest). */
static bool take_json_flag(const CtlRequest *req, char **names, size_t *ret_n) {
        bool json = false;
        size_t n = 0;
        for (size_t k = 0; k < req->n_args; k++)
                if (strcmp(req->args[k], "--json") == 0)
                        json = true;
                else
                        names[n++] = req->args[k];
        names[n] = NULL;
        *ret_n = n;
        return json;
}

/* status --json: one object per row, on one line; sockvisorctl makes them an array. */
static void status_json(SvSupervisor *s, SvConnId conn, const Program *p, const Instance *i, const char *role,
                        const SvGroupUsage *use, uint64_t output_dropped) {
        uint64_t now = sv_now(s);
        char extra[320] = "", name[80];
        json_t *o = json_object(), *socks = json_array();
        int r = o && socks && json_object_set(o, "sockets", socks) == 0 ? 0 : -1; /* o holds it too */
        json_decref(socks);
        if (i)
                status_extra_of(s, i, extra, sizeof(extra));
        (void) snprintf(name, sizeof(name), "%s", i ? SV_INAME(i) : p->name);
        const SvConfig *cfg = p->cr->cfg;
        for (size_t k = 0; k < p->conf->n_sockets && r == 0; k++) {
                const SvSocketConf *sc = &cfg->sockets[p->conf->socket_idx[k]];
                json_t *so = json_object();
                r = so && sv_json_set_string(so, "name", sc->name) == 0 && sv_json_set_string(so, "listen", sc->listen) == 0
                            ? json_array_append_new(socks, so)
                            : -1;
        }
        bool up = i && i->pid > 0;
        r = r < 0 ? r : sv_json_set_string(o, "program", p->name);
        r = r < 0 ? r : sv_json_set_string(o, "instance", name);
        r = r < 0 ? r : json_object_set_new(o, "index", json_integer(i ? i->index : 0));
        r = r < 0 ? r : sv_json_set_string(o, "role", role);
        r = r < 0 ? r : sv_json_set_string(o, "state", sm_state_to_string(i ? i->sm.state : SM_STOPPED));
        r = r < 0 ? r : json_object_set_new(o, "pid", up ? json_integer(i->pid) : json_null());
        r = r < 0 ? r : json_object_set_new(o, "generation", json_integer(i ? i->gen : 0));
        r = r < 0 ? r : json_object_set_new(o, "uptime_seconds", up ? json_real((double) (now - i->spawned_usec) / 1e6)
                                                                      : json_null());
        r = r < 0 ? r : json_object_set_new(o, "processes", json_integer(use->procs));
        r = r < 0 ? r : json_object_set_new(o, "cpu_seconds", up ? json_real((double) use->cpu_usec / 1e6) : json_null());
        r = r < 0 ? r : json_object_set_new(o, "rss_bytes", up ? json_integer((json_int_t) use->rss_bytes) : json_null());
        r = r < 0 ? r : json_object_set_new(o, "unhealthy", json_boolean(i && i->sm.unhealthy));
        r = r < 0 ? r : json_object_set_new(o, "restarts", json_integer((json_int_t) p->stats.restarts));
        r = r < 0 ? r : sv_json_set_string(o, "status", extra);
        r = r < 0 ? r : json_object_set_new(o, "removed", json_boolean(p->removed));
        json_t *groups = groups_json(s, p);
        r = r < 0 ? r : groups ? json_object_set_new(o, "groups", groups) : -1;
        /* of the program's output, what its log files could not keep up with */
        r = r < 0 ? r : json_object_set_new(o, "output_dropped_bytes", json_integer((json_int_t) output_dropped));
        /* processes that outlived their generation holding its sockets, stopped by sockvisord */
        r = r < 0 ? r : json_object_set_new(o, "escaped_killed", json_integer((json_int_t) p->stats.escaped_killed));
        reply_json(s, conn, o, r == 0);
}

/* The instances status shows for p that t names, in order: current per index, candidates,
 * draining. role (when v is not NULL) gets 'c', 'n' or 'd' for each, and index its index
 * (a current slot may have no instance yet). */
static size_t status_instances(const Program *p, const SvNameTarget *t, const Instance **v, char *role, unsigned *index,
                               size_t cap) {
        size_t n = 0;
#define STATUS_PUT(inst, r, k)                   \
        do {                                     \
                if (v) {                         \
                        v[n] = (inst);           \
                        role[n] = (r);           \
                        index[n] = (k);          \
                }                                \
                n++;                             \
        } while (0)
        for (unsigned k = 0; k < p->n && n < cap; k++)
                if (sv_name_target_has(t, k))
                        STATUS_PUT(p->cur[k], 'c', k);
        for (unsigned k = 0; k < p->cap && n < cap; k++)
                if (p->cand[k] && sv_name_target_has(t, k))
                        STATUS_PUT(p->cand[k], 'n', k);
        for (const Instance *d = p->draining; d && n < cap; d = d->next)
                if (sv_name_target_has(t, d->index))
                        STATUS_PUT(d, 'd', d->index);
#undef STATUS_PUT
        return n;
}


/* "  fd store: counter (fd 9), upstream (fd 10, not polled); 2 of 4" */
static void status_fdstore(SvSupervisor *s, SvConnId conn, const Program *p) {
        char line[CTL_LINE_MAX];
        size_t o = (size_t) snprintf(line, sizeof(line), "  fd store: ");
        for (size_t k = 0; k < p->n_fdstore && o < sizeof(line); k++)
                o += (size_t) snprintf(line + o, sizeof(line) - o, "%s%s (fd %d%s)", k ? ", " : "", p->fdstore[k].name,
                                       p->fdstore[k].fd, p->fdstore[k].poll ? "" : ", not polled");
        if (o < sizeof(line))
                (void) snprintf(line + o, sizeof(line) - o, "; %zu of %u", p->n_fdstore, p->conf->fdstore_max);
        sv_replyf(s, conn, CTL_REPLY_OUTPUT, "%s", line);
}

static void cmd_status(SvSupervisor *s, SvConnId conn, const CtlRequest *req) {
        _cleanup_free_ Program **v = NULL;
        _cleanup_free_ SvNameTarget *t = NULL;
        _cleanup_free_ const Instance **list = NULL;
        _cleanup_free_ char *roles = NULL;
        _cleanup_free_ unsigned *index = NULL;
        _cleanup_free_ pid_t *pgids = NULL;
        _cleanup_free_ SvGroupUsage *use = NULL;
        size_t n, longest = 0, cap = 0, ni = 0, n_names;
        char line[CTL_LINE_MAX], *names[CTL_ARGS_MAX + 1];
        bool json = take_json_flag(req, names, &n_names);

        if (resolve(s, conn, names, n_names, true, &v, &n, &t) < 0)
                return;
        for (size_t q = 0; q < n; q++) {
                longest = strlen(v[q]->name) > longest ? strlen(v[q]->name) : longest;
                cap += status_instances(v[q], &t[q], NULL, NULL, NULL, SIZE_MAX);
        }
        list = calloc(cap ? cap : 1, sizeof(Instance *));
        roles = calloc(cap ? cap : 1, 1);
        index = calloc(cap ? cap : 1, sizeof(unsigned));
        pgids = calloc(cap ? cap : 1, sizeof(pid_t));
        use = calloc(cap ? cap : 1, sizeof(SvGroupUsage));
        if (!list || !roles || !index || !pgids || !use) {
                sv_replyf(s, conn, CTL_REPLY_ERR, "out of memory");
                return;
        }
        for (size_t q = 0; q < n; q++)
                ni += status_instances(v[q], &t[q], list + ni, roles + ni, index + ni, cap - ni);
        for (size_t k = 0; k < ni; k++)
                pgids[k] = list[k] && list[k]->pid > 0 ? list[k]->pid : 0;
        s->ops->usage(s->ctx, pgids, ni, use); /* one walk of /proc for the whole table */

        int w = sv_status_name_width(longest);
        sv_status_header(line, sizeof(line), w);
        if (!json)
                sv_replyf(s, conn, CTL_REPLY_OUTPUT, "%s", line);
        size_t at = 0;
        for (size_t q = 0; q < n; q++) {
                const Program *p = v[q];
                size_t np = status_instances(p, &t[q], NULL, NULL, NULL, SIZE_MAX);
                char sockets[512], name[128], groups[256];
                format_sockets(p, sockets, sizeof(sockets));
                bool multi = p->n > 1 || p->conf->numprocs > 1;
                uint64_t dropped = s->ops->output_dropped ? s->ops->output_dropped(s->ctx, p->name) : 0;
                for (size_t k = 0; k < np; k++, at++) {
                        const Instance *i = list[at];
                        if (json) {
                                status_json(s, conn, p, i, roles[at] == 'c' ? "current" : roles[at] == 'n' ? "candidate"
                                                                                                        : "draining",
                                            &use[at], dropped);
                                continue;
                        }
                        if (roles[at] == 'c' && multi)
                                (void) snprintf(name, sizeof(name), "%s:%u%s", p->name, index[at],
                                                p->removed ? " (removed)" : "");
                        else if (roles[at] == 'c')
                                (void) snprintf(name, sizeof(name), "%s%s", p->name, p->removed ? " (removed)" : "");
                        else
                                (void) snprintf(name, sizeof(name), "%s (%s)", SV_INAME(i), roles[at] == 'n' ? "new" : "old");
                        status_row(s, conn, w, name, i, sockets, &use[at]);
                }
                groups_text(s, p, groups, sizeof(groups));
                if (groups[0] && !json)
                        sv_replyf(s, conn, CTL_REPLY_OUTPUT, "  group: %s", groups);
                if (p->n_fdstore && !json)
                        status_fdstore(s, conn, p);
                if (dropped && !json)
                        sv_replyf(s, conn, CTL_REPLY_OUTPUT,
                                  "  output: dropped %" PRIu64 " bytes of output (its log file did not keep up)", dropped);
                if (p->stats.escaped_killed && !json)
                        sv_replyf(s, conn, CTL_REPLY_OUTPUT,
                                  "  escaped: %" PRIu64 " process%s outlived %s generation holding its sockets; stopped "
                                  "(escaped_killed)", p->stats.escaped_killed, p->stats.escaped_killed == 1 ? "" : "es",
                                  p->stats.escaped_killed == 1 ? "its" : "their");
        }
        sv_replyf(s, conn, CTL_REPLY_OK, NULL);
}

/* Every socket held, with what the port doctor and reload tests need: fd, inode, users. */
/* sockets --json: one object per held socket, then one per stored fd. */
static void sockets_json(SvSupervisor *s, SvConnId conn) {
        for (const HeldSocket *h = s->socks; h; h = h->next) {
                SvAddr a;
                bool known = sv_addr_parse(h->info.address, &a, NULL) == 0;
                json_t *o = json_object();
                bool ok = o && sv_json_set_string(o, "socket", h->name) == 0 &&
                          sv_json_set_string(o, "address", h->info.address) == 0 &&
                          sv_json_set_string(o, "kind", known ? sv_addr_kind_name(&a) : NULL) == 0 &&
                          json_object_set_new(o, "fd", json_integer(h->info.fd)) == 0 &&
                          json_object_set_new(o, "inode", json_integer((json_int_t) h->info.inode)) == 0 &&
                          json_object_set_new(o, "refs", json_integer(h->refs)) == 0 &&
                          sv_json_set_string(o, "state", h->configured ? "listening" : "retired") == 0 &&
                          json_object_set_new(o, "adopted", json_boolean(h->info.adopted)) == 0;
                reply_json(s, conn, o, ok);
        }
        for (size_t q = 0; q < s->n_progs; q++)
                for (size_t k = 0; k < s->progs[q]->n_fdstore; k++) {
                        const StoredFd *f = &s->progs[q]->fdstore[k];
                        json_t *o = json_object();
                        bool ok = o && sv_json_set_string(o, "socket", f->name) == 0 &&
                                  sv_json_set_string(o, "stored_by", s->progs[q]->name) == 0 &&
                                  json_object_set_new(o, "fd", json_integer(f->fd)) == 0 &&
                                  sv_json_set_string(o, "state", "stored") == 0 &&
                                  json_object_set_new(o, "polled", json_boolean(f->poll)) == 0;
                        reply_json(s, conn, o, ok);
                }
        sv_replyf(s, conn, CTL_REPLY_OK, NULL);
}

static void cmd_sockets(SvSupervisor *s, SvConnId conn, const CtlRequest *req) {
        if (req->n_args == 1 && strcmp(req->args[0], "--json") == 0) {
                sockets_json(s, conn);
                return;
        }
        if (req->n_args) {
                sv_replyf(s, conn, CTL_REPLY_ERR, "sockets: unknown option '%s'; expected [--json]", req->args[0]);
                return;
        }
        /* KIND last: scripts read FD, INODE and STATE by column, and STATE is one word while held */
        sv_replyf(s, conn, CTL_REPLY_OUTPUT, "%-16s %-40s %-5s %-10s %-5s %-10s %s", "SOCKET", "ADDRESS", "FD", "INODE",
                  "REFS", "STATE", "KIND");
        for (const HeldSocket *h = s->socks; h; h = h->next) {
                SvAddr a; /* the address text is canonical, so it parses back to its kind */
                bool known = sv_addr_parse(h->info.address, &a, NULL) == 0;
                sv_replyf(s, conn, CTL_REPLY_OUTPUT, "%-16s %-40s %-5d %-10lu %-5u %-10s %s", h->name, h->info.address,
                          h->info.fd, h->info.inode, h->refs,
                          h->configured ? "listening" : "retired (a draining generation still uses it)",
                          known ? sv_addr_kind_name(&a) : "?");
        }
        for (size_t q = 0; q < s->n_progs; q++) /* what workers stored: passed like sockets, after them */
                for (size_t k = 0; k < s->progs[q]->n_fdstore; k++) {
                        const StoredFd *f = &s->progs[q]->fdstore[k];
                        char what[64];
                        (void) snprintf(what, sizeof(what), "stored by %s", s->progs[q]->name);
                        sv_replyf(s, conn, CTL_REPLY_OUTPUT, "%-16s %-40s %-5d %-10s %-5s %s", f->name, what, f->fd, "-",
                                  "-", f->poll ? "in the fd store" : "in the fd store (FDPOLL=0)");
                }
        sv_replyf(s, conn, CTL_REPLY_OK, NULL);
}

static void cmd_pid(SvSupervisor *s, SvConnId conn, const CtlRequest *req) {
        _cleanup_free_ Program **v = NULL;
        char *names[CTL_ARGS_MAX + 1];
        size_t n, n_names;
        bool json = take_json_flag(req, names, &n_names);
        _cleanup_free_ SvNameTarget *t = NULL;
        if (resolve(s, conn, names, n_names, false, &v, &n, &t) < 0)
                return;
        for (size_t q = 0; q < n; q++)
                for (unsigned k = 0; k < v[q]->n; k++) {
                        const Instance *i = v[q]->cur[k];
                        if (!sv_name_target_has(&t[q], k))
                                continue;
                        pid_t pid = i && i->pid > 0 ? i->pid : 0;
                        if (!json) {
                                sv_replyf(s, conn, CTL_REPLY_OUTPUT, "%d", (int) pid);
                                continue;
                        }
                        json_t *o = json_object();
                        bool ok = o && sv_json_set_string(o, "program", v[q]->name) == 0 &&
                                  sv_json_set_string(o, "instance", i ? SV_INAME(i) : v[q]->name) == 0 &&
                                  json_object_set_new(o, "pid", pid ? json_integer(pid) : json_null()) == 0;
                        reply_json(s, conn, o, ok);
                }
        sv_replyf(s, conn, CTL_REPLY_OK, NULL);
}

static void cmd_signal(SvSupervisor *s, SvConnId conn, const CtlRequest *req) {
        int sig = sv_signal_from_string(req->args[0]);
        if (sig < 0) {
                sv_replyf(s, conn, CTL_REPLY_ERR, "unknown signal '%s'; use a name such as HUP, USR1, TERM or a number",
                          req->args[0]);
                return;
        }
        _cleanup_free_ Program **v = NULL;
        size_t n;
        _cleanup_free_ SvNameTarget *t = NULL;
        if (resolve(s, conn, req->args + 1, req->n_args - 1, false, &v, &n, &t) < 0)
                return;
        unsigned sent = 0;
        char states[256] = "";
        size_t o = 0;
        const char *name = SV_SIGNAME(sig);
        for (size_t q = 0; q < n; q++)
                for (unsigned k = 0; k < v[q]->n; k++) {
                        const Instance *i = v[q]->cur[k];
                        if (!sv_name_target_has(&t[q], k))
                                continue;
                        if (i && i->pid > 0) {
                                s->ops->signal(s->ctx, i->pid, sig, false);
                                sv_replyf(s, conn, CTL_REPLY_PROGRESS, "%s: sent SIG%s to pid %d", SV_INAME(i),
                                          name, (int) i->pid);
                                sent++;
                        } else if (o < sizeof(states))
                                o += (size_t) snprintf(states + o, sizeof(states) - o, "%s%s is %s", o ? ", " : "",
                                                       i ? SV_INAME(i) : v[q]->name,
                                                       sm_state_to_string(i ? i->sm.state : SM_STOPPED));
                }
        if (sent)
                sv_replyf(s, conn, CTL_REPLY_OK, NULL);
        else
                sv_replyf(s, conn, CTL_REPLY_ERR, "no process to signal (%s); start it first", states);
}

static bool program_busy(const Program *p, char *buf, size_t len) {
        const Waiter *w = p->waiters;
        if (p->ro.state == SV_RO_ROLLING) {
                unsigned ready = p->ro.promoted;
                (void) snprintf(buf, len, "%s: a restart is under way (generation %u, %u of %u ready); wait for it, or "
                                          "stop it",
                                p->name, p->ro.gen, ready, p->ro.n_target);
                return true;
        }
        for (; w; w = w->next)
                if (w->what != WAIT_STOPPED) {
                        (void) snprintf(buf, len, "%s: a %s is under way; wait for it, or stop it", p->name,
                                        sv_job_verb(w->job->j.kind));
                        return true;
                }
        return false;
}

static bool program_stopping(const Program *p) {
        for (const Waiter *w = p->waiters; w; w = w->next)
                if (w->what == WAIT_STOPPED)
                        return true;
        return false;
}

/* Says within a second what a start will wait for. */
static void start_progress(SvSupervisor *s, SvConnId conn, Program *p) {
        uint64_t now = sv_now(s);
        for (unsigned k = 0; k < p->n; k++) {
                const Instance *i = p->cur[k];
                SmState st = i ? i->sm.state : SM_STOPPED;
                char who[96];
                (void) snprintf(who, sizeof(who), "%s", i ? SV_INAME(i) : p->name);
                if (st == SM_RUNNING)
                        sv_replyf(s, conn, CTL_REPLY_PROGRESS, "%s: already running (pid %d)", who, (int) i->pid);
                else if (st == SM_STARTING)
                        sv_replyf(s, conn, CTL_REPLY_PROGRESS,
                                  "%s: already starting (pid %d); waiting up to %s for it to be ready", who, (int) i->pid,
                                  SV_DUR(i->sm.deadline_usec > now ? i->sm.deadline_usec - now : 0));
                else if (st == SM_STOPPING)
                        sv_replyf(s, conn, CTL_REPLY_PROGRESS,
                                  "%s: stopping (pid %d, not ready in time); waiting up to %s for it to go, then "
                                  "starting it again",
                                  who, (int) i->pid, SV_DUR(i->sm.deadline_usec > now ? i->sm.deadline_usec - now
                                                                                      : SV_KILL_GRACE_USEC));
                else if (st == SM_BACKOFF)
                        sv_replyf(s, conn, CTL_REPLY_PROGRESS,
                                  "%s: was waiting to retry (%s); starting it now, waiting up to %s for it to be ready",
                                  who, i->exit_text[0] ? i->exit_text : sv_text(i->error), SV_DUR(sv_ready_bound_usec(p->conf)));
                else
                        sv_replyf(s, conn, CTL_REPLY_PROGRESS, "%s: starting, waiting up to %s for it to be ready", who,
                                  SV_DUR(sv_ready_bound_usec(p->conf)));
        }
}

/* A program with nothing running starts from the configuration loaded now, even when a
 * reload's rollout of that configuration failed earlier and left it on the one before. */
static void follow_file(SvSupervisor *s, Program *p) {
        const SvProgramConf *loaded = sv_config_find_program(s->cr->cfg, p->name);
        if (!loaded || loaded == p->conf || sv_program_live(p))
                return;
        sv_program_set_conf(p, loaded, s->cr);
        sv_program_set_numprocs(p, loaded->numprocs);
}

/* The indexes t names of p as one run [first, end); -EINVAL when there are gaps. */
static int instance_run(const Program *p, const SvNameTarget *t, unsigned *ret_first, unsigned *ret_end) {
        unsigned first = UINT32_MAX, end = 0, count = 0;
        for (unsigned k = 0; k < SV_NAMES_INSTANCES_MAX && k < p->n; k++)
                if (sv_name_target_has(t, k)) {
                        first = k < first ? k : first;
                        end = k + 1;
                        count++;
                }
        if (count == 0 || count != end - first)
                return -EINVAL;
        if (ret_first)
                *ret_first = first, *ret_end = end;
        return 0;
}

/* start, stop or restart of some instances of p ("pool:1"): the others are not touched. */
static void instance_job(SvSupervisor *s, SvConnId conn, Job *j, SvJobKind kind, Program *p, const SvNameTarget *t) {
        char iname[SV_NAME_MAX + 16];
        if (kind == SV_JOB_RESTART) {
                unsigned first, end;
                if (instance_run(p, t, &first, &end) < 0)
                        return; /* refused before: not reached */
                sv_replyf(s, conn, CTL_REPLY_PROGRESS, "%s: rolling out a new generation of %s:%u%s", p->name, p->name,
                          first, end - first > 1 ? " and the next ones" : "");
                sv_program_yield_health(p, "superseded by a restart");
                sv_waiter_add(p, j, WAIT_ROLLOUT);
                sv_instance_begin_rollout(p, first, end);
                return;
        }
        for (unsigned k = 0; k < p->n; k++) {
                if (!sv_name_target_has(t, k))
                        continue;
                (void) snprintf(iname, sizeof(iname), "%s:%u", p->name, k);
                Waiter *w = sv_waiter_add(p, j, kind == SV_JOB_STOP ? WAIT_STOPPED : WAIT_RUNNING);
                if (w)
                        w->index = (int) k;
                if (kind == SV_JOB_STOP) {
                        if (!sv_index_live(p, k))
                                sv_replyf(s, conn, CTL_REPLY_PROGRESS, "%s: already stopped", iname);
                        sv_instance_stop(p, k, "stop requested");
                } else {
                        sv_replyf(s, conn, CTL_REPLY_PROGRESS, "%s: starting", iname);
                        sv_instance_start(p, k, "start requested");
                }
        }
}

static void cmd_job(SvSupervisor *s, SvConnId conn, const CtlRequest *req, SvJobKind kind) {
        _cleanup_free_ Program **v = NULL;
        size_t n;
        char busy[512];

        if (s->shutting_down) {
                sv_replyf(s, conn, CTL_REPLY_ERR, "sockvisord is shutting down");
                return;
        }
        _cleanup_free_ SvNameTarget *t = NULL;
        if (resolve(s, conn, req->args, req->n_args, false, &v, &n, &t) < 0)
                return;
        for (size_t q = 0; q < n && kind == SV_JOB_RESTART; q++) /* a rollout takes one run of indexes */
                if (!t[q].all && instance_run(v[q], &t[q], NULL, NULL) < 0) {
                        sv_replyf(s, conn, CTL_REPLY_ERR,
                                  "restart %s: name instances next to each other (%s:1 %s:2), one at a time, or the "
                                  "whole program",
                                  v[q]->name, v[q]->name, v[q]->name);
                        return;
                }
        if (kind != SV_JOB_STOP) /* refused before anything is done: nothing half-applies */
                for (size_t q = 0; q < n; q++) {
                        Program *p = v[q];
                        /* a start joins other starts (they wait for the same thing); a restart
                         * joins nothing; both queue behind a stop */
                        bool conflict = p->ro.state == SV_RO_ROLLING && !p->ro_health; /* that one gives way */
                        for (const Waiter *w = p->waiters; w; w = w->next)
                                conflict = conflict || (kind == SV_JOB_START ? w->what == WAIT_ROLLOUT
                                                                             : w->what != WAIT_STOPPED);
                        if (conflict && program_busy(p, busy, sizeof(busy))) {
                                sv_replyf(s, conn, CTL_REPLY_ERR, "%s", busy);
                                return;
                        }
                }
        Job *j = sv_job_new(s, kind, conn);
        if (!j) {
                sv_replyf(s, conn, CTL_REPLY_ERR, "out of memory");
                return;
        }
        for (size_t q = 0; q < n; q++) {
                Program *p = v[q];
                if (!t[q].all) {
                        instance_job(s, conn, j, kind, p, &t[q]);
                        continue;
                }
                if (kind == SV_JOB_STOP) {
                        if (!sv_program_live(p))
                                sv_replyf(s, conn, CTL_REPLY_PROGRESS, "%s: already stopped", p->name);
                        sv_waiter_add(p, j, WAIT_STOPPED); /* first: it hears the progress of the stop */
                        sv_program_cancel(p, "cancelled: stop requested");
                        sv_program_stop(p, "stop requested");
                } else if (program_stopping(p)) {
                        sv_replyf(s, conn, CTL_REPLY_PROGRESS,
                                  "%s: waiting for the stop under way (up to %s), then starting it", p->name,
                                  SV_DUR(sv_stop_bound_usec(p->conf)));
                        Waiter *w = sv_waiter_add(p, j, WAIT_RUNNING);
                        if (w)
                                w->after_stop = true;
                } else if (kind == SV_JOB_START && p->draining) {
                        /* never more processes than numprocs + restart_surge: what drains goes first */
                        unsigned nd = 0;
                        for (const Instance *d = p->draining; d; d = d->next)
                                nd++;
                        sv_replyf(s, conn, CTL_REPLY_PROGRESS,
                                  "%s: waiting for %u old instance%s to finish draining (up to %s), then starting it",
                                  p->name, nd, nd == 1 ? "" : "s", SV_DUR(sv_stop_bound_usec(p->conf)));
                        Waiter *w = sv_waiter_add(p, j, WAIT_RUNNING);
                        if (w)
                                w->after_drain = true;
                } else if (kind == SV_JOB_START) {
                        follow_file(s, p);
                        start_progress(s, conn, p);
                        sv_program_start(p, "start requested");
                        sv_waiter_add(p, j, WAIT_RUNNING);
                } else {
                        sv_replyf(s, conn, CTL_REPLY_PROGRESS, "%s: rolling out a new generation, %u at a time", p->name,
                                  p->conf->restart_surge ? p->conf->restart_surge : 1);
                        sv_program_yield_health(p, "superseded by a restart");
                        sv_waiter_add(p, j, WAIT_ROLLOUT);
                        /* to the configuration loaded now: after a reload whose rollout failed,
                         * restart tries the file's version again (the old one serves meanwhile) */
                        const SvProgramConf *loaded = sv_config_find_program(s->cr->cfg, p->name);
                        sv_program_begin_rollout(p, loaded ? loaded : p->conf, loaded ? s->cr : p->cr);
                }
        }
        if (kind == SV_JOB_STOP) /* a removed namesake still going is part of what stop waits for */
                for (size_t q = 0; q < s->n_progs; q++) {
                        Program *old = s->progs[q];
                        bool named = false;
                        for (size_t k = 0; k < n && !named; k++)
                                named = strcmp(v[k]->name, old->name) == 0;
                        if (old->removed && named && sv_program_live(old)) {
                                sv_waiter_add(old, j, WAIT_STOPPED);
                                sv_program_stop(old, "stop requested");
                        }
                }
        if (n == 0)
                (void) snprintf(j->j.done_text, sizeof(j->j.done_text), "no programs to %s", sv_job_verb(kind));
        sv_job_release_share(s, j); /* the handler's share: answers now if nothing waits */
}

void sv_command(SvSupervisor *s, SvConnId conn, const CtlRequest *req) {
        SvVerb verb;
        const SvVerbInfo *vi = sv_verb_find(req->verb, &verb);
        char known[256];

        if (!vi || vi->local) {
                sv_verbs_list(known, sizeof(known), true);
                sv_replyf(s, conn, CTL_REPLY_ERR, "unknown command '%s'; this sockvisord knows: %s", req->verb, known);
                return;
        }
        if (req->n_args < vi->min_args || req->n_args > vi->max_args) {
                sv_replyf(s, conn, CTL_REPLY_ERR, "%s takes %s; for example: sockvisorctl %s", vi->name,
                          vi->args_help[0] ? vi->args_help : "no arguments", vi->example);
                return;
        }
        switch (verb) {
        case SV_VERB_EVENTS:
                if (req->n_args == 1 && strcmp(req->args[0], "--json") != 0) {
                        sv_replyf(s, conn, CTL_REPLY_ERR, "events: unknown option '%s'; expected [--json]", req->args[0]);
                        break;
                }
                sv_events_subscribe(s, conn, req->n_args == 1);
                break;
        case SV_VERB_STATUS:
                cmd_status(s, conn, req);
                break;
        case SV_VERB_START:
                cmd_job(s, conn, req, SV_JOB_START);
                break;
        case SV_VERB_STOP:
                cmd_job(s, conn, req, SV_JOB_STOP);
                break;
        case SV_VERB_RESTART:
                cmd_job(s, conn, req, SV_JOB_RESTART);
                break;
        case SV_VERB_PID:
                if (req->n_args == 0) { /* the daemon's own pid is the daemon's to say */
                        sv_replyf(s, conn, CTL_REPLY_ERR, "pid with no name is answered by sockvisord itself");
                        break;
                }
                cmd_pid(s, conn, req);
                break;
        case SV_VERB_SIGNAL:
                cmd_signal(s, conn, req);
                break;
        case SV_VERB_SOCKETS:
                cmd_sockets(s, conn, req);
                break;
        case SV_VERB_VERSION:
                sv_replyf(s, conn, CTL_REPLY_OK, "sockvisord %s (protocol %d)", SV_VERSION, CTL_PROTO_VERSION);
                break;
        case SV_VERB_SHUTDOWN:
                sv_replyf(s, conn, CTL_REPLY_OK, "shutting down: stopping every program");
                sv_supervisor_shutdown(s, "shutdown requested");
                break;
        case SV_VERB_RELOAD: /* needs the file: the daemon reads it and calls sv_supervisor_reload */
        default:
                sv_replyf(s, conn, CTL_REPLY_ERR, "'%s' is not handled here (a bug); nothing changed", vi->name);
                break;
        }
}

int sv_supervisor_fetch(SvSupervisor *s, const char *name, const SvPeer *peer, SvSocketInfo *ret, SvDiag *d) {
        const SvConfig *cfg = s->cr ? s->cr->cfg : NULL;
        int k = cfg ? sv_config_find_socket(cfg, name) : -1;
        char why[768];
        if (k < 0 || !s->cr->socks[k]) {
                char known[512] = "";
                size_t o = 0;
                for (size_t q = 0; cfg && q < cfg->n_sockets && o < sizeof(known); q++)
                        o += (size_t) snprintf(known + o, sizeof(known) - o, "%s%s", q ? ", " : "", cfg->sockets[q].name);
                return diag_set(d, 0, "no socket named '%s'; sockvisord holds: %s", name, known[0] ? known : "none"),
                       -ENOENT;
        }
        const SvSocketConf *sc = &cfg->sockets[k];
        if (!sv_fetch_permitted(sc, peer, why, sizeof(why))) {
                sv_logf(s, LOG_WARNING, NULL, "fetch: refused socket '%s' to pid %d: %s", name, (int) peer->pid, why);
                return diag_set(d, 0, "%s", why), -EPERM;
        }
        *ret = s->cr->socks[k]->info;
        sv_logf(s, LOG_INFO, NULL, "fetch: socket '%s' (%s, fd %d) sent to pid %d, uid %u%s%s%s", name, ret->address,
                ret->fd, (int) peer->pid, (unsigned) peer->uid, peer->user ? " (" : "", peer->user ? peer->user : "",
                peer->user ? ")" : "");
        return 0;
}
