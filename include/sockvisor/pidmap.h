/* pid -> pointer, for the reaper: which child a waitid() result belongs to, in O(1) with
 * 10,000 workers. Open addressing, linear probing, deletion by backward shift (no
 * tombstones, so lookups stay short however many workers come and go). Pure: no I/O. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

typedef struct SvPidSlot {
        pid_t pid; /* 0: empty */
        void *value;
} SvPidSlot;

typedef struct SvPidMap {
        SvPidSlot *slots;
        size_t cap; /* a power of two, or 0 */
        size_t n;
} SvPidMap;

/* Sets pid's value (replacing one there). 0, -EINVAL for pid <= 0 or a NULL value, or -ENOMEM. */
int sv_pidmap_put(SvPidMap *m, pid_t pid, void *value);
/* pid's value, or NULL. */
void *sv_pidmap_get(const SvPidMap *m, pid_t pid);
/* Removes pid; returns its value, or NULL when it was not there. */
void *sv_pidmap_remove(SvPidMap *m, pid_t pid);
/* Frees the slots (the values are the caller's). */
void sv_pidmap_done(SvPidMap *m);
