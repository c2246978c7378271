/* sockvisorctl's side of one control exchange: connect to the daemon's socket, send the
 * one request line, print the reply lines as they come, and turn how it ended (OK, ERR, a
 * timeout, a connection that closed early) into an exit code with a one-line reason. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "sockvisor/ctlproto.h"
#include "sockvisor/json.h"

/* Connects to the control socket. On failure prints one line naming the path and what
 * to do, and returns the exit code; on success returns 0 and sets *ret_fd. */
static int control_connect(const char *path, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(path);
        int r;

        if (n >= sizeof(sa.sun_path)) {
                fprintf(stderr, PROG ": control socket path is %zu bytes long, a unix socket path holds at most %zu "
                        "(use a shorter control= path): %s\n", n, sizeof(sa.sun_path) - 1, path);
                return CTL_EXIT_UNAVAILABLE;
        }
        memcpy(sa.sun_path, path, n + 1);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                fprintf(stderr, PROG ": cannot create a unix socket: %s\n", strerror(errno));
                return CTL_EXIT_UNAVAILABLE;
        }

        r = connect(fd, (const struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1));
        if (r < 0 && errno == EINTR) {
                /* The connection goes on in the background: wait for it, then ask how it went. */
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                int err = 0;
                socklen_t errlen = sizeof(err);

                while ((r = poll(&p, 1, -1)) < 0 && errno == EINTR)
                        ;
                if (r >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) >= 0) {
                        errno = err;
                        r = err == 0 ? 0 : -1;
                } else
                        r = -1;
        }
        if (r < 0) {
                switch (errno) {
                case ENOENT:
                        fprintf(stderr, PROG ": no sockvisord control socket at %s (is sockvisord running? give its control= path with -s)\n", path);
                        break;
                case ECONNREFUSED:
                        fprintf(stderr, PROG ": nothing is listening on %s (stale socket file; is sockvisord running?)\n", path);
                        break;
                case EACCES:
                case EPERM:
                        fprintf(stderr, PROG ": permission denied on %s (the control socket is 0600: run as its owner or root)\n", path);
                        return CTL_EXIT_NOPERM;
                default:
                        fprintf(stderr, PROG ": cannot connect to %s: %s\n", path, strerror(errno));
                        break;
                }
                return CTL_EXIT_UNAVAILABLE;
        }

        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int send_all(int fd, const char *buf, size_t len) {
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL); /* EPIPE, never SIGPIPE */
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Prints reply text as a line; control bytes become '?' should a daemon send any, so the
 * terminal never interprets them. Returns 0 or -errno. */
static int print_text(FILE *f, const char *text, size_t len, bool flush) {
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) text[i];

                if (putc(c < 0x20 || c == 0x7f ? '?' : c, f) == EOF)
                        return -errno;
        }
        if (putc('\n', f) == EOF || (flush && fflush(f) == EOF))
                return -errno;
        return 0;
}

/* One reply being read. */
typedef struct Reply {
        const char *path;
        const char *verb;
        bool got_line; /* a progress or output line came before the end */
        bool quiet;    /* print only ERR (exec: stdout is the program's) */
        bool machine;  /* stdout is for a program (--json, events): progress goes to stderr, and
                        * each output line is flushed as it comes */
        bool array;    /* --json rows (status, sockets, pid): printed as one JSON array */
        bool json_lines;/* --json of any other verb: every reply line becomes a JSON line */
        size_t rows;   /* array: rows printed so far */
        int out_r;     /* first stdout error: keep reading, the command runs on regardless */
        int *fds;      /* fds that came with the reply (fetch), or NULL: closed */
        size_t n_fds, max_fds;
        char **lines;  /* ctl_client_lines: the output lines, kept rather than printed */
        size_t n_lines, cap_lines;
        bool collect;
} Reply;

#define REPLY_MORE (-1) /* reply_line: not the final line */

/* --json of a verb that reports in words: {"type":"progress","message":"..."} per line, and
 * {"type":"ok"|"error","message":"..."} at the end, valid UTF-8 whatever the text holds. */
