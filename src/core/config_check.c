/* Cross-section checks: what needs every section known (sockets= names, required keys,
 * restart_surge against numprocs). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

/* Turns "a, b c" into socket indexes, once every section is known. */
static int resolve_sockets(Parser *p, SvProgramConf *pr, const char *list, unsigned line) {
        SvConfig *c = p->cfg;
        char section[SV_NAME_MAX + 16];
        (void) snprintf(section, sizeof(section), "[program:%s]", pr->name);

        pr->socket_idx = calloc(SV_PROGRAM_SOCKETS_MAX, sizeof(size_t));
        if (!pr->socket_idx)
                return p->failed = true, -ENOMEM;

        const char *s = list;
        while (*s) {
                s += strspn(s, " \t,");
                size_t n = strcspn(s, " \t,");
                if (n == 0)
                        break;
                int idx = -1;
                for (size_t i = 0; i < c->n_sockets; i++)
                        if (strlen(c->sockets[i].name) == n && memcmp(c->sockets[i].name, s, n) == 0)
                                idx = (int) i;
                if (idx < 0) {
                        char known[1024] = "";
                        size_t o = 0;
                        for (size_t i = 0; i < c->n_sockets && o < sizeof(known); i++)
                                o += (size_t) snprintf(known + o, sizeof(known) - o, "%s%s", i ? ", " : "",
                                                       c->sockets[i].name);
                        return config_fail(p, line, "%s sockets: no [socket:%.*s] is defined; %s%s", section, (int) n, s,
                                    c->n_sockets ? "defined sockets: " : "add a [socket:NAME] section with a listen= line",
                                    known);
                }
                for (size_t j = 0; j < pr->n_sockets; j++)
                        if (pr->socket_idx[j] == (size_t) idx)
                                return config_fail(p, line, "%s sockets: '%.*s' is listed twice", section, (int) n, s);
                if (pr->n_sockets >= SV_PROGRAM_SOCKETS_MAX)
                        return config_fail(p, line, "%s sockets: more than %d sockets", section, SV_PROGRAM_SOCKETS_MAX);
                pr->socket_idx[pr->n_sockets++] = (size_t) idx;
                s += n;
        }
        return 0;
}

int config_validate(Parser *p) {
        SvConfig *c = p->cfg;

        for (size_t i = 0; i < c->n_sockets; i++)
                if (!c->sockets[i].listen)
                        return config_fail(p, c->sockets[i].line,
                                    "[socket:%s] has no listen= line; e.g. listen = tcp://127.0.0.1:8080",
                                    c->sockets[i].name);
        for (size_t i = 0; i < c->n_programs; i++) {
                SvProgramConf *pr = &c->programs[i];
                if (!pr->command)
                        return config_fail(p, pr->line, "[program:%s] has no command= line; e.g. command = /usr/bin/server",
                                    pr->name);
                if (!pr->environment) {
                        pr->environment = calloc(1, sizeof(char *));
                        if (!pr->environment)
                                return p->failed = true, -ENOMEM;
                }
                if (p->pending[i].socket_list) {
                        int r = resolve_sockets(p, pr, p->pending[i].socket_list, p->pending[i].socket_list_line);
                        if (r < 0)
                                return r;
                }
                if (pr->restart_surge > pr->numprocs)
                        return config_fail(p, p->pending[i].surge_line,
                                    "[program:%s] restart_surge: restart_surge = %u is more than numprocs = %u; at "
                                    "most numprocs new instances start before old ones drain",
                                    pr->name, pr->restart_surge, pr->numprocs);
                if (pr->stopasgroup) /* as supervisord: a group asked to stop is killed as a group too */
                        pr->killasgroup = true;
        }
        if (!c->control_path) {
                c->control_path = strdup(SV_DEFAULT_CONTROL);
                if (!c->control_path)
                        return p->failed = true, -ENOMEM;
        }
        return 0;
}

