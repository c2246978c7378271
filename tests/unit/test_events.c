/* Unit tests for the lines `sockvisorctl events` prints (events.c) and the JSON strings
 * behind every --json (json.c): what they say, and that any bytes make valid JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sockvisor/events.h"
#include "sockvisor/json.h"

#define T_2026 1796169600000000ULL /* 2026-12-02T00:00:00Z */

static SvEventRec transition(void) {
        SvEventRec e = {
                .type = SV_EVENT_TRANSITION,
                .realtime_usec = T_2026 + 1234567,
                .program = "app",
                .index = 1,
                .generation = 3,
                .pid = 41,
                .from = SM_STARTING,
                .to = SM_RUNNING,
                .text = "READY=1",
        };
        strcpy(e.instance, "app:1");
        return e;
}

static void test_text(void **state) {
        char buf[512];
        SvEventRec e = transition();
        assert_true(sv_event_text(&e, buf, sizeof(buf)));
        assert_string_equal(buf, "2026-12-02T00:00:01.234Z transition app:1 gen 3 pid 41 STARTING -> RUNNING (READY=1)");

        e.type = SV_EVENT_STATE;
        e.pid = 0;
        e.to = SM_STOPPED;
        e.text = "current";
        assert_true(sv_event_text(&e, buf, sizeof(buf)));
        assert_string_equal(buf, "2026-12-02T00:00:01.234Z state app:1 gen 3 STOPPED (current)");

        SvEventRec m = { .type = SV_EVENT_ROLLOUT_DONE, .realtime_usec = T_2026, .program = "app", .generation = 4,
                         .text = "generation 4 rolled out in 1.20s" };
        assert_true(sv_event_text(&m, buf, sizeof(buf)));
        assert_string_equal(buf, "2026-12-02T00:00:00.000Z rollout-done app gen 4: generation 4 rolled out in 1.20s");
        SvEventRec d = { .type = SV_EVENT_RELOAD, .realtime_usec = T_2026, .text = "reloaded x" };
        assert_true(sv_event_text(&d, buf, sizeof(buf)));
        assert_string_equal(buf, "2026-12-02T00:00:00.000Z reload: reloaded x");
        assert_false(sv_event_text(&d, buf, 10)); /* cut, and says so */
}

static void test_json(void **state) {
        char buf[1024];
        SvEventRec e = transition();
        assert_true(sv_event_json(&e, buf, sizeof(buf)));
        assert_string_equal(buf, "{\"time\":\"2026-12-02T00:00:01.234Z\",\"type\":\"transition\",\"program\":\"app\","
                                 "\"instance\":\"app:1\",\"index\":1,\"generation\":3,\"pid\":41,\"from\":\"STARTING\","
                                 "\"to\":\"RUNNING\",\"cause\":\"READY=1\"}");
        e.type = SV_EVENT_STATE;
        e.pid = 0;
        e.text = "draining";
        assert_true(sv_event_json(&e, buf, sizeof(buf)));
        json_error_t err;
        json_t *v = json_loads(buf, JSON_REJECT_DUPLICATES, &err);
        assert_non_null(v);
        assert_true(json_is_null(json_object_get(v, "pid")));
        assert_string_equal(json_string_value(json_object_get(v, "state")), "RUNNING");
        assert_string_equal(json_string_value(json_object_get(v, "role")), "draining");
        json_decref(v);

        SvEventRec m = { .type = SV_EVENT_UPGRADE, .realtime_usec = T_2026, .text = "took over" };
        assert_true(sv_event_json(&m, buf, sizeof(buf)));
        assert_string_equal(buf, "{\"time\":\"2026-12-02T00:00:00.000Z\",\"type\":\"upgrade\",\"program\":null,"
                                 "\"message\":\"took over\"}");
        assert_false(sv_event_json(&e, buf, 20)); /* does not fit */
}

/* Latin-1, a lone continuation byte, an overlong '/', a surrogate, a cut sequence: each bad
 * byte becomes U+FFFD, valid UTF-8 around it is kept, and jansson reads it back. */
static void test_lossy_utf8(void **state) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "caf\xe9 --port 8080", "caf\xef\xbf\xbd --port 8080" },
                { "\x80x", "\xef\xbf\xbdx" },
                { "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },
                { "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
                { "ok \xe2\x82", "ok \xef\xbf\xbd\xef\xbf\xbd" },
                { "\xe2\x82\xac \xf0\x9f\x98\x80", "\xe2\x82\xac \xf0\x9f\x98\x80" }, /* valid: kept */
                { "", "" },
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                json_t *s = sv_json_string(cases[k].in);
                assert_non_null(s);
                assert_string_equal(json_string_value(s), cases[k].out);
                char buf[256];
                json_t *o = json_object();
                assert_int_equal(json_object_set_new(o, "k", s), 0);
                assert_true(sv_json_line(o, buf, sizeof(buf)) > 0);
                json_error_t err;
                json_t *back = json_loads(buf, 0, &err); /* jansson refuses invalid UTF-8 */
                assert_non_null(back);
                json_decref(back);
        }
        json_t *n = sv_json_string(NULL);
        assert_true(json_is_null(n));
        json_decref(n);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_text),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_lossy_utf8),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