static int json_line(Reply *rp, CtlReplyKind kind, const char *text, size_t len) {
        static const char *const types[] = { [CTL_REPLY_PROGRESS] = "progress", [CTL_REPLY_OUTPUT] = "output",
                                             [CTL_REPLY_OK] = "ok", [CTL_REPLY_ERR] = "error" };
        char msg[CTL_LINE_MAX], line[2 * CTL_LINE_MAX];
        (void) snprintf(msg, sizeof(msg), "%.*s", (int) len, text);
        json_t *o = json_object();
        if (o && sv_json_set_string(o, "type", types[kind]) == 0 && sv_json_set_string(o, "message", msg) == 0 &&
            sv_json_line(o, line, sizeof(line)) > 0) {
                if (rp->out_r == 0 && (puts(line) == EOF || fflush(stdout) == EOF))
                        rp->out_r = -errno;
        } else if (o)
                json_decref(o);
        rp->got_line = true;
        if (!ctl_reply_is_final(kind))
                return REPLY_MORE;
        if (rp->out_r < 0 && rp->out_r != -EPIPE) {
                fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(-rp->out_r));
                return CTL_EXIT_FAILED;
        }
        return kind == CTL_REPLY_OK ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

/* Shows one reply line. Returns REPLY_MORE, or the exit code after the final line. */
static int reply_line(Reply *rp, const char *line, size_t len) {
        CtlReplyKind kind;
        const char *text;
        size_t text_len;

        if (ctl_reply_parse(line, len, &kind, &text, &text_len) < 0) {
                char shown[84];
                size_t k = len > 80 ? 80 : len;

                for (size_t i = 0; i < k; i++)
                        shown[i] = ((unsigned char) line[i] < 0x20 || line[i] == 0x7f) ? '?' : line[i];
                strcpy(shown + k, len > k ? "..." : "");
                (void) fflush(stdout);
                fprintf(stderr, PROG ": malformed reply from %s: '%s' (is it the control socket of a sockvisord of "
                        "the same release?)\n", rp->path, shown);
                return CTL_EXIT_FAILED;
        }

        if (rp->json_lines)
                return json_line(rp, kind, text, text_len);
        if (rp->array && kind == CTL_REPLY_OUTPUT) {
                rp->got_line = true;
                if (rp->out_r == 0)
                        rp->out_r = fputs(rp->rows++ ? ",\n" : "[\n", stdout) == EOF ? -errno : 0;
                if (rp->out_r == 0 && fwrite(text, 1, text_len, stdout) != text_len)
                        rp->out_r = -errno;
                return REPLY_MORE;
        }
        if (rp->array && ctl_reply_is_final(kind) && rp->out_r == 0) /* the array ends, whatever came */
                rp->out_r = fputs(rp->rows ? "\n]\n" : "[]\n", stdout) == EOF ? -errno : 0;
        if (rp->array && kind == CTL_REPLY_OK)
                text_len = 0; /* said in the array */
        switch (kind) {
        case CTL_REPLY_PROGRESS:
        case CTL_REPLY_OUTPUT:
                rp->got_line = true;
                if (rp->machine && kind == CTL_REPLY_PROGRESS) {
                        (void) print_text(stderr, text, text_len, true);
                        return REPLY_MORE;
                }
                if (rp->collect && kind == CTL_REPLY_OUTPUT) {
                        if (rp->n_lines == rp->cap_lines) {
                                size_t cap = rp->cap_lines ? 2 * rp->cap_lines : 16;
                                char **v = realloc(rp->lines, cap * sizeof(char *));
                                if (!v)
                                        return CTL_EXIT_FAILED;
                                rp->lines = v;
                                rp->cap_lines = cap;
                        }
                        rp->lines[rp->n_lines] = strndup(text, text_len);
                        if (!rp->lines[rp->n_lines])
                                return CTL_EXIT_FAILED;
                        rp->n_lines++;
                        return REPLY_MORE;
                }
                if (rp->out_r == 0 && !rp->quiet)
                        rp->out_r = print_text(stdout, text, text_len, kind == CTL_REPLY_PROGRESS || rp->machine);
                return REPLY_MORE;
        case CTL_REPLY_OK:
                if (rp->machine && text_len > 0) /* "sockvisord stopped": words, not a row */
                        (void) print_text(stderr, text, text_len, true);
                else if (rp->out_r == 0 && text_len > 0 && !rp->quiet)
                        rp->out_r = print_text(stdout, text, text_len, false);
                if (rp->out_r == 0 && fflush(stdout) == EOF)
                        rp->out_r = -errno;
                /* A reader that went away (| head) is not a failure of the command. */
                if (rp->out_r < 0 && rp->out_r != -EPIPE) {
                        fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(-rp->out_r));
                        return CTL_EXIT_FAILED;
                }
                return CTL_EXIT_OK;
        case CTL_REPLY_ERR:
                (void) fflush(stdout);
                if (text_len == 0)
                        fprintf(stderr, PROG ": the command failed (the daemon gave no reason)\n");
                else {
                        fputs(PROG ": ", stderr);
                        (void) print_text(stderr, text, text_len, false);
                }
                return CTL_EXIT_FAILED;
        default:
                abort(); /* ctl_reply_parse returns only the kinds above */
        }
}

