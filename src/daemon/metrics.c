/* The metrics endpoint ([sockvisord] metrics=): /metrics in the Prometheus text format and
 * /healthz, over HTTP/1.x on the daemon's own sd-event loop.
 *
 * It never blocks the loop: the listener and every client are non-blocking, a client is
 * served from its own io source, and what a page needs (/proc, sock_diag) the kernel answers
 * at once. It is bounded against slow or many clients: at most METRICS_CLIENTS_MAX at once
 * (when full, a new client takes the place of the oldest one that has not sent a whole
 * request yet; when none is idle, it gets a 503 and is closed), a request head of at most SV_HTTP_HEAD_MAX bytes (431),
 * METRICS_DEADLINE_USEC from accept to the last byte written (then closed), one request per
 * connection (Connection: close). The listener is CLOEXEC and never handed to a worker; it
 * crosses an upgrade (a "metrics" state record) and is rebound by a reload that changes it.
 * The page itself is formatted by src/core/metrics_text.c. */
#include "daemon-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockvisor/listener.h"
#include "sockvisor/log.h"
#include "sockvisor/metrics.h"
#include "sockvisor/observe.h"
#include "sockvisor/procfs.h"

#define METRICS_CLIENTS_MAX 16
#define METRICS_DEADLINE_USEC (5 * USEC_PER_SEC)
#define METRICS_ACCEPT_BUDGET 64          /* accepts per wake-up: other sources get their turn */
#define METRICS_PAUSE_USEC (100 * USEC_PER_MSEC) /* out of fds: accept again after this */

typedef struct MClient {
        SvMetrics *m;
        int fd;
        sd_event_source *io, *timer;
        char in[SV_HTTP_HEAD_MAX];
        size_t in_len;
        SvMetricsOut out; /* the response, once the head is read */
        size_t out_pos;
        struct MClient *prev, *next;
} MClient;

struct SvMetrics {
        SvDaemon *d;
        SvListener l;
        char *spec;  /* metrics= as configured */
        mode_t mode; /* metrics_mode= it was bound with */
        sd_event_source *accept_src, *pause_src;
        MClient *clients;
        unsigned n_clients;
};

/* ---- clients ---- */

static void client_free(MClient *c) {
        SvMetrics *m = c->m;
        if (c->prev)
                c->prev->next = c->next;
        else
                m->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        m->n_clients--;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        (void) safe_close(c->fd);
        sv_metrics_out_done(&c->out);
        free(c);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        client_free(userdata); /* too slow: sent nothing complete, or reads nothing */
        return 0;
}

/* ---- what /healthz and /metrics say ---- */

/* The current instance of index i among a program's views, or NULL. */
static const SvInstanceView *current_at(const SvInstanceView *v, size_t n, unsigned i) {
        for (size_t q = 0; q < n; q++)
                if (v[q].role == SV_ROLE_CURRENT && v[q].index == i)
                        return &v[q];
        return NULL;
}

static bool health(SvMetrics *m, char *reason, size_t len) {
        SvSupervisor *sup = m->d->sup;
        size_t np = sup ? sv_supervisor_n_programs(sup) : 0, n = 0, cap = 0, nv = 0;
        _cleanup_free_ SvHealthEntry *e = NULL;
        _cleanup_free_ SvInstanceView *views = NULL; /* every instance, program after program */
        for (size_t k = 0; k < np; k++) {
                SvProgramView v;
                sv_supervisor_program_view(sup, k, &v);
                if (!v.removed && v.conf->autostart)
                        cap += v.conf->numprocs;
                nv += sv_supervisor_instance_views(sup, k, NULL, 0);
        }
        e = calloc(cap ? cap : 1, sizeof(*e));
        views = calloc(nv ? nv : 1, sizeof(*views));
        if (!e || !views) {
                (void) snprintf(reason, len, "out of memory");
                return false;
        }
        for (size_t k = 0, at = 0; k < np; k++) {
                SvProgramView v;
                sv_supervisor_program_view(sup, k, &v);
                size_t got = sv_supervisor_instance_views(sup, k, views + at, nv - at);
                got = got < nv - at ? got : nv - at;
                if (!v.removed && v.conf->autostart)
                        for (unsigned i = 0; i < v.conf->numprocs && n < cap; i++, n++) {
                                const SvInstanceView *iv = current_at(views + at, got, i);
                                e[n] = (SvHealthEntry){ .instance = iv ? iv->name : v.name,
                                                        .state = i < v.n ? v.state[i] : SM_STOPPED,
                                                        .why = iv && iv->why[0] ? iv->why : NULL };
                        }
                at += got;
        }
        return sv_metrics_health(e, n, reason, len);
}

