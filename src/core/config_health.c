/* healthcheck= and its companions. The value is read when its line is (kind, and the
 * command of exec:), and checked once sockets= is known, because %(port)s names one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "sockvisor/cmdline.h"

#define HTTP_PREFIX "http://"
#define EXEC_PREFIX "exec:"

const char *sv_health_kind_to_string(SvHealthKind k) {
        static const char *const names[_SV_HEALTH_MAX] = {
                [SV_HEALTH_NONE] = "none",
                [SV_HEALTH_HTTP] = "http",
                [SV_HEALTH_EXEC] = "exec",
        };
        return k >= 0 && k < _SV_HEALTH_MAX ? names[k] : NULL;
}

void config_health_free(SvHealthCheck *h) {
        free(h->text);
        free(h->target);
        free(h->host);
        free(h->path);
        sv_strv_free(h->argv);
        h->text = h->target = h->host = h->path = NULL;
        h->argv = NULL;
}

int config_health_set(Parser *p, SvProgramConf *pr, const char *v) {
        SvHealthCheck *h = &pr->health;
        SvDiag d = {};

        config_health_free(h);
        h->line = p->line;
        if (strncmp(v, HTTP_PREFIX, strlen(HTTP_PREFIX)) == 0)
                h->kind = SV_HEALTH_HTTP;
        else if (strncmp(v, EXEC_PREFIX, strlen(EXEC_PREFIX)) == 0) {
                h->kind = SV_HEALTH_EXEC;
                int r = sv_cmdline_split(v + strlen(EXEC_PREFIX), &h->argv, &d);
                if (r == -ENOMEM)
                        return p->failed = true, r;
                if (r < 0)
                        return config_fail(p, p->line, "%s healthcheck: %s", p->section, d.msg);
                if (!h->argv[0])
                        return config_fail(p, p->line,
                                           "%s healthcheck: exec: has no command; e.g. healthcheck = exec:/usr/bin/app-check "
                                           "--quick (healthy when it exits 0)",
                                           p->section);
        } else if (strncmp(v, "https://", 8) == 0)
                return config_fail(p, p->line,
                                   "%s healthcheck: https is not supported; probe the plain HTTP port (e.g. "
                                   "http://127.0.0.1:%%(port)s/healthz), or use exec:curl -fsS https://...",
                                   p->section);
        else
                return config_fail(p, p->line,
                                   "%s healthcheck: '%s' is not a probe; use http://HOST:PORT/PATH (healthy on a 2xx or 3xx "
                                   "status; %%(port)s is the port of the program's first socket) or exec:COMMAND (healthy "
                                   "when it exits 0)",
                                   p->section, v);
        h->text = strdup(v);
        if (!h->text)
                return p->failed = true, -ENOMEM;
        return 0;
}

/* The port %(port)s or %(port:NAME)s stands for: of the first tcp socket in sockets=, or of
 * the one named. */
static int port_of(Parser *p, const SvProgramConf *pr, const char *name, size_t n, unsigned *ret) {
        const SvConfig *c = p->cfg;
        for (size_t k = 0; k < pr->n_sockets; k++) {
                const SvSocketConf *sc = &c->sockets[pr->socket_idx[k]];
                if (name && (strlen(sc->name) != n || memcmp(sc->name, name, n) != 0))
                        continue;
                if (sc->addr.kind == SV_ADDR_TCP) {
                        *ret = sv_addr_port(&sc->addr);
                        return 0;
                }
                if (name)
                        return config_fail(p, pr->health.line,
                                           "[program:%s] healthcheck: %%(port:%.*s)s: [socket:%s] listens on %s, which has "
                                           "no port; name a tcp socket, or probe it with exec:COMMAND",
                                           pr->name, (int) n, name, sc->name, sc->listen);
        }
        if (name)
                return config_fail(p, pr->health.line,
                                   "[program:%s] healthcheck: %%(port:%.*s)s: '%.*s' is not in the program's sockets=",
                                   pr->name, (int) n, name, (int) n, name);
        return config_fail(p, pr->health.line,
                           "[program:%s] healthcheck: %%(port)s is the port of the program's first tcp socket, and it has "
                           "none in sockets=; write the port, or add a tcp socket to sockets=",
                           pr->name);
}

