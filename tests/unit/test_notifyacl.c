/* Tests for the notify socket's ACL xattr: the kernel's byte layout, sorted users without
 * repeats, reading back what was built, and values that are not ACLs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sockvisor/notifyacl.h"

/* owner rw-, user 1000 -w-, group ---, mask -w-, other ---: what setfacl would write */
static const uint8_t one_user[] = {
        0x02, 0x00, 0x00, 0x00,                         /* version 2 */
        0x01, 0x00, 0x06, 0x00, 0xff, 0xff, 0xff, 0xff, /* ACL_USER_OBJ rw */
        0x02, 0x00, 0x02, 0x00, 0xe8, 0x03, 0x00, 0x00, /* ACL_USER 1000 w */
        0x04, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, /* ACL_GROUP_OBJ */
        0x10, 0x00, 0x02, 0x00, 0xff, 0xff, 0xff, 0xff, /* ACL_MASK w */
        0x20, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, /* ACL_OTHER */
};

static void test_layout(void **state) {
        uint8_t buf[SV_NOTIFY_ACL_SIZE_MAX];
        uid_t uid = 1000;
        int n = sv_notify_acl_build(&uid, 1, buf, sizeof(buf));
        assert_int_equal(n, sizeof(one_user));
        assert_memory_equal(buf, one_user, sizeof(one_user));
}

static void test_sorted_unique_roundtrip(void **state) {
        uint8_t buf[SV_NOTIFY_ACL_SIZE_MAX];
        uid_t in[] = { 65534, 33, 1000, 33, 65534 }, out[8];
        int n = sv_notify_acl_build(in, 5, buf, sizeof(buf));
        assert_int_equal(n, 4 + 8 * 7);
        assert_int_equal(sv_notify_acl_users(buf, (size_t) n, out, 8), 3);
        assert_int_equal(out[0], 33);
        assert_int_equal(out[1], 1000);
        assert_int_equal(out[2], 65534);
        assert_int_equal(sv_notify_acl_users(buf, (size_t) n, out, 2), -E2BIG);
}

static void test_no_users_and_limits(void **state) {
        uint8_t buf[SV_NOTIFY_ACL_SIZE_MAX];
        uid_t out[1];
        int n = sv_notify_acl_build(NULL, 0, buf, sizeof(buf));
        assert_int_equal(n, 4 + 8 * 4);
        assert_int_equal(sv_notify_acl_users(buf, (size_t) n, out, 1), 0);
        assert_int_equal(sv_notify_acl_build(NULL, 0, buf, 20), -ENOBUFS);
        static uid_t many[SV_NOTIFY_ACL_USERS_MAX + 1];
        for (size_t k = 0; k < SV_NOTIFY_ACL_USERS_MAX + 1; k++)
                many[k] = (uid_t) k + 1;
        assert_int_equal(sv_notify_acl_build(many, SV_NOTIFY_ACL_USERS_MAX, buf, sizeof(buf)), SV_NOTIFY_ACL_SIZE_MAX);
        assert_int_equal(sv_notify_acl_build(many, SV_NOTIFY_ACL_USERS_MAX + 1, buf, sizeof(buf)), -E2BIG);
}

static void test_not_an_acl(void **state) {
        uid_t out[4];
        uint8_t bad[sizeof(one_user)];
        assert_int_equal(sv_notify_acl_users(one_user, 3, out, 4), -EBADMSG);      /* no header */
        assert_int_equal(sv_notify_acl_users(one_user, 10, out, 4), -EBADMSG);     /* half an entry */
        memcpy(bad, one_user, sizeof(bad));
        bad[0] = 1;
        assert_int_equal(sv_notify_acl_users(bad, sizeof(bad), out, 4), -EBADMSG); /* version 1 */
        memcpy(bad, one_user, sizeof(bad));
        bad[12] = 0x40;
        assert_int_equal(sv_notify_acl_users(bad, sizeof(bad), out, 4), -EBADMSG); /* unknown tag */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_layout),
                cmocka_unit_test(test_sorted_unique_roundtrip),
                cmocka_unit_test(test_no_users_and_limits),
                cmocka_unit_test(test_not_an_acl),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
