/* sv-fdstoreworker: a worker for the fd store tests. It finds what it was passed by name
 * (LISTEN_FDS, LISTEN_FDNAMES), uses or stores fds with FDSTORE=1 (sd_pid_notify_with_fds
 * done by hand: sendmsg with SCM_RIGHTS to $NOTIFY_SOCKET), reports to FILE, sends READY=1
 * and waits for SIGTERM.
 *
 *   sv-fdstoreworker [OPTIONS] FILE
 *   --counter            a memfd named "counter" holds a number: when one was passed, add 1;
 *                        else make one holding 0 and store it. Writes "counter N".
 *   --upstream PORT      an fd named "upstream" is a TCP connection to 127.0.0.1:PORT: when
 *                        one was passed, send "gen G pid P" on it; else connect, send "first
 *                        pid P" and store it. Writes "upstream reused" or "upstream new".
 *   --store-extra N      store N more memfds named "extra", one message each.
 *   --remove-on-hup NAME on SIGHUP send FDSTOREREMOVE=1 FDNAME=NAME (and write "removed").
 * Every fd it got is also written as "got NAME" lines. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t got_hup, got_term;

static void on_signal(int sig) {
        if (sig == SIGHUP)
                got_hup = 1;
        else
                got_term = 1;
}

static int notify(const char *text, const int *fds, size_t n_fds) {
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        if (!path || strlen(path) >= sizeof(sun.sun_path))
                return -1;
        strcpy(sun.sun_path, path);
        socklen_t len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path));
        if (path[0] == '@')
                sun.sun_path[0] = '\0';
        int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0)
                return -1;
        struct iovec iov = { .iov_base = (void *) text, .iov_len = strlen(text) };
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * 16)];
        } control;
        struct msghdr mh = { .msg_name = &sun, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1 };
        if (n_fds) {
                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        }
        ssize_t r = sendmsg(s, &mh, MSG_NOSIGNAL);
        close(s);
        return r < 0 ? -1 : 0;
}

/* The fd passed under name, or -1. */
static int passed(const char *name) {
        const char *n = getenv("LISTEN_FDS"), *names = getenv("LISTEN_FDNAMES");
        int count = n ? atoi(n) : 0;
        if (!names)
                return -1;
        char *copy = strdup(names), *save = NULL;
        int fd = -1, k = 0;
        for (char *t = strtok_r(copy, ":", &save); t && k < count; t = strtok_r(NULL, ":", &save), k++)
                if (strcmp(t, name) == 0)
                        fd = 3 + k;
        free(copy);
        return fd;
}

int main(int argc, char **argv) {
        bool counter = false;
        int upstream_port = 0, extra = 0;
        const char *remove_on_hup = NULL, *file = NULL;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--counter") == 0)
                        counter = true;
                else if (strcmp(argv[i], "--upstream") == 0 && i + 1 < argc)
                        upstream_port = atoi(argv[++i]);
                else if (strcmp(argv[i], "--store-extra") == 0 && i + 1 < argc)
                        extra = atoi(argv[++i]);
                else if (strcmp(argv[i], "--remove-on-hup") == 0 && i + 1 < argc)
                        remove_on_hup = argv[++i];
                else
                        file = argv[i];
        }
        if (!file) {
                fprintf(stderr, "usage: sv-fdstoreworker [--counter] [--upstream PORT] [--store-extra N] "
                                "[--remove-on-hup NAME] FILE\n");
                return 2;
        }
        struct sigaction sa = { .sa_handler = on_signal };
        sigaction(SIGHUP, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);

        FILE *out = fopen(file, "we");
        if (!out)
                return 1;
        const char *names = getenv("LISTEN_FDNAMES");
        if (names) {
                char *copy = strdup(names), *save = NULL;
                for (char *t = strtok_r(copy, ":", &save); t; t = strtok_r(NULL, ":", &save))
                        fprintf(out, "got %s\n", t);
                free(copy);
        }
        if (counter) {
                int fd = passed("counter");
                long v = 0;
                if (fd >= 0) {
                        char buf[32] = "";
                        if (pread(fd, buf, sizeof(buf) - 1, 0) < 0)
                                return 1;
                        v = atol(buf) + 1;
                } else if ((fd = memfd_create("counter", MFD_CLOEXEC)) < 0)
                        return 1;
                char buf[32];
                int n = snprintf(buf, sizeof(buf), "%ld\n", v);
                if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t) n, 0) != n)
                        return 1;
                if (passed("counter") < 0 && notify("FDSTORE=1\nFDNAME=counter", &fd, 1) < 0)
                        return 1;
                fprintf(out, "counter %ld\n", v);
        }
        if (upstream_port) {
                int fd = passed("upstream");
                char msg[64];
                if (fd >= 0) {
                        snprintf(msg, sizeof(msg), "gen %s pid %d\n", getenv("SOCKVISOR_GENERATION") ?: "?", (int) getpid());
                        fprintf(out, "upstream reused\n");
                } else {
                        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) upstream_port),
                                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                        if (fd < 0 || connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0)
                                return 1;
                        snprintf(msg, sizeof(msg), "first pid %d\n", (int) getpid());
                        if (notify("FDSTORE=1\nFDNAME=upstream", &fd, 1) < 0)
                                return 1;
                        fprintf(out, "upstream new\n");
                }
                if (write(fd, msg, strlen(msg)) < 0)
                        fprintf(out, "upstream write failed: %s\n", strerror(errno));
        }
        for (int k = 0; k < extra; k++) {
                int fd = memfd_create("extra", MFD_CLOEXEC);
                if (fd < 0 || notify("FDSTORE=1\nFDNAME=extra", &fd, 1) < 0)
                        return 1;
                close(fd);
        }
        fprintf(out, "pid %d\n", (int) getpid());
        fclose(out);
        notify("READY=1", NULL, 0); /* after the stores: datagrams from one socket keep their order */
        while (!got_term) {
                pause();
                if (got_hup && remove_on_hup) {
                        got_hup = 0;
                        char msg[300];
                        snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", remove_on_hup);
                        notify(msg, NULL, 0);
                        FILE *f = fopen(file, "ae");
                        if (f) {
                                fprintf(f, "removed\n");
                                fclose(f);
                        }
                }
        }
        return 0;
}
