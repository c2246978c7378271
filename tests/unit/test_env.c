/* Unit tests for env.c: the worker's environment and its socket-activation variables. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "sockvisor/cmdline.h"
#include "sockvisor/env.h"
#include "sockvisor/macro.h"

/* How many entries of envp set key (0, or 1 for a well-formed environment). */
static size_t count_key(char *const *envp, const char *key) {
        size_t n = 0, klen = strlen(key);
        for (; envp && *envp; envp++)
                if (strncmp(*envp, key, klen) == 0 && (*envp)[klen] == '=')
                        n++;
        return n;
}

static void assert_var(char *const *envp, const char *key, const char *value) {
        const char *v = sv_env_get(envp, key);
        if (!v || strcmp(v, value) != 0)
                print_error("%s: got '%s', want '%s'\n", key, v ? v : "(unset)", value);
        assert_non_null(v);
        assert_string_equal(v, value);
        assert_int_equal(count_key(envp, key), 1);
}

static void assert_unset(char *const *envp, const char *key) {
        if (sv_env_get(envp, key))
                print_error("%s is set to '%s'\n", key, sv_env_get(envp, key));
        assert_null(sv_env_get(envp, key));
        assert_int_equal(count_key(envp, key), 0);
}

/* Every entry has a '=' and a non-empty key; the vector is NULL-terminated. */
static void assert_well_formed(char *const *envp) {
        assert_non_null(envp);
        for (; *envp; envp++) {
                const char *eq = strchr(*envp, '=');
                assert_non_null(eq);
                assert_true(eq > *envp);
        }
}

static void test_base_passes_through(void **state) {
        char *base[] = { "PATH=/usr/bin:/bin", "HOME=/root", "EMPTY=", "WEIRD=a=b", NULL };
        SvWorkerEnv e = {};

        assert_int_equal(sv_worker_env_build(base, NULL, NULL, 0, NULL, "app", 1, &e), 0);
        assert_well_formed(e.envp);
        assert_var(e.envp, "PATH", "/usr/bin:/bin");
        assert_var(e.envp, "HOME", "/root");
        assert_var(e.envp, "EMPTY", "");
        assert_var(e.envp, "WEIRD", "a=b");
        /* copies, not the caller's strings */
        for (char **p = e.envp; *p; p++)
                for (size_t i = 0; base[i]; i++)
                        assert_ptr_not_equal(*p, base[i]);
        sv_worker_env_done(&e);
        assert_null(e.envp);
        assert_null(e.listen_pid_slot);
}

static void test_program_overrides_base(void **state) {
        char *base[] = { "PORT=1", "KEEP=base", "GREETING=hi", NULL };
        char *prog[] = { "PORT=8080", "GREETING=hello, world", "NEW=x", NULL };
        SvWorkerEnv e = {};

        assert_int_equal(sv_worker_env_build(base, prog, NULL, 0, NULL, "app", 1, &e), 0);
        assert_var(e.envp, "PORT", "8080");
        assert_var(e.envp, "GREETING", "hello, world");
        assert_var(e.envp, "KEEP", "base");
        assert_var(e.envp, "NEW", "x");
        sv_worker_env_done(&e);

        /* a key that is a prefix of another is a different key */
        char *base2[] = { "PORTS=a,b", "POR=c", NULL };
        char *prog2[] = { "PORT=1", NULL };
        assert_int_equal(sv_worker_env_build(base2, prog2, NULL, 0, NULL, "app", 1, &e), 0);
        assert_var(e.envp, "PORTS", "a,b");
        assert_var(e.envp, "POR", "c");
        assert_var(e.envp, "PORT", "1");
        sv_worker_env_done(&e);
}

