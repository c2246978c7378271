/* Unit tests for the pure parts of log files: sizes, backup names, where rotation cuts,
 * and the bounded buffer (what it keeps, drops and says). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/logfile.h"

static void test_bytes(void **state) {
        uint64_t v;
        char b[32];
        assert_int_equal(sv_bytes_parse("0", &v), 0);
        assert_true(v == 0);
        assert_int_equal(sv_bytes_parse("1234", &v), 0);
        assert_true(v == 1234);
        assert_int_equal(sv_bytes_parse("10KB", &v), 0);
        assert_true(v == 10240);
        assert_int_equal(sv_bytes_parse("50MB", &v), 0);
        assert_true(v == 50u << 20);
        assert_int_equal(sv_bytes_parse("2gb", &v), 0);
        assert_true(v == UINT64_C(2) << 30);
        assert_int_equal(sv_bytes_parse("3k", &v), 0);
        assert_true(v == 3072);
        assert_int_equal(sv_bytes_parse("7B", &v), 0);
        assert_true(v == 7);
        const char *bad[] = { "", "MB", "-1", "1.5MB", "10 MB", "10TB", "1KiB", "99999999999999999999",
                              "1048577GB" /* past the 1 PiB bound */ };
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
                v = 42;
                assert_int_equal(sv_bytes_parse(bad[k], &v), -EINVAL);
                assert_true(v == 42); /* untouched */
        }
        assert_string_equal(sv_bytes_format(50u << 20, b, sizeof(b)), "50MB");
        assert_string_equal(sv_bytes_format(1536, b, sizeof(b)), "1536");
        assert_string_equal(sv_bytes_format(2048, b, sizeof(b)), "2KB");
        assert_string_equal(sv_bytes_format(0, b, sizeof(b)), "0");
}

static void test_backup_names(void **state) {
        char b[32];
        assert_int_equal(sv_logfile_backup_name("/l/app.log", 0, b, sizeof(b)), 0);
        assert_string_equal(b, "/l/app.log");
        assert_int_equal(sv_logfile_backup_name("/l/app.log", 1, b, sizeof(b)), 0);
        assert_string_equal(b, "/l/app.log.1");
        assert_int_equal(sv_logfile_backup_name("/l/app.log", 10, b, sizeof(b)), 0);
        assert_string_equal(b, "/l/app.log.10");
        assert_int_equal(sv_logfile_backup_name("/a/very/long/path/to/app.log", 1, b, 12), -ENAMETOOLONG);
}

/* Rotation at maxbytes, never inside a line. */
static void test_span(void **state) {
        bool rot;
        const char *d = "aaaa\nbbbb\ncccc\n";
        /* never with maxbytes 0 */
        assert_int_equal(sv_logfile_span(d, 15, 1000, 0, true, &rot), 15);
        assert_false(rot);
        /* far from maxbytes: all of it */
        assert_int_equal(sv_logfile_span(d, 15, 0, 100, true, &rot), 15);
        assert_false(rot);
        /* maxbytes 7 on an empty file: up to the newline that reaches it (byte 10) */
        assert_int_equal(sv_logfile_span(d, 15, 0, 7, true, &rot), 10);
        /* maxbytes 5: the first line reaches it exactly */
        assert_int_equal(sv_logfile_span(d, 15, 0, 5, true, &rot), 5);
        /* the file is full and ends a line: rotate first */
        assert_int_equal(sv_logfile_span(d, 15, 5, 5, true, &rot), 0);
        assert_true(rot);
        /* full, but in the middle of a line: finish that line first */
        assert_int_equal(sv_logfile_span("xx\nyy\n", 6, 9, 5, false, &rot), 3);
        assert_false(rot);
        /* no newline at all: everything (the line goes on in this file) */
        assert_int_equal(sv_logfile_span("xxxxxx", 6, 3, 5, true, &rot), 6);
        assert_false(rot);
}

#define CAP 256
static char ring[CAP + SV_LOGBUF_SLACK];

