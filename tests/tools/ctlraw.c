/* sv-ctlraw: talk to a control socket byte for byte, for the tests. Connects to a unix
 * stream socket, sends one line, optionally half-closes (shutdown(SHUT_WR)), and prints
 * every reply line as it arrives, within a bounded time. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_FINAL = 0, EXIT_NO_FINAL = 2, EXIT_TIMEOUT = 3, EXIT_USAGE = 64, EXIT_CONNECT = 69 };

static void usage(FILE *f) {
        fprintf(f,
                "usage: sv-ctlraw [-H] [-n] [-t MS] SOCKET LINE\n"
                "Connect to the unix stream socket SOCKET, send LINE and a newline, and print every\n"
                "reply line as it arrives.\n"
                "  -H     half-close after sending (shutdown(SHUT_WR)): we send nothing more\n"
                "  -n     send LINE without the newline (an incomplete request)\n"
                "  -t MS  give up after MS milliseconds in all (default 10000)\n"
                "Exit: 0 a final line (OK or ERR) came, 2 the daemon closed without one,\n"
                "3 timed out, 64 usage, 69 cannot connect.\n");
}

static long long now_ms(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_final(const char *line) {
        return strcmp(line, "OK") == 0 || strncmp(line, "OK ", 3) == 0 || strcmp(line, "ERR") == 0 ||
               strncmp(line, "ERR ", 4) == 0;
}

int main(int argc, char **argv) {
        bool half_close = false, newline = true;
        long timeout_ms = 10000;
        int c;

        while ((c = getopt(argc, argv, "Hnt:h")) != -1)
                switch (c) {
                case 'H':
                        half_close = true;
                        break;
                case 'n':
                        newline = false;
                        break;
                case 't': {
                        char *end;
                        timeout_ms = strtol(optarg, &end, 10);
                        if (*end || timeout_ms <= 0 || timeout_ms > 600000) {
                                fprintf(stderr, "sv-ctlraw: -t wants 1..600000 milliseconds, not '%s'\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                }
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        if (argc - optind != 2) {
                usage(stderr);
                return EXIT_USAGE;
        }
        const char *path = argv[optind], *line = argv[optind + 1];

        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sun.sun_path)) {
                fprintf(stderr, "sv-ctlraw: socket path %s is too long\n", path);
                return EXIT_USAGE;
        }
        strcpy(sun.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
                fprintf(stderr, "sv-ctlraw: cannot connect to %s: %s\n", path, strerror(errno));
                return EXIT_CONNECT;
        }

        size_t len = strlen(line);
        char *req = malloc(len + 2);
        if (!req)
                return 1;
        memcpy(req, line, len);
        if (newline)
                req[len++] = '\n';
        for (size_t off = 0; off < len;) {
                ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "sv-ctlraw: cannot send the request: %s\n", strerror(errno));
                        return EXIT_NO_FINAL;
                }
                off += (size_t) n;
        }
        free(req);
        if (half_close && shutdown(fd, SHUT_WR) < 0) {
                fprintf(stderr, "sv-ctlraw: shutdown(SHUT_WR): %s\n", strerror(errno));
                return 1;
        }

        static char buf[1 << 16];
        size_t have = 0;
        unsigned lines = 0;
        long long deadline = now_ms() + timeout_ms;
        for (;;) {
                long long left = deadline - now_ms();
                if (left <= 0) {
                        fprintf(stderr, "sv-ctlraw: no final line within %ld ms (%u lines so far)\n", timeout_ms,
                                lines);
                        return EXIT_TIMEOUT;
                }
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int pr = poll(&p, 1, (int) left);
                if (pr < 0 && errno != EINTR) {
                        fprintf(stderr, "sv-ctlraw: poll: %s\n", strerror(errno));
                        return 1;
                }
                if (pr <= 0)
                        continue;
                if (have == sizeof(buf)) {
                        fprintf(stderr, "sv-ctlraw: a reply line longer than %zu bytes\n", sizeof(buf));
                        return 1;
                }
                ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        fprintf(stderr, "sv-ctlraw: recv: %s (%u lines so far)\n", strerror(errno), lines);
                        return EXIT_NO_FINAL;
                }
                if (n == 0) {
                        if (have)
                                printf("%.*s\n", (int) have, buf);
                        fprintf(stderr, "sv-ctlraw: the daemon closed the connection after %u lines without a "
                                        "final line%s\n",
                                lines, have ? " (and an unterminated one)" : "");
                        return EXIT_NO_FINAL;
                }
                have += (size_t) n;
                char *nl;
                while ((nl = memchr(buf, '\n', have))) {
                        *nl = '\0';
                        printf("%s\n", buf);
                        fflush(stdout);
                        lines++;
                        bool final = is_final(buf);
                        size_t used = (size_t) (nl - buf) + 1;
                        memmove(buf, nl + 1, have - used);
                        have -= used;
                        if (final)
                                return EXIT_FINAL;
                }
        }
}
