/* The sd_notify message a worker sends ("READY=1\nSTATUS=...\n"), parsed. Pure: no
 * socket here (the NOTIFY_SOCKET server is notify.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SV_NOTIFY_MSG_MAX 4096    /* a longer datagram is refused */
#define SV_NOTIFY_STATUS_MAX 256  /* STATUS= is cut to fit, NUL included */

typedef struct SvNotifyMsg {
        bool ready;     /* READY=1 */
        bool stopping;  /* STOPPING=1 */
        bool reloading; /* RELOADING=1 */
        bool has_status;
        char status[SV_NOTIFY_STATUS_MAX]; /* STATUS=, the last one; control characters become ' ' */
        pid_t mainpid;  /* MAINPID=, 0 when absent or not a pid */
} SvNotifyMsg;

/* Parses "KEY=value\n..." as sd_notify sends it, into *ret (always reset first). Lines may
 * come in any order; the last line needs no '\n'; unknown keys and malformed values are
 * ignored. STATUS= takes everything after the first '=' (so it may contain '='), cut to
 * SV_NOTIFY_STATUS_MAX - 1 bytes at a UTF-8 character boundary. MAINPID= must be a decimal
 * pid in 1..INT_MAX. A message with an embedded NUL (one trailing NUL is allowed, as
 * systemd allows it) is ignored as a whole, like systemd does: returns -EBADMSG with *ret
 * empty. Returns 0 otherwise. */
int sv_notify_parse(const char *buf, size_t len, SvNotifyMsg *ret);
