/* sv-fakesystemd: a small stand-in for the service-manager side of systemd's sd_notify
 * protocol, to test a Type=notify service (sockvisord) without systemd.
 *
 *   sv-fakesystemd -o LOGFILE [-w WATCHDOG_USEC] [-a main|all] [-m FDSTORE_MAX] [-T STOP_SECONDS]
 *                  -- COMMAND [ARGS...]
 *
 * It runs COMMAND as its child with NOTIFY_SOCKET pointing at an abstract unix datagram
 * socket (SO_PASSCRED), and appends to LOGFILE one line per event, each written with one
 * write() so that it is on disk at once:
 *
 *   start PID NFDS           the service was started with NFDS stored fds (LISTEN_FDS)
 *   msg PID K=V|K=V...       a notification: its lines joined with '|'
 *   ignored PID REASON       that message was dropped (not from the main pid, truncated...)
 *   mainpid PID              MAINPID= changed the main pid
 *   fdstore NAME INODE       FDSTORE=1: the fd was added to the store
 *   fddup NAME INODE         FDSTORE=1 of an fd already stored: not added again (as systemd)
 *   fdclose NAME INODE       an fd sent without FDSTORE=1, or refused: closed
 *   fdfull NAME INODE        FDSTORE=1 while the store holds FDSTORE_MAX fds: closed
 *   fdremove NAME COUNT      FDSTOREREMOVE=1: COUNT fds of that name closed
 *   fdhangup NAME INODE      a stored fd reported POLLHUP/POLLERR: removed (unless FDPOLL=0)
 *   signal SIG PID           a signal sent to the main pid
 *   watchdog-timeout PID     no WATCHDOG=1 within WATCHDOG_USEC (or WATCHDOG=trigger): SIGABRT
 *   exit STATUS              the main process ended: a number, or SIGNAME for a signal
 *   restart                  SIGUSR1 received: the service is being restarted
 *   stopping                 SIGTERM/SIGINT received: the service is being stopped
 *
 * Semantics follow systemd for Type=notify, NotifyAccess=main (-a all accepts any sender):
 * the forked child is the main pid until MAINPID= names another; only the main pid's
 * messages are acted upon; fds sent with FDSTORE=1 are kept under FDNAME= (default
 * "stored"; several fds may share a name; the same open file is not stored twice) and
 * survive a restart; FDSTOREREMOVE=1 + FDNAME= closes every fd of that name. -m is
 * FileDescriptorStoreMax= (default 1024); like systemd 252, a full store refuses an fd
 * before looking for a duplicate, so re-sending a stored fd to a full store is refused.
 * Stored fds are passed in the order they were stored (systemd passes the newest first:
 * a service must go by LISTEN_FDNAMES, never by position).
 *
 * Signals: SIGUSR1 restarts the service (SIGTERM, wait, start again with every stored fd
 * as LISTEN_FDS/LISTEN_FDNAMES, LISTEN_PID set in the child); SIGHUP is forwarded to the
 * main pid (ExecReload=kill -HUP $MAINPID); SIGTERM/SIGINT stop the service (SIGTERM, then
 * SIGKILL after STOP_SECONDS, default 20) and exit 0. When the service exits on its own,
 * sv-fakesystemd exits 1 if it failed (a non-zero status, or a signal other than
 * HUP/INT/TERM/PIPE, as systemd counts them), else 0.
 *
 * Single-threaded: one poll() loop over a signalfd, the notify socket, the main pid's
 * pidfd and the stored fds. Every fd of ours is close-on-exec. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOTIFY_BUFFER_MAX 4096 /* systemd's limit (PIPE_BUF); longer messages are dropped */
#define FDS_PER_MSG_MAX 253    /* SCM_MAX_FD */
#define FDSTORE_MAX 1024
#define FDNAME_MAX 255
#define LOG_LINE_MAX (3 * NOTIFY_BUFFER_MAX)

typedef struct {
        int fd;
        char name[FDNAME_MAX + 1];
        ino_t ino;
        dev_t dev;
        bool poll; /* FDPOLL=0 turns it off */
} StoredFd;

