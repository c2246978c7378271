/* The config parser: inih glue, per-key parsing and cross-section validation.
 *
 * inih's handler gets no line number and, in the Debian build, splits lines longer than
 * its buffer. So we feed it through our own reader, which counts physical lines, rejects
 * over-long ones instead of letting them be truncated, and sees section headers itself
 * (inih does not report a section that has no keys, nor a truncated long name). */
#include "sockvisor/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/cmdline.h"
#include "sockvisor/duration.h"

typedef enum SectionKind {
        SECTION_NONE, /* keys before any [section] */
        SECTION_DAEMON,
        SECTION_SOCKET,
        SECTION_PROGRAM,
} SectionKind;

/* Which keys a section has seen, to catch duplicates. One bit per key of the tables below. */
typedef uint32_t KeySet;

typedef struct Parser {
        const char *origin;
        const char *text;
        size_t pos, len;
        unsigned line; /* physical line most recently handed to inih */
        const char *raw;  /* that line as written (inih edits its copy in place) */
        size_t raw_len;
        bool failed;   /* diag is filled; stop everything */
        SvDiag *diag;
        SvConfig *cfg;
        SectionKind kind;
        size_t index; /* into cfg->sockets or cfg->programs */
        char section[SV_NAME_MAX + 16];
        KeySet seen;
        KeySet daemon_seen;
        /* per program: its sockets= text, resolved after every section is known */
        char **socket_lists;
        unsigned *socket_list_lines;
} Parser;

_printf_(3, 4) static int fail(Parser *p, unsigned line, const char *fmt, ...) {
        char what[sizeof(p->diag->msg)];
        va_list ap;

        if (p->failed)
                return -EINVAL; /* keep the first error */
        va_start(ap, fmt);
        (void) vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        p->failed = true;
        /* inih cuts a value at " ;" (an inline comment): say so, or the error is a riddle */
        const char *eq = line == p->line && p->raw ? memchr(p->raw, '=', p->raw_len) : NULL;
        if (eq && (memmem(eq, p->raw_len - (size_t) (eq - p->raw), " ;", 2) ||
                   memmem(eq, p->raw_len - (size_t) (eq - p->raw), "\t;", 2)))
                return diag_set(p->diag, line,
                                "%s:%u: %s (note: ' ;' starts a comment, so the value was cut there; write ';' "
                                "without the space before it)",
                                p->origin, line, what);
        if (line > 0)
                return diag_set(p->diag, line, "%s:%u: %s", p->origin, line, what);
        return diag_set(p->diag, 0, "%s: %s", p->origin, what);
}

static const char *const ready_mode_table[_SV_READY_MAX] = {
        [SV_READY_STARTED] = "started",
        [SV_READY_NOTIFY] = "notify",
};

const char *sv_ready_mode_to_string(SvReadyMode m) {
        return m >= 0 && m < _SV_READY_MAX ? ready_mode_table[m] : NULL;
}

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

