/* A job: one control command that waits for one or more programs, and the words of its
 * answer. Pure accounting; the supervisor decides when each program's part ends. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum SvJobKind {
        SV_JOB_START,
        SV_JOB_STOP,
        SV_JOB_RESTART,
        SV_JOB_RELOAD,
        _SV_JOB_KIND_MAX,
} SvJobKind;

typedef struct SvJob {
        SvJobKind kind;
        uint64_t conn;    /* the client; 0 when none (or it hung up) */
        unsigned pending; /* parts not ended, plus one while the command sets them up */
        unsigned parts, failed;
        uint64_t t0_usec;
        char done_text[256];   /* the OK text, when not "<verb> done in <time>" */
        char first_error[512]; /* "app: generation 3 exited with status 1 before it was ready" */
        char failed_names[256]; /* "app, web" */
} SvJob;

const char *sv_job_verb(SvJobKind k);

void sv_job_init(SvJob *j, SvJobKind kind, uint64_t conn, uint64_t now_usec);
/* One more program takes part. */
void sv_job_join(SvJob *j);
/* A program's part ended (its share is released separately, with sv_job_release). Writes
 * into line what the client should see now (empty when nothing: the final answer says it). */
void sv_job_part_done(SvJob *j, const char *program, bool ok, const char *text, char *line, size_t len);
/* Drops one share; true when it was the last: the job is to be answered now. */
bool sv_job_release(SvJob *j);
/* The final answer: returns true for OK. */
bool sv_job_verdict(const SvJob *j, uint64_t now_usec, char *buf, size_t len);
