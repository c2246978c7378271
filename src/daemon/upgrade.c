/* Self-upgrade, the daemon's half (upgrade.h): checks of the new binary, the state memfd,
 * the fds that cross execve. */
#include "sockvisor/upgrade.h"
#include "sockvisor/fdlimit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sockvisor/macro.h"

#define CHECK_TIMEOUT_MS 5000
#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

int sv_carry_add(SvCarry *c, int fd) {
        if (fd < 0)
                return 0;
        if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 32;
                int *v = realloc(c->fds, cap * sizeof(int));
                if (!v)
                        return -ENOMEM;
                c->fds = v;
                c->cap = cap;
        }
        c->fds[c->n++] = fd;
        return 0;
}

int sv_carry_cloexec(const SvCarry *c, bool on) {
        int r = 0;
        for (size_t k = 0; k < c->n; k++) {
                int fl = fcntl(c->fds[k], F_GETFD);
                if (fl < 0 || fcntl(c->fds[k], F_SETFD, on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC) < 0)
                        r = r ? r : -errno;
        }
        return r;
}

void sv_carry_done(SvCarry *c) {
        free(c->fds);
        *c = (SvCarry){};
}

static uint64_t now_ms(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Runs the binary at fd with argv (and keep_fd inherited, when >= 0), its stdout and
 * stderr into out; at most CHECK_TIMEOUT_MS, then it is killed. Returns its exit status,
 * or a negative errno. */
static int run_captured(int fd, char *const argv[], int keep_fd, char *out, size_t len) {
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                (void) close(pipefd[0]);
                (void) close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                sigset_t all;
                sigemptyset(&all);
                (void) sigprocmask(SIG_SETMASK, &all, NULL);
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null < 0 || dup2(null, 0) < 0 || dup2(pipefd[1], 1) < 0 || dup2(pipefd[1], 2) < 0)
                        _exit(127);
                if (keep_fd >= 0)
                        (void) fcntl(keep_fd, F_SETFD, 0);
                (void) execveat(fd, "", argv, environ, AT_EMPTY_PATH);
                dprintf(2, "cannot execute: %s", strerror(errno));
                _exit(127);
        }
        (void) close(pipefd[1]);
        size_t got = 0;
        uint64_t deadline = now_ms() + CHECK_TIMEOUT_MS;
        bool timed_out = false;
        for (;;) {
                uint64_t now = now_ms();
                if (now >= deadline) {
                        timed_out = true;
                        break;
                }
                struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
                int pr = poll(&p, 1, (int) (deadline - now));
                if (pr < 0 && errno == EINTR)
                        continue;
                if (pr <= 0) {
                        timed_out = pr == 0;
                        break;
                }
                char sink[256];
                bool room = got + 1 < len;
                ssize_t n = read(pipefd[0], room ? out + got : sink, room ? len - 1 - got : sizeof(sink));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (room)
                        got += (size_t) n;
        }
        out[got] = '\0';
        (void) close(pipefd[0]);
        if (timed_out)
                (void) kill(pid, SIGKILL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (timed_out)
                return -ETIMEDOUT;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void first_line(char *s) {
        s[strcspn(s, "\n")] = '\0';
}

int sv_upgrade_target_open(const char *path, SvUpgradeTarget *ret, SvDiag *d) {
        struct stat st;
        char out[1024];
        *ret = (SvUpgradeTarget){ .fd = -EBADF };
        if (!path || path[0] != '/')
                return diag_set(d, 0, "'%s' is not an absolute path; give --exec /path/to/sockvisord", path ? path : "");
        (void) snprintf(ret->path, sizeof(ret->path), "%s", path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                int r = -errno;
                diag_set(d, 0, "cannot open %s: %s%s", path, strerror(-r),
                         r == -ENOENT ? " (is the new build installed there?)" : "");
                return r;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                (void) close(fd);
                return diag_set(d, 0, "%s is not a regular file; give the path of the sockvisord binary", path);
        }
        if (!(st.st_mode & 0111) || faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0) {
                (void) close(fd);
                return diag_set(d, 0, "%s is not executable (mode %04o); chmod +x it first", path,
                                (unsigned) (st.st_mode & 07777)), -EACCES;
        }
        char *argv[] = { ret->path, "--version", NULL };
        int r = run_captured(fd, argv, -1, out, sizeof(out));
        if (r != 0) {
                (void) close(fd);
                first_line(out);
                if (r == -ETIMEDOUT)
                        return diag_set(d, 0, "%s --version did not finish within %d s", path, CHECK_TIMEOUT_MS / 1000),
                               -ETIMEDOUT;
                return diag_set(d, 0, "%s --version failed (%s %d)%s%s: is it a sockvisord?", path,
                                r < 0 ? "error" : "status", r < 0 ? -r : r, out[0] ? ": " : "", out);
        }
        /* "sockvisord 0.2.0" and "upgrade state formats: 1 2" */
        const char *formats = strstr(out, "upgrade state formats:");
        if (strncmp(out, "sockvisord ", 11) != 0 || !formats) {
                (void) close(fd);
                first_line(out);
                return diag_set(d, 0, "%s is not a sockvisord that can take over a running one (its --version says "
                                      "'%s')",
                                path, out);
        }
        (void) sscanf(out + 11, "%63s", ret->version);
        bool reads = false;
        char want[16];
        (void) snprintf(want, sizeof(want), "%d", SV_STATE_VERSION);
        formats += strlen("upgrade state formats:");
        for (const char *p = formats; *p && *p != '\n';) {
                p += strspn(p, " ");
                size_t n = strcspn(p, " \n");
                reads |= n == strlen(want) && strncmp(p, want, n) == 0;
                p += n;
        }
        if (!reads) {
                (void) close(fd);
                char *nl = strchr(formats, '\n');
                if (nl)
                        *nl = '\0';
                return diag_set(d, 0, "%s (sockvisord %s) reads upgrade state formats%s, and this sockvisord writes "
                                      "%d: upgrade through a release that reads both, or restart the daemon",
                                path, ret->version, formats, SV_STATE_VERSION), -EPROTONOSUPPORT;
        }
        ret->fd = fd;
        return 0;
}

void sv_upgrade_target_close(SvUpgradeTarget *t) {
        t->fd = safe_close(t->fd);
}

int sv_upgrade_target_check_state(const SvUpgradeTarget *t, int memfd, SvDiag *d) {
        char num[16], out[1024];
        (void) snprintf(num, sizeof(num), "%d", memfd);
        char *argv[] = { (char *) t->path, "--check-state", num, NULL };
        int r = run_captured(t->fd, argv, memfd, out, sizeof(out)); /* the child clears CLOEXEC on its copy only */
        if (r == 0)
                return 0;
        first_line(out);
        if (r == -ETIMEDOUT)
                return diag_set(d, 0, "%s --check-state did not finish within %d s", t->path, CHECK_TIMEOUT_MS / 1000),
                       -ETIMEDOUT;
        const char *prefix = "sockvisord: ";
        const char *why = strncmp(out, prefix, strlen(prefix)) == 0 ? out + strlen(prefix) : out;
        return diag_set(d, 0, "%s cannot take over the running state: %s", t->path, why[0] ? why : "no reason given"),
               -EINVAL;
}

int sv_upgrade_memfd(const char *text, size_t len, SvDiag *d) {
        int fd = memfd_create("sockvisord-upgrade-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0) {
                int r = -errno;
                diag_set(d, 0, "cannot create the state memfd: %s", strerror(-r));
                return r;
        }
        for (size_t o = 0; o < len;) {
                ssize_t n = write(fd, text + o, len - o);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int r = n < 0 ? -errno : -EIO;
                        (void) close(fd);
                        diag_set(d, 0, "cannot write the state memfd: %s", strerror(-r));
                        return r;
                }
                o += (size_t) n;
        }
        if (fcntl(fd, F_ADD_SEALS, SEALS) < 0) {
                int r = -errno;
                (void) close(fd);
                diag_set(d, 0, "cannot seal the state memfd: %s", strerror(-r));
                return r;
        }
        return fd;
}

