/* Unit tests for env.c: the worker's environment and the variables of every fd dialect. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
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

/* The systemd dialect alone, every fd a socket: what every worker got before fd_env=. */
static int build_systemd(char *const *base, char *const *prog, char *const *names, size_t n, const char *notify,
                         const char *program, unsigned gen, SvWorkerEnv *ret) {
        SvWorkerFds f = { .names = names, .n_fds = n, .n_sockets = n, .dialects = SV_FD_ENV_SYSTEMD };
        return sv_worker_env_build(base, prog, &f, notify, program, gen, ret);
}

static void test_base_passes_through(void **state) {
        char *base[] = { "PATH=/usr/bin:/bin", "HOME=/root", "EMPTY=", "WEIRD=a=b", NULL };
        SvWorkerEnv e = {};

        assert_int_equal(build_systemd(base, NULL, NULL, 0, NULL, "app", 1, &e), 0);
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

        assert_int_equal(build_systemd(base, prog, NULL, 0, NULL, "app", 1, &e), 0);
        assert_var(e.envp, "PORT", "8080");
        assert_var(e.envp, "GREETING", "hello, world");
        assert_var(e.envp, "KEEP", "base");
        assert_var(e.envp, "NEW", "x");
        sv_worker_env_done(&e);

        /* a key that is a prefix of another is a different key */
        char *base2[] = { "PORTS=a,b", "POR=c", NULL };
        char *prog2[] = { "PORT=1", NULL };
        assert_int_equal(build_systemd(base2, prog2, NULL, 0, NULL, "app", 1, &e), 0);
        assert_var(e.envp, "PORTS", "a,b");
        assert_var(e.envp, "POR", "c");
        assert_var(e.envp, "PORT", "1");
        sv_worker_env_done(&e);
}

/* intercept_bind: the shim goes first in LD_PRELOAD, whatever LD_PRELOAD the program had
 * stays after it, and SOCKVISOR_BIND_FDS names the sockets (not the fd store's fds). */
static void test_preload(void **state) {
        char *names[] = { "web", "admin", "stored", NULL };
        char *base[] = { "LD_PRELOAD=/usr/lib/libbase.so", "SOCKVISOR_BIND_FDS=9", NULL };
        char *prog[] = { "LD_PRELOAD=/usr/lib/libjemalloc.so.2", NULL };
        SvWorkerFds f = { .names = names, .n_fds = 3, .n_sockets = 2, .dialects = SV_FD_ENV_SYSTEMD,
                          .preload = "/usr/lib/sockvisor/libsockvisor-bind.so" };
        SvWorkerEnv e = {};

        assert_int_equal(sv_worker_env_build(base, prog, &f, NULL, "app", 1, &e), 0);
        assert_well_formed(e.envp);
        assert_var(e.envp, "LD_PRELOAD", "/usr/lib/sockvisor/libsockvisor-bind.so /usr/lib/libjemalloc.so.2");
        assert_var(e.envp, "SOCKVISOR_BIND_FDS", "3,4");
        sv_worker_env_done(&e);

        assert_int_equal(sv_worker_env_build(base, NULL, &f, NULL, "app", 1, &e), 0);
        assert_var(e.envp, "LD_PRELOAD", "/usr/lib/sockvisor/libsockvisor-bind.so /usr/lib/libbase.so");
        sv_worker_env_done(&e);

        assert_int_equal(sv_worker_env_build(NULL, NULL, &f, NULL, "app", 1, &e), 0);
        assert_var(e.envp, "LD_PRELOAD", "/usr/lib/sockvisor/libsockvisor-bind.so");
        sv_worker_env_done(&e);

        /* without the shim, LD_PRELOAD is the environment's own and no SOCKVISOR_BIND_FDS is set */
        f.preload = NULL;
        assert_int_equal(sv_worker_env_build(base, prog, &f, NULL, "app", 1, &e), 0);
        assert_var(e.envp, "LD_PRELOAD", "/usr/lib/libjemalloc.so.2");
        assert_unset(e.envp, "SOCKVISOR_BIND_FDS");
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

        assert_int_equal(build_systemd(base, prog, names, 2, "/run/sockvisor/notify", "app", 3, &e), 0);
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
        assert_int_equal(build_systemd(base, prog, NULL, 0, NULL, "app", 3, &e), 0);
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

        assert_int_equal(build_systemd(base, NULL, NULL, 0, "/run/n", "app", 0, &e), 0);
        for (char **p = e.envp; *p; p++)
                assert_true(strncmp(*p, "LISTEN_", 7) != 0);
        assert_null(e.listen_pid_slot);
        assert_var(e.envp, "NOTIFY_SOCKET", "/run/n");
        assert_var(e.envp, "SOCKVISOR_GENERATION", "0");
        sv_worker_env_set_pid(&e, 42); /* nothing to fill: a no-op, no crash */
        assert_unset(e.envp, "LISTEN_PID");
        sv_worker_env_done(&e);
}

