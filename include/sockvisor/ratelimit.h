/* A token bucket for log lines a flood could repeat: at most `burst` lines at once, then
 * one more every interval/burst, and a count of what was held back. Pure: time comes in. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct SvRateLimit {
        uint64_t interval_usec; /* the bucket refills completely in this long */
        unsigned burst;         /* its size: lines allowed back to back */
        unsigned tokens;
        uint64_t refilled_usec; /* when tokens were last topped up */
        uint64_t suppressed;    /* refused since the last line allowed */
        bool started;
} SvRateLimit;

/* burst >= 1, interval_usec >= 1. */
void sv_ratelimit_init(SvRateLimit *rl, unsigned burst, uint64_t interval_usec);

/* Whether a line may be logged now. When it may, *ret_suppressed (if not NULL) is how many
 * were refused since the last one allowed, for a "(suppressed N messages)" note; the count
 * starts again from 0. When it may not, the refusal is counted. */
bool sv_ratelimit_allow(SvRateLimit *rl, uint64_t now_usec, uint64_t *ret_suppressed);