static void usage_of(pid_t root, SvMetricsInstance *in) {
        pid_t pids[SV_OBSERVE_TREE_MAX];
        int n = sv_observe_tree(root, pids, ELEMENTSOF(pids));
        for (int k = 0; k < n; k++) {
                uint64_t cpu = 0, rss = 0;
                if (sv_procfs_cpu_usec(pids[k], &cpu) < 0 || sv_procfs_rss_bytes(pids[k], &rss) < 0) {
                        if (k == 0)
                                return; /* gone, or not ours to read: no figure rather than a wrong one */
                        continue;   /* a child that just exited */
                }
                in->cpu_usec += cpu;
                in->rss_bytes += rss;
                in->have_usage = true;
        }
}

static int render(SvMetrics *m, SvMetricsOut *body) {
        SvSupervisor *sup = m->d->sup;
        size_t np = sup ? sv_supervisor_n_programs(sup) : 0, ni = 0, ns = 0;
        _cleanup_free_ SvMetricsProgram *progs = calloc(np ? np : 1, sizeof(SvMetricsProgram));
        _cleanup_free_ SvInstanceView *views = NULL;
        _cleanup_free_ SvMetricsInstance *inst = NULL;
        _cleanup_free_ SvSocketView *sv = NULL;
        _cleanup_free_ SvMetricsSocket *socks = NULL;
        _cleanup_free_ SvObserveSocket *obs = NULL;
        _cleanup_free_ SvSocketQueue *queues = NULL;
        if (!progs)
                return -ENOMEM;

        for (size_t k = 0; k < np; k++) {
                SvProgramView v;
                sv_supervisor_program_view(sup, k, &v);
                progs[k] = (SvMetricsProgram){ .name = v.name, .stats = v.stats };
                ni += sv_supervisor_instance_views(sup, k, NULL, 0);
        }
        views = calloc(ni ? ni : 1, sizeof(SvInstanceView));
        inst = calloc(ni ? ni : 1, sizeof(SvMetricsInstance));
        if (!views || !inst)
                return -ENOMEM;
        size_t at = 0;
        for (size_t k = 0; k < np && at < ni; k++)
                at += sv_supervisor_instance_views(sup, k, views + at, ni - at);
        for (size_t i = 0; i < at; i++) {
                const SvInstanceView *v = &views[i];
                inst[i] = (SvMetricsInstance){ .program = v->program, .instance = v->name, .generation = v->generation,
                                               .role = v->role, .state = v->state, .pid = v->pid };
                if (v->pid > 0)
                        usage_of(v->pid, &inst[i]);
        }

        ns = sup ? sv_supervisor_socket_views(sup, NULL, 0) : 0;
        sv = calloc(ns ? ns : 1, sizeof(SvSocketView));
        socks = calloc(ns ? ns : 1, sizeof(SvMetricsSocket));
        obs = calloc(ns ? ns : 1, sizeof(SvObserveSocket));
        queues = calloc(ns ? ns : 1, sizeof(SvSocketQueue));
        if (!sv || !socks || !obs || !queues)
                return -ENOMEM;
        ns = sup ? sv_supervisor_socket_views(sup, sv, ns) : 0;
        size_t nsock = 0;
        for (size_t k = 0; k < ns; k++) {
                const SvListener *l = sv[k].info.handle;
                if (!sv[k].configured || !l) /* a retired one may share its name with its successor */
                        continue;
                obs[nsock] = (SvObserveSocket){ .inode = sv[k].info.inode, .addr = l->addr };
                socks[nsock++] = (SvMetricsSocket){ .name = sv[k].name };
        }
        int r = sv_observe_queues(obs, nsock, queues);
        if (r < 0)
                log_debug("metrics: cannot read the accept queues: %s", strerror(-r));
        for (size_t k = 0; k < nsock; k++) {
                socks[k].have_queue = queues[k].known;
                socks[k].queued = queues[k].queued;
                socks[k].backlog = queues[k].backlog;
        }

        unsigned fds = 0;
        uint64_t rss = 0, cpu = 0;
        SvMetricsSnapshot s = {
                .version = SV_VERSION,
                .programs = progs,
                .n_programs = np,
                .instances = inst,
                .n_instances = at,
                .sockets = socks,
                .n_sockets = nsock,
                .daemon_open_fds = sv_procfs_self_fds(&fds) < 0 ? -1 : (int64_t) fds,
                .daemon_rss_bytes = sv_procfs_rss_bytes(getpid(), &rss) < 0 ? -1 : (int64_t) rss,
                .daemon_cpu_usec = sv_procfs_cpu_usec(getpid(), &cpu) < 0 ? -1 : (int64_t) cpu,
        };
        sv_metrics_render(&s, body);
        return body->oom ? -ENOMEM : 0;
}

