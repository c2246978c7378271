/* Jobs: which programs a waiting command still waits for, and its answer. */
#include "sockvisor/job.h"

#include <stdio.h>
#include <string.h>

#include "sockvisor/duration.h"
#include "sockvisor/macro.h"

static const char *const verbs[_SV_JOB_KIND_MAX] = {
        [SV_JOB_START] = "start",
        [SV_JOB_STOP] = "stop",
        [SV_JOB_RESTART] = "restart",
        [SV_JOB_RELOAD] = "reload",
};

const char *sv_job_verb(SvJobKind k) {
        return k < _SV_JOB_KIND_MAX ? verbs[k] : "?";
}

void sv_job_init(SvJob *j, SvJobKind kind, uint64_t conn, uint64_t now_usec) {
        *j = (SvJob){ .kind = kind, .conn = conn, .pending = 1, .t0_usec = now_usec };
}

void sv_job_join(SvJob *j) {
        j->pending++;
        j->parts++;
}

static void append_name(char *buf, size_t len, const char *name) {
        size_t o = strnlen(buf, len);
        if (o < len)
                (void) snprintf(buf + o, len - o, "%s%s", o ? ", " : "", name);
}

void sv_job_part_done(SvJob *j, const char *program, bool ok, const char *text, char *line, size_t len) {
        line[0] = '\0';
        if (!ok) {
                if (j->failed++ == 0)
                        (void) snprintf(j->first_error, sizeof(j->first_error), "%s: %s", program, text);
                append_name(j->failed_names, sizeof(j->failed_names), program);
                /* with several programs, each failure shows as it happens */
                if (j->parts > 1)
                        (void) snprintf(line, len, "%s: failed: %s", program, text);
        } else if (text && text[0])
                (void) snprintf(line, len, "%s: %s", program, text);
}

bool sv_job_release(SvJob *j) {
        if (j->pending > 0)
                j->pending--;
        return j->pending == 0;
}

bool sv_job_verdict(const SvJob *j, uint64_t now_usec, char *buf, size_t len) {
        char took[32];
        sv_duration_format(now_usec - j->t0_usec, took, sizeof(took));
        if (j->failed == 0) {
                if (j->done_text[0])
                        (void) snprintf(buf, len, "%s in %s", j->done_text, took);
                else
                        (void) snprintf(buf, len, "%s done in %s", sv_job_verb(j->kind), took);
                return true;
        }
        if (j->kind == SV_JOB_RELOAD)
                (void) snprintf(buf, len, "%s, but %u program%s did not come up (%s); first: %s",
                                j->done_text[0] ? j->done_text : "reloaded", j->failed, j->failed == 1 ? "" : "s",
                                j->failed_names, j->first_error);
        else if (j->failed == 1)
                (void) snprintf(buf, len, "%s", j->first_error);
        else
                (void) snprintf(buf, len, "%u programs failed (%s); first: %s", j->failed, j->failed_names,
                                j->first_error);
        return false;
}
