/* A worker's credentials, environment and output, then fork and exec. */
#include "sockvisor/process.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "sockvisor/cmdline.h"
#include "sockvisor/env.h"
#include "sockvisor/log.h"
#include "sockvisor/macro.h"
#include "sockvisor/shim.h"
#include "sockvisor/spawn.h"

extern char **environ;

/* Who the workers run as, looked up (NSS, which may block on a network directory) when a
 * configuration is loaded or reloaded, never at a spawn. */
typedef struct CredsEntry {
        char *user, *group; /* as written in the configuration; group may be NULL */
        SvCreds creds;
} CredsEntry;

struct SvCredsCache {
        CredsEntry *v;
        size_t n;
};

static bool streq_null(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

static CredsEntry *cache_find(const SvCredsCache *c, const char *user, const char *group) {
        for (size_t k = 0; c && k < c->n; k++)
                if (strcmp(c->v[k].user, user) == 0 && streq_null(c->v[k].group, group))
                        return &c->v[k];
        return NULL;
}

static void entry_done(CredsEntry *e) {
        free(e->user);
        free(e->group);
        sv_creds_done(&e->creds);
}

SvCredsCache *sv_creds_cache_free(SvCredsCache *c) {
        for (size_t k = 0; c && k < c->n; k++)
                entry_done(&c->v[k]);
        if (c)
                free(c->v);
        free(c);
        return NULL;
}

int sv_creds_cache_update(SvCredsCache **cache, const SvConfig *cfg, SvDiag *d) {
        SvCredsCache fresh = {};
        int r = 0;
        /* every lookup first: a failure leaves the cache as it was */
        for (size_t k = 0; k < cfg->n_programs && r >= 0; k++) {
                const SvProgramConf *pc = &cfg->programs[k];
                const char *user = pc->user ? pc->user : "0";
                if ((!pc->user && !pc->group) || cache_find(&fresh, user, pc->group))
                        continue;
                CredsEntry *v = realloc(fresh.v, (fresh.n + 1) * sizeof(CredsEntry));
                if (!v) {
                        diag_set(d, 0, "out of memory");
                        r = -ENOMEM;
                        break;
                }
                fresh.v = v;
                CredsEntry *e = &fresh.v[fresh.n];
                *e = (CredsEntry){ .user = strdup(user), .group = pc->group ? strdup(pc->group) : NULL };
                SvDiag why = {};
                r = sv_creds_resolve(user, pc->group, &e->creds, &why);
                if (r < 0 || !e->user || (pc->group && !e->group)) {
                        if (r < 0)
                                diag_set(d, pc->user_line, "%s:%u: [program:%s] %s", cfg->origin, pc->user_line,
                                         pc->name, why.msg);
                        else {
                                sv_creds_done(&e->creds);
                                diag_set(d, 0, "out of memory");
                                r = -ENOMEM;
                        }
                        free(e->user);
                        free(e->group);
                        break;
                }
                fresh.n++;
        }
        if (r >= 0 && cache && !*cache && !(*cache = calloc(1, sizeof(SvCredsCache)))) {
                diag_set(d, 0, "out of memory");
                r = -ENOMEM;
        }
        if (r < 0 || !cache) { /* failed, or a check only: keep nothing */
                for (size_t k = 0; k < fresh.n; k++)
                        entry_done(&fresh.v[k]);
                free(fresh.v);
                return r;
        }
        /* fresh lookups replace old ones; users only an older configuration names stay, for
         * the generations still running with it */
        SvCredsCache *c = *cache;
        for (size_t k = 0; k < fresh.n; k++) {
                CredsEntry *old = cache_find(c, fresh.v[k].user, fresh.v[k].group);
                if (old) {
                        entry_done(old);
                        *old = fresh.v[k];
                        continue;
                }
                CredsEntry *v = realloc(c->v, (c->n + 1) * sizeof(CredsEntry));
                if (!v) {
                        entry_done(&fresh.v[k]);
                        continue; /* looked up again at the spawn that needs it */
                }
                c->v = v;
                c->v[c->n++] = fresh.v[k];
        }
        free(fresh.v);
        return 0;
}

int sv_process_creds(const SvCredsCache *cache, const char *user, const char *group, SvCreds *own,
                     const SvCreds **ret, SvDiag *d) {
        *ret = NULL;
        if (!user && !group)
                return 0;
        const CredsEntry *e = cache_find(cache, user ? user : "0", group);
        if (e) {
                *ret = &e->creds;
                return 0;
        }
        /* not looked up at load (out of memory then): now, then */
        int r = sv_creds_resolve(user ? user : "0", group, own, d);
        if (r < 0)
                return r;
        *ret = own;
        return 0;
}

int sv_config_check_users(const SvConfig *cfg, SvDiag *d) {
        return sv_creds_cache_update(NULL, cfg, d);
}

/* Where each held socket is bound, as the kernel says (an adopted socket, a port 0), for
 * SERVER_STARTER_PORT and EINHORN_FD_FAMILY_K. One it cannot name is left out of
 * SERVER_STARTER_PORT, with a warning. */
static void socket_addrs(const SvSpawnSpec *spec, size_t n, SvAddr *ret) {
        for (size_t k = 0; k < n; k++) {
                struct sockaddr_storage ss = {};
                socklen_t len = sizeof(ss);
                int type = 0;
                socklen_t tlen = sizeof(type);
                char port[SV_ADDR_STRLEN];

                if (getsockname(spec->fds[k], (struct sockaddr *) &ss, &len) < 0 ||
                    getsockopt(spec->fds[k], SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 ||
                    sv_addr_from_sockaddr((struct sockaddr *) &ss, len, type, &ret[k]) < 0)
                        ret[k] = (SvAddr){};
                if ((spec->conf->fd_env & SV_FD_ENV_SERVER_STARTER) &&
                    sv_server_starter_port(&ret[k], port, sizeof(port)) < 0)
                        sv_log_instance(LOG_WARNING, spec->program, spec->instance, 0, spec->generation,
                                        "%s: socket %s (fd %zu) is left out of SERVER_STARTER_PORT: its address "
                                        "cannot be written there (a ';' or '=' in a path, or not an inet or "
                                        "unix address)",
                                        spec->instance, spec->fd_names[k], 3 + k);
        }
}

/* intercept_bind: the shim to preload, and a warning where it cannot work for this program
 * (static, setuid, Go): the program then binds its own socket, as it would without us. */
static int shim_for(const SvSpawnSpec *spec, char *buf, size_t len, SvDiag *d) {
        const SvProgramConf *c = spec->conf;
        int r = sv_shim_path(buf, len);
        if (r < 0)
                return diag_set(d, 0,
                                "intercept_bind: the shim libsockvisor-bind.so is neither beside sockvisord nor at %s "
                                "(reinstall sockvisor, or set intercept_bind = no)",
                                SV_SHIM_INSTALL_PATH),
                       r;
        _cleanup_free_ char *exe = NULL;
        char why[512] = "";
        SvDiag ignored = {};
        if (sv_find_executable(c->argv[0], environ, &exe, &ignored) == 0 && sv_shim_check_binary(exe, why, sizeof(why)) < 0)
                sv_log_instance(LOG_WARNING, spec->program, spec->instance, 0, spec->generation,
                                "%s: intercept_bind will not work: %s", spec->instance, why);
        return 0;
}

/* The environment= entries plus USER, LOGNAME and HOME of user= (unless environment= sets
 * them), on the daemon's environment or, with clearenv, on PATH alone. */
static int build_env(const SvSpawnSpec *spec, const SvCreds *creds, const char *notify_name, const char *preload,
                     SvWorkerEnv *ret) {
        const SvProgramConf *c = spec->conf;
        static const char *const keys[] = { "USER", "LOGNAME", "HOME" };
        char *clear_base[] = { "PATH=" SV_DEFAULT_PATH, NULL };
        char *owned[3] = {}, *extra[3];
        size_t n_extra = 0;
        int r = -ENOMEM;

        if (c->user) {
                const char *vals[3] = { creds->name, creds->name, creds->home };
                for (size_t k = 0; k < 3; k++) {
                        if (sv_env_get(c->environment, keys[k]))
                                continue;
                        if (asprintf(&owned[k], "%s=%s", keys[k], vals[k] ? vals[k] : "") < 0) {
                                owned[k] = NULL;
                                goto done;
                        }
                        extra[n_extra++] = owned[k];
                }
        }
        size_t n_penv = sv_strv_length(c->environment);
        char **merged = calloc(n_extra + n_penv + 1, sizeof(char *));
        if (!merged)
                goto done;
        memcpy(merged, extra, n_extra * sizeof(char *));
        if (n_penv)
                memcpy(merged + n_extra, c->environment, n_penv * sizeof(char *));
        SvAddr addrs[SV_PROGRAM_SOCKETS_MAX] = {};
        size_t n_sockets = spec->n_sockets <= spec->n_fds ? spec->n_sockets : spec->n_fds;
        if (n_sockets > ELEMENTSOF(addrs))
                n_sockets = ELEMENTSOF(addrs);
        if (c->fd_env & (SV_FD_ENV_SERVER_STARTER | SV_FD_ENV_EINHORN))
                socket_addrs(spec, n_sockets, addrs);
        SvWorkerFds fds = {
                .names = spec->fd_names,
                .n_fds = spec->n_fds,
                .n_sockets = n_sockets,
                .addrs = addrs,
                .dialects = c->fd_env,
                .preload = preload,
                .watchdog_usec = c->watchdog_usec,
        };
        r = sv_worker_env_build(c->clearenv ? clear_base : environ, merged, &fds, notify_name, spec->program,
                                spec->generation, ret);
        free(merged);
done:
        for (size_t k = 0; k < 3; k++)
                free(owned[k]);
        return r;
}

int sv_process_spawn(const SvSpawnSpec *spec, const SvCredsCache *cache, const char *notify_name, int stdin_fd,
                     int stdout_fd, int stderr_fd, int cgroup_fd, pid_t *ret_pid, SvDiag *d) {
        const SvProgramConf *c = spec->conf;
        SvCreds own = {};
        const SvCreds *creds = NULL;
        SvWorkerEnv env = {};
        int r;

        r = sv_process_creds(cache, c->user, c->group, &own, &creds, d);
        if (r < 0)
                return r;
        if (!creds)
                creds = &own; /* build_env reads it only with user= */
        char shim[PATH_MAX];
        if (c->intercept_bind && (r = shim_for(spec, shim, sizeof(shim), d)) < 0) {
                sv_creds_done(&own);
                return r;
        }
        r = build_env(spec, creds, notify_name, c->intercept_bind ? shim : NULL, &env);
        if (r < 0) {
                sv_creds_done(&own);
                return diag_set(d, 0, "out of memory building the environment"), r;
        }
        /* output = journal: a stream to journald under the program's name, for this worker only */
        int out_fd = -EBADF;
        if (c->output_journal) {
                out_fd = sd_journal_stream_fd(spec->program, LOG_INFO, 1);
                if (out_fd < 0)
                        sv_log_instance(LOG_WARNING, spec->program, spec->instance, 0, spec->generation,
                                        "%s: cannot open a journal stream (%s); its output goes to sockvisord's",
                                        spec->instance, strerror(-out_fd));
                else
                        (void) fcntl(out_fd, F_SETFD, FD_CLOEXEC);
        }
        SvSpawnRequest req = {
                .output_fd = out_fd,
                /* a log file for either stream: each goes its own way, the other inherited */
                .split_output = stdout_fd >= 0 || stderr_fd >= 0,
                .stdout_fd = stdout_fd,
                .stderr_fd = stderr_fd,
                .argv = sv_program_argv(c, spec->index), /* %(process_num)d differs per instance */
                .env = &env,
                .fds = spec->fds,
                .n_fds = spec->n_fds,
                .directory = c->directory,
                .stdin_fd = stdin_fd,
                .creds = c->user || c->group ? creds : NULL,
                .umask = c->umask,
                .join_cgroup_fd = cgroup_fd,
        };
        r = sv_spawn(&req, ret_pid, d);
        (void) safe_close(out_fd);
        sv_worker_env_done(&env);
        sv_creds_done(&own);
        return r;
}