static void respond(MClient *c, SvHttpRoute route, bool head) {
        static const char text[] = "text/plain; charset=utf-8";
        _cleanup_(sv_metrics_out_done) SvMetricsOut body = {};
        char line[512];
        int status;
        const char *ctype = text;

        switch (route) {
        case SV_ROUTE_METRICS:
                status = render(c->m, &body) < 0 ? 500 : 200;
                if (status == 200)
                        ctype = "text/plain; version=0.0.4; charset=utf-8";
                else {
                        sv_metrics_out_done(&body);
                        sv_metrics_printf(&body, "out of memory\n");
                }
                break;
        case SV_ROUTE_HEALTHZ:
                status = health(c->m, line, sizeof(line)) ? 200 : 503;
                sv_metrics_printf(&body, "%s\n", line);
                break;
        case SV_ROUTE_NOT_FOUND:
                status = 404;
                sv_metrics_printf(&body, "not found; sockvisord serves /metrics and /healthz\n");
                break;
        case SV_ROUTE_METHOD_NOT_ALLOWED:
                status = 405;
                sv_metrics_printf(&body, "method not allowed; use GET (or HEAD)\n");
                break;
        case SV_ROUTE_TOO_LARGE:
                status = 431;
                sv_metrics_printf(&body, "request head longer than %d bytes\n", SV_HTTP_HEAD_MAX);
                break;
        default:
                status = 400;
                sv_metrics_printf(&body, "bad request; expected e.g. GET /metrics HTTP/1.1\n");
                break;
        }
        sv_http_response(&c->out, status, ctype, body.buf ? body.buf : "", body.len, head);
        if (c->out.oom)
                sv_metrics_out_done(&c->out);
}

/* Writes what it can; true when the client is done with (written out, or broken). */
static bool client_write(MClient *c) {
        while (c->out_pos < c->out.len) {
                ssize_t n = send(c->fd, c->out.buf + c->out_pos, c->out.len - c->out_pos, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0)
                        return errno != EAGAIN && errno != EINTR;
                c->out_pos += (size_t) n;
        }
        /* Connection: close. Anything unread (a request body) would turn close() into a
         * reset that may destroy the response in flight: shut down our side and let the
         * deadline end a client that keeps sending. */
        (void) shutdown(c->fd, SHUT_WR);
        int pending = 0;
        return ioctl(c->fd, FIONREAD, &pending) < 0 || pending == 0;
}

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        MClient *c = userdata;

        if (c->out.buf || c->out.len) { /* responding, or lingering after it */
                if (c->out_pos < c->out.len) {
                        if (client_write(c))
                                client_free(c);
                        else if (c->out_pos == c->out.len)
                                (void) sd_event_source_set_io_events(c->io, EPOLLIN);
                        return 0;
                }
                char junk[4096];
                ssize_t n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                        client_free(c);
                return 0;
        }
        if (revents & (EPOLLERR | EPOLLHUP) && !(revents & EPOLLIN)) {
                client_free(c);
                return 0;
        }
        ssize_t n = recv(fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) { /* gone before a whole request */
                client_free(c);
                return 0;
        }
        c->in_len += (size_t) n;
        SvHttpRoute route;
        bool head;
        if (sv_http_route(c->in, c->in_len, &route, &head) == 0)
                return 0;
        respond(c, route, head);
        if (!c->out.buf) {
                client_free(c);
                return 0;
        }
        if (client_write(c))
                client_free(c);
        else
                (void) sd_event_source_set_io_events(c->io, c->out_pos < c->out.len ? EPOLLOUT : EPOLLIN);
        return 0;
}

static void refuse(int fd) {
        static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                                   "Content-Length: 36\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
                                   "too many clients; try again shortly\n";
        (void) send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void) shutdown(fd, SHUT_WR);
        (void) close(fd);
}

static int on_resume(sd_event_source *s, uint64_t usec, void *userdata) {
        SvMetrics *m = userdata;
        m->pause_src = sd_event_source_disable_unref(m->pause_src);
        (void) sd_event_source_set_enabled(m->accept_src, SD_EVENT_ON);
        return 0;
}

