/* supervisord's %(NAME)s expansions: which keys take them, and putting them in. */
#include "sockvisor/expand.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/macro.h"

#define EXPANDED_MAX 65536 /* longest value after expansion */
#define NAME_MAX_LEN 64    /* longest NAME in %(NAME) */

#define PLACE (SV_EXPAND_HERE | SV_EXPAND_HOST_NODE_NAME | SV_EXPAND_ENV)
#define PROGRAM (PLACE | SV_EXPAND_PROGRAM_NAME)

/* Every key that takes expansions. %(process_num)d only in command=: it is expanded per
 * instance, and the other keys are one value for all of a program's instances. */
static const SvExpandKey rules[] = {
        { "program", "command", PROGRAM | SV_EXPAND_PROCESS_NUM, "fd:" },
        { "program", "directory", PROGRAM, NULL },
        { "program", "environment", PROGRAM, NULL },
        { "program", "stdout_logfile", PROGRAM, NULL },
        { "program", "stderr_logfile", PROGRAM, NULL },
        { "program", "healthcheck", PROGRAM, "port" },
        { "socket", "listen", PLACE, NULL },
        { "sockvisord", "control", PLACE, NULL },
        { "sockvisord", "metrics", PLACE, NULL },
        { "include", "files", PLACE, NULL },
};

static const struct {
        SvExpandVar var;
        const char *name, *written;
} vars[] = {
        { SV_EXPAND_HERE, "here", "%(here)s" },
        { SV_EXPAND_PROGRAM_NAME, "program_name", "%(program_name)s" },
        { SV_EXPAND_PROCESS_NUM, "process_num", "%(process_num)d" },
        { SV_EXPAND_HOST_NODE_NAME, "host_node_name", "%(host_node_name)s" },
        { SV_EXPAND_ENV, "ENV_", "%(ENV_NAME)s" },
};

const SvExpandKey *sv_expand_key(const char *section, const char *key) {
        for (size_t k = 0; k < ELEMENTSOF(rules); k++)
                if (strcmp(rules[k].section, section) == 0 && strcmp(rules[k].key, key) == 0)
                        return &rules[k];
        return NULL;
}

void sv_expand_keys_join(char *buf, size_t len) {
        size_t o = 0;
        buf[0] = '\0';
        for (size_t k = 0; k < ELEMENTSOF(rules) && o < len; k++) {
                int w = snprintf(buf + o, len - o, "%s[%s] %s", k ? ", " : "", rules[k].section, rules[k].key);
                if (w < 0)
                        break;
                o += (size_t) w;
        }
}

static void known_here(unsigned allowed, const char *keep_refs, char *buf, size_t len) {
        size_t o = 0;
        buf[0] = '\0';
        for (size_t k = 0; k < ELEMENTSOF(vars) && o < len; k++)
                if (allowed & vars[k].var) {
                        int w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", vars[k].written);
                        if (w < 0)
                                break;
                        o += (size_t) w;
                }
        if (keep_refs && o < len) /* what the later pass puts in */
                o += (size_t) snprintf(buf + o, len - o, ", %s", strcmp(keep_refs, "fd:") == 0 ? "%(fd:NAME)"
                                                                                               : "%(port)s, %(port:NAME)s");
        if (o < len)
                (void) snprintf(buf + o, len - o, "%s%%%% for a literal %%", o ? " and " : "");
}

/* The growing result. */
typedef struct Out {
        char *buf;
        size_t len, cap;
} Out;

static int put(Out *o, const char *s, size_t n) {
        if (o->len + n + 1 > EXPANDED_MAX)
                return -E2BIG;
        if (o->len + n + 1 > o->cap) {
                size_t cap = o->cap ? o->cap : 64;
                while (cap < o->len + n + 1)
                        cap *= 2;
                char *b = realloc(o->buf, cap);
                if (!b)
                        return -ENOMEM;
                o->buf = b;
                o->cap = cap;
        }
        memcpy(o->buf + o->len, s, n);
        o->len += n;
        o->buf[o->len] = '\0';
        return 0;
}

/* A value put in; where a later pass reads % again, each of its % is doubled. */
static int put_value(Out *o, const char *s, bool escape) {
        for (const char *p = s; *p;) {
                size_t n = escape ? strcspn(p, "%") : strlen(p);
                int r = put(o, p, n);
                if (r == 0 && p[n] == '%')
                        r = put(o, "%%", 2), n++;
                if (r < 0)
                        return r;
                p += n;
        }
        return 0;
}

static const char *env_lookup(char *const *envp, const char *name, size_t n) {
        for (size_t k = 0; envp && envp[k]; k++)
                if (strncmp(envp[k], name, n) == 0 && envp[k][n] == '=')
                        return envp[k] + n + 1;
        return NULL;
}