typedef enum {
        SVC_RUNNING,    /* the main process runs */
        SVC_RESTARTING, /* SIGTERM sent for a restart: start again when it is gone */
        SVC_STOPPING,   /* SIGTERM sent for good: exit when it is gone */
} SvcState;

static const char *log_path;
static int log_fd = -1;
static char **command;
static uint64_t watchdog_usec; /* 0: no watchdog */
static bool notify_access_all;
static unsigned stop_seconds = 20;
static size_t fdstore_max = FDSTORE_MAX;

static int notify_fd = -1;
static char notify_name[108];
static int signal_fd = -1;

static StoredFd store[FDSTORE_MAX];
static size_t n_store;

static pid_t main_pid;     /* 0 once it is gone */
static int main_pidfd = -1;
static SvcState state = SVC_RUNNING;
static int64_t kill_deadline_ms = -1;  /* SIGKILL then, while stopping/restarting */
static int64_t watchdog_deadline_ms = -1;

static void warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warnx(const char *fmt, ...) {
        va_list ap;
        fputs("sv-fakesystemd: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* One event: one line, one write(), appended. */
static void logf_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_line(const char *fmt, ...) {
        char line[LOG_LINE_MAX];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t) n > sizeof(line) - 2)
                n = (int) sizeof(line) - 2;
        line[n++] = '\n';
        for (size_t off = 0; off < (size_t) n;) {
                ssize_t w = write(log_fd, line + off, (size_t) n - off);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        warnx("cannot write to %s: %s", log_path, strerror(errno));
                        return;
                }
                off += (size_t) w;
        }
}

static int64_t now_ms(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int fd) {
        if (fd >= 0)
                (void) close(fd);
}

static const char *signal_name(int sig, char *buf, size_t len) {
        const char *abbrev = sigabbrev_np(sig);
        if (abbrev)
                (void) snprintf(buf, len, "SIG%s", abbrev);
        else
                (void) snprintf(buf, len, "SIG%d", sig);
        return buf;
}

/* "0", "1", or "SIGTERM"; sets *failed the way systemd judges a main process's end. */
static const char *format_status(int status, bool *failed, char *buf, size_t len) {
        if (WIFEXITED(status)) {
                *failed = WEXITSTATUS(status) != 0;
                (void) snprintf(buf, len, "%d", WEXITSTATUS(status));
        } else if (WIFSIGNALED(status)) {
                int sig = WTERMSIG(status);
                *failed = !(sig == SIGHUP || sig == SIGINT || sig == SIGTERM || sig == SIGPIPE);
                signal_name(sig, buf, len);
                if (WCOREDUMP(status))
                        strncat(buf, "+core", len - strlen(buf) - 1);
        } else {
                *failed = true;
                (void) snprintf(buf, len, "unknown");
        }
        return buf;
}

static void send_main(int sig) {
        char name[32];
        if (main_pid <= 0)
                return;
        if (kill(main_pid, sig) < 0 && errno != ESRCH)
                warnx("kill(%d, %s): %s", (int) main_pid, signal_name(sig, name, sizeof(name)), strerror(errno));
        logf_line("signal %s %d", signal_name(sig, name, sizeof(name)), (int) main_pid);
}

/* --- the fd store --- */

/* systemd's fdname_is_valid(): printable ASCII but ':', at most 255 bytes. */
static bool fdname_is_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > FDNAME_MAX)
                return false;
        for (const char *p = s; *p; p++)
                if (*p < ' ' || *p > '~' || *p == ':')
                        return false;
        return true;
}

static void store_remove_at(size_t i) {
        close_fd(store[i].fd);
        memmove(store + i, store + i + 1, (n_store - i - 1) * sizeof(store[0]));
        n_store--;
}

