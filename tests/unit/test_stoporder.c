/* Unit tests for stoporder.c: shutdown stops programs one priority level at a time, highest
 * first, waits while a level is stopping, and is done when nothing is live. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sockvisor/stoporder.h"

#define L(p) { .priority = (p), .live = true }
#define SENT(p) { .priority = (p), .live = true, .stop_sent = true }
#define GONE(p) { .priority = (p), .live = false }
#define GONE_SENT(p) { .priority = (p), .live = false, .stop_sent = true }

typedef struct Case {
        const char *what;
        SvStopItem items[6];
        size_t n;
        SvStopNext next;
        int level; /* with SV_STOP_LEVEL */
} Case;

static const Case cases[] = {
        { "nothing configured", { L(0) }, 0, SV_STOP_DONE, 0 },
        { "nothing live", { GONE(10), GONE_SENT(20), GONE(30) }, 3, SV_STOP_DONE, 0 },
        { "highest first", { L(10), L(20), L(30) }, 3, SV_STOP_LEVEL, 30 },
        { "highest first, any order", { L(30), L(999), L(10), L(500) }, 4, SV_STOP_LEVEL, 999 },
        { "the highest live one", { L(10), L(20), GONE(30) }, 3, SV_STOP_LEVEL, 20 },
        { "a level stopping: wait", { L(10), SENT(30) }, 2, SV_STOP_WAIT, 0 },
        { "one of a level still stopping: wait", { L(10), GONE_SENT(30), SENT(30) }, 3, SV_STOP_WAIT, 0 },
        { "a stopped level: the next one", { L(10), L(20), GONE_SENT(30) }, 3, SV_STOP_LEVEL, 20 },
        { "equal priorities together", { L(20), L(10), L(20) }, 3, SV_STOP_LEVEL, 20 },
        { "negative priorities", { L(-10), L(-5) }, 2, SV_STOP_LEVEL, -5 },
        { "zero and negative", { L(-1), L(0) }, 2, SV_STOP_LEVEL, 0 },
};

static void test_cases(void **state) {
        (void) state;
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
                const Case *t = &cases[c];
                int level = 12345;
                SvStopNext next = sv_stop_order_next(t->items, t->n, &level);
                if (next != t->next || (next == SV_STOP_LEVEL && level != t->level))
                        print_error("%s: next %d level %d, want next %d level %d\n", t->what, next, level, t->next,
                                    t->level);
                assert_int_equal(next, t->next);
                if (next == SV_STOP_LEVEL)
                        assert_int_equal(level, t->level);
                else
                        assert_int_equal(level, 12345); /* untouched */
        }
}

/* A whole shutdown: the supervisor stops each level it is given; its programs go down one by
 * one (every other step). The levels come highest first, each once, and then DONE. */
static void test_whole_shutdown(void **state) {
        (void) state;
        SvStopItem items[] = { L(999), L(10), L(500), L(999), L(10), GONE(700), L(-3) };
        const size_t n = sizeof(items) / sizeof(items[0]);
        const int want[] = { 999, 500, 10, -3 };
        int got[8];
        size_t n_got = 0, waits = 0;
        for (unsigned step = 0; step < 100; step++) {
                int level = 0;
                SvStopNext next = sv_stop_order_next(items, n, &level);
                if (next == SV_STOP_DONE)
                        break;
                if (next == SV_STOP_LEVEL) {
                        assert_true(n_got < 8);
                        got[n_got++] = level;
                        for (size_t k = 0; k < n; k++)
                                if (items[k].live && items[k].priority == level)
                                        items[k].stop_sent = true;
                        continue;
                }
                waits++;
                for (size_t k = 0; k < n; k++) /* one program of the stopping level goes down */
                        if (items[k].live && items[k].stop_sent) {
                                items[k].live = false;
                                break;
                        }
        }
        assert_int_equal(n_got, sizeof(want) / sizeof(want[0]));
        for (size_t k = 0; k < n_got; k++)
                assert_int_equal(got[k], want[k]);
        assert_int_equal(waits, 6); /* one per live program */
        for (size_t k = 0; k < n; k++)
                assert_false(items[k].live);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cases),
                cmocka_unit_test(test_whole_shutdown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
