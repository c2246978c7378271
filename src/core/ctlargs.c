/* sockvisorctl's command line against the verb table (see ctlargs.h). */
#include "sockvisor/ctlargs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sockvisor/macro.h"
#include "sockvisor/suggest.h"

enum { GLOBAL_SOCKET, GLOBAL_JSON, GLOBAL_HELP, GLOBAL_VERSION };
static const SvVerbOption globals[] = {
        [GLOBAL_SOCKET] = { "socket", 's', "SOCKET", "the daemon's control socket" },
        [GLOBAL_JSON] = { "json", 0, NULL, "machine-readable output (for the commands that have it)" },
        [GLOBAL_HELP] = { "help", 'h', NULL, "show the help (of COMMAND, when one is given) and exit" },
        [GLOBAL_VERSION] = { "version", 'V', NULL, "show the client's version and exit" },
        { NULL },
};

const SvVerbOption *sv_ctlargs_global_options(void) {
        return globals;
}

/* Appends s to buf[0..len) at o, cut to fit and always terminated; returns the new o. */
static size_t append(char *buf, size_t len, size_t o, const char *s) {
        size_t n = strlen(s);

        if (o + 1 >= len)
                return o;
        if (n > len - o - 1)
                n = len - o - 1;
        memcpy(buf + o, s, n);
        buf[o + n] = '\0';
        return o + n;
}

/* The list of opts but the one named skip (NULL: none). */
static void list_options(const SvVerbOption *opts, const char *skip, char *buf, size_t len) {
        size_t o = 0;

        if (len == 0)
                return;
        buf[0] = '\0';
        for (const SvVerbOption *p = opts; p && p->name; p++) {
                char s[3] = { '-', p->short_name, '\0' };

                if (skip && strcmp(p->name, skip) == 0)
                        continue;
                if (o)
                        o = append(buf, len, o, ", ");
                if (p->short_name) {
                        o = append(buf, len, o, s);
                        o = append(buf, len, o, ", ");
                }
                o = append(buf, len, o, "--");
                o = append(buf, len, o, p->name);
                if (p->arg) {
                        o = append(buf, len, o, " ");
                        o = append(buf, len, o, p->arg);
                }
        }
}

void sv_ctlargs_options_list(const SvVerbOption *opts, char *buf, size_t len) {
        list_options(opts, NULL, buf, len);
}

int sv_ctlargs_find_verb(const char *word, SvVerb *ret, SvDiag *d) {
        const char *names[_SV_VERB_MAX];
        char list[256];

        if (sv_verb_find(word, ret))
                return 0;
        for (SvVerb v = 0; v < _SV_VERB_MAX; v++)
                names[v] = sv_verb_info(v)->name;
        const char *near = sv_suggest(word, names, ELEMENTSOF(names));
        sv_verbs_list(list, sizeof(list), false);
        if (near)
                return diag_set(d, 0, "unknown command '%s'; did you mean '%s'? (commands: %s)", word, near, list);
        return diag_set(d, 0, "unknown command '%s'; commands: %s", word, list);
}

/* The option named (long: name, short: c): the command's own first, so exec's --socket
 * NAME is exec's (the control socket is -s there), then the global ones. */
static const SvVerbOption *option_find(const SvVerbInfo *info, const char *name, size_t name_len, char c) {
        const SvVerbOption *lists[2] = { info ? info->options : NULL, globals };

        for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                for (const SvVerbOption *p = lists[l]; p && p->name; p++)
                        if (c ? p->short_name == c : strlen(p->name) == name_len && strncmp(p->name, name, name_len) == 0)
                                return p;
        return NULL;
}

static bool has_option(const SvVerbInfo *info, const char *name) {
        for (const SvVerbOption *p = info->options; p && p->name; p++)
                if (strcmp(p->name, name) == 0)
                        return true;
        return false;
}

/* "unknown option 'X' ...": the nearest long option, and what the command takes. where is
 * NULL when the word came before the command, where only the global options stand. */
