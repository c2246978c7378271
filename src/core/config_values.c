/* The syntax of config values: booleans, numbers, octal modes, signals, exit codes, user
 * and group names, environment=. Each says only whether a value is valid; config.c says
 * what would be valid, next to the key. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "sockvisor/cmdline.h"

static const struct {
        const char *name;
        int sig;
} signal_table[] = {
        { "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
        { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM }, { "CONT", SIGCONT },
        { "STOP", SIGSTOP }, { "WINCH", SIGWINCH }, { "ABRT", SIGABRT }, { "ALRM", SIGALRM },
};

int sv_signal_from_string(const char *s) {
        if (!s || !*s)
                return -EINVAL;
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (size_t i = 0; i < ELEMENTSOF(signal_table); i++)
                if (strcasecmp(s, signal_table[i].name) == 0)
                        return signal_table[i].sig;
        char *end;
        errno = 0;
        long n = strtol(s, &end, 10);
        if (errno == 0 && *end == '\0' && end != s && n > 0 && n < NSIG)
                return (int) n;
        return -EINVAL;
}

const char *sv_signal_to_string(int sig) {
        for (size_t i = 0; i < ELEMENTSOF(signal_table); i++)
                if (signal_table[i].sig == sig)
                        return signal_table[i].name;
        return NULL;
}

const char *sv_signal_name(int sig, char *buf, size_t len) {
        const char *name = sv_signal_to_string(sig);
        if (!name)
                name = sigabbrev_np(sig);
        if (name)
                return name;
        (void) snprintf(buf, len, "%d", sig);
        return buf;
}

/* ---- value parsers: each returns 0 or fails with what would be valid ---- */

int config_parse_bool(const char *v, bool *ret) {
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0)
                        return *ret = true, 0;
                if (strcasecmp(v, no[i]) == 0)
                        return *ret = false, 0;
        }
        return -EINVAL;
}

int config_parse_mode(const char *v, mode_t *ret) {
        char *end;
        if (!*v || strspn(v, "01234567") != strlen(v))
                return -EINVAL;
        unsigned long m = strtoul(v, &end, 8);
        if (m > 07777)
                return -EINVAL;
        *ret = (mode_t) m;
        return 0;
}

int config_parse_uint(const char *v, unsigned long min, unsigned long max, unsigned long *ret) {
        char *end;
        if (!*v || !isdigit((unsigned char) *v))
                return -EINVAL;
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (errno || *end || n < min || n > max)
                return -EINVAL;
        *ret = n;
        return 0;
}

/* A decimal integer with an optional '-', no blanks, no '+'. */
int config_parse_int(const char *v, long min, long max, long *ret) {
        char *end;
        const char *digits = v[0] == '-' ? v + 1 : v;
        if (!isdigit((unsigned char) *digits))
                return -EINVAL;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || *end || n < min || n > max)
                return -EINVAL;
        *ret = n;
        return 0;
}

/* exitcodes = 0, 2 (supervisord's syntax): 1 to SV_EXITCODES_MAX codes of 0..255, each once. */
int config_parse_exitcodes(Parser *p, const char *v, SvProgramConf *pr) {
        int codes[SV_EXITCODES_MAX];
        size_t n = 0;
        const char *s = v;

        for (;;) {
                s += strspn(s, " \t");
                size_t len = strcspn(s, ",");
                while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
                        len--;
                char item[16];
                unsigned long code;
                if (len == 0 || len >= sizeof(item))
                        goto bad;
                memcpy(item, s, len);
                item[len] = '\0';
                if (config_parse_uint(item, 0, 255, &code) < 0)
                        goto bad;
                if (n >= SV_EXITCODES_MAX)
                        return config_fail(p, p->line, "%s exitcodes: '%s' lists more than %d exit codes", p->section, v,
                                           SV_EXITCODES_MAX);
                for (size_t i = 0; i < n; i++)
                        if (codes[i] == (int) code)
                                return config_fail(p, p->line, "%s exitcodes: '%s' lists %lu twice; list each code once",
                                                   p->section, v, code);
                codes[n++] = (int) code;
                s += strcspn(s, ",");
                if (*s == '\0')
                        break;
                s++; /* the comma: something must follow it */
        }
        memcpy(pr->exitcodes, codes, n * sizeof(codes[0]));
        pr->n_exitcodes = n;
        return 0;
bad:
        return config_fail(p, p->line,
                           "%s exitcodes: cannot parse '%s'; expected exit codes from 0 to 255 separated by commas, "
                           "e.g. exitcodes = 0, 2",
                           p->section, v);
}

