/* The lines `sockvisorctl events` prints. */
#include "sockvisor/events.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sockvisor/json.h"
#include "sockvisor/macro.h"

static const char *const type_names[_SV_EVENT_MAX] = {
        [SV_EVENT_STATE] = "state",
        [SV_EVENT_TRANSITION] = "transition",
        [SV_EVENT_ROLLOUT_BEGIN] = "rollout-begin",
        [SV_EVENT_ROLLOUT_DONE] = "rollout-done",
        [SV_EVENT_ROLLOUT_FAILED] = "rollout-failed",
        [SV_EVENT_UNHEALTHY] = "unhealthy",
        [SV_EVENT_RELOAD] = "reload",
        [SV_EVENT_UPGRADE] = "upgrade",
        [SV_EVENT_SHUTDOWN] = "shutdown",
};

const char *sv_event_type_to_string(SvEventType t) {
        return t >= 0 && t < _SV_EVENT_MAX ? type_names[t] : "?";
}

/* "2026-12-02T03:27:26.123Z" (UTC). */
static void format_time(uint64_t usec, char *buf, size_t len) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
                (void) snprintf(buf, len, "?");
                return;
        }
        size_t n = strlen(buf);
        (void) snprintf(buf + n, len - n, ".%03uZ", (unsigned) (usec / 1000 % 1000));
}

static bool is_instance(const SvEventRec *e) {
        return e->type == SV_EVENT_STATE || e->type == SV_EVENT_TRANSITION;
}

bool sv_event_text(const SvEventRec *e, char *buf, size_t len) {
        char when[40], pid[32] = "";
        format_time(e->realtime_usec, when, sizeof(when));
        if (e->pid > 0)
                (void) snprintf(pid, sizeof(pid), " pid %d", (int) e->pid);
        int n;
        if (e->type == SV_EVENT_TRANSITION)
                n = snprintf(buf, len, "%s transition %s gen %u%s %s -> %s (%s)", when, e->instance, e->generation, pid,
                             sm_state_to_string(e->from), sm_state_to_string(e->to), e->text ? e->text : "");
        else if (e->type == SV_EVENT_STATE)
                n = snprintf(buf, len, "%s state %s gen %u%s %s (%s)", when, e->instance, e->generation, pid,
                             sm_state_to_string(e->to), e->text ? e->text : "");
        else if (e->program)
                n = snprintf(buf, len, "%s %s %s gen %u: %s", when, sv_event_type_to_string(e->type), e->program,
                             e->generation, e->text ? e->text : "");
        else
                n = snprintf(buf, len, "%s %s: %s", when, sv_event_type_to_string(e->type), e->text ? e->text : "");
        return n >= 0 && (size_t) n < len;
}

bool sv_event_json(const SvEventRec *e, char *buf, size_t len) {
        char when[40];
        format_time(e->realtime_usec, when, sizeof(when));
        json_t *o = json_object();
        int r = o ? 0 : -1;
        r = r < 0 ? r : sv_json_set_string(o, "time", when);
        r = r < 0 ? r : sv_json_set_string(o, "type", sv_event_type_to_string(e->type));
        r = r < 0 ? r : sv_json_set_string(o, "program", e->program);
        if (is_instance(e)) {
                r = r < 0 ? r : sv_json_set_string(o, "instance", e->instance);
                r = r < 0 ? r : json_object_set_new(o, "index", json_integer(e->index));
        }
        if (e->program)
                r = r < 0 ? r : json_object_set_new(o, "generation", json_integer(e->generation));
        if (is_instance(e))
                r = r < 0 ? r : json_object_set_new(o, "pid", e->pid > 0 ? json_integer(e->pid) : json_null());
        if (e->type == SV_EVENT_TRANSITION) {
                r = r < 0 ? r : sv_json_set_string(o, "from", sm_state_to_string(e->from));
                r = r < 0 ? r : sv_json_set_string(o, "to", sm_state_to_string(e->to));
                r = r < 0 ? r : sv_json_set_string(o, "cause", e->text);
        } else if (e->type == SV_EVENT_STATE) {
                r = r < 0 ? r : sv_json_set_string(o, "state", sm_state_to_string(e->to));
                r = r < 0 ? r : sv_json_set_string(o, "role", e->text);
        } else
                r = r < 0 ? r : sv_json_set_string(o, "message", e->text);
        if (r < 0) {
                json_decref(o);
                return false;
        }
        return sv_json_line(o, buf, len) >= 0;
}