static void store_add(int fd, const char *name, bool do_poll) {
        struct stat st;
        if (fstat(fd, &st) < 0) {
                logf_line("fdclose %s ?", name);
                close_fd(fd);
                return;
        }
        if (n_store >= fdstore_max) { /* checked first, as in systemd's service_add_fd_store() */
                logf_line("fdfull %s %ju", name, (uintmax_t) st.st_ino);
                close_fd(fd);
                return;
        }
        /* The same open file sent twice is stored once (systemd compares with same_fd()). */
        for (size_t i = 0; i < n_store; i++)
                if (store[i].dev == st.st_dev && store[i].ino == st.st_ino) {
                        logf_line("fddup %s %ju", name, (uintmax_t) st.st_ino);
                        close_fd(fd);
                        return;
                }
        store[n_store] = (StoredFd){ .fd = fd, .ino = st.st_ino, .dev = st.st_dev, .poll = do_poll };
        (void) snprintf(store[n_store].name, sizeof(store[n_store].name), "%s", name);
        n_store++;
        logf_line("fdstore %s %ju", name, (uintmax_t) st.st_ino);
}

static void store_remove_name(const char *name) {
        unsigned count = 0;
        for (size_t i = n_store; i-- > 0;)
                if (strcmp(store[i].name, name) == 0) {
                        store_remove_at(i);
                        count++;
                }
        logf_line("fdremove %s %u", name, count);
}

/* --- the service --- */

static void watch_main_pid(pid_t pid) {
        close_fd(main_pidfd);
        main_pidfd = -1;
        main_pid = pid;
#ifdef SYS_pidfd_open
        /* Notices the main pid's end even when MAINPID= named a process that is not our child. */
        long r = syscall(SYS_pidfd_open, pid, 0);
        if (r >= 0) {
                main_pidfd = (int) r;
                (void) fcntl(main_pidfd, F_SETFD, FD_CLOEXEC);
        }
#endif
}

static void arm_watchdog(void) {
        watchdog_deadline_ms = watchdog_usec > 0 && main_pid > 0 ? now_ms() + (int64_t) (watchdog_usec / 1000) : -1;
}

