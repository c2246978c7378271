/* sv-whytool: reproduce, for real, each reason a bind() fails with EADDRINUSE, for the
 * port doctor's end-to-end test (tests/e2e/test_why.sh). Loopback and $T paths only. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void usage(FILE *f) {
        fprintf(f,
                "usage: sv-whytool [-r] [-t SECONDS] [-o READYFILE] COMMAND ARGS\n"
                "  listen tcp|udp PORT    bind 127.0.0.1:PORT (and listen, tcp), hold it\n"
                "  listen6 PORT           bind [::]:PORT dual-stack and listen, hold it\n"
                "  unix PATH              listen on a unix socket file, hold it\n"
                "  stale PATH             bind a unix socket file and exit without removing it\n"
                "  closefirst PORT N      listen on 127.0.0.1:PORT, accept N connections from itself,\n"
                "                         close each server side first (TIME_WAIT on PORT), exit\n"
                "  child PORT             listen on 127.0.0.1:PORT, connect, accept, fork a child that\n"
                "                         keeps the accepted connection; the listener is closed; the\n"
                "                         parent keeps the client end. READYFILE gets the child's pid\n"
                "  forked PORT N          listen on 127.0.0.1:PORT, accept N connections from itself,\n"
                "                         fork a child; both hold the listener and every connection.\n"
                "                         READYFILE gets 'PARENT CHILD'\n"
                "  trybind PORT           bind 127.0.0.1:PORT once; exit 0 if it worked, else 1\n"
                "-r sets SO_REUSEADDR; -t bounds how long a holder lives (default 60 s); -o writes\n"
                "'PID' to READYFILE once the situation is set up.\n");
}

static int opt_reuse = 0;
static const char *opt_ready = NULL;

static void die(const char *what) {
        fprintf(stderr, "sv-whytool: %s: %s\n", what, strerror(errno));
        exit(2);
}

static void ready(long pid) {
        if (!opt_ready)
                return;
        char tmp[4200];
        snprintf(tmp, sizeof(tmp), "%s.tmp", opt_ready);
        FILE *f = fopen(tmp, "we");
        if (!f || fprintf(f, "%ld\n", pid) < 0 || fclose(f) != 0 || rename(tmp, opt_ready) < 0)
                die("write the ready file");
}

static int inet_socket(int family, int type, unsigned port, bool do_listen) {
        int fd = socket(family, type | SOCK_CLOEXEC, 0);
        int one = 1;

        if (fd < 0)
                die("socket");
        if (opt_reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                die("SO_REUSEADDR");
        if (family == AF_INET) {
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                        return -errno;
        } else {
                struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t) port),
                                           .sin6_addr = IN6ADDR_ANY_INIT };
                int zero = 0;
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
                if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                        return -errno;
        }
        if (do_listen && type == SOCK_STREAM && listen(fd, 128) < 0)
                die("listen");
        return fd;
}

static int must(int fd, const char *what) {
        if (fd < 0) {
                errno = -fd;
                die(what);
        }
        return fd;
}

static int connect_loopback(unsigned port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                die("connect");
        return fd;
}

static int unix_listen(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
                die("unix socket");
        strcpy(sa.sun_path, path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
                die("bind/listen unix");
        return fd;
}

static void hold(void) {
        for (;;)
                pause(); /* until killed, or SIGALRM (-t) ends it */
}

