/* Unit tests for the keys of issue 12: intercept_bind=, ready = accepting and drain=, and
 * what they imply for the program and its sockets. */
#include "config_test.h"

#include "sockvisor/macro.h"

static void config_freep_(SvConfig **c) {
        *c = sv_config_free(*c);
}
#define _cleanup_config_ _cleanup_(config_freep_)

static const char web[] = "[socket:web]\nlisten = tcp://127.0.0.1:8080\n";

static void test_defaults(void **state) {
        _cleanup_free_ char *t = xasprintf("%s[program:p]\ncommand = /bin/p\nsockets = web\n", web);
        _cleanup_config_ SvConfig *c = parse_ok(t);
        assert_false(c->programs[0].intercept_bind);
        assert_int_equal(c->programs[0].drain, SV_DRAIN_SIGNAL);
        assert_int_equal(c->programs[0].ready, SV_READY_STARTED);
        assert_true(c->sockets[0].blocking); /* as systemd: NonBlocking=false */
        assert_false(c->programs[0].killasgroup);
}

/* A self-binding server says nothing about readiness: accepting is its default, and its
 * listener is non-blocking (the shim keeps each process's own blocking mode). */
static void test_intercept_implies(void **state) {
        _cleanup_free_ char *t = xasprintf("%s[program:p]\ncommand = /bin/p\nsockets = web\nintercept_bind = yes\n", web);
        _cleanup_config_ SvConfig *c = parse_ok(t);
        assert_true(c->programs[0].intercept_bind);
        assert_int_equal(c->programs[0].ready, SV_READY_ACCEPTING);
        assert_false(c->sockets[0].blocking);
        assert_string_equal(sv_ready_mode_to_string(c->programs[0].ready), "accepting");
}

static void test_intercept_keeps_written_ready(void **state) {
        _cleanup_free_ char *t =
                xasprintf("%s[program:p]\ncommand = /bin/p\nsockets = web\nready = notify\nintercept_bind = yes\n", web);
        _cleanup_config_ SvConfig *c = parse_ok(t);
        assert_int_equal(c->programs[0].ready, SV_READY_NOTIFY);
}

static void test_intercept_blocking_conflict(void **state) {
        _cleanup_free_ char *t = xasprintf("[socket:web]\nlisten = tcp://127.0.0.1:8080\nblocking = yes\n"
                                           "[program:p]\ncommand = /bin/p\nsockets = web\nintercept_bind = yes\n");
        expect_error_at(t, 3, "[socket:web] blocking", "intercept_bind = yes");
        /* blocking = no is what it gets anyway */
        _cleanup_free_ char *t2 = xasprintf("[socket:web]\nlisten = tcp://127.0.0.1:8080\nblocking = no\n"
                                            "[program:p]\ncommand = /bin/p\nsockets = web\nintercept_bind = yes\n");
        _cleanup_config_ SvConfig *c = parse_ok(t2);
        assert_false(c->sockets[0].blocking);
}

static void test_intercept_needs_sockets(void **state) {
        expect_error_at("[program:p]\ncommand = /bin/p\nintercept_bind = yes\n", 3, "intercept_bind", "sockets=");
        expect_error_at("[program:p]\ncommand = /bin/p\nintercept_bind = maybe\n", 3, "intercept_bind", "yes or no");
}

static void test_accepting_needs_sockets(void **state) {
        expect_error_at("[program:p]\ncommand = /bin/p\nready = accepting\n", 3, "ready = accepting", "sockets=");
        _cleanup_free_ char *t = xasprintf("%s[program:p]\ncommand = /bin/p\nsockets = web\nready = accepting\n", web);
        _cleanup_config_ SvConfig *c = parse_ok(t);
        assert_int_equal(c->programs[0].ready, SV_READY_ACCEPTING);
        assert_true(c->sockets[0].blocking); /* no shim: blocking= as written */
        expect_error_at("[program:p]\ncommand = /bin/p\nready = listening\n", 3, "accepting", "notify");
}

static void test_drain(void **state) {
        _cleanup_free_ char *t = xasprintf("%s[program:p]\ncommand = /bin/p\nsockets = web\ndrain = idle\n", web);
        _cleanup_config_ SvConfig *c = parse_ok(t);
        assert_int_equal(c->programs[0].drain, SV_DRAIN_IDLE);
        assert_true(c->programs[0].killasgroup); /* frozen and killed as a whole */
        assert_string_equal(sv_drain_mode_to_string(SV_DRAIN_IDLE), "idle");
        expect_error_at("[program:p]\ncommand = /bin/p\ndrain = graceful\n", 3, "drain: 'graceful'", "signal");
}

/* A reload that turns either on restarts the program: they change how it runs. */
static void test_equal(void **state) {
        _cleanup_free_ char *a = xasprintf("%s[program:p]\ncommand = /bin/p\nsockets = web\n", web);
        _cleanup_free_ char *b = xasprintf("%s[program:p]\ncommand = /bin/p\nsockets = web\ndrain = idle\n", web);
        _cleanup_free_ char *i = xasprintf("%s[program:p]\ncommand = /bin/p\nsockets = web\nintercept_bind = on\nready = started\n", web);
        _cleanup_config_ SvConfig *ca = parse_ok(a);
        _cleanup_config_ SvConfig *cb = parse_ok(b);
        _cleanup_config_ SvConfig *ci = parse_ok(i);
        assert_true(sv_program_conf_equal(ca, &ca->programs[0], ca, &ca->programs[0]));
        assert_false(sv_program_conf_equal(ca, &ca->programs[0], cb, &cb->programs[0]));
        assert_false(sv_program_conf_equal(ca, &ca->programs[0], ci, &ci->programs[0]));
        assert_false(sv_socket_conf_equal(&ca->sockets[0], &ci->sockets[0])); /* non-blocking now */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_intercept_implies),
                cmocka_unit_test(test_intercept_keeps_written_ready),
                cmocka_unit_test(test_intercept_blocking_conflict),
                cmocka_unit_test(test_intercept_needs_sockets),
                cmocka_unit_test(test_accepting_needs_sockets),
                cmocka_unit_test(test_drain),
                cmocka_unit_test(test_equal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
