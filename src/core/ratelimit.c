/* Token-bucket rate limit for log lines. */
#include "sockvisor/ratelimit.h"

void sv_ratelimit_init(SvRateLimit *rl, unsigned burst, uint64_t interval_usec) {
        *rl = (SvRateLimit){
                .interval_usec = interval_usec ? interval_usec : 1,
                .burst = burst ? burst : 1,
        };
}

/* Adds the tokens earned since refilled_usec. refilled_usec moves on only by whole tokens,
 * so a caller asking more often than a token is earned still gets one in time. */
static void refill(SvRateLimit *rl, uint64_t now_usec) {
        if (!rl->started || now_usec < rl->refilled_usec) { /* first use, or a clock that went back */
                rl->started = true;
                rl->tokens = rl->burst;
                rl->refilled_usec = now_usec;
                return;
        }
        uint64_t elapsed = now_usec - rl->refilled_usec;
        if (elapsed >= rl->interval_usec) { /* also keeps elapsed * burst below overflow */
                rl->tokens = rl->burst;
                rl->refilled_usec = now_usec;
                return;
        }
        uint64_t earned = elapsed * rl->burst / rl->interval_usec;
        if (earned == 0)
                return;
        rl->tokens = rl->tokens + earned >= rl->burst ? rl->burst : rl->tokens + (unsigned) earned;
        rl->refilled_usec += earned * rl->interval_usec / rl->burst;
        if (rl->tokens == rl->burst)
                rl->refilled_usec = now_usec; /* a full bucket earns nothing more */
}

bool sv_ratelimit_allow(SvRateLimit *rl, uint64_t now_usec, uint64_t *ret_suppressed) {
        refill(rl, now_usec);
        if (rl->tokens == 0) {
                rl->suppressed++;
                return false;
        }
        rl->tokens--;
        if (ret_suppressed)
                *ret_suppressed = rl->suppressed;
        rl->suppressed = 0;
        return true;
}
