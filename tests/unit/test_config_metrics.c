/* Unit tests for [sockvisord] metrics= and metrics_mode= (issue 13): the values, the errors,
 * and what a reload compares. */
#include "config_test.h"

#include <sys/un.h>

#include "sockvisor/macro.h"

static void config_freep_(SvConfig **c) {
        *c = sv_config_free(*c);
}
#define _cleanup_config_ _cleanup_(config_freep_)

static void test_off_by_default(void **state) {
        _cleanup_config_ SvConfig *c = parse_ok("[sockvisord]\ncontrol = /run/x.sock\n");
        assert_null(c->metrics);
        assert_int_equal(c->metrics_mode, 0660);
}

static void test_tcp(void **state) {
        _cleanup_config_ SvConfig *c = parse_ok("[sockvisord]\nmetrics = tcp://127.0.0.1:9101\n");
        assert_string_equal(c->metrics, "tcp://127.0.0.1:9101");
        assert_int_equal(c->metrics_addr.family, AF_INET);
        assert_int_equal(c->metrics_addr.socktype, SOCK_STREAM);
        assert_int_equal(sv_addr_port(&c->metrics_addr), 9101);
        assert_int_equal(c->metrics_line, 2);
}

static void test_unix(void **state) {
        _cleanup_config_ SvConfig *c =
                parse_ok("[sockvisord]\nmetrics = unix:/run/sockvisor/metrics.sock\nmetrics_mode = 0666\n");
        assert_int_equal(c->metrics_addr.family, AF_UNIX);
        assert_false(c->metrics_addr.abstract);
        assert_int_equal(c->metrics_mode, 0666);
        _cleanup_config_ SvConfig *a = parse_ok("[sockvisord]\nmetrics = unix:@sockvisor-metrics\n");
        assert_true(a->metrics_addr.abstract);
}

static void test_errors(void **state) {
        expect_error_at("[sockvisord]\nmetrics = udp://127.0.0.1:9101\n", 2, "[sockvisord] metrics",
                        "not a stream address");
        expect_error_at("[sockvisord]\nmetrics = unix-dgram:/run/m.sock\n", 2, "not a stream address",
                        "tcp://127.0.0.1:9101");
        expect_error_at("[sockvisord]\nmetrics = 9101\n", 2, "[sockvisord] metrics", NULL);
        expect_error_at("[sockvisord]\nmetrics = tcp://127.0.0.1\n", 2, "has no port", NULL);
        expect_error_at("[sockvisord]\nmetrics = tcp://localhost:9101\n", 2, "[sockvisord] metrics", NULL);
        expect_error_at("[sockvisord]\nmetrics_mode = rw\n", 2, "metrics_mode", "0660");
        expect_error_at("[sockvisord]\nmetrics = tcp://127.0.0.1:1\nmetrics = tcp://127.0.0.1:2\n", 3, "metrics",
                        NULL);
        /* the unknown-key message lists the new keys */
        expect_error_at("[sockvisord]\nmetric = tcp://127.0.0.1:1\n", 2, "'metric'", "metrics, metrics_mode");
}

static void test_clash_with_socket(void **state) {
        expect_error_at("[sockvisord]\nmetrics = tcp://127.0.0.1:8080\n[socket:web]\nlisten = tcp://0.0.0.0:8080\n", 2,
                        "[socket:web] (line 4) already listens on 'tcp://0.0.0.0:8080', which includes it",
                        "its own port");
        expect_error_at("[socket:u]\nlisten = unix:/run/m.sock\n[sockvisord]\nmetrics = unix:/run/m.sock\n", 4,
                        "[socket:u]", "the same address");
        /* another port, or udp on the same port: no clash */
        _cleanup_config_ SvConfig *c = parse_ok("[sockvisord]\nmetrics = tcp://127.0.0.1:9101\n[socket:d]\n"
                                                "listen = udp://127.0.0.1:9101\n[socket:w]\nlisten = tcp://127.0.0.1:9102\n");
        assert_non_null(c->metrics);
}

static void test_equal(void **state) {
        _cleanup_config_ SvConfig *none = parse_ok("[sockvisord]\n");
        _cleanup_config_ SvConfig *none2 = parse_ok("[sockvisord]\nmetrics_mode = 0600\n");
        _cleanup_config_ SvConfig *a = parse_ok("[sockvisord]\nmetrics = tcp://127.0.0.1:9101\n");
        _cleanup_config_ SvConfig *a_mode = parse_ok("[sockvisord]\nmetrics = tcp://127.0.0.1:9101\nmetrics_mode = 0600\n");
        _cleanup_config_ SvConfig *b = parse_ok("[sockvisord]\nmetrics = tcp://127.0.0.1:9102\n");
        _cleanup_config_ SvConfig *u = parse_ok("[sockvisord]\nmetrics = unix:/run/m.sock\n");
        _cleanup_config_ SvConfig *u_mode = parse_ok("[sockvisord]\nmetrics = unix:/run/m.sock\nmetrics_mode = 0600\n");
        assert_true(sv_metrics_conf_equal(none, none2));
        assert_false(sv_metrics_conf_equal(none, a));
        assert_false(sv_metrics_conf_equal(a, none));
        assert_true(sv_metrics_conf_equal(a, a_mode)); /* the mode is only a unix socket's */
        assert_false(sv_metrics_conf_equal(a, b));
        assert_false(sv_metrics_conf_equal(u, u_mode));
        assert_true(sv_metrics_conf_equal(u, u));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_off_by_default), cmocka_unit_test(test_tcp),
                cmocka_unit_test(test_unix),           cmocka_unit_test(test_errors),
                cmocka_unit_test(test_clash_with_socket), cmocka_unit_test(test_equal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
