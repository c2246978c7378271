/* Program log files, the pure parts: sizes as supervisord writes them, the names rotation
 * gives, where a write may end so that rotation never splits a line, and the bounded
 * buffer between a program's pipe and its file (what is kept, what is dropped and what a
 * reader of the file is told about it). No I/O here: src/daemon/output.c does that. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SV_LOGFILE_MAXBYTES_DEFAULT (UINT64_C(50) << 20) /* supervisord's 50MB */
#define SV_LOGFILE_BACKUPS_DEFAULT 10
#define SV_LOGFILE_BACKUPS_MAX 1000
#define SV_LOGFILE_MAXBYTES_MAX (UINT64_C(1) << 50) /* 1 PiB: more is a typo */
#define SV_LOGBUF_SIZE (UINT64_C(1) << 20)            /* bytes kept per stream while the file lags */

/* "1024", "10KB", "50MB", "1GB" (supervisord's suffixes, any case, powers of 1024; also
 * "K", "M", "G" and "B"). 0 on success, -EINVAL when not a size or above
 * SV_LOGFILE_MAXBYTES_MAX. */
int sv_bytes_parse(const char *s, uint64_t *ret);
/* "50MB", "1KB", "1000" (exact: a multiple of a unit is written with it). */
const char *sv_bytes_format(uint64_t v, char *buf, size_t len);

/* The name of backup n of path: path itself for 0, else "path.n". -ENAMETOOLONG when it
 * does not fit in len. */
int sv_logfile_backup_name(const char *path, unsigned n, char *buf, size_t len);

/* How much of data[0..n) to write to a file of size bytes before it is rotated, so that
 * rotation happens once the file reaches maxbytes and never inside a line: sets
 * *ret_rotate (rotate before writing anything) when the file has reached maxbytes and ends
 * a line (at_line_start), else returns the length to write: all of it, or up to the first
 * newline that brings the file to maxbytes or past it. maxbytes 0: never rotates. */
size_t sv_logfile_span(const char *data, size_t n, uint64_t size, uint64_t maxbytes, bool at_line_start,
                       bool *ret_rotate);

/* The bounded buffer of one stream: a ring of cap bytes the daemon's loop fills from the
 * pipe and the writer empties into the file. When the file does not keep up and the ring
 * is full, what does not fit is dropped and counted, by whole lines where possible: the
 * lines that fit are kept, the rest of the line that did not fit is dropped up to its
 * newline, and once there is room again a line says how much was lost. A line longer than
 * the whole ring is cut: its head is kept, with a note at the cut. */
typedef struct SvLogBuf {
        char *data;
        size_t cap;        /* of data; the notes need SV_LOGBUF_SLACK more */
        size_t head, len;  /* the bytes waiting, from data[head], wrapping */
        bool at_line_start;/* the last byte kept was '\n' (or nothing was kept yet) */
        bool dropping;     /* dropping the rest of a line that did not fit */
        uint64_t dropped;  /* every byte dropped, ever */
        uint64_t unreported; /* dropped since the last note */
} SvLogBuf;

#define SV_LOGBUF_SLACK 160 /* room kept for the notes, beyond cap */

/* data must hold cap + SV_LOGBUF_SLACK bytes. */
void sv_logbuf_init(SvLogBuf *b, char *data, size_t cap);
/* Takes p[0..n) as the policy above says. Returns how many bytes were dropped. */
size_t sv_logbuf_put(SvLogBuf *b, const char *p, size_t n);
/* The first contiguous run of waiting bytes (up to the end of the ring): *ret and its
 * length; 0 when nothing waits. */
size_t sv_logbuf_peek(const SvLogBuf *b, const char **ret);
/* n bytes of the front have been written. */
void sv_logbuf_consume(SvLogBuf *b, size_t n);
