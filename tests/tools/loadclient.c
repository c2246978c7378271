/* sv-loadclient: an HTTP/1.0 load generator that counts and classifies every failed request. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CONC_MAX        4096
#define PIDS_MAX        4096
#define PID_SLOTS       8192            /* open-addressing table, twice PIDS_MAX */
#define ERRNO_MAX       4096
#define REPLY_KEEP      4096            /* bytes of each reply kept for the checks */
#define PSEUDO_SHORT    0               /* errno slot for "EOF before a valid reply" */

enum outcome { OUT_OK, OUT_REFUSED, OUT_RESET, OUT_TIMEOUT, OUT_SHORT, OUT_OTHER, _OUT_MAX };

typedef struct Options {
        union {
                struct sockaddr sa;
                struct sockaddr_in in4;
                struct sockaddr_in6 in6;
        } addr;
        socklen_t addr_len;
        long concurrency;
        long duration_s;
        long timeout_ms;
        const char *path;
        const char *stopfile;
        bool keepalive;                 /* -k: HTTP/1.1 requests on persistent connections */
        bool any_server;                /* -a: any 'HTTP/1.x 200' counts, pid= or not */
} Options;

/* Per-thread results, merged by main after join: no sharing on the hot path but the
 * success lock below. */
typedef struct Worker {
        pthread_t thread;
        uint64_t counts[_OUT_MAX];
        uint32_t *lat_us;
        size_t n_lat, cap_lat;
        bool oom;
} Worker;

static Options opts;
static char request[2048];
static size_t request_len;
static uint64_t start_us, end_us;

/* Shared across threads, under lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t first_ok_us, last_ok_us, max_gap_us;
static long pid_table[PID_SLOTS];       /* 0 = empty */
static size_t n_pids;
static bool pids_overflow;
static uint64_t errno_counts[ERRNO_MAX];
static uint64_t bad_replies;
static uint64_t reconnects;             /* -k: connections (re)opened after the first */
static char first_bad_reply[81];

static uint64_t now_us(void)
{
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: sv-loadclient -p PORT [-H 127.0.0.1] [-c CONCURRENCY=16] [-d SECONDS=5]\n"
                "                     [-t TIMEOUT_MS=5000] [-P PATH=/] [-r STOPFILE] [-k] [-a]\n"
                "Each of CONCURRENCY threads sends 'GET PATH HTTP/1.0' on a new connection, reads\n"
                "to EOF and checks for 'HTTP/1.1 200' and 'pid=N', until SECONDS have passed or\n"
                "STOPFILE exists. Prints one summary line; exit 0 if all requests succeeded,\n"
                "1 if any failed (or none succeeded), 2 on usage error. gap_ms is the longest stretch\n"
                "of the run (start and end included) without a successful request.\n"
                "-k: keep-alive: 'GET PATH HTTP/1.1' on a persistent connection per thread, reply\n"
                "read by Content-Length; a new connection after 'Connection: close'. A reused\n"
                "connection that the server closed before answering (no byte of reply) is retried\n"
                "once on a new connection, as HTTP clients do for idempotent requests. The summary\n"
                "line then ends with ' reconnects=N'.\n"
                "-a: any server: a reply starting 'HTTP/1.0 200' or 'HTTP/1.1 200' counts, pid= or\n"
                "not (python3 -m http.server, nginx); pids are then counted where replies name them.\n");
}

static int parse_long(char opt, const char *s, long min, long max, long *ret)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
                fprintf(stderr, "sv-loadclient: -%c '%s': expected an integer %ld..%ld\n", opt, s, min, max);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static void record_errno(int err)
{
        if (err < 0 || err >= ERRNO_MAX)
                err = ERRNO_MAX - 1;
        pthread_mutex_lock(&lock);
        errno_counts[err]++;
        pthread_mutex_unlock(&lock);
}

