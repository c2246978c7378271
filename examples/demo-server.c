/* sockvisor-demo: a small HTTP/1.0 worker that serves on the sockets it inherits through LISTEN_FDS. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#define MAX_CONNS        1024
#define REQ_MAX          8192           /* request head cap; larger gets 431 */
#define OUT_MAX          512
#define SLEEP_MAX_MS     60000
#define IO_TIMEOUT_MS    10000          /* a client that neither sends nor reads is dropped */
#define LINGER_MS        2000           /* how long to wait for the client's FIN after our reply */
#define ACCEPT_BATCH     64             /* accepts per readiness on a non-blocking listener */
#define ACCEPT_GUARD_US  20000          /* see accept_guard_arm() */
#define ACCEPT_PAUSE_MS  1000           /* back-off after EMFILE and friends */
#define OPT_MS_MAX       86400000UL     /* one day */

enum conn_state {
        CONN_FREE,
        CONN_READING,   /* waiting for the end of the request head */
        CONN_SLEEPING,  /* /sleep?ms=N: answer at deadline */
        CONN_WRITING,   /* reply in out[], partly sent */
        CONN_LINGERING, /* reply sent and SHUT_WR done: wait for the client's EOF */
};

typedef struct Conn {
        int fd;
        enum conn_state state;
        int64_t deadline_ms;
        size_t len;
        size_t out_len, out_off;
        char req[REQ_MAX];
        char out[OUT_MAX];
} Conn;

typedef struct Server {
        int *listen_fds;        /* -1 once closed */
        int n_listen;
        int sig_fd;
        Conn conns[MAX_CONNS];
        size_t n_conns;
        bool serving;           /* set-up done: --ready-delay has passed */
        bool draining;
        int drain_signal;
        int64_t ready_at_ms;
        int64_t exit_at_ms;     /* -1: no --exit-after */
        int64_t accept_paused_until_ms;
        bool never_ready;
        int64_t watchdog_ms;    /* WATCHDOG_USEC / 2: how often to send WATCHDOG=1; 0: not asked */
        int64_t next_ping_ms;
        uint64_t served;
        const char *generation;
        const char *program;
} Server;

/* ~8 MiB of connection slots; static so that untouched pages cost nothing. */
static Server server;

static int64_t now_ms(void)
{
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: sockvisor-demo [--ready-delay MS] [--never-ready] [--exit-after MS]\n"
                "\n"
                "A demo HTTP worker for sockvisord. It serves on the listening sockets passed as\n"
                "fds 3.. (LISTEN_FDS), answers every request with its pid, $SOCKVISOR_GENERATION\n"
                "and $SOCKVISOR_PROGRAM, and GET /sleep?ms=N (N <= %d) after N ms.\n"
                "GET /wedge hangs the process for good (to test watchdog= and healthcheck=).\n"
                "With WATCHDOG_USEC set (watchdog=), it sends WATCHDOG=1 every half period.\n"
                "SIGTERM or SIGINT: close the listeners, finish every request, exit 0.\n"
                "\n"
                "  --ready-delay MS  take MS ms to set up: accept nothing and send READY=1 only then\n"
                "  --never-ready     serve, but never send READY=1 (to test rollback)\n"
                "  --exit-after MS   exit with status 3 after MS ms (to simulate a crash)\n"
                "  --help            show this help\n",
                SLEEP_MAX_MS);
}

