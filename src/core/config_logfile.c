/* stdout_logfile=, stderr_logfile=, their _maxbytes= and _backups=, and redirect_stderr=:
 * supervisord's keys, with its meanings. Where a program's output goes: a file sockvisord
 * writes (and rotates), NONE (/dev/null), /dev/stdout or /dev/stderr (sockvisord's own, not
 * captured), or, when absent, what output= says. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "sockvisor/logfile.h"

static const char *const stream_table[_SV_STREAM_MAX] = {
        [SV_STREAM_STDOUT] = "stdout",
        [SV_STREAM_STDERR] = "stderr",
};

const char *sv_stream_to_string(SvStream s) {
        return s >= 0 && s < _SV_STREAM_MAX ? stream_table[s] : NULL;
}

#define LOGFILE_PATH_MAX (PATH_MAX - 16) /* room for ".1000" and the writer's temporary names */

/* The path, its %(…)s expansions already put in (expand.c), within the length a rotated
 * name still fits in. */
static int copy_path(Parser *p, const char *key, const char *v, char **ret) {
        if (strlen(v) >= LOGFILE_PATH_MAX)
                return config_fail(p, p->line, "%s %s: path longer than %d bytes", p->section, key, LOGFILE_PATH_MAX - 1);
        *ret = strdup(v);
        return *ret ? 0 : (p->failed = true, -ENOMEM);
}

int config_logfile_key(Parser *p, SvProgramConf *pr, SvStream stream, int which, const char *key, const char *v) {
        SvLogFileConf *l = &pr->logfile[stream];
        unsigned long n;
        char *path = NULL;
        int r;

        if (which != 0 && !l->opt_line)
                l->opt_line = p->line;
        switch (which) {
        case 0:
                l->line = p->line;
                if (strcasecmp(v, "NONE") == 0) {
                        l->none = true;
                        return 0;
                }
                if (strcasecmp(v, "AUTO") == 0)
                        return config_fail(p, p->line,
                                           "%s %s: AUTO (supervisord's files in its childlogdir) is not supported; give "
                                           "an absolute path (e.g. %s = /var/log/%s.%s.log), or NONE",
                                           p->section, key, key, pr->name, stream_table[stream]);
                if (v[0] != '/')
                        return config_fail(p, p->line,
                                           "%s %s: '%s' is not an absolute path; e.g. %s = /var/log/%s.%s.log, or NONE "
                                           "(not captured: /dev/null)",
                                           p->section, key, v, key, pr->name, stream_table[stream]);
                r = copy_path(p, key, v, &path);
                if (r < 0)
                        return r;
                if (path[strlen(path) - 1] == '/') {
                        free(path);
                        return config_fail(p, p->line, "%s %s: '%s' names a directory; name a file in it, e.g. %s%s.log",
                                           p->section, key, v, v, pr->name);
                }
                free(l->path);
                l->path = path;
                return 0;
        case 1:
                if (sv_bytes_parse(v, &l->maxbytes) < 0)
                        return config_fail(p, p->line,
                                           "%s %s: '%s' is not a size; e.g. 50MB (the default), 1GB, 500KB or a number of "
                                           "bytes (KB, MB and GB are the units; at most 1048576GB); 0: never rotate",
                                           p->section, key, v);
                return 0;
        case 2:
                if (config_parse_uint(v, 0, SV_LOGFILE_BACKUPS_MAX, &n) < 0)
                        return config_fail(p, p->line,
                                           "%s %s: '%s' is not a number from 0 to %d (rotated files kept; 0: the file is "
                                           "truncated instead)",
                                           p->section, key, v, SV_LOGFILE_BACKUPS_MAX);
                l->backups = (unsigned) n;
                return 0;
        }
        return 0;
}

/* /dev/stdout and /dev/stderr are the docker habit with supervisord: sockvisord's own
 * stream, not captured. They are symbolic links (to /proc/self/fd/N), which sockvisord
 * never opens at a log path, so they are taken to mean just that. */
static bool is_own_stream(const char *path) {
        return path && (strcmp(path, "/dev/stdout") == 0 || strcmp(path, "/dev/stderr") == 0 ||
                        strcmp(path, "/dev/fd/1") == 0 || strcmp(path, "/dev/fd/2") == 0);
}

int config_logfile_check(Parser *p, SvProgramConf *pr) {
        SvLogFileConf *out = &pr->logfile[SV_STREAM_STDOUT], *err = &pr->logfile[SV_STREAM_STDERR];

        for (int k = 0; k < _SV_STREAM_MAX; k++) {
                SvLogFileConf *l = &pr->logfile[k];
                if (pr->output_journal && l->line)
                        return config_fail(p, l->line,
                                           "[program:%s] %s_logfile: output = journal (line %u) and %s_logfile= (line %u) "
                                           "both say where its output goes; keep output = journal for the journal, or "
                                           "drop it and keep the *_logfile= lines for files",
                                           pr->name, stream_table[k], pr->output_line, stream_table[k], l->line);
        }
        if (pr->redirect_stderr && err->line)
                return config_fail(p, err->line,
                                   "[program:%s] stderr_logfile: redirect_stderr = true (line %u) sends stderr into "
                                   "stdout's log, so stderr_logfile= (line %u) would never be written; drop one",
                                   pr->name, pr->redirect_line, err->line);
        for (int k = 0; k < _SV_STREAM_MAX; k++) {
                SvLogFileConf *l = &pr->logfile[k];
                if (!is_own_stream(l->path))
                        continue;
                l->own_fd = strstr(l->path, "out") || strcmp(l->path, "/dev/fd/1") == 0 ? 1 : 2;
                free(l->path);
                l->path = NULL;
        }
        (void) out;
        return 0;
}

int config_logfile_check_all(Parser *p) {
        SvConfig *c = p->cfg;
        for (size_t i = 0; i < c->n_programs; i++)
                for (int k = 0; k < _SV_STREAM_MAX; k++) {
                        SvLogFileConf *a = &c->programs[i].logfile[k];
                        if (!a->path || is_own_stream(a->path))
                                continue;
                        for (size_t j = 0; j <= i; j++)
                                for (int m = 0; m < _SV_STREAM_MAX && (j < i || m < k); m++) {
                                        const SvLogFileConf *b = &c->programs[j].logfile[m];
                                        if (b->path && strcmp(a->path, b->path) == 0)
                                                return config_fail(
                                                        p, a->line,
                                                        "[program:%s] %s_logfile: %s is also %s_logfile of "
                                                        "[program:%s] (line %u); each stream needs a file of its own "
                                                        "(rotation renames it), or set redirect_stderr = true to put "
                                                        "stderr into stdout's file",
                                                        c->programs[i].name, stream_table[k], a->path, stream_table[m],
                                                        c->programs[j].name, b->line);
                                }
                }
        return 0;
}
