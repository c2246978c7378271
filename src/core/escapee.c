/* Which holders of a stopped generation's sockets are escapees (sockvisor/escapee.h). */
#include "sockvisor/escapee.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool has_pid(const pid_t *v, size_t n, pid_t pid) {
        for (size_t k = 0; k < n; k++)
                if (v[k] == pid)
                        return true;
        return false;
}

static pid_t parent_of(const SvEscapeeFacts *f, pid_t pid) {
        for (size_t k = 0; k < f->n_tree; k++)
                if (f->tree[k].pid == pid)
                        return f->tree[k].ppid;
        return 0; /* not known */
}

static bool is_escapee(const SvEscapeeFacts *f, pid_t pid) {
        if (pid <= 0 || pid == f->self || has_pid(f->live, f->n_live, pid))
                return false;
        pid_t up = parent_of(f, pid);
        for (unsigned depth = 0; up > 0 && depth < SV_ESCAPEE_DEPTH_MAX; depth++) {
                if (has_pid(f->live, f->n_live, up))
                        return false; /* a live worker's: it goes when its worker does */
                if (up == f->self)
                        return true;
                up = parent_of(f, up);
        }
        return false; /* init's, another subreaper's, or not known up to us */
}

size_t sv_escapees_pick(const SvEscapeeFacts *f, pid_t *ret, size_t cap) {
        size_t n = 0;
        for (size_t k = 0; k < f->n_holders && n < cap; k++) {
                pid_t pid = f->holders[k];
                if (!has_pid(ret, n, pid) && is_escapee(f, pid))
                        ret[n++] = pid;
        }
        return n;
}

/* "PID (comm) S PPID PGRP SESSION TTY TPGID FLAGS MINFLT CMINFLT MAJFLT CMAJFLT UTIME STIME
 *  CUTIME CSTIME PRIORITY NICE THREADS ITREALVALUE STARTTIME ..." */
int sv_escapee_parse_stat(const char *text, pid_t *ret_ppid, uint64_t *ret_start) {
        const char *p = text ? strrchr(text, ')') : NULL; /* comm may hold ')' itself: the last one ends it */
        if (!p || p[1] != ' ')
                return -EINVAL;
        p += 2;
        long long ppid = 0;
        unsigned long long start = 0;
        for (unsigned field = 3; field <= 22; field++) {
                char *end;
                if (field == 3) { /* the state letter */
                        if (!*p || p[1] != ' ')
                                return -EINVAL;
                        p += 2;
                        continue;
                }
                errno = 0;
                unsigned long long v = 0;
                long long sv = 0;
                if (field == 4)
                        sv = strtoll(p, &end, 10);
                else
                        v = strtoull(p, &end, 10);
                if (end == p || errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
                        return -EINVAL;
                if (field == 4)
                        ppid = sv;
                if (field == 22)
                        start = v;
                if (field < 22 && *end != ' ')
                        return -EINVAL;
                p = end + (*end == ' ');
        }
        if (ppid < 0 || ppid > INT32_MAX)
                return -EINVAL;
        *ret_ppid = (pid_t) ppid;
        *ret_start = start;
        return 0;
}