/* user = / group = : a name or a numeric id. Resolved by the daemon when it starts a worker. */
bool config_id_is_valid(const char *v) {
        size_t len = strlen(v);
        if (len == 0 || len > 32)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char) v[i]) && !strchr("_.-", v[i]))
                        return false;
        if (strspn(v, "0123456789") == len) { /* a numeric id: (uid_t) -1 means "unchanged" */
                unsigned long long id;
                errno = 0;
                id = strtoull(v, NULL, 10);
                if (errno || id >= UINT32_MAX)
                        return false;
        }
        return true;
}

/* environment = KEY=value,OTHER="quoted, value" (supervisord's syntax). */
int config_parse_environment(Parser *p, const char *v, char ***ret) {
        char **env = NULL;
        size_t n = 0;
        const char *s = v;

        while (*s) {
                while (*s == ' ' || *s == '\t')
                        s++;
                const char *key = s;
                if (!(isalpha((unsigned char) *s) || *s == '_'))
                        goto bad;
                while (isalnum((unsigned char) *s) || *s == '_')
                        s++;
                size_t keylen = (size_t) (s - key);
                if (*s != '=')
                        goto bad;
                s++;
                char *val = malloc(strlen(s) + 1);
                if (!val)
                        goto oom;
                size_t vl = 0;
                if (*s == '"' || *s == '\'') {
                        char q = *s++;
                        while (*s && *s != q)
                                val[vl++] = *s++;
                        if (*s != q) {
                                free(val);
                                goto bad;
                        }
                        s++;
                } else {
                        while (*s && *s != ',')
                                val[vl++] = *s++;
                        while (vl > 0 && (val[vl - 1] == ' ' || val[vl - 1] == '\t'))
                                vl--;
                }
                val[vl] = '\0';
                while (*s == ' ' || *s == '\t')
                        s++;
                if (*s == ',')
                        s++;
                else if (*s) {
                        free(val);
                        goto bad;
                }

                char **nenv = realloc(env, (n + 2) * sizeof(char *));
                if (!nenv) {
                        free(val);
                        goto oom;
                }
                env = nenv;
                if (asprintf(&env[n], "%.*s=%s", (int) keylen, key, val) < 0) {
                        free(val);
                        env[n] = NULL;
                        goto oom;
                }
                free(val);
                env[++n] = NULL;
        }
        if (!env) {
                env = calloc(1, sizeof(char *));
                if (!env)
                        goto oom;
        }
        *ret = env;
        return 0;
bad:
        sv_strv_free(env);
        return config_fail(p, p->line,
                           "%s environment: cannot parse '%s' near '%.20s'; expected KEY=value pairs separated "
                           "by commas, e.g. environment = PORT=8080,GREETING=\"hello, world\"",
                           p->section, v, s);
oom:
        sv_strv_free(env);
        p->failed = true;
        return -ENOMEM;
}


static bool name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.' || c == '$';
}

int config_parse_names(Parser *p, const char *key, const char *v, char ***ret) {
        char **list = calloc(1, sizeof(char *));
        size_t n = 0;
        if (!list)
                goto oom;
        for (const char *s = v; *s;) {
                while (*s == ' ' || *s == '\t' || *s == ',')
                        s++;
                const char *start = s;
                while (name_char(*s))
                        s++;
                size_t len = (size_t) (s - start);
                while (*s == ' ' || *s == '\t')
                        s++;
                if (*s && *s != ',') {
                        sv_strv_free(list);
                        if (strcmp(key, "programs") == 0)
                                return config_fail(p, p->line, "%s %s: '%s' is not a list of program names; e.g. "
                                                   "programs = web, api (separated by commas)",
                                                   p->section, key, v);
                        return config_fail(p, p->line, "%s %s: '%s' is not a list of user or group names; e.g. %s = "
                                           "www-data, alice (names or numbers, separated by commas)",
                                           p->section, key, v, key);
                }
                if (len == 0)
                        continue;
                char **nl = realloc(list, (n + 2) * sizeof(char *));
                if (!nl)
                        goto oom;
                list = nl;
                if (!(list[n] = strndup(start, len)))
                        goto oom;
                list[++n] = NULL;
        }
        sv_strv_free(*ret);
        *ret = list;
        return 0;
oom:
        sv_strv_free(list);
        p->failed = true;
        return -ENOMEM;
}
