/* Unit tests for the control protocol: requests, replies and the line framer. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sockvisor/ctlproto.h"

/* ---- requests ---- */

static void test_request_roundtrip_no_args(void **state) {
        char buf[CTL_LINE_MAX];
        SvDiag d = { 0 };
        CtlRequest req;
        int r;

        r = ctl_request_format(buf, sizeof(buf), "status", NULL, 0, &d);
        assert_int_equal(r, (int) strlen("SOCKVISOR/1 status\n"));
        assert_string_equal(buf, "SOCKVISOR/1 status\n");

        assert_int_equal(ctl_request_parse(buf, (size_t) r, &req, &d), 0);
        assert_int_equal(req.version, 1);
        assert_string_equal(req.verb, "status");
        assert_int_equal(req.n_args, 0);
        assert_null(req.args[0]);

        /* Without the trailing newline too. */
        assert_int_equal(ctl_request_parse(buf, (size_t) r - 1, &req, &d), 0);
        assert_string_equal(req.verb, "status");
        assert_int_equal(req.n_args, 0);
}

static void test_request_roundtrip_one_arg(void **state) {
        char buf[CTL_LINE_MAX];
        char *args[] = { "app" };
        SvDiag d = { 0 };
        CtlRequest req;
        int r;

        r = ctl_request_format(buf, sizeof(buf), "restart", args, 1, &d);
        assert_string_equal(buf, "SOCKVISOR/1 restart app\n");
        assert_int_equal(r, (int) strlen(buf));

        assert_int_equal(ctl_request_parse(buf, (size_t) r, &req, &d), 0);
        assert_int_equal(req.version, 1);
        assert_string_equal(req.verb, "restart");
        assert_int_equal(req.n_args, 1);
        assert_string_equal(req.args[0], "app");
        assert_null(req.args[1]);
}

static void test_request_roundtrip_64_args(void **state) {
        char names[CTL_ARGS_MAX][51];
        char *args[CTL_ARGS_MAX];
        char buf[CTL_LINE_MAX];
        SvDiag d = { 0 };
        CtlRequest req;
        int r;

        /* 64 args of 50 bytes: 64 * 51 + 18 bytes, under CTL_LINE_MAX. */
        for (size_t i = 0; i < CTL_ARGS_MAX; i++) {
                char tag[8];

                memset(names[i], 'a' + (int) (i % 26), 50);
                names[i][50] = '\0';
                (void) snprintf(tag, sizeof(tag), "n%03zu~", i);
                memcpy(names[i], tag, 5);
                args[i] = names[i];
        }

        r = ctl_request_format(buf, sizeof(buf), "stop", args, CTL_ARGS_MAX, &d);
        assert_true(r > 0);
        assert_int_equal(r, (int) strlen(buf));
        assert_int_equal(buf[r - 1], '\n');

        assert_int_equal(ctl_request_parse(buf, (size_t) r, &req, &d), 0);
        assert_string_equal(req.verb, "stop");
        assert_int_equal(req.n_args, CTL_ARGS_MAX);
        for (size_t i = 0; i < CTL_ARGS_MAX; i++)
                assert_string_equal(req.args[i], names[i]);
        assert_null(req.args[CTL_ARGS_MAX]);
}

static void test_request_max_lengths_ok(void **state) {
        char verb[CTL_VERB_MAX + 1], arg[CTL_ARG_MAX + 1];
        char *args[] = { arg };
        char buf[CTL_LINE_MAX];
        SvDiag d = { 0 };
        CtlRequest req;
        int r;

        memset(verb, 'z', CTL_VERB_MAX);
        verb[CTL_VERB_MAX] = '\0';
        memset(arg, '!', CTL_ARG_MAX);
        arg[CTL_ARG_MAX] = '\0';

        r = ctl_request_format(buf, sizeof(buf), verb, args, 1, &d);
        assert_true(r > 0);
        assert_int_equal(ctl_request_parse(buf, (size_t) r, &req, &d), 0);
        assert_string_equal(req.verb, verb);
        assert_string_equal(req.args[0], arg);
}