static enum outcome classify(int err)
{
        switch (err) {
        case ECONNREFUSED:
                return OUT_REFUSED;
        case ECONNRESET:
        case EPIPE:
                return OUT_RESET;
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
        case ETIMEDOUT:
        case EINPROGRESS:       /* a blocking connect() cut short by SO_SNDTIMEO */
                return OUT_TIMEOUT;
        default:
                return OUT_OTHER;
        }
}

static enum outcome fail_errno(int err)
{
        record_errno(err);
        return classify(err);
}

/* Set both socket timeouts to what is left of the request's deadline, so that no
 * request outlives -t however the server trickles its bytes. */
static int set_timeouts(int fd, uint64_t deadline_us)
{
        uint64_t now = now_us(), left = deadline_us > now ? deadline_us - now : 0;
        struct timeval tv = { .tv_sec = (time_t) (left / 1000000u), .tv_usec = (suseconds_t) (left % 1000000u) };

        if (left == 0)
                return -ETIMEDOUT;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return -errno;
        return 0;
}

/* pid=<digits> anywhere in the reply; -1 if absent. */
static long reply_pid(const char *buf, size_t len)
{
        const char *p = buf, *end = buf + len;

        while ((p = memmem(p, (size_t) (end - p), "pid=", 4))) {
                const char *d = p + 4;
                long pid = 0;

                while (d < end && *d >= '0' && *d <= '9' && pid < 100000000)
                        pid = pid * 10 + (*d++ - '0');
                if (d > p + 4 && pid > 0)
                        return pid;
                p += 4;
        }
        return -1;
}

/* A valid reply: 'HTTP/1.1 200' naming the pid; with -a, any HTTP/1.x 200 (pid optional). */
static bool reply_ok(const char *buf, size_t len, long *ret_pid)
{
        *ret_pid = reply_pid(buf, len);
        if (len >= 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0 && *ret_pid >= 0)
                return true;
        return opts.any_server && len >= 12 && memcmp(buf, "HTTP/1.", 7) == 0 && memcmp(buf + 8, " 200", 4) == 0;
}

static void note_success(long pid)
{
        pthread_mutex_lock(&lock);
        /* Read the clock under the lock so that successes are seen in time order. */
        uint64_t t = now_us();

        if (first_ok_us == 0) {
                first_ok_us = t;
                max_gap_us = t - start_us;
        } else if (t - last_ok_us > max_gap_us)
                max_gap_us = t - last_ok_us;
        last_ok_us = t;

        if (!pids_overflow && pid > 0) {
                size_t h = ((unsigned long) pid * 2654435761u) % PID_SLOTS;

                while (pid_table[h] != 0 && pid_table[h] != pid)
                        h = (h + 1) % PID_SLOTS;
                if (pid_table[h] == 0) {
                        if (n_pids < PIDS_MAX) {
                                pid_table[h] = pid;
                                n_pids++;
                        } else
                                pids_overflow = true;
                }
        }
        pthread_mutex_unlock(&lock);
}

static void note_bad_reply(const char *buf, size_t len)
{
        pthread_mutex_lock(&lock);
        if (bad_replies++ == 0) {
                size_t n = 0;

                for (; n < len && n < sizeof(first_bad_reply) - 1; n++)
                        first_bad_reply[n] = (buf[n] == '\r' || buf[n] == '\n') ? ' ' : buf[n];
                first_bad_reply[n] = '\0';
        }
        pthread_mutex_unlock(&lock);
}

/* One request on a new connection. */
static enum outcome do_request(uint64_t *ret_lat_us)
{
        char buf[REPLY_KEEP], scratch[4096];
        uint64_t t0 = now_us(), deadline = t0 + (uint64_t) opts.timeout_ms * 1000u;
        size_t len = 0, off = 0;
        enum outcome out;
        long pid;
        int fd, r;

