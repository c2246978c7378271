/* sv-freeport: print TCP ports on 127.0.0.1 that were free a moment ago, for the tests. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORTS_MAX 1024

static void usage(FILE *f)
{
        fprintf(f,
                "usage: sv-freeport [-n N]\n"
                "Print N (default 1, at most %d) distinct TCP ports on 127.0.0.1 that were free\n"
                "a moment ago, one per line. Another process may take a port before you bind it.\n",
                PORTS_MAX);
}

/* Bind 127.0.0.1:0 and return the fd; *ret_port gets the port the kernel chose.
 * SO_REUSEADDR stays off so that a port with TIME_WAIT entries left by a listener
 * without SO_REUSEADDR is not handed out: the kernel only offers ports that a plain
 * bind() can take right now. */
static int bind_any_port(unsigned *ret_port)
{
        struct sockaddr_in sa = {
                .sin_family = AF_INET,
                .sin_port = 0,
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
        };
        socklen_t len = sizeof(sa);
        int fd, r;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &len) < 0) {
                r = -errno;
                (void) close(fd);
                return r;
        }
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

int main(int argc, char **argv)
{
        static int fds[PORTS_MAX];
        static unsigned ports[PORTS_MAX];
        long n = 1;
        char *end;
        int c;

        while ((c = getopt(argc, argv, "n:h")) != -1) {
                switch (c) {
                case 'n':
                        errno = 0;
                        n = strtol(optarg, &end, 10);
                        if (errno != 0 || end == optarg || *end != '\0' || n < 1 || n > PORTS_MAX) {
                                fprintf(stderr, "sv-freeport: -n '%s': expected an integer 1..%d\n",
                                        optarg, PORTS_MAX);
                                return 2;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind != argc) {
                fprintf(stderr, "sv-freeport: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return 2;
        }

        /* All sockets stay bound until every port is chosen, so the N ports are distinct. */
        for (long i = 0; i < n; i++) {
                fds[i] = bind_any_port(&ports[i]);
                if (fds[i] < 0) {
                        fprintf(stderr, "sv-freeport: unable to bind 127.0.0.1:0 (port %ld of %ld): %s\n",
                                i + 1, n, strerror(-fds[i]));
                        return 1;
                }
        }
        for (long i = 0; i < n; i++)
                (void) close(fds[i]);   /* never listened, so no TIME_WAIT is left behind */

        for (long i = 0; i < n; i++)
                printf("%u\n", ports[i]);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "sv-freeport: unable to write to stdout: %s\n", strerror(errno));
                return 1;
        }
        return 0;
}
