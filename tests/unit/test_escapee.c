/* Unit tests for escapee.c: which holders of a stopped generation's sockets are escapees
 * (sockvisord's orphans outside every live worker), and the /proc/PID/stat reader. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sockvisor/escapee.h"

#define SELF 100
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* sockvisord 100 (its parent 1); live worker 200 (new generation) with a child 201 that
 * setsid()'d; 300 an orphan of the old worker (reparented to us), 301 its child; 400 is
 * `sockvisorctl exec`'s process, a child of the operator's shell 50; 500 an orphan of ours
 * whose parent we never read. */
static const SvProcParent tree[] = {
        { SELF, 1 }, { 200, SELF }, { 201, 200 }, { 300, SELF }, { 301, 300 }, { 400, 50 }, { 50, 1 },
};
static const pid_t live[] = { 200 };

static size_t pick(const pid_t *holders, size_t n, pid_t *ret, size_t cap) {
        SvEscapeeFacts f = { .holders = holders, .n_holders = n, .tree = tree, .n_tree = N(tree), .live = live,
                             .n_live = N(live), .self = SELF };
        return sv_escapees_pick(&f, ret, cap);
}

static void test_orphans_are_escapees(void **state) {
        (void) state;
        pid_t holders[] = { SELF, 200, 201, 300, 301 }, ret[8];
        size_t n = pick(holders, N(holders), ret, N(ret));
        assert_int_equal(n, 2);
        assert_int_equal(ret[0], 300);
        assert_int_equal(ret[1], 301);
}

static void test_live_workers_and_theirs_are_not(void **state) {
        (void) state;
        pid_t holders[] = { 200, 201, SELF }, ret[8];
        assert_int_equal(pick(holders, N(holders), ret, N(ret)), 0);
}

static void test_someone_elses_are_not(void **state) {
        (void) state;
        pid_t holders[] = { 400, 50, 500, 1, 0, -3 }, ret[8];
        assert_int_equal(pick(holders, N(holders), ret, N(ret)), 0);
}

static void test_each_once_and_bounded(void **state) {
        (void) state;
        pid_t holders[] = { 300, 300, 301, 300 }, ret[8];
        assert_int_equal(pick(holders, N(holders), ret, N(ret)), 2);
        assert_int_equal(pick(holders, N(holders), ret, 1), 1);
        assert_int_equal(ret[0], 300);
}

static void test_no_live_workers(void **state) {
        (void) state;
        pid_t holders[] = { 200, 201 }, ret[4];
        SvEscapeeFacts f = { .holders = holders, .n_holders = N(holders), .tree = tree, .n_tree = N(tree), .self = SELF };
        assert_int_equal(sv_escapees_pick(&f, ret, N(ret)), 2); /* at shutdown every one is */
}

static void test_cycle_is_bounded(void **state) {
        (void) state;
        SvProcParent loop[] = { { 7, 8 }, { 8, 7 } };
        pid_t holders[] = { 7 }, ret[2];
        SvEscapeeFacts f = { .holders = holders, .n_holders = 1, .tree = loop, .n_tree = N(loop), .self = SELF };
        assert_int_equal(sv_escapees_pick(&f, ret, N(ret)), 0);
}

static void test_parse_stat(void **state) {
        (void) state;
        pid_t ppid = 0;
        uint64_t start = 0;
        const char *line = "4242 (my (odd) name) S 100 4242 4242 0 -1 4194560 97 0 0 0 1 2 0 0 20 0 1 0 987654 "
                           "5000000 300 18446744073709551615\n";
        assert_int_equal(sv_escapee_parse_stat(line, &ppid, &start), 0);
        assert_int_equal(ppid, 100);
        assert_int_equal(start, 987654);
        assert_int_equal(sv_escapee_parse_stat("1 (init) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0", &ppid, &start), 0);
        assert_int_equal(ppid, 0);
        assert_int_equal(start, 5);
        assert_int_equal(sv_escapee_parse_stat("4242 (x) S 100 4242", &ppid, &start), -EINVAL); /* cut short */
        assert_int_equal(sv_escapee_parse_stat("4242 no comm", &ppid, &start), -EINVAL);
        assert_int_equal(sv_escapee_parse_stat("1 (x) S -5 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0", &ppid, &start),
                         -EINVAL);
        assert_int_equal(sv_escapee_parse_stat(NULL, &ppid, &start), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_orphans_are_escapees), cmocka_unit_test(test_live_workers_and_theirs_are_not),
                cmocka_unit_test(test_someone_elses_are_not), cmocka_unit_test(test_each_once_and_bounded),
                cmocka_unit_test(test_no_live_workers),       cmocka_unit_test(test_cycle_is_bounded),
                cmocka_unit_test(test_parse_stat),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
