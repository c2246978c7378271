/* vfork + exec of a worker. Not posix_spawn: LISTEN_PID must be the child's own pid,
 * which only the child knows, as in systemd-socket-activate. vfork rather than fork: a
 * fork copies the page tables of the whole daemon, which with 10,000 programs was most of
 * the start-up time; the vfork child shares our memory until its execve, so it runs only
 * raw syscalls (no allocation, no glibc wrapper that takes a lock or signals our threads,
 * as setresuid() does), and writes only its own stack, the SOCKVISOR_PID slot and, when
 * it cannot exec, the report of why (SpawnError). */
#include "sockvisor/spawn.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sockvisor/config.h"
#include "sockvisor/fdlimit.h"
#include "sockvisor/macro.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif



typedef enum SpawnStage {
        STAGE_CREDS,
        STAGE_DUP,
        STAGE_CHDIR,
        STAGE_STDIN,
        STAGE_OUTPUT,
        STAGE_EXEC,
        STAGE_CGROUP,
} SpawnStage;

/* What the vfork child reports when it cannot exec: written into the parent's memory,
 * which it shares until then (no pipe: that was 5 syscalls on every spawn's path). */
typedef struct SpawnError {
        bool failed;
        int stage;
        int err;
} SpawnError;

static int parse_id(const char *s, unsigned long *ret) {
        char *end;
        if (!*s || strspn(s, "0123456789") != strlen(s))
                return -EINVAL;
        errno = 0;
        *ret = strtoul(s, &end, 10);
        return errno || *ret >= (unsigned long) UINT32_MAX ? -ERANGE : 0;
}

int sv_creds_resolve(const char *user, const char *group, SvCreds *ret, SvDiag *d) {
        SvCreds c = {};
        unsigned long id;
        struct passwd *pw;

        errno = 0;
        pw = parse_id(user, &id) == 0 ? getpwuid((uid_t) id) : getpwnam(user);
        if (!pw && parse_id(user, &id) != 0)
                return diag_set(d, 0, "user '%s' does not exist on this machine (getent passwd %s)", user, user);
        c.uid = pw ? pw->pw_uid : (uid_t) id;
        c.gid = pw ? pw->pw_gid : (gid_t) id; /* a bare uid with no passwd entry: its own gid */
        c.name = strdup(pw ? pw->pw_name : user);
        c.home = strdup(pw ? pw->pw_dir : "/");
        if (!c.name || !c.home) {
                sv_creds_done(&c);
                return -ENOMEM;
        }
        if (group) {
                struct group *gr = parse_id(group, &id) == 0 ? getgrgid((gid_t) id) : getgrnam(group);
                if (!gr && parse_id(group, &id) != 0) {
                        sv_creds_done(&c);
                        return diag_set(d, 0, "group '%s' does not exist on this machine (getent group %s)", group,
                                        group);
                }
                c.gid = gr ? gr->gr_gid : (gid_t) id;
        }
        if (geteuid() != 0 && (c.uid != geteuid() || c.gid != getegid())) {
                sv_creds_done(&c);
                return diag_set(d, 0,
                                "cannot run as user '%s'%s%s: sockvisord runs as uid %u, and only root may switch users "
                                "(run sockvisord as root, or remove user=/group=)",
                                user, group ? " group " : "", group ? group : "", (unsigned) geteuid());
        }
        /* The supplementary groups initgroups() would set, looked up now rather than in the child. */
        int n = 32;
        for (int tries = 0; tries < 8; tries++) {
                gid_t *g = realloc(c.groups, (size_t) n * sizeof(gid_t));
                if (!g) {
                        sv_creds_done(&c);
                        return -ENOMEM;
                }
                c.groups = g;
                int want = n;
                if (getgrouplist(c.name, c.gid, c.groups, &want) >= 0) {
                        c.n_groups = (size_t) want;
                        break;
                }
                n = want > n ? want : n * 2;
        }
        *ret = c;
        return 0;
}

void sv_creds_done(SvCreds *c) {
        free(c->groups);
        free(c->name);
        free(c->home);
        *c = (SvCreds){};
}