/* s points at "%(": expands one reference; *ret_used gets how many bytes of s it took. */
static int expand_ref(const char *s, const SvExpandKey *rule, const SvExpandVars *v, Out *o, size_t *ret_used,
                      SvDiag *d) {
        char known[256];
        const char *name = s + 2, *close = memchr(name, ')', strnlen(name, NAME_MAX_LEN + 1));
        bool kept = rule->keep_refs && strncmp(name, rule->keep_refs, strlen(rule->keep_refs)) == 0;
        if (!close && kept) { /* the later pass says what is wrong with it, and where */
                *ret_used = 2;
                return put(o, s, 2);
        }
        if (!close)
                return diag_set(d, 0, "'%.24s': unterminated %%( (or a name above %d characters); write %%(NAME)s, or "
                                "%%%% for a literal %%", s, NAME_MAX_LEN);
        size_t n = (size_t) (close - name);
        if (kept) {
                *ret_used = n + 3; /* %(…) as it is: the later pass reads it */
                return put(o, s, n + 3);
        }

        /* the conversion: flags, a width, then s or d (Python's %-formatting, as supervisord) */
        const char *c = close + 1;
        size_t flags = strspn(c, "-0"), width = strspn(c + flags, "0123456789");
        char conv = c[flags + width];
        bool conv_ok = width <= 2 && (conv == 's' || conv == 'd');

        size_t k = 0;
        for (; k < ELEMENTSOF(vars); k++)
                if (vars[k].var == SV_EXPAND_ENV ? n > 4 && strncmp(name, "ENV_", 4) == 0
                                                 : strlen(vars[k].name) == n && strncmp(name, vars[k].name, n) == 0)
                        break;
        known_here(rule->vars, rule->keep_refs, known, sizeof(known));
        if (k == ELEMENTSOF(vars))
                return diag_set(d, 0, "unknown expansion '%%(%.*s)%.*s'; known here: %s", (int) n, name, conv_ok ? 1 : 0,
                                &conv, known);
        if (!conv_ok)
                return diag_set(d, 0, "'%%(%.*s)%.*s': a bad format; write %%(%.*s)s (or %%(process_num)02d for a width)",
                                (int) n, name, (int) (flags + width + (conv ? 1 : 0)), c, (int) n, name);
        if (!(rule->vars & vars[k].var))
                return diag_set(d, 0, "'%%(%.*s)%c' is not known here%s; known here: %s", (int) n, name, conv,
                                vars[k].var == SV_EXPAND_PROCESS_NUM ? " (the instances of a program share this key; "
                                                                       "only command= differs per instance)"
                                                                     : "",
                                known);

        char num[16];
        const char *value = NULL;
        switch (vars[k].var) {
        case SV_EXPAND_HERE:
                value = v->here;
                break;
        case SV_EXPAND_PROGRAM_NAME:
                value = v->program_name;
                break;
        case SV_EXPAND_HOST_NODE_NAME:
                value = v->host_node_name;
                break;
        case SV_EXPAND_PROCESS_NUM:
                (void) snprintf(num, sizeof(num), "%d", v->process_num < 0 ? 0 : v->process_num);
                value = num;
                break;
        case SV_EXPAND_ENV:
                value = env_lookup(v->envp, name + 4, n - 4);
                if (!value)
                        return diag_set(d, 0, "'%%(%.*s)s': %.*s is not set in sockvisord's environment; set it where "
                                        "sockvisord starts (e.g. Environment= in its unit)",
                                        (int) n, name, (int) (n - 4), name + 4);
                break;
        }
        if (!value)
                value = "";
        if (conv == 'd' && vars[k].var != SV_EXPAND_PROCESS_NUM)
                return diag_set(d, 0, "'%%(%.*s)d': %.*s is text, not a number; write %%(%.*s)s", (int) n, name, (int) n,
                                name, (int) n, name);

        /* the width and flags as written: '-' pads on the right, '0' with zeros (numbers) */
        size_t w = width ? (size_t) atoi(c + flags) : 0, len = strlen(value);
        bool left = memchr(c, '-', flags) != NULL, zeros = !left && conv == 'd' && memchr(c, '0', flags) != NULL;
        int r = 0;
        for (size_t k2 = len; !left && r == 0 && k2 < w; k2++)
                r = put(o, zeros ? "0" : " ", 1);
        if (r == 0)
                r = put_value(o, value, rule->keep_refs != NULL);
        for (size_t k2 = len; left && r == 0 && k2 < w; k2++)
                r = put(o, " ", 1);
        *ret_used = (size_t) (c + flags + width + 1 - s);
        return r;
}

int sv_expand(const char *s, const SvExpandKey *rule, const SvExpandVars *v, char **ret, SvDiag *d) {
        Out o = {};
        int r = put(&o, "", 0);
        for (const char *p = s; r == 0 && *p;) {
                size_t n = strcspn(p, "%");
                r = put(&o, p, n);
                p += n;
                if (r < 0 || !*p)
                        break;
                if (p[1] == '%') { /* a literal %; kept doubled for a later pass */
                        r = rule->keep_refs ? put(&o, "%%", 2) : put(&o, "%", 1);
                        p += 2;
                } else if (p[1] == '(') {
                        size_t used = 0;
                        r = expand_ref(p, rule, v, &o, &used, d);
                        p += used;
                } else { /* any other % is itself, as it always was */
                        r = put(&o, "%", 1);
                        p++;
                }
        }
        if (r == -E2BIG)
                r = diag_set(d, 0, "the value would be longer than %d bytes once expanded", EXPANDED_MAX);
        if (r < 0) {
                free(o.buf);
                return r;
        }
        *ret = o.buf;
        return 0;
}

bool sv_expand_uses_process_num(const char *s) {
        return strstr(s, "%(process_num)") != NULL;
}
