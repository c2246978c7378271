/* Unit tests for the config reader (line handling, what it refuses rather than misread),
 * the socket clash check and the comparisons a reload makes. */
#include "config_test.h"

/* ---- line handling: long lines, indentation, comments, line endings ---- */

static void test_long_command(void **state) {
        check_long_command(3000);
        check_long_command(199); /* inih's historic limit: 200 with '\n', 201 with "\r\n" */
        check_long_command(200);
        check_long_command(201);
        check_long_command(1000);
        check_long_command(SV_CONFIG_LINE_MAX - 1); /* the longest line: '\n' counts */
}

static void test_long_other_values(void **state) {
        /* a long environment= line, with a key after it that must still be its own key */
        char value[2600];
        memset(value, 'v', sizeof(value) - 1);
        value[sizeof(value) - 1] = '\0';
        _cleanup_free_ char *t = xasprintf("[program:p]\ncommand = /bin/p\nenvironment = LONG=%s,LAST=1\nready = notify\n",
                                           value);
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok(t);
        const SvProgramConf *p = &c->programs[0];
        assert_int_equal(sv_strv_length(p->environment), 2);
        assert_int_equal(strlen(p->environment[0]), strlen("LONG=") + sizeof(value) - 1);
        assert_string_equal(p->environment[1], "LAST=1");
        assert_int_equal(p->ready, SV_READY_NOTIFY);

        /* a long comment line is no key */
        char comment[300];
        memset(comment, '=', sizeof(comment) - 1);
        comment[0] = ';';
        comment[sizeof(comment) - 1] = '\0';
        _cleanup_free_ char *t2 = xasprintf("%s\n[socket:s]\nlisten = unix:/s\n", comment);
        _cleanup_(sv_config_freep) SvConfig *c2 = parse_ok(t2);
        assert_int_equal(c2->n_sockets, 1);
}

static void test_line_too_long(void **state) {
        static const size_t lens[] = { SV_CONFIG_LINE_MAX, SV_CONFIG_LINE_MAX + 1, SV_CONFIG_LINE_MAX + 100,
                                       3 * SV_CONFIG_LINE_MAX };
        for (size_t i = 0; i < ELEMENTSOF(lens); i++) {
                size_t words, last;
                _cleanup_free_ char *line = command_line_of(lens[i], &words, &last);
                _cleanup_free_ char *t = xasprintf("[socket:s]\nlisten = unix:/s\n[program:p]\n%s\nsockets = s\n", line);
                expect_error(t, 4, "line is");
                /* the same line last in the file, with no newline after it */
                if (lens[i] > SV_CONFIG_LINE_MAX) {
                        _cleanup_free_ char *t2 = xasprintf("[program:p]\n\n%s", line);
                        expect_error(t2, 3, "limit");
                }
        }
        /* over-long comment lines are errors too: nothing is silently cut */
        char comment[SV_CONFIG_LINE_MAX + 10];
        memset(comment, 'c', sizeof(comment) - 1);
        comment[0] = '#';
        comment[sizeof(comment) - 1] = '\0';
        _cleanup_free_ char *t3 = xasprintf("[sockvisord]\n%s\n", comment);
        expect_error(t3, 2, "line is");
}

static void test_indented_keys(void **state) {
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("[program:p]\n"
                                                          "command = /bin/a b\n"
                                                          "  sockets = s\n"
                                                          "\tready = notify\n"
                                                          " \t stopsignal = HUP\n"
                                                          "  [socket:s]\n"
                                                          "    listen = unix:/s\n");
        const SvProgramConf *p = &c->programs[0];
        assert_int_equal(sv_strv_length(p->argv), 2); /* nothing glued to command= */
        assert_string_equal(p->argv[1], "b");
        assert_string_equal(p->command, "/bin/a b");
        assert_int_equal(p->n_sockets, 1);
        assert_int_equal(p->ready, SV_READY_NOTIFY);
        assert_int_equal(p->stopsignal, SIGHUP);
        assert_int_equal(c->n_sockets, 1);
        assert_string_equal(c->sockets[0].listen, "unix:/s");
        assert_int_equal(c->sockets[0].line, 6);
        /* an indented duplicate is a duplicate, not a continuation */
        expect_error("[program:p]\ncommand = /bin/a\n    command = /bin/b\n", 3, "command");
}

