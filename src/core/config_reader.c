/* The config reader: hands inih one physical line at a time and refuses, with
 * ORIGIN:LINE and what to do, every line inih would read differently from the way it is
 * written, instead of letting text be dropped or moved.
 *
 * inih's handler gets no line number and, in the Debian build, splits lines longer than
 * its buffer. So we count physical lines, reject over-long ones instead of letting them be
 * truncated, and see section headers ourselves (inih does not report a section that has no
 * keys, nor a truncated long name). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"

int config_fail(Parser *p, unsigned line, const char *fmt, ...) {
        char what[sizeof(p->diag->msg)];
        va_list ap;

        if (p->failed)
                return -EINVAL; /* keep the first error */
        va_start(ap, fmt);
        (void) vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        p->failed = true;
        /* inih cuts a value at " ;" (an inline comment): say so, or the error is a riddle */
        const char *eq = line == p->line && p->raw ? memchr(p->raw, '=', p->raw_len) : NULL;
        if (eq && (memmem(eq, p->raw_len - (size_t) (eq - p->raw), " ;", 2) ||
                   memmem(eq, p->raw_len - (size_t) (eq - p->raw), "\t;", 2)))
                return diag_set(p->diag, line,
                                "%s:%u: %s (note: ' ;' starts a comment, so the value was cut there; write ';' "
                                "without the space before it)",
                                p->origin, line, what);
        if (line > 0)
                return diag_set(p->diag, line, "%s:%u: %s", p->origin, line, what);
        return diag_set(p->diag, 0, "%s: %s", p->origin, what);
}

/* fgets-like reader for inih that counts lines and watches section headers. */
char *config_reader_cb(char *str, int num, void *stream) {
        Parser *p = stream;

        if (p->failed || p->pos >= p->len)
                return NULL;

        const char *start = p->text + p->pos;
        const char *nl = memchr(start, '\n', p->len - p->pos);
        size_t linelen = nl ? (size_t) (nl - start) + 1 : p->len - p->pos;
        p->line++;

        if (memchr(start, '\0', linelen)) {
                config_fail(p, p->line, "contains a NUL byte; the file must be text");
                return NULL;
        }
        /* inih needs room for the line and its NUL; one byte less and it would split it. */
        if (linelen + 1 > (size_t) num || linelen > SV_CONFIG_LINE_MAX) {
                size_t limit = (size_t) num - 1 < SV_CONFIG_LINE_MAX ? (size_t) num - 1 : SV_CONFIG_LINE_MAX;
                config_fail(p, p->line, "line is %zu bytes long; the limit is %zu (nothing was truncated: shorten it)",
                     linelen - (nl ? 1 : 0), limit - 1);
                return NULL;
        }
        p->raw = start;
        p->raw_len = linelen;
        memcpy(str, start, linelen);
        str[linelen] = '\0';
        p->pos += linelen;

        const char *s = str;
        if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
                s += 3; /* inih skips a UTF-8 BOM; so must we, or the first header goes unseen */
        while (*s == ' ' || *s == '\t')
                s++;
        if (*s == '[') {
                const char *end = strchr(s, ']');
                if (!end) {
                        config_fail(p, p->line, "section header '%.*s' has no closing ']'", (int) strcspn(s, "\r\n"), s);
                        return NULL;
                }
                if (config_begin_section(p, s + 1, (size_t) (end - s - 1)) < 0)
                        return NULL;
        }
        return str;
}

