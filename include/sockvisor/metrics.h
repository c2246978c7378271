/* The metrics endpoint's pure half: the Prometheus text exposition (format 0.0.4) written
 * from plain structs, the /healthz verdict, and the little HTTP/1.x it needs (read a request
 * head, pick a route, write a response). No I/O: src/daemon/metrics.c gathers the figures
 * and serves the bytes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sockvisor/macro.h"
#include "sockvisor/sm.h"
#include "sockvisor/supervisor.h"

/* A growing text buffer. Out of memory sticks (oom) and later writes do nothing. */
typedef struct SvMetricsOut {
        char *buf;
        size_t len, cap;
        bool oom;
} SvMetricsOut;

void sv_metrics_out_done(SvMetricsOut *o);
void sv_metrics_printf(SvMetricsOut *o, const char *fmt, ...) _printf_(2, 3);
void sv_metrics_append(SvMetricsOut *o, const char *s, size_t len);

/* A label value as the exposition format wants it: backslash, double quote and newline
 * escaped (\\ \" \n); everything else, UTF-8 included, as it is. */
void sv_metrics_escape_label(SvMetricsOut *o, const char *value);

typedef struct SvMetricsLabel {
        const char *name, *value;
} SvMetricsLabel;

/* "# HELP NAME HELP\n# TYPE NAME TYPE\n"; help has backslash and newline escaped. */
void sv_metrics_family(SvMetricsOut *o, const char *name, const char *type, const char *help);
/* "NAME{a="x",b="y"} VALUE\n" (no braces without labels). */
void sv_metrics_sample_u64(SvMetricsOut *o, const char *name, const SvMetricsLabel *labels, size_t n, uint64_t value);
/* A value in microseconds written as exact decimal seconds: 1500000 -> "1.5". */
void sv_metrics_sample_usec(SvMetricsOut *o, const char *name, const SvMetricsLabel *labels, size_t n, uint64_t usec);
/* One histogram's series: NAME_bucket{...,le="B"} cumulative for each bound (microseconds,
 * ascending), then le="+Inf" (every observation), NAME_sum (seconds) and NAME_count (the
 * same as +Inf). counts has n_bounds + 1 entries, per bucket, not cumulative: the last one
 * is above every bound. */
void sv_metrics_histogram(SvMetricsOut *o, const char *name, const SvMetricsLabel *labels, size_t n,
                          const uint64_t *bounds_usec, size_t n_bounds, const uint64_t *counts, uint64_t sum_usec);

/* ---- the whole page, from a snapshot ---- */

typedef struct SvMetricsInstance {
        const char *program;
        const char *instance; /* "app", "app:1" */
        unsigned generation;
        SvInstanceRole role;
        SmState state;
        pid_t pid;            /* 0: no process */
        bool have_usage;      /* cpu and rss were read (its process tree) */
        uint64_t cpu_usec;    /* user + system, summed over its process tree */
        uint64_t rss_bytes;
} SvMetricsInstance;

typedef struct SvMetricsProgram {
        const char *name;
        SvProgramStats stats;
} SvMetricsProgram;

typedef struct SvMetricsSocket {
        const char *name;
        bool have_queue;  /* the kernel answered (sock_diag); else no sample */
        uint32_t queued;  /* connections in its accept queue (datagram sockets: none) */
        uint32_t backlog; /* the queue's limit */
} SvMetricsSocket;

typedef struct SvMetricsSnapshot {
        const char *version;
        const SvMetricsProgram *programs;
        size_t n_programs;
        const SvMetricsInstance *instances; /* every instance of every program */
        size_t n_instances;
        const SvMetricsSocket *sockets;
        size_t n_sockets;
        int64_t daemon_open_fds;     /* -1: unknown */
        int64_t daemon_rss_bytes;    /* -1: unknown */
        int64_t daemon_cpu_usec;     /* -1: unknown */
} SvMetricsSnapshot;

/* Writes the exposition of s: every family with HELP and TYPE, even when it has no sample.
 * sockvisor_program_state is a state set over the current instances (one per index; a
 * candidate or draining one of the same name would repeat its series); CPU and RSS are per
 * process, with a generation label, for every instance that has one. */
void sv_metrics_render(const SvMetricsSnapshot *s, SvMetricsOut *o);

/* ---- /healthz ---- */

typedef struct SvHealthEntry {
        const char *instance; /* "app", "app:1" */
        SmState state;        /* of the current instance at that index (STOPPED when none) */
        const char *why;      /* what was last said about it ("exited with status 3"), or NULL */
} SvHealthEntry;

/* true when every entry (the indexes of every autostart program) is RUNNING. Otherwise
 * reason gets one line naming the first that is not: "app:1 FATAL: exited with status 3",
 * with " (and 2 more)" when others are not either. */
bool sv_metrics_health(const SvHealthEntry *e, size_t n, char *reason, size_t len);

/* ---- HTTP/1.x ---- */

#define SV_HTTP_HEAD_MAX 8192 /* a longer request head gets 431 */

typedef enum SvHttpRoute {
        SV_ROUTE_METRICS,
        SV_ROUTE_HEALTHZ,
        SV_ROUTE_NOT_FOUND,          /* 404 */
        SV_ROUTE_METHOD_NOT_ALLOWED, /* 405: a known path, another method than GET or HEAD */
        SV_ROUTE_BAD_REQUEST,        /* 400: not an HTTP/1.x request line */
        SV_ROUTE_TOO_LARGE,          /* 431: no end of the head within SV_HTTP_HEAD_MAX */
} SvHttpRoute;

/* Looks at what a client sent so far. Returns 0 while the head is incomplete (no empty line
 * yet, and len below SV_HTTP_HEAD_MAX), else 1 with *ret_route and *ret_head (the method is
 * HEAD: no body). */
int sv_http_route(const char *buf, size_t len, SvHttpRoute *ret_route, bool *ret_head);

/* A whole response with Content-Length and "Connection: close"; the body is left out when
 * head. */
void sv_http_response(SvMetricsOut *o, int status, const char *content_type, const char *body, size_t body_len,
                      bool head);
const char *sv_http_reason(int status);
