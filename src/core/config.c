/* The config schema: sections, their keys and defaults, the inih glue and the public
 * entry points. The reader (config_reader.c) feeds inih and sees section headers; value
 * syntax is in config_values.c; checks across sections in config_check.c. */
#include "sockvisor/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "config_internal.h"
#include "sockvisor/cmdline.h"
#include "sockvisor/duration.h"
#include "sockvisor/env.h"
#include "sockvisor/expand.h"
#include "sockvisor/logfile.h"

static const char *const log_to_table[_SV_LOG_TO_MAX] = {
        [SV_LOG_TO_AUTO] = "auto",
        [SV_LOG_TO_JOURNAL] = "journal",
        [SV_LOG_TO_STDERR] = "stderr",
};

static const char *const ready_mode_table[_SV_READY_MAX] = {
        [SV_READY_STARTED] = "started",
        [SV_READY_NOTIFY] = "notify",
        [SV_READY_ACCEPTING] = "accepting",
};

static const char *const drain_mode_table[_SV_DRAIN_MAX] = {
        [SV_DRAIN_SIGNAL] = "signal",
        [SV_DRAIN_IDLE] = "idle",
};

const char *sv_drain_mode_to_string(SvDrainMode m) {
        return m >= 0 && m < _SV_DRAIN_MAX ? drain_mode_table[m] : NULL;
}

const char *sv_ready_mode_to_string(SvReadyMode m) {
        return m >= 0 && m < _SV_READY_MAX ? ready_mode_table[m] : NULL;
}

static bool name_is_valid(const char *s, size_t len) {
        if (len == 0 || len > SV_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

static const char *const autorestart_table[_SV_AUTORESTART_MAX] = {
        [SV_AUTORESTART_FALSE] = "false",
        [SV_AUTORESTART_UNEXPECTED] = "unexpected",
        [SV_AUTORESTART_TRUE] = "true",
};

const char *sv_autorestart_to_string(SvAutorestart a) {
        return a >= 0 && a < _SV_AUTORESTART_MAX ? autorestart_table[a] : NULL;
}


/* ---- sections ---- */

static const char *const daemon_keys[] = { "control", "control_mode", "log", "metrics", "metrics_mode" };
static const char *const include_keys[] = { "files" };
static const char *const group_keys[] = { "programs" };
static const char *const socket_keys[] = { "listen", "backlog", "blocking", "mode", "fetch_users", "fetch_groups" };
/* In the order a reader thinks of them: what runs, when it is up, how it stops, as whom. */
typedef enum ProgramKey {
        PK_COMMAND,
        PK_SOCKETS,
        PK_NUMPROCS,
        PK_RESTART_SURGE,
        PK_READY,
        PK_STARTSECS,
        PK_READY_TIMEOUT,
        PK_STARTRETRIES,
        PK_AUTOSTART,
        PK_AUTORESTART,
        PK_EXITCODES,
        PK_STOPSIGNAL,
        PK_STOPWAITSECS,
        PK_STOPASGROUP,
        PK_KILLASGROUP,
        PK_PRIORITY,
        PK_DIRECTORY,
        PK_USER,
        PK_GROUP,
        PK_UMASK,
        PK_ENVIRONMENT,
        PK_CLEARENV,
        PK_OUTPUT,
        PK_FDSTORE_MAX,
        PK_FD_ENV,
        PK_INTERCEPT_BIND,
        PK_DRAIN,
        PK_WATCHDOG,
        PK_HEALTHCHECK,
        PK_HEALTHCHECK_INTERVAL,
        PK_HEALTHCHECK_TIMEOUT,
        PK_HEALTHCHECK_FAILURES,
        PK_STDOUT_LOGFILE,
        PK_STDOUT_LOGFILE_MAXBYTES,
        PK_STDOUT_LOGFILE_BACKUPS,
        PK_REDIRECT_STDERR,
        PK_STDERR_LOGFILE,
        PK_STDERR_LOGFILE_MAXBYTES,
        PK_STDERR_LOGFILE_BACKUPS,
        _PK_MAX,
} ProgramKey;

static const char *const program_keys[_PK_MAX] = {
        [PK_COMMAND] = "command",
        [PK_SOCKETS] = "sockets",
        [PK_NUMPROCS] = "numprocs",
        [PK_RESTART_SURGE] = "restart_surge",
        [PK_READY] = "ready",
        [PK_STARTSECS] = "startsecs",
        [PK_READY_TIMEOUT] = "ready_timeout",
        [PK_STARTRETRIES] = "startretries",
        [PK_AUTOSTART] = "autostart",
        [PK_AUTORESTART] = "autorestart",
        [PK_EXITCODES] = "exitcodes",
        [PK_STOPSIGNAL] = "stopsignal",
        [PK_STOPWAITSECS] = "stopwaitsecs",
        [PK_STOPASGROUP] = "stopasgroup",
        [PK_KILLASGROUP] = "killasgroup",
        [PK_PRIORITY] = "priority",
        [PK_DIRECTORY] = "directory",
        [PK_USER] = "user",
        [PK_GROUP] = "group",
        [PK_UMASK] = "umask",
        [PK_ENVIRONMENT] = "environment",
        [PK_CLEARENV] = "clearenv",
        [PK_OUTPUT] = "output",
        [PK_FDSTORE_MAX] = "fdstore_max",
        [PK_FD_ENV] = "fd_env",
        [PK_INTERCEPT_BIND] = "intercept_bind",
        [PK_DRAIN] = "drain",
        [PK_WATCHDOG] = "watchdog",
        [PK_HEALTHCHECK] = "healthcheck",
        [PK_HEALTHCHECK_INTERVAL] = "healthcheck_interval",
        [PK_HEALTHCHECK_TIMEOUT] = "healthcheck_timeout",
        [PK_HEALTHCHECK_FAILURES] = "healthcheck_failures",
        [PK_STDOUT_LOGFILE] = "stdout_logfile",
        [PK_STDOUT_LOGFILE_MAXBYTES] = "stdout_logfile_maxbytes",
        [PK_STDOUT_LOGFILE_BACKUPS] = "stdout_logfile_backups",
        [PK_REDIRECT_STDERR] = "redirect_stderr",
        [PK_STDERR_LOGFILE] = "stderr_logfile",
        [PK_STDERR_LOGFILE_MAXBYTES] = "stderr_logfile_maxbytes",
        [PK_STDERR_LOGFILE_BACKUPS] = "stderr_logfile_backups",
};

_Static_assert(ELEMENTSOF(daemon_keys) <= 63 && ELEMENTSOF(socket_keys) <= 63 && ELEMENTSOF(program_keys) <= 63,
               "KeySet has one bit per key, and bit 63 marks [sockvisord]");

static void join_keys(const char *const *keys, size_t n, char *buf, size_t len) {
        size_t o = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < n && o < len; i++)
                o += (size_t) snprintf(buf + o, len - o, "%s%s", i ? ", " : "", keys[i]);
}

static int key_index(const char *const *keys, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(keys[i], key) == 0)
                        return (int) i;
        return -1;
}

