/* The sd_notify message a worker sends ("READY=1\nSTATUS=...\n"), parsed. Pure: no
 * socket here (the NOTIFY_SOCKET server is notify.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SV_NOTIFY_MSG_MAX 4096    /* a longer datagram is refused */
#define SV_NOTIFY_STATUS_MAX 256  /* STATUS= is cut to fit, NUL included */
#define SV_NOTIFY_FDS_MAX 16      /* fds one message may carry (FDSTORE=1); more are closed */
#define SV_FDNAME_MAX 255         /* FDNAME=, as systemd: printable ASCII, no ':' */

typedef struct SvNotifyMsg {
        bool ready;     /* READY=1 */
        bool stopping;  /* STOPPING=1 */
        bool reloading; /* RELOADING=1 */
        bool watchdog;  /* WATCHDOG=1: alive (watchdog=) */
        bool watchdog_trigger; /* WATCHDOG=trigger: it says it is unhealthy */
        bool has_status;
        char status[SV_NOTIFY_STATUS_MAX]; /* STATUS=, the last one; control characters become ' ' */
        pid_t mainpid;  /* MAINPID=, 0 when absent or not a pid */
        bool fdstore;        /* FDSTORE=1: keep the fds that came with it */
        bool fdstore_remove; /* FDSTOREREMOVE=1: drop the stored fds named fdname */
        bool fdpoll;         /* FDPOLL=0 clears it: do not drop them on POLLHUP/POLLERR */
        bool bad_fdname;     /* FDNAME= was not a valid name (the store is refused) */
        char fdname[SV_FDNAME_MAX + 1]; /* FDNAME=, "stored" when absent */
        /* Filled by the receiver, not the parser: the fds that came with the message. The
         * receiver owns them; whoever handles the message stores or closes every one. */
        int fds[SV_NOTIFY_FDS_MAX];
        size_t n_fds;
} SvNotifyMsg;

/* A valid FDNAME= value (systemd's rule: 1-255 printable ASCII characters, no ':'). */
bool sv_fdname_valid(const char *name);

/* Parses "KEY=value\n..." as sd_notify sends it, into *ret (always reset first). Lines may
 * come in any order; the last line needs no '\n'; unknown keys and malformed values are
 * ignored. STATUS= takes everything after the first '=' (so it may contain '='), cut to
 * SV_NOTIFY_STATUS_MAX - 1 bytes at a UTF-8 character boundary. MAINPID= must be a decimal
 * pid in 1..INT_MAX. FDSTORE=1, FDSTOREREMOVE=1, FDNAME= and FDPOLL=0 as systemd's
 * sd_pid_notify_with_fds(3) says. A message with an embedded NUL (one trailing NUL is allowed, as
 * systemd allows it) is ignored as a whole, like systemd does: returns -EBADMSG with *ret
 * empty. Returns 0 otherwise. */
int sv_notify_parse(const char *buf, size_t len, SvNotifyMsg *ret);