static void expect_parse(const char *line, int expected) {
        SvDiag d = { 0 };
        CtlRequest req;
        int r;

        r = ctl_request_parse(line, strlen(line), &req, &d);
        if (r != expected)
                fail_msg("'%s': expected %d, got %d (%s)", line, expected, r, d.msg);
        if (r < 0) {
                assert_true(d.msg[0] != '\0');
                assert_int_equal(req.n_args, 0);
                assert_null(req.args[0]);
        }
}

static void test_request_bad_magic(void **state) {
        SvDiag d = { 0 };
        CtlRequest req;

        expect_parse("status\n", -EPROTO);
        expect_parse("", -EPROTO);
        expect_parse("\n", -EPROTO);
        expect_parse("SOCKVISR/1 status\n", -EPROTO);
        expect_parse("sockvisor/1 status\n", -EPROTO);
        expect_parse("SOCKVISOR/ status\n", -EPROTO);
        expect_parse("SOCKVISOR/x status\n", -EPROTO);
        expect_parse("SOCKVISOR/1status\n", -EPROTO);
        expect_parse("SOCKVISOR/1\n", -EPROTO);
        expect_parse("SOCKVISOR\n", -EPROTO);
        expect_parse("GET / HTTP/1.1\r\n", -EPROTO);

        /* The message quotes what came, with control bytes made visible. */
        assert_int_equal(ctl_request_parse("GET /\x1b", 6, &req, &d), -EPROTO);
        assert_non_null(strstr(d.msg, "'GET /?'"));
        assert_non_null(strstr(d.msg, "SOCKVISOR/1"));
}

static void test_request_bad_version(void **state) {
        SvDiag d = { 0 };
        CtlRequest req;

        assert_int_equal(ctl_request_parse("SOCKVISOR/2 status\n", 19, &req, &d), -EPROTONOSUPPORT);
        assert_int_equal(req.version, 2);
        assert_non_null(strstr(d.msg, "version 2"));

        assert_int_equal(ctl_request_parse("SOCKVISOR/0 status", 18, &req, &d), -EPROTONOSUPPORT);
        assert_int_equal(req.version, 0);

        /* Overflow saturates instead of wrapping to 1. */
        const char *huge = "SOCKVISOR/4294967297 status";
        assert_int_equal(ctl_request_parse(huge, strlen(huge), &req, &d), -EPROTONOSUPPORT);
        assert_int_equal(req.version, UINT_MAX);

        /* A future version may change the syntax after the magic: not our business. */
        assert_int_equal(ctl_request_parse("SOCKVISOR/2 Weird  stuff", 24, &req, &d), -EPROTONOSUPPORT);
}

static void test_request_bad_verb(void **state) {
        char buf[CTL_LINE_MAX], line[128], verb[CTL_VERB_MAX + 2];
        SvDiag d = { 0 };

        expect_parse("SOCKVISOR/1 Status\n", -EINVAL);
        expect_parse("SOCKVISOR/1 STATUS\n", -EINVAL);
        expect_parse("SOCKVISOR/1 \n", -EINVAL);
        expect_parse("SOCKVISOR/1 ", -EINVAL);
        expect_parse("SOCKVISOR/1  status\n", -EINVAL);
        expect_parse("SOCKVISOR/1 st4tus\n", -EINVAL);
        expect_parse("SOCKVISOR/1 re-start\n", -EINVAL);

        memset(verb, 'a', CTL_VERB_MAX + 1);
        verb[CTL_VERB_MAX + 1] = '\0';
        (void) snprintf(line, sizeof(line), "SOCKVISOR/1 %s\n", verb);
        expect_parse(line, -EINVAL);

        memset(buf, 'x', 8);
        assert_int_equal(ctl_request_format(buf, sizeof(buf), "Status", NULL, 0, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "lowercase"));
        assert_int_equal(ctl_request_format(buf, sizeof(buf), "", NULL, 0, &d), -EINVAL);
        assert_int_equal(ctl_request_format(buf, sizeof(buf), NULL, NULL, 0, &d), -EINVAL);
        assert_int_equal(ctl_request_format(buf, sizeof(buf), verb, NULL, 0, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "32 bytes"));
        /* buf is only written on success. */
        assert_memory_equal(buf, "xxxxxxxx", 8);
}