int sv_find_executable(const char *argv0, char *const *envp, char **ret_path, SvDiag *d) {
        if (strchr(argv0, '/')) {
                char *p = strdup(argv0);
                if (!p)
                        return -ENOMEM;
                *ret_path = p;
                return 0;
        }
        const char *path = sv_env_get(envp, "PATH");
        if (!path || !*path)
                path = SV_DEFAULT_PATH;

        int last = -ENOENT;
        for (const char *s = path; *s;) {
                size_t n = strcspn(s, ":");
                char buf[PATH_MAX];
                if (n > 0 && (size_t) snprintf(buf, sizeof(buf), "%.*s/%s", (int) n, s, argv0) < sizeof(buf)) {
                        struct stat st;
                        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
                                if (access(buf, X_OK) == 0) {
                                        char *p = strdup(buf);
                                        if (!p)
                                                return -ENOMEM;
                                        *ret_path = p;
                                        return 0;
                                }
                                last = -EACCES;
                        }
                }
                s += n;
                if (*s == ':')
                        s++;
        }
        if (last == -EACCES)
                diag_set(d, 0, "'%s' was found in PATH but is not executable", argv0);
        else
                diag_set(d, 0, "command '%s' not found in PATH=%s; write its absolute path in command=", argv0, path);
        return last;
}

_noreturn_ static void child_fail(volatile SpawnError *report, SpawnStage stage) {
        report->err = errno;
        report->stage = stage;
        report->failed = true;
        _exit(127);
}

/* The signals whose disposition here is not SIG_DFL (a handler, or SIG_IGN, ours or from our
 * parent): what the child resets. Read once, at the first spawn: sockvisord sets its
 * dispositions (SIGPIPE) before it starts anything, and resetting all 62 in every child
 * was 62 syscalls on each spawn's path, which the vfork parent waits out. */
typedef struct SigList {
        bool taken;
        unsigned n;
        int sig[NSIG];
} SigList;

static const SigList *nondefault_signals(void) {
        static SigList list;
        if (!list.taken) {
                for (int sig = 1; sig < NSIG; sig++) {
                        struct sigaction sa;
                        if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
                                continue;
                        if ((sa.sa_flags & SA_SIGINFO) || sa.sa_handler != SIG_DFL)
                                list.sig[list.n++] = sig;
                }
                list.taken = true;
        }
        return &list;
}

/* Runs in the vfork child only, on our memory: nothing here may allocate or lock. */
_noreturn_ static void child_exec(const SvSpawnRequest *req, const char *path, volatile SpawnError *report,
                                  const struct rlimit *nofile, const SigList *reset) {
        sigset_t none;
        size_t n = req->n_fds;
        int base = 3 + (int) n;
        int tmp[SV_PROGRAM_SOCKETS_MAX];

        /* dispositions first, then the mask: no handler of ours may run in the child */
        for (unsigned k = 0; k < reset->n; k++)
                (void) signal(reset->sig[k], SIG_DFL);
        (void) sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) setpgid(0, 0);
        if (req->join_cgroup_fd > 0 && write(req->join_cgroup_fd, "0", 1) != 1)
                child_fail(report, STAGE_CGROUP);

        if (req->umask >= 0)
                (void) umask((mode_t) req->umask);
        /* groups before gid before uid: each step needs the privileges the next one drops */
        /* raw syscalls: glibc's wrappers would make every thread of the daemon switch too */
        if (req->creds && (syscall(SYS_setgroups, req->creds->n_groups, req->creds->groups) < 0 ||
                           syscall(SYS_setresgid, req->creds->gid, req->creds->gid, req->creds->gid) < 0 ||
                           syscall(SYS_setresuid, req->creds->uid, req->creds->uid, req->creds->uid) < 0))
                child_fail(report, STAGE_CREDS);
        if (req->directory && chdir(req->directory) < 0)
                child_fail(report, STAGE_CHDIR);
        if (req->stdin_fd >= 0 && req->stdin_fd != STDIN_FILENO && dup2(req->stdin_fd, STDIN_FILENO) < 0)
                child_fail(report, STAGE_STDIN);
        if (!req->split_output && req->output_fd >= 0 &&
            (dup2(req->output_fd, STDOUT_FILENO) < 0 || dup2(req->output_fd, STDERR_FILENO) < 0))
                child_fail(report, STAGE_OUTPUT);
        if (req->split_output) {
                /* stderr_fd may be our fd 1 (stderr_logfile = /dev/stdout): keep it before fd 1 changes */
                int err = req->stderr_fd == STDOUT_FILENO ? fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, base) : req->stderr_fd;
                if ((req->stdout_fd >= 0 && req->stdout_fd != STDOUT_FILENO && dup2(req->stdout_fd, STDOUT_FILENO) < 0) ||
                    (req->stderr_fd >= 0 && (err < 0 || (err != STDERR_FILENO && dup2(err, STDERR_FILENO) < 0))))
                        child_fail(report, STAGE_OUTPUT);
        }

        /* Pass 1: copy every socket above 3+n, so pass 2 can never overwrite one still needed. */
        for (size_t i = 0; i < n; i++) {
                tmp[i] = fcntl(req->fds[i], F_DUPFD_CLOEXEC, base);
                if (tmp[i] < 0)
                        child_fail(report, STAGE_DUP);
        }
        /* Pass 2: into place; dup2 clears CLOEXEC on the target only. */
        for (size_t i = 0; i < n; i++)
                if (dup2(tmp[i], 3 + (int) i) < 0)
                        child_fail(report, STAGE_DUP);
        /* Everything from 3+n up closes at exec, whatever a library forgot to mark. */
        (void) syscall(__NR_close_range, (unsigned) base, ~0U, CLOSE_RANGE_CLOEXEC);

        /* the soft fd limit sockvisord started with (it raised its own); fds above it are
         * CLOEXEC, so none the worker keeps is out of its range */
        if (nofile)
                (void) setrlimit(RLIMIT_NOFILE, nofile);
        sv_worker_env_set_pid(req->env, (pid_t) syscall(SYS_getpid));
        execve(path, req->argv, req->env->envp);
        child_fail(report, STAGE_EXEC);
}