static void test_comments(void **state) {
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("; leading comment\n"
                                                          "# hash comment\n"
                                                          "; [program:commented]\n"
                                                          "  # [socket:indented-comment]\n"
                                                          "\n"
                                                          "[socket:s] ; comment after a header\n"
                                                          "listen = tcp://127.0.0.1:80 ; the port\n"
                                                          "backlog = 10\t; tab before\n"
                                                          "[program:p]\n"
                                                          ";command = /bin/wrong\n"
                                                          "command = /bin/echo a;b c#d\n"
                                                          "sockets = s ; one socket\n");
        assert_int_equal(c->n_sockets, 1);
        assert_int_equal(c->n_programs, 1);
        assert_string_equal(c->sockets[0].listen, "tcp://127.0.0.1:80");
        assert_int_equal(c->sockets[0].backlog, 10);
        assert_int_equal(c->sockets[0].line, 6);
        const SvProgramConf *p = &c->programs[0];
        assert_int_equal(sv_strv_length(p->argv), 3); /* ';' without a blank before it is data */
        assert_string_equal(p->argv[1], "a;b");
        assert_string_equal(p->argv[2], "c#d");
        assert_int_equal(p->n_sockets, 1);
}

static void test_crlf(void **state) {
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("[sockvisord]\r\ncontrol = /run/x.sock\r\n\r\n"
                                                          "[socket:s]\r\nlisten = unix:/s\r\nblocking = yes\r\n"
                                                          "[program:p]\r\ncommand = /bin/echo crlf\r\n"
                                                          "environment = A=1,B=\"two\"\r\nsockets = s\r\n");
        assert_string_equal(c->control_path, "/run/x.sock");
        assert_string_equal(c->sockets[0].listen, "unix:/s");
        assert_true(c->sockets[0].blocking);
        assert_int_equal(c->sockets[0].line, 4);
        const SvProgramConf *p = &c->programs[0];
        assert_string_equal(p->argv[1], "crlf");
        assert_string_equal(p->command, "/bin/echo crlf");
        assert_string_equal(p->environment[1], "B=two");
        assert_int_equal(p->n_sockets, 1);
        /* errors in a CRLF file name the right line */
        expect_error("[socket:s]\r\nlisten = unix:/s\r\nbacklog = x\r\n", 3, "backlog");
}

static void test_empty_and_no_newline(void **state) {
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("");
        assert_int_equal(c->n_programs, 0);
        assert_int_equal(c->n_sockets, 0);
        assert_string_equal(c->control_path, SV_DEFAULT_CONTROL);
        _cleanup_(sv_config_freep) SvConfig *c2 = parse_ok("; only a comment\n\n   \n# and another");
        assert_int_equal(c2->n_programs, 0);
        _cleanup_(sv_config_freep) SvConfig *c3 = parse_ok("[program:p]\ncommand = /bin/echo last");
        assert_string_equal(c3->programs[0].argv[1], "last");
        /* a header on the last line, without newline, is still seen: validation wants command= */
        expect_error("[socket:s]\nlisten = unix:/s\n[program:p]", 3, "command");
}

static void test_bom(void **state) {
        /* inih skips a UTF-8 byte order mark; the header behind it must still open the section */
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("\xEF\xBB\xBF[socket:s]\nlisten = unix:/s\n");
        assert_int_equal(c->n_sockets, 1);
        assert_string_equal(c->sockets[0].name, "s");
        assert_int_equal(c->sockets[0].line, 1);
        /* only at the very start of the file */
        expect_error("[socket:s]\nlisten = unix:/s\n\xEF\xBB\xBF[program:p]\ncommand = /bin/p\n", 3, "[program");
}

static void test_files(void **state) {
        SvDiag d = {};
        {
                _cleanup_(sv_config_freep) SvConfig *c = NULL;
                assert_int_equal(sv_config_parse_file(SV_TEST_DATA "/empty.ini", &c, &d), 0);
                assert_int_equal(c->n_programs, 0);
                assert_int_equal(c->n_sockets, 0);
        }
        {
                _cleanup_(sv_config_freep) SvConfig *c = NULL;
                assert_int_equal(sv_config_parse_file(SV_TEST_DATA "/crlf.ini", &c, &d), 0);
                assert_string_equal(c->sockets[0].listen, "tcp://127.0.0.1:80");
                assert_int_equal(c->programs[0].line, 4);
                assert_string_equal(c->programs[0].argv[1], "crlf");
                assert_int_equal(c->programs[0].n_sockets, 1);
        }
        {
                _cleanup_(sv_config_freep) SvConfig *c = NULL;
                assert_int_equal(sv_config_parse_file(SV_TEST_DATA "/no-newline.ini", &c, &d), 0);
                assert_string_equal(c->programs[0].argv[1], "last");
        }
        {
                SvConfig *c = NULL;
                const char *path = SV_TEST_DATA "/bad-backlog.ini";
                _cleanup_free_ char *where = xasprintf("%s:5:", path);
                assert_int_equal(sv_config_parse_file(path, &c, &d), -EINVAL);
                assert_null(c);
                assert_int_equal(d.line, 5);
                assert_non_null(strstr(d.msg, where));
                assert_non_null(strstr(d.msg, "[socket:web] backlog"));
                assert_non_null(strstr(d.msg, "'lots'"));
        }
}