static void test_request_bad_args(void **state) {
        char buf[CTL_LINE_MAX], line[CTL_LINE_MAX], longarg[CTL_ARG_MAX + 2];
        SvDiag d = { 0 };

        /* Format: space, control characters, DEL, non-ASCII, empty, NULL, 256 bytes. */
        char *sp[] = { "ok", "my app" };
        assert_int_equal(ctl_request_format(buf, sizeof(buf), "start", sp, 2, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "argument 2"));
        assert_non_null(strstr(d.msg, "space"));

        char *tab[] = { "a\tb" };
        assert_int_equal(ctl_request_format(buf, sizeof(buf), "start", tab, 1, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "0x09"));
        char *nl[] = { "a\nb" };
        assert_int_equal(ctl_request_format(buf, sizeof(buf), "start", nl, 1, &d), -EINVAL);
        char *del[] = { "a\x7f" };
        assert_int_equal(ctl_request_format(buf, sizeof(buf), "start", del, 1, &d), -EINVAL);
        char *utf8[] = { "caf\xc3\xa9" };
        assert_int_equal(ctl_request_format(buf, sizeof(buf), "start", utf8, 1, &d), -EINVAL);
        char *empty[] = { "" };
        assert_int_equal(ctl_request_format(buf, sizeof(buf), "start", empty, 1, &d), -EINVAL);
        char *null[] = { NULL };
        assert_int_equal(ctl_request_format(buf, sizeof(buf), "start", null, 1, &d), -EINVAL);

        memset(longarg, 'q', CTL_ARG_MAX + 1);
        longarg[CTL_ARG_MAX + 1] = '\0';
        char *lng[] = { longarg };
        assert_int_equal(ctl_request_format(buf, sizeof(buf), "start", lng, 1, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "256 bytes"));

        /* Parse: the same, plus empty arguments from doubled or trailing spaces. */
        expect_parse("SOCKVISOR/1 start a  b\n", -EINVAL);
        expect_parse("SOCKVISOR/1 start a \n", -EINVAL);
        expect_parse("SOCKVISOR/1 start \n", -EINVAL);
        expect_parse("SOCKVISOR/1 start a\x01z\n", -EINVAL);
        expect_parse("SOCKVISOR/1 start a\tb\n", -EINVAL);
        expect_parse("SOCKVISOR/1 start a\rb\n", -EINVAL);
        expect_parse("SOCKVISOR/1 start a\r\n", -EINVAL);
        expect_parse("SOCKVISOR/1 start a\x7f\n", -EINVAL);
        expect_parse("SOCKVISOR/1 start caf\xc3\xa9\n", -EINVAL);
        expect_parse("SOCKVISOR/1 start a\nb\n", -EINVAL);

        CtlRequest req;
        assert_int_equal(ctl_request_parse("SOCKVISOR/1 start a\0b\n", 22, &req, &d), -EINVAL);

        (void) snprintf(line, sizeof(line), "SOCKVISOR/1 start %s\n", longarg);
        expect_parse(line, -EINVAL);
        longarg[CTL_ARG_MAX] = '\0';
        (void) snprintf(line, sizeof(line), "SOCKVISOR/1 start %s\n", longarg);
        expect_parse(line, 0);
}

static void test_request_too_many_args(void **state) {
        char *args[CTL_ARGS_MAX + 1];
        char buf[CTL_LINE_MAX], line[CTL_LINE_MAX];
        SvDiag d = { 0 };
        size_t pos;

        for (size_t i = 0; i < CTL_ARGS_MAX + 1; i++)
                args[i] = "x";
        assert_int_equal(ctl_request_format(buf, sizeof(buf), "stop", args, CTL_ARGS_MAX + 1, &d), -EMSGSIZE);
        assert_non_null(strstr(d.msg, "64"));

        pos = (size_t) snprintf(line, sizeof(line), "SOCKVISOR/1 stop");
        for (size_t i = 0; i < CTL_ARGS_MAX + 1; i++)
                pos += (size_t) snprintf(line + pos, sizeof(line) - pos, " x");
        expect_parse(line, -EMSGSIZE);
}