static int on_accept(sd_event_source *s, int lfd, uint32_t revents, void *userdata) {
        SvMetrics *m = userdata;
        for (int budget = METRICS_ACCEPT_BUDGET; budget > 0; budget--) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                /* out of fds: the queue keeps them; try again in a while */
                                sv_log_errno(LOG_WARNING, errno, "metrics: cannot accept; pausing for 100 ms");
                                (void) sd_event_source_set_enabled(m->accept_src, SD_EVENT_OFF);
                                if (sd_event_add_time_relative(m->d->event, &m->pause_src, CLOCK_MONOTONIC,
                                                               METRICS_PAUSE_USEC, 0, on_resume, m) < 0)
                                        (void) sd_event_source_set_enabled(m->accept_src, SD_EVENT_ON);
                        }
                        return 0; /* EAGAIN, or a connection that went away (ECONNABORTED) */
                }
                if (m->n_clients >= METRICS_CLIENTS_MAX) {
                        /* Full. A client still without a whole request head has had longer than
                         * this one to send it: the oldest such goes, so connections that send
                         * nothing cannot lock out a scraper (whose request comes at once). When
                         * every slot is answering, the new one gets 503. */
                        MClient *idle = NULL;
                        for (MClient *c = m->clients; c; c = c->next)
                                if (!c->out.buf)
                                        idle = c; /* the list is newest first */
                        if (!idle) {
                                refuse(fd);
                                continue;
                        }
                        client_free(idle);
                }
                MClient *c = calloc(1, sizeof(MClient));
                if (!c) {
                        (void) close(fd);
                        continue;
                }
                c->m = m;
                c->fd = fd;
                int r = sd_event_add_io(m->d->event, &c->io, fd, EPOLLIN, on_client, c);
                if (r >= 0)
                        r = sd_event_add_time_relative(m->d->event, &c->timer, CLOCK_MONOTONIC, METRICS_DEADLINE_USEC,
                                                       10 * USEC_PER_MSEC, on_deadline, c);
                c->next = m->clients;
                if (m->clients)
                        m->clients->prev = c;
                m->clients = c;
                m->n_clients++;
                if (r < 0)
                        client_free(c);
        }
        return 0;
}

/* ---- the endpoint ---- */

SvMetrics *sv_metrics_free(SvMetrics *m) {
        if (!m)
                return NULL;
        while (m->clients)
                client_free(m->clients);
        sd_event_source_disable_unref(m->accept_src);
        sd_event_source_disable_unref(m->pause_src);
        if (m->l.fd >= 0)
                sv_listener_close(&m->l);
        free(m->l.name);
        free(m->spec);
        free(m);
        return NULL;
}

static int metrics_start(SvDaemon *d, SvMetrics *m, SvDiag *diag) {
        int r = sd_event_add_io(d->event, &m->accept_src, m->l.fd, EPOLLIN, on_accept, m);
        if (r < 0)
                return diag_set(diag, 0, "metrics: cannot watch the socket: %s", strerror(-r)), r;
        char addr[SV_ADDR_STRLEN];
        log_info("metrics: serving /metrics and /healthz on %s", sv_addr_format(&m->l.addr, addr, sizeof(addr)));
        return 0;
}

static SvMetrics *metrics_alloc(SvDaemon *d, const char *spec, mode_t mode) {
        SvMetrics *m = calloc(1, sizeof(SvMetrics));
        if (!m)
                return NULL;
        m->d = d;
        m->l = (SvListener){ .fd = -EBADF, .lock_fd = -EBADF, .path_fd = -EBADF };
        m->mode = mode;
        m->spec = strdup(spec);
        if (!m->spec)
                return sv_metrics_free(m);
        return m;
}