static int begin_group(Parser *p, const char *n, size_t nlen) {
        SvConfig *c = p->cfg;
        for (size_t i = 0; i < c->n_groups; i++)
                if (strlen(c->groups[i].name) == nlen && memcmp(c->groups[i].name, n, nlen) == 0)
                        return config_fail(p, p->line, "[group:%.*s] is defined twice (first on %s)", (int) nlen, n,
                                           config_at(p, c->groups[i].line));
        if (c->n_groups >= SV_GROUPS_MAX)
                return config_fail(p, p->line, "too many [group:…] sections; at most %d", SV_GROUPS_MAX);
        SvGroupConf *g = realloc(c->groups, (c->n_groups + 1) * sizeof(*g));
        unsigned *lines = realloc(p->group_programs_line, (c->n_groups + 1) * sizeof(unsigned));
        if (g)
                c->groups = g;
        if (lines)
                p->group_programs_line = lines;
        if (!g || !lines)
                return p->failed = true, -ENOMEM;
        c->groups[c->n_groups] = (SvGroupConf){ .line = p->line, .name = strndup(n, nlen) };
        p->group_programs_line[c->n_groups] = 0;
        if (!c->groups[c->n_groups].name)
                return p->failed = true, -ENOMEM;
        p->index = c->n_groups++;
        p->kind = SECTION_GROUP;
        return 0;
}