/* Builds "x" with args summing to a request line of exactly total bytes (with '\n'). */
static size_t make_args(char store[16][CTL_ARG_MAX + 1], char **args, size_t total) {
        size_t left = total - strlen("SOCKVISOR/1 x\n"), n = 0;

        while (left > 0) {
                size_t k = left - 1 > CTL_ARG_MAX ? CTL_ARG_MAX : left - 1;

                assert_true(k > 0);
                memset(store[n], 'a' + (int) n, k);
                store[n][k] = '\0';
                args[n] = store[n];
                left -= k + 1;
                n++;
        }
        return n;
}

static void test_request_line_limit(void **state) {
        static char store[16][CTL_ARG_MAX + 1];
        char *args[16];
        char buf[CTL_LINE_MAX + 16], line[CTL_LINE_MAX + 2];
        SvDiag d = { 0 };
        CtlRequest req;
        size_t n;
        int r;

        /* Exactly CTL_LINE_MAX bytes with the '\n': the largest request there is. */
        n = make_args(store, args, CTL_LINE_MAX);
        r = ctl_request_format(buf, sizeof(buf), "x", args, n, &d);
        assert_int_equal(r, CTL_LINE_MAX);
        assert_int_equal(ctl_request_parse(buf, (size_t) r, &req, &d), 0);
        assert_int_equal(req.n_args, n);

        /* The same into a buffer of CTL_LINE_MAX bytes: no room for the NUL. */
        assert_int_equal(ctl_request_format(buf, CTL_LINE_MAX, "x", args, n, &d), -EMSGSIZE);
        assert_int_equal(ctl_request_format(buf, 4, "status", NULL, 0, &d), -EMSGSIZE);

        /* One byte more. */
        n = make_args(store, args, CTL_LINE_MAX + 1);
        assert_int_equal(ctl_request_format(buf, sizeof(buf), "x", args, n, &d), -EMSGSIZE);
        assert_non_null(strstr(d.msg, "4096"));

        /* A line of CTL_LINE_MAX bytes without its '\n' is one byte too long. */
        memset(line, 'a', sizeof(line));
        memcpy(line, "SOCKVISOR/1 status a", 20);
        for (size_t i = 20; i < CTL_LINE_MAX; i += 256)
                line[i] = ' ';
        assert_int_equal(ctl_request_parse(line, CTL_LINE_MAX, &req, &d), -EMSGSIZE);
        line[CTL_LINE_MAX] = '\n';
        assert_int_equal(ctl_request_parse(line, CTL_LINE_MAX + 1, &req, &d), -EMSGSIZE);
        /* ... and fine one byte shorter. */
        line[CTL_LINE_MAX - 1] = '\n';
        assert_int_equal(ctl_request_parse(line, CTL_LINE_MAX, &req, &d), 0);
        assert_int_equal(ctl_request_parse(line, CTL_LINE_MAX - 1, &req, &d), 0);
}

/* ---- replies ---- */

static void test_reply_format_kinds(void **state) {
        char buf[CTL_LINE_MAX + 1];

        assert_int_equal(ctl_reply_format(buf, sizeof(buf), CTL_REPLY_PROGRESS, "waiting for app"), 18);
        assert_string_equal(buf, ". waiting for app\n");
        assert_int_equal(ctl_reply_format(buf, sizeof(buf), CTL_REPLY_OUTPUT, "app running 1234"), 19);
        assert_string_equal(buf, "| app running 1234\n");
        assert_int_equal(ctl_reply_format(buf, sizeof(buf), CTL_REPLY_OK, "restarted in 1.2s"), 21);
        assert_string_equal(buf, "OK restarted in 1.2s\n");
        assert_int_equal(ctl_reply_format(buf, sizeof(buf), CTL_REPLY_ERR, "no program 'x'"), 19);
        assert_string_equal(buf, "ERR no program 'x'\n");

        assert_int_equal(ctl_reply_format(buf, sizeof(buf), CTL_REPLY_OK, NULL), 3);
        assert_string_equal(buf, "OK\n");
        assert_int_equal(ctl_reply_format(buf, sizeof(buf), CTL_REPLY_OK, ""), 3);
        assert_string_equal(buf, "OK\n");
        assert_int_equal(ctl_reply_format(buf, sizeof(buf), CTL_REPLY_ERR, NULL), 4);
        assert_string_equal(buf, "ERR\n");
        assert_int_equal(ctl_reply_format(buf, sizeof(buf), CTL_REPLY_OUTPUT, ""), 3);
        assert_string_equal(buf, "| \n");
        assert_int_equal(ctl_reply_format(buf, sizeof(buf), CTL_REPLY_PROGRESS, NULL), 3);
        assert_string_equal(buf, ". \n");

        assert_int_equal(ctl_reply_format(buf, sizeof(buf), _CTL_REPLY_MAX, "x"), -EINVAL);
}

