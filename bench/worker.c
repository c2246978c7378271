/* bench-worker: the one small HTTP worker that every supervisor in the benchmark runs.
 *
 * It takes its listening socket from wherever the supervisor puts it, so that only the
 * supervisor differs between the peers:
 *   LISTEN_FDS (fd 3, systemd protocol: sockvisord), SERVER_STARTER_PORT ("127.0.0.1:PORT=FD"
 *   or "PORT=FD": Server::Starter), --fd N (supervisord's fcgi-program: 0; s6 fd holder),
 *   or --bind PORT [--reuseaddr] (binds 127.0.0.1:PORT itself).
 * Every reply carries its pid ("pid=N"), like sockvisor-demo. GET /sleep?ms=N answers after
 * N ms. HTTP/1.1 requests keep the connection open unless "Connection: close".
 * SIGTERM or SIGINT: close the listener, finish the requests in flight, exit 0.
 * Readiness: after --ready-delay it sends READY=1 to $NOTIFY_SOCKET (by hand, no libsystemd)
 * and starts accepting; with --never-ready, or --never-ready-if FILE when FILE exists at
 * start-up, it takes its socket but never accepts nor says READY=1 (a broken deploy).
 * --unmodified (with --bind) makes it a server that knows nothing of supervisors: it never
 * sends READY=1 (NOTIFY_SOCKET is ignored), leaves LISTEN_* alone, and SIGTERM kills it at
 * once, mid-request (default disposition: no drain). SIGINT still ends it.
 * Only C17 and POSIX/Linux calls: builds with `cc -O2 -pthread worker.c`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REQ_MAX         8192
#define IO_TIMEOUT_MS   10000
#define LINGER_MS       2000
#define SLEEP_MAX_MS    60000
#define DRAIN_MAX_MS    120000
#define BIND_RETRY_MS   100

static atomic_int active;               /* connections being served */
static atomic_bool draining;
static long default_sleep_ms;
static char pid_file[PATH_MAX];

static int64_t now_ms(void)
{
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: bench-worker [--bind PORT [--reuseaddr] [--bind-retry MS] | --fd N]\n"
                "                    [--ready-delay MS] [--never-ready | --never-ready-if FILE]\n"
                "                    [--sleep-ms MS] [--pid-dir DIR] [--unmodified]\n"
                "       bench-worker --pick-port | --probe PORT [--timeout MS]\n"
                "       bench-worker --bind-exec PORT CMD [ARG...]\n"
                "Socket: --bind, else --fd, else SERVER_STARTER_PORT, else LISTEN_FDS (fd 3).\n"
                "  --bind-retry MS  retry a failed bind every %d ms for up to MS ms\n"
                "  --sleep-ms MS    answer every request after MS ms (also GET /sleep?ms=N)\n"
                "  --pid-dir DIR    create DIR/PID once serving, remove it on exit\n"
                "  --unmodified     (with --bind) no READY=1, LISTEN_* left alone, and SIGTERM\n"
                "                   kills it at once (no drain): a server that knows no supervisor\n"
                "  --pick-port      print a port of 127.0.0.1 (20000-32767, below the ephemeral\n"
                "                   range) that a bind without SO_REUSEADDR can take now\n"
                "  --probe PORT     GET / once, print the pid that answered (exit 1: none)\n"
                "  --bind-exec PORT bind 127.0.0.1:PORT with SO_REUSEADDR, listener on fd 0, exec CMD\n",
                BIND_RETRY_MS);
}

static int parse_num(const char *opt, const char *s, long max, long *ret)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max) {
                fprintf(stderr, "bench-worker: %s '%s': expected 0..%ld\n", opt, s, max);
                return -1;
        }
        *ret = v;
        return 0;
}

static void sleep_ms(long ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Binds 127.0.0.1:port, retrying every BIND_RETRY_MS for up to retry_ms; SIGTERM or
 * SIGINT (readable on sig_fd, if >= 0) meanwhile ends the process. */
static int bind_port(long port, bool reuseaddr, long retry_ms, int sig_fd)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int64_t until = now_ms() + retry_ms;
        int one = 1;

        for (;;) {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

                if (fd < 0)
                        return -1;
                if (reuseaddr)
                        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 && listen(fd, 4096) == 0)
                        return fd;
                int e = errno;
                (void) close(fd);
                if (now_ms() >= until) {
                        fprintf(stderr, "bench-worker: bind 127.0.0.1:%ld: %s\n", port, strerror(e));
                        return -1;
                }
                if (sig_fd >= 0) {
                        struct pollfd p = { .fd = sig_fd, .events = POLLIN };

                        if (poll(&p, 1, BIND_RETRY_MS) > 0)
                                exit(0);
                } else
                        sleep_ms(BIND_RETRY_MS);
        }
}