static int parse_ms(const char *opt, const char *s, unsigned long *ret)
{
        unsigned long v;
        char *end;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > OPT_MS_MAX) {
                fprintf(stderr, "sockvisor-demo: %s '%s': expected milliseconds 0..%lu\n",
                        opt, s, OPT_MS_MAX);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

/* An empty handler: its only job is to make a blocking accept() return EINTR. */
static void on_sigalrm(int sig)
{
        (void) sig;
}

/* A blocking listener shared with another process can wake us in poll() and then hand
 * the connection to the other process, leaving us asleep in accept() until the next
 * client arrives (the nginx stall). main() sets O_NONBLOCK on our listeners, as libuv,
 * Go and gunicorn do; but the flag is shared with every holder, and sockvisord sets it
 * back to the socket's blocking= on reload, so when we find a listener blocking anyway a
 * repeating interval timer interrupts accept() instead: a lost race costs at most
 * ACCEPT_GUARD_US. It repeats so that an expiry just before accept() blocks is followed
 * by another. */
static void accept_guard_arm(void)
{
        const struct itimerval it = {
                .it_interval = { .tv_usec = ACCEPT_GUARD_US },
                .it_value = { .tv_usec = ACCEPT_GUARD_US },
        };

        (void) setitimer(ITIMER_REAL, &it, NULL);
}

static void accept_guard_disarm(void)
{
        const struct itimerval it = { 0 };

        (void) setitimer(ITIMER_REAL, &it, NULL);
}

static void conn_close(Conn *c)
{
        /* close(), not shutdown(SHUT_RDWR): this is our own accepted socket, the
         * SHUT_WR was done when the reply was complete. */
        (void) close(c->fd);
        c->fd = -1;
        c->state = CONN_FREE;
        server.n_conns--;
}

static void conn_set_reply(Conn *c, int status, const char *reason, const char *body)
{
        int n;

        n = snprintf(c->out, sizeof(c->out),
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n"
                     "Connection: close\r\n"
                     "\r\n"
                     "%s",
                     status, reason, strlen(body), body);
        /* The body is bounded by the callers (%.100s below), so this never truncates. */
        c->out_len = n < 0 ? 0 : (size_t) n < sizeof(c->out) ? (size_t) n : sizeof(c->out) - 1;
        c->out_off = 0;
        c->state = CONN_WRITING;
        c->deadline_ms = now_ms() + IO_TIMEOUT_MS;
}

static void conn_set_ok(Conn *c)
{
        char body[320];

        (void) snprintf(body, sizeof(body), "pid=%ld generation=%.100s program=%.100s\n",
                        (long) getpid(), server.generation, server.program);
        conn_set_reply(c, 200, "OK", body);
        server.served++;
}

/* Send what is left of the reply; on completion half-close and wait for the client's EOF,
 * so that a client that sent more than we read gets our reply rather than a reset. */
static void conn_write(Conn *c)
{
        while (c->out_off < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return;         /* wait for POLLOUT */
                        conn_close(c);          /* ECONNRESET, EPIPE...: only this client */
                        return;
                }
                c->out_off += (size_t) n;
        }
        (void) shutdown(c->fd, SHUT_WR);
        c->state = CONN_LINGERING;
        c->deadline_ms = now_ms() + LINGER_MS;
}

/* Parse "ms=N" out of a query string; -1 if absent or invalid. */
static long query_ms(const char *q, const char *q_end)
{
        while (q < q_end) {
                const char *amp = memchr(q, '&', (size_t) (q_end - q));
                const char *p_end = amp ? amp : q_end;

                if (p_end - q > 3 && memcmp(q, "ms=", 3) == 0) {
                        long v = 0;

                        for (const char *p = q + 3; p < p_end; p++) {
                                if (*p < '0' || *p > '9' || v > SLEEP_MAX_MS)
                                        return -1;
                                v = v * 10 + (*p - '0');
                        }
                        return v <= SLEEP_MAX_MS ? v : -1;
                }
                q = amp ? amp + 1 : q_end;
        }
        return -1;
}

/* GET /wedge: what a deadlock looks like from outside. Nothing more is accepted, answered
 * or pinged (signals stay blocked for the signalfd, so SIGTERM is not seen either): only a
 * watchdog or a health check finds it out, and only SIGKILL ends it. */
static void wedge(void)
{
        fprintf(stderr, "demo pid %ld generation %s wedged (GET /wedge)\n", (long) getpid(), server.generation);
        for (;;)
                pause();        /* SIGALRM of the accept guard wakes it; nothing else */
}

