/* What a cgroup per worker costs a spawn, and how much clone3's CLONE_INTO_CGROUP would
 * save: N copies of COMMAND started four ways, in turns, timed:
 *   join       mkdir a leaf, vfork, the child writes "0" to its cgroup.procs, execve (what
 *              sockvisord does as root);
 *   clone_join mkdir a leaf, clone3(CLONE_VFORK), the child writes to cgroup.procs, execve;
 *   into       mkdir a leaf, clone3(CLONE_VFORK | CLONE_INTO_CGROUP), execve. The two clone3
 *              ways copy this small process's page tables (no CLONE_VM, which would need a
 *              trampoline); their difference is the cgroup.procs write alone;
 *   none       vfork, execve.
 * Each round's processes are then killed and reaped by pid and its leaves removed. DIR is a
 * cgroup2 directory the caller may make leaves in (root: any under the cgroup2 mount).
 *
 *   cgroup_spawn N DIR COMMAND [ARG...]      (Linux 5.7 or later for "into")
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { JOIN, CLONE_JOIN, INTO, NONE };
static const char *const mode_name[] = { "join", "clone_join", "into", "none" };

static double ms_since(const struct timespec *a) {
        struct timespec b;
        clock_gettime(CLOCK_MONOTONIC, &b);
        return (double) (b.tv_sec - a->tv_sec) * 1e3 + (double) (b.tv_nsec - a->tv_nsec) / 1e6;
}

/* One child in mode: its pid, or -1. */
static pid_t spawn_one(int mode, int dir_fd, const char *leaf, char **cmd) {
        int cg = -1;
        volatile int procs = -1; /* read by the vfork child: kept in memory */
        pid_t pid;
        if (mode != NONE) {
                char path[128];
                if (mkdirat(dir_fd, leaf, 0755) < 0 || (cg = openat(dir_fd, leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                        return -1;
                (void) snprintf(path, sizeof(path), "%s/cgroup.procs", leaf);
                if ((mode == JOIN || mode == CLONE_JOIN) && (procs = openat(dir_fd, path, O_WRONLY | O_CLOEXEC)) < 0) {
                        close(cg);
                        return -1;
                }
        }
        if (mode == INTO || mode == CLONE_JOIN) {
                struct clone_args a = { .flags = CLONE_VFORK | (mode == INTO ? CLONE_INTO_CGROUP : 0),
                                        .exit_signal = SIGCHLD, .cgroup = mode == INTO ? (uint64_t) cg : 0 };
                pid = (pid_t) syscall(SYS_clone3, &a, sizeof(a));
        } else
                pid = vfork();
        if (pid == 0) {
                if (procs >= 0 && write(procs, "0", 1) != 1)
                        _exit(126);
                execvp(cmd[0], cmd);
                _exit(127);
        }
        if (cg >= 0)
                close(cg);
        if (procs >= 0)
                close(procs);
        return pid;
}

int main(int argc, char **argv) {
        if (argc < 4) {
                fprintf(stderr, "usage: %s N DIR COMMAND [ARG...]\n", argv[0]);
                return 2;
        }
        long n = strtol(argv[1], NULL, 10);
        if (n <= 0 || n > 20000) {
                fprintf(stderr, "%s: N must be 1 to 20000, not '%s'\n", argv[0], argv[1]);
                return 2;
        }
        int dir_fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        pid_t *pids = calloc((size_t) n, sizeof(pid_t));
        if (dir_fd < 0 || !pids) {
                perror(argv[2]);
                return 1;
        }
        int rc = 0;
        for (int mode = JOIN; mode <= NONE; mode++) {
                struct timespec t0;
                long started = 0;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                for (long i = 0; i < n; i++) {
                        char leaf[64];
                        (void) snprintf(leaf, sizeof(leaf), "%s-%ld", mode_name[mode], i);
                        pids[i] = spawn_one(mode, dir_fd, leaf, argv + 3);
                        started += pids[i] > 0;
                }
                double ms = ms_since(&t0);
                printf("%s_ms %.1f (%ld of %ld started, %.1f us each)\n", mode_name[mode], ms, started, n, ms * 1000 / (double) n);
                rc |= started != n;
                for (long i = 0; i < n; i++)
                        if (pids[i] > 0) {
                                (void) kill(pids[i], SIGKILL);
                                (void) waitpid(pids[i], NULL, 0);
                        }
                for (long i = 0; i < n && mode != NONE; i++) {
                        char leaf[64];
                        (void) snprintf(leaf, sizeof(leaf), "%s-%ld", mode_name[mode], i);
                        (void) unlinkat(dir_fd, leaf, AT_REMOVEDIR);
                }
        }
        free(pids);
        close(dir_fd);
        return rc;
}
