/* The control socket server. */
#include "sockvisor/control.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sockvisor/listener.h"
#include "sockvisor/log.h"
#include "sockvisor/ratelimit.h"
#include "sockvisor/upgrade.h"

/* Room for many operators and streams; when full, the oldest connection that has not sent a
 * complete request makes way, so a flood of idle connections never locks `status` out. */
#define CONN_MAX 256
/* Accepted per wake-up: a flood of connects cannot keep the loop from everything else. */
#define ACCEPT_BUDGET 64
#define BACKLOG 256
/* sockvisorctl sends its request at once: a connection silent for 5 s is not a client. One
 * that has begun a line gets 10 s in all, room for a slow typist on socat, none for a
 * trickle of a byte every few seconds. Once the request is complete, no limit: events and
 * logs -f stream for as long as the client reads. */
#define IDLE_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define PARTIAL_TIMEOUT_USEC (10 * USEC_PER_SEC)
/* What a flood would log (each refusal, drop and timeout): 10 lines at once, then 1 a second. */
#define LOG_BURST 10
#define LOG_INTERVAL_USEC (10 * USEC_PER_SEC)
#define OUT_MAX (16u << 20) /* a reply larger than this means something is wrong */

struct SvCtlConn {
        SvControl *ctl;
        uint64_t id; /* from 1, never reused */
        int fd;
        sd_event_source *io;
        CtlFramer in;
        char *out;
        size_t out_len, out_cap;
        bool dispatched, finished, broken;
        bool read_eof; /* the client half-closed: it sends nothing more, but may still read */
        bool dropping;
        uint64_t accepted_usec; /* CLOCK_MONOTONIC: the request must be complete in time */
        uid_t uid;
        gid_t gid;
        pid_t pid;
        bool privileged;  /* root or our uid: every verb; anyone else may only fetch */
        gid_t groups[SV_PEER_GROUPS_MAX]; /* SO_PEERGROUPS: its supplementary groups */
        size_t n_groups;
        int send_fds[SV_FETCH_MAX]; /* go with the final line (fetch): copies, closed once sent */
        size_t n_send_fds;
        size_t fds_at;    /* where in out the line they go with begins */
        SvCtlDetach detach;
        void *detach_data;
        SvCtlConn *prev, *next;
};

struct SvControl {
        sd_event *event;
        int fd, lock_fd;
        char *path;
        sd_event_source *accept_src, *resume_src;
        sd_event_source *timeout_src; /* due at the first deadline of a connection without a request */
        SvRateLimit log_limit;
        SvCtlDispatch dispatch;
        SvCtlHangup hangup;
        void *userdata;
        uint64_t last_id;
        SvCtlConn *conns;
        unsigned n_conns;
};

static bool conn_has_deadline(const SvCtlConn *c);
static void control_arm_timeouts(SvControl *ctl);

/* The other half of conn_drop's unlinking: a new (or carried-over) connection joins. */
static void conn_link(SvControl *ctl, SvCtlConn *c) {
        c->next = ctl->conns;
        if (ctl->conns)
                ctl->conns->prev = c;
        ctl->conns = c;
        ctl->n_conns++;
}

/* Ends a connection: unlinked first, so sv_control_find() no longer returns it while the
 * callbacks run; then, if its command had not finished, the detach and hang-up callbacks. */
static void conn_drop(SvCtlConn *c) {
        SvControl *ctl = c->ctl;

        if (c->dropping)
                return;
        bool had_deadline = conn_has_deadline(c);
        c->dropping = true;
        if (c->prev)
                c->prev->next = c->next;
        else
                ctl->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        ctl->n_conns--;
        if (c->dispatched && !c->finished) {
                if (c->detach)
                        c->detach(c, c->detach_data);
                if (ctl->hangup)
                        ctl->hangup(ctl->userdata, c->id);
        }
        sd_event_source_disable_unref(c->io);
        (void) safe_close(c->fd);
        for (size_t k = 0; k < c->n_send_fds; k++)
                (void) safe_close(c->send_fds[k]);
        free(c->out);
        free(c);
        if (had_deadline)
                control_arm_timeouts(ctl);
}

