/* Unit tests for cgroupname.c: the cgroup2 mount from mountinfo, our cgroup from
 * /proc/self/cgroup, and instance cgroup names, on texts as real hosts write them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sockvisor/cgroupname.h"

/* A hybrid host (cgroup v1 controllers, cgroup2 at /sys/fs/cgroup/unified), as this CI's. */
static const char hybrid[] =
        "24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
        "31 24 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "35 31 0:31 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
/* A unified host: /sys/fs/cgroup is the cgroup2 mount, and another cgroup2 mount elsewhere
 * (with an optional field and an escaped space) that must not win. */
static const char unified[] =
        "28 24 0:25 / /mnt/other\\040cg rw shared:4 master:1 - cgroup2 cgroup2 rw\n"
        "29 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";

static void test_mount(void **state) {
        char buf[256];
        assert_int_equal(sv_cgroup_find_mount(hybrid, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/sys/fs/cgroup/unified");
        assert_int_equal(sv_cgroup_find_mount(unified, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/sys/fs/cgroup");
        /* the first cgroup2 mount when none is /sys/fs/cgroup, with its \040 decoded */
        assert_int_equal(sv_cgroup_find_mount("28 24 0:25 / /mnt/other\\040cg rw - cgroup2 cgroup2 rw\n", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/mnt/other cg");
        /* cgroup v1 only; "cgroup2" as a mount point or source is not the type */
        assert_int_equal(sv_cgroup_find_mount("35 31 0:31 / /cgroup2 rw - cgroup cgroup2 rw,cpu\n", buf, sizeof(buf)), -ENOENT);
        assert_int_equal(sv_cgroup_find_mount("", buf, sizeof(buf)), -ENOENT);
        assert_int_equal(sv_cgroup_find_mount("garbage without separator cgroup2\n", buf, sizeof(buf)), -ENOENT);
        assert_int_equal(sv_cgroup_find_mount(unified, buf, 8), -ENAMETOOLONG);
}

static void test_own(void **state) {
        char buf[256];
        assert_int_equal(sv_cgroup_find_own("9:name=systemd:/\n4:memory:/x\n0::/\n", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/");
        assert_int_equal(sv_cgroup_find_own("0::/system.slice/sockvisord.service\n", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/system.slice/sockvisord.service");
        assert_int_equal(sv_cgroup_find_own("0::/system.slice/a.service", buf, sizeof(buf)), 0); /* no newline */
        assert_string_equal(buf, "/system.slice/a.service");
        assert_int_equal(sv_cgroup_find_own("4:memory:/x\n1:cpu:/\n", buf, sizeof(buf)), -ENOENT); /* v1 only */
        assert_int_equal(sv_cgroup_find_own("0::/a/../b\n", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(sv_cgroup_find_own("0::/gone (deleted)\n", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(sv_cgroup_find_own("0::relative\n", buf, sizeof(buf)), -ENOENT);
        assert_int_equal(sv_cgroup_find_own("0::/system.slice/long.service\n", buf, 10), -ENAMETOOLONG);
}

static void test_leaf(void **state) {
        char buf[256];
        assert_int_equal(sv_cgroup_leaf_name("app", 1, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "app.1");
        assert_int_equal(sv_cgroup_leaf_name("pool:2", 17, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "pool:2.17");
        /* no "..", no hidden or path-like names, no interface file names */
        assert_int_equal(sv_cgroup_leaf_name("..", 3, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "_..3");
        assert_int_equal(sv_cgroup_leaf_name("a/b c\n", 2, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "a_b_c_.2");
        assert_int_equal(sv_cgroup_leaf_name("", 1, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "_.1");
        assert_int_equal(sv_cgroup_leaf_name("cgroup.procs", 1, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "_cgroup.procs.1");
        assert_int_equal(sv_cgroup_leaf_name("cgroup", 11, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "_cgroup.11");
        assert_int_equal(sv_cgroup_leaf_name("app", 1, buf, 5), -ENAMETOOLONG);
        char long_name[400];
        memset(long_name, 'x', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        assert_int_equal(sv_cgroup_leaf_name(long_name, 1, buf, sizeof(buf)), -ENAMETOOLONG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mount),
                cmocka_unit_test(test_own),
                cmocka_unit_test(test_leaf),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
