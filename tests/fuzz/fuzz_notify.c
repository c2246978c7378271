/* libFuzzer target for the notify messages: arbitrary bytes sent as a real datagram, with
 * 0..20 fds attached (SCM_RIGHTS), to a socketpair read by the daemon's own receiver,
 * sv_notify_recv (src/daemon/notify.c), which parses with sv_notify_parse. A worker, or any
 * process that finds the socket, chooses every byte and every fd. See README "Fuzzing".
 * Besides crashes and sanitizer reports it checks the contract: no fd is leaked (after the
 * message's fds are closed the process has the fds it had before); at most
 * SV_NOTIFY_FDS_MAX fds come back, each open and close-on-exec; the sender's pid is ours;
 * STATUS= and FDNAME= are NUL-terminated within their buffers; a message with more fds than
 * SV_NOTIFY_FDS_MAX is refused whole (systemd ignores one whose fds were cut too); and
 * otherwise parsing the same bytes directly agrees with the receiver on whether the message
 * was taken. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockvisor/notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                abort();
        int n = 0;
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static int pair[2] = { -1, -1 };

static void setup(void) {
        if (pair[0] >= 0)
                return;
        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) < 0)
                abort();
        int one = 1;
        if (setsockopt(pair[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                abort();
        int buf = 1 << 20;
        (void) setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        setup();
        size_t n_send = size ? data[0] % 21 : 0; /* more than the receiver keeps, sometimes */
        const uint8_t *body = size ? data + 1 : data;
        size_t body_len = size ? size - 1 : 0;
        if (body_len > SV_NOTIFY_MSG_MAX + 64)
                body_len = SV_NOTIFY_MSG_MAX + 64; /* a bit over: the too-long path too */

        int before = count_fds();
        int fds[21];
        for (size_t k = 0; k < n_send; k++)
                if ((fds[k] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
                        abort();

        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * 21)];
        } control;
        struct iovec iov = { .iov_base = (void *) body, .iov_len = body_len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (n_send) {
                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_send);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_send);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_send);
        }
        if (sendmsg(pair[1], &mh, 0) < 0)
                abort();
        for (size_t k = 0; k < n_send; k++)
                close(fds[k]); /* the kernel holds them in flight now */

        pid_t pid = 0;
        SvNotifyMsg msg;
        int r = sv_notify_recv(pair[0], &pid, &msg);
        if (r == 1) {
                if (pid != getpid() || msg.n_fds > SV_NOTIFY_FDS_MAX || msg.n_fds > n_send)
                        abort();
                if (strnlen(msg.status, sizeof(msg.status)) == sizeof(msg.status) ||
                    strnlen(msg.fdname, sizeof(msg.fdname)) == sizeof(msg.fdname))
                        abort();
                for (size_t k = 0; k < msg.n_fds; k++) {
                        int fl = fcntl(msg.fds[k], F_GETFD);
                        if (fl < 0 || !(fl & FD_CLOEXEC))
                                abort(); /* received fds must not leak into workers */
                        close(msg.fds[k]);
                }
        } else if (r == 0 || r == -EPROTO) {
                abort(); /* a datagram was there, with our credentials */
        }

        SvNotifyMsg direct;
        int p = sv_notify_parse((const char *) body, body_len, &direct);
        if (n_send > SV_NOTIFY_FDS_MAX) {
                if (r != -EMSGSIZE)
                        abort(); /* too many fds: the whole message is refused, as systemd does */
        } else if (body_len <= SV_NOTIFY_MSG_MAX && (p == 0) != (r == 1))
                abort();

        if (count_fds() != before)
                abort(); /* every fd that came with the message is closed or handed over */
        return 0;
}
