/* procfs.c: the /proc/PID/stat and statm parsers, and the readers on this very process. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "sockvisor/procfs.h"

static void test_parse_stat(void **state) {
        uint64_t t = 0;
        /* a name with spaces and parentheses: the fields count from the last ')' */
        const char *line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 12 1000 10 "
                           "18446744073709551615\n";
        assert_int_equal(sv_procfs_parse_stat_ticks(line, &t), 0);
        assert_int_equal(t, 250 + 50 + 7 + 3);
        assert_int_equal(sv_procfs_parse_stat_ticks("4242 (x S 1", &t), -EINVAL);
        assert_int_equal(sv_procfs_parse_stat_ticks("4242 (x) S 1 2 3", &t), -EINVAL);
        assert_int_equal(sv_procfs_parse_statm_resident("2000 512 100 1 0 300 0\n", &t), 0);
        assert_int_equal(t, 512);
        assert_int_equal(sv_procfs_parse_statm_resident("2000", &t), -EINVAL);
}

static void test_self(void **state) {
        uint64_t cpu0 = 0, cpu1 = 0, rss = 0;
        assert_int_equal(sv_procfs_cpu_usec(getpid(), &cpu0), 0);
        /* spin about 50 ms of CPU (bounded by the wall clock too) */
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        volatile uint64_t x = 0;
        do {
                for (int k = 0; k < 100000; k++)
                        x += (uint64_t) k;
                clock_gettime(CLOCK_MONOTONIC, &b);
        } while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 50);
        assert_int_equal(sv_procfs_cpu_usec(getpid(), &cpu1), 0);
        assert_true(cpu1 > cpu0); /* ticks are 10 ms: 50 ms of spinning shows */
        assert_int_equal(sv_procfs_rss_bytes(getpid(), &rss), 0);
        assert_true(rss >= 4096 && rss % 4096 == 0);
        /* a pid that does not exist */
        assert_int_equal(sv_procfs_cpu_usec(0x7ffffff0, &cpu0), -ENOENT);
        assert_int_equal(sv_procfs_rss_bytes(0x7ffffff0, &rss), -ENOENT);
}

static void test_self_fds(void **state) {
        unsigned n0 = 0, n1 = 0;
        assert_int_equal(sv_procfs_self_fds(&n0), 0);
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(sv_procfs_self_fds(&n1), 0);
        assert_int_equal(n1, n0 + 1);
        (void) close(fd);
        assert_true(n0 >= 3); /* stdin, stdout, stderr */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_stat),
                cmocka_unit_test(test_self),
                cmocka_unit_test(test_self_fds),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