static void conn_append_text(SvCtlConn *c, CtlReplyKind kind, const char *text) {
        char line[CTL_LINE_MAX];

        if (c->broken || c->dropping)
                return;
        int n = ctl_reply_format(line, sizeof(line), kind, text);
        if (n < 0)
                return;
        if (c->out_len + (size_t) n > c->out_cap) {
                size_t cap = c->out_cap ? c->out_cap * 2 : 8192;
                while (cap < c->out_len + (size_t) n)
                        cap *= 2;
                char *o = cap <= OUT_MAX ? realloc(c->out, cap) : NULL;
                if (!o) {
                        c->broken = true; /* the client is not reading: stop queueing for it */
                        return;
                }
                c->out = o;
                c->out_cap = cap;
        }
        memcpy(c->out + c->out_len, line, (size_t) n);
        c->out_len += (size_t) n;
}

static void conn_append(SvCtlConn *c, CtlReplyKind kind, const char *fmt, va_list ap) {
        char text[CTL_LINE_MAX];

        (void) vsnprintf(text, sizeof(text), fmt ? fmt : "", ap);
        conn_append_text(c, kind, text);
}

/* What to wait for: room to write while output is queued; more input until the client
 * half-closes (after that EPOLLIN and EPOLLRDHUP stay ready forever, so they are dropped).
 * EPOLLHUP and EPOLLERR are reported whatever the mask says. */
static void conn_update_events(SvCtlConn *c) {
        (void) sd_event_source_set_io_events(c->io, (c->out_len ? EPOLLOUT : 0) |
                                                            (c->read_eof ? 0 : EPOLLIN | EPOLLRDHUP));
}

/* Writes what it can. Frees the connection (and returns false) only when may_free: a
 * progress line must never free c under a caller that still holds it; a broken client is
 * then noticed by the io handler (EPOLLHUP/EPOLLERR). A write error is the only thing
 * besides EPOLLHUP/EPOLLERR that ends a connection whose command is under way. */
/* The final line of a fetch, with its fds: one sendmsg, so they come with its first byte. */
static ssize_t send_with_fds(SvCtlConn *c) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * SV_FETCH_MAX)];
        } control = {};
        struct iovec iov = { .iov_base = c->out, .iov_len = c->out_len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = CMSG_SPACE(sizeof(int) * c->n_send_fds) };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * c->n_send_fds);
        memcpy(CMSG_DATA(cm), c->send_fds, sizeof(int) * c->n_send_fds);
        ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
                for (size_t k = 0; k < c->n_send_fds; k++)
                        (void) safe_close(c->send_fds[k]);
                c->n_send_fds = 0;
        }
        return n;
}

static bool conn_flush(SvCtlConn *c, bool may_free) {
        while (c->out_len > 0 && !c->broken) {
                bool with_fds = c->n_send_fds && c->fds_at == 0;
                size_t len = c->n_send_fds && !with_fds ? c->fds_at : c->out_len; /* up to the line with the fds */
                ssize_t n = with_fds ? send_with_fds(c) : send(c->fd, c->out, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        c->broken = true;
                        break;
                }
                memmove(c->out, c->out + n, c->out_len - (size_t) n);
                c->out_len -= (size_t) n;
                if (c->n_send_fds)
                        c->fds_at -= (size_t) n;
        }
        if (may_free && (c->broken || (c->finished && c->out_len == 0))) {
                conn_drop(c);
                return false;
        }
        conn_update_events(c);
        return true;
}

void sv_ctl_progress(SvCtlConn *c, const char *fmt, ...) {
        va_list ap;
        if (c->finished)
                return;
        va_start(ap, fmt);
        conn_append(c, CTL_REPLY_PROGRESS, fmt, ap);
        va_end(ap);
        (void) conn_flush(c, false);
}

void sv_ctl_output(SvCtlConn *c, const char *fmt, ...) {
        va_list ap;
        if (c->finished)
                return;
        va_start(ap, fmt);
        conn_append(c, CTL_REPLY_OUTPUT, fmt, ap);
        va_end(ap);
        /* flushed by finish or once the socket is writable: many rows go out in one send,
         * and a stream (events) that never finishes still goes out */
        conn_update_events(c);
}

