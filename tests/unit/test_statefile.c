/* Unit tests for statefile.c: the upgrade state's records, escaping and getters. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sockvisor/statefile.h"

/* Every byte a value may hold comes back as it was. */
static void test_round_trip(void **state) {
        static const char *const values[] = {
                "", "plain", "two words", "100%", "a=b", "line\nbreak\r\n", "\ttab", "%41 is not A",
                "[program:app]\ncommand = /bin/app --x=1\n", "caf\xc3\xa9", "\x01\x1f\x7f",
        };
        SvStateOut o = {};
        uint64_t ids[] = { 1, 42, UINT64_MAX };
        sv_state_record(&o, "first");
        for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
                char key[8];
                (void) snprintf(key, sizeof(key), "v%zu", k);
                sv_state_str(&o, key, values[k]);
        }
        sv_state_record(&o, "second");
        sv_state_u64(&o, "big", UINT64_MAX);
        sv_state_i64(&o, "neg", -123);
        sv_state_i64(&o, "min", INT64_MIN + 1);
        sv_state_bool(&o, "yes", true);
        sv_state_bool(&o, "no", false);
        sv_state_ids(&o, "ids", ids, 3);
        sv_state_ids(&o, "none", ids, 0);
        sv_state_str(&o, "skipped", NULL);
        assert_false(o.failed);
        assert_null(memchr(o.buf, '\t', o.len)); /* escaped: one record per line, no raw controls */
        assert_int_equal(strchr(o.buf, '\n') - o.buf, strcspn(o.buf, "\n"));

        SvStateIn in;
        SvStateRec r;
        SvDiag d = {};
        sv_state_in_init(&in, o.buf, o.len, &d);
        assert_int_equal(sv_state_expect(&in, &r, "first"), 1);
        for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
                char key[8];
                (void) snprintf(key, sizeof(key), "v%zu", k);
                assert_string_equal(sv_rec_str(&in, &r, key), values[k]);
        }
        assert_int_equal(in.err, 0);
        assert_int_equal(sv_state_expect(&in, &r, "second"), 1);
        assert_true(sv_rec_u64(&in, &r, "big") == UINT64_MAX);
        assert_int_equal(sv_rec_i64(&in, &r, "neg"), -123);
        assert_true(sv_rec_i64(&in, &r, "min") == INT64_MIN + 1);
        assert_true(sv_rec_bool(&in, &r, "yes"));
        assert_false(sv_rec_bool(&in, &r, "no"));
        uint64_t got[4];
        assert_int_equal(sv_rec_ids(&in, &r, "ids", got, 4), 3);
        assert_true(got[0] == 1 && got[1] == 42 && got[2] == UINT64_MAX);
        assert_int_equal(sv_rec_ids(&in, &r, "none", got, 4), 0);
        assert_null(sv_rec_opt(&r, "skipped"));
        assert_int_equal(in.err, 0);
        assert_int_equal(sv_state_next(&in, &r), 0); /* the end */
        sv_state_in_done(&in);
        sv_state_done(&o);
}

/* One malformed line each: the reader says which line and what. */
static void test_malformed(void **state) {
        static const struct {
                const char *text, *why;
        } cases[] = {
                { "ok a=1\nbad novalue\n", "line 2: 'novalue' is not key=value" },
                { "r k=%4\n", "malformed %-escape" },
                { "r k=%00\n", "malformed %-escape" },
                { "r k=%zz\n", "malformed %-escape" },
                { "\n", "line 1: empty line" },
                { "r =v\n", "is not key=value" },
                { "r k=1\0x\n", "contains a NUL byte" },
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                SvStateIn in;
                SvStateRec r;
                SvDiag d = {};
                size_t len = strlen(cases[k].text);
                if (strcmp(cases[k].why, "contains a NUL byte") == 0)
                        len = 9;
                sv_state_in_init(&in, cases[k].text, len, &d);
                int e;
                while ((e = sv_state_next(&in, &r)) > 0)
                        ;
                assert_int_equal(e, -EINVAL);
                if (!strstr(d.msg, cases[k].why))
                        print_error("case %zu: '%s'\n", k, d.msg);
                assert_non_null(strstr(d.msg, cases[k].why));
                sv_state_in_done(&in);
        }
}

/* Getters: a missing or malformed field fails once, naming the record and the field. */
static void test_getters(void **state) {
        const char *text = "inst id=7 n=x flag=2 list=1,,2 tail=1, far=300 neg=-5\n";
        static const struct {
                const char *key, *why;
        } cases[] = {
                { "missing", "'inst' record without missing=" },   { "n", "n=x is not a number" },
                { "flag", "flag=2 is not 0 or 1" },                { "list", "not a list of at most" },
                { "tail", "ends with a comma" },                   { "far", "far=300 is out of range (below 256)" },
                { "neg", "neg=-5 is not a number" },
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                SvStateIn in;
                SvStateRec r;
                SvDiag d = {};
                uint64_t v[4];
                sv_state_in_init(&in, text, strlen(text), &d);
                assert_int_equal(sv_state_next(&in, &r), 1);
                assert_int_equal(sv_rec_u64(&in, &r, "id"), 7);
                assert_int_equal(in.err, 0);
                switch (k) {
                case 0:
                        (void) sv_rec_str(&in, &r, cases[k].key);
                        break;
                case 1:
                case 6:
                        (void) sv_rec_u64(&in, &r, cases[k].key);
                        break;
                case 2:
                        (void) sv_rec_bool(&in, &r, cases[k].key);
                        break;
                case 3:
                case 4:
                        (void) sv_rec_ids(&in, &r, cases[k].key, v, 4);
                        break;
                case 5:
                        (void) sv_rec_below(&in, &r, cases[k].key, 256);
                        break;
                }
                assert_int_equal(in.err, -EINVAL);
                if (!strstr(d.msg, cases[k].why))
                        print_error("case %zu: '%s'\n", k, d.msg);
                assert_non_null(strstr(d.msg, cases[k].why));
                assert_non_null(strstr(d.msg, "line 1"));
                /* the first error stays; later records are not read */
                (void) sv_rec_u64(&in, &r, "n");
                assert_non_null(strstr(d.msg, cases[k].why));
                assert_int_equal(sv_state_next(&in, &r), -EINVAL);
                sv_state_in_done(&in);
        }
}

static void test_expect_kind(void **state) {
        SvStateIn in;
        SvStateRec r;
        SvDiag d = {};
        sv_state_in_init(&in, "daemon a=1\n", 11, &d);
        assert_int_equal(sv_state_expect(&in, &r, "control"), -EINVAL);
        assert_non_null(strstr(d.msg, "'daemon' where a 'control' record belongs"));
        sv_state_in_done(&in);
        sv_state_in_init(&in, "", 0, &d);
        assert_int_equal(sv_state_expect(&in, &r, "end"), -EINVAL);
        assert_non_null(strstr(d.msg, "ends before a 'end' record"));
        sv_state_in_done(&in);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_getters),
                cmocka_unit_test(test_expect_kind),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
