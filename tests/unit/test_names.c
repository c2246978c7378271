/* Unit tests for names.c: names on a command line (programs, groups, NAME:*, PROG:N) ->
 * programs and instances, table-driven, with the exact message a wrong name gets. */
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
        const char *hidden;      /* one letter per index: 'h' hidden */
        const char *numprocs;    /* one digit per index; NULL: 1 each */
        const char *groups;      /* "g=0,1;h=2": groups and their members' indexes; NULL: none */
        const char *args[MAXN];  /* NULL-terminated */
        int r;
        const char *want; /* on success: "0* 1:1,2" = program 0 whole, instances 1 and 2 of program 1 */
        const char *msg;  /* on error */
} Case;

#define P3 { "a", "b", "c" }
static const Case cases[] = {
        /* programs, as before */
        { "no args means all", P3, "...", NULL, NULL, { NULL }, 0, "0* 1* 2*", NULL },
        { "all", P3, "...", NULL, NULL, { "all" }, 0, "0* 1* 2*", NULL },
        { "all skips the hidden", P3, ".h.", NULL, NULL, { "all" }, 0, "0* 2*", NULL },
        { "names in the order asked", P3, "...", NULL, NULL, { "c", "a" }, 0, "2* 0*", NULL },
        { "duplicates once", P3, "...", NULL, NULL, { "b", "a", "b", "b" }, 0, "1* 0*", NULL },
        { "'all' among names is a name", { "a", "all" }, "..", NULL, NULL, { "a", "all" }, 0, "0* 1*", NULL },
        { "a hidden and a visible namesake", { "app", "app" }, "h.", NULL, NULL, { "app" }, 0, "1*", NULL },
        { "none configured, all", { NULL }, "", NULL, NULL, { "all" }, 0, "", NULL },
        { "names are case-sensitive", { "Web" }, ".", NULL, NULL, { "web" }, -ENOENT, NULL,
          "no program or group 'web'; did you mean 'Web'? known: Web" },
        /* unknown names: a suggestion when one is near, and everything known */
        { "a typo", { "web", "api" }, "..", NULL, "backend=0,1", { "wbe" }, -ENOENT, NULL,
          "no program or group 'wbe'; did you mean 'web'? known: web, api, group backend" },
        { "a typo of a group", { "web", "api" }, "..", NULL, "backend=0,1", { "backnd" }, -ENOENT, NULL,
          "no program or group 'backnd'; did you mean 'backend'? known: web, api, group backend" },
        { "nothing near", { "web", "api" }, "..", NULL, NULL, { "database" }, -ENOENT, NULL,
          "no program or group 'database'; known: web, api" },
        { "unknown after a good one", { "web", "api" }, "..", NULL, NULL, { "web", "nope" }, -ENOENT, NULL,
          "no program or group 'nope'; known: web, api" },
        { "hidden is unknown", { "web", "old", "api" }, ".h.", NULL, NULL, { "old" }, -ENOENT, NULL,
          "no program or group 'old'; known: web, api" },
        { "none configured", { NULL }, "", NULL, NULL, { "web" }, -ENOENT, NULL,
          "no program or group 'web'; known: (none configured)" },
        /* groups */
        { "a group is its programs", P3, "...", NULL, "g=0,2", { "g" }, 0, "0* 2*", NULL },
        { "GROUP:*", P3, "...", NULL, "g=2,0", { "g:*" }, 0, "2* 0*", NULL },
        { "GROUP:PROG", P3, "...", NULL, "g=0,2", { "g:c" }, 0, "2*", NULL },
        { "GROUP:PROG not in it", P3, "...", NULL, "g=0,2", { "g:b" }, -ENOENT, NULL, "'g:b': group g has no program 'b'" },
        { "a group and one of its programs", P3, "...", NULL, "g=0,2", { "c", "g" }, 0, "2* 0*", NULL },
        { "two groups sharing a program", P3, "...", NULL, "g=0,1;h=1,2", { "g", "h" }, 0, "0* 1* 2*", NULL },
        { "a hidden member is left out", P3, ".h.", NULL, "g=0,1", { "g" }, 0, "0*", NULL },
        { "an empty group", P3, "...", NULL, "g=", { "g" }, 0, "", NULL },
        /* instances, as status names them */
        { "PROG:N", { "web", "pool" }, "..", "13", NULL, { "pool:1" }, 0, "1:1", NULL },
        { "PROG:N twice, and another", { "web", "pool" }, "..", "13", NULL, { "pool:2", "pool:0", "pool:2" }, 0,
          "1:0,2", NULL },
        { "PROG:* is all of it", { "web", "pool" }, "..", "13", NULL, { "pool:*" }, 0, "1*", NULL },
        { "whole wins over an instance", { "web", "pool" }, "..", "13", NULL, { "pool:1", "pool" }, 0, "1*", NULL },
        { "an instance of a program in a group", { "web", "pool" }, "..", "13", "g=0,1", { "g", "pool:1" }, 0, "0* 1*",
          NULL },
        { "PROG:N out of range", { "web", "pool" }, "..", "13", NULL, { "pool:3" }, -ERANGE, NULL,
          "'pool:3': pool has instances pool:0 to pool:2" },
        { "PROG:N of a single instance", { "web", "pool" }, "..", "13", NULL, { "web:0" }, -ERANGE, NULL,
          "'web:0': web has one instance, named web" },
        { "PROG:junk", { "web", "pool" }, "..", "13", NULL, { "pool:x" }, -ENOENT, NULL,
          "'pool:x': after 'pool:' comes an instance number (pool:0 .. N-1), or * for all" },
        { "PROG:1x", { "web", "pool" }, "..", "13", NULL, { "pool:1x" }, -ENOENT, NULL,
          "'pool:1x': after 'pool:' comes an instance number (pool:0 .. N-1), or * for all" },
        { "unknown:N", { "web", "pool" }, "..", "13", NULL, { "pol:1" }, -ENOENT, NULL,
          "no program or group 'pol:1'; known: web, pool" },
};