/* The URL with each %(port)s (the s may be left out) and %(port:NAME)s put in. */
static int expand_url(Parser *p, const SvProgramConf *pr, char *buf, size_t len) {
        const char *s = pr->health.text;
        size_t o = 0;
        while (*s) {
                if (o + 8 >= len)
                        return config_fail(p, pr->health.line, "[program:%s] healthcheck: the URL is too long (at most %zu "
                                           "bytes)", pr->name, len - 8);
                if (s[0] != '%') {
                        buf[o++] = *s++;
                        continue;
                }
                if (s[1] == '%') {
                        buf[o++] = '%';
                        s += 2;
                        continue;
                }
                if (strncmp(s, "%(port", 6) != 0 || (s[6] != ')' && s[6] != ':'))
                        return config_fail(p, pr->health.line,
                                           "[program:%s] healthcheck: '%.12s' is not a reference sockvisor knows; write "
                                           "%%(port)s for the port of the first socket, %%(port:NAME)s for socket NAME's, "
                                           "or %%%% for a literal %%",
                                           pr->name, s);
                const char *name = NULL, *end = strchr(s, ')');
                size_t n = 0;
                if (!end)
                        return config_fail(p, pr->health.line, "[program:%s] healthcheck: unterminated %%(port", pr->name);
                if (s[6] == ':') {
                        name = s + 7;
                        n = (size_t) (end - name);
                }
                unsigned port = 0;
                int r = port_of(p, pr, name, n, &port);
                if (r < 0)
                        return r;
                o += (size_t) snprintf(buf + o, len - o, "%u", port);
                s = end + 1;
                if (*s == 's') /* Python's %(name)s, as supervisord writes it */
                        s++;
        }
        buf[o] = '\0';
        return 0;
}

/* http://HOST[:PORT][/PATH]: HOST an IP literal (no resolver in the daemon) or localhost. */
static int parse_url(Parser *p, SvProgramConf *pr, const char *url) {
        SvHealthCheck *h = &pr->health;
        const char *rest = url + strlen(HTTP_PREFIX);
        size_t hostport = strcspn(rest, "/?#");
        const char *path = rest + hostport;
        char host[128], addr[160];
        SvDiag d = {};

        if (hostport == 0 || hostport >= sizeof(host))
                return config_fail(p, h->line, "[program:%s] healthcheck: '%s' has no host; e.g. "
                                   "http://127.0.0.1:%%(port)s/healthz", pr->name, url);
        memcpy(host, rest, hostport);
        host[hostport] = '\0';
        for (const char *c = path; *c; c++)
                if ((unsigned char) *c <= ' ' || *c == 0x7f)
                        return config_fail(p, h->line, "[program:%s] healthcheck: the path of '%s' holds a space or a "
                                           "control character; write it %%-encoded (%%20)", pr->name, url);
        /* the port: after the last ':' that is not inside [...] */
        char *colon = strrchr(host, ':');
        if (colon && strchr(host, ']') > colon)
                colon = NULL;
        bool local = strncmp(host, "localhost", 9) == 0 && (host[9] == '\0' || host[9] == ':');
        const char *name = local ? "127.0.0.1" : host;
        size_t namelen = local ? strlen(name) : colon ? (size_t) (colon - host) : strlen(host);
        (void) snprintf(addr, sizeof(addr), "tcp://%.*s:%s", (int) namelen, name, colon ? colon + 1 : "80");
        if (sv_addr_parse(addr, &h->addr, &d) < 0)
                return config_fail(p, h->line,
                                   "[program:%s] healthcheck: '%s': the host must be an IP address or localhost, with an "
                                   "optional port (%s); e.g. http://127.0.0.1:%%(port)s/healthz",
                                   pr->name, url, d.msg);
        h->host = strdup(host);
        h->path = strdup(path[0] == '/' ? path : "/");
        h->target = strdup(url);
        if (!h->host || !h->path || !h->target)
                return p->failed = true, -ENOMEM;
        return 0;
}

int config_health_check(Parser *p, SvProgramConf *pr, unsigned companion_line) {
        SvHealthCheck *h = &pr->health;

        if (h->kind == SV_HEALTH_NONE) {
                if (companion_line)
                        return config_fail(p, companion_line,
                                           "[program:%s] healthcheck_interval, healthcheck_timeout and healthcheck_failures "
                                           "tune healthcheck=, and the program has none; add healthcheck = "
                                           "http://127.0.0.1:%%(port)s/PATH or exec:COMMAND, or remove them",
                                           pr->name);
                return 0;
        }
        if (h->timeout_usec > h->interval_usec)
                return config_fail(p, companion_line ? companion_line : h->line,
                                   "[program:%s] healthcheck_timeout: %llu ms is longer than healthcheck_interval (%llu ms), "
                                   "so probes would overlap; make the timeout at most the interval",
                                   pr->name, (unsigned long long) (h->timeout_usec / 1000),
                                   (unsigned long long) (h->interval_usec / 1000));
        if (h->kind == SV_HEALTH_EXEC) {
                h->target = strdup(h->text + strlen(EXEC_PREFIX));
                return h->target ? 0 : (p->failed = true, -ENOMEM);
        }
        char url[1024];
        int r = expand_url(p, pr, url, sizeof(url));
        if (r < 0)
                return r;
        return parse_url(p, pr, url);
}