static void test_supervisor_variables_replaced(void **state) {
        char *base[] = { "LISTEN_FDS=7",      "LISTEN_FDNAMES=stale:names", "LISTEN_PID=1",
                         "NOTIFY_SOCKET=/old", "WATCHDOG_USEC=1000",         "WATCHDOG_PID=1",
                         "SOCKVISOR_PROGRAM=base", "SOCKVISOR_GENERATION=99", "OK=1", NULL };
        char *prog[] = { "LISTEN_FDS=9",       "LISTEN_FDNAMES=evil",  "LISTEN_PID=2",
                         "NOTIFY_SOCKET=/prog", "WATCHDOG_USEC=5",     "WATCHDOG_PID=2",
                         "SOCKVISOR_PROGRAM=prog", "SOCKVISOR_GENERATION=7", "ALSO=2", NULL };
        char *names[] = { "web", "api" };
        SvWorkerEnv e = {};

        assert_int_equal(sv_worker_env_build(base, prog, names, 2, "/run/sockvisor/notify", "app", 3, &e), 0);
        assert_well_formed(e.envp);
        assert_var(e.envp, "LISTEN_FDS", "2");
        assert_var(e.envp, "LISTEN_FDNAMES", "web:api");
        assert_var(e.envp, "LISTEN_PID", "");
        assert_var(e.envp, "NOTIFY_SOCKET", "/run/sockvisor/notify");
        assert_unset(e.envp, "WATCHDOG_USEC");
        assert_unset(e.envp, "WATCHDOG_PID");
        assert_var(e.envp, "SOCKVISOR_PROGRAM", "app");
        assert_var(e.envp, "SOCKVISOR_GENERATION", "3");
        assert_var(e.envp, "OK", "1");
        assert_var(e.envp, "ALSO", "2");
        sv_worker_env_done(&e);

        /* without a notify socket of ours, a stale one is dropped, not passed on */
        assert_int_equal(sv_worker_env_build(base, prog, NULL, 0, NULL, "app", 3, &e), 0);
        assert_unset(e.envp, "NOTIFY_SOCKET");
        assert_unset(e.envp, "LISTEN_FDS");
        assert_unset(e.envp, "LISTEN_FDNAMES");
        assert_unset(e.envp, "LISTEN_PID");
        assert_unset(e.envp, "WATCHDOG_USEC");
        sv_worker_env_done(&e);
}

static void test_no_fds(void **state) {
        char *base[] = { "A=1", NULL };
        SvWorkerEnv e = {};

        assert_int_equal(sv_worker_env_build(base, NULL, NULL, 0, "/run/n", "app", 0, &e), 0);
        for (char **p = e.envp; *p; p++)
                assert_true(strncmp(*p, "LISTEN_", 7) != 0);
        assert_null(e.listen_pid_slot);
        assert_var(e.envp, "NOTIFY_SOCKET", "/run/n");
        assert_var(e.envp, "SOCKVISOR_GENERATION", "0");
        sv_worker_env_set_pid(&e, 42); /* nothing to fill: a no-op, no crash */
        assert_unset(e.envp, "LISTEN_PID");
        sv_worker_env_done(&e);
}

static void test_fdnames(void **state) {
        char *one[] = { "web" };
        char *three[] = { "b", "a", "c-long.name_1" };
        SvWorkerEnv e = {};

        assert_int_equal(sv_worker_env_build(NULL, NULL, one, 1, NULL, "p", 1, &e), 0);
        assert_var(e.envp, "LISTEN_FDNAMES", "web");
        assert_var(e.envp, "LISTEN_FDS", "1");
        assert_non_null(e.listen_pid_slot);
        sv_worker_env_done(&e);

        assert_int_equal(sv_worker_env_build(NULL, NULL, three, 3, NULL, "p", 1, &e), 0);
        assert_var(e.envp, "LISTEN_FDNAMES", "b:a:c-long.name_1");
        assert_var(e.envp, "LISTEN_FDS", "3");
        sv_worker_env_done(&e);

        char *many[64];
        char bufs[64][8];
        for (size_t i = 0; i < 64; i++) {
                (void) snprintf(bufs[i], sizeof(bufs[i]), "s%zu", i);
                many[i] = bufs[i];
        }
        assert_int_equal(sv_worker_env_build(NULL, NULL, many, 64, NULL, "p", 1, &e), 0);
        assert_var(e.envp, "LISTEN_FDS", "64");
        const char *names = sv_env_get(e.envp, "LISTEN_FDNAMES");
        assert_non_null(names);
        assert_true(strncmp(names, "s0:s1:s2:", 9) == 0);
        assert_non_null(strstr(names, ":s62:s63"));
        assert_int_equal(strlen(names), 10 * 2 + 54 * 3 + 63);
        sv_worker_env_done(&e);
}

static void check_pid(SvWorkerEnv *e, pid_t pid, const char *digits) {
        sv_worker_env_set_pid(e, pid);
        assert_string_equal(e->listen_pid_slot, digits);
        assert_var(e->envp, "LISTEN_PID", digits); /* the same entry, seen through envp */
}