/* "0* 1:1,2" of the targets. */
static void format_targets(const SvNameTarget *t, size_t n, char *buf, size_t len) {
        size_t o = 0;
        buf[0] = '\0';
        for (size_t q = 0; q < n; q++) {
                o += (size_t) snprintf(buf + o, len - o, "%s%zu%s", q ? " " : "", t[q].prog, t[q].all ? "*" : ":");
                bool first = true;
                for (unsigned k = 0; !t[q].all && k < SV_NAMES_INSTANCES_MAX; k++)
                        if (sv_name_target_has(&t[q], k)) {
                                o += (size_t) snprintf(buf + o, len - o, "%s%u", first ? "" : ",", k);
                                first = false;
                        }
        }
}

static void test_resolve(void **state) {
        (void) state;
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
                const Case *t = &cases[c];
                size_t n = 0, n_args = 0, n_groups = 0;
                bool visible[MAXN];
                unsigned numprocs[MAXN];
                while (t->names[n]) {
                        visible[n] = t->hidden[n] != 'h';
                        numprocs[n] = t->numprocs ? (unsigned) (t->numprocs[n] - '0') : 1;
                        n++;
                }
                while (t->args[n_args])
                        n_args++;
                SvNameGroup groups[4];
                size_t members[4][MAXN];
                char gnames[4][16];
                for (const char *g = t->groups; g && *g && n_groups < 4; n_groups++) {
                        size_t nl = strcspn(g, "=");
                        (void) snprintf(gnames[n_groups], sizeof(gnames[0]), "%.*s", (int) nl, g);
                        groups[n_groups] = (SvNameGroup){ .name = gnames[n_groups], .members = members[n_groups] };
                        for (g += nl + 1; *g >= '0' && *g <= '9'; g += *g ? 1 : 0) {
                                members[n_groups][groups[n_groups].n_members++] = (size_t) (*g++ - '0');
                                if (*g != ',')
                                        break;
                        }
                        g += *g == ';';
                }
                SvNameSet set = { .names = t->names, .visible = visible, .numprocs = numprocs, .n = n,
                                  .groups = groups, .n_groups = n_groups };
                SvNameTarget ret[MAXN];
                size_t ret_n = 99;
                SvDiag d = {};
                int r = sv_names_resolve(&set, (char *const *) t->args, n_args, ret, &ret_n, &d);
                if (r != t->r)
                        print_error("%s: returned %d, want %d (%s)\n", t->what, r, t->r, d.msg);
                assert_int_equal(r, t->r);
                if (r < 0) {
                        if (strcmp(d.msg, t->msg) != 0)
                                print_error("%s:\n  got  %s\n  want %s\n", t->what, d.msg, t->msg);
                        assert_string_equal(d.msg, t->msg);
                        assert_int_equal(ret_n, 99); /* untouched on error */
                        continue;
                }
                char got[128];
                format_targets(ret, ret_n, got, sizeof(got));
                if (strcmp(got, t->want) != 0)
                        print_error("%s: got '%s', want '%s'\n", t->what, got, t->want);
                assert_string_equal(got, t->want);
        }
}

/* visible, numprocs and groups may be absent: every name counts, once each. */
static void test_defaults(void **state) {
        (void) state;
        const char *names[] = { "a", "b" };
        char *args[] = { (char *) "b" };
        SvNameSet set = { .names = names, .n = 2 };
        SvNameTarget t[2];
        size_t n;
        assert_int_equal(sv_names_resolve(&set, args, 1, t, &n, NULL), 0);
        assert_int_equal(n, 1);
        assert_int_equal(t[0].prog, 1);
        assert_true(t[0].all);
        assert_int_equal(sv_names_resolve(&set, NULL, 0, t, &n, NULL), 0);
        assert_int_equal(n, 2);
        char *bad[] = { (char *) "c" };
        assert_int_equal(sv_names_resolve(&set, bad, 1, t, &n, NULL), -ENOENT); /* no diag: fine */
        char *inst[] = { (char *) "a:0" };
        assert_int_equal(sv_names_resolve(&set, inst, 1, t, &n, NULL), -ERANGE);
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
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_join),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
