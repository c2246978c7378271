/* Cross-section checks: what needs every section known (sockets= names, required keys,
 * restart_surge against numprocs, two sockets that cannot both be bound). */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "sockvisor/cmdline.h"
#include "sockvisor/expand.h"

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
        /* to fit: room for SV_PROGRAM_SOCKETS_MAX was 512 bytes a program, 5 MB for 10,000 */
        size_t *fit = realloc(pr->socket_idx, (pr->n_sockets ? pr->n_sockets : 1) * sizeof(size_t));
        if (fit)
                pr->socket_idx = fit;
        return 0;
}

/* %(fd:NAME) in command=: the fd the socket NAME of sockets= gets (3 for the first). */
typedef struct FdRef {
        const SvConfig *cfg;
        const SvProgramConf *pr;
} FdRef;

static void list_names(const SvConfig *c, const size_t *idx, size_t n, char *buf, size_t len) {
        size_t o = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < n && o < len; i++)
                o += (size_t) snprintf(buf + o, len - o, "%s%%(fd:%s)", i ? ", " : "",
                                       c->sockets[idx ? idx[i] : i].name);
}

static int expand_fd_ref(void *userdata, const char *key, size_t keylen, char *buf, size_t len, SvDiag *d) {
        const FdRef *f = userdata;
        const SvConfig *c = f->cfg;
        const SvProgramConf *pr = f->pr;
        char valid[1024];

        list_names(c, pr->socket_idx, pr->n_sockets, valid, sizeof(valid));
        if (keylen < 3 || memcmp(key, "fd:", 3) != 0)
                return diag_set(d, 0, "%%(%.*s) is not a reference sockvisor knows; %s%s, or %%%% for a literal %%",
                                (int) keylen, key, pr->n_sockets ? "valid here: " : "write %(fd:NAME) for a socket in sockets=",
                                valid);
        const char *name = key + 3;
        size_t n = keylen - 3;
        for (size_t k = 0; k < pr->n_sockets; k++) {
                const char *sn = c->sockets[pr->socket_idx[k]].name;
                if (strlen(sn) == n && memcmp(sn, name, n) == 0) {
                        (void) snprintf(buf, len, "%zu", 3 + k);
                        return 0;
                }
        }
        for (size_t i = 0; i < c->n_sockets; i++)
                if (strlen(c->sockets[i].name) == n && memcmp(c->sockets[i].name, name, n) == 0)
                        return diag_set(d, 0,
                                        "%%(fd:%.*s): [socket:%.*s] is not in this program's sockets=, so it gets no fd; "
                                        "add it to sockets=%s%s",
                                        (int) n, name, (int) n, name, pr->n_sockets ? " or use one of " : "", valid);
        char defined[1024];
        list_names(c, NULL, c->n_sockets, defined, sizeof(defined));
        return diag_set(d, 0, "%%(fd:%.*s): no [socket:%.*s] is defined; %s%s", (int) n, name, (int) n, name,
                        pr->n_sockets ? "valid here: " : c->n_sockets ? "list a socket in sockets= first; defined: "
                                                                      : "add a [socket:NAME] section and list it in sockets=",
                        pr->n_sockets ? valid : defined);
}

/* command= as one instance runs it: its %(…)s expansions put in (process_num = index, when
 * asked), then split, each %(fd:NAME) becoming its fd. */
static int instance_argv(Parser *p, SvProgramConf *pr, unsigned line, int index, char ***ret) {
        FdRef f = { .cfg = p->cfg, .pr = pr };
        _cleanup_free_ char *text = NULL;
        char here[PATH_MAX];
        SvExpandVars vars;
        SvDiag d = {};

        config_expand_vars(p, line, &vars, here, sizeof(here));
        vars.program_name = pr->name;
        vars.process_num = index;
        int r = sv_expand(pr->command, sv_expand_key("program", "command"), &vars, &text, &d);
        if (r >= 0)
                r = sv_cmdline_split_expand(text, expand_fd_ref, &f, ret, &d);
        if (r == -ENOMEM)
                return p->failed = true, r;
        if (r < 0)
                return config_fail(p, line, "[program:%s] command: %s", pr->name, d.msg);
        return 0;
}