static void test_missing_file(void **state) {
        SvConfig *c = NULL;
        SvDiag d = {};
        const char *path = SV_TEST_DATA "/does-not-exist.ini";
        assert_int_equal(sv_config_parse_file(path, &c, &d), -ENOENT);
        assert_null(c);
        assert_non_null(strstr(d.msg, path));
        assert_non_null(strstr(d.msg, strerror(ENOENT)));
        /* a directory is not a config file either */
        int r = sv_config_parse_file(SV_TEST_DATA, &c, &d);
        assert_true(r < 0);
        assert_null(c);
        assert_non_null(strstr(d.msg, SV_TEST_DATA));
}

static void test_file_with_nul(void **state) {
        char path[] = "/tmp/sv-test-config-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        static const char text[] = "[socket:s]\nlisten = unix:/s\0\n[program:p]\ncommand = /bin/p\n";
        assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t) sizeof(text) - 1);
        (void) close(fd);
        SvConfig *c = NULL;
        SvDiag d = {};
        int r = sv_config_parse_file(path, &c, &d);
        (void) unlink(path);
        assert_true(r < 0);
        assert_null(c);
        assert_non_null(strstr(d.msg, path));
        assert_non_null(strstr(d.msg, "NUL"));
}

/* ---- what the reader refuses rather than misread ---- */

static void test_lone_cr(void **state) {
        /* a CR-only file (old Mac line endings): one "line" that inih would take as a comment */
        expect_error_at("; sockvisor\r[socket:s]\rlisten = unix:/s\r[program:p]\rcommand = /bin/p\r", 1,
                        "lone carriage return (CR)", "LF line endings");
        expect_error_at("[socket:s]\rlisten = unix:/s\r", 1, "lone carriage return", "LF line endings");
        /* one lone CR in an otherwise LF (or CRLF) file, on the line where it is */
        expect_error("[socket:s]\nlisten = unix:/s\n[program:p]\rcommand = /bin/p\n", 3, "lone carriage return");
        expect_error("[socket:s]\r\nlisten = unix:/s\r\ncommand = /bin/a\rb\r\n", 3, "lone carriage return");
        expect_error("[program:p]\ncommand = /bin/p\r\r\n", 2, "lone carriage return");
        /* a CR at the very end of the file is followed by no LF either */
        expect_error("[socket:s]\nlisten = unix:/s\r", 2, "lone carriage return");
}

static void test_crlf_mixed(void **state) {
        /* CRLF and LF lines mixed, comments after a CRLF header, a CRLF line with no LF after it */
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("[socket:s] ; web\r\nlisten = unix:/s ; path\r\n"
                                                          "[program:p]\r\n"
                                                          "command = /bin/echo a\n"
                                                          "sockets = s\r\n"
                                                          "stopsignal = INT");
        assert_string_equal(c->sockets[0].listen, "unix:/s");
        assert_string_equal(c->programs[0].command, "/bin/echo a");
        assert_string_equal(c->programs[0].argv[1], "a");
        assert_int_equal(c->programs[0].n_sockets, 1);
        assert_int_equal(c->programs[0].stopsignal, SIGINT);
        assert_int_equal(c->programs[0].line, 3);
        /* the CR of CRLF is no part of a value, even a quoted one */
        _cleanup_(sv_config_freep) SvConfig *c2 = parse_ok("[program:p]\r\ncommand = /bin/echo 'x'\r\n");
        assert_string_equal(c2->programs[0].argv[1], "x");
        /* and a long CRLF line gets the same limit as an LF one: CR and LF count */
        size_t words, last;
        _cleanup_free_ char *line = command_line_of(SV_CONFIG_LINE_MAX - 2, &words, &last);
        _cleanup_free_ char *t = xasprintf("[program:p]\r\n%s\r\n", line);
        _cleanup_(sv_config_freep) SvConfig *c3 = parse_ok(t);
        assert_int_equal(strlen(c3->programs[0].argv[words]), last);
}