int config_begin_section(Parser *p, const char *name, size_t len) {
        SvConfig *c = p->cfg;
        const char *colon = memchr(name, ':', len);

        p->seen = 0;
        (void) snprintf(p->section, sizeof(p->section), "[%.*s]", (int) (len > 60 ? 60 : len), name);

        if (len == strlen("sockvisord") && memcmp(name, "sockvisord", len) == 0) {
                if (p->daemon_seen & KEYSET_DAEMON_SEEN)
                        return config_fail(p, p->line, "[sockvisord] appears twice; merge the two sections");
                p->daemon_seen |= KEYSET_DAEMON_SEEN;
                p->kind = SECTION_DAEMON;
                return 0;
        }

        if (len == strlen("include") && memcmp(name, "include", len) == 0) {
                if (p->cur > 0)
                        return config_fail(p, p->line,
                                           "[include] in an included file; includes do not nest: list its files in the "
                                           "[include] of %s",
                                           p->files[0].path);
                if (p->include_line)
                        return config_fail(p, p->line, "[include] appears twice (first on %s); merge the two sections",
                                           config_at(p, p->include_line));
                p->include_line = p->line;
                p->kind = SECTION_INCLUDE;
                return 0;
        }

        bool is_socket = colon && (size_t) (colon - name) == strlen("socket") && memcmp(name, "socket", 6) == 0;
        bool is_program = colon && (size_t) (colon - name) == strlen("program") && memcmp(name, "program", 7) == 0;
        bool is_group = colon && (size_t) (colon - name) == strlen("group") && memcmp(name, "group", 5) == 0;
        if (!is_socket && !is_program && !is_group)
                return config_fail(p, p->line,
                                   "unknown section [%.*s]; valid sections are [sockvisord], [socket:NAME], "
                                   "[program:NAME], [group:NAME] and [include]",
                                   (int) len, name);

        const char *n = colon + 1;
        size_t nlen = len - (size_t) (n - name);
        if (!name_is_valid(n, nlen))
                return config_fail(p, p->line,
                                   "invalid name '%.*s' in [%.*s]; a name is 1 to %d characters of letters, digits, "
                                   "'_', '.' and '-'",
                                   (int) nlen, n, (int) len, name, SV_NAME_MAX);

        /* every command reads "all" as every program: a program or group so named could
         * never be named alone */
        if ((is_program || is_group) && nlen == 3 && memcmp(n, "all", 3) == 0)
                return config_fail(p, p->line,
                                   "[%.*s]: 'all' is reserved (in every command it means every program); rename it",
                                   (int) len, name);

        if (is_group)
                return begin_group(p, n, nlen);

        if (is_socket) {
                for (size_t i = 0; i < c->n_sockets; i++)
                        if (strlen(c->sockets[i].name) == nlen && memcmp(c->sockets[i].name, n, nlen) == 0)
                                return config_fail(p, p->line, "[socket:%.*s] is defined twice (first on %s)",
                                                   (int) nlen, n, config_at(p, c->sockets[i].line));
                if (c->n_sockets >= SV_SOCKETS_MAX)
                        return config_fail(p, p->line, "too many [socket:…] sections; at most %d", SV_SOCKETS_MAX);
                SvSocketConf *s = realloc(c->sockets, (c->n_sockets + 1) * sizeof(*s));
                if (!s)
                        return p->failed = true, -ENOMEM;
                c->sockets = s;
                s = &c->sockets[c->n_sockets];
                /* blocking by default, as systemd hands out its sockets (NonBlocking=false) */
                *s = (SvSocketConf){ .backlog = 4096, .blocking = true, .mode = 0666, .line = p->line };
                s->name = strndup(n, nlen);
                if (!s->name)
                        return p->failed = true, -ENOMEM;
                p->index = c->n_sockets++;
                p->kind = SECTION_SOCKET;
                return 0;
        }

        for (size_t i = 0; i < c->n_programs; i++)
                if (strlen(c->programs[i].name) == nlen && memcmp(c->programs[i].name, n, nlen) == 0)
                        return config_fail(p, p->line, "[program:%.*s] is defined twice (first on %s)", (int) nlen,
                                           n, config_at(p, c->programs[i].line));
        if (c->n_programs >= SV_PROGRAMS_MAX)
                return config_fail(p, p->line, "too many [program:…] sections; at most %d", SV_PROGRAMS_MAX);
        SvProgramConf *pr = realloc(c->programs, (c->n_programs + 1) * sizeof(*pr));
        ProgramPending *pending = realloc(p->pending, (c->n_programs + 1) * sizeof(*pending));
        if (pending)
                p->pending = pending;
        if (pr)
                c->programs = pr;
        if (!pr || !pending)
                return p->failed = true, -ENOMEM;
        p->pending[c->n_programs] = (ProgramPending){};
        pr = &c->programs[c->n_programs];
        *pr = (SvProgramConf){
                .ready = SV_READY_STARTED,
                .startsecs_usec = 1 * USEC_PER_SEC,
                .ready_timeout_usec = 30 * USEC_PER_SEC,
                .stopsignal = SIGTERM,
                .stopwait_usec = 10 * USEC_PER_SEC,
                .clearenv = false,
                .numprocs = 1,
                .restart_surge = 1,
                .autostart = true,
                .autorestart = SV_AUTORESTART_UNEXPECTED,
                .n_exitcodes = 1,
                .exitcodes = { 0 },
                .startretries = 3,
                .stopasgroup = false,
                .killasgroup = false,
                .umask = -1,
                .priority = 999,
                .fd_env = SV_FD_ENV_DEFAULT,
                .health = { .interval_usec = 10 * USEC_PER_SEC, .timeout_usec = 2 * USEC_PER_SEC, .failures = 3 },
                .logfile = { [SV_STREAM_STDOUT] = { .maxbytes = SV_LOGFILE_MAXBYTES_DEFAULT,
                                                    .backups = SV_LOGFILE_BACKUPS_DEFAULT },
                             [SV_STREAM_STDERR] = { .maxbytes = SV_LOGFILE_MAXBYTES_DEFAULT,
                                                    .backups = SV_LOGFILE_BACKUPS_DEFAULT } },
                .line = p->line,
        };
        pr->name = strndup(n, nlen);
        if (!pr->name)
                return p->failed = true, -ENOMEM;
        p->index = c->n_programs++;
        p->kind = SECTION_PROGRAM;
        return 0;
}

static int set_string(Parser *p, char **field, const char *v) {
        free(*field);
        *field = strdup(v);
        if (!*field)
                return p->failed = true, -ENOMEM;
        return 0;
}

/* Every duration key goes through here, so each takes the same syntax and gives the same
 * error. zero_ok: whether 0 means something (off, no wait) for this key. */
static int parse_duration(Parser *p, const char *key, const char *v, bool zero_ok, uint64_t *ret) {
        SvDiag d = {};
        uint64_t u;
        if (sv_duration_parse_diag(v, &u, &d) < 0)
                return config_fail(p, p->line, "%s %s: %s", p->section, key, d.msg);
        if (u == 0 && !zero_ok)
                return config_fail(p, p->line, "%s %s: invalid duration '%s': this key needs more than 0, e.g. 30s",
                                   p->section, key, v);
        *ret = u;
        return 0;
}