/* The request head is complete: decide the reply from the request line. */
static void conn_handle_request(Conn *c)
{
        const char *line = c->req, *line_end, *target, *target_end, *path_end;

        line_end = memchr(line, '\n', c->len);
        if (!line_end)
                line_end = c->req + c->len;
        target = memchr(line, ' ', (size_t) (line_end - line));
        if (!target || target + 1 >= line_end || target[1] != '/') {
                conn_set_reply(c, 400, "Bad Request", "bad request line\n");
                conn_write(c);
                return;
        }
        target++;
        for (target_end = target; target_end < line_end && *target_end != ' ' && *target_end != '\r'; target_end++)
                ;
        path_end = memchr(target, '?', (size_t) (target_end - target));
        if (!path_end)
                path_end = target_end;

        if (path_end - target == 6 && memcmp(target, "/wedge", 6) == 0)
                wedge();
        if (path_end - target == 6 && memcmp(target, "/sleep", 6) == 0) {
                long ms = path_end < target_end ? query_ms(path_end + 1, target_end) : -1;

                if (ms < 0) {
                        conn_set_reply(c, 400, "Bad Request", "expected /sleep?ms=N with N 0..60000\n");
                        conn_write(c);
                        return;
                }
                if (ms > 0) {
                        c->state = CONN_SLEEPING;
                        c->deadline_ms = now_ms() + ms;
                        return;
                }
        }
        conn_set_ok(c);
        conn_write(c);
}

static void conn_read(Conn *c)
{
        for (;;) {
                size_t from = c->len > 3 ? c->len - 3 : 0;
                ssize_t n;

                if (c->len == sizeof(c->req)) {
                        conn_set_reply(c, 431, "Request Header Fields Too Large",
                                       "request head larger than 8 KiB\n");
                        conn_write(c);
                        return;
                }
                n = recv(c->fd, c->req + c->len, sizeof(c->req) - c->len, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN && errno != EWOULDBLOCK)
                                conn_close(c);
                        return;
                }
                if (n == 0) {           /* client gave up before finishing its request */
                        conn_close(c);
                        return;
                }
                c->len += (size_t) n;
                /* A bare "\n\n" is accepted too, for hand-typed requests (nc). */
                if (memmem(c->req + from, c->len - from, "\r\n\r\n", 4) ||
                    memmem(c->req + from, c->len - from, "\n\n", 2)) {
                        conn_handle_request(c);
                        return;
                }
        }
}

/* After SHUT_WR, read and drop whatever the client still sends until its EOF. */
static void conn_linger(Conn *c)
{
        char buf[4096];

        for (;;) {
                ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

                if (n > 0)
                        continue;
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                conn_close(c);          /* EOF or error: done either way */
                return;
        }
}

static Conn *conn_add(int fd)
{
        for (size_t i = 0; i < MAX_CONNS; i++) {
                Conn *c = &server.conns[i];

                if (c->state != CONN_FREE)
                        continue;
                c->fd = fd;
                c->state = CONN_READING;
                c->len = 0;
                c->deadline_ms = now_ms() + IO_TIMEOUT_MS;
                server.n_conns++;
                return c;
        }
        return NULL;    /* not reached: callers check n_conns < MAX_CONNS */
}