static bool name_is_valid(const char *s, size_t len) {
        if (len == 0 || len > SV_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

/* ---- value parsers: each returns 0 or fails with what would be valid ---- */

static int parse_bool(const char *v, bool *ret) {
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

static int parse_mode(const char *v, mode_t *ret) {
        char *end;
        if (!*v || strspn(v, "01234567") != strlen(v))
                return -EINVAL;
        unsigned long m = strtoul(v, &end, 8);
        if (m > 07777)
                return -EINVAL;
        *ret = (mode_t) m;
        return 0;
}

static int parse_uint(const char *v, unsigned long min, unsigned long max, unsigned long *ret) {
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

/* environment = KEY=value,OTHER="quoted, value" (supervisord's syntax). */
static int parse_environment(Parser *p, const char *v, char ***ret) {
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
        return fail(p, p->line,
                    "%s environment: cannot parse '%s' near '%.20s'; expected KEY=value pairs separated "
                    "by commas, e.g. environment = PORT=8080,GREETING=\"hello, world\"",
                    p->section, v, s);
oom:
        sv_strv_free(env);
        p->failed = true;
        return -ENOMEM;
}

/* ---- sections ---- */

static const char *const daemon_keys[] = { "control", "control_mode" };
static const char *const socket_keys[] = { "listen", "backlog", "blocking", "mode" };
static const char *const program_keys[] = { "command", "sockets", "ready", "startsecs", "ready_timeout",
                                            "stopsignal", "stopwaitsecs", "directory", "environment" };

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

static int begin_section(Parser *p, const char *name, size_t len) {
        SvConfig *c = p->cfg;
        const char *colon = memchr(name, ':', len);

        p->seen = 0;
        (void) snprintf(p->section, sizeof(p->section), "[%.*s]", (int) (len > 60 ? 60 : len), name);

        if (len == strlen("sockvisord") && memcmp(name, "sockvisord", len) == 0) {
                if (p->daemon_seen & (1u << 31))
                        return fail(p, p->line, "[sockvisord] appears twice; merge the two sections");
                p->daemon_seen |= 1u << 31;
                p->kind = SECTION_DAEMON;
                return 0;
        }

        bool is_socket = colon && (size_t) (colon - name) == strlen("socket") && memcmp(name, "socket", 6) == 0;
        bool is_program = colon && (size_t) (colon - name) == strlen("program") && memcmp(name, "program", 7) == 0;
        if (!is_socket && !is_program)
                return fail(p, p->line,
                            "unknown section [%.*s]; valid sections are [sockvisord], [socket:NAME] and "
                            "[program:NAME]",
                            (int) len, name);

        const char *n = colon + 1;
        size_t nlen = len - (size_t) (n - name);
        if (!name_is_valid(n, nlen))
                return fail(p, p->line,
                            "invalid name '%.*s' in [%.*s]; a name is 1 to %d characters of letters, digits, "
                            "'_', '.' and '-'",
                            (int) nlen, n, (int) len, name, SV_NAME_MAX);

        if (is_socket) {
                for (size_t i = 0; i < c->n_sockets; i++)
                        if (strlen(c->sockets[i].name) == nlen && memcmp(c->sockets[i].name, n, nlen) == 0)
                                return fail(p, p->line, "[socket:%.*s] is defined twice (first on line %u)",
                                            (int) nlen, n, c->sockets[i].line);
                if (c->n_sockets >= SV_SOCKETS_MAX)
                        return fail(p, p->line, "too many [socket:…] sections; at most %d", SV_SOCKETS_MAX);
                SvSocketConf *s = realloc(c->sockets, (c->n_sockets + 1) * sizeof(*s));
                if (!s)
                        return p->failed = true, -ENOMEM;
                c->sockets = s;
                s = &c->sockets[c->n_sockets];
                *s = (SvSocketConf){ .backlog = 4096, .mode = 0666, .line = p->line };
                s->name = strndup(n, nlen);
                if (!s->name)
                        return p->failed = true, -ENOMEM;
                p->index = c->n_sockets++;
                p->kind = SECTION_SOCKET;
                return 0;
        }

        for (size_t i = 0; i < c->n_programs; i++)
                if (strlen(c->programs[i].name) == nlen && memcmp(c->programs[i].name, n, nlen) == 0)
                        return fail(p, p->line, "[program:%.*s] is defined twice (first on line %u)", (int) nlen,
                                    n, c->programs[i].line);
        if (c->n_programs >= SV_PROGRAMS_MAX)
                return fail(p, p->line, "too many [program:…] sections; at most %d", SV_PROGRAMS_MAX);
        SvProgramConf *pr = realloc(c->programs, (c->n_programs + 1) * sizeof(*pr));
        char **lists = realloc(p->socket_lists, (c->n_programs + 1) * sizeof(char *));
        if (lists)
                p->socket_lists = lists;
        unsigned *lines = realloc(p->socket_list_lines, (c->n_programs + 1) * sizeof(unsigned));
        if (lines)
                p->socket_list_lines = lines;
        if (pr)
                c->programs = pr;
        if (!pr || !lists || !lines)
                return p->failed = true, -ENOMEM;
        p->socket_lists[c->n_programs] = NULL;
        p->socket_list_lines[c->n_programs] = 0;
        pr = &c->programs[c->n_programs];
        *pr = (SvProgramConf){
                .ready = SV_READY_STARTED,
                .startsecs_usec = 1 * USEC_PER_SEC,
                .ready_timeout_usec = 30 * USEC_PER_SEC,
                .stopsignal = SIGTERM,
                .stopwait_usec = 10 * USEC_PER_SEC,
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

static int bad_duration(Parser *p, const char *key, const char *v) {
        return fail(p, p->line,
                    "%s %s: invalid duration '%s'; expected a whole number with an optional unit ms, s, m or h "
                    "(e.g. 500ms, 30s, 2m; a bare number is seconds, at most 24h)",
                    p->section, key, v);
}

static int handle_daemon_key(Parser *p, int k, const char *key, const char *v) {
        SvConfig *c = p->cfg;
        switch (k) {
        case 0: /* control */
                if (v[0] != '/')
                        return fail(p, p->line, "%s control: '%s' is not an absolute path; e.g. control = %s",
                                    p->section, v, SV_DEFAULT_CONTROL);
                if (strlen(v) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                        return fail(p, p->line, "%s control: path '%s' is longer than %zu bytes, the limit for unix sockets",
                                    p->section, v, sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1);
                return set_string(p, &c->control_path, v);
        case 1: /* control_mode */
                if (parse_mode(v, &c->control_mode) < 0)
                        return fail(p, p->line, "%s control_mode: '%s' is not an octal mode; e.g. 0600", p->section, v);
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
                        return fail(p, p->line, "%s listen: %s", p->section, d.msg);
                return set_string(p, &s->listen, v);
        case 1: /* backlog */
                if (parse_uint(v, 1, 65535, &n) < 0)
                        return fail(p, p->line, "%s backlog: '%s' is not a number from 1 to 65535", p->section, v);
                s->backlog = (int) n;
                return 0;
        case 2: /* blocking */
                if (parse_bool(v, &s->blocking) < 0)
                        return fail(p, p->line, "%s blocking: '%s' is not a boolean; use yes or no", p->section, v);
                return 0;
        case 3: /* mode */
                if (parse_mode(v, &s->mode) < 0)
                        return fail(p, p->line, "%s mode: '%s' is not an octal mode; e.g. 0660", p->section, v);
                return 0;
        }
        return 0;
}

static int handle_program_key(Parser *p, int k, const char *key, const char *v) {
        SvProgramConf *pr = &p->cfg->programs[p->index];
        SvDiag d = {};
        int r;

        switch (k) {
        case 0: /* command */
                r = sv_cmdline_split(v, &pr->argv, &d);
                if (r == -ENOMEM)
                        return p->failed = true, r;
                if (r < 0)
                        return fail(p, p->line, "%s command: %s", p->section, d.msg);
                return set_string(p, &pr->command, v);
        case 1: /* sockets: resolved once every [socket:…] is known */
                p->socket_list_lines[p->index] = p->line;
                return set_string(p, &p->socket_lists[p->index], v);
        case 2: /* ready */
                for (int m = 0; m < _SV_READY_MAX; m++)
                        if (strcmp(v, ready_mode_table[m]) == 0)
                                return pr->ready = (SvReadyMode) m, 0;
                return fail(p, p->line,
                            "%s ready: '%s' is not a readiness mode; use notify (the program sends READY=1) or "
                            "started (ready once alive for startsecs)",
                            p->section, v);
        case 3: /* startsecs */
                if (sv_duration_parse(v, &pr->startsecs_usec) < 0)
                        return bad_duration(p, key, v);
                return 0;
        case 4: /* ready_timeout */
                if (sv_duration_parse(v, &pr->ready_timeout_usec) < 0 || pr->ready_timeout_usec == 0)
                        return bad_duration(p, key, v);
                return 0;
        case 5: /* stopsignal */
                r = sv_signal_from_string(v);
                if (r < 0 || r == SIGKILL || r == SIGSTOP)
                        return fail(p, p->line,
                                    "%s stopsignal: '%s' is not a signal a worker can handle; use TERM, INT, QUIT, "
                                    "HUP, USR1 or USR2",
                                    p->section, v);
                pr->stopsignal = r;
                return 0;
        case 6: /* stopwaitsecs */
                if (sv_duration_parse(v, &pr->stopwait_usec) < 0)
                        return bad_duration(p, key, v);
                return 0;
        case 7: /* directory */
                if (v[0] != '/')
                        return fail(p, p->line, "%s directory: '%s' is not an absolute path", p->section, v);
                return set_string(p, &pr->directory, v);
        case 8: /* environment */
                pr->environment = sv_strv_free(pr->environment);
                return parse_environment(p, v, &pr->environment);
        }
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
                fail(p, p->line, "'%s' is outside any section; put it under [sockvisord], [socket:NAME] or [program:NAME]",
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
        default:
                return 0;
        }

        int k = key_index(keys, n_keys, key);
        if (k < 0) {
                char valid[512];
                join_keys(keys, n_keys, valid, sizeof(valid));
                fail(p, p->line, "%s: unknown key '%s'; valid keys here are: %s", p->section, key, valid);
                return 0;
        }
        if (p->seen & (1u << k)) {
                fail(p, p->line, "%s %s: set twice in one section; keep one", p->section, key);
                return 0;
        }
        p->seen |= 1u << k;
        if (p->kind == SECTION_DAEMON)
                p->daemon_seen |= 1u << k;

        int r;
        if (p->kind == SECTION_DAEMON)
                r = handle_daemon_key(p, k, key, value);
        else if (p->kind == SECTION_SOCKET)
                r = handle_socket_key(p, k, key, value);
        else
                r = handle_program_key(p, k, key, value);
        return r < 0 ? 0 : 1;
}

/* fgets-like reader for inih that counts lines and watches section headers. */
static char *ini_reader_cb(char *str, int num, void *stream) {
        Parser *p = stream;

        if (p->failed || p->pos >= p->len)
                return NULL;

        const char *start = p->text + p->pos;
        const char *nl = memchr(start, '\n', p->len - p->pos);
        size_t linelen = nl ? (size_t) (nl - start) + 1 : p->len - p->pos;
        p->line++;

        if (memchr(start, '\0', linelen)) {
                fail(p, p->line, "contains a NUL byte; the file must be text");
                return NULL;
        }
        /* inih needs room for the line and its NUL; one byte less and it would split it. */
        if (linelen + 1 > (size_t) num || linelen > SV_CONFIG_LINE_MAX) {
                size_t limit = (size_t) num - 1 < SV_CONFIG_LINE_MAX ? (size_t) num - 1 : SV_CONFIG_LINE_MAX;
                fail(p, p->line, "line is %zu bytes long; the limit is %zu (nothing was truncated: shorten it)",
                     linelen - (nl ? 1 : 0), limit - 1);
                return NULL;
        }
        p->raw = start;
        p->raw_len = linelen;
        memcpy(str, start, linelen);
        str[linelen] = '\0';
        p->pos += linelen;

        const char *s = str;
        if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
                s += 3; /* inih skips a UTF-8 BOM; so must we, or the first header goes unseen */
        while (*s == ' ' || *s == '\t')
                s++;
        if (*s == '[') {
                const char *end = strchr(s, ']');
                if (!end) {
                        fail(p, p->line, "section header '%.*s' has no closing ']'", (int) strcspn(s, "\r\n"), s);
                        return NULL;
                }
                if (begin_section(p, s + 1, (size_t) (end - s - 1)) < 0)
                        return NULL;
        }
        return str;
}

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
                        return fail(p, line, "%s sockets: no [socket:%.*s] is defined; %s%s", section, (int) n, s,
                                    c->n_sockets ? "defined sockets: " : "add a [socket:NAME] section with a listen= line",
                                    known);
                }
                for (size_t j = 0; j < pr->n_sockets; j++)
                        if (pr->socket_idx[j] == (size_t) idx)
                                return fail(p, line, "%s sockets: '%.*s' is listed twice", section, (int) n, s);
                if (pr->n_sockets >= SV_PROGRAM_SOCKETS_MAX)
                        return fail(p, line, "%s sockets: more than %d sockets", section, SV_PROGRAM_SOCKETS_MAX);
                pr->socket_idx[pr->n_sockets++] = (size_t) idx;
                s += n;
        }
        return 0;
}

static int validate(Parser *p) {
        SvConfig *c = p->cfg;

        for (size_t i = 0; i < c->n_sockets; i++)
                if (!c->sockets[i].listen)
                        return fail(p, c->sockets[i].line,
                                    "[socket:%s] has no listen= line; e.g. listen = tcp://127.0.0.1:8080",
                                    c->sockets[i].name);
        for (size_t i = 0; i < c->n_programs; i++) {
                SvProgramConf *pr = &c->programs[i];
                if (!pr->command)
                        return fail(p, pr->line, "[program:%s] has no command= line; e.g. command = /usr/bin/server",
                                    pr->name);
                if (!pr->environment) {
                        pr->environment = calloc(1, sizeof(char *));
                        if (!pr->environment)
                                return p->failed = true, -ENOMEM;
                }
                if (p->socket_lists[i]) {
                        int r = resolve_sockets(p, pr, p->socket_lists[i], p->socket_list_lines[i]);
                        if (r < 0)
                                return r;
                }
        }
        if (!c->control_path) {
                c->control_path = strdup(SV_DEFAULT_CONTROL);
                if (!c->control_path)
                        return p->failed = true, -ENOMEM;
        }
        return 0;
}

int sv_config_parse_string(const char *text, const char *origin, SvConfig **ret, SvDiag *d) {
        _cleanup_(sv_config_freep) SvConfig *c = calloc(1, sizeof(SvConfig));
        SvDiag local = {};
        Parser p = {
                .origin = origin ? origin : "<config>",
                .text = text,
                .len = strlen(text),
                .diag = d ? d : &local,
        };
        int r;

        if (!c)
                return -ENOMEM;
        c->control_mode = 0600;
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

        r = ini_parse_stream(ini_reader_cb, &p, ini_handler_cb, &p);
        if (!p.failed && r == -2)
                r = -ENOMEM;
        else if (!p.failed && r > 0)
                r = fail(&p, (unsigned) r,
                         "syntax error; expected '[section]', 'key = value' or a comment starting with ';' or '#'");
        else if (!p.failed)
                r = validate(&p);
        else
                r = -EINVAL;

        if (p.failed && r >= 0)
                r = -EINVAL;
        if (p.socket_lists)
                for (size_t i = 0; i < c->n_programs; i++)
                        free(p.socket_lists[i]);
        free(p.socket_lists);
        free(p.socket_list_lines);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int sv_config_parse_file(const char *path, SvConfig **ret, SvDiag *d) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = fopen(path, "re");

        if (!f) {
                int r = -errno;
                diag_set(d, 0, "%s: cannot open: %s", path, strerror(-r));
                return r;
        }
        /* Read the whole file so the reader can see lines of any length. */
        FILE *mem = open_memstream(&text, &size);
        if (!mem) {
                fclose(f);
                return -ENOMEM;
        }
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
                if (fwrite(buf, 1, n, mem) != n)
                        break;
        int rerr = ferror(f) ? -EIO : 0;
        fclose(f);
        if (fclose(mem) != 0)
                return -ENOMEM;
        if (rerr < 0) {
                diag_set(d, 0, "%s: read error", path);
                return rerr;
        }
        if (strlen(text) != size)
                return diag_set(d, 0, "%s: contains a NUL byte; the file must be text", path);
        return sv_config_parse_string(text, path, ret, d);
}

SvConfig *sv_config_free(SvConfig *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_sockets; i++) {
                free(c->sockets[i].name);
                free(c->sockets[i].listen);
        }
        free(c->sockets);
        for (size_t i = 0; i < c->n_programs; i++) {
                SvProgramConf *pr = &c->programs[i];
                free(pr->name);
                free(pr->command);
                sv_strv_free(pr->argv);
                free(pr->socket_idx);
                free(pr->directory);
                sv_strv_free(pr->environment);
        }
        free(c->programs);
        free(c->origin);
        free(c->control_path);
        free(c);
        return NULL;
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
