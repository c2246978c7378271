/* Parsing sd_notify messages. */
#include "sockvisor/notifymsg.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

static bool line_is(const char *p, size_t n, const char *what) {
        size_t l = strlen(what);
        return n == l && memcmp(p, what, l) == 0;
}

static bool line_has_key(const char *p, size_t n, const char *key) {
        size_t l = strlen(key);
        return n >= l && memcmp(p, key, l) == 0;
}

/* A decimal pid in 1..INT_MAX, nothing else ("+1", "-1", " 1", "1x", "" are not). */
static pid_t parse_pid(const char *p, size_t n) {
        long long v = 0;
        if (n == 0 || n > 10)
                return 0;
        for (size_t i = 0; i < n; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return 0;
                v = v * 10 + (p[i] - '0');
        }
        return v > 0 && v <= INT_MAX ? (pid_t) v : 0;
}

static void set_status(SvNotifyMsg *m, const char *v, size_t n) {
        size_t sl = n;
        if (sl > sizeof(m->status) - 1) {
                sl = sizeof(m->status) - 1;
                /* never cut a UTF-8 character in two: back off to the start of the one cut */
                while (sl > 0 && ((unsigned char) v[sl] & 0xc0) == 0x80)
                        sl--;
        }
        memcpy(m->status, v, sl);
        m->status[sl] = '\0';
        for (size_t i = 0; i < sl; i++)
                if ((unsigned char) m->status[i] < 0x20 || (unsigned char) m->status[i] == 0x7f)
                        m->status[i] = ' ';
        m->has_status = true;
}

bool sv_fdname_valid(const char *name) {
        size_t n = strlen(name);
        if (n == 0 || n > SV_FDNAME_MAX)
                return false;
        for (const char *p = name; *p; p++)
                if (*p < 0x21 || *p > 0x7e || *p == ':')
                        return false;
        return true;
}

static void set_fdname(SvNotifyMsg *m, const char *v, size_t n) {
        if (n == 0 || n > SV_FDNAME_MAX) {
                m->bad_fdname = true;
                return;
        }
        memcpy(m->fdname, v, n);
        m->fdname[n] = '\0';
        m->bad_fdname = !sv_fdname_valid(m->fdname);
}

int sv_notify_parse(const char *buf, size_t len, SvNotifyMsg *ret) {
        *ret = (SvNotifyMsg){ .fdpoll = true };
        (void) strcpy(ret->fdname, "stored");
        if (len == 0)
                return 0;
        if (buf[len - 1] == '\0')
                len--; /* one trailing NUL is fine */
        if (len > 0 && memchr(buf, '\0', len))
                return -EBADMSG;

        for (const char *p = buf, *end = buf + len; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
                if (line_is(p, n, "READY=1"))
                        ret->ready = true;
                else if (line_is(p, n, "WATCHDOG=1"))
                        ret->watchdog = true;
                else if (line_is(p, n, "WATCHDOG=trigger"))
                        ret->watchdog_trigger = true;
                else if (line_is(p, n, "STOPPING=1"))
                        ret->stopping = true;
                else if (line_is(p, n, "RELOADING=1"))
                        ret->reloading = true;
                else if (line_has_key(p, n, "STATUS="))
                        set_status(ret, p + 7, n - 7);
                else if (line_is(p, n, "FDSTORE=1"))
                        ret->fdstore = true;
                else if (line_is(p, n, "FDSTOREREMOVE=1"))
                        ret->fdstore_remove = true;
                else if (line_is(p, n, "FDPOLL=0"))
                        ret->fdpoll = false;
                else if (line_has_key(p, n, "FDNAME="))
                        set_fdname(ret, p + 7, n - 7);
                else if (line_has_key(p, n, "MAINPID=")) {
                        pid_t pid = parse_pid(p + 8, n - 8);
                        if (pid > 0)
                                ret->mainpid = pid;
                }
                if (!nl)
                        break;
                p = nl + 1;
        }
        return 0;
}
