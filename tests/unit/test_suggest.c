/* Unit tests for the "did you mean" edit distance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sockvisor/suggest.h"

static void test_distance(void **state) {
        static const struct {
                const char *a, *b;
                size_t d;
        } cases[] = {
                { "", "", 0 },           { "status", "status", 0 }, { "", "abc", 3 },       { "abc", "", 3 },
                { "stauts", "status", 1 }, /* one swap, not two substitutions */
                { "statsu", "status", 1 }, { "sttus", "status", 1 },  { "statuss", "status", 1 },
                { "stotus", "status", 1 }, { "STATUS", "status", 0 }, /* case is ignored */
                { "kitten", "sitting", 3 }, { "ca", "abc", 3 },      /* optimal string alignment, not full Damerau */
                { "restart", "start", 2 }, { "stop", "tops", 2 },
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                assert_int_equal(sv_edit_distance(cases[k].a, cases[k].b), cases[k].d);
                assert_int_equal(sv_edit_distance(cases[k].b, cases[k].a), cases[k].d); /* symmetric */
        }
}

static void test_too_long_is_far(void **state) {
        char longw[SV_SUGGEST_WORD_MAX + 2];

        memset(longw, 'a', sizeof(longw) - 1);
        longw[sizeof(longw) - 1] = '\0';
        assert_true(sv_edit_distance(longw, "a") == SIZE_MAX);
        assert_true(sv_edit_distance("a", longw) == SIZE_MAX);
        longw[SV_SUGGEST_WORD_MAX] = '\0'; /* exactly the maximum is still compared */
        assert_int_equal(sv_edit_distance(longw, longw), 0);
}

static void test_threshold(void **state) {
        assert_int_equal(sv_suggest_threshold(1), 1);
        assert_int_equal(sv_suggest_threshold(4), 1);
        assert_int_equal(sv_suggest_threshold(5), 2);
        assert_int_equal(sv_suggest_threshold(8), 2);
        assert_int_equal(sv_suggest_threshold(9), 3);
}

static void test_suggest(void **state) {
        static const char *const verbs[] = { "status", "start", "stop", "restart", "pid", "signal", "sockets",
                                             "reload", "why", "tail", "logs" };
        size_t n = sizeof(verbs) / sizeof(verbs[0]);

        assert_string_equal(sv_suggest("stauts", verbs, n), "status");
        assert_string_equal(sv_suggest("STATUS", verbs, n), "status");
        assert_string_equal(sv_suggest("restrat", verbs, n), "restart");
        assert_string_equal(sv_suggest("sockts", verbs, n), "sockets");
        assert_string_equal(sv_suggest("tial", verbs, n), "tail");
        assert_string_equal(sv_suggest("relaod", verbs, n), "reload");
        assert_string_equal(sv_suggest("stat", verbs, n), "start"); /* 1 from start, 2 from status: the nearest */
        assert_string_equal(sv_suggest("sto", verbs, n), "stop");
        /* Equals: the first in the table's order. */
        static const char *const two[] = { "abcd", "abce" };
        assert_string_equal(sv_suggest("abcf", two, 2), "abcd");
        /* Nothing near enough, an exact word, no candidates: NULL. */
        assert_null(sv_suggest("frobnicate", verbs, n));
        assert_null(sv_suggest("x", verbs, n));
        assert_null(sv_suggest("", verbs, n));
        assert_null(sv_suggest("status", verbs, n));
        assert_null(sv_suggest("status", NULL, 0));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_distance),
                cmocka_unit_test(test_too_long_is_far),
                cmocka_unit_test(test_threshold),
                cmocka_unit_test(test_suggest),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