static void test_reply_control_chars(void **state) {
        char buf[64];

        assert_int_equal(ctl_reply_format(buf, sizeof(buf), CTL_REPLY_OUTPUT, "a\tb\x1b[31mc\x7f\nd\re"), 17);
        assert_string_equal(buf, "| a?b?[31mc??d?e\n");
        /* UTF-8 and other high bytes pass through. */
        ctl_reply_format(buf, sizeof(buf), CTL_REPLY_OK, "caf\xc3\xa9 \xe2\x9c\x93");
        assert_string_equal(buf, "OK caf\xc3\xa9 \xe2\x9c\x93\n");
}

static void test_reply_cut(void **state) {
        static char text[3 * CTL_LINE_MAX], buf[2 * CTL_LINE_MAX];
        CtlReplyKind kind;
        const char *t;
        size_t tl;
        int r;

        memset(text, 'a', sizeof(text) - 1);

        for (CtlReplyKind k = 0; k < _CTL_REPLY_MAX; k++) {
                r = ctl_reply_format(buf, sizeof(buf), k, text);
                assert_int_equal(r, CTL_LINE_MAX);
                assert_int_equal(buf[r - 1], '\n');
                assert_int_equal(buf[r], '\0');
                assert_int_equal(ctl_reply_parse(buf, (size_t) r, &kind, &t, &tl), 0);
                assert_int_equal(kind, k);
                assert_int_equal(tl, (size_t) r - 1 - (size_t) (t - buf));
        }

        /* Cut to a small buffer: line, '\n' and NUL fit in len. */
        assert_int_equal(ctl_reply_format(buf, 10, CTL_REPLY_OK, text), 9);
        assert_string_equal(buf, "OK aaaaa\n");
        assert_int_equal(ctl_reply_format(buf, 5, CTL_REPLY_PROGRESS, text), 4);
        assert_string_equal(buf, ". a\n");
        /* Room for "OK\n" but not for a byte of text: plain OK rather than failing. */
        assert_int_equal(ctl_reply_format(buf, 5, CTL_REPLY_OK, text), 3);
        assert_string_equal(buf, "OK\n");

        /* Too small for even the prefix. */
        assert_int_equal(ctl_reply_format(buf, 3, CTL_REPLY_OK, NULL), -EMSGSIZE);
        assert_int_equal(ctl_reply_format(buf, 4, CTL_REPLY_ERR, "x"), -EMSGSIZE);
        assert_int_equal(ctl_reply_format(buf, 3, CTL_REPLY_PROGRESS, "x"), -EMSGSIZE);
        assert_int_equal(ctl_reply_format(buf, 4, CTL_REPLY_PROGRESS, "x"), 3);
        assert_string_equal(buf, ". \n");
        assert_int_equal(ctl_reply_format(buf, 0, CTL_REPLY_OK, NULL), -EMSGSIZE);

        /* A cut never splits a UTF-8 sequence: "OK " + 3 bytes of room, é is 2 bytes. */
        assert_int_equal(ctl_reply_format(buf, 8, CTL_REPLY_OK, "\xc3\xa9\xc3\xa9\xc3\xa9"), 6);
        assert_string_equal(buf, "OK \xc3\xa9\n");
}

