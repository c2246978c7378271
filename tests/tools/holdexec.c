/* sv-holdexec: holds a listening socket as sockvisord does for intercept_bind programs (a
 * non-blocking open file description) and runs a command with it at fd 3,
 * SOCKVISOR_BIND_FDS=3 and the bind shim in LD_PRELOAD; several copies of the command can
 * run at once (-n, and one more on each SIGUSR1), all sharing the one held socket. Prints
 * "inode N" and "port P", then "pid P" per command started and "exit P STATUS" per command
 * reaped, one line each, flushed. Exits when the last command has exited, or on
 * SIGTERM/SIGINT after sending SIGTERM to the commands still running (SIGKILL after 5 s). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILDREN_MAX 64
#define HELD_FD_MIN 10

static void usage(FILE *f) {
        fprintf(f, "usage: sv-holdexec [-s SHIM] [-n N] [-b] ADDR -- COMMAND [ARG...]\n"
                   "ADDR: IPV4:PORT, [IPV6]:PORT or unix:PATH (unix:@NAME: abstract). -s: the shim\n"
                   "(default: ../libsockvisor-bind.so beside this tool). -n: copies to start (1..%d,\n"
                   "default 1). -b: hand the listener over blocking (what the daemon must not do).\n",
                CHILDREN_MAX);
}

static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len) {
        memset(ss, 0, sizeof(*ss));
        if (strncmp(s, "unix:", 5) == 0) {
                struct sockaddr_un *un = (struct sockaddr_un *) ss;
                const char *p = s + 5;
                size_t n = strlen(p);
                if (n == 0 || n >= sizeof(un->sun_path))
                        return -EINVAL;
                un->sun_family = AF_UNIX;
                memcpy(un->sun_path, p, n);
                if (p[0] == '@') {
                        un->sun_path[0] = '\0';
                        *len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n);
                } else
                        *len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1);
                return 0;
        }
        char host[INET6_ADDRSTRLEN + 2];
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t) (colon - s) >= sizeof(host))
                return -EINVAL;
        memcpy(host, s, (size_t) (colon - s));
        host[colon - s] = '\0';
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port < 0 || port > 65535)
                return -EINVAL;
        if (host[0] == '[') {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;
                size_t hl = strlen(host);
                if (hl < 2 || host[hl - 1] != ']')
                        return -EINVAL;
                host[hl - 1] = '\0';
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
                        return -EINVAL;
                *len = sizeof(*in6);
                return 0;
        }
        struct sockaddr_in *in = (struct sockaddr_in *) ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t) port);
        if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
                return -EINVAL;
        *len = sizeof(*in);
        return 0;
}

static pid_t children[CHILDREN_MAX];
static int n_children;

static pid_t start(int held, const char *shim, char **cmd) {
        pid_t pid = fork();
        if (pid < 0) {
                perror("sv-holdexec: fork");
                return -1;
        }
        if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                if (dup2(held, 3) < 0) /* dup2 leaves fd 3 without CLOEXEC: it is passed on */
                        _exit(127);
                char pidbuf[32], preload[PATH_MAX + 4096];
                const char *old = getenv("LD_PRELOAD");
                (void) snprintf(preload, sizeof(preload), "%s%s%s", shim, old && *old ? ":" : "", old ? old : "");
                (void) snprintf(pidbuf, sizeof(pidbuf), "%d", (int) getpid());
                if (setenv("SOCKVISOR_BIND_FDS", "3", 1) < 0 || setenv("LD_PRELOAD", preload, 1) < 0 ||
                    setenv("LISTEN_FDS", "1", 1) < 0 || setenv("LISTEN_FDNAMES", "held", 1) < 0 ||
                    setenv("LISTEN_PID", pidbuf, 1) < 0)
                        _exit(127);
                execvp(cmd[0], cmd);
                fprintf(stderr, "sv-holdexec: exec %s: %s\n", cmd[0], strerror(errno));
                _exit(127);
        }
        children[n_children++] = pid;
        printf("pid %d\n", (int) pid);
        fflush(stdout);
        return pid;
}

