/* The Prometheus text exposition, the /healthz verdict and the endpoint's HTTP, as pure
 * functions of plain structs (include/sockvisor/metrics.h). */
#include "sockvisor/metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the buffer ---- */

void sv_metrics_out_done(SvMetricsOut *o) {
        free(o->buf);
        *o = (SvMetricsOut){};
}

static bool reserve(SvMetricsOut *o, size_t more) {
        if (o->oom)
                return false;
        if (o->len + more + 1 <= o->cap)
                return true;
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + more + 1)
                cap *= 2;
        char *b = realloc(o->buf, cap);
        if (!b)
                return o->oom = true, false;
        o->buf = b;
        o->cap = cap;
        return true;
}

void sv_metrics_append(SvMetricsOut *o, const char *s, size_t len) {
        if (!reserve(o, len))
                return;
        memcpy(o->buf + o->len, s, len);
        o->len += len;
        o->buf[o->len] = '\0';
}

void sv_metrics_printf(SvMetricsOut *o, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0 || !reserve(o, (size_t) n))
                return;
        va_start(ap, fmt);
        (void) vsnprintf(o->buf + o->len, (size_t) n + 1, fmt, ap);
        va_end(ap);
        o->len += (size_t) n;
}

/* ---- the exposition ---- */

static void escape(SvMetricsOut *o, const char *s, bool quote) {
        for (; s && *s; s++) {
                if (*s == '\\')
                        sv_metrics_append(o, "\\\\", 2);
                else if (*s == '\n')
                        sv_metrics_append(o, "\\n", 2);
                else if (*s == '"' && quote)
                        sv_metrics_append(o, "\\\"", 2);
                else
                        sv_metrics_append(o, s, 1);
        }
}

void sv_metrics_escape_label(SvMetricsOut *o, const char *value) {
        escape(o, value, true);
}

void sv_metrics_family(SvMetricsOut *o, const char *name, const char *type, const char *help) {
        sv_metrics_printf(o, "# HELP %s ", name);
        escape(o, help, false);
        sv_metrics_printf(o, "\n# TYPE %s %s\n", name, type);
}

/* NAME{labels[,extra="x"]} */
static void series(SvMetricsOut *o, const char *name, const char *suffix, const SvMetricsLabel *labels, size_t n,
                   const char *extra_name, const char *extra_value) {
        sv_metrics_printf(o, "%s%s", name, suffix);
        if (n == 0 && !extra_name)
                return;
        sv_metrics_append(o, "{", 1);
        for (size_t k = 0; k < n; k++) {
                sv_metrics_printf(o, "%s%s=\"", k ? "," : "", labels[k].name);
                escape(o, labels[k].value, true);
                sv_metrics_append(o, "\"", 1);
        }
        if (extra_name) {
                sv_metrics_printf(o, "%s%s=\"", n ? "," : "", extra_name);
                escape(o, extra_value, true);
                sv_metrics_append(o, "\"", 1);
        }
        sv_metrics_append(o, "}", 1);
}

/* 1500000 -> "1.5", 100000 -> "0.1", 3000000 -> "3" */
static void format_usec(char *buf, size_t len, uint64_t usec) {
        int n = snprintf(buf, len, "%" PRIu64 ".%06" PRIu64, usec / 1000000, usec % 1000000);
        if (n <= 0 || (size_t) n >= len)
                return;
        char *end = buf + n - 1;
        while (*end == '0')
                *end-- = '\0';
        if (*end == '.')
                *end = '\0';
}

void sv_metrics_sample_u64(SvMetricsOut *o, const char *name, const SvMetricsLabel *labels, size_t n, uint64_t value) {
        series(o, name, "", labels, n, NULL, NULL);
        sv_metrics_printf(o, " %" PRIu64 "\n", value);
}

void sv_metrics_sample_usec(SvMetricsOut *o, const char *name, const SvMetricsLabel *labels, size_t n, uint64_t usec) {
        char v[48];
        format_usec(v, sizeof(v), usec);
        series(o, name, "", labels, n, NULL, NULL);
        sv_metrics_printf(o, " %s\n", v);
}