        fd = socket(opts.addr.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return fail_errno(errno);
        r = set_timeouts(fd, deadline);
        if (r < 0) {
                out = fail_errno(-r);
                goto done;
        }
        while (connect(fd, &opts.addr.sa, opts.addr_len) < 0) {
                if (errno == EINTR)
                        continue;
                out = fail_errno(errno);
                goto done;
        }
        while (off < request_len) {
                ssize_t n = send(fd, request + off, request_len - off, MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        out = fail_errno(errno);
                        goto done;
                }
                off += (size_t) n;
        }
        for (;;) {
                ssize_t n;

                r = set_timeouts(fd, deadline);
                if (r < 0) {
                        out = fail_errno(-r);
                        goto done;
                }
                /* Keep the first REPLY_KEEP bytes, drain the rest. */
                if (len < sizeof(buf))
                        n = recv(fd, buf + len, sizeof(buf) - len, 0);
                else
                        n = recv(fd, scratch, sizeof(scratch), 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        out = fail_errno(errno);
                        goto done;
                }
                if (n == 0)
                        break;
                if (len < sizeof(buf))
                        len += (size_t) n;
        }

        if (!reply_ok(buf, len, &pid)) {
                record_errno(PSEUDO_SHORT);
                if (len > 0)
                        note_bad_reply(buf, len);
                out = OUT_SHORT;
                goto done;
        }
        *ret_lat_us = now_us() - t0;
        note_success(pid);
        out = OUT_OK;
done:
        (void) close(fd);
        return out;
}

/* Reads the head of a reply into buf (up to its end), then the body by Content-Length.
 * *got: bytes received at all (0 = the server closed or reset before answering).
 * Returns the outcome; *close_after when the server asked to close. */
static enum outcome ka_read_reply(int fd, uint64_t deadline, char *buf, size_t cap, size_t *ret_len,
                                  size_t *got, bool *close_after)
{
        size_t len = 0, head = 0, body_len = 0;
        const char *cl, *end;
        int r;

        *got = 0;
        for (;;) {
                ssize_t n;

                if ((end = memmem(buf, len, "\r\n\r\n", 4))) {
                        head = (size_t) (end + 4 - buf);
                        break;
                }
                if (len == cap)
                        return OUT_SHORT;
                r = set_timeouts(fd, deadline);
                if (r < 0)
                        return fail_errno(-r);
                n = recv(fd, buf + len, cap - len, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return fail_errno(errno);
                }
                if (n == 0) {
                        record_errno(PSEUDO_SHORT);
                        return OUT_SHORT;
                }
                len += (size_t) n;
                *got += (size_t) n;
        }
        cl = memmem(buf, head, "Content-Length:", 15);
        if (!cl)
                cl = memmem(buf, head, "content-length:", 15);
        if (!cl) {
                note_bad_reply(buf, len);
                record_errno(PSEUDO_SHORT);
                return OUT_SHORT;
        }
        body_len = (size_t) strtoul(cl + 15, NULL, 10);
        if (head + body_len > cap) {
                note_bad_reply(buf, len);
                record_errno(PSEUDO_SHORT);
                return OUT_SHORT;
        }
        while (len < head + body_len) {
                ssize_t n;

                r = set_timeouts(fd, deadline);
                if (r < 0)
                        return fail_errno(-r);
                n = recv(fd, buf + len, head + body_len - len, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return fail_errno(errno);
                }
                if (n == 0) {
                        record_errno(PSEUDO_SHORT);
                        return OUT_SHORT;
                }
                len += (size_t) n;
                *got += (size_t) n;
        }
        *close_after = memmem(buf, head, "Connection: close", 17) != NULL ||
                       memmem(buf, head, "connection: close", 17) != NULL;
        *ret_len = len;
        return OUT_OK;
}

/* -k: one HTTP/1.1 request on the thread's persistent connection *kfd (-1: none yet). */
static enum outcome do_request_ka(int *kfd, uint64_t *ret_lat_us)
{
        char buf[REPLY_KEEP];
        uint64_t t0 = now_us(), deadline = t0 + (uint64_t) opts.timeout_ms * 1000u;
        enum outcome out = OUT_OTHER;