static void exec_child(void) {
        /* Every stored fd to 3.. in store order: first above the target range, then down. */
        int base = 3 + (int) n_store;
        int tmp[FDSTORE_MAX];
        for (size_t i = 0; i < n_store; i++) {
                tmp[i] = fcntl(store[i].fd, F_DUPFD_CLOEXEC, base);
                if (tmp[i] < 0) {
                        warnx("child: dup: %s", strerror(errno));
                        _exit(126);
                }
        }
        for (size_t i = 0; i < n_store; i++)
                if (dup2(tmp[i], 3 + (int) i) < 0) { /* dup2 leaves the new fd inheritable */
                        warnx("child: dup2: %s", strerror(errno));
                        _exit(126);
                }

        char num[32];
        (void) unsetenv("LISTEN_FDS");
        (void) unsetenv("LISTEN_PID");
        (void) unsetenv("LISTEN_FDNAMES");
        (void) unsetenv("WATCHDOG_USEC");
        (void) unsetenv("WATCHDOG_PID");
        if (n_store > 0) {
                static char names[FDSTORE_MAX * (FDNAME_MAX + 1)];
                char *p = names;
                for (size_t i = 0; i < n_store; i++) {
                        if (i > 0)
                                *p++ = ':';
                        p = stpcpy(p, store[i].name);
                }
                (void) snprintf(num, sizeof(num), "%zu", n_store);
                (void) setenv("LISTEN_FDS", num, 1);
                (void) setenv("LISTEN_FDNAMES", names, 1);
                (void) snprintf(num, sizeof(num), "%d", (int) getpid());
                (void) setenv("LISTEN_PID", num, 1);
        }
        if (watchdog_usec > 0) {
                (void) snprintf(num, sizeof(num), "%" PRIu64, watchdog_usec);
                (void) setenv("WATCHDOG_USEC", num, 1);
                (void) snprintf(num, sizeof(num), "%d", (int) getpid());
                (void) setenv("WATCHDOG_PID", num, 1);
        }
        (void) setenv("NOTIFY_SOCKET", notify_name, 1);

        sigset_t none;
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        execvp(command[0], command);
        warnx("cannot run %s: %s", command[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
}

static int start_service(void) {
        pid_t pid = fork();
        if (pid < 0) {
                warnx("fork: %s", strerror(errno));
                return -1;
        }
        if (pid == 0)
                exec_child();
        watch_main_pid(pid);
        state = SVC_RUNNING;
        kill_deadline_ms = -1;
        arm_watchdog();
        logf_line("start %d %zu", (int) pid, n_store);
        return 0;
}

/* The main process is gone (status < 0: not our child, status unknown). Returns true
 * when the loop should end, with *ret_exit set. */
static bool main_exited(int status, bool known, int *ret_exit) {
        char buf[64];
        bool failed = true;
        if (known)
                format_status(status, &failed, buf, sizeof(buf));
        else
                (void) snprintf(buf, sizeof(buf), "unknown");
        logf_line("exit %s", buf);
        close_fd(main_pidfd);
        main_pidfd = -1;
        main_pid = 0;
        watchdog_deadline_ms = -1;
        switch (state) {
        case SVC_RESTARTING:
                if (start_service() < 0) {
                        *ret_exit = 1;
                        return true;
                }
                return false;
        case SVC_STOPPING:
                *ret_exit = 0;
                return true;
        case SVC_RUNNING:
        default:
                *ret_exit = failed ? 1 : 0;
                return true;
        }
}

static void begin_stop(SvcState next) {
        state = next;
        if (main_pid > 0) {
                send_main(SIGTERM);
                kill_deadline_ms = now_ms() + (int64_t) stop_seconds * 1000;
        }
}

/* --- notifications --- */

/* The message's lines joined with '|', control characters as '?'; empty lines dropped. */
static void format_message(const char *buf, size_t len, char *out, size_t out_len) {
        size_t o = 0;
        bool line_start = true, first = true;
        for (size_t i = 0; i < len && o + 2 < out_len; i++) {
                char ch = buf[i];
                if (ch == '\n') {
                        line_start = true;
                        continue;
                }
                if (line_start) {
                        if (!first)
                                out[o++] = '|';
                        first = false;
                        line_start = false;
                }
                out[o++] = (unsigned char) ch < 0x20 || ch == 0x7f ? '?' : ch;
        }
        out[o] = '\0';
}

/* Finds KEY=VALUE among the lines; returns VALUE copied into out (or NULL). */
static const char *find_key(const char *buf, size_t len, const char *key, char *out, size_t out_len) {
        size_t kl = strlen(key);
        const char *found = NULL;
        for (const char *p = buf, *end = buf + len; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
                if (n >= kl + 1 && memcmp(p, key, kl) == 0 && p[kl] == '=') {
                        size_t vl = n - kl - 1;
                        if (vl > out_len - 1)
                                vl = out_len - 1;
                        memcpy(out, p + kl + 1, vl);
                        out[vl] = '\0';
                        found = out; /* the last one wins, like systemd's strv_find_startswith on a reversed list */
                }
                p += n + 1;
        }
        return found;
}

static bool has_line(const char *buf, size_t len, const char *line) {
        char v[16];
        const char *eq = strchr(line, '=');
        char key[64];
        (void) snprintf(key, sizeof(key), "%.*s", (int) (eq - line), line);
        return find_key(buf, len, key, v, sizeof(v)) && strcmp(v, eq + 1) == 0;
}

static void handle_message(const char *buf, size_t len, pid_t sender, int *fds, size_t n_fds, bool truncated) {
        static char text[LOG_LINE_MAX];
        char value[FDNAME_MAX + 1];
        format_message(buf, len, text, sizeof(text));
        logf_line("msg %d %s", (int) sender, text);

        const char *reason = NULL;
        if (truncated)
                reason = "truncated";
        else if (sender <= 0)
                reason = "no credentials";
        else if (!notify_access_all && sender != main_pid)
                reason = "not the main pid";
        if (reason) {
                logf_line("ignored %d %s (main pid %d)", (int) sender, reason, (int) main_pid);
                for (size_t i = 0; i < n_fds; i++) {
                        struct stat st;
                        logf_line("fdclose - %ju", fstat(fds[i], &st) == 0 ? (uintmax_t) st.st_ino : (uintmax_t) 0);
                        close_fd(fds[i]);
                }
                return;
        }

        if (find_key(buf, len, "MAINPID", value, sizeof(value))) {
                char *end;
                errno = 0;
                long pid = strtol(value, &end, 10);
                if (errno == 0 && *end == '\0' && pid > 1 && pid != (long) getpid() && pid <= INT_MAX) {
                        if ((pid_t) pid != main_pid) {
                                watch_main_pid((pid_t) pid);
                                logf_line("mainpid %ld", pid);
                        }
                } else
                        logf_line("ignored %d bad MAINPID=%s", (int) sender, value);
        }
        if (find_key(buf, len, "WATCHDOG_USEC", value, sizeof(value))) {
                char *end;
                errno = 0;
                unsigned long long u = strtoull(value, &end, 10);
                if (errno == 0 && *end == '\0') {
                        watchdog_usec = u;
                        arm_watchdog();
                }
        }
        if (has_line(buf, len, "WATCHDOG=1"))
                arm_watchdog();
        if (has_line(buf, len, "WATCHDOG=trigger"))
                watchdog_deadline_ms = now_ms();

        const char *name = find_key(buf, len, "FDNAME", value, sizeof(value));
        if (name && !fdname_is_valid(name)) {
                logf_line("ignored %d invalid FDNAME", (int) sender);
                name = NULL;
        }
        if (has_line(buf, len, "FDSTOREREMOVE=1")) {
                if (name)
                        store_remove_name(name);
                else
                        logf_line("ignored %d FDSTOREREMOVE=1 without a valid FDNAME=", (int) sender);
        }
        bool fdstore = has_line(buf, len, "FDSTORE=1");
        bool do_poll = !has_line(buf, len, "FDPOLL=0");
        for (size_t i = 0; i < n_fds; i++) {
                if (fdstore && (name || !find_key(buf, len, "FDNAME", value, sizeof(value))))
                        store_add(fds[i], name ? name : "stored", do_poll);
                else {
                        struct stat st;
                        logf_line("fdclose %s %ju", name ? name : "-",
                                  fstat(fds[i], &st) == 0 ? (uintmax_t) st.st_ino : (uintmax_t) 0);
                        close_fd(fds[i]);
                }
        }
}

static void drain_notify(void) {
        static char buf[NOTIFY_BUFFER_MAX + 1];
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * FDS_PER_MSG_MAX)];
        } control;

        for (;;) {
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = &control,
                        .msg_controllen = sizeof(control),
                };
                ssize_t n = recvmsg(notify_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN && errno != EWOULDBLOCK)
                                warnx("recvmsg: %s", strerror(errno));
                        return;
                }
                int fds[FDS_PER_MSG_MAX];
                size_t n_fds = 0;
                pid_t sender = 0;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                        if (c->cmsg_level != SOL_SOCKET)
                                continue;
                        if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
                                struct ucred uc;
                                memcpy(&uc, CMSG_DATA(c), sizeof(uc));
                                sender = uc.pid;
                        } else if (c->cmsg_type == SCM_RIGHTS) {
                                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                                for (size_t i = 0; i < k && n_fds < FDS_PER_MSG_MAX; i++)
                                        memcpy(&fds[n_fds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        }
                }
                bool truncated = (size_t) n > sizeof(buf) - 1 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
                size_t len = (size_t) n > sizeof(buf) - 1 ? sizeof(buf) - 1 : (size_t) n;
                buf[len] = '\0';
                /* A NUL ends the message, as in systemd. */
                len = strnlen(buf, len);
                handle_message(buf, len, sender, fds, n_fds, truncated);
        }
}

