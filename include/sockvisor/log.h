/* The daemon's log: one line per event to stderr, with journal priority prefixes when
 * stderr is the journal. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <syslog.h>

#include "sockvisor/macro.h"

typedef enum SvLogTarget {
        SV_LOG_AUTO,    /* the journal when stderr is the journal (JOURNAL_STREAM), else stderr */
        SV_LOG_JOURNAL, /* sd_journal_send, with structured fields; stderr when journald is not there */
        SV_LOG_STDERR,
} SvLogTarget;

void sv_log_init(const char *ident, bool debug);
/* Where lines go from now on (the config's [sockvisord] log=). SV_LOG_JOURNAL first checks
 * that journald listens on /run/systemd/journal/socket (sd_journal_send() would report
 * success into the void); if not, lines go to stderr, with one warning saying so, repeated
 * only after another target was chosen in between. */
void sv_log_set_target(SvLogTarget t);
/* A line about one worker: in the journal it carries SOCKVISOR_PROGRAM, SOCKVISOR_INSTANCE,
 * SOCKVISOR_PID and SOCKVISOR_GENERATION fields. */
void sv_log_instance(int level, const char *program, const char *instance, pid_t pid, unsigned gen, const char *fmt,
                     ...) _printf_(6, 7);
void sv_log(int level, const char *fmt, ...) _printf_(2, 3);
/* Logs with ": strerror(err)" appended and returns -|err|. */
int sv_log_errno(int level, int err, const char *fmt, ...) _printf_(3, 4);

#define log_debug(...) sv_log(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) sv_log(LOG_INFO, __VA_ARGS__)
#define log_notice(...) sv_log(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) sv_log(LOG_WARNING, __VA_ARGS__)
#define log_error(...) sv_log(LOG_ERR, __VA_ARGS__)