/* The connection ended (EOF, or err from read) before the final line: the daemon exited,
 * crashed or was killed mid-command. One line that says so, and exit 1. */
static int reply_cut(const Reply *rp, int err, bool partial) {
        char how[64] = "";

        if (err != 0)
                (void) snprintf(how, sizeof(how), " (%s)", strerror(err));
        else if (partial)
                (void) snprintf(how, sizeof(how), " in the middle of a line");
        (void) fflush(stdout);
        if (rp->got_line)
                fprintf(stderr, PROG ": sockvisord on %s closed the connection%s before '%s' finished, so its outcome "
                        "is unknown (did sockvisord exit or crash? see its log, then '" PROG " status')\n",
                        rp->path, how, rp->verb);
        else
                fprintf(stderr, PROG ": sockvisord on %s closed the connection%s before answering '%s' (did "
                        "sockvisord exit or crash? see its log)\n", rp->path, how, rp->verb);
        return CTL_EXIT_FAILED;
}

/* Waits until fd has something to read, for at most timeout_ms (-1: no bound). Returns 0,
 * or the exit code when the wait failed or timed out. */
static int reply_wait(const Reply *rp, int fd, int timeout_ms) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int r;

        if (timeout_ms < 0)
                return 0; /* read() blocks: the daemon bounds the command and reports progress */
        while ((r = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
                ;
        if (r < 0) {
                fprintf(stderr, PROG ": cannot wait for the reply from %s: %s\n", rp->path, strerror(errno));
                return CTL_EXIT_FAILED;
        }
        if (r == 0) {
                (void) fflush(stdout);
                fprintf(stderr, PROG ": no answer from sockvisord on %s within %ds (is it stuck? see its log)\n",
                        rp->path, timeout_ms / 1000);
                return CTL_EXIT_UNAVAILABLE;
        }
        return 0;
}

/* read(), but fds sent with the data (SCM_RIGHTS: fetch) are kept in rp, or closed. */
static ssize_t recv_with_fds(Reply *rp, int fd, char *p, size_t avail) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * SV_FETCH_MAX)];
        } control;
        struct iovec iov = { .iov_base = p, .iov_len = avail };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof(control) };
        ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0)
                return n;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t i = 0; i < k; i++) {
                                int got;
                                memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                                if (rp->fds && rp->n_fds < rp->max_fds)
                                        rp->fds[rp->n_fds++] = got;
                                else
                                        (void) close(got);
                        }
                }
        return n;
}

/* Reads reply lines until the final one and returns the exit code. */
static int read_reply_into(Reply *rp, int fd, int timeout_ms) {
        static CtlFramer framer; /* 8 KiB: keep it off the stack */
        const char *path = rp->path;

        ctl_framer_init(&framer);
        for (;;) {
                char *line, *p;
                size_t len, avail;
                ssize_t n;
                int r;

                while ((r = ctl_framer_next(&framer, &line, &len)) == 1) {
                        r = reply_line(rp, line, len);
                        if (r != REPLY_MORE)
                                return r;
                }
                if (r == -EMSGSIZE) {
                        (void) fflush(stdout);
                        fprintf(stderr, PROG ": malformed reply from %s: a line longer than %d bytes\n", path,
                                CTL_LINE_MAX);
                        return CTL_EXIT_FAILED;
                }

                r = reply_wait(rp, fd, timeout_ms);
                if (r != 0)
                        return r;
                p = ctl_framer_space(&framer, &avail);
                n = recv_with_fds(rp, fd, p, avail);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno != ECONNRESET) {
                        (void) fflush(stdout);
                        fprintf(stderr, PROG ": cannot read the reply from %s: %s\n", path, strerror(errno));
                        return CTL_EXIT_FAILED;
                }
                if (n <= 0) /* ECONNRESET: it closed without reading our request, or crashed */
                        return reply_cut(rp, n < 0 ? errno : 0, ctl_framer_pending(&framer) > 0);
                ctl_framer_commit(&framer, (size_t) n);
        }
}

static int read_reply(int fd, const char *path, const char *verb, int timeout_ms, bool machine) {
        Reply rp = { .path = path, .verb = verb, .machine = machine };
        return read_reply_into(&rp, fd, timeout_ms);
}

/* Verbs whose --json the daemon writes (rows, or events' lines); the others' is written
 * here, from the words. */