static void test_set_pid(void **state) {
        char *names[] = { "web" };
        char max[32];
        SvWorkerEnv e = {};

        assert_int_equal(sv_worker_env_build(NULL, NULL, names, 1, "/n", "app", 1, &e), 0);
        assert_non_null(e.listen_pid_slot);
        size_t n = sv_strv_length(e.envp);
        const char *entry = NULL;
        for (char **p = e.envp; *p; p++)
                if (strncmp(*p, "LISTEN_PID=", 11) == 0)
                        entry = *p;
        assert_non_null(entry);
        assert_ptr_equal(e.listen_pid_slot, entry + strlen("LISTEN_PID="));

        check_pid(&e, 1, "1");
        check_pid(&e, 12345, "12345");
        (void) snprintf(max, sizeof(max), "%d", INT_MAX);
        check_pid(&e, INT_MAX, max);
        check_pid(&e, 7, "7"); /* a shorter pid after a longer one leaves no old digits */
        check_pid(&e, 0, "0");
        check_pid(&e, 4194304, "4194304");
        assert_int_equal(sv_strv_length(e.envp), n); /* written in place, nothing added */
        assert_var(e.envp, "LISTEN_FDS", "1");
        assert_var(e.envp, "NOTIFY_SOCKET", "/n");
        sv_worker_env_done(&e);
}

static void test_program_and_generation(void **state) {
        SvWorkerEnv e = {};

        assert_int_equal(sv_worker_env_build(NULL, NULL, NULL, 0, NULL, "my-app.v2", 17, &e), 0);
        assert_var(e.envp, "SOCKVISOR_PROGRAM", "my-app.v2");
        assert_var(e.envp, "SOCKVISOR_GENERATION", "17");
        sv_worker_env_done(&e);

        assert_int_equal(sv_worker_env_build(NULL, NULL, NULL, 0, NULL, "x", UINT_MAX, &e), 0);
        char max[32];
        (void) snprintf(max, sizeof(max), "%u", UINT_MAX);
        assert_var(e.envp, "SOCKVISOR_GENERATION", max);
        sv_worker_env_done(&e);

        /* everything empty: still a valid environment */
        assert_int_equal(sv_worker_env_build(NULL, NULL, NULL, 0, NULL, NULL, 0, &e), 0);
        assert_well_formed(e.envp);
        assert_unset(e.envp, "SOCKVISOR_PROGRAM");
        assert_var(e.envp, "SOCKVISOR_GENERATION", "0");
        assert_int_equal(sv_strv_length(e.envp), 1);
        sv_worker_env_done(&e);
}

static void test_entries_without_equals_dropped(void **state) {
        char *base[] = { "NOEQUALS", "A=1", "LISTEN_FDS", "", NULL };
        char *prog[] = { "ALSO_NOEQUALS", "B=2", NULL };
        SvWorkerEnv e = {};

        assert_int_equal(sv_worker_env_build(base, prog, NULL, 0, NULL, "p", 1, &e), 0);
        assert_well_formed(e.envp);
        for (char **p = e.envp; *p; p++) {
                assert_string_not_equal(*p, "NOEQUALS");
                assert_string_not_equal(*p, "ALSO_NOEQUALS");
                assert_string_not_equal(*p, "LISTEN_FDS");
                assert_string_not_equal(*p, "");
        }
        assert_var(e.envp, "A", "1");
        assert_var(e.envp, "B", "2");
        /* A, B, SOCKVISOR_PROGRAM, SOCKVISOR_GENERATION */
        assert_int_equal(sv_strv_length(e.envp), 4);
        sv_worker_env_done(&e);
}

static void test_env_get(void **state) {
        char *envp[] = { "A=1", "AB=2", "EMPTY=", "C=x=y", "NOEQ", NULL };

        assert_string_equal(sv_env_get(envp, "A"), "1");
        assert_string_equal(sv_env_get(envp, "AB"), "2");
        assert_string_equal(sv_env_get(envp, "EMPTY"), "");
        assert_string_equal(sv_env_get(envp, "C"), "x=y");
        assert_null(sv_env_get(envp, "ABC"));
        assert_null(sv_env_get(envp, "NOEQ"));
        assert_null(sv_env_get(envp, "a"));
        assert_null(sv_env_get(NULL, "A"));
        char *empty[] = { NULL };
        assert_null(sv_env_get(empty, "A"));
        char *first_wins[] = { "K=first", "K=second", NULL };
        assert_string_equal(sv_env_get(first_wins, "K"), "first");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_base_passes_through),
                cmocka_unit_test(test_program_overrides_base),
                cmocka_unit_test(test_supervisor_variables_replaced),
                cmocka_unit_test(test_no_fds),
                cmocka_unit_test(test_fdnames),
                cmocka_unit_test(test_set_pid),
                cmocka_unit_test(test_program_and_generation),
                cmocka_unit_test(test_entries_without_equals_dropped),
                cmocka_unit_test(test_env_get),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