static int metrics_bind(SvDaemon *d, const SvConfig *cfg, SvMetrics **ret, SvDiag *diag) {
        SvMetrics *m = metrics_alloc(d, cfg->metrics, cfg->metrics_mode);
        if (!m)
                return diag_set(diag, 0, "metrics: out of memory"), -ENOMEM;
        SvSocketConf sc = { .name = (char *) "metrics", .listen = cfg->metrics, .addr = cfg->metrics_addr,
                            .backlog = METRICS_CLIENTS_MAX * 4, .blocking = false, .mode = cfg->metrics_mode,
                            .line = cfg->metrics_line, .listen_line = cfg->metrics_line };
        int r = sv_listener_open(&sc, &m->l, diag);
        if (r < 0) {
                sv_metrics_free(m);
                diag_prefix(diag, "[sockvisord] metrics");
                return r;
        }
        r = metrics_start(d, m, diag);
        if (r < 0) {
                sv_metrics_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

int sv_metrics_open(SvDaemon *d, SvDiag *diag) {
        const SvConfig *cfg = sv_supervisor_config(d->sup);
        if (!cfg || !cfg->metrics)
                return 0;
        return metrics_bind(d, cfg, &d->metrics, diag);
}

void sv_metrics_apply(SvDaemon *d) {
        const SvConfig *cfg = sv_supervisor_config(d->sup);
        SvMetrics *old = d->metrics;
        SvDiag diag = {};
        if (!cfg)
                return;
        if (!old && !cfg->metrics)
                return;
        if (old && cfg->metrics && strcmp(old->spec, cfg->metrics) == 0 &&
            (cfg->metrics_addr.family != AF_UNIX || old->mode == cfg->metrics_mode))
                return;
        if (!cfg->metrics) {
                log_info("metrics: endpoint %s closed (metrics= removed)", old->spec);
                d->metrics = sv_metrics_free(old);
                return;
        }
        /* the new one first, so a failure leaves the old one serving; an address that
         * overlaps the old one (a wider bind of the same port, the same unix path with
         * another mode) can only be bound once the old one is closed */
        if (old)
                log_info("metrics: metrics= or metrics_mode= changed; rebinding (was %s, now %s)", old->spec,
                         cfg->metrics);
        SvMetrics *m = NULL;
        int r = metrics_bind(d, cfg, &m, &diag);
        if (r < 0 && old) {
                d->metrics = sv_metrics_free(old);
                old = NULL;
                diag = (SvDiag){};
                r = metrics_bind(d, cfg, &m, &diag);
        }
        if (r < 0) {
                log_error("%s; the metrics endpoint is off until a reload binds it", diag.msg);
                d->metrics = sv_metrics_free(old);
                return;
        }
        sv_metrics_free(old);
        d->metrics = m;
}

/* ---- the upgrade ---- */

int sv_metrics_save(SvDaemon *d, SvStateOut *o) {
        SvMetrics *m = d->metrics;
        char ext[256];
        if (!m)
                return 0; /* no record: an older image reads the state as before */
        int r = sv_listener_export(&m->l, ext, sizeof(ext));
        if (r < 0)
                return r;
        r = sv_carry_add(&d->carry, m->l.fd);
        r = r ?: sv_carry_add(&d->carry, m->l.lock_fd);
        r = r ?: sv_carry_add(&d->carry, m->l.path_fd);
        if (r < 0)
                return r;
        sv_state_record(o, "metrics");
        sv_state_str(o, "spec", m->spec);
        sv_state_u64(o, "mode", m->mode);
        sv_state_i64(o, "fd", m->l.fd);
        sv_state_u64(o, "inode", (uint64_t) m->l.inode);
        sv_state_str(o, "ext", ext);
        return 0;
}

int sv_metrics_restore(SvDaemon *d, SvStateIn *in, const SvStateRec *rec, SvDiag *diag) {
        const char *spec = sv_rec_str(in, rec, "spec");
        mode_t mode = (mode_t) sv_rec_u64(in, rec, "mode");
        int fd = (int) sv_rec_i64(in, rec, "fd");
        uint64_t inode = sv_rec_u64(in, rec, "inode");
        const char *ext = sv_rec_str(in, rec, "ext");
        if (in->err)
                return in->err;
        SvMetrics *m = metrics_alloc(d, spec, mode);
        if (!m)
                return diag_set(diag, 0, "out of memory"), -ENOMEM;
        int r = sv_listener_import("metrics", fd, (unsigned long) inode, false, ext, &m->l, diag);
        if (r >= 0) {
                r = sv_carry_add(&d->carry, m->l.fd);
                r = r ?: sv_carry_add(&d->carry, m->l.lock_fd);
                r = r ?: sv_carry_add(&d->carry, m->l.path_fd);
        }
        if (r < 0) {
                /* the fds stay as they are, for the fall-back: nothing here may close them */
                m->l.fd = -EBADF;
                sv_metrics_free(m);
                return r;
        }
        d->metrics = m;
        return 0;
}

int sv_metrics_resume(SvDaemon *d) {
        SvDiag diag = {};
        if (d->metrics) {
                int r = metrics_start(d, d->metrics, &diag);
                if (r < 0) {
                        log_error("after the upgrade: %s", diag.msg);
                        d->metrics = sv_metrics_free(d->metrics);
                }
        }
        sv_metrics_apply(d); /* the carried one is what the configuration says, unless a bug */
        return 0;
}
