/* Helpers shared by the config tests (test_config.c, test_config_reader.c). */
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockvisor/cmdline.h"
#include "sockvisor/config.h"
#include "sockvisor/duration.h"

#ifndef SV_TEST_DATA
#define SV_TEST_DATA "tests/data"
#endif

#define ORIGIN "t.ini"

/* ---- helpers ---- */

static inline SvConfig *parse_ok(const char *text) {
        SvConfig *c = NULL;
        SvDiag d = {};
        int r = sv_config_parse_string(text, ORIGIN, &c, &d);
        if (r < 0)
                print_error("unexpected error %d: %s\n", r, d.msg);
        assert_int_equal(r, 0);
        assert_non_null(c);
        return c;
}

/* Asserts that text fails on line with a message naming the origin, "LINE:" and every needle. */
static inline void expect_error_at(const char *text, unsigned line, const char *needle, const char *needle2) {
        SvConfig *sentinel = (SvConfig *) (uintptr_t) 0x5a5a;
        SvConfig *c = sentinel;
        SvDiag d = {};
        char where[64];

        int r = sv_config_parse_string(text, ORIGIN, &c, &d);
        if (r >= 0 || d.line != line || !strstr(d.msg, needle) || (needle2 && !strstr(d.msg, needle2)))
                print_error("text:\n%s\n-> r=%d line=%u (want %u) msg: %s\n", text, r, d.line, line, d.msg);
        assert_true(r < 0);
        assert_int_equal(r, -EINVAL);
        assert_ptr_equal(c, sentinel); /* the output is written only on success */
        assert_int_equal(d.line, line);
        (void) snprintf(where, sizeof(where), "%s:%u:", ORIGIN, line);
        assert_non_null(strstr(d.msg, where));
        assert_ptr_equal(strstr(d.msg, where), d.msg); /* the message starts with FILE:LINE: */
        assert_non_null(strstr(d.msg, needle));
        if (needle2)
                assert_non_null(strstr(d.msg, needle2));
}

static inline void expect_error(const char *text, unsigned line, const char *needle) {
        expect_error_at(text, line, needle, NULL);
}

static inline char *xasprintf(const char *fmt, ...) _printf_(1, 2);
static inline char *xasprintf(const char *fmt, ...) {
        char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        assert_true(r >= 0);
        return s;
}

/* "command = /bin/echo w0001 w0002 ... ZZZ" of exactly len bytes (no newline); the last word
 * is made of 'Z' so a truncation shows. *ret_words gets the number of words after /bin/echo. */
static inline char *command_line_of(size_t len, size_t *ret_words, size_t *ret_last_len) {
        const char *prefix = "command = /bin/echo";
        char *s = malloc(len + 1);
        size_t o = strlen(prefix), words = 0;

        assert_non_null(s);
        assert_true(len >= o + 4);
        memcpy(s, prefix, o);
        while (o + 6 + 6 <= len) { /* keep room for a last word of at least 5 bytes */
                o += (size_t) sprintf(s + o, " w%04zu", words % 10000);
                words++;
        }
        s[o++] = ' ';
        size_t last = len - o;
        memset(s + o, 'Z', last);
        o += last;
        s[o] = '\0';
        assert_int_equal(strlen(s), len);
        *ret_words = words + 1;
        *ret_last_len = last;
        return s;
}

static inline void check_long_command(size_t len) {
        size_t words, last;
        _cleanup_free_ char *line = command_line_of(len, &words, &last);
        _cleanup_free_ char *text = xasprintf("[program:p]\n%s\nstopsignal = INT\n", line);
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok(text);

        assert_int_equal(c->n_programs, 1);
        const SvProgramConf *p = &c->programs[0];
        assert_string_equal(p->command, line + strlen("command = "));
        assert_int_equal(sv_strv_length(p->argv), words + 1);
        assert_string_equal(p->argv[0], "/bin/echo");
        assert_string_equal(p->argv[1], "w0000");
        assert_int_equal(strlen(p->argv[words]), last);
        assert_int_equal(strspn(p->argv[words], "Z"), last);
        assert_int_equal(p->stopsignal, SIGINT); /* the next line is still its own key */
}

