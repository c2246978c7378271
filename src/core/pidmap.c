/* pid -> pointer table: see pidmap.h. */
#include "sockvisor/pidmap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

static size_t slot_of(const SvPidMap *m, uint64_t key) {
        /* pids and ids come in runs: a multiplicative (Fibonacci) hash spreads them */
        return (size_t) ((key * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (m->cap - 1);
}

static size_t find(const SvPidMap *m, uint64_t key) {
        size_t k = slot_of(m, key);
        while (m->slots[k].key != 0 && m->slots[k].key != key) /* ends: the table is never full */
                k = (k + 1) & (m->cap - 1);
        return k;
}

static int grow(SvPidMap *m) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof(SvPidSlot) / 2)
                return -ENOMEM;
        SvPidMap bigger = { .slots = calloc(cap, sizeof(SvPidSlot)), .cap = cap };
        if (!bigger.slots)
                return -ENOMEM;
        for (size_t k = 0; k < m->cap; k++)
                if (m->slots[k].key != 0) {
                        bigger.slots[find(&bigger, m->slots[k].key)] = m->slots[k];
                        bigger.n++;
                }
        free(m->slots);
        *m = bigger;
        return 0;
}

int sv_idmap_put(SvPidMap *m, uint64_t key, void *value) {
        if (key == 0 || !value)
                return -EINVAL;
        if ((m->n + 1) * 2 > m->cap) { /* at most half full: probes stay short */
                int r = grow(m);
                if (r < 0)
                        return r;
        }
        size_t k = find(m, key);
        if (m->slots[k].key == 0)
                m->n++;
        m->slots[k] = (SvPidSlot){ .key = key, .value = value };
        return 0;
}

void *sv_idmap_get(const SvPidMap *m, uint64_t key) {
        if (m->cap == 0 || key == 0)
                return NULL;
        size_t k = find(m, key);
        return m->slots[k].key == key ? m->slots[k].value : NULL;
}

void *sv_idmap_remove(SvPidMap *m, uint64_t key) {
        if (m->cap == 0 || key == 0)
                return NULL;
        size_t hole = find(m, key), mask = m->cap - 1;
        if (m->slots[hole].key != key)
                return NULL;
        void *value = m->slots[hole].value;
        /* backward shift: pull up each later entry of the run that may sit in the hole */
        for (size_t k = (hole + 1) & mask; m->slots[k].key != 0; k = (k + 1) & mask) {
                size_t home = slot_of(m, m->slots[k].key);
                /* k's entry may move to hole unless its home lies in (hole, k], cyclically */
                bool stays = hole <= k ? (home > hole && home <= k) : (home > hole || home <= k);
                if (stays)
                        continue;
                m->slots[hole] = m->slots[k];
                hole = k;
        }
        m->slots[hole] = (SvPidSlot){};
        m->n--;
        return value;
}

void sv_pidmap_done(SvPidMap *m) {
        free(m->slots);
        *m = (SvPidMap){};
}
