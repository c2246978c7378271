/* Unit tests for duration.c: every config key that takes a time goes through it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sockvisor/duration.h"
#include "sockvisor/macro.h"

#define SEC USEC_PER_SEC
#define MSEC USEC_PER_MSEC

static void test_duration_parse(void **state) {
        static const struct {
                const char *s;
                uint64_t usec;
        } ok[] = {
                { "500ms", 500 * MSEC },   { "30s", 30 * SEC },          { "2m", 120 * SEC },
                { "1h", 3600 * SEC },      { "5", 5 * SEC },             { "0", 0 },
                { "0ms", 0 },              { "007s", 7 * SEC },          { "1ms", MSEC },
                { "24h", 24 * 3600 * SEC }, { "1440m", 24 * 3600 * SEC }, { "86400", 24 * 3600 * SEC },
                { "86400000ms", 24 * 3600 * SEC },
                /* compound and fractional, as people write them */
                { "1m30s", 90 * SEC },     { "1.5s", 1500 * MSEC },      { "250ms", 250 * MSEC },
                { "2h", 7200 * SEC },      { "1.5", 1500 * MSEC },       { "1h2m3s4ms", 3723 * SEC + 4 * MSEC },
                { "0.25m", 15 * SEC },     { "1.5ms", 1500 },            { "0.000001s", 1 },
                { "1h30m", 5400 * SEC },   { "23h59m59s999ms", 24 * 3600 * SEC - MSEC },
        };
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                uint64_t v = 12345;
                int r = sv_duration_parse(ok[i].s, &v);
                if (r != 0 || v != ok[i].usec)
                        print_error("'%s' -> %d %llu\n", ok[i].s, r, (unsigned long long) v);
                assert_int_equal(r, 0);
                assert_true(v == ok[i].usec);
        }
}

static void test_duration_errors(void **state) {
        static const struct {
                const char *s;
                int r;
                const char *why; /* in the message */
        } bad[] = {
                { "", -EINVAL, "empty" },
                { "-1", -EINVAL, "negative" },
                { "-1s", -EINVAL, "negative" },
                { "1.5.5s", -EINVAL, "at most one '.'" },
                { "10x", -EINVAL, "unknown unit 'x'" },
                { "5sec", -EINVAL, "unknown unit 'sec'" },
                { "5us", -EINVAL, "unknown unit 'us'" },
                { "5S", -EINVAL, "unknown unit 'S'" },
                { "s", -EINVAL, "expected a digit" },
                { "ms", -EINVAL, "expected a digit" },
                { " 5", -EINVAL, "expected a digit" },
                { "5 ", -EINVAL, "unknown unit ' '" },
                { "5 s", -EINVAL, "unknown unit ' s'" },
                { "+5", -EINVAL, "expected a digit" },
                { "0x10", -EINVAL, "unknown unit 'x'" },
                { "1.s", -EINVAL, "digits after it" },
                { "1m30", -EINVAL, "needs a unit" },
                { "30s1m", -EINVAL, "after a smaller one" },
                { "1s1s", -EINVAL, "after a smaller one" },
                { "1.0000001s", -EINVAL, "finer than a microsecond" },
                { "0.0000000001s", -EINVAL, "more than 9 digits" },
                { "25h", -ERANGE, "more than 24h" },
                { "86401", -ERANGE, "more than 24h" },
                { "24h1ms", -ERANGE, "more than 24h" },
                { "1441m", -ERANGE, "more than 24h" },
                { "86400001ms", -ERANGE, "more than 24h" },
                { "99999999999999999999999999", -ERANGE, "more than 24h" },
                { "18446744073709551617", -ERANGE, "more than 24h" },
                { "18446744073709551616ms", -ERANGE, "more than 24h" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                uint64_t v = 12345;
                SvDiag d = {};
                int r = sv_duration_parse_diag(bad[i].s, &v, &d);
                if (r != bad[i].r || !strstr(d.msg, bad[i].why))
                        print_error("'%s' -> %d %s\n", bad[i].s, r, d.msg);
                assert_int_equal(r, bad[i].r);
                assert_non_null(strstr(d.msg, bad[i].why));
                assert_true(v == 12345); /* untouched on error */
                /* and what would be right, every time */
                assert_non_null(strstr(d.msg, bad[i].s[0] ? "e.g. 250ms" : "e.g. 30s"));
                assert_int_equal(sv_duration_parse(bad[i].s, &v), bad[i].r);
        }
        uint64_t v = 1;
        assert_int_equal(sv_duration_parse(NULL, &v), -EINVAL);
}

static void test_duration_format(void **state) {
        static const struct {
                uint64_t usec;
                const char *s;
        } cases[] = {
                { 0, "0ms" },
                { 850 * USEC_PER_MSEC, "850ms" },
                { 999 * USEC_PER_MSEC, "999ms" },
                { USEC_PER_SEC, "1.00s" },
                { 1250 * USEC_PER_MSEC, "1.25s" },
                { 30 * USEC_PER_SEC, "30.00s" },
                { 59990 * USEC_PER_MSEC, "59.99s" },
                { 60 * USEC_PER_SEC, "1m00s" },
                { 125 * USEC_PER_SEC, "2m05s" },
                { 3599 * USEC_PER_SEC, "59m59s" },
                { 3600 * USEC_PER_SEC, "1h00m" },
                { 5400 * USEC_PER_SEC, "1h30m" },
                { 24 * 3600 * USEC_PER_SEC, "24h00m" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[32];
                assert_ptr_equal(sv_duration_format(cases[i].usec, buf, sizeof(buf)), buf);
                assert_string_equal(buf, cases[i].s);
        }
        char small[4];
        sv_duration_format(125 * USEC_PER_SEC, small, sizeof(small));
        assert_string_equal(small, "2m0"); /* cut, but terminated */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_duration_parse),
                cmocka_unit_test(test_duration_errors),
                cmocka_unit_test(test_duration_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
