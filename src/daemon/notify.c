/* The notify socket server: a datagram socket in a private directory, open to program users by ACL. */
#include "sockvisor/notify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "sockvisor/log.h"
#include "sockvisor/macro.h"
#include "sockvisor/notifyacl.h"

/* Where the private directory goes. Root's is made here if need be; it must be root's, or
 * someone else could rename our directory away. */
static int notify_base(char *buf, size_t size) {
        if (geteuid() != 0) {
                const char *x = getenv("XDG_RUNTIME_DIR");
                (void) snprintf(buf, size, "%s", x && x[0] == '/' ? x : "/tmp");
                return 0;
        }
        (void) snprintf(buf, size, "/run/sockvisor");
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return -errno;
        struct stat st;
        if (lstat(buf, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0022))
                return -EPERM;
        return 0;
}

/* Directories a daemon killed by SIGKILL left behind: ours (same owner), with a socket file
 * nobody is bound to any more (connect() says ECONNREFUSED). One whose socket is not there
 * yet may be a daemon starting up right now: left alone. At most 256 entries looked at. */
static void notify_sweep(const char *base) {
        DIR *d = opendir(base);
        if (!d)
                return;
        int budget = 256;
        for (struct dirent *de; budget-- > 0 && (de = readdir(d));) {
                struct sockaddr_un sun = { .sun_family = AF_UNIX };
                struct stat st;
                if (strncmp(de->d_name, "notify-", 7) != 0 ||
                    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
                    st.st_uid != geteuid() ||
                    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s/notify", base, de->d_name) >=
                            (int) sizeof(sun.sun_path))
                        continue;
                int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        break;
                if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0 && errno == ECONNREFUSED) {
                        log_debug("removing %s: left by a sockvisord that is gone", sun.sun_path);
                        sv_notify_remove(sun.sun_path);
                }
                (void) safe_close(fd);
        }
        (void) closedir(d);
}

int sv_notify_open(int *ret_fd, char *ret_path, size_t path_len) {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        char dir[sizeof(sun.sun_path)];
        int one = 1, r;

        r = notify_base(dir, sizeof(dir));
        if (r < 0)
                return r;
        notify_sweep(dir);
        size_t base_len = strlen(dir);
        if (snprintf(dir + base_len, sizeof(dir) - base_len, "/notify-%d-XXXXXX", (int) getpid()) >=
                    (int) (sizeof(dir) - base_len) ||
            snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify", dir) >= (int) sizeof(sun.sun_path) ||
            strlen(sun.sun_path) >= path_len)
                return -ENAMETOOLONG;
        if (!mkdtemp(dir))
                return -errno;
        (void) snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify", dir);
        /* 0711: program users may reach the socket by its name, nobody may list the directory */
        int fd = chmod(dir, 0711) < 0 ? -1 : socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                r = -errno;
                (void) rmdir(dir);
                return r;
        }
        mode_t old = umask(0177); /* born 0600: no window in which others may send */
        r = bind(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0 ? -errno : 0;
        (void) umask(old);
        if (r >= 0 && setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                r = -errno;
        if (r < 0) {
                (void) safe_close(fd);
                sv_notify_remove(sun.sun_path);
                return r;
        }
        int rcvbuf = 1 << 20; /* many workers may report at once */
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        (void) snprintf(ret_path, path_len, "%s", sun.sun_path);
        *ret_fd = fd;
        return 0;
}

#define ACL_XATTR "system.posix_acl_access"

/* No ACLs here: every local user may send, which is what the abstract socket allowed. 1 the
 * first time, for the caller's warning; 0 once it is so. */
static int open_to_all(const char *path) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return -errno;
        if ((st.st_mode & 0777) == 0666)
                return 0;
        return chmod(path, 0666) < 0 ? -errno : 1;
}

int sv_notify_allow(const char *path, uid_t uid) {
        uint8_t buf[SV_NOTIFY_ACL_SIZE_MAX];
        uid_t uids[SV_NOTIFY_ACL_USERS_MAX + 1];
        int n = 0;

        if (uid == geteuid())
                return 0; /* the owner */
        /* What the ACL holds now, rather than a list of ours: it is right after an upgrade too.
         * l*xattr: the directory is ours and 0711, but a symlink is never followed anyway. */
        ssize_t len = lgetxattr(path, ACL_XATTR, buf, sizeof(buf));
        if (len >= 0)
                n = sv_notify_acl_users(buf, (size_t) len, uids, SV_NOTIFY_ACL_USERS_MAX);
        else if (errno == EOPNOTSUPP)
                return open_to_all(path);
        else if (errno != ENODATA)
                return -errno;
        if (n < 0)
                return n;
        for (int k = 0; k < n; k++)
                if (uids[k] == uid)
                        return 0;
        uids[n++] = uid;
        int size = sv_notify_acl_build(uids, (size_t) n, buf, sizeof(buf));
        if (size < 0)
                return size;
        if (lsetxattr(path, ACL_XATTR, buf, (size_t) size, 0) < 0)
                return errno == EOPNOTSUPP ? open_to_all(path) : -errno;
        return 0;
}

void sv_notify_remove(const char *path) {
        char dir[sizeof(((struct sockaddr_un *) NULL)->sun_path)];
        (void) snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (!slash || strncmp(slash, "/notify", 8) != 0 || !strstr(dir, "/notify-"))
                return; /* not a path sv_notify_open made: leave it alone */
        (void) unlink(path);
        *slash = '\0';
        (void) rmdir(dir); /* best effort: fails harmlessly if something else was put there */
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
