/* The fd limit raised at start, the original kept for workers: see fdlimit.h. */
#include "sockvisor/fdlimit.h"

#include <errno.h>
#include <stdbool.h>

#include "sockvisor/log.h"

static struct rlimit original, raised;
static bool changed;

void sv_fdlimit_raise(void) {
        if (getrlimit(RLIMIT_NOFILE, &original) < 0) {
                sv_log_errno(LOG_WARNING, errno, "cannot read the fd limit; keeping it");
                return;
        }
        if (original.rlim_cur >= original.rlim_max)
                return;
        raised = (struct rlimit){ .rlim_cur = original.rlim_max, .rlim_max = original.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &raised) < 0) {
                sv_log_errno(LOG_WARNING, errno, "cannot raise the fd limit from %llu to %llu; at most %llu fds",
                             (unsigned long long) original.rlim_cur, (unsigned long long) original.rlim_max,
                             (unsigned long long) original.rlim_cur);
                return;
        }
        changed = true;
        log_debug("fd limit raised from %llu to %llu (workers get %llu)", (unsigned long long) original.rlim_cur,
                  (unsigned long long) raised.rlim_cur, (unsigned long long) original.rlim_cur);
}

const struct rlimit *sv_fdlimit_original(void) {
        return changed ? &original : NULL;
}

void sv_fdlimit_restore(void) {
        if (changed)
                (void) setrlimit(RLIMIT_NOFILE, &original);
}

void sv_fdlimit_reraise(void) {
        if (changed)
                (void) setrlimit(RLIMIT_NOFILE, &raised);
}
