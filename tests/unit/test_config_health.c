/* Unit tests for watchdog= and healthcheck= (with healthcheck_interval, _timeout and
 * _failures): what they parse to, and what they refuse. */
#include "config_test.h"

#include "sockvisor/macro.h"

static void config_freep_(SvConfig **c) {
        *c = sv_config_free(*c);
}
#define _cleanup_config_ _cleanup_(config_freep_)

static const char socks[] = "[socket:sock]\nlisten = unix:/run/app.sock\n"
                            "[socket:web]\nlisten = tcp://127.0.0.1:8080\n"
                            "[socket:admin]\nlisten = tcp://[::1]:9090\n";

static SvConfig *program(const char *keys) {
        _cleanup_free_ char *t = xasprintf("%s[program:p]\ncommand = /bin/p\nsockets = sock, web, admin\n%s", socks, keys);
        return parse_ok(t);
}

static void test_defaults(void **state) {
        _cleanup_config_ SvConfig *c = program("");
        const SvProgramConf *p = &c->programs[0];
        assert_int_equal(p->watchdog_usec, 0);
        assert_int_equal(p->health.kind, SV_HEALTH_NONE);
        assert_true(p->health.interval_usec == 10 * USEC_PER_SEC);
        assert_true(p->health.timeout_usec == 2 * USEC_PER_SEC);
        assert_int_equal(p->health.failures, 3);
}

static void test_watchdog(void **state) {
        _cleanup_config_ SvConfig *c = program("watchdog = 1500ms\n");
        assert_true(c->programs[0].watchdog_usec == 1500 * USEC_PER_MSEC);
        _cleanup_config_ SvConfig *off = program("watchdog = 0\n"); /* as WatchdogSec=0 */
        assert_int_equal(off->programs[0].watchdog_usec, 0);
        _cleanup_free_ char *t = xasprintf("%s[program:p]\ncommand = /bin/p\nwatchdog = soon\n", socks);
        expect_error(t, 9, "watchdog: invalid duration 'soon'");
}

/* %(port)s is the first tcp socket's port (a unix socket before it has none), and the URL
 * splits into where to connect, the Host: header and the path. */
static void test_http_port(void **state) {
        _cleanup_config_ SvConfig *c = program("healthcheck = http://127.0.0.1:%(port)s/healthz?deep=1\n"
                                               "healthcheck_interval = 3s\nhealthcheck_timeout = 500ms\n"
                                               "healthcheck_failures = 2\n");
        const SvHealthCheck *h = &c->programs[0].health;
        char a[SV_ADDR_STRLEN];
        assert_int_equal(h->kind, SV_HEALTH_HTTP);
        assert_string_equal(h->target, "http://127.0.0.1:8080/healthz?deep=1");
        assert_string_equal(sv_addr_format(&h->addr, a, sizeof(a)), "tcp://127.0.0.1:8080");
        assert_string_equal(h->host, "127.0.0.1:8080");
        assert_string_equal(h->path, "/healthz?deep=1");
        assert_true(h->interval_usec == 3 * USEC_PER_SEC);
        assert_true(h->timeout_usec == 500 * USEC_PER_MSEC);
        assert_int_equal(h->failures, 2);
        assert_string_equal(sv_health_kind_to_string(h->kind), "http");
}

static void test_http_named_port_and_hosts(void **state) {
        char a[SV_ADDR_STRLEN];
        _cleanup_config_ SvConfig *c = program("healthcheck = http://[::1]:%(port:admin)/ready\n"); /* s optional */
        assert_string_equal(sv_addr_format(&c->programs[0].health.addr, a, sizeof(a)), "tcp://[::1]:9090");
        assert_string_equal(c->programs[0].health.host, "[::1]:9090");

        _cleanup_config_ SvConfig *l = program("healthcheck = http://localhost\n"); /* port 80, path / */
        assert_string_equal(sv_addr_format(&l->programs[0].health.addr, a, sizeof(a)), "tcp://127.0.0.1:80");
        assert_string_equal(l->programs[0].health.host, "localhost");
        assert_string_equal(l->programs[0].health.path, "/");

        _cleanup_config_ SvConfig *pct = program("healthcheck = http://127.0.0.1:%(port)s/a%%20b\n");
        assert_string_equal(pct->programs[0].health.path, "/a%20b");
}