int sv_spawn(const SvSpawnRequest *req, pid_t *ret_pid, SvDiag *d) {
        _cleanup_free_ char *path = NULL;
        volatile SpawnError e = {};
        int r;

        if (req->n_fds > SV_PROGRAM_SOCKETS_MAX)
                return diag_set(d, 0, "too many sockets for one worker (%zu, at most %d)", req->n_fds, SV_PROGRAM_SOCKETS_MAX);
        r = sv_find_executable(req->argv[0], req->env->envp, &path, d);
        if (r < 0)
                return r;

        const struct rlimit *nofile = sv_fdlimit_original(); /* read before fork: the child only copies */
        const SigList *reset = nondefault_signals();
        pid_t pid = vfork(); /* we wait here until the child has exec'd or exited */
        if (pid < 0) {
                r = -errno;
                diag_set(d, 0, "vfork failed: %s", strerror(-r));
                return r;
        }
        if (pid == 0)
                child_exec(req, path, &e, nofile, reset);

        /* back: the child has exec'd, or reported why not in e and exited */
        if (!e.failed) {
                *ret_pid = pid;
                return 0;
        }

        /* The child reported a failure and is exiting: reap it here, it never reaches the loop. */
        (void) waitpid(pid, NULL, 0);
        switch (e.stage) {
        case STAGE_CREDS:
                diag_set(d, 0, "cannot switch to uid %u gid %u: %s", (unsigned) req->creds->uid,
                         (unsigned) req->creds->gid, strerror(e.err));
                break;
        case STAGE_CHDIR:
                diag_set(d, 0, "cannot change to directory %s: %s", req->directory, strerror(e.err));
                break;
        case STAGE_STDIN:
                diag_set(d, 0, "cannot set up stdin: %s", strerror(e.err));
                break;
        case STAGE_OUTPUT:
                diag_set(d, 0, "cannot connect stdout and stderr to %s: %s",
                         req->split_output ? "their log pipes" : "the journal stream", strerror(e.err));
                break;
        case STAGE_CGROUP:
                diag_set(d, 0, "cannot join its cgroup: %s", strerror(e.err));
                break;
        case STAGE_DUP:
                diag_set(d, 0, "cannot move the sockets to fd 3..: %s", strerror(e.err));
                break;
        default:
                diag_set(d, 0, "cannot execute %s: %s", path, strerror(e.err));
                break;
        }
        return e.err > 0 ? -e.err : -EIO;
}