static void reap(void) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                for (int k = 0; k < n_children; k++)
                        if (children[k] == pid) {
                                children[k] = children[--n_children];
                                break;
                        }
                if (WIFEXITED(status))
                        printf("exit %d status %d\n", (int) pid, WEXITSTATUS(status));
                else
                        printf("exit %d signal %d\n", (int) pid, WTERMSIG(status));
                fflush(stdout);
        }
}

int main(int argc, char **argv) {
        char shim[PATH_MAX] = "";
        long copies = 1;
        bool blocking = false;
        int opt;

        while ((opt = getopt(argc, argv, "+s:n:bh")) != -1) {
                switch (opt) {
                case 's':
                        (void) snprintf(shim, sizeof(shim), "%s", optarg);
                        break;
                case 'n':
                        copies = strtol(optarg, NULL, 10);
                        break;
                case 'b':
                        blocking = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind + 2 > argc || strcmp(argv[optind + 1], "--") != 0 || optind + 3 > argc || copies < 1 ||
            copies > CHILDREN_MAX) {
                usage(stderr);
                return 2;
        }
        const char *addr = argv[optind];
        char **cmd = argv + optind + 2;
        if (!shim[0]) {
                char exe[PATH_MAX];
                ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
                if (n <= 0) {
                        perror("sv-holdexec: readlink /proc/self/exe");
                        return 1;
                }
                exe[n] = '\0';
                *strrchr(exe, '/') = '\0';
                (void) snprintf(shim, sizeof(shim), "%s/../libsockvisor-bind.so", exe);
        }
        if (access(shim, R_OK) < 0) {
                fprintf(stderr, "sv-holdexec: shim '%s': %s\n", shim, strerror(errno));
                return 1;
        }

        struct sockaddr_storage ss;
        socklen_t sl;
        if (parse_addr(addr, &ss, &sl) < 0) {
                fprintf(stderr, "sv-holdexec: '%s': expected IPV4:PORT, [IPV6]:PORT or unix:PATH\n", addr);
                return 2;
        }
        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
        int one = 1;
        if (fd < 0 || (ss.ss_family != AF_UNIX && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
            bind(fd, (struct sockaddr *) &ss, sl) < 0 || listen(fd, 4096) < 0) {
                fprintf(stderr, "sv-holdexec: listen on %s: %s\n", addr, strerror(errno));
                return 1;
        }
        int held = fcntl(fd, F_DUPFD_CLOEXEC, HELD_FD_MIN); /* out of the way of 3 */
        if (held < 0) {
                perror("sv-holdexec: fcntl");
                return 1;
        }
        (void) close(fd);
        struct stat st;
        struct sockaddr_storage bound;
        socklen_t bl = sizeof(bound);
        if (fstat(held, &st) < 0 || getsockname(held, (struct sockaddr *) &bound, &bl) < 0) {
                perror("sv-holdexec: fstat");
                return 1;
        }
        printf("inode %lu\n", (unsigned long) st.st_ino);
        if (bound.ss_family == AF_INET)
                printf("port %u\n", ntohs(((struct sockaddr_in *) &bound)->sin_port));
        else if (bound.ss_family == AF_INET6)
                printf("port %u\n", ntohs(((struct sockaddr_in6 *) &bound)->sin6_port));
        fflush(stdout);

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGUSR1);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        for (long k = 0; k < copies; k++)
                if (start(held, shim, cmd) < 0)
                        return 1;

        struct timespec tick = { .tv_sec = 1 };
        while (n_children > 0) {
                int sig = sigtimedwait(&mask, NULL, &tick);
                if (sig == SIGUSR1 && n_children < CHILDREN_MAX)
                        (void) start(held, shim, cmd);
                else if (sig == SIGTERM || sig == SIGINT) {
                        for (int k = 0; k < n_children; k++)
                                (void) kill(children[k], SIGTERM);
                        for (int t = 0; t < 50 && n_children > 0; t++) { /* 5 s, then SIGKILL */
                                struct timespec ts = { .tv_nsec = 100000000L };
                                (void) nanosleep(&ts, NULL);
                                reap();
                        }
                        for (int k = 0; k < n_children; k++)
                                (void) kill(children[k], SIGKILL);
                        while (n_children > 0 && waitpid(-1, NULL, 0) > 0)
                                reap();
                        return 0;
                }
                reap();
        }
        return 0;
}