static int unknown_option(const SvVerbInfo *info, const SvVerbInfo *where, const char *word, SvDiag *d) {
        const char *names[2 * SV_CTLARGS_MAX];
        char spelled[SV_SUGGEST_WORD_MAX + 1], mine[256] = "", common[256];
        size_t n = 0;

        for (const SvVerbOption *p = globals; p->name && n < ELEMENTSOF(names); p++)
                names[n++] = p->name;
        for (const SvVerbOption *p = info ? info->options : NULL; p && p->name && n < ELEMENTSOF(names); p++)
                names[n++] = p->name;
        if (info && !where) {
                const char *name = word + strspn(word, "-");
                size_t len = word[1] == '-' ? strcspn(name, "=") : 0;
                if (option_find(info, name, len, word[1] == '-' ? 0 : word[1]))
                        return diag_set(d, 0, "option '%s' is %s's: put it after the command (sockvisorctl %s %s ...)",
                                        word, info->name, info->name, word);
        }
        /* "--folow=3" is compared as "folow"; a short option is too short to guess at. */
        const char *near = NULL;
        if (strncmp(word, "--", 2) == 0) {
                (void) snprintf(spelled, sizeof(spelled), "%.*s", (int) strcspn(word + 2, "="), word + 2);
                near = sv_suggest(spelled, names, n);
        }
        char hint[96] = "";
        if (near)
                (void) snprintf(hint, sizeof(hint), "; did you mean '--%s'?", near);
        /* --json is the command's own where it has it, and no use where it has not. */
        list_options(globals, info ? "json" : NULL, common, sizeof(common));
        if (!info)
                return diag_set(d, 0, "unknown option '%s'%s (before a command: %s)", word, hint, common);
        sv_ctlargs_options_list(info->options, mine, sizeof(mine));
        return diag_set(d, 0, "unknown option '%s' for '%s'%s (%s takes %s%s%s)", word, info->name, hint, info->name,
                        mine[0] ? mine : "no options of its own", mine[0] ? "; and " : "; every command takes ", common);
}

/* The index of the command word in argv (argc when there is none): the first word that is
 * not an option, skipping -s's value, since only a global option may come before it. */
static int find_command(int argc, char *const *argv, bool *ret_after_dashes) {
        *ret_after_dashes = false;
        for (int i = 1; i < argc; i++) {
                const char *w = argv[i];

                if (strcmp(w, "--") == 0) {
                        *ret_after_dashes = true;
                        return i + 1;
                }
                if (w[0] != '-' || w[1] == '\0')
                        return i;
                if (strcmp(w, "-s") == 0 || strcmp(w, "--socket") == 0)
                        i++;
        }
        return argc;
}

/* Records option o (with value v, NULL for a flag). */
static int take(SvCtlArgs *a, const SvVerbOption *o, const char *v, SvDiag *d) {
        if (o == &globals[GLOBAL_SOCKET])
                a->socket = v;
        else if (o == &globals[GLOBAL_HELP])
                a->help = true;
        else if (o == &globals[GLOBAL_VERSION])
                a->version = true;
        else if (strcmp(o->name, "json") == 0) { /* the global one, or the command's: the same */
                /* Global in where it may stand, not in what it means: the command must have it. */
                if (a->info && !has_option(a->info, "json")) {
                        char mine[256];
                        sv_ctlargs_options_list(a->info->options, mine, sizeof(mine));
                        return diag_set(d, 0, "'%s' has no --json output (%s takes %s)", a->info->name, a->info->name,
                                        mine[0] ? mine : "no options of its own");
                }
                a->json = true;
        } else {
                if (a->n_opts == ELEMENTSOF(a->opts))
                        return diag_set(d, 0, "too many options (at most %d)", SV_CTLARGS_MAX);
                a->opts[a->n_opts++] = (SvCtlOptValue){ o, v };
        }
        return 0;
}

/* One word that starts with '-': a long option, or one or more short ones ("-fn5"),
 * looked up in info's options (NULL before the command: the global ones only) and the
 * global ones. *i moves past a value taken from the next word. */
static int option_word(SvCtlArgs *a, const SvVerbInfo *info, int argc, char *const *argv, int *i, SvDiag *d) {
        const char *w = argv[*i];

        if (w[1] == '-') {
                const char *name = w + 2, *eq = strchr(name, '=');
                size_t len = eq ? (size_t) (eq - name) : strlen(name);
                const SvVerbOption *o = option_find(info, name, len, 0);
                if (!o)
                        return unknown_option(a->info, info, w, d);
                if (!o->arg) {
                        if (eq)
                                return diag_set(d, 0, "option '--%s' takes no value (got '%s')", o->name, w);
                        return take(a, o, NULL, d);
                }
                if (eq)
                        return take(a, o, eq + 1, d);
                if (*i + 1 >= argc)
                        return diag_set(d, 0, "option '--%s' needs a value (%s)", o->name, o->arg);
                return take(a, o, argv[++*i], d);
        }
        for (const char *c = w + 1; *c; c++) {
                const SvVerbOption *o = option_find(info, NULL, 0, *c);
                char one[3] = { '-', *c, '\0' };
                int r;

                if (!o)
                        return unknown_option(a->info, info, c == w + 1 && !c[1] ? w : one, d);
                if (!o->arg) {
                        if ((r = take(a, o, NULL, d)) < 0)
                                return r;
                        continue;
                }
                if (c[1])
                        return take(a, o, c + 1, d); /* "-n5": the rest of the word is the value */
                if (*i + 1 >= argc)
                        return diag_set(d, 0, "option '-%c' needs a value (%s)", *c, o->arg);
                return take(a, o, argv[++*i], d);
        }
        return 0;
}

