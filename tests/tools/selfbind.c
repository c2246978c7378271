/* sv-selfbind: the classic self-binding server of the "Address already in use" write-ups.
 * socket(), no SO_REUSEADDR, bind 0.0.0.0:PORT itself, listen, a blocking accept loop, no
 * signal handling; it exits on the first error, as the textbook server does (so an EAGAIN
 * from accept ends it). Each connection gets one HTTP reply with "pid=<pid>", then the
 * server closes first. Used to test the bind shim without the daemon. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* O_NONBLOCK of fd as F_GETFL says (the shim's view on an adopted fd) / as the kernel has it
 * on the open file description (/proc/self/fdinfo, which no shim rewrites). */
static void flags_of(int fd, char *buf, size_t len) {
        char path[64], text[512];
        long real = -1;
        (void) snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
        FILE *f = fopen(path, "re");
        if (f) {
                while (fgets(text, sizeof(text), f))
                        if (sscanf(text, "flags: %lo", &real) == 1)
                                break;
                fclose(f);
        }
        int view = fcntl(fd, F_GETFL);
        (void) snprintf(buf, len, "%s/%s", view < 0 ? "?" : (view & O_NONBLOCK) ? "nonblock" : "block",
                        real < 0 ? "?" : (real & O_NONBLOCK) ? "nonblock" : "block");
}

/* --report-flags: switch the blocking mode every way a program can and print view/real after
 * each step, ending blocking again. */
static void report_flags(int fd) {
        char a[32], b[32], c[32], d[32], e[32];
        int one = 1, zero = 0;
        flags_of(fd, a, sizeof(a));
        (void) ioctl(fd, FIONBIO, &one);
        flags_of(fd, b, sizeof(b));
        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        flags_of(fd, c, sizeof(c));
        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        flags_of(fd, d, sizeof(d));
        (void) ioctl(fd, FIONBIO, &zero);
        flags_of(fd, e, sizeof(e));
        printf("flags start=%s fionbio1=%s setfl0=%s setfl1=%s fionbio0=%s\n", a, b, c, d, e);
}

static void usage(FILE *f) {
        fprintf(f, "usage: sv-selfbind [--addr A] [--never-listen] [--boot-ms N] [--slow-ms N] [--report-flags] PORT\n"
                   "Binds A:PORT (default 0.0.0.0; an address with ':' is IPv6) itself, without\n"
                   "SO_REUSEADDR, listens and serves 'HTTP/1.1 200 ... pid=N' in a blocking accept loop.\n"
                   "--never-listen: bind, then sleep forever (a bad deploy). --boot-ms N: sleep N ms\n"
                   "before socket() (a slow boot). --report-flags: after listen, toggle O_NONBLOCK with\n"
                   "FIONBIO and F_SETFL and print F_GETFL's view and the kernel's flag after each step.\n"
                   "--slow-ms N: wait N ms before each reply (a long request).\n");
}

int main(int argc, char **argv) {
        const char *addr = "0.0.0.0";
        bool never_listen = false, flags = false;
        long boot_ms = 0, slow_ms = 0, port = -1;

        for (int k = 1; k < argc; k++) {
                if (strcmp(argv[k], "--addr") == 0 && k + 1 < argc)
                        addr = argv[++k];
                else if (strcmp(argv[k], "--never-listen") == 0)
                        never_listen = true;
                else if (strcmp(argv[k], "--report-flags") == 0)
                        flags = true;
                else if (strcmp(argv[k], "--boot-ms") == 0 && k + 1 < argc)
                        boot_ms = strtol(argv[++k], NULL, 10);
                else if (strcmp(argv[k], "--slow-ms") == 0 && k + 1 < argc)
                        slow_ms = strtol(argv[++k], NULL, 10);
                else if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
                        usage(stdout);
                        return 0;
                } else if (port < 0 && argv[k][0] >= '0' && argv[k][0] <= '9')
                        port = strtol(argv[k], NULL, 10);
                else {
                        usage(stderr);
                        return 2;
                }
        }
        if (port < 0 || port > 65535 || boot_ms < 0 || boot_ms > 600000) {
                usage(stderr);
                return 2;
        }
        if (boot_ms > 0) {
                struct timespec ts = { .tv_sec = boot_ms / 1000, .tv_nsec = (boot_ms % 1000) * 1000000L };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
        }

        union {
                struct sockaddr sa;
                struct sockaddr_in in4;
                struct sockaddr_in6 in6;
        } sa = { 0 };
        socklen_t salen;
        int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
        if (family == AF_INET) {
                sa.in4.sin_family = AF_INET;
                sa.in4.sin_port = htons((uint16_t) port);
                salen = sizeof(sa.in4);
                if (inet_pton(AF_INET, addr, &sa.in4.sin_addr) != 1) {
                        fprintf(stderr, "sv-selfbind: --addr '%s': expected an IPv4 or IPv6 address\n", addr);
                        return 2;
                }
        } else {
                sa.in6.sin6_family = AF_INET6;
                sa.in6.sin6_port = htons((uint16_t) port);
                salen = sizeof(sa.in6);
                if (inet_pton(AF_INET6, addr, &sa.in6.sin6_addr) != 1) {
                        fprintf(stderr, "sv-selfbind: --addr '%s': expected an IPv4 or IPv6 address\n", addr);
                        return 2;
                }
        }

        int fd = socket(family, SOCK_STREAM, 0);
        if (fd < 0) {
                perror("sv-selfbind: socket");
                return 1;
        }
        if (bind(fd, &sa.sa, salen) < 0) {
                fprintf(stderr, "sv-selfbind: bind %s:%ld: %s\n", addr, port, strerror(errno));
                return 1;
        }
        if (never_listen) {
                printf("sv-selfbind: pid %d bound %s:%ld, never listening\n", (int) getpid(), addr, port);
                fflush(stdout);
                for (;;)
                        pause();
        }
        if (listen(fd, 128) < 0) {
                perror("sv-selfbind: listen");
                return 1;
        }
        if (flags)
                report_flags(fd);
        printf("sv-selfbind: pid %d listening on %s:%ld fd %d\n", (int) getpid(), addr, port, fd);
        fflush(stdout);

        char reply[256];
        int body_len = snprintf(NULL, 0, "pid=%d\n", (int) getpid());
        int reply_len = snprintf(reply, sizeof(reply),
                                 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                                 "Connection: close\r\n\r\npid=%d\n",
                                 body_len, (int) getpid());
        for (;;) {
                int c = accept(fd, NULL, NULL);
                if (c < 0) {
                        fprintf(stderr, "sv-selfbind: accept: %s\n", strerror(errno));
                        return 1;
                }
                struct timeval tv = { .tv_sec = 5 };
                (void) setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                char req[4096];
                size_t got = 0;
                while (got < sizeof(req) - 1) { /* bounded: one buffer, 5 s per read */
                        ssize_t n = read(c, req + got, sizeof(req) - 1 - got);
                        if (n <= 0)
                                break;
                        got += (size_t) n;
                        req[got] = '\0';
                        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
                                break;
                }
                if (slow_ms > 0) { /* a long request: in flight when a restart comes */
                        struct timespec t = { .tv_sec = slow_ms / 1000, .tv_nsec = (slow_ms % 1000) * 1000000L };
                        (void) nanosleep(&t, NULL);
                }
                (void) send(c, reply, (size_t) reply_len, MSG_NOSIGNAL); /* one write */
                (void) close(c);
        }
}
