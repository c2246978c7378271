/* The daemon's log: one line per event to stderr, with journal priority prefixes when
 * stderr is the journal. */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "sockvisor/macro.h"

void sv_log_init(const char *ident, bool debug);
void sv_log(int level, const char *fmt, ...) _printf_(2, 3);
/* Logs with ": strerror(err)" appended and returns -|err|. */
int sv_log_errno(int level, int err, const char *fmt, ...) _printf_(3, 4);

#define log_debug(...) sv_log(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) sv_log(LOG_INFO, __VA_ARGS__)
#define log_notice(...) sv_log(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) sv_log(LOG_WARNING, __VA_ARGS__)
#define log_error(...) sv_log(LOG_ERR, __VA_ARGS__)
