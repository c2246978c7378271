/* sv-testworker: a worker for the end-to-end tests that reports what it was given.
 *
 *   sv-testworker [OPTIONS] FILE
 *                        writes one line per open fd to FILE ("fd N socket PORT|path|other
 *                        TARGET") plus "env KEY=VALUE" for the activation variables,
 *                        "pid N" and "umask NNNN", sends READY=1, then waits for SIGTERM
 *                        and dies of it.
 *
 *   --ignore-term        SIGTERM is ignored (set before FILE appears): only SIGKILL ends us
 *   --fork-grandchild    fork a child first that stays in our process group, is reported
 *                        as "grandchild PID", and pauses until a signal kills it
 *   --exit N             exit with status N right after writing FILE (no READY=1)
 *   --no-ready           never send READY=1
 *   --ready-file PATH    send READY=1 only once PATH exists (polled every 20 ms): the
 *                        instance stays STARTING until the test creates PATH
 *   --exit-after MS N    exit with status N MS milliseconds after READY=1 was sent (or,
 *                        with --no-ready, after FILE appeared)
 *   --exit-if PATH N     exit with status N right after writing FILE when PATH exists
 *                        (no READY=1): a crash loop the test ends by removing PATH
 *   --on-hup PATH        append "armed PID" to PATH once the SIGHUP handler is set (before
 *                        FILE appears), and "hup PID" on each SIGHUP, instead of dying of it
 *
 * The fd list is taken first thing in main, before this program opens anything itself, so
 * it shows exactly what the supervisor passed. No libsystemd: READY=1 is sent by hand, which
 * also checks that NOTIFY_SOCKET works for programs that do not link it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FDS_MAX 256

static void send_ready(void) {
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        if (!path || !*path || strlen(path) >= sizeof(sun.sun_path))
                return;
        strcpy(sun.sun_path, path);
        socklen_t len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path));
        if (sun.sun_path[0] == '@')
                sun.sun_path[0] = '\0';
        else
                len++;
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return;
        (void) sendto(fd, "READY=1\nSTATUS=reporting", 24, MSG_NOSIGNAL, (struct sockaddr *) &sun, len);
        close(fd);
}

static const char *hup_path;

static void append_line(const char *path, const char *what) {
        char line[64];
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        int len = snprintf(line, sizeof(line), "%s %d\n", what, (int) getpid());
        if (len > 0)
                (void) !write(fd, line, (size_t) len);
        close(fd);
}

/* open, write, close and getpid are async-signal-safe; snprintf of an int is, in glibc. */
static void on_hup(int sig) {
        int saved = errno;
        (void) sig;
        append_line(hup_path, "hup");
        errno = saved;
}

static void sleep_ms(long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int parse_status(const char *s, int *ret) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end || end == s || v < 0 || v > 255)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

static int usage(void) {
        fprintf(stderr, "usage: sv-testworker [--ignore-term] [--fork-grandchild] [--exit N] [--no-ready] "
                        "[--ready-file PATH] [--exit-after MS N] [--exit-if PATH N] [--on-hup PATH] FILE\n");
        return 2;
}