void sv_metrics_histogram(SvMetricsOut *o, const char *name, const SvMetricsLabel *labels, size_t n,
                          const uint64_t *bounds_usec, size_t n_bounds, const uint64_t *counts, uint64_t sum_usec) {
        uint64_t cum = 0;
        char le[48];
        for (size_t b = 0; b < n_bounds; b++) {
                cum += counts[b];
                format_usec(le, sizeof(le), bounds_usec[b]);
                series(o, name, "_bucket", labels, n, "le", le);
                sv_metrics_printf(o, " %" PRIu64 "\n", cum);
        }
        cum += counts[n_bounds];
        series(o, name, "_bucket", labels, n, "le", "+Inf");
        sv_metrics_printf(o, " %" PRIu64 "\n", cum);
        format_usec(le, sizeof(le), sum_usec);
        series(o, name, "_sum", labels, n, NULL, NULL);
        sv_metrics_printf(o, " %s\n", le);
        series(o, name, "_count", labels, n, NULL, NULL);
        sv_metrics_printf(o, " %" PRIu64 "\n", cum);
}

typedef enum Counter { C_RESTARTS, C_FAILED, C_ROLLBACKS, C_UNHEALTHY, C_ROLLOUTS, _C_MAX } Counter;

static uint64_t counter(const SvProgramStats *st, Counter c) {
        switch (c) {
        case C_RESTARTS:
                return st->restarts;
        case C_FAILED:
                return st->failed_starts;
        case C_ROLLBACKS:
                return st->rollbacks;
        case C_UNHEALTHY:
                return st->unhealthy;
        default:
                return st->rollouts;
        }
}