void sv_ctl_finish(SvCtlConn *c, bool ok, const char *fmt, ...) {
        va_list ap;
        if (c->finished)
                return;
        va_start(ap, fmt);
        conn_append(c, ok ? CTL_REPLY_OK : CTL_REPLY_ERR, fmt, ap);
        va_end(ap);
        c->finished = true;
        if (!c->dropping)
                (void) conn_flush(c, true);
}

void sv_ctl_reply(SvCtlConn *c, CtlReplyKind kind, const char *text) {
        if (c->finished || kind < 0 || kind >= _CTL_REPLY_MAX)
                return;
        conn_append_text(c, kind, text);
        if (ctl_reply_is_final(kind)) {
                c->finished = true;
                if (!c->dropping)
                        (void) conn_flush(c, true);
        } else if (kind == CTL_REPLY_PROGRESS && !c->dropping)
                (void) conn_flush(c, false);
        else if (!c->dropping)
                conn_update_events(c); /* OUTPUT: sent once the socket is writable (see sv_ctl_output) */
}

void sv_ctl_finish_fds(SvCtlConn *c, const int *fds, size_t n, const char *text) {
        if (c->finished)
                return;
        size_t k = 0;
        for (; k < n && k < SV_FETCH_MAX; k++) {
                c->send_fds[k] = fcntl(fds[k], F_DUPFD_CLOEXEC, 3); /* ours: the held one stays held */
                if (c->send_fds[k] < 0)
                        break;
        }
        c->n_send_fds = k;
        if (k < n) {
                for (size_t q = 0; q < k; q++)
                        (void) safe_close(c->send_fds[q]);
                c->n_send_fds = 0;
                sv_ctl_finish(c, false, "cannot copy the sockets to send: %s", strerror(errno));
                return;
        }
        c->fds_at = c->out_len;
        sv_ctl_reply(c, CTL_REPLY_OK, text);
}

void sv_ctl_conn_peer(const SvCtlConn *c, uid_t *ret_uid, gid_t *ret_gid, pid_t *ret_pid, const gid_t **ret_groups,
                      size_t *ret_n_groups) {
        *ret_uid = c->uid;
        *ret_gid = c->gid;
        *ret_pid = c->pid;
        *ret_groups = c->groups;
        *ret_n_groups = c->n_groups;
}

uint64_t sv_ctl_conn_id(const SvCtlConn *c) {
        return c ? c->id : 0;
}

SvCtlConn *sv_control_find(SvControl *ctl, uint64_t id) {
        if (!ctl || id == 0)
                return NULL;
        for (SvCtlConn *c = ctl->conns; c; c = c->next)
                if (c->id == id)
                        return c->finished || c->dropping ? NULL : c;
        return NULL;
}

void sv_control_set_hangup(SvControl *ctl, SvCtlHangup cb) {
        ctl->hangup = cb;
}

void sv_ctl_set_detach(SvCtlConn *c, SvCtlDetach cb, void *userdata) {
        c->detach = cb;
        c->detach_data = userdata;
}

static void conn_handle_line(SvCtlConn *c, const char *line, size_t len) {
        CtlRequest *req = malloc(sizeof(CtlRequest));
        SvDiag d = {};

        if (!req) {
                sv_ctl_finish(c, false, "out of memory");
                return;
        }
        int r = ctl_request_parse(line, len, req, &d);
        if (r == -EPROTONOSUPPORT)
                sv_ctl_finish(c, false, "protocol version %u is not supported; this sockvisord speaks SOCKVISOR/%d "
                              "(use the sockvisorctl of the same release)", req->version, CTL_PROTO_VERSION);
        else if (r < 0)
                sv_ctl_finish(c, false, "bad request: %s", d.msg);
        else if (!c->privileged && strcmp(req->verb, "fetch") != 0 && strcmp(req->verb, "version") != 0) {
                log_warning("control: refused '%s' from uid %u (pid %d): only root and uid %u may control this daemon",
                            req->verb, (unsigned) c->uid, (int) c->pid, (unsigned) geteuid());
                sv_ctl_finish(c, false, "permission denied: uid %u may not control this sockvisord (it may only "
                              "fetch the sockets fetch_users= or fetch_groups= allow it: sockvisorctl exec)",
                              (unsigned) c->uid);
        } else {
                c->dispatched = true;
                control_arm_timeouts(c->ctl); /* its deadline is gone: an idle daemon has no timer due */
                log_debug("control: uid %u pid %d: %s%s%s", (unsigned) c->uid, (int) c->pid, req->verb,
                          req->n_args ? " " : "", req->n_args ? req->args[0] : "");
                c->ctl->dispatch(c->ctl->userdata, c, req); /* may finish, and free, c */
        }
        free(req);
}

