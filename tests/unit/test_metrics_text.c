/* Unit tests of the metrics endpoint's pure half (src/core/metrics_text.c): the exposition's
 * escaping and histograms, the page from a snapshot, the /healthz verdict, the HTTP routes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sockvisor/metrics.h"

static void out_freep(SvMetricsOut *o) {
        sv_metrics_out_done(o);
}
#define _cleanup_out_ _cleanup_(out_freep)

static void test_escape(void **state) {
        _cleanup_out_ SvMetricsOut o = {};
        SvMetricsLabel l[] = { { "program", "a\\b\"c\nd" }, { "x", "caf\xc3\xa9" } };
        sv_metrics_sample_u64(&o, "m", l, 2, 7);
        assert_string_equal(o.buf, "m{program=\"a\\\\b\\\"c\\nd\",x=\"caf\xc3\xa9\"} 7\n");
        sv_metrics_out_done(&o);
        sv_metrics_family(&o, "m", "gauge", "a \"quoted\" back\\slash\nnewline");
        /* HELP escapes backslash and newline, not the quote */
        assert_string_equal(o.buf, "# HELP m a \"quoted\" back\\\\slash\\nnewline\n# TYPE m gauge\n");
        sv_metrics_out_done(&o);
        sv_metrics_sample_u64(&o, "bare", NULL, 0, 0);
        assert_string_equal(o.buf, "bare 0\n");
}

static void test_usec(void **state) {
        _cleanup_out_ SvMetricsOut o = {};
        sv_metrics_sample_usec(&o, "a", NULL, 0, 1500000);
        sv_metrics_sample_usec(&o, "b", NULL, 0, 100000);
        sv_metrics_sample_usec(&o, "c", NULL, 0, 3000000);
        sv_metrics_sample_usec(&o, "d", NULL, 0, 0);
        sv_metrics_sample_usec(&o, "e", NULL, 0, 1);
        assert_string_equal(o.buf, "a 1.5\nb 0.1\nc 3\nd 0\ne 0.000001\n");
}

static void test_histogram(void **state) {
        _cleanup_out_ SvMetricsOut o = {};
        const uint64_t bounds[] = { 100000, 1000000, 2500000 };
        const uint64_t counts[] = { 1, 0, 2, 3 }; /* per bucket; the last is above 2.5 s */
        sv_metrics_histogram(&o, "h", &(SvMetricsLabel){ "program", "app" }, 1, bounds, 3, counts, 31250000);
        assert_string_equal(o.buf, "h_bucket{program=\"app\",le=\"0.1\"} 1\n"
                                   "h_bucket{program=\"app\",le=\"1\"} 1\n"
                                   "h_bucket{program=\"app\",le=\"2.5\"} 3\n"
                                   "h_bucket{program=\"app\",le=\"+Inf\"} 6\n"
                                   "h_sum{program=\"app\"} 31.25\n"
                                   "h_count{program=\"app\"} 6\n");
}