void sv_metrics_render(const SvMetricsSnapshot *s, SvMetricsOut *o) {
        static const struct {
                const char *name, *help;
        } counters[_C_MAX] = {
                [C_RESTARTS] = { "sockvisor_restarts_total",
                                 "Instances started again: after an exit, by a restart or reload, or to replace an "
                                 "unhealthy one." },
                [C_FAILED] = { "sockvisor_failed_starts_total",
                               "Starts that ended before the instance was ready (or soon after)." },
                [C_ROLLBACKS] = { "sockvisor_rollbacks_total",
                                  "Restarts and reloads whose new generation failed; the old one kept serving." },
                [C_UNHEALTHY] = { "sockvisor_unhealthy_total",
                                  "Instances found unhealthy (watchdog= or healthcheck=)." },
                [C_ROLLOUTS] = { "sockvisor_rollouts_total", "Restarts and reloads rolled out to the end." },
        };

        sv_metrics_family(o, "sockvisor_build_info", "gauge", "The running sockvisord; always 1.");
        sv_metrics_sample_u64(o, "sockvisor_build_info", &(SvMetricsLabel){ "version", s->version }, 1, 1);

        sv_metrics_family(o, "sockvisor_program_state", "gauge",
                          "1 for the state each current instance is in, 0 for the others (a state set).");
        for (size_t i = 0; i < s->n_instances; i++) {
                const SvMetricsInstance *in = &s->instances[i];
                if (in->role != SV_ROLE_CURRENT)
                        continue;
                for (SmState st = 0; st < _SM_STATE_MAX; st++) {
                        SvMetricsLabel l[] = { { "program", in->program },
                                               { "instance", in->instance },
                                               { "state", sm_state_to_string(st) } };
                        sv_metrics_sample_u64(o, "sockvisor_program_state", l, ELEMENTSOF(l), in->state == st);
                }
        }

        for (Counter c = 0; c < _C_MAX; c++) {
                sv_metrics_family(o, counters[c].name, "counter", counters[c].help);
                for (size_t p = 0; p < s->n_programs; p++)
                        sv_metrics_sample_u64(o, counters[c].name, &(SvMetricsLabel){ "program", s->programs[p].name }, 1,
                                              counter(&s->programs[p].stats, c));
        }

        sv_metrics_family(o, "sockvisor_restart_duration_seconds", "histogram",
                          "How long restarts and reloads took to roll out, from the request to the last old instance "
                          "gone.");
        for (size_t p = 0; p < s->n_programs; p++) {
                const SvProgramStats *st = &s->programs[p].stats;
                sv_metrics_histogram(o, "sockvisor_restart_duration_seconds",
                                     &(SvMetricsLabel){ "program", s->programs[p].name }, 1, sv_rollout_bucket_usec,
                                     SV_ROLLOUT_BUCKETS - 1, st->rollout_buckets, st->rollout_usec_sum);
        }

        sv_metrics_family(o, "sockvisor_socket_queued_connections", "gauge",
                          "Connections waiting in the accept queue of a held listening socket (sock_diag).");
        for (size_t k = 0; k < s->n_sockets; k++)
                if (s->sockets[k].have_queue)
                        sv_metrics_sample_u64(o, "sockvisor_socket_queued_connections",
                                              &(SvMetricsLabel){ "socket", s->sockets[k].name }, 1,
                                              s->sockets[k].queued);
        sv_metrics_family(o, "sockvisor_socket_backlog", "gauge",
                          "The accept queue's limit of a held listening socket (listen() backlog).");
        for (size_t k = 0; k < s->n_sockets; k++)
                if (s->sockets[k].have_queue)
                        sv_metrics_sample_u64(o, "sockvisor_socket_backlog",
                                              &(SvMetricsLabel){ "socket", s->sockets[k].name }, 1,
                                              s->sockets[k].backlog);

        sv_metrics_family(o, "sockvisor_instance_cpu_seconds_total", "counter",
                          "CPU time (user and system) of an instance's process tree.");
        for (size_t i = 0; i < s->n_instances; i++) {
                const SvMetricsInstance *in = &s->instances[i];
                char gen[16];
                (void) snprintf(gen, sizeof(gen), "%u", in->generation);
                SvMetricsLabel l[] = { { "program", in->program }, { "instance", in->instance }, { "generation", gen } };
                if (in->pid > 0 && in->have_usage)
                        sv_metrics_sample_usec(o, "sockvisor_instance_cpu_seconds_total", l, ELEMENTSOF(l),
                                               in->cpu_usec);
        }
        sv_metrics_family(o, "sockvisor_instance_resident_bytes", "gauge",
                          "Resident memory of an instance's process tree, summed over its processes.");
        for (size_t i = 0; i < s->n_instances; i++) {
                const SvMetricsInstance *in = &s->instances[i];
                char gen[16];
                (void) snprintf(gen, sizeof(gen), "%u", in->generation);
                SvMetricsLabel l[] = { { "program", in->program }, { "instance", in->instance }, { "generation", gen } };
                if (in->pid > 0 && in->have_usage)
                        sv_metrics_sample_u64(o, "sockvisor_instance_resident_bytes", l, ELEMENTSOF(l), in->rss_bytes);
        }

        sv_metrics_family(o, "sockvisor_daemon_open_fds", "gauge", "File descriptors sockvisord has open.");
        if (s->daemon_open_fds >= 0)
                sv_metrics_sample_u64(o, "sockvisor_daemon_open_fds", NULL, 0, (uint64_t) s->daemon_open_fds);
        sv_metrics_family(o, "sockvisor_daemon_resident_bytes", "gauge", "Resident memory of sockvisord itself.");
        if (s->daemon_rss_bytes >= 0)
                sv_metrics_sample_u64(o, "sockvisor_daemon_resident_bytes", NULL, 0, (uint64_t) s->daemon_rss_bytes);
        sv_metrics_family(o, "sockvisor_daemon_cpu_seconds_total", "counter", "CPU time of sockvisord itself.");
        if (s->daemon_cpu_usec >= 0)
                sv_metrics_sample_usec(o, "sockvisor_daemon_cpu_seconds_total", NULL, 0, (uint64_t) s->daemon_cpu_usec);
}

/* ---- /healthz ---- */

