/* Logging to stderr. Under systemd (JOURNAL_STREAM names our stderr) each line carries a
 * "<N>" priority prefix that journald understands; elsewhere lines start with the ident. */
#include "sockvisor/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-journal.h>
#include <time.h>

static const char *log_ident = "sockvisord";
static bool stderr_is_journal; /* JOURNAL_STREAM names our stderr */
static bool log_to_journal;    /* send structured entries with sd_journal_send */
static bool log_debug_enabled;
static bool journal_missing; /* log = journal was asked for, but journald was not there */

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

typedef struct LogCtx {
        const char *program, *instance;
        pid_t pid;
        unsigned gen;
} LogCtx;

void sv_log_init(const char *ident, bool debug) {
        const char *js = getenv("JOURNAL_STREAM");
        struct stat st;
        unsigned long dev, ino;

        log_ident = ident;
        log_debug_enabled = debug;
        if (js && sscanf(js, "%lu:%lu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0)
                stderr_is_journal = st.st_dev == dev && st.st_ino == ino;
        log_to_journal = stderr_is_journal;
}

/* Whether journald listens: sd_journal_send() reports success when its socket file is
 * missing (ENOENT), so every message would go nowhere. 0, or negative errno. */
static int journal_probe(void) {
        struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET };
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int r = connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0 ? -errno : 0;
        (void) safe_close(fd);
        return r;
}

void sv_log_set_target(SvLogTarget t) {
        if (t != SV_LOG_JOURNAL) {
                journal_missing = false;
                log_to_journal = t == SV_LOG_AUTO && stderr_is_journal; /* JOURNAL_STREAM: journald is there */
                return;
        }
        int r = journal_probe();
        if (r >= 0) {
                journal_missing = false;
                log_to_journal = true;
                return;
        }
        log_to_journal = false;
        if (journal_missing)
                return; /* said so already (the reload before this one) */
        journal_missing = true;
        sv_log(LOG_WARNING,
               "log = journal, but journald is not listening on %s (%s); logging to stderr (start "
               "systemd-journald, or set log = stderr)",
               JOURNAL_SOCKET, strerror(-r));
}

static void log_va(int level, int err, const LogCtx *ctx, const char *fmt, va_list ap) {
        char msg[2048];
        int saved = errno;

        if (level == LOG_DEBUG && !log_debug_enabled)
                return;
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        if (log_to_journal) {
                char full[2300];
                (void) snprintf(full, sizeof(full), "%s%s%s", msg, err ? ": " : "", err ? strerror(err) : "");
                int r;
                if (ctx && ctx->pid > 0)
                        r = sd_journal_send("MESSAGE=%s", full, "PRIORITY=%i", level, "SYSLOG_IDENTIFIER=%s", log_ident,
                                            "SOCKVISOR_PROGRAM=%s", ctx->program, "SOCKVISOR_INSTANCE=%s", ctx->instance,
                                            "SOCKVISOR_GENERATION=%u", ctx->gen, "SOCKVISOR_PID=%d", (int) ctx->pid,
                                            NULL);
                else if (ctx)
                        r = sd_journal_send("MESSAGE=%s", full, "PRIORITY=%i", level, "SYSLOG_IDENTIFIER=%s", log_ident,
                                            "SOCKVISOR_PROGRAM=%s", ctx->program, "SOCKVISOR_INSTANCE=%s", ctx->instance,
                                            "SOCKVISOR_GENERATION=%u", ctx->gen, NULL);
                else
                        r = sd_journal_send("MESSAGE=%s", full, "PRIORITY=%i", level, "SYSLOG_IDENTIFIER=%s", log_ident,
                                            NULL);
                if (r >= 0) {
                        errno = saved;
                        return;
                }
                /* no journal after all: fall through to stderr */
        }
        if (stderr_is_journal)
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

void sv_log_instance(int level, const char *program, const char *instance, pid_t pid, unsigned gen, const char *fmt,
                     ...) {
        LogCtx ctx = { .program = program, .instance = instance, .pid = pid, .gen = gen };
        va_list ap;
        va_start(ap, fmt);
        log_va(level, 0, &ctx, fmt, ap);
        va_end(ap);
}

void sv_log(int level, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        log_va(level, 0, NULL, fmt, ap);
        va_end(ap);
}

int sv_log_errno(int level, int err, const char *fmt, ...) {
        va_list ap;
        err = err < 0 ? -err : err;
        va_start(ap, fmt);
        log_va(level, err, NULL, fmt, ap);
        va_end(ap);
        return -err;
}