/* The client half-closed (read EOF) before a complete request arrived. */
static void conn_incomplete(SvCtlConn *c) {
        size_t got = ctl_framer_pending(&c->in);
        if (got == 0)
                sv_ctl_finish(c, false, "incomplete request: the client shut down its sending side without sending "
                              "one; send 'SOCKVISOR/%d VERB [ARGS]' and a newline first", CTL_PROTO_VERSION);
        else
                sv_ctl_finish(c, false, "incomplete request: the client shut down its sending side after %zu bytes "
                              "with no newline; end the request with '\\n'", got);
}

static int conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        SvCtlConn *c = userdata;

        if (revents & EPOLLOUT && !conn_flush(c, true))
                return 0;
        if (c->dispatched || c->read_eof) {
                /* One request per connection: anything after it is read and ignored. EOF only
                 * says the client sends nothing more (shutdown(SHUT_WR)); it may still read, so
                 * the replies go on until the final line. Only EPOLLHUP (both directions shut:
                 * the client closed) or EPOLLERR mean nobody reads the rest. */
                if (revents & (EPOLLHUP | EPOLLERR)) {
                        conn_drop(c);
                        return 0;
                }
                if (!(revents & (EPOLLIN | EPOLLRDHUP)) || c->read_eof)
                        return 0;
                char sink[256];
                ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
                if (n == 0) {
                        c->read_eof = true;
                        conn_update_events(c);
                } else if (n < 0 && errno != EAGAIN && errno != EINTR)
                        conn_drop(c); /* ECONNRESET and the like: the socket is broken */
                return 0;
        }
        if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)))
                return 0;

        size_t avail;
        char *space = ctl_framer_space(&c->in, &avail);
        ssize_t n = avail ? recv(fd, space, avail, MSG_DONTWAIT) : 0;
        if (n < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        conn_drop(c);
                return 0;
        }
        if (n == 0 && avail) {
                /* EOF before a complete request. Gone altogether: nobody to tell. Half-closed:
                 * it may still read, so say what was wrong. */
                c->read_eof = true;
                if (revents & (EPOLLHUP | EPOLLERR))
                        conn_drop(c);
                else
                        conn_incomplete(c); /* finishes, and frees, c */
                return 0;
        }
        ctl_framer_commit(&c->in, (size_t) n);
        char *line;
        size_t len;
        int r = ctl_framer_next(&c->in, &line, &len);
        if (r == -EMSGSIZE)
                sv_ctl_finish(c, false, "request longer than %d bytes", CTL_LINE_MAX);
        else if (r > 0)
                conn_handle_line(c, line, len);
        return 0;
}

static uint64_t control_now(SvControl *ctl) {
        uint64_t now = 0;
        (void) sd_event_now(ctl->event, CLOCK_MONOTONIC, &now);
        return now;
}

/* One warning about a refused, dropped or timed-out connection, unless a flood has used up
 * the allowance: then it is counted, and the next line allowed says how many were held back. */
static void _printf_(2, 3) control_warn(SvControl *ctl, const char *fmt, ...) {
        uint64_t suppressed = 0;
        char text[256];
        va_list ap;

        if (!sv_ratelimit_allow(&ctl->log_limit, control_now(ctl), &suppressed))
                return;
        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (suppressed)
                log_warning("control: %s (suppressed %" PRIu64 " messages like it)", text, suppressed);
        else
                log_warning("control: %s", text);
}

/* Until its request is complete, a connection has a deadline; after, none (streams). */
static bool conn_has_deadline(const SvCtlConn *c) {
        return !c->dispatched && !c->dropping;
}

