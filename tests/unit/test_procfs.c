/* procfs.c: the /proc/PID/stat and statm parsers, and the readers on this very process. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
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
        assert_int_equal(sv_procfs_parse_stat_ticks("4242 (x)", &t), -EINVAL);
        assert_int_equal(sv_procfs_parse_stat_ticks(NULL, &t), -EINVAL);
        /* a field that is not a number, or one too long to be one */
        assert_int_equal(sv_procfs_parse_stat_ticks("1 (x) S 1 1 0 0 0 0 0 0 0 0 2x0 50 7 3 20 0 1 0 12 1000 10\n", &t),
                         -EINVAL);
        assert_int_equal(sv_procfs_parse_stat_ticks("1 (x) S 1 1 0 0 0 0 0 0 0 0 99999999999999999999 0 0 0 20 0 1 0 "
                                                    "12 1000 10\n", &t),
                         -EINVAL);
        /* the last field (rss) must be there: cut short before it */
        assert_int_equal(sv_procfs_parse_stat_ticks("1 (x) S 1 1 0 0 0 0 0 0 0 0 2 5 7 3 20 0 1 0 12 1000", &t), -EINVAL);
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

/* A child in our process group, paused until killed. */
static pid_t pause_child(bool own_group) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (own_group)
                        (void) setpgid(0, 0);
                for (int k = 0; k < 300; k++) /* bounded: 30 s at most, should the test die first */
                        (void) usleep(100 * 1000);
                _exit(0);
        }
        if (own_group)
                (void) setpgid(pid, pid); /* either side's call wins the race */
        return pid;
}

static void kill_child(pid_t pid) {
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
}

/* More than 16 groups: one walk of /proc, kept for SV_PROC_SAMPLE_MAX_AGE_USEC unless a
 * group asked for is missing from it. */
static void test_group_usage_sample(void **state) {
        enum { N = 17 };
        pid_t pgids[N + 1];
        SvGroupUsage u[N + 1];
        SvProcSample *cache = NULL;
        (void) setpgid(0, 0); /* a group of our own: ctest's other tests do not come and go in it */
        for (int k = 0; k < N; k++)
                pgids[k] = getpgrp();
        const uint64_t t0 = 1000 * 1000 * 1000;

        sv_procfs_group_usage(&cache, t0, pgids, N, u);
        unsigned before = u[0].procs;
        assert_true(before >= 1);
        assert_true(u[0].rss_bytes >= 4096 && u[0].rss_bytes % 4096 == 0);
        assert_int_equal(u[N - 1].procs, before); /* each asks for the same group */

        pid_t same = pause_child(false);
        sv_procfs_group_usage(&cache, t0 + 1000, pgids, N, u); /* young enough: the sample answers */
        assert_int_equal(u[0].procs, before);
        sv_procfs_group_usage(&cache, t0 + SV_PROC_SAMPLE_MAX_AGE_USEC, pgids, N, u); /* too old: walked again */
        assert_int_equal(u[0].procs, before + 1);

        pid_t own = pause_child(true);
        pgids[N] = own;
        sv_procfs_group_usage(&cache, t0 + SV_PROC_SAMPLE_MAX_AGE_USEC + 1, pgids, N + 1, u); /* a new group: walked */
        assert_int_equal(u[N].procs, 1);
        assert_int_equal(u[0].procs, before + 1);

        pgids[N] = 0; /* not running: zeros, and no reason to walk */
        sv_procfs_group_usage(&cache, t0 + SV_PROC_SAMPLE_MAX_AGE_USEC + 2, pgids, N + 1, u);
        assert_int_equal(u[N].procs, 0);
        assert_int_equal(u[N].rss_bytes, 0);
        kill_child(same);
        kill_child(own);
        cache = sv_proc_sample_free(cache);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_stat),
                cmocka_unit_test(test_self),
                cmocka_unit_test(test_self_fds),
                cmocka_unit_test(test_group_usage_sample),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