/* watchdog=: WATCHDOG_USEC, and WATCHDOG_PID the worker's own pid (sd_watchdog_enabled()
 * checks it), written after fork like LISTEN_PID; never taken from the base. */
static void test_watchdog(void **state) {
        char *base[] = { "WATCHDOG_USEC=1", "WATCHDOG_PID=1", NULL };
        SvWorkerFds f = { .watchdog_usec = 2500000 };
        SvWorkerEnv e = {};

        assert_int_equal(sv_worker_env_build(base, NULL, &f, "/run/n", "app", 1, &e), 0);
        assert_var(e.envp, "WATCHDOG_USEC", "2500000");
        assert_var(e.envp, "WATCHDOG_PID", "");
        assert_null(e.listen_pid_slot); /* no fds: no LISTEN_PID */
        sv_worker_env_set_pid(&e, 4242);
        assert_var(e.envp, "WATCHDOG_PID", "4242");
        size_t n = 0;
        for (char **p = e.envp; *p; p++)
                n += strncmp(*p, "WATCHDOG_", 9) == 0;
        assert_int_equal(n, 2);
        sv_worker_env_done(&e);

        f.watchdog_usec = 0;
        assert_int_equal(sv_worker_env_build(base, NULL, &f, "/run/n", "app", 1, &e), 0);
        assert_unset(e.envp, "WATCHDOG_USEC");
        assert_unset(e.envp, "WATCHDOG_PID");
        sv_worker_env_done(&e);
}