static void test_header_trailing_text(void **state) {
        expect_error_at("[program:a] junk\ncommand = /bin/a\n", 1, "[program:a]", "'junk'");
        expect_error("[socket:s]\nlisten = unix:/s\n[program:a]junk\ncommand = /bin/a\n", 3, "after ']'");
        expect_error("[program:a]]\ncommand = /bin/a\n", 1, "after ']'");
        expect_error("[program:a] [program:b]\ncommand = /bin/a\n", 1, "after ']'");
        expect_error("[program:a] x ; comment\r\ncommand = /bin/a\r\n", 1, "after ']'");
        /* blanks and comments after ']' are fine, with LF or CRLF */
        static const char *const ok[] = { "[program:a]", "[program:a]  ", "[program:a]\t", "[program:a] ; c",
                                          "[program:a];c", "[program:a] # c", "[program:a]#c", "  [program:a] \t;x" };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                for (int crlf = 0; crlf < 2; crlf++) {
                        _cleanup_free_ char *t = xasprintf("%s%s command = /bin/a\n", ok[i], crlf ? "\r\n" : "\n");
                        _cleanup_(sv_config_freep) SvConfig *c = parse_ok(t);
                        assert_int_equal(c->n_programs, 1);
                        assert_string_equal(c->programs[0].name, "a");
                }
}

static void test_control_chars(void **state) {
        /* a form feed before '[' hid the header from us but not from inih: keys moved section */
        expect_error_at("[program:p]\ncommand = /bin/p\n\f[socket:s]\nlisten = unix:/s\n", 3,
                        "control character 0x0c (form feed)", "remove it");
        expect_error_at("[socket:s]\nlisten = unix:/s\n[program:p]\ncommand = /bin/p\n\n\n\f[program:q]\n"
                        "command = /bin/q\n",
                        7, "0x0c (form feed)", "remove it");
        expect_error_at("[program:p]\ncommand = /bin/p\x7f\n", 2, "0x7f (delete)", "remove it");
        expect_error_at("[program:p]\ncommand = /bin/p\x1b[0m\n", 2, "0x1b (escape)", "remove it");
        expect_error_at("[program:p]\ncommand = /bin/p\v\n", 2, "0x0b (vertical tab)", "remove it");
        expect_error_at("[program:p]\x08\ncommand = /bin/p\n", 1, "0x08 (backspace)", NULL);
        expect_error_at("; comment \x01\n[program:p]\ncommand = /bin/p\n", 1, "control character 0x01", NULL);
        /* every one of them, anywhere: in a comment, a key, a value */
        for (int ch = 1; ch < 0x80; ch++) {
                if (ch >= 0x20 && ch != 0x7f)
                        continue;
                if (ch == '\t' || ch == '\n' || ch == '\r')
                        continue;
                char needle[32];
                (void) snprintf(needle, sizeof(needle), "control character 0x%02x", (unsigned) ch);
                _cleanup_free_ char *t1 = xasprintf("[program:p]\ncommand = /bin/p %c\n", ch);
                expect_error(t1, 2, needle);
                _cleanup_free_ char *t2 = xasprintf("[program:p]\n# %c\ncommand = /bin/p\n", ch);
                expect_error(t2, 2, needle);
                _cleanup_free_ char *t3 = xasprintf("%c[program:p]\ncommand = /bin/p\n", ch);
                expect_error(t3, 1, needle);
        }
        /* TAB stays allowed, and so do UTF-8 bytes >= 0x80 */
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("[program:p]\n\tcommand\t=\t/bin/echo h\xc3\xa9llo \xe2\x9c\x93\n"
                                                          "; caf\xc3\xa9\n");
        assert_string_equal(c->programs[0].argv[1], "h\xc3\xa9llo");
        assert_string_equal(c->programs[0].argv[2], "\xe2\x9c\x93");
}

/* ---- two sockets that cannot both be bound ---- */

static const char *const addr_conflicts[][2] = {
        { "tcp://127.0.0.1:8080", "tcp://127.0.0.1:8080" },
        { "tcp://0.0.0.0:8080", "tcp://0.0.0.0:8080" },
        { "tcp://0.0.0.0:8080", "tcp://127.0.0.1:8080" },
        { "tcp://127.0.0.1:8080", "tcp://0.0.0.0:8080" },
        { "udp://0.0.0.0:53", "udp://10.1.2.3:53" },
        { "tcp://[::1]:8080", "tcp://[::1]:8080" },
        { "tcp://[::]:8080", "tcp://[::1]:8080" },
        { "tcp://[::1]:8080", "tcp://[::]:8080" },
        { "tcp://[::]:8080", "tcp://127.0.0.1:8080" }, /* IPv6 sockets are dual-stack */
        { "tcp://127.0.0.1:8080", "tcp://[::]:8080" },
        { "tcp://[::]:8080", "tcp://0.0.0.0:8080" },
        { "tcp://0.0.0.0:8080", "tcp://[::]:8080" },
        { "udp://[::]:53", "udp://192.0.2.1:53" },
        { "tcp://[::ffff:127.0.0.1]:8080", "tcp://127.0.0.1:8080" }, /* an IPv4-mapped address is the IPv4 one */
        { "tcp://0.0.0.0:8080", "tcp://[::ffff:127.0.0.1]:8080" },
        { "unix:/run/a.sock", "unix:/run/a.sock" },
        { "unix:@name", "unix:@name" },
};

