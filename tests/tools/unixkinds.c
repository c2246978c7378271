/* sv-unixkinds: both ends of unix stream, datagram and seqpacket sockets for the end-to-end
 * tests of the socket kinds. ADDR is a path ("/run/x.sock") or an abstract name ("@name");
 * TYPE is stream, dgram or seqpacket.
 *
 *   sv-unixkinds worker REPORT
 *        a worker: writes REPORT (atomically) with one line per passed fd 3..3+LISTEN_FDS-1,
 *        "fd N TYPE ADDR listening|unlistened inode INO", then "names LISTEN_FDNAMES", sends
 *        READY=1, and serves until SIGTERM: each datagram that arrives is appended to
 *        REPORT.msgs as "fd N got TEXT"; a stream or seqpacket connection is accepted, one
 *        message read, "echo:TEXT" sent back and the connection closed.
 *   sv-unixkinds send ADDR TEXT
 *        sends TEXT as one datagram to ADDR.
 *   sv-unixkinds call TYPE ADDR TEXT
 *        connects a TYPE socket to ADDR, sends TEXT, prints the reply (5 s at most).
 *   sv-unixkinds hold TYPE ADDR READYFILE [PEER]
 *        binds ADDR (and listens, unless dgram), connects a dgram socket to PEER if given,
 *        creates READYFILE, and prints what it receives until a signal (60 s at most).
 *   sv-unixkinds stale TYPE PATH
 *        binds PATH and exits without removing it: a stale socket file.
 *
 * Exit status 0 on success, 1 with a message naming the step and errno otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define FDS_MAX 16

static int die(const char *what, const char *arg) {
        fprintf(stderr, "sv-unixkinds: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
        return 1;
}

static int parse_type(const char *s) {
        if (strcmp(s, "stream") == 0)
                return SOCK_STREAM;
        if (strcmp(s, "dgram") == 0)
                return SOCK_DGRAM;
        if (strcmp(s, "seqpacket") == 0)
                return SOCK_SEQPACKET;
        fprintf(stderr, "sv-unixkinds: '%s' is not stream, dgram or seqpacket\n", s);
        exit(2);
}

static const char *type_name(int t) {
        return t == SOCK_STREAM ? "stream" : t == SOCK_DGRAM ? "dgram" : t == SOCK_SEQPACKET ? "seqpacket" : "other";
}

static socklen_t make_addr(const char *s, struct sockaddr_un *sun) {
        size_t n = strlen(s);
        *sun = (struct sockaddr_un){ .sun_family = AF_UNIX };
        if (n == 0 || n >= sizeof(sun->sun_path)) {
                fprintf(stderr, "sv-unixkinds: bad address '%s'\n", s);
                exit(2);
        }
        memcpy(sun->sun_path, s, n);
        if (s[0] == '@') {
                sun->sun_path[0] = '\0';
                return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n);
        }
        return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1);
}

static void format_addr(const struct sockaddr_un *sun, socklen_t len, char *buf, size_t size) {
        size_t n = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
        if (n == 0)
                (void) snprintf(buf, size, "-");
        else if (sun->sun_path[0] == '\0')
                (void) snprintf(buf, size, "@%.*s", (int) (n - 1), sun->sun_path + 1);
        else
                (void) snprintf(buf, size, "%.*s", (int) strnlen(sun->sun_path, n), sun->sun_path);
}

static void send_ready(void) {
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sun;
        if (!path || !*path || strlen(path) >= sizeof(sun.sun_path))
                return;
        socklen_t len = make_addr(path, &sun);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return;
        (void) sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *) &sun, len);
        close(fd);
}

static void append(const char *path, const char *line) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        (void) !write(fd, line, strlen(line));
        close(fd);
}

static int worker(const char *report) {
        const char *e = getenv("LISTEN_FDS");
        int n = e ? atoi(e) : 0, types[FDS_MAX];
        char tmp[4096], msgs[4096];

        if (n < 0 || n > FDS_MAX)
                n = 0;
        (void) snprintf(tmp, sizeof(tmp), "%s.tmp", report);
        (void) snprintf(msgs, sizeof(msgs), "%s.msgs", report);
        FILE *f = fopen(tmp, "we");
        if (!f)
                return die("fopen", tmp);
        for (int k = 0; k < n; k++) {
                int fd = 3 + k, acc = 0;
                socklen_t il = sizeof(int), sl;
                struct sockaddr_un sun;
                struct stat st;
                char name[256];

                types[k] = -1;
                sl = sizeof(sun);
                il = sizeof(int);
                if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &types[k], &il) < 0 ||
                    getsockname(fd, (struct sockaddr *) &sun, &sl) < 0 || fstat(fd, &st) < 0) {
                        fprintf(f, "fd %d not-a-socket\n", fd);
                        continue;
                }
                il = sizeof(int);
                (void) getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &il);
                if (sun.sun_family != AF_UNIX)
                        (void) snprintf(name, sizeof(name), "family-%d", (int) sun.sun_family);
                else
                        format_addr(&sun, sl, name, sizeof(name));
                fprintf(f, "fd %d %s %s %s inode %lu\n", fd, type_name(types[k]), name, acc ? "listening" : "unlistened",
                        (unsigned long) st.st_ino);
        }
        fprintf(f, "names %s\n", getenv("LISTEN_FDNAMES") ? getenv("LISTEN_FDNAMES") : "");
        if (fclose(f) != 0 || rename(tmp, report) < 0)
                return die("write", report);
        send_ready();

        for (;;) {
                struct pollfd p[FDS_MAX];
                for (int k = 0; k < n; k++)
                        p[k] = (struct pollfd){ .fd = 3 + k, .events = POLLIN };
                if (poll(p, (nfds_t) n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return die("poll", NULL);
                }
                for (int k = 0; k < n; k++) {
                        char buf[512], line[600];
                        if (!(p[k].revents & POLLIN))
                                continue;
                        if (types[k] == SOCK_DGRAM) {
                                ssize_t r = recv(p[k].fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
                                if (r < 0)
                                        continue;
                                buf[r] = '\0';
                                (void) snprintf(line, sizeof(line), "fd %d got %s\n", p[k].fd, buf);
                                append(msgs, line);
                                continue;
                        }
                        int c = accept4(p[k].fd, NULL, NULL, SOCK_CLOEXEC);
                        if (c < 0)
                                continue;
                        struct timeval tv = { .tv_sec = 5 };
                        (void) setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                        ssize_t r = recv(c, buf, sizeof(buf) - 1, 0);
                        if (r > 0) {
                                buf[r] = '\0';
                                (void) snprintf(line, sizeof(line), "echo:%s", buf);
                                (void) send(c, line, strlen(line), MSG_NOSIGNAL);
                                (void) snprintf(line, sizeof(line), "fd %d served %s\n", p[k].fd, buf);
                                append(msgs, line);
                        }
                        close(c);
                }
        }
}

static int do_send(const char *addr, const char *text) {
        struct sockaddr_un sun;
        socklen_t len = make_addr(addr, &sun);
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return die("socket", NULL);
        if (sendto(fd, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *) &sun, len) < 0)
                return die("sendto", addr);
        close(fd);
        return 0;
}

static int do_call(int type, const char *addr, const char *text) {
        struct sockaddr_un sun;
        socklen_t len = make_addr(addr, &sun);
        struct timeval tv = { .tv_sec = 5 };
        char buf[600];
        int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return die("socket", NULL);
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *) &sun, len) < 0)
                return die("connect", addr);
        if (send(fd, text, strlen(text), MSG_NOSIGNAL) < 0)
                return die("send", addr);
        ssize_t r = recv(fd, buf, sizeof(buf) - 1, 0);
        if (r < 0)
                return die("recv", addr);
        buf[r] = '\0';
        printf("%s\n", buf);
        close(fd);
        return 0;
}

static int do_hold(int type, const char *addr, const char *readyfile, const char *peer) {
        struct sockaddr_un sun;
        socklen_t len = make_addr(addr, &sun);
        int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return die("socket", NULL);
        if (bind(fd, (struct sockaddr *) &sun, len) < 0)
                return die("bind", addr);
        if (type != SOCK_DGRAM && listen(fd, 16) < 0)
                return die("listen", addr);
        if (peer) {
                len = make_addr(peer, &sun);
                if (connect(fd, (struct sockaddr *) &sun, len) < 0)
                        return die("connect", peer);
        }
        int r = open(readyfile, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (r < 0)
                return die("create", readyfile);
        close(r);
        alarm(60); /* bounded even if the test that started us forgets us */
        for (;;) {
                char buf[512];
                ssize_t k = type == SOCK_DGRAM ? recv(fd, buf, sizeof(buf) - 1, 0) : -1;
                if (k >= 0) {
                        buf[k] = '\0';
                        printf("got %s\n", buf);
                        fflush(stdout);
                } else if (type != SOCK_DGRAM)
                        pause();
        }
}

