/* Unit tests for fetch.c: who may fetch a held socket. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sockvisor/fetch.h"

static char *users[] = { "www-data", "1001", NULL };
static char *groups[] = { "web", "2000", NULL };
static const SvSocketConf conf = { .name = "spare", .fetch_users = users, .fetch_groups = groups };
static const SvSocketConf closed = { .name = "web" };

static SvPeer peer(uid_t uid, const char *user, gid_t gid, const char *group) {
        SvPeer p = { .uid = uid, .pid = 42, .user = user, .n_groups = 1 };
        p.groups[0] = gid;
        p.group_names[0] = group;
        return p;
}

static void test_root_always(void **state) {
        char why[512] = "";
        SvPeer p = peer(0, "root", 0, "root");
        assert_true(sv_fetch_permitted(&conf, &p, why, sizeof(why)));
        assert_true(sv_fetch_permitted(&closed, &p, why, sizeof(why)));
}

static void test_users_by_name_and_number(void **state) {
        char why[512];
        SvPeer a = peer(33, "www-data", 33, "www-data"), b = peer(1001, NULL, 1001, NULL), c = peer(1002, "bob", 1002, "bob");
        assert_true(sv_fetch_permitted(&conf, &a, why, sizeof(why)));
        assert_true(sv_fetch_permitted(&conf, &b, why, sizeof(why))); /* no name: the number counts */
        assert_false(sv_fetch_permitted(&conf, &c, why, sizeof(why)));
        assert_non_null(strstr(why, "permission denied: uid 1002 (bob) may not fetch socket 'spare' "
                                    "(fetch_users = www-data, 1001; fetch_groups = web, 2000)"));
        assert_non_null(strstr(why, "[socket:spare]"));
}

static void test_groups_primary_and_supplementary(void **state) {
        char why[512];
        SvPeer p = peer(1002, "bob", 1002, "bob");
        assert_false(sv_fetch_permitted(&conf, &p, why, sizeof(why)));
        p.groups[p.n_groups] = 500;
        p.group_names[p.n_groups++] = "web"; /* supplementary, by name */
        assert_true(sv_fetch_permitted(&conf, &p, why, sizeof(why)));
        SvPeer q = peer(1003, "eve", 2000, NULL); /* primary, by number */
        assert_true(sv_fetch_permitted(&conf, &q, why, sizeof(why)));
}

static void test_default_is_root_only(void **state) {
        char why[512];
        SvPeer p = peer(33, "www-data", 33, "www-data");
        assert_false(sv_fetch_permitted(&closed, &p, why, sizeof(why)));
        assert_non_null(strstr(why, "(fetch_users = (none); fetch_groups = (none))"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_root_always),
                cmocka_unit_test(test_users_by_name_and_number),
                cmocka_unit_test(test_groups_primary_and_supplementary),
                cmocka_unit_test(test_default_is_root_only),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