static int handle_daemon_key(Parser *p, int k, const char *key, const char *v) {
        SvConfig *c = p->cfg;
        switch (k) {
        case 0: /* control */
                if (v[0] != '/')
                        return config_fail(p, p->line, "%s control: '%s' is not an absolute path; e.g. control = %s",
                                           p->section, v, SV_DEFAULT_CONTROL);
                if (strlen(v) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                        return config_fail(p, p->line, "%s control: path '%s' is longer than %zu bytes, the limit for unix sockets",
                                           p->section, v, sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1);
                return set_string(p, &c->control_path, v);
        case 1: /* control_mode */
                if (config_parse_mode(v, &c->control_mode) < 0)
                        return config_fail(p, p->line, "%s control_mode: '%s' is not an octal mode; e.g. 0600", p->section, v);
                return 0;
        case 2: /* log */
                for (int t = 0; t < _SV_LOG_TO_MAX; t++)
                        if (strcmp(v, log_to_table[t]) == 0)
                                return c->log_to = (SvLogTo) t, 0;
                return config_fail(p, p->line,
                                   "%s log: '%s' is not a log target; use auto (the journal under systemd, else stderr), "
                                   "journal or stderr",
                                   p->section, v);
        case 3: { /* metrics */
                SvDiag d = {};
                SvAddr a;
                if (sv_addr_parse(v, &a, &d) < 0)
                        return config_fail(p, p->line, "%s metrics: %s", p->section, d.msg);
                if (a.socktype != SOCK_STREAM)
                        return config_fail(p, p->line,
                                           "%s metrics: '%s' is not a stream address; the endpoint speaks HTTP, so use "
                                           "tcp://HOST:PORT (e.g. tcp://127.0.0.1:9101) or unix:/PATH",
                                           p->section, v);
                c->metrics_addr = a;
                c->metrics_line = p->line;
                return set_string(p, &c->metrics, v);
        }
        case 4: /* metrics_mode */
                if (config_parse_mode(v, &c->metrics_mode) < 0)
                        return config_fail(p, p->line, "%s metrics_mode: '%s' is not an octal mode; e.g. 0660", p->section,
                                           v);
                return 0;
        }
        return 0;
}

static int handle_socket_key(Parser *p, int k, const char *key, const char *v) {
        SvSocketConf *s = &p->cfg->sockets[p->index];
        unsigned long n;
        SvDiag d = {};

        switch (k) {
        case 0: /* listen */
                if (sv_addr_parse(v, &s->addr, &d) < 0)
                        return config_fail(p, p->line, "%s listen: %s", p->section, d.msg);
                s->listen_line = p->line;
                return set_string(p, &s->listen, v);
        case 1: /* backlog */
                if (config_parse_uint(v, 1, 65535, &n) < 0)
                        return config_fail(p, p->line, "%s backlog: '%s' is not a number from 1 to 65535", p->section, v);
                s->backlog = (int) n;
                return 0;
        case 2: /* blocking */
                if (config_parse_bool(v, &s->blocking) < 0)
                        return config_fail(p, p->line, "%s blocking: '%s' is not a boolean; use yes or no", p->section, v);
                s->blocking_line = p->line;
                return 0;
        case 3: /* mode */
                if (config_parse_mode(v, &s->mode) < 0)
                        return config_fail(p, p->line, "%s mode: '%s' is not an octal mode; e.g. 0660", p->section, v);
                return 0;
        case 4: /* fetch_users */
                return config_parse_names(p, key, v, &s->fetch_users);
        case 5: /* fetch_groups */
                return config_parse_names(p, key, v, &s->fetch_groups);
        }
        return 0;
}

static int bad_bool(Parser *p, const char *key, const char *v) {
        return config_fail(p, p->line, "%s %s: '%s' is not a boolean; use yes or no (also true/false, on/off, 1/0)",
                           p->section, key, v);
}

static int handle_program_key(Parser *p, int k, const char *key, const char *v) {
        SvProgramConf *pr = &p->cfg->programs[p->index];
        SvDiag d = {};
        unsigned long n;
        long l;
        mode_t m;
        bool b;
        int r;

        switch ((ProgramKey) k) {
        case PK_COMMAND: /* split again once sockets= is known, to put in each %(fd:NAME) */
                r = sv_cmdline_split(v, &pr->argv, &d);
                if (r == -ENOMEM)
                        return p->failed = true, r;
                if (r < 0)
                        return config_fail(p, p->line, "%s command: %s", p->section, d.msg);
                p->pending[p->index].command_line = p->line;
                return set_string(p, &pr->command, v);
        case PK_FD_ENV:
                if (sv_fd_env_parse(v, &pr->fd_env, &d) < 0)
                        return config_fail(p, p->line, "%s fd_env: %s", p->section, d.msg);
                return 0;
        case PK_SOCKETS: /* resolved once every [socket:…] is known */
                p->pending[p->index].socket_list_line = p->line;
                return set_string(p, &p->pending[p->index].socket_list, v);
        case PK_NUMPROCS:
                if (config_parse_uint(v, 1, SV_NUMPROCS_MAX, &n) < 0)
                        return config_fail(p, p->line, "%s numprocs: '%s' is not a number from 1 to %d", p->section, v,
                                           SV_NUMPROCS_MAX);
                pr->numprocs = (unsigned) n;
                return 0;
        case PK_RESTART_SURGE: /* checked against numprocs once the section is complete */
                if (config_parse_uint(v, 1, SV_NUMPROCS_MAX, &n) < 0)
                        return config_fail(p, p->line,
                                           "%s restart_surge: '%s' is not a number from 1 to numprocs (how many new "
                                           "instances start before old ones drain)",
                                           p->section, v);
                pr->restart_surge = (unsigned) n;
                p->pending[p->index].surge_line = p->line;
                return 0;
        case PK_READY:
                p->pending[p->index].ready_line = p->line;
                for (int i = 0; i < _SV_READY_MAX; i++)
                        if (strcmp(v, ready_mode_table[i]) == 0)
                                return pr->ready = (SvReadyMode) i, 0;
                return config_fail(p, p->line,
                                   "%s ready: '%s' is not a readiness mode; use notify (the program sends READY=1), "
                                   "accepting (one of its processes waits on one of its sockets) or started (ready once "
                                   "alive for startsecs)",
                                   p->section, v);
        case PK_INTERCEPT_BIND: /* ready= defaults to accepting with it: see config_validate() */
                if (config_parse_bool(v, &pr->intercept_bind) < 0)
                        return bad_bool(p, key, v);
                p->pending[p->index].intercept_line = p->line;
                return 0;
        case PK_DRAIN:
                for (int i = 0; i < _SV_DRAIN_MAX; i++)
                        if (strcmp(v, drain_mode_table[i]) == 0)
                                return pr->drain = (SvDrainMode) i, 0;
                return config_fail(p, p->line,
                                   "%s drain: '%s' is not a drain mode; use signal (send stopsignal and wait for the "
                                   "exit) or idle (freeze it and kill it once it holds no accepted connection, for "
                                   "servers with no graceful shutdown)",
                                   p->section, v);
        case PK_WATCHDOG: /* 0 turns it off, as systemd's WatchdogSec=0 */
                return parse_duration(p, key, v, true, &pr->watchdog_usec);
        case PK_HEALTHCHECK:
                return config_health_set(p, pr, v);
        case PK_HEALTHCHECK_INTERVAL:
        case PK_HEALTHCHECK_TIMEOUT: {
                uint64_t *u = k == PK_HEALTHCHECK_INTERVAL ? &pr->health.interval_usec : &pr->health.timeout_usec;
                if (parse_duration(p, key, v, false, u) < 0)
                        return -EINVAL;
                if (!p->pending[p->index].health_opt_line)
                        p->pending[p->index].health_opt_line = p->line;
                return 0;
        }
        case PK_HEALTHCHECK_FAILURES:
                if (config_parse_uint(v, 1, 100, &n) < 0)
                        return config_fail(p, p->line,
                                           "%s healthcheck_failures: '%s' is not a number from 1 to 100 (failed probes "
                                           "in a row that make an instance unhealthy)",
                                           p->section, v);
                pr->health.failures = (unsigned) n;
                if (!p->pending[p->index].health_opt_line)
                        p->pending[p->index].health_opt_line = p->line;
                return 0;
        case PK_STARTSECS:
                return parse_duration(p, key, v, true, &pr->startsecs_usec);
        case PK_READY_TIMEOUT:
                return parse_duration(p, key, v, false, &pr->ready_timeout_usec);
        case PK_STARTRETRIES:
                if (config_parse_uint(v, 0, 100, &n) < 0)
                        return config_fail(p, p->line,
                                           "%s startretries: '%s' is not a number from 0 to 100 (retries after a failed "
                                           "first start)",
                                           p->section, v);
                pr->startretries = (unsigned) n;
                return 0;
        case PK_FDSTORE_MAX:
                if (config_parse_uint(v, 0, SV_FDSTORE_MAX, &n) < 0)
                        return config_fail(p, p->line,
                                           "%s fdstore_max: '%s' is not a number from 0 to %d (fds its workers may "
                                           "store with FDSTORE=1; 0: none)",
                                           p->section, v, SV_FDSTORE_MAX);
                pr->fdstore_max = (unsigned) n;
                return 0;
        case PK_AUTOSTART:
                if (config_parse_bool(v, &pr->autostart) < 0)
                        return bad_bool(p, key, v);
                return 0;
        case PK_AUTORESTART:
                /* supervisord's values; like supervisord, any boolean word means true or false */
                if (strcasecmp(v, "unexpected") == 0)
                        return pr->autorestart = SV_AUTORESTART_UNEXPECTED, 0;
                if (config_parse_bool(v, &b) == 0)
                        return pr->autorestart = b ? SV_AUTORESTART_TRUE : SV_AUTORESTART_FALSE, 0;
                return config_fail(p, p->line,
                                   "%s autorestart: '%s' is not valid; use unexpected (restart unless the exit code is in "
                                   "exitcodes), true (always) or false (never)",
                                   p->section, v);
        case PK_EXITCODES:
                return config_parse_exitcodes(p, v, pr);
        case PK_STOPSIGNAL:
                r = sv_signal_from_string(v);
                if (r < 0 || r == SIGKILL || r == SIGSTOP)
                        return config_fail(p, p->line,
                                           "%s stopsignal: '%s' is not a signal a worker can handle; use TERM, INT, QUIT, "
                                           "HUP, USR1 or USR2",
                                           p->section, v);
                pr->stopsignal = r;
                return 0;
        case PK_STOPWAITSECS:
                return parse_duration(p, key, v, true, &pr->stopwait_usec);
        case PK_STOPASGROUP: /* implies killasgroup: see config_validate() */
                if (config_parse_bool(v, &pr->stopasgroup) < 0)
                        return bad_bool(p, key, v);
                return 0;
        case PK_KILLASGROUP:
                if (config_parse_bool(v, &pr->killasgroup) < 0)
                        return bad_bool(p, key, v);
                return 0;
        case PK_PRIORITY:
                if (config_parse_int(v, -999999, 999999, &l) < 0)
                        return config_fail(p, p->line,
                                           "%s priority: '%s' is not a number from -999999 to 999999 (lower starts first; "
                                           "the default is 999)",
                                           p->section, v);
                pr->priority = (int) l;
                return 0;
        case PK_DIRECTORY:
                if (v[0] != '/')
                        return config_fail(p, p->line, "%s directory: '%s' is not an absolute path", p->section, v);
                return set_string(p, &pr->directory, v);
        case PK_USER:
        case PK_GROUP:
                if (!config_id_is_valid(v))
                        return config_fail(p, p->line,
                                           "%s %s: '%s' is not a %s name or id; use 1 to 32 letters, digits, '_', '.' or "
                                           "'-' (e.g. %s = www-data), or a number below 4294967295",
                                           p->section, key, v, key, key);
                pr->user_line = pr->user_line ? pr->user_line : p->line; /* the first of user=/group= */
                return set_string(p, k == PK_USER ? &pr->user : &pr->group, v);
        case PK_UMASK:
                if (config_parse_mode(v, &m) < 0 || m > 0777)
                        return config_fail(p, p->line, "%s umask: '%s' is not an octal umask from 0 to 0777; e.g. 022",
                                           p->section, v);
                pr->umask = (int) m;
                return 0;
        case PK_ENVIRONMENT:
                pr->environment = sv_strv_free(pr->environment);
                return config_parse_environment(p, v, &pr->environment);
        case PK_CLEARENV:
                if (config_parse_bool(v, &pr->clearenv) < 0)
                        return bad_bool(p, key, v);
                return 0;
        case PK_STDOUT_LOGFILE:
        case PK_STDOUT_LOGFILE_MAXBYTES:
        case PK_STDOUT_LOGFILE_BACKUPS:
                return config_logfile_key(p, pr, SV_STREAM_STDOUT, k - PK_STDOUT_LOGFILE, key, v);
        case PK_STDERR_LOGFILE:
        case PK_STDERR_LOGFILE_MAXBYTES:
        case PK_STDERR_LOGFILE_BACKUPS:
                return config_logfile_key(p, pr, SV_STREAM_STDERR, k - PK_STDERR_LOGFILE, key, v);
        case PK_REDIRECT_STDERR:
                if (config_parse_bool(v, &pr->redirect_stderr) < 0)
                        return bad_bool(p, key, v);
                pr->redirect_line = p->line;
                return 0;
        case PK_OUTPUT:
                pr->output_line = p->line;
                if (strcmp(v, "inherit") == 0)
                        pr->output_journal = false;
                else if (strcmp(v, "journal") == 0)
                        pr->output_journal = true;
                else
                        return config_fail(p, p->line,
                                           "%s output: '%s' is not an output; use inherit (sockvisord's own stdout and stderr) "
                                           "or journal (the journal, with the program's name as identifier); for files, "
                                           "set stdout_logfile= and stderr_logfile= instead",
                                           p->section, v);
                return 0;
        case _PK_MAX:
                break;
        }
        return 0;
}


static const char *const section_kind_names[] = {
        [SECTION_NONE] = "", [SECTION_DAEMON] = "sockvisord", [SECTION_SOCKET] = "socket",
        [SECTION_PROGRAM] = "program", [SECTION_INCLUDE] = "include", [SECTION_GROUP] = "group",
};

void config_expand_vars(Parser *p, unsigned line, SvExpandVars *ret, char *here, size_t len) {
        const ConfigFile *f = config_file_of(p, line, NULL);
        const char *path = f ? f->path : p->origin, *slash = strrchr(path, '/');
        if (!slash)
                (void) snprintf(here, len, ".");
        else
                (void) snprintf(here, len, "%.*s", slash == path ? 1 : (int) (slash - path), path);
        if (!p->host_node_name[0] && gethostname(p->host_node_name, sizeof(p->host_node_name) - 1) < 0)
                (void) snprintf(p->host_node_name, sizeof(p->host_node_name), "localhost");
        *ret = (SvExpandVars){
                .here = here,
                .program_name = p->kind == SECTION_PROGRAM ? p->cfg->programs[p->index].name : NULL,
                .process_num = -1,
                .host_node_name = p->host_node_name,
                .envp = environ,
        };
}

/* The %(NAME)s expansions of value, for the keys that take them (expand.c's table). */
static int expand_value(Parser *p, const char *key, const char *value, char **ret) {
        const SvExpandKey *rule = sv_expand_key(section_kind_names[p->kind], key);
        if (!rule) {
                if (!strstr(value, "%("))
                        return 0; /* a % of its own */
                char keys[512];
                sv_expand_keys_join(keys, sizeof(keys));
                return config_fail(p, p->line, "%s %s: '%%(' expansions are not taken in this key; keys that take them: %s",
                                   p->section, key, keys);
        }
        char here[PATH_MAX];
        SvExpandVars vars;
        SvDiag d = {};
        config_expand_vars(p, p->line, &vars, here, sizeof(here));
        int r = sv_expand(value, rule, &vars, ret, &d);
        if (r == -ENOMEM)
                return p->failed = true, r;
        if (r < 0)
                return config_fail(p, p->line, "%s %s: %s", p->section, key, d.msg);
        return 0;
}

/* inih handler: nonzero means "go on". Our own convention stops here. */
static int ini_handler_cb(void *user, const char *section, const char *key, const char *value) {
        Parser *p = user;
        const char *const *keys;
        size_t n_keys;

        if (p->failed)
                return 0;

        switch (p->kind) {
        case SECTION_NONE:
                config_fail(p, p->line,
                            "'%s' is outside any section; put it under [sockvisord], [socket:NAME], [program:NAME], "
                            "[group:NAME] or [include]",
                            key);
                return 0;
        case SECTION_DAEMON:
                keys = daemon_keys, n_keys = ELEMENTSOF(daemon_keys);
                break;
        case SECTION_SOCKET:
                keys = socket_keys, n_keys = ELEMENTSOF(socket_keys);
                break;
        case SECTION_PROGRAM:
                keys = program_keys, n_keys = ELEMENTSOF(program_keys);
                break;
        case SECTION_INCLUDE:
                keys = include_keys, n_keys = ELEMENTSOF(include_keys);
                break;
        case SECTION_GROUP:
                keys = group_keys, n_keys = ELEMENTSOF(group_keys);
                break;
        default:
                return 0;
        }

        int k = key_index(keys, n_keys, key);
        if (k < 0) {
                char valid[1024];
                join_keys(keys, n_keys, valid, sizeof(valid));
                config_fail(p, p->line, "%s: unknown key '%s'; valid keys here are: %s", p->section, key, valid);
                return 0;
        }
        if (p->seen & ((KeySet) 1 << k)) {
                config_fail(p, p->line, "%s %s: set twice in one section; keep one", p->section, key);
                return 0;
        }
        p->seen |= (KeySet) 1 << k;
        if (p->kind == SECTION_DAEMON)
                p->daemon_seen |= (KeySet) 1 << k;

        _cleanup_free_ char *expanded = NULL;
        const char *raw = value;
        if (strchr(value, '%')) {
                if (expand_value(p, key, value, &expanded) < 0)
                        return 0;
                if (expanded) /* else a key without expansions, and a % of its own */
                        value = expanded;
        }

        int r;
        if (p->kind == SECTION_DAEMON)
                r = handle_daemon_key(p, k, key, value);
        else if (p->kind == SECTION_SOCKET)
                r = handle_socket_key(p, k, key, value);
        else if (p->kind == SECTION_GROUP) {
                p->group_programs_line[p->index] = p->line; /* checked once every program is known */
                r = config_parse_names(p, key, value, &p->cfg->groups[p->index].programs);
        } else if (p->kind == SECTION_INCLUDE) {
                p->include_line = p->line; /* errors about the files point at files= */
                r = set_string(p, &p->include_files, value);
        }
        else
                r = handle_program_key(p, k, key, value);
        if (r >= 0 && p->kind == SECTION_PROGRAM && k == PK_COMMAND && expanded) /* as written: expanded per instance */
                r = set_string(p, &p->cfg->programs[p->index].command, raw);
        return r < 0 ? 0 : 1;
}


/* Reads path through p->src and appends it to p->files; 0 with *ret_dup true when it is a
 * file already read (by device and inode). line: of the [include] naming it, 0 for the main
 * file. */
static int load_file(Parser *p, const char *path, unsigned line, bool *ret_dup) {
        ConfigFile f = { .base = p->line };
        SvDiag d = {};
        *ret_dup = false;
        if (strchr(path, '\n'))
                return config_fail(p, line, "[include] files: '%s' has a newline in its name; rename the file", path);
        int r = p->src->read(p->src->ctx, path, &f.text, &f.len, f.id, &d);
        if (r == -ENOMEM)
                return p->failed = true, r;
        if (r < 0) {
                if (line)
                        return config_fail(p, line, "[include] files: %s", d.msg);
                return p->failed = true, diag_set(p->diag, 0, "%s", d.msg), r;
        }
        for (size_t k = 0; k < p->n_files; k++)
                if (p->files[k].id[0] == f.id[0] && p->files[k].id[1] == f.id[1]) {
                        free(f.text);
                        *ret_dup = true;
                        return 0;
                }
        if (strlen(f.text) != f.len) {
                free(f.text);
                return line ? config_fail(p, line, "[include] files: %s: contains a NUL byte; the file must be text", path)
                            : (p->failed = true, diag_set(p->diag, 0, "%s: contains a NUL byte; the file must be text", path));
        }
        if (f.len > SV_CONFIG_FILE_MAX || p->total_bytes + f.len > SV_CONFIG_TOTAL_MAX) {
                free(f.text);
                return config_fail(p, line, "[include] files: %s: %zu bytes would make the configuration %zu bytes; all "
                                   "its files together may have at most %u bytes (%u MiB)",
                                   path, f.len, p->total_bytes + f.len, SV_CONFIG_TOTAL_MAX, SV_CONFIG_TOTAL_MAX >> 20);
        }
        if (p->n_files > SV_CONFIG_INCLUDES_MAX) {
                free(f.text);
                return config_fail(p, line, "[include] files: %s: more than %d included files; merge some of them", path,
                                   SV_CONFIG_INCLUDES_MAX);
        }
        ConfigFile *v = realloc(p->files, (p->n_files + 1) * sizeof(ConfigFile));
        if (!v || !(f.path = strdup(path))) {
                if (v)
                        p->files = v;
                free(f.text);
                return p->failed = true, -ENOMEM;
        }
        p->files = v;
        p->files[p->n_files++] = f;
        p->total_bytes += f.len;
        return 0;
}

/* Hands file k to inih, its lines numbered on from the files before it. */
static int read_one(Parser *p, size_t k) {
        ConfigFile *f = &p->files[k];
        p->cur = k;
        p->origin = f->path;
        p->text = f->text;
        p->len = f->len;
        p->pos = 0;
        p->line = f->base;
        p->kind = SECTION_NONE;
        p->seen = 0;
        p->raw = NULL;
        int r = ini_parse_stream(config_reader_cb, p, ini_handler_cb, p);
        if (!p->failed && r == -2)
                return p->failed = true, -ENOMEM;
        if (!p->failed && r > 0)
                return config_fail(p, f->base + (unsigned) r,
                                   "syntax error; expected '[section]', 'key = value' or a comment starting with ';' or '#'");
        return p->failed ? -EINVAL : 0;
}

static bool has_glob_chars(const char *s) {
        return strpbrk(s, "*?[") != NULL;
}

/* [include] files=: each blank-separated glob, relative to the main file's directory, its
 * matches in sorted order; a glob may match nothing, a plain name must exist. */
static int read_includes(Parser *p) {
        const char *main_path = p->files[0].path, *slash = strrchr(main_path, '/');
        int dirlen = slash ? (int) (slash - main_path) : 0;
        const char *v = p->include_files;

        while (*(v += strspn(v, " \t"))) {
                size_t n = strcspn(v, " \t");
                _cleanup_free_ char *pattern = NULL;
                if (*v == '/' || !slash)
                        pattern = strndup(v, n);
                else if (asprintf(&pattern, "%.*s/%.*s", dirlen, main_path, (int) n, v) < 0)
                        pattern = NULL;
                if (!pattern)
                        return p->failed = true, -ENOMEM;
                v += n;

                char **paths = NULL;
                int r = 0;
                if (has_glob_chars(pattern)) {
                        SvDiag d = {};
                        r = p->src->glob(p->src->ctx, pattern, &paths, &d);
                        if (r == -ENOMEM)
                                return p->failed = true, r;
                        if (r < 0)
                                return config_fail(p, p->include_line, "[include] files: %s", d.msg);
                } else if (!(paths = calloc(2, sizeof(char *))) || !(paths[0] = strdup(pattern))) {
                        sv_strv_free(paths);
                        return p->failed = true, -ENOMEM;
                }
                for (size_t k = 0; paths[k] && r == 0; k++) {
                        bool dup;
                        r = load_file(p, paths[k], p->include_line, &dup);
                        if (r == 0 && !dup)
                                r = read_one(p, p->n_files - 1);
                }
                sv_strv_free(paths);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_files(const char *path, const SvConfigFiles *src, SvConfig **ret, SvDiag *d) {
        _cleanup_(sv_config_freep) SvConfig *c = calloc(1, sizeof(SvConfig));
        SvDiag local = {};
        Parser p = {
                .origin = path ? path : "<config>",
                .diag = d ? d : &local,
                .src = src,
        };
        int r;

        if (!c)
                return -ENOMEM;
        c->control_mode = 0600;
        c->metrics_mode = 0660;
        c->origin = strdup(p.origin);
        if (!c->origin)
                return -ENOMEM;
        p.cfg = c;

        /* Debian's libinih exposes its limits at run time: a heap buffer big enough for our
         * line limit, no multi-line values (an indented "key = value" would otherwise be
         * glued to the previous key), stop at the first error. */
        ini_use_stack = false;
        ini_allow_realloc = false;
        ini_max_line = SV_CONFIG_LINE_MAX + 3;
        ini_initial_alloc = SV_CONFIG_LINE_MAX + 3;
        ini_allow_multiline = false;
        ini_stop_on_first_error = true;

        bool dup;
        r = load_file(&p, p.origin, 0, &dup);
        if (r >= 0)
                r = read_one(&p, 0);
        if (r >= 0 && p.include_files)
                r = read_includes(&p);
        if (r >= 0)
                r = config_validate(&p);
        if (p.failed && r >= 0)
                r = -EINVAL;
        if (r >= 0) /* what an upgrade hands the next image, byte for byte */
                r = p.n_files == 1 ? ((c->source = strdup(p.files[0].text)) ? 0 : -ENOMEM)
                                   : config_make_bundle(p.files, p.n_files, &c->source);
        c->n_files = p.n_files;

        if (p.pending)
                for (size_t i = 0; i < c->n_programs; i++)
                        free(p.pending[i].socket_list);
        free(p.pending);
        for (size_t k = 0; k < p.n_files; k++) {
                free(p.files[k].path);
                free(p.files[k].text);
        }
        free(p.files);
        free(p.include_files);
        free(p.group_programs_line);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

/* A config given as text: the one file it is; an [include] in it finds nothing. */
typedef struct TextSource {
        const char *origin, *text;
} TextSource;

static int text_read(void *ctx, const char *path, char **ret_text, size_t *ret_len, uint64_t ret_id[2], SvDiag *d) {
        const TextSource *t = ctx;
        if (strcmp(path, t->origin) != 0) {
                diag_set(d, 0, "%s: cannot open: a configuration given as text includes no file", path);
                return -ENOENT;
        }
        if (!(*ret_text = strdup(t->text)))
                return -ENOMEM;
        *ret_len = strlen(t->text);
        ret_id[0] = ret_id[1] = 0;
        return 0;
}

static int text_glob(void *ctx, const char *pattern, char ***ret, SvDiag *d) {
        (void) ctx, (void) pattern, (void) d;
        *ret = calloc(1, sizeof(char *));
        return *ret ? 0 : -ENOMEM;
}

int sv_config_parse_string(const char *text, const char *origin, SvConfig **ret, SvDiag *d) {
        if (config_is_bundle(text))
                return config_parse_bundle(text, ret, d);
        TextSource t = { .origin = origin ? origin : "<config>", .text = text };
        SvConfigFiles src = { .read = text_read, .glob = text_glob, .ctx = &t };
        return parse_files(t.origin, &src, ret, d);
}

int sv_config_parse_files(const char *path, const SvConfigFiles *files, SvConfig **ret, SvDiag *d) {
        return parse_files(path, files, ret, d);
}

int sv_config_parse_file(const char *path, SvConfig **ret, SvDiag *d) {
        return parse_files(path, sv_config_files_fs(), ret, d);
}

SvConfig *sv_config_free(SvConfig *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_sockets; i++) {
                free(c->sockets[i].name);
                free(c->sockets[i].listen);
                sv_strv_free(c->sockets[i].fetch_users);
                sv_strv_free(c->sockets[i].fetch_groups);
        }
        free(c->sockets);
        for (size_t i = 0; i < c->n_programs; i++) {
                SvProgramConf *pr = &c->programs[i];
                free(pr->name);
                free(pr->command);
                sv_strv_free(pr->argv);
                for (size_t k = 0; pr->instance_argv && k < pr->numprocs; k++)
                        sv_strv_free(pr->instance_argv[k]);
                free(pr->instance_argv);
                free(pr->socket_idx);
                free(pr->directory);
                free(pr->user);
                free(pr->group);
                sv_strv_free(pr->environment);
                config_health_free(&pr->health);
                for (int k = 0; k < _SV_STREAM_MAX; k++)
                        free(pr->logfile[k].path);
        }
        free(c->programs);
        for (size_t i = 0; i < c->n_groups; i++) {
                free(c->groups[i].name);
                sv_strv_free(c->groups[i].programs);
        }
        free(c->groups);
        free(c->origin);
        free(c->source);
        free(c->control_path);
        free(c->metrics);
        free(c);
        return NULL;
}

size_t sv_config_groups_of(const SvConfig *c, const char *program, const SvGroupConf **ret) {
        size_t n = 0;
        for (size_t g = 0; g < c->n_groups; g++)
                for (size_t k = 0; c->groups[g].programs && c->groups[g].programs[k]; k++)
                        if (strcmp(c->groups[g].programs[k], program) == 0)
                                ret[n++] = &c->groups[g];
        return n;
}

char *const *sv_program_argv(const SvProgramConf *pr, unsigned index) {
        return pr->instance_argv && index < pr->numprocs ? pr->instance_argv[index] : pr->argv;
}

const SvProgramConf *sv_config_find_program(const SvConfig *c, const char *name) {
        for (size_t i = 0; i < c->n_programs; i++)
                if (strcmp(c->programs[i].name, name) == 0)
                        return &c->programs[i];
        return NULL;
}

int sv_config_find_socket(const SvConfig *c, const char *name) {
        for (size_t i = 0; i < c->n_sockets; i++)
                if (strcmp(c->sockets[i].name, name) == 0)
                        return (int) i;
        return -1;
}

