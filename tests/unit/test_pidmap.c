/* Unit tests for pidmap.c: puts, gets and removes against a plain array as the model, with
 * runs of neighbouring pids (as fork hands them out) and removals in the middle of probe runs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "sockvisor/pidmap.h"

#define N 20000

static void test_refuses_bad_input(void **state) {
        SvPidMap m = {};
        int x;
        assert_int_equal(sv_pidmap_put(&m, 0, &x), -EINVAL);
        assert_int_equal(sv_pidmap_put(&m, -3, &x), -EINVAL);
        assert_int_equal(sv_pidmap_put(&m, 5, NULL), -EINVAL);
        assert_null(sv_pidmap_get(&m, 5));
        assert_null(sv_pidmap_remove(&m, 5));
        sv_pidmap_done(&m);
}

static void test_replace(void **state) {
        SvPidMap m = {};
        int a, b;
        assert_int_equal(sv_pidmap_put(&m, 42, &a), 0);
        assert_int_equal(sv_pidmap_put(&m, 42, &b), 0);
        assert_int_equal(m.n, 1);
        assert_ptr_equal(sv_pidmap_get(&m, 42), &b);
        assert_ptr_equal(sv_pidmap_remove(&m, 42), &b);
        assert_null(sv_pidmap_get(&m, 42));
        assert_int_equal(m.n, 0);
        sv_pidmap_done(&m);
}

/* Random puts and removes, each checked against the model, then every pid looked up. */
static void test_against_model(void **state) {
        static void *model[N];
        static char vals[N];
        SvPidMap m = {};
        srand(7);
        for (int step = 0; step < 200000; step++) {
                pid_t pid = 1 + rand() % (N - 1);
                if (rand() % 3) {
                        assert_int_equal(sv_pidmap_put(&m, pid, &vals[pid]), 0);
                        model[pid] = &vals[pid];
                } else {
                        assert_ptr_equal(sv_pidmap_remove(&m, pid), model[pid]);
                        model[pid] = NULL;
                }
        }
        size_t live = 0;
        for (pid_t pid = 1; pid < N; pid++) {
                assert_ptr_equal(sv_pidmap_get(&m, pid), model[pid]);
                live += model[pid] != NULL;
        }
        assert_int_equal(m.n, live);
        assert_true(m.n * 2 <= m.cap);
        sv_pidmap_done(&m);
        assert_null(sv_pidmap_get(&m, 1));
}

/* A run of consecutive pids, every other one removed: the rest are all still found. */
static void test_removal_in_runs(void **state) {
        static char vals[N];
        SvPidMap m = {};
        for (pid_t pid = 1000; pid < 1000 + 10000; pid++)
                assert_int_equal(sv_pidmap_put(&m, pid, &vals[pid - 1000]), 0);
        for (pid_t pid = 1000; pid < 1000 + 10000; pid += 2)
                assert_ptr_equal(sv_pidmap_remove(&m, pid), &vals[pid - 1000]);
        for (pid_t pid = 1000; pid < 1000 + 10000; pid++)
                assert_ptr_equal(sv_pidmap_get(&m, pid), pid % 2 ? &vals[pid - 1000] : NULL);
        assert_int_equal(m.n, 5000);
        sv_pidmap_done(&m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_refuses_bad_input),
                cmocka_unit_test(test_replace),
                cmocka_unit_test(test_against_model),
                cmocka_unit_test(test_removal_in_runs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
