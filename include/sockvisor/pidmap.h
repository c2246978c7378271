/* pid -> pointer, for the reaper: which child a waitid() result belongs to, in O(1) with
 * 10,000 workers; and, with the sv_idmap_ names, any nonzero 64-bit key (the timers by
 * instance id). Open addressing, linear probing, deletion by backward shift (no
 * tombstones, so lookups stay short however many workers come and go). Pure: no I/O. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct SvPidSlot {
        uint64_t key; /* 0: empty */
        void *value;
} SvPidSlot;

typedef struct SvPidMap {
        SvPidSlot *slots;
        size_t cap; /* a power of two, or 0 */
        size_t n;
} SvPidMap;

/* Sets key's value (replacing one there). 0, -EINVAL for key 0 or a NULL value, or -ENOMEM. */
int sv_idmap_put(SvPidMap *m, uint64_t key, void *value);
/* key's value, or NULL. */
void *sv_idmap_get(const SvPidMap *m, uint64_t key);
/* Removes key; returns its value, or NULL when it was not there. */
void *sv_idmap_remove(SvPidMap *m, uint64_t key);

/* The same by pid: a pid <= 0 is never there (put: -EINVAL). */
static inline int sv_pidmap_put(SvPidMap *m, pid_t pid, void *value) {
        return pid > 0 ? sv_idmap_put(m, (uint64_t) pid, value) : -EINVAL;
}
static inline void *sv_pidmap_get(const SvPidMap *m, pid_t pid) {
        return pid > 0 ? sv_idmap_get(m, (uint64_t) pid) : NULL;
}
static inline void *sv_pidmap_remove(SvPidMap *m, pid_t pid) {
        return pid > 0 ? sv_idmap_remove(m, (uint64_t) pid) : NULL;
}
/* Frees the slots (the values are the caller's). */
void sv_pidmap_done(SvPidMap *m);