static uint64_t conn_deadline(const SvCtlConn *c) {
        return c->accepted_usec + (ctl_framer_pending(&c->in) ? PARTIAL_TIMEOUT_USEC : IDLE_TIMEOUT_USEC);
}

static int control_timeouts(sd_event_source *s, uint64_t usec, void *userdata);

/* Made with the control, off: it exists in every image from the start, so the fds an upgrade
 * carries do not depend on whether a request was waiting (sd-event's timerfd comes with it). */
static int control_add_timeouts(SvControl *ctl) {
        int r = sd_event_add_time(ctl->event, &ctl->timeout_src, CLOCK_MONOTONIC, 0, 100 * USEC_PER_MSEC,
                                  control_timeouts, ctl);
        return r < 0 ? r : sd_event_source_set_enabled(ctl->timeout_src, SD_EVENT_OFF);
}

/* Arms the timeout source for the first deadline, or turns it off when nothing waits. */
static void control_arm_timeouts(SvControl *ctl) {
        uint64_t first = UINT64_MAX;
        for (SvCtlConn *c = ctl->conns; c; c = c->next)
                if (conn_has_deadline(c) && conn_deadline(c) < first)
                        first = conn_deadline(c);
        if (first == UINT64_MAX) {
                (void) sd_event_source_set_enabled(ctl->timeout_src, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(ctl->timeout_src, first);
        (void) sd_event_source_set_enabled(ctl->timeout_src, SD_EVENT_ONESHOT);
}

static int control_timeouts(sd_event_source *s, uint64_t usec, void *userdata) {
        SvControl *ctl = userdata;
        uint64_t now = control_now(ctl);
        unsigned idle = 0, partial = 0;
        for (SvCtlConn *c = ctl->conns, *next; c; c = next) {
                next = c->next;
                if (!conn_has_deadline(c) || conn_deadline(c) > now)
                        continue;
                if (ctl_framer_pending(&c->in))
                        partial++;
                else
                        idle++;
                conn_drop(c); /* nothing dispatched: no callbacks run, next stays valid */
        }
        if (idle)
                control_warn(ctl, "closed %u connection(s) that sent nothing within %llus", idle,
                             (unsigned long long) (IDLE_TIMEOUT_USEC / USEC_PER_SEC));
        if (partial)
                control_warn(ctl, "closed %u connection(s) with no complete request within %llus", partial,
                             (unsigned long long) (PARTIAL_TIMEOUT_USEC / USEC_PER_SEC));
        control_arm_timeouts(ctl);
        return 0;
}

/* Full: the oldest connection still without a request (the list is newest first) makes way.
 * Returns false when every connection has a request under way: then the new one is refused. */
static bool control_make_room(SvControl *ctl) {
        SvCtlConn *oldest = NULL;
        for (SvCtlConn *c = ctl->conns; c; c = c->next)
                if (conn_has_deadline(c))
                        oldest = c;
        if (!oldest)
                return false;
        control_warn(ctl, "%u connections (the most): closed the oldest without a request (pid %d, uid %u) to let "
                     "a new one in", ctl->n_conns, (int) oldest->pid, (unsigned) oldest->uid);
        conn_drop(oldest);
        return true;
}

static int resume_accept(sd_event_source *s, uint64_t usec, void *userdata) {
        SvControl *ctl = userdata;
        (void) sd_event_source_set_enabled(ctl->accept_src, SD_EVENT_ON);
        return 0;
}

static void refuse(int fd, const char *why) {
        char line[512];
        int n = ctl_reply_format(line, sizeof(line), CTL_REPLY_ERR, why);
        if (n > 0)
                (void) !send(fd, line, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void) safe_close(fd);
}

/* Takes one connection in. Returns false when there is nothing (more) to accept now. */
static bool control_accept_one(SvControl *ctl, int fd) {
        struct ucred cred;
        socklen_t clen = sizeof(cred);

        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
                int e = errno; /* before the warning can change it */
                if (e == EMFILE || e == ENFILE) {
                        /* out of fds: pause accepting for a second rather than spin on a ready socket */
                        control_warn(ctl, "out of file descriptors, pausing accept for 1s");
                        (void) sd_event_source_set_enabled(ctl->accept_src, SD_EVENT_OFF);
                        ctl->resume_src = sd_event_source_disable_unref(ctl->resume_src);
                        (void) sd_event_add_time_relative(ctl->event, &ctl->resume_src, CLOCK_MONOTONIC,
                                                          USEC_PER_SEC, 0, resume_accept, ctl);
                }
                return e == EINTR || e == ECONNABORTED; /* worth another try now; EAGAIN and the rest are not */
        }
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
                refuse(cfd, "cannot read the peer's credentials");
                return true;
        }
        /* Anyone the socket file lets in may connect; only root and our uid may control us.
         * The others may fetch the sockets their fetch_users= / fetch_groups= allow. */
        gid_t groups[SV_PEER_GROUPS_MAX];
        socklen_t glen = sizeof(groups);
        size_t n_groups = getsockopt(cfd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0 ? glen / sizeof(gid_t) : 0;
        if (ctl->n_conns >= CONN_MAX && !control_make_room(ctl)) {
                control_warn(ctl, "%u commands under way (the most): refused a connection from pid %d (uid %u)",
                             ctl->n_conns, (int) cred.pid, (unsigned) cred.uid);
                refuse(cfd, "too many control connections with commands under way; try again");
                return true;
        }

        SvCtlConn *c = calloc(1, sizeof(SvCtlConn));
        if (!c) {
                refuse(cfd, "out of memory");
                return true;
        }
        c->ctl = ctl;
        c->id = ++ctl->last_id;
        c->fd = cfd;
        c->uid = cred.uid;
        c->gid = cred.gid;
        c->pid = cred.pid;
        c->accepted_usec = control_now(ctl);
        c->privileged = cred.uid == 0 || cred.uid == geteuid();
        memcpy(c->groups, groups, n_groups * sizeof(gid_t));
        c->n_groups = n_groups;
        ctl_framer_init(&c->in);
        if (sd_event_add_io(ctl->event, &c->io, cfd, EPOLLIN | EPOLLRDHUP, conn_io, c) < 0) {
                free(c);
                refuse(cfd, "cannot watch the connection");
                return true;
        }
        conn_link(ctl, c);
        return true;
}

static int control_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        SvControl *ctl = userdata;
        for (int budget = ACCEPT_BUDGET; budget > 0; budget--) /* the rest wait for the next wake-up */
                if (!control_accept_one(ctl, fd))
                        break;
        control_arm_timeouts(ctl);
        return 0;
}

