/* A worker's credentials, environment and output, then fork and exec. */
#include "sockvisor/process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "sockvisor/cmdline.h"
#include "sockvisor/env.h"
#include "sockvisor/log.h"
#include "sockvisor/spawn.h"

extern char **environ;

int sv_config_check_users(const SvConfig *cfg, SvDiag *d) {
        for (size_t k = 0; k < cfg->n_programs; k++) {
                const SvProgramConf *pc = &cfg->programs[k];
                if (!pc->user && !pc->group)
                        continue;
                SvCreds creds;
                SvDiag e = {};
                int r = sv_creds_resolve(pc->user ? pc->user : "0", pc->group, &creds, &e);
                if (r < 0)
                        return diag_set(d, pc->user_line, "%s:%u: [program:%s] %s", cfg->origin, pc->user_line,
                                        pc->name, e.msg);
                sv_creds_done(&creds);
        }
        return 0;
}

/* The environment= entries plus USER, LOGNAME and HOME of user= (unless environment= sets
 * them), on the daemon's environment or, with clearenv, on PATH alone. */
static int build_env(const SvSpawnSpec *spec, const SvCreds *creds, const char *notify_name, SvWorkerEnv *ret) {
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
        r = sv_worker_env_build(c->clearenv ? clear_base : environ, merged, spec->fd_names, spec->n_fds, notify_name,
                                spec->program, spec->generation, ret);
        free(merged);
done:
        for (size_t k = 0; k < 3; k++)
                free(owned[k]);
        return r;
}

int sv_process_spawn(const SvSpawnSpec *spec, const char *notify_name, int stdin_fd, pid_t *ret_pid, SvDiag *d) {
        const SvProgramConf *c = spec->conf;
        SvCreds creds = {};
        SvWorkerEnv env = {};
        int r;

        if (c->user || c->group) {
                r = sv_creds_resolve(c->user ? c->user : "0", c->group, &creds, d);
                if (r < 0)
                        return r;
        }
        r = build_env(spec, &creds, notify_name, &env);
        if (r < 0) {
                sv_creds_done(&creds);
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
                .argv = c->argv,
                .env = &env,
                .fds = spec->fds,
                .n_fds = spec->n_fds,
                .directory = c->directory,
                .stdin_fd = stdin_fd,
                .creds = c->user || c->group ? &creds : NULL,
                .umask = c->umask,
        };
        r = sv_spawn(&req, ret_pid, d);
        (void) safe_close(out_fd);
        sv_worker_env_done(&env);
        sv_creds_done(&creds);
        return r;
}
