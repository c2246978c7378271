/* Logging to stderr. Under systemd (JOURNAL_STREAM names our stderr) each line carries a
 * "<N>" priority prefix that journald understands; elsewhere lines start with the ident. */
#include "sockvisor/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *log_ident = "sockvisord";
static bool log_to_journal;
static bool log_debug_enabled;

void sv_log_init(const char *ident, bool debug) {
        const char *js = getenv("JOURNAL_STREAM");
        struct stat st;
        unsigned long dev, ino;

        log_ident = ident;
        log_debug_enabled = debug;
        if (js && sscanf(js, "%lu:%lu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0)
                log_to_journal = st.st_dev == dev && st.st_ino == ino;
}

static void log_va(int level, int err, const char *fmt, va_list ap) {
        char msg[2048];
        int saved = errno;

        if (level == LOG_DEBUG && !log_debug_enabled)
                return;
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        if (log_to_journal)
                fprintf(stderr, "<%d>%s%s%s\n", level, msg, err ? ": " : "", err ? strerror(err) : "");
        else {
                struct timespec ts;
                struct tm tm;
                char when[32];
                (void) clock_gettime(CLOCK_REALTIME, &ts);
                (void) localtime_r(&ts.tv_sec, &tm);
                (void) strftime(when, sizeof(when), "%H:%M:%S", &tm);
                fprintf(stderr, "%s.%03ld %s: %s%s%s%s\n", when, ts.tv_nsec / 1000000, log_ident,
                        level <= LOG_ERR ? "error: " : level == LOG_WARNING ? "warning: " : "", msg,
                        err ? ": " : "", err ? strerror(err) : "");
        }
        fflush(stderr);
        errno = saved;
}

void sv_log(int level, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        log_va(level, 0, fmt, ap);
        va_end(ap);
}

int sv_log_errno(int level, int err, const char *fmt, ...) {
        va_list ap;
        err = err < 0 ? -err : err;
        va_start(ap, fmt);
        log_va(level, err, fmt, ap);
        va_end(ap);
        return -err;
}