static void test_exec(void **state) {
        _cleanup_config_ SvConfig *c = program("healthcheck = exec:/usr/bin/app-check --quick 'a b'\n");
        const SvHealthCheck *h = &c->programs[0].health;
        assert_int_equal(h->kind, SV_HEALTH_EXEC);
        assert_string_equal(h->argv[0], "/usr/bin/app-check");
        assert_string_equal(h->argv[1], "--quick");
        assert_string_equal(h->argv[2], "a b");
        assert_null(h->argv[3]);
        assert_string_equal(h->target, "/usr/bin/app-check --quick 'a b'");
}

static void test_errors(void **state) {
        static const struct {
                const char *keys;
                unsigned line; /* of the program's keys: 10 is the first after sockets= */
                const char *needle, *needle2;
        } cases[] = {
                { "healthcheck = https://127.0.0.1/\n", 10, "https is not supported", "exec:curl" },
                { "healthcheck = tcp://127.0.0.1:80\n", 10, "is not a probe", "exec:COMMAND" },
                { "healthcheck = http://db.example/\n", 10, "IP address or localhost", NULL },
                { "healthcheck = http://127.0.0.1:%(port:nope)s/\n", 10, "'nope' is not in the program's sockets=", NULL },
                { "healthcheck = http://127.0.0.1:%(port:sock)s/\n", 10, "has no port", "exec:COMMAND" },
                { "healthcheck = http://127.0.0.1:%(fd:web)s/\n", 10, "unknown expansion '%(fd:web)s'", "%(port)s, %(port:NAME)s" },
                { "healthcheck = http://127.0.0.1/a b\n", 10, "space or a control character", "%20" },
                { "healthcheck = http://:80/\n", 10, "IP address or localhost", NULL },
                { "healthcheck = exec:\n", 10, "healthcheck", NULL },
                { "healthcheck = exec:/bin/c\nhealthcheck_timeout = 20s\n", 11, "longer than healthcheck_interval",
                  "at most the interval" },
                { "healthcheck_failures = 2\n", 10, "the program has none", "healthcheck = " },
                { "healthcheck = exec:/bin/c\nhealthcheck_failures = 0\n", 11, "number from 1 to 100", NULL },
                { "healthcheck = exec:/bin/c\nhealthcheck_interval = 0\n", 11, "invalid duration", NULL },
        };
        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_free_ char *t =
                        xasprintf("%s[program:p]\ncommand = /bin/p\nsockets = sock, web, admin\n%s", socks, cases[k].keys);
                expect_error_at(t, cases[k].line, cases[k].needle, cases[k].needle2);
        }
        /* %(port)s with no tcp socket in sockets= */
        _cleanup_free_ char *t = xasprintf("%s[program:p]\ncommand = /bin/p\nsockets = sock\n"
                                           "healthcheck = http://127.0.0.1:%%(port)s/\n",
                                           socks);
        expect_error(t, 10, "has none in sockets=");
}

/* A reload restarts a program whose probe changed, also when only the port %(port)s
 * stands for moved. */
static void test_equal(void **state) {
        _cleanup_config_ SvConfig *a = program("healthcheck = http://127.0.0.1:%(port)s/\n");
        _cleanup_config_ SvConfig *b = program("healthcheck = http://127.0.0.1:%(port)s/\n");
        _cleanup_config_ SvConfig *c = program("healthcheck = http://127.0.0.1:%(port)s/\nhealthcheck_failures = 4\n");
        _cleanup_config_ SvConfig *d = program("watchdog = 5s\nhealthcheck = http://127.0.0.1:%(port)s/\n");
        _cleanup_free_ char *t = xasprintf("[socket:sock]\nlisten = unix:/run/app.sock\n"
                                           "[socket:web]\nlisten = tcp://127.0.0.1:8081\n"
                                           "[socket:admin]\nlisten = tcp://[::1]:9090\n"
                                           "[program:p]\ncommand = /bin/p\nsockets = sock, web, admin\n"
                                           "healthcheck = http://127.0.0.1:%%(port)s/\n");
        _cleanup_config_ SvConfig *moved = parse_ok(t);
        assert_true(sv_program_conf_equal(a, &a->programs[0], b, &b->programs[0]));
        assert_false(sv_program_conf_equal(a, &a->programs[0], c, &c->programs[0]));
        assert_false(sv_program_conf_equal(a, &a->programs[0], d, &d->programs[0]));
        assert_false(sv_program_conf_equal(a, &a->programs[0], moved, &moved->programs[0]));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_watchdog),
                cmocka_unit_test(test_http_port),
                cmocka_unit_test(test_http_named_port_and_hosts),
                cmocka_unit_test(test_exec),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_equal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