static const char *const addr_compatible[][2] = {
        { "tcp://0.0.0.0:0", "tcp://0.0.0.0:0" }, /* port 0: the kernel picks two ports */
        { "tcp://[::]:0", "tcp://127.0.0.1:0" },
        { "tcp://127.0.0.1:0", "tcp://127.0.0.1:0" },
        { "tcp://0.0.0.0:8080", "udp://0.0.0.0:8080" }, /* tcp and udp ports are separate */
        { "tcp://[::]:8080", "udp://127.0.0.1:8080" },
        { "tcp://127.0.0.1:8080", "tcp://127.0.0.1:8081" },
        { "tcp://127.0.0.1:8080", "tcp://127.0.0.2:8080" },
        { "tcp://[::1]:8080", "tcp://127.0.0.1:8080" },
        { "tcp://0.0.0.0:8080", "tcp://[::1]:8080" }, /* the IPv4 wildcard has no IPv6 address */
        { "tcp://[::1]:8080", "tcp://[::2]:8080" },
        { "unix:/run/a.sock", "unix:/run/b.sock" },
        { "unix:/a", "unix:@/a" }, /* a path and an abstract name never meet */
        { "unix:@a", "unix:@b" },
};

static void test_socket_conflicts(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(addr_conflicts); i++) {
                const char *a = addr_conflicts[i][0], *b = addr_conflicts[i][1];
                /* the second section is the one refused; it names the first and its line */
                _cleanup_free_ char *t = xasprintf("[sockvisord]\n\n\n[socket:a]\nlisten = %s\n\n\n"
                                                   "[socket:b]\nbacklog = 5\nlisten = %s\n",
                                                   a, b);
                _cleanup_free_ char *want = xasprintf("[socket:b] listen '%s': [socket:a] (line 5)", b);
                _cleanup_free_ char *first = xasprintf("'%s'", a);
                expect_error_at(t, 10, want, first);
                expect_error_at(t, 10, "give one of them another ", NULL);
                /* also with a socket in between that conflicts with neither */
                _cleanup_free_ char *t2 = xasprintf("[socket:a]\nlisten = %s\n[socket:m]\nlisten = unix:@m\n"
                                                    "[socket:b]\nlisten = %s\n",
                                                    a, b);
                expect_error(t2, 6, "[socket:a] (line 2)");
        }
        for (size_t i = 0; i < ELEMENTSOF(addr_compatible); i++) {
                _cleanup_free_ char *t = xasprintf("[socket:a]\nlisten = %s\n[socket:b]\nlisten = %s\n",
                                                   addr_compatible[i][0], addr_compatible[i][1]);
                _cleanup_(sv_config_freep) SvConfig *c = parse_ok(t);
                assert_int_equal(c->n_sockets, 2);
                _cleanup_free_ char *t2 = xasprintf("[socket:a]\nlisten = %s\n[socket:b]\nlisten = %s\n",
                                                    addr_compatible[i][1], addr_compatible[i][0]);
                _cleanup_(sv_config_freep) SvConfig *c2 = parse_ok(t2);
                assert_int_equal(c2->n_sockets, 2);
        }
        /* the words of the message: same address, or the wildcard that includes it */
        expect_error_at("[socket:a]\nlisten = tcp://0.0.0.0:8080\n[socket:b]\nlisten = tcp://127.0.0.1:8080\n", 4,
                        "[socket:b] listen 'tcp://127.0.0.1:8080': [socket:a] (line 2) already listens on "
                        "'tcp://0.0.0.0:8080', which includes it; give one of them another port or address",
                        NULL);
        expect_error_at("[socket:a]\nlisten = tcp://127.0.0.1:8080\n[socket:b]\nlisten = tcp://0.0.0.0:8080\n", 4,
                        "[socket:b] listen 'tcp://0.0.0.0:8080': [socket:a] (line 2) already listens on "
                        "'tcp://127.0.0.1:8080', which it includes;",
                        NULL);
        expect_error_at("[socket:a]\nlisten = unix:/run/a.sock\n[socket:b]\nlisten = unix:/run/a.sock\n", 4,
                        "[socket:a] (line 2) already listens on 'unix:/run/a.sock'", "another path");
        expect_error_at("[socket:a]\nlisten = unix:@app\n[socket:b]\nlisten = unix:@app\n", 4,
                        "'unix:@app', the same address", "another name");
        /* the first conflict in file order is the one reported */
        expect_error("[socket:a]\nlisten = tcp://0.0.0.0:1\n[socket:b]\nlisten = tcp://0.0.0.0:2\n"
                     "[socket:c]\nlisten = tcp://127.0.0.1:2\n[socket:d]\nlisten = tcp://127.0.0.1:1\n",
                     6, "[socket:b] (line 4)");
}