/* command= split again, now that sockets= and numprocs= are known. */
static int expand_command(Parser *p, SvProgramConf *pr, unsigned line) {
        char **argv = NULL;
        if (!strchr(pr->command, '%'))
                return 0;
        int r = instance_argv(p, pr, line, 0, &argv);
        if (r < 0)
                return r;
        sv_strv_free(pr->argv);
        pr->argv = argv;
        if (!sv_expand_uses_process_num(pr->command))
                return 0;
        pr->instance_argv = calloc(pr->numprocs, sizeof(char **));
        if (!pr->instance_argv)
                return p->failed = true, -ENOMEM;
        for (unsigned k = 0; k < pr->numprocs; k++) {
                r = instance_argv(p, pr, line, (int) k, &pr->instance_argv[k]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The local addresses a bound inet socket takes for its port: IPv4 ones, IPv6 ones, or
 * both. A socket on [::] takes every IPv4 address too (IPv6 sockets are dual-stack unless
 * IPV6_V6ONLY, which sockvisor does not set), and one on an IPv4-mapped address
 * [::ffff:a.b.c.d] takes just that IPv4 address. */
typedef struct Reach {
        bool v4, v4_any;
        struct in_addr v4addr;
        bool v6, v6_any;
        struct in6_addr v6addr;
        uint32_t scope;
} Reach;

static Reach reach_of(const SvAddr *a) {
        Reach r = {};
        if (a->family == AF_INET) {
                struct sockaddr_in sin;
                memcpy(&sin, &a->sa, sizeof(sin));
                r.v4 = true;
                r.v4_any = sin.sin_addr.s_addr == htonl(INADDR_ANY);
                r.v4addr = sin.sin_addr;
                return r;
        }
        struct sockaddr_in6 sin6;
        memcpy(&sin6, &a->sa, sizeof(sin6));
        if (IN6_IS_ADDR_UNSPECIFIED(&sin6.sin6_addr)) {
                r.v4 = r.v4_any = r.v6 = r.v6_any = true;
                return r;
        }
        if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
                r.v4 = true;
                memcpy(&r.v4addr, &sin6.sin6_addr.s6_addr[12], sizeof(r.v4addr));
                r.v4_any = r.v4addr.s_addr == htonl(INADDR_ANY);
                return r;
        }
        r.v6 = true;
        r.v6addr = sin6.sin6_addr;
        r.scope = sin6.sin6_scope_id;
        return r;
}

static bool v6_same(const Reach *a, const Reach *b) {
        return a->scope == b->scope && memcmp(&a->v6addr, &b->v6addr, sizeof(a->v6addr)) == 0;
}

static bool reach_overlaps(const Reach *a, const Reach *b) {
        return (a->v4 && b->v4 && (a->v4_any || b->v4_any || a->v4addr.s_addr == b->v4addr.s_addr)) ||
               (a->v6 && b->v6 && (a->v6_any || b->v6_any || v6_same(a, b)));
}

/* Every address b takes, a takes too. */
static bool reach_covers(const Reach *a, const Reach *b) {
        bool v4 = !b->v4 || (a->v4 && (a->v4_any || (!b->v4_any && a->v4addr.s_addr == b->v4addr.s_addr)));
        bool v6 = !b->v6 || (a->v6 && (a->v6_any || (!b->v6_any && v6_same(a, b))));
        return v4 && v6;
}

/* Whether b cannot be bound while a is: 0 when both can, else how they meet. */
typedef enum Clash {
        CLASH_NONE,
        CLASH_SAME,     /* the same address */
        CLASH_A_WIDER,  /* a's address includes b's (a wildcard) */
        CLASH_B_WIDER,  /* b's address includes a's */
        CLASH_OVERLAP,
} Clash;

static Clash sockets_clash(const SvAddr *a, const SvAddr *b) {
        if (a->family == AF_UNIX || b->family == AF_UNIX) {
                if (a->family != b->family)
                        return CLASH_NONE;
                /* A path is one file whatever the type; Linux keeps an abstract name per type
                 * (unix:@n and unix-dgram:@n both bind). */
                SvAddr bb = *b;
                if (!a->abstract)
                        bb.socktype = a->socktype;
                return sv_addr_equal(a, &bb) ? CLASH_SAME : CLASH_NONE;
        }
        if (a->socktype != b->socktype) /* TCP and UDP ports are separate */
                return CLASH_NONE;
        unsigned port = sv_addr_port(a);
        if (port == 0 || port != sv_addr_port(b)) /* port 0: the kernel picks a free port for each */
                return CLASH_NONE;
        Reach ra = reach_of(a), rb = reach_of(b);
        if (!reach_overlaps(&ra, &rb))
                return CLASH_NONE;
        bool a_covers = reach_covers(&ra, &rb), b_covers = reach_covers(&rb, &ra);
        return a_covers && b_covers ? CLASH_SAME : a_covers ? CLASH_A_WIDER : b_covers ? CLASH_B_WIDER : CLASH_OVERLAP;
}

/* Two [socket:] sections that cannot both be bound fail at the later one's listen= line,
 * naming the earlier one, instead of at bind time with EADDRINUSE. */
static int check_socket_clashes(Parser *p) {
        const SvConfig *c = p->cfg;
        static const char *const how[] = {
                [CLASH_SAME] = ", the same address",
                [CLASH_A_WIDER] = ", which includes it",
                [CLASH_B_WIDER] = ", which it includes",
                [CLASH_OVERLAP] = ", which overlaps it",
        };

        for (size_t j = 1; j < c->n_sockets; j++)
                for (size_t i = 0; i < j; i++) {
                        const SvSocketConf *a = &c->sockets[i], *b = &c->sockets[j];
                        Clash k = sockets_clash(&a->addr, &b->addr);
                        if (k == CLASH_NONE)
                                continue;
                        const char *fix = b->addr.family != AF_UNIX ? "another port or address"
                                          : b->addr.abstract        ? "another name"
                                                                    : "another path";
                        return config_fail(p, b->listen_line,
                                           "[socket:%s] listen '%s': [socket:%s] (line %u) already listens on '%s'%s; "
                                           "give one of them %s",
                                           b->name, b->listen, a->name, a->listen_line, a->listen, how[k], fix);
                }
        for (size_t i = 0; c->metrics && i < c->n_sockets; i++) {
                const SvSocketConf *s = &c->sockets[i];
                Clash k = sockets_clash(&s->addr, &c->metrics_addr);
                if (k != CLASH_NONE)
                        return config_fail(p, c->metrics_line,
                                           "[sockvisord] metrics '%s': [socket:%s] (line %u) already listens on '%s'%s; "
                                           "give the metrics endpoint its own port or path",
                                           c->metrics, s->name, s->listen_line, s->listen, how[k]);
        }
        return 0;
}

/* intercept_bind, ready = accepting and drain = idle: what they need and what they imply. */
static int check_observed(Parser *p, SvProgramConf *pr, const ProgramPending *pp) {
        SvConfig *c = p->cfg;

        if (pr->intercept_bind) {
                if (pr->n_sockets == 0)
                        return config_fail(p, pp->intercept_line,
                                           "[program:%s] intercept_bind: the program has no sockets=; the shim hands a "
                                           "program its own sockets when it binds their address, so name them in "
                                           "sockets=",
                                           pr->name);
                /* A server that binds its port itself says nothing about readiness either:
                 * watching it accept is the only sign it gives. */
                if (!pp->ready_line)
                        pr->ready = SV_READY_ACCEPTING;
                /* O_NONBLOCK belongs to the open file description every generation shares, so
                 * the shim never changes it: the listener stays non-blocking, and the shim gives
                 * each process the blocking mode it asked for at socket(). */
                for (size_t k = 0; k < pr->n_sockets; k++) {
                        SvSocketConf *sc = &c->sockets[pr->socket_idx[k]];
                        if (sc->blocking_line && sc->blocking)
                                return config_fail(p, sc->blocking_line,
                                                   "[socket:%s] blocking: [program:%s] (line %u) binds it with "
                                                   "intercept_bind = yes, whose shim needs a non-blocking listener and "
                                                   "gives each process the blocking mode it asked for itself; remove "
                                                   "blocking = yes, or give the program the socket by fd "
                                                   "(intercept_bind = no)",
                                                   sc->name, pr->name, pr->line);
                        sc->blocking = false;
                }
        }
        if (pr->ready == SV_READY_ACCEPTING && pr->n_sockets == 0)
                return config_fail(p, pp->ready_line ? pp->ready_line : pr->line,
                                   "[program:%s] ready: ready = accepting waits for the program to accept on one of "
                                   "its sockets, and it has no sockets=; name them, or use ready = notify or started",
                                   pr->name);
        if (pr->drain == SV_DRAIN_IDLE) /* frozen and killed as a whole: no child left stopped */
                pr->killasgroup = true;
        return 0;
}

/* [group:NAME]: programs= names programs that exist, each once, and no program is named
 * like a group (a command could not tell which is meant). */
static int check_groups(Parser *p) {
        SvConfig *c = p->cfg;
        for (size_t g = 0; g < c->n_groups; g++) {
                SvGroupConf *gr = &c->groups[g];
                unsigned line = p->group_programs_line[g];
                if (sv_config_find_program(c, gr->name))
                        return config_fail(p, gr->line,
                                           "[group:%s]: a program is named %s too (on %s); a command could not tell them "
                                           "apart: rename the group",
                                           gr->name, gr->name, config_at(p, sv_config_find_program(c, gr->name)->line));
                if (!line || !gr->programs[0])
                        return config_fail(p, line ? line : gr->line, "[group:%s] lists no programs; e.g. programs = web, api",
                                           gr->name);
                for (size_t k = 0; gr->programs[k]; k++) {
                        if (!sv_config_find_program(c, gr->programs[k])) {
                                char known[1024];
                                size_t o = 0;
                                known[0] = '\0';
                                for (size_t q = 0; q < c->n_programs && o < sizeof(known); q++)
                                        o += (size_t) snprintf(known + o, sizeof(known) - o, "%s%s", q ? ", " : "",
                                                               c->programs[q].name);
                                return config_fail(p, line, "[group:%s] programs: no [program:%s] is defined; known: %s",
                                                   gr->name, gr->programs[k], known[0] ? known : "(none)");
                        }
                        for (size_t q = 0; q < k; q++)
                                if (strcmp(gr->programs[q], gr->programs[k]) == 0)
                                        return config_fail(p, line, "[group:%s] programs: '%s' is listed twice", gr->name,
                                                           gr->programs[k]);
                }
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
        int r = check_socket_clashes(p);
        if (r < 0)
                return r;
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
                        r = resolve_sockets(p, pr, p->pending[i].socket_list, p->pending[i].socket_list_line);
                        if (r < 0)
                                return r;
                }
                r = expand_command(p, pr, p->pending[i].command_line);
                if (r < 0)
                        return r;
                if (pr->restart_surge > pr->numprocs)
                        return config_fail(p, p->pending[i].surge_line,
                                           "[program:%s] restart_surge: restart_surge = %u is more than numprocs = %u; at "
                                           "most numprocs new instances start before old ones drain",
                                           pr->name, pr->restart_surge, pr->numprocs);
                if (pr->stopasgroup) /* as supervisord: a group asked to stop is killed as a group too */
                        pr->killasgroup = true;
                r = check_observed(p, pr, &p->pending[i]);
                if (r < 0)
                        return r;
                r = config_health_check(p, pr, p->pending[i].health_opt_line);
                if (r < 0)
                        return r;
                r = config_logfile_check(p, pr);
                if (r < 0)
                        return r;
        }
        r = config_logfile_check_all(p);
        if (r < 0)
                return r;
        r = check_groups(p);
        if (r < 0)
                return r;
        if (!c->control_path) {
                c->control_path = strdup(SV_DEFAULT_CONTROL);
                if (!c->control_path)
                        return p->failed = true, -ENOMEM;
        }
        return 0;
}

