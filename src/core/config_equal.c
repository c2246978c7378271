/* Comparisons of configured programs and sockets, for reload. */
#include <string.h>

#include "sockvisor/config.h"

static bool streq_ptr(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

/* NULL and an empty list are the same environment. */
static bool strv_equal(char *const *a, char *const *b) {
        size_t i = 0;
        for (; a && b && a[i] && b[i]; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return false;
        return !(a && a[i]) && !(b && b[i]);
}

static bool health_equal(const SvHealthCheck *a, const SvHealthCheck *b) {
        /* the URL after %(port)s: a socket moved to another port changes the probe */
        return a->kind == b->kind && streq_ptr(a->target, b->target) && a->interval_usec == b->interval_usec &&
               a->timeout_usec == b->timeout_usec && a->failures == b->failures;
}

bool sv_program_conf_equal(const SvConfig *ca, const SvProgramConf *a, const SvConfig *cb, const SvProgramConf *b) {
        if (!streq_ptr(a->name, b->name) || !streq_ptr(a->command, b->command))
                return false;
        /* as expanded: the same command= runs otherwise once %(ENV_X)s or %(here)s changed */
        for (unsigned k = 0; k < a->numprocs || k == 0; k++)
                if (!strv_equal(sv_program_argv(a, k), sv_program_argv(b, k)))
                        return false;
        if (a->n_sockets != b->n_sockets)
                return false;
        for (size_t i = 0; i < a->n_sockets; i++)
                if (!streq_ptr(ca->sockets[a->socket_idx[i]].name, cb->sockets[b->socket_idx[i]].name))
                        return false;
        if (a->ready != b->ready || a->startsecs_usec != b->startsecs_usec ||
            a->ready_timeout_usec != b->ready_timeout_usec || a->stopsignal != b->stopsignal ||
            a->stopwait_usec != b->stopwait_usec)
                return false;
        if (!streq_ptr(a->directory, b->directory) || !strv_equal(a->environment, b->environment) ||
            a->clearenv != b->clearenv || a->output_journal != b->output_journal)
                return false;
        if (a->redirect_stderr != b->redirect_stderr)
                return false;
        for (int k = 0; k < _SV_STREAM_MAX; k++)
                if (!streq_ptr(a->logfile[k].path, b->logfile[k].path) || a->logfile[k].none != b->logfile[k].none ||
                    a->logfile[k].own_fd != b->logfile[k].own_fd ||
                    a->logfile[k].maxbytes != b->logfile[k].maxbytes || a->logfile[k].backups != b->logfile[k].backups)
                        return false;
        if (a->numprocs != b->numprocs || a->restart_surge != b->restart_surge || a->autostart != b->autostart ||
            a->autorestart != b->autorestart || a->startretries != b->startretries)
                return false;
        if (a->n_exitcodes != b->n_exitcodes || a->n_exitcodes > SV_EXITCODES_MAX ||
            memcmp(a->exitcodes, b->exitcodes, a->n_exitcodes * sizeof(a->exitcodes[0])) != 0)
                return false;
        if (a->stopasgroup != b->stopasgroup || a->killasgroup != b->killasgroup)
                return false;
        return streq_ptr(a->user, b->user) && streq_ptr(a->group, b->group) && a->umask == b->umask &&
               a->priority == b->priority && a->fdstore_max == b->fdstore_max &&
               a->fd_env == b->fd_env && a->intercept_bind == b->intercept_bind &&
               a->drain == b->drain && a->watchdog_usec == b->watchdog_usec &&
               health_equal(&a->health, &b->health); /* line: where, not how */
}

bool sv_socket_conf_equal(const SvSocketConf *a, const SvSocketConf *b) {
        return streq_ptr(a->listen, b->listen) && a->backlog == b->backlog && a->blocking == b->blocking &&
               a->mode == b->mode;
}


bool sv_metrics_conf_equal(const SvConfig *a, const SvConfig *b) {
        if (!a->metrics || !b->metrics)
                return !a->metrics && !b->metrics;
        /* a unix socket's mode is applied when it is bound */
        return strcmp(a->metrics, b->metrics) == 0 &&
               (a->metrics_addr.family != AF_UNIX || a->metrics_mode == b->metrics_mode);
}