/* ---- comparison, for reload ---- */

/* text with the first occurrence of from replaced by to (which may be empty: a line removed) */
static char *replace_once(const char *text, const char *from, const char *to) {
        const char *at = strstr(text, from);
        if (!at)
                print_error("'%s' is not in the base text\n", from);
        assert_non_null(at);
        return xasprintf("%.*s%s%s", (int) (at - text), text, to, at + strlen(from));
}

static const char equal_base[] = "[socket:a]\nlisten = unix:/a\n"
                                 "[socket:b]\nlisten = unix:/b\n"
                                 "[program:p]\n"
                                 "command = /bin/p x\n"
                                 "sockets = a, b\n"
                                 "numprocs = 3\n"
                                 "restart_surge = 2\n"
                                 "ready = notify\n"
                                 "startsecs = 2s\n"
                                 "ready_timeout = 10s\n"
                                 "startretries = 5\n"
                                 "autostart = no\n"
                                 "autorestart = true\n"
                                 "exitcodes = 0, 2\n"
                                 "stopsignal = INT\n"
                                 "stopwaitsecs = 5\n"
                                 "stopasgroup = no\n"
                                 "killasgroup = yes\n"
                                 "priority = 10\n"
                                 "directory = /srv\n"
                                 "user = u\n"
                                 "group = g\n"
                                 "umask = 022\n"
                                 "environment = A=1,B=2\n"
                                 "clearenv = yes\n";

static bool programs_equal(const char *ta, const char *tb) {
        _cleanup_(sv_config_freep) SvConfig *a = parse_ok(ta);
        _cleanup_(sv_config_freep) SvConfig *b = parse_ok(tb);
        assert_int_equal(a->n_programs, 1);
        assert_int_equal(b->n_programs, 1);
        bool ab = sv_program_conf_equal(a, &a->programs[0], b, &b->programs[0]);
        bool ba = sv_program_conf_equal(b, &b->programs[0], a, &a->programs[0]);
        assert_int_equal(ab, ba); /* symmetric */
        return ab;
}