static void test_fdnames(void **state) {
        char *one[] = { "web" };
        char *three[] = { "b", "a", "c-long.name_1" };
        SvWorkerEnv e = {};

        assert_int_equal(build_systemd(NULL, NULL, one, 1, NULL, "p", 1, &e), 0);
        assert_var(e.envp, "LISTEN_FDNAMES", "web");
        assert_var(e.envp, "LISTEN_FDS", "1");
        assert_non_null(e.listen_pid_slot);
        sv_worker_env_done(&e);

        assert_int_equal(build_systemd(NULL, NULL, three, 3, NULL, "p", 1, &e), 0);
        assert_var(e.envp, "LISTEN_FDNAMES", "b:a:c-long.name_1");
        assert_var(e.envp, "LISTEN_FDS", "3");
        sv_worker_env_done(&e);

        char *many[64];
        char bufs[64][8];
        for (size_t i = 0; i < 64; i++) {
                (void) snprintf(bufs[i], sizeof(bufs[i]), "s%zu", i);
                many[i] = bufs[i];
        }
        assert_int_equal(build_systemd(NULL, NULL, many, 64, NULL, "p", 1, &e), 0);
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

        assert_int_equal(build_systemd(NULL, NULL, names, 1, "/n", "app", 1, &e), 0);
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

        assert_int_equal(build_systemd(NULL, NULL, NULL, 0, NULL, "my-app.v2", 17, &e), 0);
        assert_var(e.envp, "SOCKVISOR_PROGRAM", "my-app.v2");
        assert_var(e.envp, "SOCKVISOR_GENERATION", "17");
        sv_worker_env_done(&e);

        assert_int_equal(build_systemd(NULL, NULL, NULL, 0, NULL, "x", UINT_MAX, &e), 0);
        char max[32];
        (void) snprintf(max, sizeof(max), "%u", UINT_MAX);
        assert_var(e.envp, "SOCKVISOR_GENERATION", max);
        sv_worker_env_done(&e);

        /* everything empty: still a valid environment */
        assert_int_equal(build_systemd(NULL, NULL, NULL, 0, NULL, NULL, 0, &e), 0);
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

        assert_int_equal(build_systemd(base, prog, NULL, 0, NULL, "p", 1, &e), 0);
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

static SvAddr addr(const char *s) {
        SvAddr a = {};
        SvDiag d = {};
        if (sv_addr_parse(s, &a, &d) < 0)
                print_error("%s: %s\n", s, d.msg);
        assert_int_equal(a.family != 0, 1);
        return a;
}

/* Two sockets and one fd from the fd store, every dialect on. */
static void test_every_dialect(void **state) {
        char *names[] = { "web", "app", "cache" };
        SvAddr addrs[] = { addr("tcp://127.0.0.1:8080"), addr("unix:/run/app.sock") };
        SvWorkerFds f = {
                .names = names, .n_fds = 3, .n_sockets = 2, .addrs = addrs, .dialects = SV_FD_ENV_ALL,
        };
        SvWorkerEnv e = {};

        assert_int_equal(sv_worker_env_build(NULL, NULL, &f, NULL, "p", 5, &e), 0);
        assert_well_formed(e.envp);
        /* systemd: every fd, the fd store's too */
        assert_var(e.envp, "LISTEN_FDS", "3");
        assert_var(e.envp, "LISTEN_FDNAMES", "web:app:cache");
        assert_var(e.envp, "LISTEN_PID", "");
        assert_non_null(e.listen_pid_slot);
        /* the others: the held sockets only */
        assert_var(e.envp, "SERVER_STARTER_PORT", "127.0.0.1:8080=3;/run/app.sock=4");
        assert_var(e.envp, "SERVER_STARTER_GENERATION", "5");
        assert_var(e.envp, "EINHORN_FD_COUNT", "2");
        assert_var(e.envp, "EINHORN_FD_0", "3");
        assert_var(e.envp, "EINHORN_FD_1", "4");
        assert_unset(e.envp, "EINHORN_FD_2");
        assert_var(e.envp, "EINHORN_FD_FAMILY_0", "AF_INET");
        assert_var(e.envp, "EINHORN_FD_FAMILY_1", "AF_UNIX");
        assert_var(e.envp, "EINHORN_FDS", "3 4");
        assert_unset(e.envp, "EINHORN_MASTER_PID"); /* no einhorn ack socket to promise */
        assert_var(e.envp, "NGINX", "3;4;");
        sv_worker_env_done(&e);
}

/* The default: systemd, server_starter, einhorn; not nginx. */
static void test_default_dialects(void **state) {
        char *names[] = { "web" };
        SvAddr addrs[] = { addr("tcp://[::1]:8443") };
        SvWorkerFds f = { .names = names, .n_fds = 1, .n_sockets = 1, .addrs = addrs, .dialects = SV_FD_ENV_DEFAULT };
        SvWorkerEnv e = {};

        assert_int_equal(sv_worker_env_build(NULL, NULL, &f, NULL, "p", 1, &e), 0);
        assert_var(e.envp, "LISTEN_FDS", "1");
        assert_var(e.envp, "SERVER_STARTER_PORT", "[::1]:8443=3");
        assert_var(e.envp, "SERVER_STARTER_GENERATION", "1");
        assert_var(e.envp, "EINHORN_FD_COUNT", "1");
        assert_var(e.envp, "EINHORN_FD_0", "3");
        assert_var(e.envp, "EINHORN_FD_FAMILY_0", "AF_INET6");
        assert_unset(e.envp, "NGINX");
        sv_worker_env_done(&e);
}

/* Each dialect alone sets its own variables and no other's. */
static void test_one_dialect_each(void **state) {
        char *names[] = { "a", "b" };
        SvAddr addrs[] = { addr("tcp://0.0.0.0:80"), addr("tcp://[::]:81") };
        static const char *const vars[] = { "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PID", "SERVER_STARTER_PORT",
                                            "SERVER_STARTER_GENERATION", "EINHORN_FD_COUNT", "EINHORN_FD_0",
                                            "EINHORN_FDS", "NGINX" };
        static const unsigned owner[] = { SV_FD_ENV_SYSTEMD,        SV_FD_ENV_SYSTEMD, SV_FD_ENV_SYSTEMD,
                                          SV_FD_ENV_SERVER_STARTER, SV_FD_ENV_SERVER_STARTER, SV_FD_ENV_EINHORN,
                                          SV_FD_ENV_EINHORN,        SV_FD_ENV_EINHORN, SV_FD_ENV_NGINX };
        static const unsigned each[] = { SV_FD_ENV_SYSTEMD, SV_FD_ENV_SERVER_STARTER, SV_FD_ENV_EINHORN, SV_FD_ENV_NGINX, 0 };

        for (size_t k = 0; k < ELEMENTSOF(each); k++) {
                SvWorkerFds f = { .names = names, .n_fds = 2, .n_sockets = 2, .addrs = addrs, .dialects = each[k] };
                SvWorkerEnv e = {};
                assert_int_equal(sv_worker_env_build(NULL, NULL, &f, NULL, "p", 2, &e), 0);
                for (size_t v = 0; v < ELEMENTSOF(vars); v++)
                        if (owner[v] == each[k])
                                assert_non_null(sv_env_get(e.envp, vars[v]));
                        else
                                assert_unset(e.envp, vars[v]);
                assert_true((e.listen_pid_slot != NULL) == (each[k] == SV_FD_ENV_SYSTEMD));
                if (each[k] == SV_FD_ENV_SERVER_STARTER)
                        assert_var(e.envp, "SERVER_STARTER_PORT", "80=3;[::]:81=4");
                if (each[k] == SV_FD_ENV_NGINX)
                        assert_var(e.envp, "NGINX", "3;4;");
                sv_worker_env_set_pid(&e, 42); /* without systemd: nothing to fill, no crash */
                sv_worker_env_done(&e);
        }
}

/* Stale values of every dialect, from the daemon's environment or environment=, never
 * reach the worker, whether the dialect is on or off. */
static void test_stale_dialect_variables_dropped(void **state) {
        char *base[] = { "SERVER_STARTER_PORT=0.0.0.0:1=9", "SERVER_STARTER_GENERATION=41", "EINHORN_FD_COUNT=3",
                         "EINHORN_FD_0=9", "EINHORN_FD_7=10", "EINHORN_FD_FAMILY_0=AF_INET", "EINHORN_FDS=9 10",
                         "EINHORN_MASTER_PID=1", "EINHORN_SOCK_PATH=/tmp/e", "NGINX=9;10;", "LISTEN_FDS=2",
                         "NGINX_HOME=/srv/nginx", "EINHORNISH=1", "SERVER_STARTER=keep", NULL };
        char *prog[] = { "NGINX=11;", "SERVER_STARTER_PORT=x=1", "EINHORN_FD_COUNT=9", "MINE=1", NULL };
        char *names[] = { "web" };
        SvAddr addrs[] = { addr("tcp://127.0.0.1:1") };
        static const unsigned masks[] = { 0, SV_FD_ENV_SYSTEMD, SV_FD_ENV_ALL };

        for (size_t k = 0; k < ELEMENTSOF(masks); k++) {
                SvWorkerFds f = { .names = names, .n_fds = 1, .n_sockets = 1, .addrs = addrs, .dialects = masks[k] };
                SvWorkerEnv e = {};
                assert_int_equal(sv_worker_env_build(base, prog, &f, NULL, "p", 3, &e), 0);
                for (char **v = e.envp; *v; v++)
                        assert_true(strncmp(*v, "EINHORN_", 8) != 0 || masks[k] & SV_FD_ENV_EINHORN);
                assert_unset(e.envp, "EINHORN_FD_7");
                assert_unset(e.envp, "EINHORN_MASTER_PID");
                assert_unset(e.envp, "EINHORN_SOCK_PATH");
                if (masks[k] == SV_FD_ENV_ALL) {
                        assert_var(e.envp, "SERVER_STARTER_PORT", "127.0.0.1:1=3");
                        assert_var(e.envp, "SERVER_STARTER_GENERATION", "3");
                        assert_var(e.envp, "EINHORN_FD_COUNT", "1");
                        assert_var(e.envp, "EINHORN_FD_0", "3");
                        assert_var(e.envp, "NGINX", "3;");
                } else {
                        assert_unset(e.envp, "SERVER_STARTER_PORT");
                        assert_unset(e.envp, "SERVER_STARTER_GENERATION");
                        assert_unset(e.envp, "EINHORN_FD_COUNT");
                        assert_unset(e.envp, "EINHORN_FD_0");
                        assert_unset(e.envp, "NGINX");
                }
                if (masks[k] == 0)
                        assert_unset(e.envp, "LISTEN_FDS");
                /* keys that only begin like a dialect's are the user's */
                assert_var(e.envp, "NGINX_HOME", "/srv/nginx");
                assert_var(e.envp, "EINHORNISH", "1");
                assert_var(e.envp, "SERVER_STARTER", "keep");
                assert_var(e.envp, "MINE", "1");
                sv_worker_env_done(&e);
        }
}

/* The fd store's fds are systemd's alone: the other dialects name held sockets. */
static void test_fdstore_fds_systemd_only(void **state) {
        char *names[] = { "cache", "conn" };
        SvWorkerFds f = { .names = names, .n_fds = 2, .n_sockets = 0, .dialects = SV_FD_ENV_ALL };
        SvWorkerEnv e = {};

        assert_int_equal(sv_worker_env_build(NULL, NULL, &f, NULL, "p", 1, &e), 0);
        assert_var(e.envp, "LISTEN_FDS", "2");
        assert_var(e.envp, "LISTEN_FDNAMES", "cache:conn");
        assert_unset(e.envp, "SERVER_STARTER_PORT");
        assert_unset(e.envp, "SERVER_STARTER_GENERATION");
        assert_unset(e.envp, "EINHORN_FD_COUNT");
        assert_unset(e.envp, "EINHORN_FDS");
        assert_unset(e.envp, "NGINX");
        sv_worker_env_done(&e);

        /* n_sockets beyond n_fds is clamped, never read past */
        f.n_sockets = 5;
        f.n_fds = 1;
        f.dialects = SV_FD_ENV_NGINX | SV_FD_ENV_EINHORN;
        assert_int_equal(sv_worker_env_build(NULL, NULL, &f, NULL, "p", 1, &e), 0);
        assert_var(e.envp, "NGINX", "3;");
        assert_var(e.envp, "EINHORN_FD_COUNT", "1");
        assert_unset(e.envp, "EINHORN_FD_FAMILY_0"); /* no addresses given: family unknown */
        sv_worker_env_done(&e);
}

static void check_port(const char *listen, const char *want) {
        SvAddr a = addr(listen);
        char buf[SV_ADDR_STRLEN];
        int r = sv_server_starter_port(&a, buf, sizeof(buf));
        if (want) {
                if (r < 0)
                        print_error("%s: %d\n", listen, r);
                assert_int_equal(r, 0);
                assert_string_equal(buf, want);
        } else
                assert_int_equal(r, -EINVAL);
}

/* As Server::Starter writes them (Server/Starter.pm: "$host:$port", "[$host]:$port", a bare
 * port for --port 8080, which binds 0.0.0.0, and the path of a unix socket). */
static void test_server_starter_spelling(void **state) {
        check_port("tcp://127.0.0.1:8080", "127.0.0.1:8080");
        check_port("tcp://0.0.0.0:8080", "8080");
        check_port("tcp://10.1.2.3:1", "10.1.2.3:1");
        check_port("tcp://[::1]:8080", "[::1]:8080");
        check_port("tcp://[::]:8080", "[::]:8080");
        check_port("tcp://[2001:db8::5]:443", "[2001:db8::5]:443");
        check_port("udp://0.0.0.0:53", "53");
        check_port("udp://127.0.0.1:53", "127.0.0.1:53");
        check_port("unix:/run/app.sock", "/run/app.sock");
        check_port("unix:@app", "@app");
        check_port("unix-dgram:/run/log.sock", "/run/log.sock"); /* the path, whatever the type */
        check_port("unix-seqpacket:@seq", "@seq");
        /* what a reader would split in the wrong place */
        check_port("unix:/run/a;b.sock", NULL);
        check_port("unix:/run/a=b.sock", NULL);
        check_port("unix:@x;y", NULL);

        SvAddr a = addr("tcp://127.0.0.1:8080");
        char small[8];
        assert_int_equal(sv_server_starter_port(&a, small, sizeof(small)), -EINVAL); /* does not fit */
        char exact[15];
        assert_int_equal(sv_server_starter_port(&a, exact, sizeof(exact)), 0);
        assert_string_equal(exact, "127.0.0.1:8080");
        SvAddr unknown = {};
        assert_int_equal(sv_server_starter_port(&unknown, exact, sizeof(exact)), -EINVAL);
        assert_int_equal(sv_server_starter_port(NULL, exact, sizeof(exact)), -EINVAL);

        /* in the variable, a socket without a spelling is left out; the rest keep their fds */
        char *names[] = { "bad", "good", "bad2" };
        SvAddr addrs[] = { addr("unix:/tmp/a;b"), addr("tcp://127.0.0.1:9"), {} };
        SvWorkerFds f = { .names = names, .n_fds = 3, .n_sockets = 3, .addrs = addrs, .dialects = SV_FD_ENV_SERVER_STARTER };
        SvWorkerEnv e = {};
        assert_int_equal(sv_worker_env_build(NULL, NULL, &f, NULL, "p", 1, &e), 0);
        assert_var(e.envp, "SERVER_STARTER_PORT", "127.0.0.1:9=4");
        sv_worker_env_done(&e);
        /* none has one: as if the dialect were off */
        f.addrs = NULL;
        assert_int_equal(sv_worker_env_build(NULL, NULL, &f, NULL, "p", 1, &e), 0);
        assert_unset(e.envp, "SERVER_STARTER_PORT");
        assert_unset(e.envp, "SERVER_STARTER_GENERATION");
        sv_worker_env_done(&e);
}

/* 64 sockets: long values are built whole. */
static void test_many_sockets(void **state) {
        char *names[64];
        char nb[64][8];
        SvAddr addrs[64];
        for (size_t i = 0; i < 64; i++) {
                char l[64];
                (void) snprintf(nb[i], sizeof(nb[i]), "s%zu", i);
                names[i] = nb[i];
                (void) snprintf(l, sizeof(l), "tcp://127.0.0.1:%zu", 10000 + i);
                addrs[i] = addr(l);
        }
        SvWorkerFds f = { .names = names, .n_fds = 64, .n_sockets = 64, .addrs = addrs, .dialects = SV_FD_ENV_ALL };
        SvWorkerEnv e = {};
        assert_int_equal(sv_worker_env_build(NULL, NULL, &f, NULL, "p", 1, &e), 0);
        const char *ss = sv_env_get(e.envp, "SERVER_STARTER_PORT");
        assert_non_null(ss);
        assert_true(strncmp(ss, "127.0.0.1:10000=3;127.0.0.1:10001=4;", 36) == 0);
        assert_non_null(strstr(ss, ";127.0.0.1:10063=66"));
        assert_int_equal(strlen(ss), 64 * strlen("127.0.0.1:10000=") + 7 * 1 + 57 * 2 + 63);
        assert_var(e.envp, "EINHORN_FD_63", "66");
        assert_var(e.envp, "EINHORN_FD_COUNT", "64");
        const char *ng = sv_env_get(e.envp, "NGINX");
        assert_non_null(ng);
        assert_true(strncmp(ng, "3;4;5;", 6) == 0);
        assert_int_equal(strlen(ng), 7 * 2 + 57 * 3);
        sv_worker_env_done(&e);
}

static void expect_fd_env(const char *s, unsigned want) {
        unsigned got = 12345;
        SvDiag d = {};
        int r = sv_fd_env_parse(s, &got, &d);
        if (r < 0)
                print_error("'%s': %s\n", s, d.msg);
        assert_int_equal(r, 0);
        assert_int_equal(got, want);
}

static void expect_fd_env_error(const char *s, const char *needle) {
        unsigned got = 12345;
        SvDiag d = {};
        assert_int_equal(sv_fd_env_parse(s, &got, &d), -EINVAL);
        assert_int_equal(got, 12345); /* untouched */
        if (!strstr(d.msg, needle))
                print_error("'%s': message '%s' lacks '%s'\n", s, d.msg, needle);
        assert_non_null(strstr(d.msg, needle));
        assert_non_null(strstr(d.msg, "systemd, server_starter, einhorn, nginx, or none")); /* what is valid */
}

static void test_fd_env_parse(void **state) {
        expect_fd_env("systemd", SV_FD_ENV_SYSTEMD);
        expect_fd_env("systemd,server_starter,einhorn", SV_FD_ENV_DEFAULT);
        expect_fd_env("nginx", SV_FD_ENV_NGINX);
        expect_fd_env("einhorn, nginx", SV_FD_ENV_EINHORN | SV_FD_ENV_NGINX);
        expect_fd_env(" server_starter ,\tsystemd ", SV_FD_ENV_SERVER_STARTER | SV_FD_ENV_SYSTEMD);
        expect_fd_env("nginx,einhorn,server_starter,systemd", SV_FD_ENV_ALL);
        expect_fd_env("none", 0);
        expect_fd_env(" none ", 0);

        expect_fd_env_error("sytemd", "'sytemd' is not an fd dialect");
        expect_fd_env_error("systemd,Nginx", "'Nginx' is not an fd dialect");
        expect_fd_env_error("server-starter", "'server-starter' is not an fd dialect");
        expect_fd_env_error("systemd systemd", "'systemd systemd' is not an fd dialect");
        expect_fd_env_error("einhorn,einhorn", "'einhorn' is listed twice");
        expect_fd_env_error("systemd,,nginx", "an empty name");
        expect_fd_env_error(",systemd", "an empty name");
        expect_fd_env_error("systemd,", "ends in a comma");
        expect_fd_env_error("", "no value");
        expect_fd_env_error("  ", "an empty name");
        expect_fd_env_error("none,systemd", "'none' must stand alone");
        expect_fd_env_error("systemd,none", "'none' must stand alone");
        expect_fd_env_error("none,none", "'none' must stand alone");
        expect_fd_env_error(NULL, "no value");

        char buf[SV_FD_ENV_STRLEN];
        assert_string_equal(sv_fd_env_format(SV_FD_ENV_DEFAULT, buf, sizeof(buf)), "systemd,server_starter,einhorn");
        assert_string_equal(sv_fd_env_format(SV_FD_ENV_ALL, buf, sizeof(buf)), "systemd,server_starter,einhorn,nginx");
        assert_string_equal(sv_fd_env_format(SV_FD_ENV_NGINX, buf, sizeof(buf)), "nginx");
        assert_string_equal(sv_fd_env_format(0, buf, sizeof(buf)), "none");
        for (unsigned m = 0; m <= SV_FD_ENV_ALL; m++) { /* every mask reads back as itself */
                unsigned back = 99;
                assert_int_equal(sv_fd_env_parse(sv_fd_env_format(m, buf, sizeof(buf)), &back, NULL), 0);
                assert_int_equal(back, m);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_base_passes_through),
                cmocka_unit_test(test_preload),
                cmocka_unit_test(test_program_overrides_base),
                cmocka_unit_test(test_supervisor_variables_replaced),
                cmocka_unit_test(test_no_fds),
                cmocka_unit_test(test_fdnames),
                cmocka_unit_test(test_set_pid),
                cmocka_unit_test(test_watchdog),
                cmocka_unit_test(test_program_and_generation),
                cmocka_unit_test(test_entries_without_equals_dropped),
                cmocka_unit_test(test_env_get),
                cmocka_unit_test(test_every_dialect),
                cmocka_unit_test(test_default_dialects),
                cmocka_unit_test(test_one_dialect_each),
                cmocka_unit_test(test_stale_dialect_variables_dropped),
                cmocka_unit_test(test_fdstore_fds_systemd_only),
                cmocka_unit_test(test_server_starter_spelling),
                cmocka_unit_test(test_many_sockets),
                cmocka_unit_test(test_fd_env_parse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