/* mkdir -p for the socket's directory: /run/sockvisor may not exist yet. */
static int make_parent_dirs(const char *path) {
        char buf[sizeof(((struct sockaddr_un *) NULL)->sun_path)];
        (void) snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        return 0;
}

int sv_control_new(sd_event *e, const char *path, mode_t mode, SvCtlDispatch dispatch, void *userdata,
                   SvControl **ret, SvDiag *d) {
        SvControl *ctl = calloc(1, sizeof(SvControl));
        int r;

        if (!ctl)
                return -ENOMEM;
        ctl->fd = ctl->lock_fd = -EBADF;
        ctl->event = e;
        sv_ratelimit_init(&ctl->log_limit, LOG_BURST, LOG_INTERVAL_USEC);
        ctl->dispatch = dispatch;
        ctl->userdata = userdata;
        ctl->path = strdup(path);
        if (!ctl->path) {
                free(ctl);
                return -ENOMEM;
        }
        r = make_parent_dirs(path);
        if (r < 0) {
                diag_set(d, 0, "control socket %s: cannot create its directory: %s", path, strerror(-r));
                goto fail;
        }
        r = sv_unix_listener_open(path, mode, SOCK_STREAM, BACKLOG, true, &ctl->fd, &ctl->lock_fd, d);
        if (r < 0) {
                diag_prefix(d, "control socket");
                goto fail;
        }
        r = sd_event_add_io(e, &ctl->accept_src, ctl->fd, EPOLLIN, control_accept, ctl);
        if (r >= 0)
                r = control_add_timeouts(ctl);
        if (r < 0) {
                diag_set(d, 0, "control socket %s: cannot watch it: %s", path, strerror(-r));
                goto fail;
        }
        *ret = ctl;
        return 0;
fail:
        sv_control_free(ctl);
        return r;
}