int main(int argc, char **argv) {
        int fds[FDS_MAX];
        char targets[FDS_MAX][128];
        size_t n = 0;
        bool ignore_term = false, grandchild = false, ready = true;
        int exit_status = -1;
        const char *ready_file = NULL, *exit_if = NULL;
        long exit_after_ms = -1;
        int exit_after_status = 0, exit_if_status = 0;
        int a = 1;

        for (; a < argc && strncmp(argv[a], "--", 2) == 0; a++) {
                if (strcmp(argv[a], "--ignore-term") == 0)
                        ignore_term = true;
                else if (strcmp(argv[a], "--fork-grandchild") == 0)
                        grandchild = true;
                else if (strcmp(argv[a], "--no-ready") == 0)
                        ready = false;
                else if (strcmp(argv[a], "--exit") == 0 && a + 1 < argc) {
                        char *end;
                        long v = strtol(argv[++a], &end, 10);
                        if (*end || end == argv[a] || v < 0 || v > 255)
                                return usage();
                        exit_status = (int) v;
                } else if (strcmp(argv[a], "--ready-file") == 0 && a + 1 < argc)
                        ready_file = argv[++a];
                else if (strcmp(argv[a], "--on-hup") == 0 && a + 1 < argc)
                        hup_path = argv[++a];
                else if (strcmp(argv[a], "--exit-if") == 0 && a + 2 < argc) {
                        exit_if = argv[++a];
                        if (parse_status(argv[++a], &exit_if_status) < 0)
                                return usage();
                } else if (strcmp(argv[a], "--exit-after") == 0 && a + 2 < argc) {
                        char *end;
                        exit_after_ms = strtol(argv[++a], &end, 10);
                        if (*end || end == argv[a] || exit_after_ms < 0 || exit_after_ms > 3600L * 1000)
                                return usage();
                        if (parse_status(argv[++a], &exit_after_status) < 0)
                                return usage();
                } else
                        return usage();
        }
        if (a != argc - 1)
                return usage();
        const char *file = argv[a];
        /* Probe fds by number rather than opendir(), which would add one of its own. */
        for (int fd = 0; fd < 1024 && n < FDS_MAX; fd++) {
                if (fcntl(fd, F_GETFD) < 0)
                        continue;
                char link[64];
                (void) snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
                ssize_t l = readlink(link, targets[n], sizeof(targets[n]) - 1);
                targets[n][l > 0 ? l : 0] = '\0';
                fds[n++] = fd;
        }

        /* Before the report is opened, so the grandchild holds nothing of it. It keeps our
         * process group (no setsid) and the default dispositions, and waits to be killed. */
        pid_t gpid = 0;
        if (grandchild) {
                gpid = fork();
                if (gpid < 0) {
                        perror("sv-testworker: fork");
                        return 1;
                }
                if (gpid == 0)
                        for (;;)
                                pause();
        }

        /* Before the report appears, so whoever sees it can count on SIGHUP being caught. */
        if (hup_path) {
                struct sigaction sa = { .sa_handler = on_hup, .sa_flags = SA_RESTART };
                sigemptyset(&sa.sa_mask);
                (void) sigaction(SIGHUP, &sa, NULL);
                append_line(hup_path, "armed");
        }

        /* Per pid: the instances of a program with numprocs > 1 share one FILE. */
        char tmp[4096];
        (void) snprintf(tmp, sizeof(tmp), "%s.tmp.%d", file, (int) getpid());
        FILE *f = fopen(tmp, "we");
        if (!f) {
                perror("sv-testworker: fopen");
                return 1;
        }
        fprintf(f, "pid %d\n", (int) getpid());
        if (gpid > 0)
                fprintf(f, "grandchild %d\n", (int) gpid);
        mode_t mask = umask(0);
        (void) umask(mask);
        fprintf(f, "umask %04o\n", (unsigned) mask);
        for (size_t i = 0; i < n; i++) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                int fl = fcntl(fds[i], F_GETFL);
                if (getsockname(fds[i], (struct sockaddr *) &ss, &sl) == 0 && ss.ss_family == AF_INET)
                        fprintf(f, "fd %d port %u %s\n", fds[i], ntohs(((struct sockaddr_in *) &ss)->sin_port),
                                fl >= 0 && (fl & O_NONBLOCK) ? "nonblock" : "block");
                else
                        fprintf(f, "fd %d other %s\n", fds[i], targets[i]);
        }
        const char *keys[] = { "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "SOCKVISOR_GENERATION" };
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                fprintf(f, "env %s=%s\n", keys[i], getenv(keys[i]) ? getenv(keys[i]) : "");
        sigset_t blocked;
        (void) sigprocmask(SIG_SETMASK, NULL, &blocked);
        fprintf(f, "sigterm-blocked %d\n", sigismember(&blocked, SIGTERM));
        if (fclose(f) != 0) {
                perror("sv-testworker: write");
                return 1;
        }
        /* Before the report appears, so whoever sees it can count on SIGTERM being ignored. */
        if (ignore_term)
                (void) signal(SIGTERM, SIG_IGN);
        if (rename(tmp, file) < 0) {
                perror("sv-testworker: rename");
                return 1;
        }
        if (exit_status >= 0)
                return exit_status;
        if (exit_if && access(exit_if, F_OK) == 0)
                return exit_if_status;
        if (ready) {
                while (ready_file && access(ready_file, F_OK) < 0)
                        sleep_ms(20);
                send_ready();
        }
        if (exit_after_ms >= 0) {
                sleep_ms(exit_after_ms);
                return exit_after_status;
        }
        for (;;)
                pause(); /* SIGTERM's default action ends us: that is the test of the reset mask */
}