static bool daemon_json(SvVerb v) {
        return v == SV_VERB_STATUS || v == SV_VERB_SOCKETS || v == SV_VERB_PID || v == SV_VERB_EVENTS;
}

/* For the commands sockvisorctl runs itself (exec's fetch, tail's logfiles): the request
 * sent, the connection in *ret_fd; an exit code when it could not be (said on stderr).
 * A refusal the daemon sends before it reads is left for the reply to show. */
static int send_request(const char *path, const char *verb, const char *who, char *const *args, size_t n_args,
                        int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        char req[CTL_LINE_MAX];
        SvDiag d = { 0 };
        int r = ctl_request_format(req, sizeof(req), verb, args, n_args, &d);
        if (r < 0)
                return ctl_usage_error("%s: %s", who, d.msg);
        size_t req_len = (size_t) r;
        r = control_connect(path, &fd);
        if (r != 0)
                return r;
        r = send_all(fd, req, req_len);
        if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
                fprintf(stderr, PROG ": cannot send the request to %s: %s\n", path, strerror(-r));
                return CTL_EXIT_FAILED;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int ctl_client_fetch(const char *path, char **names, size_t n, int *ret_fds, size_t *ret_n) {
        _cleanup_close_ int fd = -EBADF;
        *ret_n = 0;
        int r = send_request(path, "fetch", "exec", names, n, &fd);
        if (r != 0)
                return r;
        Reply rp = { .path = path, .verb = "fetch", .quiet = true, .fds = ret_fds, .max_fds = n };
        r = read_reply_into(&rp, fd, CTL_QUICK_TIMEOUT_MS);
        *ret_n = rp.n_fds;
        return r;
}

int ctl_client_lines(const char *path, const char *verb, char *const *args, size_t n_args, int timeout_ms,
                     char ***ret_lines, size_t *ret_n) {
        _cleanup_close_ int fd = -EBADF;
        int r = send_request(path, verb, verb, args, n_args, &fd);
        if (r != 0)
                return r;
        Reply rp = { .path = path, .verb = verb, .collect = true };
        r = read_reply_into(&rp, fd, timeout_ms);
        if (r != CTL_EXIT_OK) {
                for (size_t k = 0; k < rp.n_lines; k++)
                        free(rp.lines[k]);
                free(rp.lines);
                return r;
        }
        *ret_lines = rp.lines;
        *ret_n = rp.n_lines;
        return 0;
}

int ctl_client_run(const char *path, SvVerb verb, char *const *args, size_t n_args, bool json) {
        const SvVerbInfo *info = sv_verb_info(verb);
        _cleanup_close_ int fd = -EBADF;
        char req[CTL_LINE_MAX], *sent[CTL_ARGS_MAX + 2];
        bool events = verb == SV_VERB_EVENTS;
        SvDiag d = { 0 };
        int r;

        if (json && daemon_json(verb)) { /* the daemon writes the rows: tell it */
                if (n_args > CTL_ARGS_MAX - 1)
                        return ctl_usage_error("%s: too many arguments", info->name);
                sent[0] = "--json";
                memcpy(sent + 1, args, n_args * sizeof(char *));
                args = sent;
                n_args++;
        }
        /* Validate before connecting, so a bad name is a usage error even with no daemon. */
        r = ctl_request_format(req, sizeof(req), info->name, args, n_args, &d);
        if (r < 0)
                return ctl_usage_error("%s: %s", info->name, d.msg);
        size_t req_len = (size_t) r;

        r = control_connect(path, &fd);
        if (r != 0)
                return r;

        r = send_all(fd, req, req_len);
        if (r == -EPIPE || r == -ECONNRESET) {
                /* The daemon may refuse a client (wrong uid, too many connections) before it
                 * reads the request: its reason is already waiting to be read. */
                char peek;
                if (recv(fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
                        return read_reply(fd, path, info->name, CTL_QUICK_TIMEOUT_MS, false);
        }
        if (r < 0) {
                fprintf(stderr, PROG ": cannot send the request to %s: %s\n", path, strerror(-r));
                return r == -EPIPE || r == -ECONNRESET ? CTL_EXIT_UNAVAILABLE : CTL_EXIT_FAILED;
        }

        Reply rp = { .path = path, .verb = info->name, .machine = json || events,
                     .array = json && daemon_json(verb) && !events, .json_lines = json && !daemon_json(verb) };
        return read_reply_into(&rp, fd, info->quick ? CTL_QUICK_TIMEOUT_MS : -1);
}
