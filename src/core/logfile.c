/* Program log files, the pure parts: sizes, backup names, where rotation may cut, and the
 * bounded buffer between a program's pipe and its file. */
#include "sockvisor/logfile.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int sv_bytes_parse(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                unsigned shift;
        } units[] = { { "", 0 }, { "b", 0 }, { "k", 10 }, { "kb", 10 }, { "m", 20 }, { "mb", 20 }, { "g", 30 }, { "gb", 30 } };
        uint64_t v = 0;
        size_t i = 0;

        if (!s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        for (; isdigit((unsigned char) s[i]); i++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++)
                if (strcasecmp(s + i, units[k].suffix) == 0) {
                        if (v > (SV_LOGFILE_MAXBYTES_MAX >> units[k].shift))
                                return -EINVAL;
                        *ret = v << units[k].shift;
                        return 0;
                }
        return -EINVAL;
}

const char *sv_bytes_format(uint64_t v, char *buf, size_t len) {
        if (v && v % (UINT64_C(1) << 30) == 0)
                (void) snprintf(buf, len, "%" PRIu64 "GB", v >> 30);
        else if (v && v % (UINT64_C(1) << 20) == 0)
                (void) snprintf(buf, len, "%" PRIu64 "MB", v >> 20);
        else if (v && v % (UINT64_C(1) << 10) == 0)
                (void) snprintf(buf, len, "%" PRIu64 "KB", v >> 10);
        else
                (void) snprintf(buf, len, "%" PRIu64, v);
        return buf;
}

int sv_logfile_backup_name(const char *path, unsigned n, char *buf, size_t len) {
        int k = n ? snprintf(buf, len, "%s.%u", path, n) : snprintf(buf, len, "%s", path);
        return k < 0 || (size_t) k >= len ? -ENAMETOOLONG : 0;
}

size_t sv_logfile_span(const char *data, size_t n, uint64_t size, uint64_t maxbytes, bool at_line_start,
                       bool *ret_rotate) {
        *ret_rotate = false;
        if (maxbytes == 0 || n == 0)
                return n;
        if (size >= maxbytes && at_line_start) {
                *ret_rotate = true;
                return 0;
        }
        /* the write may end at the first newline at or after the byte that reaches maxbytes */
        size_t from = size >= maxbytes ? 0 : (size_t) (maxbytes - size - 1);
        if (from >= n)
                return n;
        const char *nl = memchr(data + from, '\n', n - from);
        return nl ? (size_t) (nl - data) + 1 : n;
}

/* ---- the buffer ---- */

void sv_logbuf_init(SvLogBuf *b, char *data, size_t cap) {
        *b = (SvLogBuf){ .data = data, .cap = cap, .at_line_start = true };
}

static size_t ring_size(const SvLogBuf *b) {
        return b->cap + SV_LOGBUF_SLACK;
}

static void append(SvLogBuf *b, const char *p, size_t n) {
        size_t rs = ring_size(b);
        size_t tail = (b->head + b->len) % rs;
        size_t first = n < rs - tail ? n : rs - tail;
        memcpy(b->data + tail, p, first);
        memcpy(b->data, p + first, n - first);
        b->len += n;
        if (n)
                b->at_line_start = p[n - 1] == '\n';
}

/* The note that says how much was lost, where it was lost. Needs room in the slack. */
static bool put_note(SvLogBuf *b) {
        char note[SV_LOGBUF_SLACK];
        int k = snprintf(note, sizeof(note), "%s[sockvisord: %" PRIu64 " bytes of output dropped here: the log file did not keep up]\n",
                         b->at_line_start ? "" : "\n", b->unreported);
        if (k < 0 || (size_t) k >= sizeof(note) || b->len + (size_t) k > ring_size(b))
                return false;
        append(b, note, (size_t) k);
        b->unreported = 0;
        return true;
}

size_t sv_logbuf_put(SvLogBuf *b, const char *p, size_t n) {
        size_t dropped = 0;
        while (n > 0) {
                if (b->dropping) { /* the rest of a line that did not fit, up to its newline */
                        const char *nl = memchr(p, '\n', n);
                        size_t k = nl ? (size_t) (nl - p) + 1 : n;
                        dropped += k;
                        b->unreported += k;
                        p += k;
                        n -= k;
                        b->dropping = !nl;
                        continue;
                }
                if (b->unreported && !put_note(b)) {
                        b->dropping = true; /* still no room: this line goes too */
                        continue;
                }
                size_t room = b->len < b->cap ? b->cap - b->len : 0;
                if (n <= room) {
                        append(b, p, n);
                        break;
                }
                /* whole lines while they fit */
                const char *last = room ? memrchr(p, '\n', room) : NULL;
                if (last) {
                        size_t k = (size_t) (last - p) + 1;
                        append(b, p, k);
                        p += k;
                        n -= k;
                        continue;
                }
                /* No whole line fits. A line already begun keeps what fits (it is cut there);
                 * a new one is dropped whole. Either way the note follows at the next line. */
                if (!b->at_line_start && room) {
                        append(b, p, room);
                        p += room;
                        n -= room;
                }
                b->dropping = true;
        }
        b->dropped += dropped;
        return dropped;
}

size_t sv_logbuf_peek(const SvLogBuf *b, const char **ret) {
        size_t rs = ring_size(b);
        size_t n = b->len < rs - b->head ? b->len : rs - b->head;
        *ret = b->data + b->head;
        return n;
}

void sv_logbuf_consume(SvLogBuf *b, size_t n) {
        if (n > b->len)
                n = b->len;
        b->head = (b->head + n) % ring_size(b);
        b->len -= n;
}