static void test_render(void **state) {
        _cleanup_out_ SvMetricsOut o = {};
        SvMetricsProgram progs[] = { { .name = "app", .stats = { .restarts = 3, .failed_starts = 1, .rollbacks = 2,
                                                                 .unhealthy = 4, .rollouts = 2 } } };
        progs[0].stats.rollout_buckets[0] = 1;
        progs[0].stats.rollout_buckets[SV_ROLLOUT_BUCKETS - 1] = 1;
        progs[0].stats.rollout_usec_sum = 90050000;
        SvMetricsInstance inst[] = {
                { .program = "app", .instance = "app:0", .generation = 2, .role = SV_ROLE_CURRENT, .state = SM_RUNNING,
                  .pid = 10, .have_usage = true, .cpu_usec = 2500000, .rss_bytes = 4096 },
                { .program = "app", .instance = "app:1", .generation = 2, .role = SV_ROLE_CURRENT, .state = SM_FATAL },
                { .program = "app", .instance = "app:0", .generation = 1, .role = SV_ROLE_DRAINING,
                  .state = SM_STOPPING, .pid = 9, .have_usage = true, .cpu_usec = 1, .rss_bytes = 1 },
        };
        SvMetricsSocket socks[] = { { .name = "web", .have_queue = true, .queued = 5, .backlog = 128 },
                                    { .name = "gone", .have_queue = false } };
        SvMetricsSnapshot s = { .version = "0.1.0", .programs = progs, .n_programs = 1, .instances = inst,
                                .n_instances = 3, .sockets = socks, .n_sockets = 2, .daemon_open_fds = 12,
                                .daemon_rss_bytes = 8192, .daemon_cpu_usec = -1 };
        sv_metrics_render(&s, &o);
        assert_false(o.oom);
        const char *want[] = {
                "# TYPE sockvisor_build_info gauge\nsockvisor_build_info{version=\"0.1.0\"} 1\n",
                "sockvisor_program_state{program=\"app\",instance=\"app:0\",state=\"RUNNING\"} 1\n",
                "sockvisor_program_state{program=\"app\",instance=\"app:0\",state=\"FATAL\"} 0\n",
                "sockvisor_program_state{program=\"app\",instance=\"app:1\",state=\"FATAL\"} 1\n",
                "sockvisor_program_state{program=\"app\",instance=\"app:1\",state=\"RUNNING\"} 0\n",
                "# TYPE sockvisor_restarts_total counter\nsockvisor_restarts_total{program=\"app\"} 3\n",
                "sockvisor_failed_starts_total{program=\"app\"} 1\n",
                "sockvisor_rollbacks_total{program=\"app\"} 2\n",
                "sockvisor_unhealthy_total{program=\"app\"} 4\n",
                "# TYPE sockvisor_restart_duration_seconds histogram\n",
                "sockvisor_restart_duration_seconds_bucket{program=\"app\",le=\"0.1\"} 1\n",
                "sockvisor_restart_duration_seconds_bucket{program=\"app\",le=\"60\"} 1\n",
                "sockvisor_restart_duration_seconds_bucket{program=\"app\",le=\"+Inf\"} 2\n",
                "sockvisor_restart_duration_seconds_sum{program=\"app\"} 90.05\n",
                "sockvisor_restart_duration_seconds_count{program=\"app\"} 2\n",
                "sockvisor_socket_queued_connections{socket=\"web\"} 5\n",
                "sockvisor_socket_backlog{socket=\"web\"} 128\n",
                "sockvisor_instance_cpu_seconds_total{program=\"app\",instance=\"app:0\",generation=\"2\"} 2.5\n",
                "sockvisor_instance_cpu_seconds_total{program=\"app\",instance=\"app:0\",generation=\"1\"} 0.000001\n",
                "sockvisor_instance_resident_bytes{program=\"app\",instance=\"app:0\",generation=\"2\"} 4096\n",
                "sockvisor_daemon_open_fds 12\n",
                "sockvisor_daemon_resident_bytes 8192\n",
                "# TYPE sockvisor_daemon_cpu_seconds_total counter\n",
        };
        for (size_t k = 0; k < ELEMENTSOF(want); k++) {
                if (!strstr(o.buf, want[k]))
                        print_error("missing:\n%s\nin:\n%s\n", want[k], o.buf);
                assert_non_null(strstr(o.buf, want[k]));
        }
        /* the draining instance has no state series (it would repeat app:0's); the socket the
         * kernel said nothing about has no sample; an unknown figure has no sample */
        assert_null(strstr(o.buf, "state=\"STOPPING\"} 1"));
        assert_null(strstr(o.buf, "socket=\"gone\""));
        assert_null(strstr(o.buf, "\nsockvisor_daemon_cpu_seconds_total "));
        assert_null(strstr(o.buf, "instance=\"app:1\",generation")); /* no process: no usage */
        /* every line is a comment or a sample ending in a value */
        size_t lines = 0;
        for (const char *p = o.buf; *p; lines++) {
                const char *nl = strchr(p, '\n');
                assert_non_null(nl);
                assert_true(nl > p);
                p = nl + 1;
        }
        assert_true(lines > 40);
}

static void test_health(void **state) {
        char why[256];
        SvHealthEntry ok[] = { { "app", SM_RUNNING, NULL }, { "db:0", SM_RUNNING, "x" } };
        assert_true(sv_metrics_health(ok, 2, why, sizeof(why)));
        assert_string_equal(why, "ok");
        assert_true(sv_metrics_health(NULL, 0, why, sizeof(why))); /* nothing to start: healthy */
        SvHealthEntry bad[] = { { "app", SM_RUNNING, NULL },
                                { "app:1", SM_FATAL, "exited with status 3" },
                                { "db", SM_STARTING, NULL },
                                { "x", SM_STOPPED, NULL } };
        assert_false(sv_metrics_health(bad, 4, why, sizeof(why)));
        assert_string_equal(why, "app:1 FATAL: exited with status 3 (and 2 more)");
        assert_false(sv_metrics_health(bad + 2, 1, why, sizeof(why)));
        assert_string_equal(why, "db STARTING");
}