        for (int attempt = 0; attempt < 2; attempt++) {
                bool reused = *kfd >= 0, close_after = false;
                size_t off = 0, len = 0, got = 0;
                long pid;
                int r;

                if (!reused) {
                        int fd = socket(opts.addr.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

                        if (fd < 0)
                                return fail_errno(errno);
                        r = set_timeouts(fd, deadline);
                        if (r < 0) {
                                (void) close(fd);
                                return fail_errno(-r);
                        }
                        while (connect(fd, &opts.addr.sa, opts.addr_len) < 0) {
                                if (errno == EINTR)
                                        continue;
                                out = fail_errno(errno);
                                (void) close(fd);
                                return out;
                        }
                        *kfd = fd;
                }
                r = set_timeouts(*kfd, deadline);
                if (r < 0)
                        out = fail_errno(-r);
                while (r >= 0 && off < request_len) {
                        ssize_t n = send(*kfd, request + off, request_len - off, MSG_NOSIGNAL);

                        if (n < 0) {
                                if (errno == EINTR)
                                        continue;
                                r = -errno;
                                break;
                        }
                        off += (size_t) n;
                }
                if (r >= 0)
                        out = ka_read_reply(*kfd, deadline, buf, sizeof(buf), &len, &got, &close_after);
                else if (!reused)
                        out = fail_errno(-r);
                if (r < 0 || out != OUT_OK) {
                        (void) close(*kfd);
                        *kfd = -1;
                        /* The server closed an idle persistent connection as we reused it:
                         * retry once on a new connection. Not on a fresh one, nor once any
                         * byte of the reply came. */
                        if (reused && got == 0 && (r < 0 || out == OUT_SHORT || out == OUT_RESET)) {
                                pthread_mutex_lock(&lock);
                                reconnects++;
                                if (r >= 0 && out == OUT_SHORT && errno_counts[PSEUDO_SHORT] > 0)
                                        errno_counts[PSEUDO_SHORT]--;
                                else if (r >= 0 && out == OUT_RESET && errno_counts[ECONNRESET] > 0)
                                        errno_counts[ECONNRESET]--;
                                pthread_mutex_unlock(&lock);
                                continue;
                        }
                        return out;
                }
                if (!reply_ok(buf, len, &pid)) {
                        record_errno(PSEUDO_SHORT);
                        note_bad_reply(buf, len);
                        (void) close(*kfd);
                        *kfd = -1;
                        return OUT_SHORT;
                }
                if (close_after) {
                        (void) close(*kfd);
                        *kfd = -1;
                }
                *ret_lat_us = now_us() - t0;
                note_success(pid);
                return OUT_OK;
        }
        return out;
}

static void *worker_main(void *arg)
{
        Worker *w = arg;
        int kfd = -1;

        while (now_us() < end_us) {
                uint64_t lat = 0;
                enum outcome o;

                if (opts.stopfile && access(opts.stopfile, F_OK) == 0)
                        break;
                o = opts.keepalive ? do_request_ka(&kfd, &lat) : do_request(&lat);
                w->counts[o]++;
                if (o != OUT_OK)
                        continue;
                if (w->n_lat == w->cap_lat) {
                        size_t cap = w->cap_lat ? w->cap_lat * 2 : 4096;
                        uint32_t *p = realloc(w->lat_us, cap * sizeof(*p));

                        if (!p) {
                                w->oom = true;  /* keep counting, stop recording latencies */
                                continue;
                        }
                        w->lat_us = p;
                        w->cap_lat = cap;
                }
                w->lat_us[w->n_lat++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t) lat;
        }
        if (kfd >= 0)
                (void) close(kfd);
        return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

        return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static uint32_t percentile(const uint32_t *v, size_t n, unsigned pct)
{
        size_t rank;

        if (n == 0)
                return 0;
        rank = (n * pct + 99) / 100;
        return v[rank > 0 ? rank - 1 : 0];
}

static int parse_args(int argc, char **argv)
{
        const char *host = "127.0.0.1";
        long port = -1;
        int c;

        opts.concurrency = 16;
        opts.duration_s = 5;
        opts.timeout_ms = 5000;
        opts.path = "/";

        while ((c = getopt(argc, argv, "p:H:c:d:t:P:r:kah")) != -1) {
                switch (c) {
                case 'p':
                        if (parse_long('p', optarg, 1, 65535, &port) < 0)
                                return -EINVAL;
                        break;
                case 'H':
                        host = optarg;
                        break;
                case 'c':
                        if (parse_long('c', optarg, 1, CONC_MAX, &opts.concurrency) < 0)
                                return -EINVAL;
                        break;
                case 'd':
                        if (parse_long('d', optarg, 1, 86400, &opts.duration_s) < 0)
                                return -EINVAL;
                        break;
                case 't':
                        if (parse_long('t', optarg, 1, 3600000, &opts.timeout_ms) < 0)
                                return -EINVAL;
                        break;
                case 'P':
                        if (optarg[0] != '/' || strpbrk(optarg, " \r\n")) {
                                fprintf(stderr, "sv-loadclient: -P '%s': expected a path starting with '/', without spaces\n",
                                        optarg);
                                return -EINVAL;
                        }
                        opts.path = optarg;
                        break;
                case 'r':
                        opts.stopfile = optarg;
                        break;
                case 'k':
                        opts.keepalive = true;
                        break;
                case 'a':
                        opts.any_server = true;
                        break;
                case 'h':
                        usage(stdout);
                        exit(0);
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "sv-loadclient: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        if (port < 0) {
                fprintf(stderr, "sv-loadclient: -p PORT is required\n");
                usage(stderr);
                return -EINVAL;
        }

        if (inet_pton(AF_INET, host, &opts.addr.in4.sin_addr) == 1) {
                opts.addr.in4.sin_family = AF_INET;
                opts.addr.in4.sin_port = htons((uint16_t) port);
                opts.addr_len = sizeof(opts.addr.in4);
        } else if (inet_pton(AF_INET6, host, &opts.addr.in6.sin6_addr) == 1) {
                opts.addr.in6.sin6_family = AF_INET6;
                opts.addr.in6.sin6_port = htons((uint16_t) port);
                opts.addr_len = sizeof(opts.addr.in6);
        } else {
                fprintf(stderr, "sv-loadclient: -H '%s': expected a numeric IPv4 or IPv6 address\n", host);
                return -EINVAL;
        }

        request_len = (size_t) snprintf(request, sizeof(request), "GET %s HTTP/1.%c\r\nHost: x\r\n\r\n", opts.path,
                                        opts.keepalive ? '1' : '0');
        if (request_len >= sizeof(request)) {
                fprintf(stderr, "sv-loadclient: -P: path longer than %zu bytes\n", sizeof(request) - 32);
                return -EINVAL;
        }
        return 0;
}

int main(int argc, char **argv)
{
        static Worker workers[CONC_MAX];
        uint64_t counts[_OUT_MAX] = { 0 }, requests, failed, gap_us;
        uint32_t *lat = NULL;
        size_t n_lat = 0, started = 0;
        bool oom = false;
        int r;

        if (parse_args(argc, argv) < 0)
                return 2;
        /* MSG_NOSIGNAL covers our sends; this covers a closed stdout or stderr. */
        (void) signal(SIGPIPE, SIG_IGN);

        start_us = now_us();
        end_us = start_us + (uint64_t) opts.duration_s * 1000000u;
        for (long i = 0; i < opts.concurrency; i++) {
                r = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
                if (r != 0) {
                        fprintf(stderr, "sv-loadclient: unable to start thread %ld: %s, running with %zu\n",
                                i + 1, strerror(r), started);
                        break;
                }
                started++;
        }
        if (started == 0)
                return 1;

        for (size_t i = 0; i < started; i++) {
                (void) pthread_join(workers[i].thread, NULL);
                for (int o = 0; o < _OUT_MAX; o++)
                        counts[o] += workers[i].counts[o];
                n_lat += workers[i].n_lat;
                oom |= workers[i].oom;
        }
        lat = malloc((n_lat ? n_lat : 1) * sizeof(*lat));
        if (!lat) {
                oom = true;
                n_lat = 0;
        } else {
                size_t k = 0;

                for (size_t i = 0; i < started; i++) {
                        memcpy(lat + k, workers[i].lat_us, workers[i].n_lat * sizeof(*lat));
                        k += workers[i].n_lat;
                }
                qsort(lat, n_lat, sizeof(*lat), cmp_u32);
        }

        failed = counts[OUT_REFUSED] + counts[OUT_RESET] + counts[OUT_TIMEOUT] +
                 counts[OUT_SHORT] + counts[OUT_OTHER];
        requests = counts[OUT_OK] + failed;
        /* No success at all: the whole run was one gap. Otherwise the stretch from the last
         * success to the end of the run counts too (a service that went down for good), as
         * the one before the first success does. */
        if (first_ok_us) {
                uint64_t fin = now_us();

                if (fin > end_us)
                        fin = end_us;
                if (fin > last_ok_us && fin - last_ok_us > max_gap_us)
                        max_gap_us = fin - last_ok_us;
        }
        gap_us = first_ok_us ? max_gap_us : now_us() - start_us;

        printf("requests=%" PRIu64 " ok=%" PRIu64 " failed=%" PRIu64 " refused=%" PRIu64
               " reset=%" PRIu64 " timeout=%" PRIu64 " short=%" PRIu64 " other=%" PRIu64
               " pids=%zu p50_us=%" PRIu32 " p99_us=%" PRIu32 " max_us=%" PRIu32 " gap_ms=%" PRIu64,
               requests, counts[OUT_OK], failed, counts[OUT_REFUSED], counts[OUT_RESET],
               counts[OUT_TIMEOUT], counts[OUT_SHORT], counts[OUT_OTHER], n_pids,
               percentile(lat, n_lat, 50), percentile(lat, n_lat, 99),
               n_lat ? lat[n_lat - 1] : 0, gap_us / 1000u);
        if (opts.keepalive)     /* appended only with -k: the line without it is unchanged */
                printf(" reconnects=%" PRIu64, reconnects);
        printf("\n");
        (void) fflush(stdout);

        for (int e = 0; e < ERRNO_MAX; e++) {
                if (errno_counts[e] == 0)
                        continue;
                if (e == PSEUDO_SHORT)
                        fprintf(stderr, "short: EOF before a full valid reply: %" PRIu64 "\n", errno_counts[e]);
                else
                        fprintf(stderr, "errno %d %s (%s): %" PRIu64 "\n", e,
                                strerrorname_np(e) ? strerrorname_np(e) : "?", strerror(e), errno_counts[e]);
        }
        if (bad_replies > 0)
                fprintf(stderr, "short: %" PRIu64 " complete replies were not a valid 200 with pid=, first: '%s'\n",
                        bad_replies, first_bad_reply);
        if (pids_overflow)
                fprintf(stderr, "pids: more than %d distinct pids, counted the first %d\n", PIDS_MAX, PIDS_MAX);
        if (oom)
                fprintf(stderr, "latency: out of memory, percentiles cover part of the successes\n");

        free(lat);
        for (size_t i = 0; i < started; i++)
                free(workers[i].lat_us);
        if (failed > 0 || counts[OUT_OK] == 0)
                return 1;
        return 0;
}