static void test_program_conf_equal(void **state) {
        /* two parses of the same text; and a program equals itself */
        assert_true(programs_equal(equal_base, equal_base));
        {
                _cleanup_(sv_config_freep) SvConfig *c = parse_ok(equal_base);
                assert_true(sv_program_conf_equal(c, &c->programs[0], c, &c->programs[0]));
        }

        /* one line changed, added or removed: each field on its own */
        static const struct {
                const char *from, *to;
        } differ[] = {
                { "[program:p]\n", "[program:q]\n" },
                { "command = /bin/p x\n", "command = /bin/p y\n" },
                { "command = /bin/p x\n", "command = /bin/p  x \"\"\n" },
                { "sockets = a, b\n", "sockets = b, a\n" }, /* order matters: fd 3 and fd 4 swap */
                { "sockets = a, b\n", "sockets = a\n" },
                { "sockets = a, b\n", "" },
                { "numprocs = 3\n", "numprocs = 2\n" },
                { "restart_surge = 2\n", "restart_surge = 1\n" },
                { "ready = notify\n", "ready = started\n" },
                { "startsecs = 2s\n", "startsecs = 3s\n" },
                { "ready_timeout = 10s\n", "ready_timeout = 11s\n" },
                { "startretries = 5\n", "startretries = 6\n" },
                { "autostart = no\n", "autostart = yes\n" },
                { "autorestart = true\n", "autorestart = unexpected\n" },
                { "autorestart = true\n", "autorestart = false\n" },
                { "exitcodes = 0, 2\n", "exitcodes = 0, 3\n" },
                { "exitcodes = 0, 2\n", "exitcodes = 0\n" },
                { "exitcodes = 0, 2\n", "exitcodes = 0, 2, 3\n" },
                { "exitcodes = 0, 2\n", "exitcodes = 2, 0\n" },
                { "stopsignal = INT\n", "stopsignal = TERM\n" },
                { "stopwaitsecs = 5\n", "stopwaitsecs = 6\n" },
                { "stopasgroup = no\n", "stopasgroup = yes\n" },
                { "killasgroup = yes\n", "killasgroup = no\n" },
                { "priority = 10\n", "priority = -10\n" },
                { "directory = /srv\n", "directory = /srv2\n" },
                { "directory = /srv\n", "" },
                { "user = u\n", "user = v\n" },
                { "user = u\n", "" },
                { "group = g\n", "group = h\n" },
                { "group = g\n", "" },
                { "umask = 022\n", "umask = 027\n" },
                { "umask = 022\n", "" },
                { "umask = 022\n", "umask = 0\n" },
                { "environment = A=1,B=2\n", "environment = A=1\n" },
                { "environment = A=1,B=2\n", "environment = B=2,A=1\n" },
                { "environment = A=1,B=2\n", "environment = A=1,B=3\n" },
                { "environment = A=1,B=2\n", "environment = A=1,B=2,C=\n" },
                { "environment = A=1,B=2\n", "" },
                { "clearenv = yes\n", "clearenv = no\n" },
        };
        for (size_t i = 0; i < ELEMENTSOF(differ); i++) {
                _cleanup_free_ char *t = replace_once(equal_base, differ[i].from, differ[i].to);
                if (programs_equal(equal_base, t))
                        print_error("'%s' -> '%s' compares equal\n", differ[i].from, differ[i].to);
                assert_false(programs_equal(equal_base, t));
        }

        /* written differently, meaning the same: equal (values compare, not text) */
        static const struct {
                const char *from, *to;
        } same[] = {
                { "startsecs = 2s\n", "startsecs = 2000ms\n" },
                { "stopwaitsecs = 5\n", "stopwaitsecs = 5s\n" },
                { "autostart = no\n", "autostart = off\n" },
                { "umask = 022\n", "umask = 22\n" },
                { "stopsignal = INT\n", "stopsignal = SIGINT\n" },
                { "sockets = a, b\n", "sockets = a b\n" },
                { "exitcodes = 0, 2\n", "exitcodes = 0,2\n" },
                { "environment = A=1,B=2\n", "environment = A=1, B=\"2\"\n" },
                { "killasgroup = yes\n", "killasgroup = yes ; a comment\n" },
                { "priority = 10\n", "priority = 010\n" },
                { "[program:p]\n", "; moved down a line\n[program:p]\n" }, /* line is not compared */
        };
        for (size_t i = 0; i < ELEMENTSOF(same); i++) {
                _cleanup_free_ char *t = replace_once(equal_base, same[i].from, same[i].to);
                if (!programs_equal(equal_base, t))
                        print_error("'%s' -> '%s' compares different\n", same[i].from, same[i].to);
                assert_true(programs_equal(equal_base, t));
        }

        /* stopasgroup = yes makes killasgroup = yes whether or not it was written */
        assert_true(programs_equal("[program:p]\ncommand = /bin/p\nstopasgroup = yes\n",
                                   "[program:p]\ncommand = /bin/p\nstopasgroup = yes\nkillasgroup = yes\n"));
        /* defaults equal their explicit spelling */
        assert_true(programs_equal("[program:p]\ncommand = /bin/p\n",
                                   "[program:p]\ncommand = /bin/p\nnumprocs = 1\nrestart_surge = 1\n"
                                   "autostart = yes\nautorestart = unexpected\nexitcodes = 0\nstartretries = 3\n"
                                   "stopasgroup = no\nkillasgroup = no\npriority = 999\nclearenv = no\n"
                                   "environment =\n"));
}