static int open_notify_socket(void) {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        struct timespec ts;
        int one = 1;

        notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (notify_fd < 0)
                return -errno;
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        int n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "sv-fakesystemd/%d/%lx", (int) getpid(),
                         (unsigned long) ts.tv_nsec ^ (unsigned long) ts.tv_sec);
        socklen_t len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + (size_t) n);
        if (bind(notify_fd, (struct sockaddr *) &sun, len) < 0 ||
            setsockopt(notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                return -errno;
        int rcvbuf = 1 << 20;
        (void) setsockopt(notify_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        (void) snprintf(notify_name, sizeof(notify_name), "@%s", sun.sun_path + 1);
        return 0;
}

/* Reaps every child (we are a subreaper, like systemd); true when the main pid ended. */
static bool reap_children(int *ret_exit) {
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid <= 0)
                        return false;
                if (pid == main_pid)
                        return main_exited(status, true, ret_exit);
        }
}

static void usage(FILE *f) {
        fprintf(f,
                "usage: sv-fakesystemd -o LOGFILE [-w WATCHDOG_USEC] [-a main|all] [-m FDSTORE_MAX]\n"
                "                      [-T STOP_SECONDS] -- COMMAND [ARGS...]\n"
                "Run COMMAND as a systemd Type=notify service would run: NOTIFY_SOCKET, an fd store\n"
                "passed back as LISTEN_FDS on restart. Each notification and event is appended to\n"
                "LOGFILE. SIGUSR1 restarts the service, SIGHUP is forwarded, SIGTERM/SIGINT stop it.\n");
}

