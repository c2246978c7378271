/* `sockvisorctl events`: every transition and milestone, as it happens, to every client that
 * asked, as text or as JSON lines (events.c formats them). A subscription starts with a
 * snapshot (one "state" event per instance), so a consumer never misses state. It lasts
 * until the client hangs up, and across an upgrade (the connections are carried). */
#include "supervisor-internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static void send_one(SvSupervisor *s, const Subscriber *u, const SvEventRec *e) {
        char line[CTL_LINE_MAX];
        if (u->json ? sv_event_json(e, line, sizeof(line)) : sv_event_text(e, line, sizeof(line)))
                sv_replyf(s, u->conn, CTL_REPLY_OUTPUT, "%s", line);
}

static void send_all(SvSupervisor *s, SvEventRec *e) {
        e->realtime_usec = s->ops->realtime(s->ctx);
        for (const Subscriber *u = s->subs; u; u = u->next)
                send_one(s, u, e);
}

static SvEventRec instance_event(const Instance *i, SvEventType type) {
        SvEventRec e = {
                .type = type,
                .program = i->prog->name,
                .index = i->index,
                .generation = i->gen,
                .pid = i->pid,
                .from = i->sm.state,
                .to = i->sm.state,
        };
        sv_instance_name(i, e.instance, sizeof(e.instance));
        return e;
}

void sv_events_transition(SvSupervisor *s, const Instance *i, SmState from, const char *cause) {
        if (!s->subs)
                return;
        SvEventRec e = instance_event(i, SV_EVENT_TRANSITION);
        e.from = from;
        e.text = cause;
        send_all(s, &e);
}

void sv_events_milestone(SvSupervisor *s, SvEventType type, const char *program, unsigned generation,
                         const char *fmt, ...) {
        if (!s->subs)
                return;
        char text[512];
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        SvEventRec e = { .type = type, .program = program, .generation = generation, .text = text };
        send_all(s, &e);
}

/* One "state" line per instance, in the order status lists them (sv_supervisor_instance_views),
 * and one for a program with none. */
static void snapshot(SvSupervisor *s, const Subscriber *u) {
        static const char *const roles[] = { [SV_ROLE_CURRENT] = "current", [SV_ROLE_CANDIDATE] = "candidate",
                                             [SV_ROLE_DRAINING] = "draining" };
        uint64_t when = s->ops->realtime(s->ctx);
        for (size_t q = 0; q < s->n_progs; q++) {
                size_t n = sv_supervisor_instance_views(s, q, NULL, 0);
                _cleanup_free_ SvInstanceView *v = calloc(n ? n : 1, sizeof(SvInstanceView));
                if (!v)
                        continue; /* out of memory: that program's lines are missing */
                n = sv_supervisor_instance_views(s, q, v, n);
                for (size_t k = 0; k < n; k++) {
                        SvEventRec e = { .type = SV_EVENT_STATE, .realtime_usec = when, .program = v[k].program,
                                         .index = v[k].index, .generation = v[k].generation, .pid = v[k].pid,
                                         .from = v[k].state, .to = v[k].state, .text = roles[v[k].role] };
                        (void) snprintf(e.instance, sizeof(e.instance), "%s", v[k].name);
                        send_one(s, u, &e);
                }
                if (n == 0) { /* never started, or stopped and gone: still a program to know of */
                        SvEventRec e = { .type = SV_EVENT_STATE, .program = s->progs[q]->name, .from = SM_STOPPED,
                                         .to = SM_STOPPED, .text = "current", .realtime_usec = when };
                        (void) snprintf(e.instance, sizeof(e.instance), "%s", s->progs[q]->name);
                        send_one(s, u, &e);
                }
        }
}

void sv_events_subscribe(SvSupervisor *s, SvConnId conn, bool json) {
        size_t n = 0;
        for (const Subscriber *o = s->subs; o; o = o->next)
                n++;
        if (!conn)
                return;
        if (n >= SV_SUBSCRIBERS_SAVED) {
                sv_replyf(s, conn, CTL_REPLY_ERR, "%zu clients follow events already, the most an upgrade carries; "
                          "end one of them", n);
                return;
        }
        Subscriber *u = calloc(1, sizeof(Subscriber));
        if (!u) {
                sv_replyf(s, conn, CTL_REPLY_ERR, "out of memory");
                return;
        }
        *u = (Subscriber){ .conn = conn, .json = json };
        sv_replyf(s, conn, CTL_REPLY_PROGRESS, "the state now, then every event as it happens, until you hang up "
                                              "(Ctrl-C)");
        snapshot(s, u);
        Subscriber **pp = &s->subs; /* arrival order, as the upgrade state keeps it */
        while (*pp)
                pp = &(*pp)->next;
        *pp = u;
        sv_logf(s, LOG_DEBUG, NULL, "events: client %llu follows (%s)", (unsigned long long) conn,
                json ? "json" : "text");
}

bool sv_events_has(const SvSupervisor *s, SvConnId conn) {
        for (const Subscriber *u = s->subs; u; u = u->next)
                if (u->conn == conn)
                        return true;
        return false;
}

void sv_events_unsubscribe(SvSupervisor *s, SvConnId conn) {
        for (Subscriber **pp = &s->subs; *pp;) {
                Subscriber *u = *pp;
                if (u->conn == conn) {
                        *pp = u->next;
                        free(u);
                } else
                        pp = &u->next;
        }
}

void sv_events_end_all(SvSupervisor *s, const char *why) {
        while (s->subs) {
                Subscriber *u = s->subs;
                s->subs = u->next;
                if (why)
                        sv_replyf(s, u->conn, CTL_REPLY_OK, "%s", why);
                free(u);
        }
}