static void accept_ready(int lfd)
{
        int fl = fcntl(lfd, F_GETFL);
        /* Re-read every time: another holder of the socket may flip O_NONBLOCK. */
        bool blocking = fl >= 0 && !(fl & O_NONBLOCK);
        int batch = blocking ? 1 : ACCEPT_BATCH;

        for (int i = 0; i < batch && server.n_conns < MAX_CONNS; i++) {
                int fd, err;
                Conn *c;

                if (blocking)
                        accept_guard_arm();
                fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                err = errno;
                if (blocking)
                        accept_guard_disarm();
                if (fd < 0) {
                        switch (err) {
                        case EMFILE:
                        case ENFILE:
                        case ENOBUFS:
                        case ENOMEM:
                                fprintf(stderr, "sockvisor-demo: accept on fd %d: %s, pausing accepts for %d ms\n",
                                        lfd, strerror(err), ACCEPT_PAUSE_MS);
                                server.accept_paused_until_ms = now_ms() + ACCEPT_PAUSE_MS;
                                return;
                        default:
                                /* EAGAIN/EWOULDBLOCK (another process took it), ECONNABORTED,
                                 * EINTR (the guard), and the network errors Linux passes up
                                 * from the new connection: nothing to do until the next poll. */
                                return;
                        }
                }
                c = conn_add(fd);
                if (!c) {
                        (void) close(fd);
                        return;
                }
                conn_read(c);   /* the request has usually arrived already: skip a poll round */
        }
}

static void start_drain(int sig)
{
        if (server.draining)
                return;
        server.draining = true;
        server.drain_signal = sig;
        /* close(), never shutdown(): shutdown acts on the socket for every holder, and the
         * next generation is accepting on it. Connections still in the accept queue stay
         * there for the other holders. */
        for (int i = 0; i < server.n_listen; i++) {
                if (server.listen_fds[i] >= 0)
                        (void) close(server.listen_fds[i]);
                server.listen_fds[i] = -1;
        }
        (void) sd_notifyf(0, "STOPPING=1\nSTATUS=draining %zu connection(s)", server.n_conns);
}

static void handle_signals(void)
{
        struct signalfd_siginfo si;

        for (;;) {
                ssize_t n = read(server.sig_fd, &si, sizeof(si));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n != (ssize_t) sizeof(si))
                        return;         /* EAGAIN: all read */
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                        start_drain((int) si.ssi_signo);
        }
}

/* Fire what is due and return the poll() timeout until the next deadline (-1: none). */
static int run_timers(void)
{
        int64_t now = now_ms(), next = INT64_MAX;

        if (server.exit_at_ms >= 0 && now >= server.exit_at_ms) {
                fprintf(stderr, "demo pid %ld generation %s exiting with status 3 (--exit-after, simulated crash)\n",
                        (long) getpid(), server.generation);
                exit(3);
        }
        if (server.exit_at_ms >= 0)
                next = server.exit_at_ms;

        if (!server.serving && !server.draining) {
                if (now >= server.ready_at_ms) {
                        server.serving = true;
                        if (!server.never_ready)
                                (void) sd_notifyf(0, "READY=1\nSTATUS=serving on %d fds", server.n_listen);
                } else if (server.ready_at_ms < next)
                        next = server.ready_at_ms;
        }
        if (server.accept_paused_until_ms > now && server.accept_paused_until_ms < next)
                next = server.accept_paused_until_ms;
        if (server.watchdog_ms > 0) {   /* watchdog=: alive, twice per period as systemd advises */
                if (now >= server.next_ping_ms) {
                        (void) sd_notify(0, "WATCHDOG=1");
                        server.next_ping_ms = now + server.watchdog_ms;
                }
                if (server.next_ping_ms < next)
                        next = server.next_ping_ms;
        }

        for (size_t i = 0; i < MAX_CONNS; i++) {
                Conn *c = &server.conns[i];

                if (c->state == CONN_FREE)
                        continue;
                if (now >= c->deadline_ms) {
                        if (c->state == CONN_SLEEPING) {
                                conn_set_ok(c);
                                conn_write(c);
                        } else {
                                conn_close(c);  /* idle reader or writer, or linger over */
                                continue;
                        }
                        if (c->state == CONN_FREE)
                                continue;
                }
                if (c->deadline_ms < next)
                        next = c->deadline_ms;
        }

        if (next == INT64_MAX)
                return -1;
        now = now_ms();
        if (next <= now)
                return 0;
        return next - now > 60000 ? 60000 : (int) (next - now);
}

