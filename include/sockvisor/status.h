/* What status, sockets and the service manager's STATUS= show. Pure formatting of a
 * snapshot the supervisor takes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sockvisor/sm.h"

typedef struct SvStatusRow {
        const char *name; /* "app", "app:1", "app:1 (new)", "app (removed)" */
        SmState state;
        pid_t pid;            /* 0: none */
        unsigned generation;  /* 0: never started */
        uint64_t uptime_usec; /* with a pid */
        unsigned procs;       /* processes in its group, with a pid */
        uint64_t cpu_usec;    /* their CPU time, with a pid */
        uint64_t rss_bytes;   /* their resident memory, with a pid */
        const char *sockets;  /* "web=tcp://..." or "-" */
        const char *extra;    /* why it is where it is, or its STATUS= line */
} SvStatusRow;

/* The width of the first column for names of up to longest bytes. */
int sv_status_name_width(size_t longest);
void sv_status_header(char *buf, size_t len, int width);
void sv_status_row(char *buf, size_t len, int width, const SvStatusRow *r);
/* "512K", "12.3M", "1.5G": resident memory as ps and top show it (1024-based). */
char *sv_status_bytes(uint64_t bytes, char *buf, size_t len);

/* The STATUS column for one instance: "retry in 2s after status 1", "gave up: status 1",
 * or its own STATUS= line. */
void sv_status_extra(char *buf, size_t len, SmState state, uint64_t retry_in_usec, const char *exit_text,
                     const char *error, const char *worker_status);

typedef struct SvStatusCounts {
        unsigned running, total, failing, sockets;
        const char *rolling_program; /* NULL, or a program with a rollout under way */
        unsigned rolling_gen;
        bool rolling_health;         /* that rollout replaces an unhealthy instance */
        bool stopping; /* shutting down */
} SvStatusCounts;

/* The STATUS= line: "restarting app (generation 3); 2 of 3 instances running, 2 sockets held". */
void sv_status_summary(char *buf, size_t len, const SvStatusCounts *c);