static void expect_reply(const char *line, int expected, CtlReplyKind ekind, const char *etext) {
        CtlReplyKind kind = _CTL_REPLY_MAX;
        const char *text = NULL;
        size_t text_len = SIZE_MAX;
        int r;

        r = ctl_reply_parse(line, strlen(line), &kind, &text, &text_len);
        if (r != expected)
                fail_msg("'%s': expected %d, got %d", line, expected, r);
        if (r < 0) {
                /* Outputs untouched on error. */
                assert_int_equal(kind, _CTL_REPLY_MAX);
                assert_null(text);
                return;
        }
        assert_int_equal(kind, ekind);
        assert_int_equal(text_len, strlen(etext));
        assert_memory_equal(text, etext, text_len);
}

static void test_reply_parse(void **state) {
        expect_reply(". waiting\n", 0, CTL_REPLY_PROGRESS, "waiting");
        expect_reply(". waiting", 0, CTL_REPLY_PROGRESS, "waiting");
        expect_reply(".\n", 0, CTL_REPLY_PROGRESS, "");
        expect_reply(". \n", 0, CTL_REPLY_PROGRESS, "");
        expect_reply("| a  b \n", 0, CTL_REPLY_OUTPUT, "a  b ");
        expect_reply("|  indented\n", 0, CTL_REPLY_OUTPUT, " indented");
        expect_reply("OK\n", 0, CTL_REPLY_OK, "");
        expect_reply("OK", 0, CTL_REPLY_OK, "");
        expect_reply("OK 3 restarted\n", 0, CTL_REPLY_OK, "3 restarted");
        expect_reply("ERR\n", 0, CTL_REPLY_ERR, "");
        expect_reply("ERR no such program 'x'\n", 0, CTL_REPLY_ERR, "no such program 'x'");

        expect_reply("", -EPROTO, 0, NULL);
        expect_reply("\n", -EPROTO, 0, NULL);
        expect_reply("OKAY\n", -EPROTO, 0, NULL);
        expect_reply("ok\n", -EPROTO, 0, NULL);
        expect_reply("ERROR x\n", -EPROTO, 0, NULL);
        expect_reply(".x\n", -EPROTO, 0, NULL);
        expect_reply("|x\n", -EPROTO, 0, NULL);
        expect_reply("WARN x\n", -EPROTO, 0, NULL);
        expect_reply(" OK\n", -EPROTO, 0, NULL);
        expect_reply("OK a\nb\n", -EPROTO, 0, NULL);

        CtlReplyKind kind;
        const char *text;
        size_t tl;
        assert_int_equal(ctl_reply_parse("OK a\0b\n", 7, &kind, &text, &tl), -EPROTO);

        static char big[CTL_LINE_MAX + 1];
        memset(big, 'a', sizeof(big));
        memcpy(big, "OK ", 3);
        assert_int_equal(ctl_reply_parse(big, CTL_LINE_MAX, &kind, &text, &tl), -EMSGSIZE);
        big[CTL_LINE_MAX - 1] = '\n';
        assert_int_equal(ctl_reply_parse(big, CTL_LINE_MAX, &kind, &text, &tl), 0);
        assert_int_equal(tl, CTL_LINE_MAX - 4);
}

static void test_reply_roundtrip(void **state) {
        char buf[CTL_LINE_MAX + 1];
        CtlReplyKind kind;
        const char *text;
        size_t tl;
        int r;

        for (CtlReplyKind k = 0; k < _CTL_REPLY_MAX; k++) {
                r = ctl_reply_format(buf, sizeof(buf), k, "hello world");
                assert_true(r > 0);
                assert_int_equal(ctl_reply_parse(buf, (size_t) r, &kind, &text, &tl), 0);
                assert_int_equal(kind, k);
                assert_int_equal(tl, 11);
                assert_memory_equal(text, "hello world", 11);
                assert_int_equal(ctl_reply_is_final(k), k == CTL_REPLY_OK || k == CTL_REPLY_ERR);
        }
}

/* ---- framer ---- */

static void feed(CtlFramer *f, const char *data, size_t n) {
        size_t avail;
        char *p = ctl_framer_space(f, &avail);

        assert_true(avail >= n);
        memcpy(p, data, n);
        ctl_framer_commit(f, n);
}

