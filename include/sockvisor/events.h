/* What `sockvisorctl events` streams: one record per transition or milestone, written as a
 * line of text or of JSON. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sockvisor/sm.h"

typedef enum SvEventType {
        SV_EVENT_STATE,          /* the snapshot a subscription starts with: one per instance */
        SV_EVENT_TRANSITION,     /* an instance changed state (from, to, cause) */
        SV_EVENT_ROLLOUT_BEGIN,  /* a restart or reload rolls out a generation */
        SV_EVENT_ROLLOUT_DONE,   /* ... and it is rolled out */
        SV_EVENT_ROLLOUT_FAILED, /* ... and it failed: the old generation serves */
        SV_EVENT_UNHEALTHY,      /* an instance is being replaced because it is unhealthy */
        SV_EVENT_RELOAD,         /* a reload was applied, or refused */
        SV_EVENT_UPGRADE,        /* this sockvisord took over from the previous image */
        SV_EVENT_SHUTDOWN,       /* sockvisord is stopping every program */
        _SV_EVENT_MAX,
} SvEventType;

typedef struct SvEventRec {
        SvEventType type;
        uint64_t realtime_usec; /* CLOCK_REALTIME */
        const char *program;    /* NULL: the daemon */
        char instance[80];      /* "app:1"; empty for milestones */
        unsigned index, generation;
        pid_t pid;
        SmState from, to;       /* STATE: to is its state; milestones: unused */
        const char *text;       /* TRANSITION: cause; STATE: its role (current, candidate,
                                 * draining); milestones: what happened */
} SvEventRec;

const char *sv_event_type_to_string(SvEventType t);
/* "2026-12-02T03:27:26.123Z transition app:1 gen 3 pid 41 STARTING -> RUNNING (READY=1)".
 * False when it does not fit (it is then cut, and still sent). */
bool sv_event_text(const SvEventRec *e, char *buf, size_t len);
/* {"time":"...","type":"transition","program":"app","instance":"app:1",...} on one line,
 * valid UTF-8 whatever the cause holds. False on out of memory or when it does not fit. */
bool sv_event_json(const SvEventRec *e, char *buf, size_t len);