static void test_program_conf_equal_sockets_by_name(void **state) {
        /* the sockets are declared in another order, so the indexes differ, but the names match */
        _cleanup_(sv_config_freep) SvConfig *a = parse_ok("[socket:x]\nlisten = unix:/x\n[socket:y]\nlisten = unix:/y\n"
                                                          "[program:p]\ncommand = /bin/p\nsockets = x, y\n");
        _cleanup_(sv_config_freep) SvConfig *b = parse_ok("[socket:y]\nlisten = unix:/y\n[socket:z]\nlisten = unix:/z\n"
                                                          "[socket:x]\nlisten = unix:/other\n"
                                                          "[program:p]\ncommand = /bin/p\nsockets = x, y\n");
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("[socket:x]\nlisten = unix:/x\n[socket:y]\nlisten = unix:/y\n"
                                                          "[program:p]\ncommand = /bin/p\nsockets = y, x\n");
        assert_int_equal(a->programs[0].socket_idx[0], 0);
        assert_int_equal(b->programs[0].socket_idx[0], 2);
        assert_true(sv_program_conf_equal(a, &a->programs[0], b, &b->programs[0]));
        assert_true(sv_program_conf_equal(b, &b->programs[0], a, &a->programs[0]));
        /* the same indexes naming other sockets, or the same names in another order: different */
        assert_false(sv_program_conf_equal(a, &a->programs[0], c, &c->programs[0]));
        assert_false(sv_program_conf_equal(c, &c->programs[0], b, &b->programs[0]));
        /* a socket's own settings are not the program's business: sv_socket_conf_equal's */
        assert_false(sv_socket_conf_equal(&a->sockets[0], &b->sockets[2]));
        assert_true(sv_socket_conf_equal(&a->sockets[1], &b->sockets[0]));
}

static void test_socket_conf_equal(void **state) {
        static const char base[] = "[socket:s]\nlisten = tcp://127.0.0.1:80\nbacklog = 10\nblocking = yes\nmode = 0600\n";
        _cleanup_(sv_config_freep) SvConfig *a = parse_ok(base);
        _cleanup_(sv_config_freep) SvConfig *a2 = parse_ok(base);
        assert_true(sv_socket_conf_equal(&a->sockets[0], &a2->sockets[0]));
        assert_true(sv_socket_conf_equal(&a->sockets[0], &a->sockets[0]));

        /* the name does not matter, nor the line */
        _cleanup_free_ char *renamed = replace_once(base, "[socket:s]\n", "\n[socket:other]\n");
        _cleanup_(sv_config_freep) SvConfig *r = parse_ok(renamed);
        assert_true(sv_socket_conf_equal(&a->sockets[0], &r->sockets[0]));
        _cleanup_free_ char *spelled = replace_once(base, "blocking = yes\n", "blocking = 1\n");
        _cleanup_(sv_config_freep) SvConfig *sp = parse_ok(spelled);
        assert_true(sv_socket_conf_equal(&a->sockets[0], &sp->sockets[0]));

        static const struct {
                const char *from, *to;
        } differ[] = {
                { "listen = tcp://127.0.0.1:80\n", "listen = tcp://127.0.0.1:81\n" },
                { "listen = tcp://127.0.0.1:80\n", "listen = tcp://[::1]:80\n" },
                { "listen = tcp://127.0.0.1:80\n", "listen = udp://127.0.0.1:80\n" },
                { "backlog = 10\n", "backlog = 11\n" },
                { "backlog = 10\n", "" },
                { "blocking = yes\n", "blocking = no\n" },
                { "mode = 0600\n", "mode = 0660\n" },
                { "mode = 0600\n", "" },
        };
        for (size_t i = 0; i < ELEMENTSOF(differ); i++) {
                _cleanup_free_ char *t = replace_once(base, differ[i].from, differ[i].to);
                _cleanup_(sv_config_freep) SvConfig *b = parse_ok(t);
                if (sv_socket_conf_equal(&a->sockets[0], &b->sockets[0]))
                        print_error("'%s' -> '%s' compares equal\n", differ[i].from, differ[i].to);
                assert_false(sv_socket_conf_equal(&a->sockets[0], &b->sockets[0]));
                assert_false(sv_socket_conf_equal(&b->sockets[0], &a->sockets[0]));
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_program_conf_equal),
                cmocka_unit_test(test_program_conf_equal_sockets_by_name),
                cmocka_unit_test(test_socket_conf_equal),
                cmocka_unit_test(test_long_command),
                cmocka_unit_test(test_long_other_values),
                cmocka_unit_test(test_line_too_long),
                cmocka_unit_test(test_indented_keys),
                cmocka_unit_test(test_comments),
                cmocka_unit_test(test_crlf),
                cmocka_unit_test(test_empty_and_no_newline),
                cmocka_unit_test(test_bom),
                cmocka_unit_test(test_files),
                cmocka_unit_test(test_missing_file),
                cmocka_unit_test(test_file_with_nul),
                cmocka_unit_test(test_lone_cr),
                cmocka_unit_test(test_crlf_mixed),
                cmocka_unit_test(test_header_trailing_text),
                cmocka_unit_test(test_control_chars),
                cmocka_unit_test(test_socket_conflicts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