static int operand(SvCtlArgs *a, char *w, SvDiag *d) {
        if (a->n_operands == ELEMENTSOF(a->operands))
                return diag_set(d, 0, "too many arguments (at most %d in one command)", SV_CTLARGS_MAX);
        a->operands[a->n_operands++] = w;
        return 0;
}

/* The operand count against the table. */
static int check_operands(const SvCtlArgs *a, SvDiag *d) {
        const SvVerbInfo *i = a->info;

        if (a->n_operands >= i->min_operands && a->n_operands <= i->max_operands)
                return 0;
        if (i->max_operands == 0)
                return diag_set(d, 0, "'%s' takes no arguments, got '%s'; e.g. 'sockvisorctl %s'", i->name,
                                a->operands[0], i->example);
        return diag_set(d, 0, "'%s' expects %s, e.g. 'sockvisorctl %s'", i->name, i->args_help, i->example);
}

int sv_ctlargs_parse(int argc, char *const *argv, SvCtlArgs *ret, SvDiag *d) {
        SvCtlArgs a = { 0 };
        bool dashes;
        int r, cmd = find_command(argc, argv, &dashes);

        ret->info = NULL;
        if (cmd < argc && !dashes && strcmp(argv[cmd], SV_CTLARGS_COMPLETE) == 0) {
                a.complete = true; /* its words are read as they are; options before it still count */
                for (int i = cmd + 1; i < argc; i++)
                        if ((r = operand(&a, argv[i], d)) < 0)
                                return r;
        } else if (cmd < argc) {
                if ((r = sv_ctlargs_find_verb(argv[cmd], &a.verb, d)) < 0)
                        return r;
                a.info = ret->info = sv_verb_info(a.verb);
        }

        bool options_done = false;
        for (int i = 1; i < (a.complete ? cmd : argc); i++) {
                char *w = argv[i];

                if (i == cmd)
                        continue;
                if (!options_done && strcmp(w, "--") == 0) {
                        if (a.info && a.info->keeps_rest && i > cmd) {
                                a.rest = argv + i + 1;
                                a.n_rest = (size_t) (argc - i - 1);
                                break;
                        }
                        options_done = true;
                        continue;
                }
                /* "-" is an operand (stdin, by habit); so is "-9" (no option is a digit). */
                if (options_done || w[0] != '-' || w[1] == '\0' || (w[1] >= '0' && w[1] <= '9'))
                        r = operand(&a, w, d);
                else
                        r = option_word(&a, i < cmd ? NULL : a.info, argc, argv, &i, d);
                if (r < 0)
                        return r;
        }

        if (a.socket && a.socket[0] == '\0')
                return diag_set(d, 0, "the control socket path given with -s is empty");
        if (!a.help && !a.version && !a.complete) {
                if (!a.info) {
                        char list[256];
                        sv_verbs_list(list, sizeof(list), false);
                        return diag_set(d, 0, "no command given; commands: %s", list);
                }
                if ((r = check_operands(&a, d)) < 0)
                        return r;
        }
        *ret = a;
        return 0;
}

const char *sv_ctlargs_value(const SvCtlArgs *a, const char *name) {
        for (size_t k = a->n_opts; k > 0; k--)
                if (strcmp(a->opts[k - 1].opt->name, name) == 0)
                        return a->opts[k - 1].value ? a->opts[k - 1].value : "";
        return NULL;
}

const char *sv_ctlargs_why_address(const char *in, char *buf, size_t len) {
        const char *colon = strrchr(in, ':');
        int n;

        /* A scheme ("tcp://", "unix:/x", "unix:@x"), a bare port, or no port at all: as is. */
        if (strstr(in, "://") || strncmp(in, "unix", 4) == 0 || !colon || colon[1] == '\0' ||
            strspn(colon + 1, "0123456789") != strlen(colon + 1))
                n = snprintf(buf, len, "%s", in);
        else if (colon == in) /* ":8080" */
                n = snprintf(buf, len, "%s", in + 1);
        else if (in[0] == '[' || !memchr(in, ':', (size_t) (colon - in))) /* "[::1]:80", "127.0.0.1:80" */
                n = snprintf(buf, len, "tcp://%s", in);
        else /* "::1:80" is ambiguous: left for the doctor to refuse */
                n = snprintf(buf, len, "%s", in);
        return n < 0 || (size_t) n >= len ? NULL : buf;
}