static int setup_signals(void)
{
        struct sigaction sa = { .sa_handler = on_sigalrm };    /* no SA_RESTART: EINTR is the point */
        sigset_t mask;

        (void) sigemptyset(&sa.sa_mask);
        if (sigaction(SIGALRM, &sa, NULL) < 0)
                return -errno;
        /* A vanished reader of stderr must not kill a draining worker. */
        sa.sa_handler = SIG_IGN;
        if (sigaction(SIGPIPE, &sa, NULL) < 0)
                return -errno;

        (void) sigemptyset(&mask);
        (void) sigaddset(&mask, SIGTERM);
        (void) sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        server.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (server.sig_fd < 0)
                return -errno;
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
                { "ready-delay", required_argument, NULL, 'r' },
                { "never-ready", no_argument,       NULL, 'n' },
                { "exit-after",  required_argument, NULL, 'x' },
                { "help",        no_argument,       NULL, 'h' },
                { NULL, 0, NULL, 0 }
        };
        unsigned long ready_delay = 0, exit_after = 0;
        bool have_exit_after = false;
        struct pollfd *pfds;
        Conn **pconn;
        int64_t start;
        int n, r, opt;

        while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
                switch (opt) {
                case 'r':
                        if (parse_ms("--ready-delay", optarg, &ready_delay) < 0)
                                return 2;
                        break;
                case 'n':
                        server.never_ready = true;
                        break;
                case 'x':
                        if (parse_ms("--exit-after", optarg, &exit_after) < 0)
                                return 2;
                        have_exit_after = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "sockvisor-demo: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }

        /* unset_environment=1: our own children, if any, must not believe the fds are theirs.
         * sd_listen_fds() also sets FD_CLOEXEC on every passed fd. */
        n = sd_listen_fds(1);
        if (n < 0) {
                fprintf(stderr, "sockvisor-demo: invalid LISTEN_FDS/LISTEN_PID: %s\n", strerror(-n));
                return 2;
        }
        if (n == 0) {
                fprintf(stderr,
                        "sockvisor-demo: no listening socket passed (LISTEN_FDS unset, or LISTEN_PID is not\n"
                        "this process). It must be started by sockvisord or by systemd-socket-activate, e.g.\n"
                        "  systemd-socket-activate -l 127.0.0.1:8080 sockvisor-demo\n");
                return 2;
        }
        for (int i = 0; i < n; i++) {
                r = sd_is_socket(SD_LISTEN_FDS_START + i, AF_UNSPEC, SOCK_STREAM, 1);
                if (r <= 0) {
                        fprintf(stderr, "sockvisor-demo: fd %d is not a listening stream socket%s%s\n",
                                SD_LISTEN_FDS_START + i, r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
                        return 2;
                }
        }

        server.n_listen = n;
        server.listen_fds = calloc((size_t) n, sizeof(int));
        pfds = calloc(1 + (size_t) n + MAX_CONNS, sizeof(*pfds));
        pconn = calloc(1 + (size_t) n + MAX_CONNS, sizeof(*pconn));
        if (!server.listen_fds || !pfds || !pconn) {
                fprintf(stderr, "sockvisor-demo: out of memory\n");
                return 1;
        }
        for (int i = 0; i < n; i++) {
                server.listen_fds[i] = SD_LISTEN_FDS_START + i;
                /* sockvisord and systemd hand out blocking listeners by default; an event loop
                 * wants them non-blocking (see accept_guard_arm), for every holder alike. */
                int fl = fcntl(server.listen_fds[i], F_GETFL);
                if (fl >= 0 && !(fl & O_NONBLOCK))
                        (void) fcntl(server.listen_fds[i], F_SETFL, fl | O_NONBLOCK);
        }
        for (size_t i = 0; i < MAX_CONNS; i++)
                server.conns[i].fd = -1;

        r = setup_signals();
        if (r < 0) {
                fprintf(stderr, "sockvisor-demo: unable to set up signal handling: %s\n", strerror(-r));
                return 1;
        }

        server.generation = getenv("SOCKVISOR_GENERATION");
        if (!server.generation || !*server.generation)
                server.generation = "0";
        server.program = getenv("SOCKVISOR_PROGRAM");
        if (!server.program || !*server.program)
                server.program = "?";

        uint64_t watchdog_usec = 0;
        if (sd_watchdog_enabled(0, &watchdog_usec) > 0)
                server.watchdog_ms = (int64_t) (watchdog_usec / 2000) > 0 ? (int64_t) (watchdog_usec / 2000) : 1;

        start = now_ms();
        server.ready_at_ms = start + (int64_t) ready_delay;
        server.exit_at_ms = have_exit_after ? start + (int64_t) exit_after : -1;
        fprintf(stderr, "demo pid %ld generation %s serving on %d fds\n",
                (long) getpid(), server.generation, n);

        for (;;) {
                int timeout = run_timers();
                bool accepting;
                nfds_t np = 0;

                if (server.draining && server.n_conns == 0)
                        break;

                pfds[np] = (struct pollfd) { .fd = server.sig_fd, .events = POLLIN };
                pconn[np++] = NULL;
                /* Stop polling the listeners while full: the kernel keeps the backlog, and the
                 * other holders of the socket can take those connections meanwhile. */
                accepting = server.serving && !server.draining && server.n_conns < MAX_CONNS &&
                            now_ms() >= server.accept_paused_until_ms;
                if (accepting)
                        for (int i = 0; i < server.n_listen; i++) {
                                pfds[np] = (struct pollfd) { .fd = server.listen_fds[i], .events = POLLIN };
                                pconn[np++] = NULL;
                        }
                for (size_t i = 0; i < MAX_CONNS; i++) {
                        Conn *c = &server.conns[i];
                        short ev;

                        if (c->state == CONN_READING || c->state == CONN_LINGERING)
                                ev = POLLIN;
                        else if (c->state == CONN_WRITING)
                                ev = POLLOUT;
                        else
                                continue;       /* free or sleeping */
                        pfds[np] = (struct pollfd) { .fd = c->fd, .events = ev };
                        pconn[np++] = c;
                }

                r = poll(pfds, np, timeout);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "sockvisor-demo: poll: %s\n", strerror(errno));
                        return 1;
                }
                if (r == 0)
                        continue;

                for (nfds_t i = 0; i < np; i++) {
                        Conn *c = pconn[i];
                        short re = pfds[i].revents;

                        if (re == 0)
                                continue;
                        if (i == 0) {
                                handle_signals();
                        } else if (!c) {
                                /* A listener; it may have been closed by a signal handled above. */
                                if (server.draining || server.n_conns >= MAX_CONNS)
                                        continue;
                                if (re & POLLNVAL) {
                                        fprintf(stderr, "sockvisor-demo: fd %d is no longer open, ignoring it\n",
                                                pfds[i].fd);
                                        for (int j = 0; j < server.n_listen; j++)
                                                if (server.listen_fds[j] == pfds[i].fd)
                                                        server.listen_fds[j] = -1;
                                        continue;
                                }
                                accept_ready(pfds[i].fd);
                        } else if (c->state == CONN_READING) {
                                conn_read(c);
                        } else if (c->state == CONN_WRITING) {
                                conn_write(c);
                        } else if (c->state == CONN_LINGERING) {
                                conn_linger(c);
                        }
                }
        }

        fprintf(stderr, "demo pid %ld generation %s exiting after %s: served %" PRIu64 " requests\n",
                (long) getpid(), server.generation, strsignal(server.drain_signal), server.served);
        (void) sd_notify(0, "STATUS=exited");
        free(pconn);
        free(pfds);
        free(server.listen_fds);
        return 0;
}