int sv_upgrade_memfd_read(int fd, char **ret_text, size_t *ret_len, SvDiag *d) {
        struct stat st;
        int seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0 || (seals & SEALS) != SEALS)
                return diag_set(d, 0, "fd %d is not a sealed state memfd (%s)", fd,
                                seals < 0 ? strerror(errno) : "not sealed");
        if (fstat(fd, &st) < 0 || st.st_size <= 0 || (uint64_t) st.st_size > SV_STATE_SIZE_MAX)
                return diag_set(d, 0, "fd %d: the state is empty or too large", fd);
        size_t len = (size_t) st.st_size;
        char *text = malloc(len + 1);
        if (!text)
                return diag_set(d, 0, "out of memory"), -ENOMEM;
        for (size_t o = 0; o < len;) {
                ssize_t n = pread(fd, text + o, len - o, (off_t) o);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        free(text);
                        return diag_set(d, 0, "cannot read the state memfd: %s", n < 0 ? strerror(errno) : "short"),
                               -EIO;
                }
                o += (size_t) n;
        }
        text[len] = '\0';
        *ret_text = text;
        *ret_len = len;
        return 0;
}

int sv_upgrade_exec(int fd, char *const argv[]) {
        sv_fdlimit_restore(); /* the next image raises it again, and knows the original */
        (void) execveat(fd, "", argv, environ, AT_EMPTY_PATH);
        int r = -errno;
        sv_fdlimit_reraise();
        return r;
}
