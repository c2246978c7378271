/* `sockvisorctl __complete WHAT [CMD]`: the words completion/sockvisorctl.bash offers, one
 * per line. Commands and options come from the verb table; names and sockets are asked of
 * the running daemon with the verbs any user of status and sockets already has (their
 * --json rows), within CTL_COMPLETE_TIMEOUT_MS. A completion never writes to the
 * terminal and never fails: no daemon, a slow one or a refusal print nothing, exit 0. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static bool has(const SvVerbOption *opts, const char *name) {
        for (const SvVerbOption *o = opts; o && o->name; o++)
                if (strcmp(o->name, name) == 0)
                        return true;
        return false;
}

static void options(const char *cmd) {
        SvVerb v;
        const SvVerbOption *lists[2] = { sv_ctlargs_global_options(), NULL };

        if (cmd && sv_verb_find(cmd, &v))
                lists[1] = sv_verb_info(v)->options;
        for (size_t l = 0; l < 2; l++)
                for (const SvVerbOption *o = lists[l]; o && o->name; o++) {
                        /* --json once: the command's own when it has one, none when it has not;
                         * and exec's --socket is exec's (-s stays the control socket). */
                        bool shadowed = l == 0 && lists[1] && (strcmp(o->name, "json") == 0 || has(lists[1], o->name));
                        if (o->short_name)
                                printf("-%c\n", o->short_name);
                        if (!shadowed)
                                printf("--%s\n", o->name);
                }
}

/* The string at key in row, or NULL. */
static const char *field(json_t *row, const char *key) {
        return json_string_value(json_object_get(row, key));
}

/* Prints s unless it is the last word printed from the same column (rows come grouped by
 * program, so this drops the repeats without a set). */
static void once(const char *s, char *last, size_t len) {
        if (!s || !s[0] || strcmp(s, last) == 0)
                return;
        puts(s);
        (void) snprintf(last, len, "%s", s);
}

/* Groups are few: a list of copies, searched (past max, a repeat may be printed again).
 * A group is offered as GROUP and GROUP:*, and with prog (its row's program) as GROUP:PROG
 * the first time prog is seen (new_prog). */
static void group(const char *g, const char *prog, bool new_prog, char **seen, size_t *n_seen, size_t max) {
        if (!g || !g[0])
                return;
        if (new_prog && prog)
                printf("%s:%s\n", g, prog);
        for (size_t k = 0; k < *n_seen; k++)
                if (strcmp(seen[k], g) == 0)
                        return;
        printf("%s\n%s:*\n", g, g);
        if (*n_seen < max && (seen[*n_seen] = strdup(g)))
                (*n_seen)++;
}

/* status --json rows: programs, their instances (pool:1, pool:*) and, when status carries
 * them, their groups ("group": "web", or "groups": ["web", ...]: web, web:*, web:PROG). sockets --json: each socket's
 * name, or its address (for why). */
static void ask(const char *path, const char *what) {
        bool names = strcmp(what, "names") == 0;
        char *json_arg[] = { "--json" };
        char **lines = NULL, last_prog[256] = "", last_inst[256] = "", last_every[300] = "", *groups[256];
        size_t n = 0, n_groups = 0;

        if (ctl_client_lines(path, names ? "status" : "sockets", json_arg, 1, CTL_COMPLETE_TIMEOUT_MS, &lines, &n) != 0)
                return;
        for (size_t k = 0; k < n; k++) {
                json_t *row = json_loads(lines[k], 0, NULL);

                if (!json_is_object(row)) {
                        json_decref(row);
                        continue;
                }
                if (!names)
                        once(field(row, strcmp(what, "addresses") == 0 ? "address" : "socket"), last_prog,
                             sizeof(last_prog));
                else {
                        const char *prog = field(row, "program"), *inst = field(row, "instance");
                        json_t *gs = json_object_get(row, "groups"), *g;
                        size_t i;

                        bool new_prog = prog && strcmp(prog, last_prog) != 0;

                        once(prog, last_prog, sizeof(last_prog));
                        if (inst && prog && strcmp(inst, prog) != 0) {
                                char every[300]; /* its instances: every one, as NAME:* */
                                (void) snprintf(every, sizeof(every), "%s:*", prog);
                                once(every, last_every, sizeof(last_every));
                                once(inst, last_inst, sizeof(last_inst));
                        }
                        group(field(row, "group"), prog, new_prog, groups, &n_groups, ELEMENTSOF(groups));
                        json_array_foreach(gs, i, g)
                                group(json_string_value(g), prog, new_prog, groups, &n_groups, ELEMENTSOF(groups));
                }
                json_decref(row);
        }
        for (size_t k = 0; k < n_groups; k++)
                free(groups[k]);
        for (size_t k = 0; k < n; k++)
                free(lines[k]);
        free(lines);
}

int ctl_complete_run(const char *path, char *const *words, size_t n_words) {
        const char *what = n_words > 0 ? words[0] : "";

        /* Whatever goes wrong, the terminal of a user pressing Tab sees none of it. */
        if (!freopen("/dev/null", "w", stderr))
                return CTL_EXIT_OK;
        if (strcmp(what, "commands") == 0) {
                for (SvVerb v = 0; v < _SV_VERB_MAX; v++)
                        puts(sv_verb_info(v)->name);
        } else if (strcmp(what, "options") == 0)
                options(n_words > 1 ? words[1] : NULL);
        else if (strcmp(what, "names") == 0 || strcmp(what, "sockets") == 0 || strcmp(what, "addresses") == 0)
                ask(path, what);
        (void) fflush(stdout);
        return CTL_EXIT_OK;
}