static int do_stale(int type, const char *path) {
        struct sockaddr_un sun;
        socklen_t len = make_addr(path, &sun);
        int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return die("socket", NULL);
        if (bind(fd, (struct sockaddr *) &sun, len) < 0)
                return die("bind", path);
        return 0; /* exit leaves the file behind */
}

int main(int argc, char **argv) {
        if (argc == 3 && strcmp(argv[1], "worker") == 0)
                return worker(argv[2]);
        if (argc == 4 && strcmp(argv[1], "send") == 0)
                return do_send(argv[2], argv[3]);
        if (argc == 5 && strcmp(argv[1], "call") == 0)
                return do_call(parse_type(argv[2]), argv[3], argv[4]);
        if ((argc == 5 || argc == 6) && strcmp(argv[1], "hold") == 0)
                return do_hold(parse_type(argv[2]), argv[3], argv[4], argc == 6 ? argv[5] : NULL);
        if (argc == 4 && strcmp(argv[1], "stale") == 0)
                return do_stale(parse_type(argv[2]), argv[3]);
        fprintf(stderr, "usage: sv-unixkinds worker REPORT | send ADDR TEXT | call TYPE ADDR TEXT | "
                        "hold TYPE ADDR READYFILE [PEER] | stale TYPE PATH\n");
        return 2;
}
