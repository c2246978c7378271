/* Unit tests for names.c: program names on a command line -> programs, table-driven, with the
 * exact message an unknown name gets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sockvisor/names.h"

#define MAXN 8

typedef struct Case {
        const char *what;
        const char *names[MAXN]; /* NULL-terminated */
        const char *hidden;      /* names[k] listed here (one letter per index: 'h' hidden) */
        const char *args[MAXN];  /* NULL-terminated */
        int r;
        size_t idx[MAXN];
        size_t n; /* on success */
        const char *msg; /* on error */
} Case;

static const Case cases[] = {
        { "no args means all", { "a", "b", "c" }, "...", { NULL }, 0, { 0, 1, 2 }, 3, NULL },
        { "all", { "a", "b", "c" }, "...", { "all" }, 0, { 0, 1, 2 }, 3, NULL },
        { "all skips the hidden", { "a", "b", "c" }, ".h.", { "all" }, 0, { 0, 2 }, 2, NULL },
        { "names in the order asked", { "a", "b", "c" }, "...", { "c", "a" }, 0, { 2, 0 }, 2, NULL },
        { "one name", { "web", "api" }, "..", { "api" }, 0, { 1 }, 1, NULL },
        { "duplicates once", { "a", "b", "c" }, "...", { "b", "a", "b", "b" }, 0, { 1, 0 }, 2, NULL },
        { "'all' among names is a name", { "a", "all" }, "..", { "a", "all" }, 0, { 0, 1 }, 2, NULL },
        { "a hidden and a visible namesake", { "app", "app" }, "h.", { "app" }, 0, { 1 }, 1, NULL },
        { "none configured, all", { NULL }, "", { "all" }, 0, { 0 }, 0, NULL },
        { "none configured, no args", { NULL }, "", { NULL }, 0, { 0 }, 0, NULL },
        { "unknown", { "web", "api" }, "..", { "wbe" }, -ENOENT, { 0 }, 0,
          "no program named 'wbe'; known programs: web, api" },
        { "unknown after a good one", { "web", "api" }, "..", { "web", "nope" }, -ENOENT, { 0 }, 0,
          "no program named 'nope'; known programs: web, api" },
        { "hidden is unknown", { "web", "old", "api" }, ".h.", { "old" }, -ENOENT, { 0 }, 0,
          "no program named 'old'; known programs: web, api" },
        { "none configured", { NULL }, "", { "web" }, -ENOENT, { 0 }, 0,
          "no program named 'web'; known programs: (none configured)" },
        { "only hidden ones", { "old" }, "h", { "old" }, -ENOENT, { 0 }, 0,
          "no program named 'old'; known programs: (none configured)" },
        { "names are case-sensitive", { "Web" }, ".", { "web" }, -ENOENT, { 0 }, 0,
          "no program named 'web'; known programs: Web" },
};

static void test_resolve(void **state) {
        (void) state;
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
                const Case *t = &cases[c];
                size_t n = 0, n_args = 0;
                bool visible[MAXN];
                while (t->names[n]) {
                        visible[n] = t->hidden[n] != 'h';
                        n++;
                }
                while (t->args[n_args])
                        n_args++;
                size_t idx[MAXN], ret_n = 99;
                for (size_t k = 0; k < MAXN; k++)
                        idx[k] = 99;
                SvDiag d = {};
                int r = sv_names_resolve(t->names, visible, n, (char *const *) t->args, n_args, idx, &ret_n, &d);
                if (r != t->r)
                        print_error("%s: returned %d, want %d (%s)\n", t->what, r, t->r, d.msg);
                assert_int_equal(r, t->r);
                if (r < 0) {
                        assert_string_equal(d.msg, t->msg);
                        continue;
                }
                if (ret_n != t->n)
                        print_error("%s: %zu programs, want %zu\n", t->what, ret_n, t->n);
                assert_int_equal(ret_n, t->n);
                for (size_t k = 0; k < t->n; k++)
                        assert_int_equal(idx[k], t->idx[k]);
                for (size_t k = t->n; k < MAXN; k++) /* room for n, and nothing written beyond the count */
                        assert_int_equal(idx[k], 99);
        }
}

/* visible may be NULL: every name counts. */
static void test_no_visible_array(void **state) {
        (void) state;
        const char *names[] = { "a", "b" };
        char *args[] = { (char *) "b" };
        size_t idx[2], n;
        assert_int_equal(sv_names_resolve(names, NULL, 2, args, 1, idx, &n, NULL), 0);
        assert_int_equal(n, 1);
        assert_int_equal(idx[0], 1);
        assert_int_equal(sv_names_resolve(names, NULL, 2, NULL, 0, idx, &n, NULL), 0);
        assert_int_equal(n, 2);
        char *bad[] = { (char *) "c" };
        assert_int_equal(sv_names_resolve(names, NULL, 2, bad, 1, idx, &n, NULL), -ENOENT); /* no diag: fine */
}

static void test_join(void **state) {
        (void) state;
        const char *names[] = { "web", "old", "api" };
        const bool visible[] = { true, false, true };
        char buf[64];
        sv_names_join(names, visible, 3, buf, sizeof(buf));
        assert_string_equal(buf, "web, api");
        sv_names_join(names, NULL, 3, buf, sizeof(buf));
        assert_string_equal(buf, "web, old, api");
        sv_names_join(names, visible, 0, buf, sizeof(buf));
        assert_string_equal(buf, "(none configured)");
        const bool none[] = { false, false, false };
        sv_names_join(names, none, 3, buf, sizeof(buf));
        assert_string_equal(buf, "(none configured)");
        char small[8];
        sv_names_join(names, NULL, 3, small, sizeof(small));
        assert_string_equal(small, "web, ol"); /* cut, never overrun */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_resolve),
                cmocka_unit_test(test_no_visible_array),
                cmocka_unit_test(test_join),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