int main(int argc, char **argv) {
        unsigned seconds = 60;
        int c;

        while ((c = getopt(argc, argv, "+rt:o:h")) >= 0)
                switch (c) {
                case 'r':
                        opt_reuse = 1;
                        break;
                case 't':
                        seconds = (unsigned) atoi(optarg);
                        break;
                case 'o':
                        opt_ready = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 64;
                }
        if (optind >= argc) {
                usage(stderr);
                return 64;
        }
        const char *cmd = argv[optind];
        char **a = argv + optind + 1;
        int n = argc - optind - 1;

        (void) signal(SIGPIPE, SIG_IGN);
        alarm(seconds);

        if (strcmp(cmd, "listen") == 0 && n == 2) {
                int type = strcmp(a[0], "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM;
                must(inet_socket(AF_INET, type, (unsigned) atoi(a[1]), true), "bind");
                ready(getpid());
                hold();
        } else if (strcmp(cmd, "listen6") == 0 && n == 1) {
                must(inet_socket(AF_INET6, SOCK_STREAM, (unsigned) atoi(a[0]), true), "bind [::]");
                ready(getpid());
                hold();
        } else if (strcmp(cmd, "unix") == 0 && n == 1) {
                unix_listen(a[0]);
                ready(getpid());
                hold();
        } else if (strcmp(cmd, "stale") == 0 && n == 1) {
                unix_listen(a[0]);
                ready(getpid());
                return 0; /* exits without unlink(): the file stays, nobody listens */
        } else if (strcmp(cmd, "closefirst") == 0 && n == 2) {
                unsigned port = (unsigned) atoi(a[0]);
                int count = atoi(a[1]);
                int lfd = must(inet_socket(AF_INET, SOCK_STREAM, port, true), "bind");

                if (count < 1 || count > 5000)
                        count = 1;
                for (int i = 0; i < count; i++) {
                        int cfd = connect_loopback(port);
                        int sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                        char b;

                        if (sfd < 0)
                                die("accept");
                        (void) close(sfd); /* the server closes first: TIME_WAIT lands on PORT */
                        while (read(cfd, &b, 1) > 0) /* until the server's FIN */
                                ;
                        (void) close(cfd);
                }
                (void) close(lfd);
                ready(getpid());
                return 0;
        } else if (strcmp(cmd, "child") == 0 && n == 1) {
                unsigned port = (unsigned) atoi(a[0]);
                int lfd = must(inet_socket(AF_INET, SOCK_STREAM, port, true), "bind");
                int cfd = connect_loopback(port);
                int sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                pid_t pid;

                if (sfd < 0)
                        die("accept");
                pid = fork();
                if (pid < 0)
                        die("fork");
                if (pid == 0) {
                        /* The child serves the accepted connection; it has no listener. */
                        (void) close(lfd);
                        (void) close(cfd);
                        alarm(seconds); /* alarms are not inherited across fork */
                        hold();
                }
                (void) close(lfd); /* the listener is gone... */
                (void) close(sfd); /* ...and the parent handed the connection over */
                ready(pid);
                hold(); /* keeps the client end open, so the child's connection stays ESTABLISHED */
        } else if (strcmp(cmd, "forked") == 0 && n == 2) {
                unsigned port = (unsigned) atoi(a[0]);
                int count = atoi(a[1]);
                int lfd = must(inet_socket(AF_INET, SOCK_STREAM, port, true), "bind");
                pid_t pid;

                if (count < 0 || count > 2000)
                        count = 0;
                for (int i = 0; i < count; i++) {
                        (void) connect_loopback(port); /* kept open: the connection stays ESTABLISHED */
                        if (accept4(lfd, NULL, NULL, SOCK_CLOEXEC) < 0)
                                die("accept");
                }
                pid = fork();
                if (pid < 0)
                        die("fork");
                if (pid == 0) {
                        alarm(seconds); /* alarms are not inherited across fork */
                        hold();
                }
                if (opt_ready) {
                        char tmp[4200];
                        snprintf(tmp, sizeof(tmp), "%s.tmp", opt_ready);
                        FILE *f = fopen(tmp, "we");
                        if (!f || fprintf(f, "%ld %ld\n", (long) getpid(), (long) pid) < 0 || fclose(f) != 0 ||
                            rename(tmp, opt_ready) < 0)
                                die("write the ready file");
                }
                hold(); /* the child dies by its own alarm, or by the test's kill */
        } else if (strcmp(cmd, "trybind") == 0 && n == 1) {
                int fd = inet_socket(AF_INET, SOCK_STREAM, (unsigned) atoi(a[0]), false);
                if (fd < 0) {
                        printf("bind: %s\n", strerror(-fd));
                        return 1;
                }
                printf("bind: ok\n");
                return 0;
        }
        usage(stderr);
        return 64;
}