static size_t drain(SvLogBuf *b, char *out, size_t cap) {
        size_t o = 0;
        const char *p;
        size_t n;
        while ((n = sv_logbuf_peek(b, &p)) > 0) {
                assert_true(o + n <= cap);
                memcpy(out + o, p, n);
                o += n;
                sv_logbuf_consume(b, n);
        }
        out[o] = '\0';
        return o;
}

static void test_buffer_keeps_and_wraps(void **state) {
        SvLogBuf b;
        char out[1024];
        sv_logbuf_init(&b, ring, CAP);
        for (int round = 0; round < 20; round++) { /* wraps around the ring many times */
                char line[32];
                int n = snprintf(line, sizeof(line), "line %02d\n", round);
                assert_int_equal(sv_logbuf_put(&b, line, (size_t) n), 0);
                assert_int_equal(sv_logbuf_put(&b, line, (size_t) n), 0);
                size_t got = drain(&b, out, sizeof(out));
                assert_int_equal(got, 2 * (size_t) n);
                assert_memory_equal(out, line, (size_t) n);
        }
        assert_true(b.dropped == 0);
}

/* Full: whole lines that fit are kept, the rest dropped up to a newline, then a note. */
static void test_buffer_drops_whole_lines(void **state) {
        SvLogBuf b;
        char out[1024];
        sv_logbuf_init(&b, ring, CAP);
        const char *fill = "0123456789012345678901234567890123456789\n"; /* 41 */
        for (int k = 0; k < 6; k++)
                assert_int_equal(sv_logbuf_put(&b, fill, 41), 0);
        /* 10 bytes of room: "aaaa\n" fits, "bbbb...b\n" (30) does not */
        size_t dropped = sv_logbuf_put(&b, "aaaa\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\ncc", 37);
        /* "cc" goes too: the note takes the slack, and no room is left for it */
        assert_int_equal(dropped, 32);
        assert_true(b.len <= CAP + SV_LOGBUF_SLACK);
        drain(&b, out, sizeof(out));
        assert_string_equal(out + 5 * 41, "0123456789012345678901234567890123456789\naaaa\n"
                                 "[sockvisord: 30 bytes of output dropped here: the log file did not keep up]\n");
        /* drained: the rest of cc's line is dropped, then a note for it, then lines flow */
        assert_int_equal(sv_logbuf_put(&b, "\ndd\nee\n", 7), 1);
        drain(&b, out, sizeof(out));
        assert_string_equal(out, "[sockvisord: 3 bytes of output dropped here: the log file did not keep up]\ndd\nee\n");
        assert_true(b.dropped == 33);
        assert_true(b.unreported == 0);
}

/* A line longer than the buffer: its head is kept, it is cut there, and the note says so. */
static void test_buffer_cuts_long_line(void **state) {
        SvLogBuf b;
        char out[1024], big[400];
        sv_logbuf_init(&b, ring, CAP);
        memset(big, 'x', sizeof(big));
        assert_int_equal(sv_logbuf_put(&b, big, 30), 0);                  /* the line begins */
        assert_int_equal(sv_logbuf_put(&b, big, sizeof(big)), 400 - 226); /* 226 more fit */
        drain(&b, out, sizeof(out));
        assert_int_equal(strspn(out, "x"), CAP);
        assert_int_equal(strlen(out), CAP);
        assert_int_equal(sv_logbuf_put(&b, "\nnext\n", 6), 1); /* the cut line's newline */
        drain(&b, out, sizeof(out));
        /* the note ends the cut line, on a line of its own */
        assert_string_equal(out, "\n[sockvisord: 175 bytes of output dropped here: the log file did not keep up]\nnext\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bytes),
                cmocka_unit_test(test_backup_names),
                cmocka_unit_test(test_span),
                cmocka_unit_test(test_buffer_keeps_and_wraps),
                cmocka_unit_test(test_buffer_drops_whole_lines),
                cmocka_unit_test(test_buffer_cuts_long_line),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
