/* The control verbs: one table that sockvisorctl checks arguments against and that
 * sockvisord dispatches on, so the two can never disagree on what exists. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef enum SvVerb {
        SV_VERB_STATUS,
        SV_VERB_START,
        SV_VERB_STOP,
        SV_VERB_RESTART,
        SV_VERB_PID,
        SV_VERB_SIGNAL,
        SV_VERB_SOCKETS,
        SV_VERB_RELOAD,
        SV_VERB_SHUTDOWN,
        SV_VERB_UPGRADE,
        SV_VERB_VERSION,
        SV_VERB_WHY, /* answered by sockvisorctl itself: no daemon needed */
        SV_VERB_FETCH,
        SV_VERB_EXEC, /* sockvisorctl: fetch, then become the command */
        SV_VERB_EVENTS, /* streams until the client hangs up */
        SV_VERB_LOGFILES, /* where each program's output goes: what tail and logs read */
        SV_VERB_TAIL,     /* sockvisorctl: reads the files logfiles names */
        SV_VERB_LOGS,     /* sockvisorctl: follows every program's files, lines prefixed */
        SV_VERB_HELP,     /* sockvisorctl: the general help, or one command's */
        _SV_VERB_MAX,
} SvVerb;

/* One option of a command, as sockvisorctl reads it (src/core/ctlargs.c). */
typedef struct SvVerbOption {
        const char *name;    /* long name without "--": "follow" */
        char short_name;     /* 'f', or 0 for none */
        const char *arg;     /* the value's name ("N"), or NULL: a flag */
        const char *help;
} SvVerbOption;

typedef struct SvVerbInfo {
        const char *name;
        /* Words on the wire the daemon accepts after the verb (the options it reads itself,
         * such as sockets' --json or upgrade's --exec PATH, counted). */
        size_t min_args;
        size_t max_args; /* SIZE_MAX: no limit but the protocol's */
        /* Operands sockvisorctl accepts: the words left once its options are taken out. */
        size_t min_operands, max_operands;
        bool quick;      /* answered at once; a daemon silent this long is stuck */
        bool local;      /* run by sockvisorctl, never sent to the daemon */
        bool keeps_rest; /* exec: every word after its own "--" is kept as it is */
        const char *args_help;  /* the operands: "NAME...|all" */
        const char *example; /* shown when the arguments are wrong */
        const char *help;    /* one line, for the list of commands */
        const char *description; /* a paragraph, for COMMAND --help */
        const SvVerbOption *options; /* the command's own options, ended by { NULL } */
} SvVerbInfo;

/* The verb named name, or NULL. */
const SvVerbInfo *sv_verb_find(const char *name, SvVerb *ret_verb);
const SvVerbInfo *sv_verb_info(SvVerb v);
/* "status, start, stop, ..." of the verbs the daemon answers (local ones left out when
 * daemon_only). */
void sv_verbs_list(char *buf, size_t len, bool daemon_only);
