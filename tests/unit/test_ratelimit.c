/* Tests for the token bucket: burst, refill by whole tokens, the suppressed count. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sockvisor/ratelimit.h"

#define SEC UINT64_C(1000000)

static void test_burst_then_refused(void **state) {
        SvRateLimit rl;
        uint64_t n = 99;
        sv_ratelimit_init(&rl, 3, 10 * SEC);
        for (int k = 0; k < 3; k++) {
                assert_true(sv_ratelimit_allow(&rl, 100 * SEC, &n));
                assert_int_equal(n, 0);
        }
        for (int k = 0; k < 5; k++)
                assert_false(sv_ratelimit_allow(&rl, 100 * SEC + (uint64_t) k, &n));
        assert_int_equal(rl.suppressed, 5);
}

static void test_refill_reports_suppressed(void **state) {
        SvRateLimit rl;
        uint64_t n = 0;
        sv_ratelimit_init(&rl, 2, 10 * SEC); /* one token every 5 s */
        assert_true(sv_ratelimit_allow(&rl, 0, NULL));
        assert_true(sv_ratelimit_allow(&rl, 0, NULL));
        assert_false(sv_ratelimit_allow(&rl, 1 * SEC, NULL));
        assert_false(sv_ratelimit_allow(&rl, 4 * SEC, NULL));
        assert_true(sv_ratelimit_allow(&rl, 5 * SEC, &n)); /* a token earned */
        assert_int_equal(n, 2);
        assert_false(sv_ratelimit_allow(&rl, 6 * SEC, NULL));
        assert_true(sv_ratelimit_allow(&rl, 10 * SEC, &n)); /* the next one, 5 s after the last */
        assert_int_equal(n, 1);
}

/* Asking often must not push the next token away: time earned is kept across calls. */
static void test_frequent_calls_still_earn(void **state) {
        SvRateLimit rl;
        sv_ratelimit_init(&rl, 1, 1 * SEC);
        assert_true(sv_ratelimit_allow(&rl, 0, NULL));
        unsigned allowed = 0;
        for (uint64_t t = SEC / 100; t <= 10 * SEC; t += SEC / 100)
                allowed += sv_ratelimit_allow(&rl, t, NULL);
        assert_int_equal(allowed, 10);
}

/* A long pause fills the bucket, never beyond its size; a clock going back restarts it. */
static void test_full_after_pause_and_clock_back(void **state) {
        SvRateLimit rl;
        sv_ratelimit_init(&rl, 4, 2 * SEC);
        for (int k = 0; k < 4; k++)
                assert_true(sv_ratelimit_allow(&rl, 0, NULL));
        assert_false(sv_ratelimit_allow(&rl, 0, NULL));
        unsigned allowed = 0;
        for (int k = 0; k < 10; k++)
                allowed += sv_ratelimit_allow(&rl, UINT64_C(1) << 62, NULL);
        assert_int_equal(allowed, 4);
        assert_true(sv_ratelimit_allow(&rl, 5, NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_burst_then_refused),
                cmocka_unit_test(test_refill_reports_suppressed),
                cmocka_unit_test(test_frequent_calls_still_earn),
                cmocka_unit_test(test_full_after_pause_and_clock_back),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