SvControl *sv_control_free(SvControl *ctl) {
        if (!ctl)
                return NULL;
        while (ctl->conns)
                conn_drop(ctl->conns);
        sd_event_source_disable_unref(ctl->accept_src);
        sd_event_source_disable_unref(ctl->resume_src);
        sd_event_source_disable_unref(ctl->timeout_src);
        if (ctl->fd >= 0)
                (void) unlink(ctl->path); /* ours: we hold its lock */
        (void) safe_close(ctl->fd);
        (void) safe_close(ctl->lock_fd);
        free(ctl->path);
        free(ctl);
        return NULL;
}

/* ---- upgrade ---- */

int sv_control_save(SvControl *ctl, SvStateOut *o, SvCarry *carry) {
        int r = 0;
        for (SvCtlConn *c = ctl->conns, *next; c; c = next) { /* what can go now need not be carried */
                next = c->next;
                if (c->out_len)
                        (void) conn_flush(c, true);
        }
        sv_state_record(o, "control");
        sv_state_str(o, "path", ctl->path);
        sv_state_i64(o, "fd", ctl->fd);
        sv_state_i64(o, "lock_fd", ctl->lock_fd);
        sv_state_u64(o, "last_id", ctl->last_id);
        r = r ?: sv_carry_add(carry, ctl->fd);
        r = r ?: sv_carry_add(carry, ctl->lock_fd);
        for (SvCtlConn *c = ctl->conns; c; c = c->next) {
                if (c->broken || c->dropping || c->n_send_fds)
                        continue; /* nobody reads it, or fds wait to go with it: it ends with this image */
                size_t pending = ctl_framer_pending(&c->in);
                _cleanup_free_ char *in = strndup(c->in.buf + c->in.start, pending);
                _cleanup_free_ char *out = strndup(c->out ? c->out : "", c->out_len);
                if (!in || !out || strlen(in) != pending || strlen(out) != c->out_len)
                        continue; /* a NUL byte in a request: it would have been refused anyway */
                sv_state_record(o, "conn");
                sv_state_u64(o, "id", c->id);
                sv_state_i64(o, "fd", c->fd);
                sv_state_u64(o, "uid", c->uid);
                sv_state_u64(o, "gid", c->gid);
                sv_state_i64(o, "pid", c->pid);
                sv_state_bool(o, "privileged", c->privileged);
                uint64_t groups[SV_PEER_GROUPS_MAX];
                for (size_t k = 0; k < c->n_groups; k++)
                        groups[k] = c->groups[k];
                sv_state_ids(o, "groups", groups, c->n_groups);
                sv_state_bool(o, "dispatched", c->dispatched);
                sv_state_bool(o, "finished", c->finished);
                sv_state_bool(o, "read_eof", c->read_eof);
                sv_state_str(o, "in", in);
                sv_state_str(o, "out", out);
                r = r ?: sv_carry_add(carry, c->fd);
        }
        return r;
}