static void test_framer_one_byte_commits(void **state) {
        static const char stream[] = ". waiting for app\n| row 1\n\nOK done\n";
        static const char *const expected[] = { ". waiting for app", "| row 1", "", "OK done" };
        CtlFramer f;
        size_t got = 0;
        char *line;
        size_t len;
        int r;

        ctl_framer_init(&f);
        assert_int_equal(ctl_framer_next(&f, &line, &len), 0);

        for (size_t i = 0; i < sizeof(stream) - 1; i++) {
                feed(&f, stream + i, 1);
                while ((r = ctl_framer_next(&f, &line, &len)) == 1) {
                        assert_true(got < ELEMENTSOF(expected));
                        assert_int_equal(len, strlen(expected[got]));
                        assert_string_equal(line, expected[got]);
                        got++;
                }
                assert_int_equal(r, 0);
        }
        assert_int_equal(got, ELEMENTSOF(expected));
        assert_int_equal(ctl_framer_pending(&f), 0);
}

static void test_framer_many_lines_one_commit(void **state) {
        static const char stream[] = "a\nbb\n\nccc\nrest";
        CtlFramer f;
        char *line;
        size_t len;

        ctl_framer_init(&f);
        feed(&f, stream, sizeof(stream) - 1);
        assert_int_equal(ctl_framer_pending(&f), sizeof(stream) - 1);

        assert_int_equal(ctl_framer_next(&f, &line, &len), 1);
        assert_string_equal(line, "a");
        assert_int_equal(len, 1);
        assert_int_equal(ctl_framer_next(&f, &line, &len), 1);
        assert_string_equal(line, "bb");
        assert_int_equal(ctl_framer_next(&f, &line, &len), 1);
        assert_string_equal(line, "");
        assert_int_equal(len, 0);
        assert_int_equal(ctl_framer_next(&f, &line, &len), 1);
        assert_string_equal(line, "ccc");
        assert_int_equal(ctl_framer_next(&f, &line, &len), 0);
        assert_int_equal(ctl_framer_pending(&f), 4);

        feed(&f, "\n", 1);
        assert_int_equal(ctl_framer_next(&f, &line, &len), 1);
        assert_string_equal(line, "rest");
        assert_int_equal(ctl_framer_next(&f, &line, &len), 0);
        assert_int_equal(ctl_framer_pending(&f), 0);
}

static void test_framer_longest_line(void **state) {
        static char data[CTL_LINE_MAX + 8];
        CtlFramer f;
        char *line;
        size_t len;

        /* CTL_LINE_MAX-1 bytes and the '\n': accepted, in one commit or split. */
        memset(data, 'x', CTL_LINE_MAX - 1);
        data[CTL_LINE_MAX - 1] = '\n';
        memcpy(data + CTL_LINE_MAX, "OK\n", 3);

        ctl_framer_init(&f);
        feed(&f, data, CTL_LINE_MAX + 3);
        assert_int_equal(ctl_framer_next(&f, &line, &len), 1);
        assert_int_equal(len, CTL_LINE_MAX - 1);
        assert_int_equal(strlen(line), CTL_LINE_MAX - 1);
        assert_int_equal(ctl_framer_next(&f, &line, &len), 1);
        assert_string_equal(line, "OK");

        ctl_framer_init(&f);
        feed(&f, "OK\n", 3);
        assert_int_equal(ctl_framer_next(&f, &line, &len), 1);
        feed(&f, data, CTL_LINE_MAX - 1);
        assert_int_equal(ctl_framer_next(&f, &line, &len), 0);
        feed(&f, data + CTL_LINE_MAX - 1, 1);
        assert_int_equal(ctl_framer_next(&f, &line, &len), 1);
        assert_int_equal(len, CTL_LINE_MAX - 1);
        assert_int_equal(ctl_framer_pending(&f), 0);
}

