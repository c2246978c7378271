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

const ConfigFile *config_file_of(const Parser *p, unsigned line, unsigned *ret_local) {
        const ConfigFile *f = NULL;
        for (size_t k = 0; k < p->n_files && p->files[k].base < line; k++)
                f = &p->files[k];
        if (ret_local)
                *ret_local = f ? line - f->base : line;
        return f;
}

const char *config_at(Parser *p, unsigned line) {
        char *buf = p->at[p->at_next++ % ELEMENTSOF(p->at)];
        unsigned local;
        const ConfigFile *f = config_file_of(p, line, &local);
        if (p->n_files > 1 && f)
                (void) snprintf(buf, sizeof(p->at[0]), "%s:%u", f->path, local);
        else
                (void) snprintf(buf, sizeof(p->at[0]), "line %u", local);
        return buf;
}

int config_fail(Parser *p, unsigned line, const char *fmt, ...) {
        char what[sizeof(p->diag->msg)];
        va_list ap;

        if (p->failed)
                return -EINVAL; /* keep the first error */
        va_start(ap, fmt);
        (void) vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        p->failed = true;
        unsigned local;
        const ConfigFile *f = config_file_of(p, line, &local);
        const char *origin = f ? f->path : p->origin;
        /* inih cuts a value at " ;" (an inline comment): say so, or the error is a riddle */
        const char *eq = line == p->line && p->raw ? memchr(p->raw, '=', p->raw_len) : NULL;
        if (eq && (memmem(eq, p->raw_len - (size_t) (eq - p->raw), " ;", 2) ||
                   memmem(eq, p->raw_len - (size_t) (eq - p->raw), "\t;", 2)))
                return diag_set(p->diag, local,
                                "%s:%u: %s (note: ' ;' starts a comment, so the value was cut there; write ';' "
                                "without the space before it)",
                                origin, local, what);
        if (line > 0)
                return diag_set(p->diag, local, "%s:%u: %s", origin, local, what);
        return diag_set(p->diag, 0, "%s: %s", origin, what);
}

/* The names people know control characters by, for the ones that get into files. */
static const char *control_name(unsigned char c) {
        switch (c) {
        case 0x07:
                return "bell";
        case 0x08:
                return "backspace";
        case 0x0b:
                return "vertical tab";
        case 0x0c:
                return "form feed";
        case 0x1a:
                return "substitute, DOS end of file";
        case 0x1b:
                return "escape";
        case 0x7f:
                return "delete";
        default:
                return NULL;
        }
}

/* Refuses the bytes inih would read otherwise than a person does. line[0..len) is one
 * physical line, its '\n' included when it has one.
 *  - NUL ends inih's string: the rest of the line would go unseen.
 *  - A CR not followed by LF is no line end to inih: a file with old Mac line endings is
 *    one long line, a comment if it starts with one, so the whole file read as empty.
 *    (The CR of a CRLF is fine: inih strips it with the other trailing blanks.)
 *  - Any other control character but TAB: inih skips \f and \v as blanks before '[' and
 *    before a key, so "\f[program:q]" opened a section for inih and not for us, and the
 *    keys after it landed in the previous section; the rest would be data in a value.
 * Bytes from 0x80 up are UTF-8 text and stay allowed. */
static int check_bytes(Parser *p, const char *line, size_t len) {
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) line[i];
                if ((c >= 0x20 && c != 0x7f) || c == '\t' || c == '\n')
                        continue;
                if (c == '\r' && i + 1 < len && line[i + 1] == '\n')
                        continue;
                if (c == '\0')
                        return config_fail(p, p->line, "contains a NUL byte; the file must be text");
                if (c == '\r')
                        return config_fail(p, p->line,
                                           "line ends in a lone carriage return (CR) at column %zu; save the file "
                                           "with LF line endings (or CRLF)",
                                           i + 1);
                const char *name = control_name(c);
                return config_fail(p, p->line, "control character 0x%02x%s%s%s in the file at column %zu; remove it",
                                   (unsigned) c, name ? " (" : "", name ? name : "", name ? ")" : "", i + 1);
        }
        return 0;
}

/* s points at the '[' of a header line (NUL-terminated, '\n' or "\r\n" kept). Opens the
 * section, or refuses the line when it is not exactly "[NAME]", blanks and a comment. */
static int read_header(Parser *p, const char *s) {
        const char *end = strchr(s, ']');
        if (!end)
                return config_fail(p, p->line, "section header '%.*s' has no closing ']'", (int) strcspn(s, "\r\n"), s);

        /* inih ignores whatever follows ']': so "[program:a] junk" read as [program:a] */
        const char *rest = end + 1 + strspn(end + 1, " \t");
        size_t n = strcspn(rest, "\r\n");
        if (n > 0 && *rest != ';' && *rest != '#') {
                while (n > 0 && (rest[n - 1] == ' ' || rest[n - 1] == '\t'))
                        n--;
                return config_fail(p, p->line,
                                   "%.*s: text '%.*s' after ']'; a section header stands alone on its line, "
                                   "with at most a comment after it (; or #)",
                                   (int) (end - s + 1 > 64 ? 64 : end - s + 1), s, (int) (n > 64 ? 64 : n), rest);
        }
        return config_begin_section(p, s + 1, (size_t) (end - s - 1));
}

/* fgets-like reader for inih that counts lines, refuses what inih would misread and
 * watches section headers. */
char *config_reader_cb(char *str, int num, void *stream) {
        Parser *p = stream;

        if (p->failed || p->pos >= p->len)
                return NULL;

        const char *start = p->text + p->pos;
        const char *nl = memchr(start, '\n', p->len - p->pos);
        size_t linelen = nl ? (size_t) (nl - start) + 1 : p->len - p->pos;
        p->line++;

        /* before the length: a CR-only file is one long line, and its CR is the news */
        if (check_bytes(p, start, linelen) < 0)
                return NULL;
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
        if (p->line == p->files[p->cur].base + 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
                s += 3; /* inih skips a UTF-8 BOM; so must we, or the first header goes unseen */
        while (*s == ' ' || *s == '\t')
                s++;
        if (*s == '[' && read_header(p, s) < 0)
                return NULL;
        return str;
}
