/* sv-ctlflood: a flood of control connections that never make a request, for the tests.
 * Opens IDLE connections that send nothing and HALF that send part of a request line with
 * no newline, holds them for SECONDS, and says how many the daemon closed and how soon.
 * With -r it re-opens each one the daemon closes, so the flood stays on for the whole time.
 * Every loop is bounded by the clock: opening gives up after 10 s. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX 10000
#define OPEN_DEADLINE_MS 10000
#define HALF_LINE "SOCKVISOR/1 stat" /* a request cut off before its newline */

typedef struct Conn {
        int fd;
        bool half;
        int64_t opened_ms, closed_ms; /* closed_ms: when we saw the daemon close it, or -1 */
} Conn;

static struct sockaddr_un addr = { .sun_family = AF_UNIX };

static int64_t now_ms(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One connection, retried while the backlog is full, until deadline. -1 if it never got in. */
static int open_one(bool half, int64_t deadline) {
        while (now_ms() < deadline) {
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0)
                        return -1;
                if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) == 0) {
                        if (half)
                                (void) !send(fd, HALF_LINE, strlen(HALF_LINE), MSG_NOSIGNAL);
                        return fd;
                }
                int e = errno;
                close(fd);
                if (e != EAGAIN)
                        return -1;
                (void) usleep(1000); /* the daemon's backlog is full: it is working through it */
        }
        return -1;
}

int main(int argc, char **argv) {
        bool refill = false;
        int a = 1;
        if (argc > 1 && strcmp(argv[1], "-r") == 0) {
                refill = true;
                a++;
        }
        if (argc - a != 4) {
                fprintf(stderr, "usage: sv-ctlflood [-r] SOCKET IDLE HALF SECONDS\n"
                                "Open IDLE silent and HALF half-line connections to SOCKET, hold them SECONDS;\n"
                                "-r: re-open each one the daemon closes.\n");
                return 64;
        }
        int n_idle = atoi(argv[a + 1]), n_half = atoi(argv[a + 2]), secs = atoi(argv[a + 3]);
        if (n_idle < 0 || n_half < 0 || n_idle + n_half > CONNS_MAX || secs < 0 || secs > 120 ||
            strlen(argv[a]) >= sizeof(addr.sun_path)) {
                fprintf(stderr, "sv-ctlflood: at most %d connections and 120 s, and a socket path that fits\n",
                        CONNS_MAX);
                return 64;
        }
        strcpy(addr.sun_path, argv[a]);
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }

        int n = n_idle + n_half;
        Conn *c = calloc((size_t) n + 1, sizeof(Conn));
        struct pollfd *p = calloc((size_t) n + 1, sizeof(struct pollfd));
        if (!c || !p)
                return 70;
        int64_t start = now_ms(), deadline = start + OPEN_DEADLINE_MS;
        int opened = 0;
        for (int k = 0; k < n; k++) {
                c[k].half = k >= n_idle;
                c[k].fd = open_one(c[k].half, deadline);
                c[k].opened_ms = now_ms();
                c[k].closed_ms = -1;
                opened += c[k].fd >= 0;
        }
        printf("opened %d of %d connections (%d idle, %d half-line) in %lld ms\n", opened, n, n_idle, n_half,
               (long long) (now_ms() - start));
        fflush(stdout);

        long reopened = 0;
        int64_t end = now_ms() + (int64_t) secs * 1000;
        while (now_ms() < end) {
                for (int k = 0; k < n; k++)
                        p[k] = (struct pollfd){ .fd = c[k].fd, .events = POLLIN };
                int r = poll(p, (nfds_t) n, 50);
                if (r < 0 && errno != EINTR)
                        return 71;
                for (int k = 0; r > 0 && k < n; k++) {
                        if (!p[k].revents)
                                continue;
                        char buf[512];
                        if (recv(c[k].fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 && !(p[k].revents & POLLHUP))
                                continue; /* a reply line, such as an error: the close follows */
                        if (c[k].closed_ms < 0)
                                c[k].closed_ms = now_ms();
                        close(c[k].fd);
                        c[k].fd = refill ? open_one(c[k].half, end) : -1;
                        reopened += c[k].fd >= 0;
                }
        }
        for (int kind = 0; kind < 2; kind++) {
                int closed = 0, total = 0;
                int64_t first = -1, last = -1;
                for (int k = 0; k < n; k++) {
                        if (c[k].half != kind)
                                continue;
                        total++;
                        if (c[k].closed_ms < 0)
                                continue;
                        closed++;
                        int64_t age = c[k].closed_ms - c[k].opened_ms;
                        first = first < 0 || age < first ? age : first;
                        last = age > last ? age : last;
                }
                printf("%s: %d of %d closed by the daemon, after %lld to %lld ms\n", kind ? "half-line" : "idle",
                       closed, total, (long long) first, (long long) last);
        }
        if (refill)
                printf("re-opened %ld\n", reopened);
        for (int k = 0; k < n; k++)
                if (c[k].fd >= 0)
                        close(c[k].fd);
        free(c);
        free(p);
        return opened == n ? 0 : 1;
}