static void test_framer_overlong(void **state) {
        static char data[CTL_LINE_MAX + 1];
        CtlFramer f;
        char *line;
        size_t len;

        memset(data, 'x', sizeof(data));

        /* CTL_LINE_MAX bytes and no '\n'. */
        ctl_framer_init(&f);
        feed(&f, data, CTL_LINE_MAX - 1);
        assert_int_equal(ctl_framer_next(&f, &line, &len), 0);
        feed(&f, data, 1);
        assert_int_equal(ctl_framer_next(&f, &line, &len), -EMSGSIZE);
        /* It stays an error: the stream cannot be resynchronised. */
        assert_int_equal(ctl_framer_next(&f, &line, &len), -EMSGSIZE);

        /* The '\n' arriving one byte too late does not save it. */
        ctl_framer_init(&f);
        data[CTL_LINE_MAX] = '\n';
        feed(&f, data, CTL_LINE_MAX + 1);
        assert_int_equal(ctl_framer_next(&f, &line, &len), -EMSGSIZE);

        /* Nor after good lines. */
        ctl_framer_init(&f);
        feed(&f, "OK\n", 3);
        feed(&f, data, CTL_LINE_MAX + 1);
        assert_int_equal(ctl_framer_next(&f, &line, &len), 1);
        assert_int_equal(ctl_framer_next(&f, &line, &len), -EMSGSIZE);
}

/* Line i of the long stream: varied lengths up to the maximum, so the framer compacts
 * with both short and maximal partial lines. */
static size_t stream_line(size_t i, char *out) {
        size_t n = (i % 97 == 0) ? CTL_LINE_MAX - 1 : (i * 37) % 600;
        int k = snprintf(out, CTL_LINE_MAX, "%zu:", i);

        if ((size_t) k > n)
                n = (size_t) k;
        for (size_t j = (size_t) k; j < n; j++)
                out[j] = (char) ('a' + (i + j) % 26);
        out[n] = '\n';
        return n + 1;
}

static void test_framer_long_stream(void **state) {
        static const size_t chunks[] = { 1, 7, 4096, 333, 8192, 2, 5000, 64 };
        const size_t n_lines = 10000;
        char *stream, expect[CTL_LINE_MAX + 1];
        size_t total = 0, pos = 0, got = 0, ci = 0;
        CtlFramer f;

        stream = malloc(n_lines * CTL_LINE_MAX);
        assert_non_null(stream);
        for (size_t i = 0; i < n_lines; i++)
                total += stream_line(i, stream + total);

        ctl_framer_init(&f);
        while (pos < total) {
                size_t avail, n;
                char *p, *line;
                size_t len;
                int r;

                p = ctl_framer_space(&f, &avail);
                /* With every complete line taken, more than a whole line always fits. */
                assert_true(avail >= CTL_LINE_MAX);
                assert_true(p >= f.buf && p + avail <= f.buf + sizeof(f.buf));

                n = chunks[ci++ % ELEMENTSOF(chunks)];
                if (n > avail)
                        n = avail;
                if (n > total - pos)
                        n = total - pos;
                memcpy(p, stream + pos, n);
                ctl_framer_commit(&f, n);
                pos += n;

                while ((r = ctl_framer_next(&f, &line, &len)) == 1) {
                        size_t el = stream_line(got, expect) - 1;

                        assert_int_equal(len, el);
                        assert_memory_equal(line, expect, el);
                        assert_int_equal(line[len], '\0');
                        got++;
                }
                assert_int_equal(r, 0);
        }
        assert_int_equal(got, n_lines);
        assert_int_equal(ctl_framer_pending(&f), 0);
        free(stream);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_roundtrip_no_args),
                cmocka_unit_test(test_request_roundtrip_one_arg),
                cmocka_unit_test(test_request_roundtrip_64_args),
                cmocka_unit_test(test_request_max_lengths_ok),
                cmocka_unit_test(test_request_bad_magic),
                cmocka_unit_test(test_request_bad_version),
                cmocka_unit_test(test_request_bad_verb),
                cmocka_unit_test(test_request_bad_args),
                cmocka_unit_test(test_request_too_many_args),
                cmocka_unit_test(test_request_line_limit),
                cmocka_unit_test(test_reply_format_kinds),
                cmocka_unit_test(test_reply_control_chars),
                cmocka_unit_test(test_reply_cut),
                cmocka_unit_test(test_reply_parse),
                cmocka_unit_test(test_reply_roundtrip),
                cmocka_unit_test(test_framer_one_byte_commits),
                cmocka_unit_test(test_framer_many_lines_one_commit),
                cmocka_unit_test(test_framer_longest_line),
                cmocka_unit_test(test_framer_overlong),
                cmocka_unit_test(test_framer_long_stream),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
