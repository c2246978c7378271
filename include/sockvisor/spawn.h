/* Starting one worker: fork, reset the child, move its sockets to 3.., exec. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sockvisor/diag.h"
#include "sockvisor/env.h"

/* PATH for a worker that has none (clearenv = yes), and for looking its command up. */
#define SV_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Who a worker runs as, resolved in the parent (NSS lookups are not for a forked child). */
typedef struct SvCreds {
        uid_t uid;
        gid_t gid;
        size_t n_groups;
        gid_t *groups; /* supplementary groups, as initgroups() would set them */
        char *name;    /* user name, for USER and LOGNAME */
        char *home;    /* for HOME */
} SvCreds;

/* Resolves user (a name or a number) and group (NULL: the user's primary group). The
 * daemon must be root to switch to another user; errors say so. */
int sv_creds_resolve(const char *user, const char *group, SvCreds *ret, SvDiag *d);
void sv_creds_done(SvCreds *c);

typedef struct SvSpawnRequest {
        char *const *argv;     /* argv[0] is looked up in PATH when it has no '/' */
        SvWorkerEnv *env;      /* LISTEN_PID is filled in by the child */
        const int *fds;        /* the sockets, in the order they get 3, 4, ... */
        size_t n_fds;
        const char *directory; /* NULL: inherit */
        int stdin_fd;          /* becomes fd 0 (normally /dev/null) */
        int output_fd;         /* >= 0: becomes fds 1 and 2 (a journal stream); -1: inherited */
        bool split_output;     /* stdout_fd and stderr_fd instead of output_fd */
        int stdout_fd, stderr_fd; /* with split_output: >= 0 becomes fd 1 / fd 2; -1: inherited */
        const SvCreds *creds;  /* NULL: keep the daemon's user */
        int umask;             /* -1: inherit */
        /* > 0: the cgroup.procs of the worker's own cgroup; the child writes "0" to it before
         * anything else, so what it forks is in it too (fd 0 is stdin, never this) */
        int join_cgroup_fd;
} SvSpawnRequest;

/* Forks and execs. The child unblocks every signal and resets every disposition (the
 * daemon blocks them for sd-event and ignores SIGPIPE, and both are inherited), becomes
 * its own process group, chdirs, moves the sockets to 3.. in two passes so no held fd is
 * clobbered whatever its number, leaves every other fd to close on exec, sets LISTEN_PID
 * and execs. Returns 0 with *ret_pid once the exec has happened (a CLOEXEC pipe reports
 * failures from the child); on failure the child has been reaped and d says which step
 * failed and why. */
int sv_spawn(const SvSpawnRequest *req, pid_t *ret_pid, SvDiag *d);

/* Finds argv0 in PATH (from envp, or a default). Returns 0 and a malloc'ed path, or
 * -ENOENT/-EACCES with d saying where it looked. */
int sv_find_executable(const char *argv0, char *const *envp, char **ret_path, SvDiag *d);