bool sv_metrics_health(const SvHealthEntry *e, size_t n, char *reason, size_t len) {
        size_t bad = 0, first = 0;
        for (size_t k = 0; k < n; k++)
                if (e[k].state != SM_RUNNING && bad++ == 0)
                        first = k;
        if (bad == 0) {
                (void) snprintf(reason, len, "ok");
                return true;
        }
        char more[48] = "";
        if (bad > 1)
                (void) snprintf(more, sizeof(more), " (and %zu more)", bad - 1);
        const SvHealthEntry *f = &e[first];
        (void) snprintf(reason, len, "%s %s%s%s%s", f->instance, sm_state_to_string(f->state),
                        f->why && f->why[0] ? ": " : "", f->why ? f->why : "", more);
        return false;
}

/* ---- HTTP ---- */

const char *sv_http_reason(int status) {
        switch (status) {
        case 200:
                return "OK";
        case 400:
                return "Bad Request";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 408:
                return "Request Timeout";
        case 431:
                return "Request Header Fields Too Large";
        case 500:
                return "Internal Server Error";
        case 503:
                return "Service Unavailable";
        default:
                return "Unknown";
        }
}

/* Where the head ends (just past the empty line), or 0. Bare LF line ends are taken too. */
static size_t head_end(const char *buf, size_t len) {
        for (size_t i = 0; i + 1 < len; i++) {
                if (buf[i] != '\n')
                        continue;
                if (buf[i + 1] == '\n')
                        return i + 2;
                if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
                        return i + 3;
        }
        return 0;
}

int sv_http_route(const char *buf, size_t len, SvHttpRoute *ret_route, bool *ret_head) {
        size_t end = head_end(buf, len < SV_HTTP_HEAD_MAX ? len : SV_HTTP_HEAD_MAX);
        if (end == 0) {
                if (len < SV_HTTP_HEAD_MAX)
                        return 0;
                *ret_route = SV_ROUTE_TOO_LARGE;
                *ret_head = false;
                return 1;
        }
        /* the request line: METHOD SP TARGET SP HTTP/1.x */
        const char *nl = memchr(buf, '\n', end);
        size_t line = (size_t) (nl - buf);
        if (line > 0 && buf[line - 1] == '\r')
                line--;
        const char *sp1 = memchr(buf, ' ', line);
        const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', line - (size_t) (sp1 + 1 - buf)) : NULL;
        *ret_head = false;
        if (!sp1 || !sp2 || sp1 == buf || sp2 == sp1 + 1 || (size_t) (buf + line - (sp2 + 1)) != 8 ||
            memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1')) {
                *ret_route = SV_ROUTE_BAD_REQUEST;
                return 1;
        }
        size_t mlen = (size_t) (sp1 - buf);
        const char *target = sp1 + 1;
        size_t tlen = (size_t) (sp2 - target);
        const char *q = memchr(target, '?', tlen);
        if (q)
                tlen = (size_t) (q - target);
        bool get = mlen == 3 && memcmp(buf, "GET", 3) == 0;
        bool head = mlen == 4 && memcmp(buf, "HEAD", 4) == 0;
        SvHttpRoute r;
        if (tlen == 8 && memcmp(target, "/metrics", 8) == 0)
                r = SV_ROUTE_METRICS;
        else if (tlen == 8 && memcmp(target, "/healthz", 8) == 0)
                r = SV_ROUTE_HEALTHZ;
        else
                r = SV_ROUTE_NOT_FOUND;
        if (r != SV_ROUTE_NOT_FOUND && !get && !head)
                r = SV_ROUTE_METHOD_NOT_ALLOWED;
        *ret_route = r;
        *ret_head = head;
        return 1;
}

void sv_http_response(SvMetricsOut *o, int status, const char *content_type, const char *body, size_t body_len,
                      bool head) {
        sv_metrics_printf(o,
                          "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n"
                          "Cache-Control: no-store\r\n%s\r\n",
                          status, sv_http_reason(status), content_type, body_len,
                          status == 405 ? "Allow: GET, HEAD\r\n" : "");
        if (!head)
                sv_metrics_append(o, body, body_len);
}