int main(int argc, char **argv) {
        int c;
        char *end;
        while ((c = getopt(argc, argv, "+o:w:a:m:T:h")) >= 0)
                switch (c) {
                case 'o':
                        log_path = optarg;
                        break;
                case 'w':
                        errno = 0;
                        watchdog_usec = strtoull(optarg, &end, 10);
                        if (errno || *end || optarg[0] == '-' || watchdog_usec == 0) {
                                warnx("-w: not a positive number of microseconds: '%s'", optarg);
                                return 64;
                        }
                        break;
                case 'a':
                        if (strcmp(optarg, "all") == 0)
                                notify_access_all = true;
                        else if (strcmp(optarg, "main") == 0)
                                notify_access_all = false;
                        else {
                                warnx("-a: 'main' or 'all', not '%s'", optarg);
                                return 64;
                        }
                        break;
                case 'm': {
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (errno || *end || optarg[0] == '-' || v > FDSTORE_MAX) {
                                warnx("-m: not a number of fds in 0..%d: '%s'", FDSTORE_MAX, optarg);
                                return 64;
                        }
                        fdstore_max = v;
                        break;
                }
                case 'T': {
                        errno = 0;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (errno || *end || optarg[0] == '-' || v == 0 || v > 3600) {
                                warnx("-T: not a number of seconds in 1..3600: '%s'", optarg);
                                return 64;
                        }
                        stop_seconds = (unsigned) v;
                        break;
                }
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 64;
                }
        if (!log_path || optind >= argc) {
                usage(stderr);
                return 64;
        }
        command = argv + optind;

        log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0) {
                warnx("cannot open %s: %s", log_path, strerror(errno));
                return 71;
        }
        int r = open_notify_socket();
        if (r < 0) {
                warnx("cannot set up the notify socket: %s", strerror(-r));
                return 71;
        }
        /* Like systemd, descendants the service abandons are reparented to us and reaped. */
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGUSR1);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
            (signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
                warnx("cannot set up signals: %s", strerror(errno));
                return 71;
        }

        if (start_service() < 0)
                return 71;

        int exit_code = 0;
        for (;;) {
                struct pollfd pfd[3 + FDSTORE_MAX];
                size_t store_base, npfd = 0;
                pfd[npfd++] = (struct pollfd){ .fd = signal_fd, .events = POLLIN };
                pfd[npfd++] = (struct pollfd){ .fd = notify_fd, .events = POLLIN };
                pfd[npfd++] = (struct pollfd){ .fd = main_pidfd, .events = POLLIN }; /* -1: ignored */
                store_base = npfd;
                for (size_t i = 0; i < n_store; i++) /* events 0: only POLLHUP/POLLERR report */
                        pfd[npfd++] = (struct pollfd){ .fd = store[i].poll ? store[i].fd : -1, .events = 0 };

                int64_t now = now_ms(), deadline = -1;
                if (kill_deadline_ms >= 0)
                        deadline = kill_deadline_ms;
                if (watchdog_deadline_ms >= 0 && (deadline < 0 || watchdog_deadline_ms < deadline))
                        deadline = watchdog_deadline_ms;
                int timeout = deadline < 0 ? -1 : deadline <= now ? 0 : (int) (deadline - now);

                if (poll(pfd, (nfds_t) npfd, timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        warnx("poll: %s", strerror(errno));
                        exit_code = 1;
                        break;
                }

                /* Signals first into flags, then the notify queue, then the exits: a
                 * message sent just before the sender died is logged before its exit. */
                bool got_chld = false, got_term = false, got_hup = false, got_usr1 = false;
                struct signalfd_siginfo si;
                while (read(signal_fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
                        switch (si.ssi_signo) {
                        case SIGCHLD:
                                got_chld = true;
                                break;
                        case SIGTERM:
                        case SIGINT:
                                got_term = true;
                                break;
                        case SIGHUP:
                                got_hup = true;
                                break;
                        case SIGUSR1:
                                got_usr1 = true;
                                break;
                        default:
                                break;
                        }
                drain_notify();

                /* Stored fds that hung up are dropped (systemd's FDPOLL). */
                for (size_t i = npfd; i-- > store_base;) {
                        size_t k = i - store_base;
                        if (k < n_store && pfd[i].fd >= 0 && pfd[i].fd == store[k].fd &&
                            (pfd[i].revents & (POLLHUP | POLLERR))) {
                                logf_line("fdhangup %s %ju", store[k].name, (uintmax_t) store[k].ino);
                                store_remove_at(k);
                        }
                }

                bool done = false;
                if (got_chld || (pfd[2].fd >= 0 && (pfd[2].revents & POLLIN)))
                        done = reap_children(&exit_code);
                if (!done && main_pid > 0 && main_pidfd >= 0 && pfd[2].fd == main_pidfd && (pfd[2].revents & POLLIN)) {
                        /* Gone but not reaped by us: MAINPID= named a process that is not our child. */
                        int status;
                        pid_t p = waitpid(main_pid, &status, WNOHANG);
                        if (p == main_pid)
                                done = main_exited(status, true, &exit_code);
                        else if (p < 0 && errno == ECHILD)
                                done = main_exited(0, false, &exit_code);
                }
                if (done)
                        break;

                if (got_term && state != SVC_STOPPING) {
                        logf_line("stopping");
                        if (main_pid > 0)
                                begin_stop(SVC_STOPPING);
                        else
                                break;
                }
                if (got_usr1) {
                        if (state == SVC_RUNNING && main_pid > 0) {
                                logf_line("restart");
                                begin_stop(SVC_RESTARTING);
                        } else
                                logf_line("ignored SIGUSR1 (already %s)",
                                          state == SVC_STOPPING ? "stopping" : "restarting");
                }
                if (got_hup && state == SVC_RUNNING)
                        send_main(SIGHUP);

                now = now_ms();
                if (kill_deadline_ms >= 0 && now >= kill_deadline_ms) {
                        kill_deadline_ms = -1;
                        send_main(SIGKILL);
                }
                if (watchdog_deadline_ms >= 0 && now >= watchdog_deadline_ms && state == SVC_RUNNING && main_pid > 0) {
                        logf_line("watchdog-timeout %d", (int) main_pid);
                        watchdog_deadline_ms = -1;
                        send_main(SIGABRT);
                }
        }

        for (size_t i = 0; i < n_store; i++)
                close_fd(store[i].fd);
        close_fd(notify_fd);
        close_fd(signal_fd);
        close_fd(main_pidfd);
        close_fd(log_fd);
        return exit_code;
}