static int pick_port(void)
{
        unsigned seed = (unsigned) getpid() ^ (unsigned) now_ms();

        for (int i = 0; i < 2000; i++) {
                long port = 20000 + (long) (rand_r(&seed) % 12768);
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

                if (fd < 0)
                        return 1;
                if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0) {
                        (void) close(fd);
                        printf("%ld\n", port);
                        return 0;
                }
                (void) close(fd);
        }
        fprintf(stderr, "bench-worker: no free port found\n");
        return 1;
}

/* "127.0.0.1:8080=3;..." or "8080=3": the fd of the first entry. */
static int server_starter_fd(const char *v)
{
        const char *eq = strchr(v, '=');
        long fd;
        char *end;

        if (!eq)
                return -1;
        errno = 0;
        fd = strtol(eq + 1, &end, 10);
        if (errno != 0 || end == eq + 1 || fd < 0 || fd > INT_MAX)
                return -1;
        return (int) fd;
}

static void notify_ready(void)
{
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        static const char msg[] = "READY=1\nSTATUS=serving";
        socklen_t len;
        int fd;

        if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
                return;
        memcpy(sa.sun_path, path, strlen(path));
        if (sa.sun_path[0] == '@')
                sa.sun_path[0] = '\0';
        len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return;
        if (sendto(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL, (struct sockaddr *) &sa, len) < 0)
                fprintf(stderr, "bench-worker: READY=1 to %s: %s\n", path, strerror(errno));
        (void) close(fd);
}

/* Waits for fd to be readable, waking every 100 ms to look at the drain flag when idle. */
static int wait_readable(int fd, int64_t deadline, bool idle)
{
        for (;;) {
                int64_t left = deadline - now_ms();
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int r;

                if (left <= 0)
                        return 0;
                if (idle && atomic_load(&draining))
                        return 0;
                r = poll(&p, 1, left > 100 ? 100 : (int) left);
                if (r > 0)
                        return 1;
                if (r < 0 && errno != EINTR)
                        return -1;
        }
}

static bool send_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return false;
                }
                p += w;
                n -= (size_t) w;
        }
        return true;
}

static long query_sleep(const char *target, size_t len)
{
        const char *q = memmem(target, len, "ms=", 3);
        long v = 0;

        if (len < 7 || memcmp(target, "/sleep", 6) != 0 || !q)
                return default_sleep_ms;
        for (q += 3; q < target + len && *q >= '0' && *q <= '9' && v <= SLEEP_MAX_MS; q++)
                v = v * 10 + (*q - '0');
        return v > SLEEP_MAX_MS ? SLEEP_MAX_MS : v;
}

static void *conn_main(void *arg)
{
        int fd = (int) (intptr_t) arg;
        char req[REQ_MAX];
        size_t len = 0;
        unsigned long served = 0;

        for (;;) {
                char *end, *sp, *sp2, reply[512], body[128];
                bool keep, http11;
                size_t head;
                long ms;
                int n;

                /* Read one request head. A kept-alive connection idle between requests
                 * (nothing of the next one yet) is closed when draining; a new connection
                 * always gets its answer. */
                while (!(end = memmem(req, len, "\r\n\r\n", 4))) {
                        ssize_t r;

                        if (len == sizeof(req) ||
                            wait_readable(fd, now_ms() + IO_TIMEOUT_MS, len == 0 && served > 0) <= 0)
                                goto out;
                        r = recv(fd, req + len, sizeof(req) - len, 0);
                        if (r <= 0)
                                goto out;
                        len += (size_t) r;
                }
                head = (size_t) (end + 4 - req);
                sp = memchr(req, ' ', head);
                sp2 = sp ? memchr(sp + 1, ' ', head - (size_t) (sp + 1 - req)) : NULL;
                http11 = sp2 && (size_t) (head - (size_t) (sp2 - req)) > 9 && memcmp(sp2 + 1, "HTTP/1.1", 8) == 0;
                keep = http11 && !memmem(req, head, "onnection: close", 16);
                ms = sp && sp2 ? query_sleep(sp + 1, (size_t) (sp2 - sp - 1)) : default_sleep_ms;
                if (ms > 0)
                        sleep_ms(ms);
                if (atomic_load(&draining))
                        keep = false;
                (void) snprintf(body, sizeof(body), "pid=%ld\n", (long) getpid());
                n = snprintf(reply, sizeof(reply),
                             "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                             "Connection: %s\r\n\r\n%s",
                             strlen(body), keep ? "keep-alive" : "close", body);
                if (!send_all(fd, reply, (size_t) n))
                        goto out;
                served++;
                memmove(req, req + head, len - head);
                len -= head;
                if (!keep)
                        break;
        }
        /* Reply sent: half-close and wait (bounded) for the client's EOF, so that what it
         * may still send does not turn our close into a reset. */
        (void) shutdown(fd, SHUT_WR);
        {
                int64_t deadline = now_ms() + LINGER_MS;
                char scratch[512];

                while (wait_readable(fd, deadline, false) > 0 && recv(fd, scratch, sizeof(scratch), 0) > 0)
                        ;
        }
out:
        (void) close(fd);
        atomic_fetch_sub(&active, 1);
        return NULL;
}