static void route(const char *req, int want_ret, SvHttpRoute want, bool want_head) {
        SvHttpRoute r = (SvHttpRoute) -1;
        bool head = !want_head;
        int ret = sv_http_route(req, strlen(req), &r, &head);
        if (ret != want_ret || (ret == 1 && (r != want || head != want_head)))
                print_error("'%s': ret %d route %d head %d\n", req, ret, (int) r, head);
        assert_int_equal(ret, want_ret);
        if (ret == 1) {
                assert_int_equal(r, want);
                assert_int_equal(head, want_head);
        }
}

static void test_route(void **state) {
        route("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 1, SV_ROUTE_METRICS, false);
        route("GET /metrics?x=1 HTTP/1.0\r\n\r\n", 1, SV_ROUTE_METRICS, false);
        route("HEAD /healthz HTTP/1.1\r\n\r\n", 1, SV_ROUTE_HEALTHZ, true);
        route("GET /healthz HTTP/1.1\n\n", 1, SV_ROUTE_HEALTHZ, false);
        route("GET / HTTP/1.1\r\n\r\n", 1, SV_ROUTE_NOT_FOUND, false);
        route("GET /metricsx HTTP/1.1\r\n\r\n", 1, SV_ROUTE_NOT_FOUND, false);
        route("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 1, SV_ROUTE_METHOD_NOT_ALLOWED, false);
        route("DELETE /healthz HTTP/1.1\r\n\r\n", 1, SV_ROUTE_METHOD_NOT_ALLOWED, false);
        route("GET /metrics\r\n\r\n", 1, SV_ROUTE_BAD_REQUEST, false);
        route("GET /metrics HTTP/2.0\r\n\r\n", 1, SV_ROUTE_BAD_REQUEST, false);
        route("\r\n\r\n", 1, SV_ROUTE_BAD_REQUEST, false);
        /* incomplete: more to come */
        route("GET /metrics HTTP/1.1\r\nHost: x\r\n", 0, 0, false);
        route("", 0, 0, false);

        /* no end within the cap: 431, however much more comes */
        static char big[SV_HTTP_HEAD_MAX + 100];
        memset(big, 'a', sizeof(big) - 1);
        memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
        SvHttpRoute r;
        bool head;
        assert_int_equal(sv_http_route(big, SV_HTTP_HEAD_MAX - 1, &r, &head), 0);
        assert_int_equal(sv_http_route(big, SV_HTTP_HEAD_MAX, &r, &head), 1);
        assert_int_equal(r, SV_ROUTE_TOO_LARGE);
        /* an end beyond the cap does not count */
        memcpy(big + SV_HTTP_HEAD_MAX + 10, "\r\n\r\n", 4);
        assert_int_equal(sv_http_route(big, SV_HTTP_HEAD_MAX + 14, &r, &head), 1);
        assert_int_equal(r, SV_ROUTE_TOO_LARGE);
}

static void test_response(void **state) {
        _cleanup_out_ SvMetricsOut o = {};
        sv_http_response(&o, 503, "text/plain; charset=utf-8", "app FATAL\n", 10, false);
        assert_string_equal(o.buf, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                   "Content-Length: 10\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n"
                                   "app FATAL\n");
        sv_metrics_out_done(&o);
        sv_http_response(&o, 405, "text/plain", "x", 1, true);
        assert_non_null(strstr(o.buf, "Allow: GET, HEAD\r\n"));
        assert_non_null(strstr(o.buf, "Content-Length: 1\r\n"));
        assert_int_equal(o.buf[o.len - 1], '\n'); /* HEAD: no body */
        assert_int_equal(o.buf[o.len - 2], '\r');
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape),  cmocka_unit_test(test_usec),     cmocka_unit_test(test_histogram),
                cmocka_unit_test(test_render),  cmocka_unit_test(test_health),   cmocka_unit_test(test_route),
                cmocka_unit_test(test_response),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