static int conn_restore(SvControl *ctl, SvStateIn *in, const SvStateRec *rec, SvCarry *carry) {
        SvCtlConn *c = calloc(1, sizeof(SvCtlConn));
        if (!c)
                return -ENOMEM;
        c->ctl = ctl;
        c->id = sv_rec_u64(in, rec, "id");
        c->fd = (int) sv_rec_i64(in, rec, "fd");
        c->uid = (uid_t) sv_rec_u64(in, rec, "uid");
        c->gid = (gid_t) sv_rec_u64(in, rec, "gid");
        c->pid = (pid_t) sv_rec_i64(in, rec, "pid");
        c->privileged = sv_rec_bool(in, rec, "privileged");
        uint64_t groups[SV_PEER_GROUPS_MAX];
        c->n_groups = sv_rec_ids(in, rec, "groups", groups, SV_PEER_GROUPS_MAX);
        for (size_t k = 0; k < c->n_groups; k++)
                c->groups[k] = (gid_t) groups[k];
        c->dispatched = sv_rec_bool(in, rec, "dispatched");
        c->finished = sv_rec_bool(in, rec, "finished");
        c->read_eof = sv_rec_bool(in, rec, "read_eof");
        c->accepted_usec = control_now(ctl); /* the new image gives it a full allowance again */
        const char *pending = sv_rec_str(in, rec, "in"), *out = sv_rec_str(in, rec, "out");
        ctl_framer_init(&c->in);
        size_t avail, n = strlen(pending), no = strlen(out);
        char *space = ctl_framer_space(&c->in, &avail);
        if (!in->err && (c->id == 0 || c->id > ctl->last_id || fcntl(c->fd, F_GETFD) < 0 || n > avail))
                sv_rec_fail(in, rec, "control connection %" PRIu64 " (fd %d) did not come through", c->id, c->fd);
        if (!in->err && no && !(c->out = malloc(no))) {
                free(c);
                return in->err = -ENOMEM;
        }
        if (in->err) {
                free(c);
                return in->err;
        }
        memcpy(space, pending, n);
        ctl_framer_commit(&c->in, n);
        if (no)
                memcpy(c->out, out, no);
        c->out_len = c->out_cap = no;
        if (sd_event_add_io(ctl->event, &c->io, c->fd, EPOLLIN | EPOLLRDHUP, conn_io, c) < 0) {
                sv_rec_fail(in, rec, "cannot watch control connection %" PRIu64, c->id);
                free(c->out);
                free(c);
                return in->err;
        }
        conn_update_events(c);
        conn_link(ctl, c);
        return sv_carry_add(carry, c->fd);
}

int sv_control_restore(sd_event *e, SvStateIn *in, const SvStateRec *rec, SvCtlDispatch dispatch, void *userdata,
                       SvControl **ret, SvCarry *carry, SvStateRec *next) {
        SvControl *ctl = calloc(1, sizeof(SvControl));
        int r;
        if (!ctl)
                return -ENOMEM;
        ctl->event = e;
        sv_ratelimit_init(&ctl->log_limit, LOG_BURST, LOG_INTERVAL_USEC);
        ctl->dispatch = dispatch;
        ctl->userdata = userdata;
        ctl->path = strdup(sv_rec_str(in, rec, "path"));
        ctl->fd = (int) sv_rec_i64(in, rec, "fd");
        ctl->lock_fd = (int) sv_rec_i64(in, rec, "lock_fd");
        ctl->last_id = sv_rec_u64(in, rec, "last_id");
        if (!ctl->path) {
                free(ctl);
                return -ENOMEM;
        }
        if (!in->err && (fcntl(ctl->fd, F_GETFD) < 0 || (ctl->lock_fd >= 0 && fcntl(ctl->lock_fd, F_GETFD) < 0)))
                sv_rec_fail(in, rec, "the control socket (fd %d) did not come through", ctl->fd);
        r = in->err;
        if (r >= 0)
                r = sd_event_add_io(e, &ctl->accept_src, ctl->fd, EPOLLIN, control_accept, ctl);
        if (r >= 0)
                r = control_add_timeouts(ctl);
        if (r >= 0)
                r = sv_carry_add(carry, ctl->fd);
        if (r >= 0)
                r = sv_carry_add(carry, ctl->lock_fd);
        while (r >= 0 && (r = sv_state_next(in, next)) > 0 && strcmp(next->kind, "conn") == 0)
                r = conn_restore(ctl, in, next, carry);
        if (r == 0)
                r = sv_rec_fail(in, NULL, "ends after the control connections");
        if (r < 0) {
                /* leave every fd open: they go back to the previous binary */
                while (ctl->conns) {
                        SvCtlConn *c = ctl->conns;
                        ctl->conns = c->next;
                        sd_event_source_disable_unref(c->io);
                        free(c->out);
                        free(c);
                }
                sd_event_source_disable_unref(ctl->accept_src);
                sd_event_source_disable_unref(ctl->timeout_src);
                free(ctl->path);
                free(ctl);
                return r;
        }
        control_arm_timeouts(ctl);
        *ret = ctl;
        return 0;
}

size_t sv_control_pending(SvControl *ctl, uint64_t *ids, size_t max) {
        size_t n = 0;
        for (SvCtlConn *c = ctl->conns; c && n < max; c = c->next)
                if (c->dispatched && !c->finished && !c->dropping)
                        ids[n++] = c->id;
        return n;
}
