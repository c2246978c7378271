/* The notify socket server. */
#include "sockvisor/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sockvisor/macro.h"

int sv_notify_open(int *ret_fd, char *ret_name, size_t name_len) {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        struct timespec ts;
        int one = 1;

        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        /* pid + a clock reading: unique even if a previous daemon with our pid left one behind */
        int n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "sockvisord/notify/%d/%llx", (int) getpid(),
                         (unsigned long long) ts.tv_nsec ^ (unsigned long long) ts.tv_sec);
        socklen_t len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + (size_t) n);
        if (bind(fd, (struct sockaddr *) &sun, len) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
                int r = -errno;
                (void) safe_close(fd);
                return r;
        }
        int rcvbuf = 1 << 20; /* many workers may report at once */
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        (void) snprintf(ret_name, name_len, "@%s", sun.sun_path + 1);
        *ret_fd = fd;
        return 0;
}

int sv_notify_recv(int fd, pid_t *ret_pid, SvNotifyMsg *ret) {
        char buf[SV_NOTIFY_MSG_MAX];
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * SV_NOTIFY_FDS_MAX)];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        struct ucred *cred = NULL;
        int fds[SV_NOTIFY_FDS_MAX];
        size_t n_fds = 0;

        ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET)
                        continue;
                if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                        cred = (struct ucred *) CMSG_DATA(c);
                else if (c->cmsg_type == SCM_RIGHTS) {
                        int *in = (int *) CMSG_DATA(c);
                        size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t i = 0; i < nfds; i++) {
                                int got;
                                memcpy(&got, in + i, sizeof(int)); /* CMSG_DATA need not be aligned */
                                if (n_fds < SV_NOTIFY_FDS_MAX)
                                        fds[n_fds++] = got;
                                else
                                        (void) safe_close(got);
                        }
                }
        }
        int r = 1;
        if (!cred || cred->pid <= 0)
                r = -EPROTO; /* no credentials: cannot tell who sent it */
        else if ((size_t) n > sizeof(buf) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
                r = -EMSGSIZE;
        else if (sv_notify_parse(buf, (size_t) n, ret) < 0)
                r = -EBADMSG;
        if (r < 0) {
                for (size_t i = 0; i < n_fds; i++)
                        (void) safe_close(fds[i]);
                return r;
        }
        memcpy(ret->fds, fds, n_fds * sizeof(int));
        ret->n_fds = n_fds;
        *ret_pid = cred->pid;
        return 1;
}