/* --probe PORT: one GET / on 127.0.0.1:PORT; prints the pid that answered. Exit 0, or 1. */
static int probe(long port, long timeout_ms)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
        static const char req[] = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";
        char buf[1024];
        size_t len = 0;
        const char *p;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return 1;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || !send_all(fd, req, sizeof(req) - 1))
                return 1;
        for (;;) {
                ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);

                if (r <= 0)
                        break;
                len += (size_t) r;
                if (len == sizeof(buf) - 1)
                        break;
        }
        buf[len] = '\0';
        (void) close(fd);
        p = strstr(buf, "pid=");
        if (strncmp(buf, "HTTP/1.1 200", 12) != 0 || !p || p[4] < '0' || p[4] > '9')
                return 1;
        printf("%ld\n", strtol(p + 4, NULL, 10));
        return 0;
}

static void on_exit_remove_pid(void)
{
        if (pid_file[0])
                (void) unlink(pid_file);
}

/* Waits ms milliseconds, or less if SIGTERM/SIGINT arrives: then returns true. */
static bool wait_signal(int sig_fd, long ms)
{
        int64_t deadline = ms < 0 ? INT64_MAX : now_ms() + ms;

        for (;;) {
                int64_t left = deadline - now_ms();
                struct pollfd p = { .fd = sig_fd, .events = POLLIN };
                int r;

                if (left <= 0)
                        return false;
                r = poll(&p, 1, left > 1000 ? 1000 : (int) left);
                if (r > 0)
                        return true;
        }
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
                { "bind",           required_argument, NULL, 'b' },
                { "reuseaddr",      no_argument,       NULL, 'R' },
                { "bind-retry",     required_argument, NULL, 'B' },
                { "fd",             required_argument, NULL, 'f' },
                { "ready-delay",    required_argument, NULL, 'r' },
                { "never-ready",    no_argument,       NULL, 'n' },
                { "never-ready-if", required_argument, NULL, 'N' },
                { "sleep-ms",       required_argument, NULL, 's' },
                { "pid-dir",        required_argument, NULL, 'p' },
                { "pick-port",      no_argument,       NULL, 'P' },
                { "probe",          required_argument, NULL, 'Q' },
                { "timeout",        required_argument, NULL, 'T' },
                { "bind-exec",      required_argument, NULL, 'E' },
                { "unmodified",     no_argument,       NULL, 'U' },
                { "help",           no_argument,       NULL, 'h' },
                { NULL, 0, NULL, 0 }
        };
        long port = -1, fd_opt = -1, ready_delay = 0, bind_retry = 0, probe_port = -1, timeout_ms = 500;
        long exec_port = -1;
        bool reuseaddr = false, never_ready = false, unmodified = false;
        const char *never_if = NULL, *pid_dir = NULL, *ss;
        sigset_t mask;
        int listen_fd, sig_fd, opt;

        while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
                switch (opt) {
                case 'b': if (parse_num("--bind", optarg, 65535, &port) < 0) return 2; break;
                case 'R': reuseaddr = true; break;
                case 'B': if (parse_num("--bind-retry", optarg, 3600000, &bind_retry) < 0) return 2; break;
                case 'f': if (parse_num("--fd", optarg, 65535, &fd_opt) < 0) return 2; break;
                case 'r': if (parse_num("--ready-delay", optarg, 3600000, &ready_delay) < 0) return 2; break;
                case 'n': never_ready = true; break;
                case 'N': never_if = optarg; break;
                case 's': if (parse_num("--sleep-ms", optarg, SLEEP_MAX_MS, &default_sleep_ms) < 0) return 2; break;
                case 'p': pid_dir = optarg; break;
                case 'P': return pick_port();
                case 'Q': if (parse_num("--probe", optarg, 65535, &probe_port) < 0) return 2; break;
                case 'T': if (parse_num("--timeout", optarg, 600000, &timeout_ms) < 0) return 2; break;
                case 'E': if (parse_num("--bind-exec", optarg, 65535, &exec_port) < 0) return 2; break;
                case 'U': unmodified = true; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (probe_port >= 0)
                return probe(probe_port, timeout_ms);
        if (exec_port >= 0) {
                /* --bind-exec PORT CMD...: bind (SO_REUSEADDR), put the listener on fd 0, exec. */
                int fd = bind_port(exec_port, true, bind_retry, -1);

                if (fd < 0 || optind >= argc || dup2(fd, 0) < 0)
                        return 1;
                execvp(argv[optind], argv + optind);
                perror("bench-worker: --bind-exec");
                return 127;
        }
        if (optind < argc) {
                fprintf(stderr, "bench-worker: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (unmodified && port < 0) {
                fprintf(stderr, "bench-worker: --unmodified needs --bind: an unmodified server binds its port itself\n");
                return 2;
        }
        if (never_if && access(never_if, F_OK) == 0)
                never_ready = true;

        /* Signals first, so that the threads inherit the blocked mask. Unmodified: SIGTERM
         * keeps its default action and kills the process wherever it is. */
        (void) sigemptyset(&mask);
        if (!unmodified)
                (void) sigaddset(&mask, SIGTERM);
        (void) sigaddset(&mask, SIGINT);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        (void) signal(SIGPIPE, SIG_IGN);
        sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sig_fd < 0) {
                perror("bench-worker: signalfd");
                return 1;
        }

        if (port >= 0)
                listen_fd = bind_port(port, reuseaddr, bind_retry, sig_fd);
        else if (fd_opt >= 0)
                listen_fd = (int) fd_opt;
        else if ((ss = getenv("SERVER_STARTER_PORT")) && *ss)
                listen_fd = server_starter_fd(ss);
        else if (getenv("LISTEN_FDS") && atoi(getenv("LISTEN_FDS")) >= 1 &&
                 (!getenv("LISTEN_PID") || atol(getenv("LISTEN_PID")) == (long) getpid()))
                listen_fd = 3;
        else {
                fprintf(stderr, "bench-worker: no socket: give --bind, --fd, SERVER_STARTER_PORT or LISTEN_FDS\n");
                return 2;
        }
        if (listen_fd < 0)
                return 1;
        (void) fcntl(listen_fd, F_SETFD, FD_CLOEXEC);
        /* The loop below polls, then accepts. On a blocking listener shared with another
         * generation (the default under sockvisord and systemd), a connection the other one
         * took leaves us asleep in accept() until the next client, deaf to SIGTERM. Like
         * libuv, Go and gunicorn, make it non-blocking (the flag is the socket's, for every
         * holder); accepted sockets do not inherit it. */
        {
                int fl = fcntl(listen_fd, F_GETFL);

                if (fl >= 0 && !(fl & O_NONBLOCK))
                        (void) fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK);
        }
        if (!unmodified) {
                unsetenv("LISTEN_FDS");
                unsetenv("LISTEN_PID");
                unsetenv("LISTEN_FDNAMES");
        }

        if (never_ready) {
                /* A broken deploy: holds the socket, never serves, never says ready. */
                fprintf(stderr, "bench-worker pid %ld: never ready\n", (long) getpid());
                (void) wait_signal(sig_fd, -1);
                return 0;
        }
        if (ready_delay > 0 && wait_signal(sig_fd, ready_delay))
                return 0;
        if (pid_dir) {
                int f;

                (void) snprintf(pid_file, sizeof(pid_file), "%s/%ld", pid_dir, (long) getpid());
                f = open(pid_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                if (f >= 0)
                        (void) close(f);
                (void) atexit(on_exit_remove_pid);
        }
        if (!unmodified)
                notify_ready();

        for (;;) {
                struct pollfd p[2] = { { .fd = sig_fd, .events = POLLIN }, { .fd = listen_fd, .events = POLLIN } };

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("bench-worker: poll");
                        return 1;
                }
                if (p[0].revents)
                        break;
                if (p[1].revents) {
                        int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                        pthread_attr_t attr;
                        pthread_t t;

                        if (c < 0) {
                                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                                    errno != ECONNABORTED)
                                        sleep_ms(10);   /* EMFILE and friends: back off */
                                continue;
                        }
                        atomic_fetch_add(&active, 1);
                        (void) pthread_attr_init(&attr);
                        (void) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                        (void) pthread_attr_setstacksize(&attr, 64 * 1024);
                        if (pthread_create(&t, &attr, conn_main, (void *) (intptr_t) c) != 0) {
                                (void) close(c);
                                atomic_fetch_sub(&active, 1);
                        }
                        (void) pthread_attr_destroy(&attr);
                }
        }

        /* Drain: close our copy of the listener (never shutdown(): it is shared), finish
         * what is in flight, exit. */
        atomic_store(&draining, true);
        (void) close(listen_fd);
        {
                int64_t until = now_ms() + DRAIN_MAX_MS;

                while (atomic_load(&active) > 0 && now_ms() < until)
                        sleep_ms(5);
        }
        return 0;
}
