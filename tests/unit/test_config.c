/* Unit tests for config.c (ini -> validated model, through our own line reader) and duration.c. */
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

static SvConfig *parse_ok(const char *text) {
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
static void expect_error_at(const char *text, unsigned line, const char *needle, const char *needle2) {
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

static void expect_error(const char *text, unsigned line, const char *needle) {
        expect_error_at(text, line, needle, NULL);
}

static char *xasprintf(const char *fmt, ...) _printf_(1, 2);
static char *xasprintf(const char *fmt, ...) {
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
static char *command_line_of(size_t len, size_t *ret_words, size_t *ret_last_len) {
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

static void check_long_command(size_t len) {
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

/* ---- a full, valid file ---- */

/* The defaults of the keys supervisord also has (numprocs … clearenv). */
static void check_program_defaults(const SvProgramConf *p) {
        assert_int_equal(p->numprocs, 1);
        assert_int_equal(p->restart_surge, 1);
        assert_true(p->autostart);
        assert_int_equal(p->autorestart, SV_AUTORESTART_UNEXPECTED);
        assert_int_equal(p->n_exitcodes, 1);
        assert_int_equal(p->exitcodes[0], 0);
        assert_int_equal(p->startretries, 3);
        assert_false(p->stopasgroup);
        assert_false(p->killasgroup);
        assert_null(p->user);
        assert_null(p->group);
        assert_int_equal(p->umask, -1);
        assert_int_equal(p->priority, 999);
        assert_false(p->clearenv);
}

static void check_full(const SvConfig *c) {
        assert_string_equal(c->control_path, "/tmp/sockvisor-test/control.sock");
        assert_int_equal(c->control_mode, 0660);

        assert_int_equal(c->n_sockets, 3);
        const SvSocketConf *web = &c->sockets[0], *api = &c->sockets[1], *dns = &c->sockets[2];
        assert_string_equal(web->name, "web");
        assert_string_equal(web->listen, "tcp://127.0.0.1:8080");
        assert_int_equal(web->addr.kind, SV_ADDR_TCP);
        assert_int_equal(web->addr.family, AF_INET);
        assert_int_equal(web->addr.socktype, SOCK_STREAM);
        assert_int_equal(sv_addr_port(&web->addr), 8080);
        assert_int_equal(web->backlog, 128);
        assert_true(web->blocking);
        assert_int_equal(web->mode, 0640);
        assert_int_equal(web->line, 7);

        assert_string_equal(api->name, "api");
        assert_string_equal(api->listen, "unix:/run/app.sock"); /* inline comment and blanks gone */
        assert_int_equal(api->addr.kind, SV_ADDR_UNIX);
        assert_int_equal(api->addr.family, AF_UNIX);
        assert_int_equal(api->backlog, 65535);
        assert_false(api->blocking);
        assert_int_equal(api->mode, 0600);
        assert_int_equal(api->line, 13);

        assert_string_equal(dns->name, "dns");
        assert_int_equal(dns->addr.kind, SV_ADDR_UDP);
        assert_int_equal(dns->addr.family, AF_INET6);
        assert_int_equal(dns->addr.socktype, SOCK_DGRAM);
        assert_int_equal(sv_addr_port(&dns->addr), 53);
        assert_int_equal(dns->backlog, 4096); /* defaults */
        assert_true(dns->blocking); /* blocking by default, as systemd */
        assert_int_equal(dns->mode, 0666);
        assert_int_equal(dns->line, 19);

        assert_int_equal(c->n_programs, 2);
        const SvProgramConf *app = &c->programs[0];
        assert_string_equal(app->name, "app");
        assert_int_equal(app->line, 22);
        assert_string_equal(app->command, "/srv/app/bin/server --port-from-fd \"two words\" 'x;y'");
        assert_int_equal(sv_strv_length(app->argv), 4);
        assert_string_equal(app->argv[0], "/srv/app/bin/server");
        assert_string_equal(app->argv[1], "--port-from-fd");
        assert_string_equal(app->argv[2], "two words");
        assert_string_equal(app->argv[3], "x;y");
        assert_null(app->argv[4]);
        assert_int_equal(app->n_sockets, 2); /* sockets = api, web: in that order */
        assert_int_equal(app->socket_idx[0], 1);
        assert_int_equal(app->socket_idx[1], 0);
        assert_int_equal(app->ready, SV_READY_NOTIFY);
        assert_true(app->startsecs_usec == 500 * USEC_PER_MSEC);
        assert_true(app->ready_timeout_usec == 120 * USEC_PER_SEC);
        assert_int_equal(app->stopsignal, SIGINT);
        assert_true(app->stopwait_usec == 3600 * USEC_PER_SEC);
        assert_string_equal(app->directory, "/srv/app");
        assert_int_equal(sv_strv_length(app->environment), 4);
        assert_string_equal(app->environment[0], "PORT=8080");
        assert_string_equal(app->environment[1], "GREETING=hello, world");
        assert_string_equal(app->environment[2], "EMPTY=");
        assert_string_equal(app->environment[3], "SINGLE=a,b");
        assert_null(app->environment[4]);
        assert_int_equal(app->numprocs, 4);
        assert_int_equal(app->restart_surge, 2);
        assert_int_equal(app->startretries, 0);
        assert_false(app->autostart);
        assert_int_equal(app->autorestart, SV_AUTORESTART_TRUE);
        assert_int_equal(app->n_exitcodes, 3);
        assert_int_equal(app->exitcodes[0], 0);
        assert_int_equal(app->exitcodes[1], 2);
        assert_int_equal(app->exitcodes[2], 75);
        assert_true(app->stopasgroup);
        assert_true(app->killasgroup); /* "killasgroup = no" is overridden by stopasgroup */
        assert_int_equal(app->priority, -5);
        assert_string_equal(app->user, "www-data");
        assert_string_equal(app->group, "33");
        assert_int_equal(app->umask, 027);
        assert_true(app->clearenv);

        const SvProgramConf *min = &c->programs[1];
        assert_string_equal(min->name, "minimal");
        assert_int_equal(min->line, 46);
        assert_int_equal(sv_strv_length(min->argv), 1);
        assert_string_equal(min->argv[0], "/bin/true");
        assert_int_equal(min->n_sockets, 0);
        assert_int_equal(min->ready, SV_READY_STARTED);
        assert_true(min->startsecs_usec == 1 * USEC_PER_SEC);
        assert_true(min->ready_timeout_usec == 30 * USEC_PER_SEC);
        assert_int_equal(min->stopsignal, SIGTERM);
        assert_true(min->stopwait_usec == 10 * USEC_PER_SEC);
        assert_null(min->directory);
        assert_non_null(min->environment); /* empty, but NULL-terminated and usable */
        assert_null(min->environment[0]);
        check_program_defaults(min);
}

static void test_full_file(void **state) {
        _cleanup_(sv_config_freep) SvConfig *c = NULL;
        SvDiag d = {};
        const char *path = SV_TEST_DATA "/full.ini";

        int r = sv_config_parse_file(path, &c, &d);
        if (r < 0)
                print_error("%s\n", d.msg);
        assert_int_equal(r, 0);
        assert_string_equal(c->origin, path);
        check_full(c);
}

static void test_defaults(void **state) {
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("[socket:s]\nlisten = unix:@abs\n"
                                                          "[program:p]\ncommand = /bin/p\n");
        assert_string_equal(c->control_path, SV_DEFAULT_CONTROL);
        assert_string_equal(c->control_path, "/run/sockvisor/control.sock");
        assert_int_equal(c->control_mode, 0600);
        assert_int_equal(c->sockets[0].backlog, 4096);
        assert_int_equal(c->sockets[0].mode, 0666);
        assert_true(c->sockets[0].blocking); /* as systemd: NonBlocking=false */
        assert_true(c->sockets[0].addr.abstract);
        const SvProgramConf *p = &c->programs[0];
        assert_int_equal(p->ready, SV_READY_STARTED);
        assert_true(p->startsecs_usec == USEC_PER_SEC);
        assert_true(p->ready_timeout_usec == 30 * USEC_PER_SEC);
        assert_int_equal(p->stopsignal, SIGTERM);
        assert_true(p->stopwait_usec == 10 * USEC_PER_SEC);
        assert_null(p->directory);
        assert_int_equal(p->n_sockets, 0);
        assert_non_null(p->environment);
        assert_null(p->environment[0]);
        check_program_defaults(p);
}

static void test_daemon_section_alone(void **state) {
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("[sockvisord]\ncontrol_mode = 0\n");
        assert_int_equal(c->control_mode, 0);
        assert_string_equal(c->control_path, SV_DEFAULT_CONTROL);
        assert_int_equal(c->n_sockets, 0);
        assert_int_equal(c->n_programs, 0);
}

static void test_values(void **state) {
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("[socket:a]\nlisten = tcp://[::]:1\nbacklog = 1\n"
                                                          "blocking = TRUE\nmode = 7777\n"
                                                          "[socket:b]\nlisten = tcp://0.0.0.0:0\nblocking = 1\n"
                                                          "[socket:c]\nlisten = unix:/c\nblocking = On\n"
                                                          "[socket:d]\nlisten = unix:/d\nblocking = 0\n"
                                                          "[program:p]\ncommand = /bin/p\nready = started\n"
                                                          "startsecs = 0\nstopsignal = 3\nstopwaitsecs = 0\n"
                                                          "ready_timeout = 5\nenvironment =\n"
                                                          "[program:q]\ncommand = /bin/q\nstopsignal = usr2\n"
                                                          "environment = A=1 , B=2,C=\" spaced \"\n");
        assert_int_equal(c->sockets[0].backlog, 1);
        assert_true(c->sockets[0].blocking);
        assert_int_equal(c->sockets[0].mode, 07777);
        assert_true(c->sockets[1].blocking);
        assert_true(c->sockets[2].blocking);
        assert_false(c->sockets[3].blocking);
        const SvProgramConf *p = &c->programs[0];
        assert_int_equal(p->ready, SV_READY_STARTED);
        assert_true(p->startsecs_usec == 0);
        assert_true(p->stopwait_usec == 0);
        assert_true(p->ready_timeout_usec == 5 * USEC_PER_SEC);
        assert_int_equal(p->stopsignal, SIGQUIT);
        assert_non_null(p->environment);
        assert_null(p->environment[0]);
        const SvProgramConf *q = &c->programs[1];
        assert_int_equal(q->stopsignal, SIGUSR2);
        assert_int_equal(sv_strv_length(q->environment), 3);
        assert_string_equal(q->environment[0], "A=1"); /* blanks around an unquoted value go */
        assert_string_equal(q->environment[1], "B=2");
        assert_string_equal(q->environment[2], "C= spaced "); /* quotes keep them */
}

static void test_sockets_order(void **state) {
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("[socket:a]\nlisten = unix:/a\n"
                                                          "[socket:b]\nlisten = unix:/b\n"
                                                          "[socket:c]\nlisten = unix:/c\n"
                                                          "[program:p]\ncommand = /bin/p\nsockets = b, a\n"
                                                          "[program:q]\ncommand = /bin/q\nsockets = c,a b\n");
        const SvProgramConf *p = sv_config_find_program(c, "p");
        assert_non_null(p);
        assert_int_equal(p->n_sockets, 2);
        assert_string_equal(c->sockets[p->socket_idx[0]].name, "b");
        assert_string_equal(c->sockets[p->socket_idx[1]].name, "a");
        const SvProgramConf *q = sv_config_find_program(c, "q");
        assert_int_equal(q->n_sockets, 3);
        assert_int_equal(q->socket_idx[0], 2);
        assert_int_equal(q->socket_idx[1], 0);
        assert_int_equal(q->socket_idx[2], 1);
}

static void test_program_before_socket(void **state) {
        /* sockets= may name a socket defined further down */
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("[program:p]\ncommand = /bin/p\nsockets = late\n"
                                                          "[socket:late]\nlisten = unix:/late\n");
        assert_int_equal(c->programs[0].n_sockets, 1);
        assert_int_equal(c->programs[0].socket_idx[0], 0);
}

static void test_environment(void **state) {
        _cleanup_(sv_config_freep) SvConfig *c =
                parse_ok("[program:p]\ncommand = /bin/p\n"
                         "environment = A=\"x, y\",B=2,C='p,q;r',_D=\"\",E=plain value\n");
        char **e = c->programs[0].environment;
        assert_int_equal(sv_strv_length(e), 5);
        assert_string_equal(e[0], "A=x, y");
        assert_string_equal(e[1], "B=2");
        assert_string_equal(e[2], "C=p,q;r");
        assert_string_equal(e[3], "_D=");
        assert_string_equal(e[4], "E=plain value");
}

static void test_names(void **state) {
        char name48[SV_NAME_MAX + 1];
        memset(name48, 'n', SV_NAME_MAX);
        name48[SV_NAME_MAX] = '\0';
        /* "[program:" + 48 bytes is far over inih's 49-byte section buffer: our reader names it */
        _cleanup_free_ char *text = xasprintf("[socket:%s]\nlisten = unix:/s\n[program:%s]\ncommand = /bin/p\n"
                                              "sockets = %s\n[program:a.b_c-D9]\ncommand = /bin/q\n",
                                              name48, name48, name48);
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok(text);
        assert_string_equal(c->sockets[0].name, name48);
        assert_string_equal(c->programs[0].name, name48);
        assert_int_equal(c->programs[0].n_sockets, 1);
        assert_non_null(sv_config_find_program(c, "a.b_c-D9"));
        /* a program and a socket may share a name */
        _cleanup_(sv_config_freep) SvConfig *c2 = parse_ok("[socket:x]\nlisten = unix:/x\n"
                                                           "[program:x]\ncommand = /bin/x\nsockets = x\n");
        assert_int_equal(c2->n_sockets, 1);
        assert_int_equal(c2->n_programs, 1);
}

/* ---- errors: each names the file, the line and the key or section ---- */

static void test_error_unknown_section(void **state) {
        expect_error("[socket:a]\nlisten = unix:/a\n[bogus]\n", 3, "[bogus]");
        expect_error("[socket]\nlisten = unix:/a\n", 1, "[socket]");
        expect_error("; c\n[sockvisord:x]\n", 2, "[sockvisord:x]");
        expect_error("[Program:x]\ncommand = /bin/x\n", 1, "[Program:x]");
        expect_error_at("\n\n[service:x]\n", 3, "[service:x]", "[program:NAME]");
}

static void test_log_and_output(void **state) {
        SvConfig *c = parse_ok("[sockvisord]\nlog = journal\n[program:p]\ncommand = /bin/true\noutput = journal\n"
                               "[program:q]\ncommand = /bin/true\n");
        assert_int_equal(c->log_to, SV_LOG_TO_JOURNAL);
        assert_true(c->programs[0].output_journal);
        assert_false(c->programs[1].output_journal); /* default: inherit */
        assert_false(sv_program_conf_equal(c, &c->programs[0], c, &c->programs[1]) &&
                     c->programs[0].output_journal != c->programs[1].output_journal);
        sv_config_free(c);
        c = parse_ok("[sockvisord]\nlog = stderr\n");
        assert_int_equal(c->log_to, SV_LOG_TO_STDERR);
        sv_config_free(c);
        c = parse_ok("[sockvisord]\ncontrol = /x.sock\n");
        assert_int_equal(c->log_to, SV_LOG_TO_AUTO);
        sv_config_free(c);
        expect_error_at("[sockvisord]\nlog = syslog\n", 2, "log: 'syslog'", "auto");
        expect_error_at("[program:p]\ncommand = /bin/true\noutput = file\n", 3, "output: 'file'", "journal");
}

static void test_error_inline_comment_hint(void **state) {
        /* inih cuts "a ;; b" at " ;": the error must say why the quote looks unterminated */
        expect_error_at("[program:p]\ncommand = /bin/sh -c 'a ;; b'\n", 2, "unterminated", "' ;' starts a comment");
        /* without " ;" on the line there is no such note */
        SvConfig *c = NULL;
        SvDiag d = { 0 };
        assert_true(sv_config_parse_string("[program:p]\ncommand = /bin/sh -c 'a\n", "t.ini", &c, &d) < 0);
        assert_null(strstr(d.msg, "starts a comment"));
}

static void test_error_unknown_key(void **state) {
        expect_error_at("[program:p]\ncommand = /bin/true\nfoo = 1\n", 3, "'foo'",
                        "command, sockets, numprocs, restart_surge, ready, startsecs, ready_timeout, "
                        "startretries, autostart, autorestart, exitcodes, stopsignal, stopwaitsecs, stopasgroup, "
                        "killasgroup, priority, directory, user, group, umask, environment, clearenv");
        expect_error_at("[socket:s]\nlisten = unix:/s\nreuseport = yes\n", 3, "reuseport",
                        "listen, backlog, blocking, mode");
        expect_error_at("[sockvisord]\n\ncontrol_path = /x\n", 3, "control_path", "control, control_mode");
        expect_error("[program:p]\nCommand = /bin/true\n", 2, "[program:p]"); /* keys are case-sensitive */
        expect_error("[socket:s]\nlisten = unix:/s\n[program:p]\nlisten = unix:/s\n", 4, "'listen'");
}

static void test_error_outside_section(void **state) {
        expect_error("; comment\ncontrol = /run/x.sock\n[sockvisord]\n", 2, "'control'");
        expect_error("command = /bin/true\n", 1, "command");
}

static void test_error_duplicate_key(void **state) {
        expect_error("[socket:a]\nlisten = unix:/a\nlisten = unix:/b\n", 3, "listen");
        expect_error("[sockvisord]\ncontrol = /a\n; c\ncontrol = /b\n", 4, "control");
        expect_error("[program:p]\ncommand = /bin/a\nenvironment = A=1\nenvironment = B=2\n", 4, "environment");
        /* the same key in two different sections is fine */
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("[socket:a]\nlisten = unix:/a\n[socket:b]\nlisten = unix:/b\n");
        assert_int_equal(c->n_sockets, 2);
}

static void test_error_duplicate_section(void **state) {
        expect_error_at("[socket:a]\nlisten = unix:/a\n\n[socket:a]\nlisten = unix:/b\n", 4, "[socket:a]",
                        "first on line 1");
        expect_error_at("[program:p]\ncommand = /bin/a\n[program:p]\n", 3, "[program:p]", "line 1");
        expect_error("[sockvisord]\ncontrol = /a\n[sockvisord]\ncontrol_mode = 0600\n", 3, "[sockvisord]");
        /* a duplicate header without keys is caught too (inih alone would not see it) */
        expect_error("[sockvisord]\n[sockvisord]\n", 2, "[sockvisord]");
}

static void test_error_invalid_name(void **state) {
        char name49[SV_NAME_MAX + 2];
        memset(name49, 'x', SV_NAME_MAX + 1);
        name49[SV_NAME_MAX + 1] = '\0';
        _cleanup_free_ char *t1 = xasprintf("[program:ok]\ncommand = /bin/ok\n[program:%s]\ncommand = /bin/x\n", name49);
        _cleanup_free_ char *t2 = xasprintf("[socket:%s]\nlisten = unix:/x\n", name49);

        expect_error("[program:my app]\ncommand = /bin/x\n", 1, "'my app'");
        expect_error(t1, 3, name49);
        expect_error(t2, 1, name49);
        expect_error("[socket:]\nlisten = unix:/x\n", 1, "[socket:]");
        expect_error("[socket:a/b]\nlisten = unix:/x\n", 1, "a/b");
        expect_error("[program:a:b]\ncommand = /bin/x\n", 1, "a:b");
}

static void test_error_values(void **state) {
        expect_error("[socket:s]\nlisten = http://127.0.0.1:80\n", 2, "listen");
        expect_error("[socket:s]\nlisten = tcp://127.0.0.1\n", 2, "[socket:s] listen");
        expect_error("[socket:s]\nlisten =\n", 2, "listen");
        static const char *const backlogs[] = { "0", "65536", "abc", "-1", "12x", " ", "+5", "99999999999999999999" };
        for (size_t i = 0; i < ELEMENTSOF(backlogs); i++) {
                _cleanup_free_ char *t = xasprintf("[socket:s]\nlisten = unix:/s\nbacklog = %s\n", backlogs[i]);
                expect_error(t, 3, "[socket:s] backlog");
        }
        static const char *const bools[] = { "maybe", "", "2", "yess", "y" };
        for (size_t i = 0; i < ELEMENTSOF(bools); i++) {
                _cleanup_free_ char *t = xasprintf("[socket:s]\nlisten = unix:/s\nblocking = %s\n", bools[i]);
                expect_error(t, 3, "[socket:s] blocking");
        }
        static const char *const modes[] = { "0888", "rw", "10000", "", "-1", "0x1ff", "9" };
        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                _cleanup_free_ char *t = xasprintf("[socket:s]\nlisten = unix:/s\nmode = %s\n", modes[i]);
                _cleanup_free_ char *t2 = xasprintf("[sockvisord]\ncontrol_mode = %s\n", modes[i]);
                expect_error(t, 3, "[socket:s] mode");
                expect_error(t2, 2, "[sockvisord] control_mode");
        }
        expect_error("[sockvisord]\ncontrol = run/control.sock\n", 2, "[sockvisord] control");
        static const char *const durations[] = { "1.5s", "-1", "5x", "s", "", "25h", "1 s", "10S" };
        static const char *const duration_keys[] = { "startsecs", "ready_timeout", "stopwaitsecs" };
        for (size_t i = 0; i < ELEMENTSOF(durations); i++)
                for (size_t k = 0; k < ELEMENTSOF(duration_keys); k++) {
                        _cleanup_free_ char *t = xasprintf("[program:p]\ncommand = /bin/p\n%s = %s\n",
                                                           duration_keys[k], durations[i]);
                        _cleanup_free_ char *key = xasprintf("[program:p] %s", duration_keys[k]);
                        expect_error(t, 3, key);
                }
        expect_error("[program:p]\ncommand = /bin/p\nready_timeout = 0\n", 3, "ready_timeout"); /* never ready */
        expect_error("[program:p]\ncommand = /bin/p\nready = sometimes\n", 3, "[program:p] ready");
        expect_error("[program:p]\ncommand = /bin/p\nready = Notify\n", 3, "[program:p] ready");
        static const char *const sigs[] = { "KILL", "SIGKILL", "9", "STOP", "19", "BOGUS", "0", "-15", "", "SIG", "99" };
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                _cleanup_free_ char *t = xasprintf("[program:p]\ncommand = /bin/p\nstopsignal = %s\n", sigs[i]);
                expect_error(t, 3, "[program:p] stopsignal");
        }
        expect_error("[program:p]\ncommand = /bin/p\ndirectory = srv/app\n", 3, "[program:p] directory");
        expect_error("[program:p]\ncommand = /bin/p\ndirectory =\n", 3, "[program:p] directory");
        static const char *const envs[] = { "1A=x", "NOKEY", "A=\"unterminated", "A=1,=2", "A-B=1", "A=\"x\"y",
                                            "A='x" };
        for (size_t i = 0; i < ELEMENTSOF(envs); i++) {
                _cleanup_free_ char *t = xasprintf("[program:p]\ncommand = /bin/p\nenvironment = %s\n", envs[i]);
                expect_error(t, 3, "[program:p] environment");
        }
        expect_error("[program:p]\ncommand = /bin/sh -c 'echo\n", 2, "[program:p] command");
        expect_error("[program:p]\ncommand = /bin/sh -c \"echo\n", 2, "[program:p] command");
        expect_error("[program:p]\ncommand =\n", 2, "[program:p] command");
}

static void test_error_cross_section(void **state) {
        expect_error_at("[socket:web]\nlisten = unix:/w\n[socket:api]\nlisten = unix:/a\n"
                        "[program:p]\ncommand = /bin/p\nsockets = web, nosuch\n",
                        7, "[program:p] sockets", "defined sockets: web, api");
        expect_error_at("[program:p]\ncommand = /bin/p\nsockets = nosuch\n", 3, "nosuch", "[socket:NAME]");
        expect_error_at("[socket:a]\nlisten = unix:/a\n[program:p]\nsockets = a, a\ncommand = /bin/p\n", 4,
                        "[program:p] sockets", "'a' is listed twice");
        expect_error_at("[sockvisord]\n\n[socket:a]\nbacklog = 5\n", 3, "[socket:a]", "listen");
        expect_error_at("[socket:a]\nlisten = unix:/a\n[program:p]\nsockets = a\n", 3, "[program:p]", "command");
        expect_error_at("[program:p]\n", 1, "[program:p]", "command");
}

static void test_error_syntax(void **state) {
        expect_error("[socket:a]\nlisten = unix:/a\ngarbage line\n", 3, "syntax error");
        expect_error("[socket:a]\n\n\nlisten unix/a\n", 4, "syntax error");
        expect_error_at("[socket:a]\nlisten = unix:/a\n[program:p\ncommand = /bin/p\n", 3, "[program:p",
                        "no closing ']'");
        expect_error("[socket:a\n", 1, "[socket:a");
        /* the first error wins */
        expect_error("[socket:a]\nbacklog = x\n[bogus]\nnope\n", 2, "backlog");
}

static void test_error_no_diag(void **state) {
        SvConfig *c = NULL;
        assert_int_equal(sv_config_parse_string("[bogus]\n", ORIGIN, &c, NULL), -EINVAL);
        assert_null(c);
        SvDiag d = {};
        assert_int_equal(sv_config_parse_string("[bogus]\n", NULL, &c, &d), -EINVAL);
        assert_int_equal(d.line, 1);
        assert_non_null(strstr(d.msg, ":1:"));
}

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

/* ---- the supervisord keys: numprocs … clearenv ---- */

/* Parses "[program:p]\ncommand = /bin/p\nKEY = VALUE\n" and returns the config. */
static SvConfig *parse_key(const char *key, const char *value) {
        _cleanup_free_ char *t = xasprintf("[program:p]\ncommand = /bin/p\n%s = %s\n", key, value);
        return parse_ok(t);
}

static void test_program_keys_values(void **state) {
        static const struct {
                const char *v;
                unsigned n;
        } numprocs[] = { { "1", 1 }, { "2", 2 }, { "256", 256 }, { "007", 7 } };
        for (size_t i = 0; i < ELEMENTSOF(numprocs); i++) {
                _cleanup_(sv_config_freep) SvConfig *c = parse_key("numprocs", numprocs[i].v);
                assert_int_equal(c->programs[0].numprocs, numprocs[i].n);
                assert_int_equal(c->programs[0].restart_surge, 1);
        }
        static const struct {
                const char *v;
                unsigned n;
        } retries[] = { { "0", 0 }, { "1", 1 }, { "3", 3 }, { "100", 100 } };
        for (size_t i = 0; i < ELEMENTSOF(retries); i++) {
                _cleanup_(sv_config_freep) SvConfig *c = parse_key("startretries", retries[i].v);
                assert_int_equal(c->programs[0].startretries, retries[i].n);
        }
        static const struct {
                const char *v;
                bool b;
        } bools[] = { { "yes", true }, { "no", false }, { "true", true }, { "FALSE", false },
                      { "On", true },  { "off", false }, { "1", true },   { "0", false } };
        for (size_t i = 0; i < ELEMENTSOF(bools); i++) {
                _cleanup_(sv_config_freep) SvConfig *a = parse_key("autostart", bools[i].v);
                _cleanup_(sv_config_freep) SvConfig *k = parse_key("killasgroup", bools[i].v);
                _cleanup_(sv_config_freep) SvConfig *s = parse_key("stopasgroup", bools[i].v);
                _cleanup_(sv_config_freep) SvConfig *e = parse_key("clearenv", bools[i].v);
                assert_int_equal(a->programs[0].autostart, bools[i].b);
                assert_int_equal(k->programs[0].killasgroup, bools[i].b);
                assert_false(k->programs[0].stopasgroup);
                assert_int_equal(s->programs[0].stopasgroup, bools[i].b);
                assert_int_equal(s->programs[0].killasgroup, bools[i].b); /* implied */
                assert_int_equal(e->programs[0].clearenv, bools[i].b);
        }
        static const struct {
                const char *v;
                SvAutorestart a;
        } autorestart[] = {
                { "true", SV_AUTORESTART_TRUE },     { "false", SV_AUTORESTART_FALSE },
                { "unexpected", SV_AUTORESTART_UNEXPECTED }, { "Unexpected", SV_AUTORESTART_UNEXPECTED },
                { "yes", SV_AUTORESTART_TRUE },      { "off", SV_AUTORESTART_FALSE }, /* supervisord takes these too */
        };
        for (size_t i = 0; i < ELEMENTSOF(autorestart); i++) {
                _cleanup_(sv_config_freep) SvConfig *c = parse_key("autorestart", autorestart[i].v);
                assert_int_equal(c->programs[0].autorestart, autorestart[i].a);
        }
        static const struct {
                const char *v;
                int n;
        } priority[] = { { "0", 0 },           { "-1", -1 },          { "999", 999 },  { "-999999", -999999 },
                         { "999999", 999999 }, { "-0", 0 },           { "0010", 10 } };
        for (size_t i = 0; i < ELEMENTSOF(priority); i++) {
                _cleanup_(sv_config_freep) SvConfig *c = parse_key("priority", priority[i].v);
                assert_int_equal(c->programs[0].priority, priority[i].n);
        }
        static const struct {
                const char *v;
                int m;
        } umask[] = { { "0", 0 }, { "000", 0 }, { "022", 022 }, { "22", 022 }, { "0777", 0777 }, { "077", 077 } };
        for (size_t i = 0; i < ELEMENTSOF(umask); i++) {
                _cleanup_(sv_config_freep) SvConfig *c = parse_key("umask", umask[i].v);
                assert_int_equal(c->programs[0].umask, umask[i].m);
        }
        static const char *const ids[] = { "www-data", "root", "0", "1000", "a.b_c-D9", "_apt",
                                           "4294967294", "abcdefghijklmnopqrstuvwxyz012345" /* 32 */ };
        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                _cleanup_(sv_config_freep) SvConfig *u = parse_key("user", ids[i]);
                _cleanup_(sv_config_freep) SvConfig *g = parse_key("group", ids[i]);
                assert_string_equal(u->programs[0].user, ids[i]);
                assert_null(u->programs[0].group);
                assert_string_equal(g->programs[0].group, ids[i]);
                assert_null(g->programs[0].user);
        }
}

static void test_program_keys_errors(void **state) {
        static const struct {
                const char *key;
                const char *values[12];
        } bad[] = {
                { "numprocs", { "0", "257", "-1", "x", "", "1.5", "+2", "2x", "99999999999999999999" } },
                { "restart_surge", { "0", "-1", "x", "", "257", "1.5", "+1" } },
                { "startretries", { "-1", "101", "x", "", "3x", "1e2" } },
                { "autostart", { "maybe", "", "2", "yess", "unexpected" } },
                { "stopasgroup", { "maybe", "", "2", "-1" } },
                { "killasgroup", { "maybe", "", "2", "y" } },
                { "clearenv", { "maybe", "", "2", "nope" } },
                { "autorestart", { "sometimes", "", "unexpectedly", "2", "always", "never" } },
                { "exitcodes", { "", "256", "-1", "0,", ",0", "0,,1", "a", "0 1", "1.0", "0;1", "+1",
                                 "99999999999999999999" } },
                { "priority", { "1000000", "-1000000", "x", "", "+1", "1.5", "--1", "- 1", "99999999999999999999" } },
                { "user", { "", "a b", "a:b", "root!", "abcdefghijklmnopqrstuvwxyz0123456" /* 33 */, "4294967295",
                            "99999999999999999999", "us/er", "ü" } },
                { "group", { "", "a b", "a:b", "wheel!", "abcdefghijklmnopqrstuvwxyz0123456", "4294967295" } },
                { "umask", { "01000", "8", "-1", "", "rw", "0x12", "1777", "0o22", "u=rwx" } },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                for (size_t j = 0; j < ELEMENTSOF(bad[i].values) && bad[i].values[j]; j++) {
                        /* a comment line before the key: the line number is the key's, not the section's */
                        _cleanup_free_ char *t = xasprintf("[program:p]\ncommand = /bin/p\n; c\n%s = %s\n",
                                                           bad[i].key, bad[i].values[j]);
                        _cleanup_free_ char *key = xasprintf("[program:p] %s", bad[i].key);
                        _cleanup_free_ char *value = xasprintf("'%s'", bad[i].values[j]);
                        expect_error_at(t, 4, key, value);
                }
        /* what would be valid is part of each message */
        expect_error_at("[program:p]\ncommand = /bin/p\nnumprocs = 0\n", 3, "'0'", "1 to 256");
        expect_error_at("[program:p]\ncommand = /bin/p\nautorestart = x\n", 3, "'x'", "unexpected");
        expect_error_at("[program:p]\ncommand = /bin/p\nexitcodes = 256\n", 3, "'256'", "0 to 255");
        expect_error_at("[program:p]\ncommand = /bin/p\nstartretries = 101\n", 3, "'101'", "0 to 100");
        expect_error_at("[program:p]\ncommand = /bin/p\npriority = 1000000\n", 3, "'1000000'", "-999999 to 999999");
        expect_error_at("[program:p]\ncommand = /bin/p\numask = 1777\n", 3, "'1777'", "0777");
        expect_error_at("[program:p]\ncommand = /bin/p\nuser = a b\n", 3, "'a b'", "32");
        /* each new key, set twice */
        static const char *const keys[] = { "numprocs = 1",    "restart_surge = 1", "autostart = yes",
                                            "autorestart = true", "exitcodes = 0",  "startretries = 1",
                                            "stopasgroup = no", "killasgroup = no", "user = u",
                                            "group = g",         "umask = 022",      "priority = 1",
                                            "clearenv = no" };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                _cleanup_free_ char *t = xasprintf("[program:p]\ncommand = /bin/p\n%s\n%s\n", keys[i], keys[i]);
                _cleanup_free_ char *key = xasprintf("[program:p] %.*s", (int) strcspn(keys[i], " "), keys[i]);
                expect_error_at(t, 4, key, "set twice");
        }
        /* and they belong to [program:…] only */
        expect_error("[socket:s]\nlisten = unix:/s\nnumprocs = 2\n", 3, "'numprocs'");
        expect_error("[sockvisord]\nuser = root\n", 2, "'user'");
}

static void test_restart_surge(void **state) {
        static const char *const msg = "restart_surge = 4 is more than numprocs = 3; at most numprocs new instances "
                                       "start before old ones drain";
        /* the error is on the restart_surge line, whichever comes first */
        expect_error_at("[program:p]\ncommand = /bin/p\nrestart_surge = 4\nnumprocs = 3\n", 3,
                        "[program:p] restart_surge", msg);
        expect_error_at("[program:p]\ncommand = /bin/p\nnumprocs = 3\n\n; c\nrestart_surge = 4\n", 6,
                        "[program:p] restart_surge", msg);
        /* numprocs defaults to 1 */
        expect_error_at("[program:p]\ncommand = /bin/p\nrestart_surge = 2\n", 3, "restart_surge = 2",
                        "numprocs = 1");
        /* the line of the right program when several set it */
        expect_error_at("[program:a]\ncommand = /bin/a\nnumprocs = 2\nrestart_surge = 2\n"
                        "[program:b]\ncommand = /bin/b\nrestart_surge = 3\nnumprocs = 2\n"
                        "[program:c]\ncommand = /bin/c\nrestart_surge = 1\n",
                        7, "[program:b] restart_surge", "restart_surge = 3 is more than numprocs = 2");
        /* an earlier, unrelated error still wins over this check */
        expect_error("[program:p]\ncommand = /bin/p\nrestart_surge = 4\nnumprocs = x\n", 4, "numprocs");

        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("[program:p]\ncommand = /bin/p\nrestart_surge = 3\n"
                                                          "numprocs = 3\n"
                                                          "[program:q]\ncommand = /bin/q\nnumprocs = 256\n"
                                                          "restart_surge = 256\n"
                                                          "[program:r]\ncommand = /bin/r\nnumprocs = 5\n");
        assert_int_equal(c->programs[0].numprocs, 3);
        assert_int_equal(c->programs[0].restart_surge, 3);
        assert_int_equal(c->programs[1].numprocs, 256);
        assert_int_equal(c->programs[1].restart_surge, 256);
        assert_int_equal(c->programs[2].numprocs, 5);
        assert_int_equal(c->programs[2].restart_surge, 1);
}

static void test_stopasgroup_implies_killasgroup(void **state) {
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("[program:a]\ncommand = /bin/a\nstopasgroup = true\n"
                                                          "[program:b]\ncommand = /bin/b\nkillasgroup = no\n"
                                                          "stopasgroup = yes\n"
                                                          "[program:c]\ncommand = /bin/c\nstopasgroup = yes\n"
                                                          "killasgroup = no\n"
                                                          "[program:d]\ncommand = /bin/d\nkillasgroup = yes\n"
                                                          "[program:e]\ncommand = /bin/e\nstopasgroup = no\n");
        for (size_t i = 0; i < 3; i++) {
                assert_true(c->programs[i].stopasgroup);
                assert_true(c->programs[i].killasgroup); /* whatever killasgroup says, and in any order */
        }
        assert_false(c->programs[3].stopasgroup); /* the other way round: no */
        assert_true(c->programs[3].killasgroup);
        assert_false(c->programs[4].stopasgroup);
        assert_false(c->programs[4].killasgroup);
}

static void test_exitcodes(void **state) {
        static const struct {
                const char *v;
                size_t n;
                int codes[4];
        } ok[] = {
                { "0", 1, { 0 } },
                { "2", 1, { 2 } },
                { "255", 1, { 255 } },
                { "0,2", 2, { 0, 2 } },
                { "0, 2", 2, { 0, 2 } },
                { "1 ,2 , 3", 3, { 1, 2, 3 } },
                { "3,\t1", 2, { 3, 1 } }, /* order as written */
                { "  7  ", 1, { 7 } },
                { "0,1,2,255", 4, { 0, 1, 2, 255 } },
                { "010", 1, { 10 } }, /* decimal, as supervisord */
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                _cleanup_(sv_config_freep) SvConfig *c = parse_key("exitcodes", ok[i].v);
                const SvProgramConf *p = &c->programs[0];
                assert_int_equal(p->n_exitcodes, ok[i].n);
                for (size_t j = 0; j < ok[i].n; j++)
                        assert_int_equal(p->exitcodes[j], ok[i].codes[j]);
        }

        /* SV_EXITCODES_MAX (32) entries are fine, 33 are not */
        char list[512] = "";
        size_t o = 0;
        for (int i = 0; i < SV_EXITCODES_MAX; i++)
                o += (size_t) snprintf(list + o, sizeof(list) - o, "%s%d", i ? ", " : "", i * 7);
        {
                _cleanup_(sv_config_freep) SvConfig *c = parse_key("exitcodes", list);
                const SvProgramConf *p = &c->programs[0];
                assert_int_equal(p->n_exitcodes, SV_EXITCODES_MAX);
                for (int i = 0; i < SV_EXITCODES_MAX; i++)
                        assert_int_equal(p->exitcodes[i], i * 7);
        }
        (void) snprintf(list + o, sizeof(list) - o, ", 250");
        _cleanup_free_ char *t = xasprintf("[program:p]\ncommand = /bin/p\nexitcodes = %s\n", list);
        expect_error_at(t, 3, "[program:p] exitcodes", "more than 32");

        expect_error_at("[program:p]\ncommand = /bin/p\nexitcodes = 256\n", 3, "[program:p] exitcodes", "'256'");
        expect_error_at("[program:p]\ncommand = /bin/p\nexitcodes =\n", 3, "[program:p] exitcodes", "''");
        expect_error_at("[program:p]\ncommand = /bin/p\nexitcodes = 0, 255, 256\n", 3, "exitcodes", "'0, 255, 256'");
        /* a code listed twice is a mistake, as a socket listed twice is */
        expect_error_at("[program:p]\ncommand = /bin/p\nexitcodes = 0, 2, 0\n", 3, "exitcodes", "0 twice");
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

/* ---- signals and lookups ---- */

static void test_signals(void **state) {
        static const struct {
                const char *s;
                int sig;
        } ok[] = {
                { "TERM", SIGTERM },  { "SIGTERM", SIGTERM }, { "term", SIGTERM }, { "SigTerm", SIGTERM },
                { "15", SIGTERM },    { "INT", SIGINT },      { "HUP", SIGHUP },   { "QUIT", SIGQUIT },
                { "USR1", SIGUSR1 },  { "SIGUSR2", SIGUSR2 }, { "KILL", SIGKILL }, { "9", SIGKILL },
                { "WINCH", SIGWINCH }, { "1", 1 },            { "64", 64 },
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                if (sv_signal_from_string(ok[i].s) != ok[i].sig)
                        print_error("'%s'\n", ok[i].s);
                assert_int_equal(sv_signal_from_string(ok[i].s), ok[i].sig);
        }
        static const char *const bad[] = { "", "BOGUS", "0", "-15", "15x", "65", "SIG", "SIGSIGTERM", " TERM",
                                           "99999999999999999999" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (sv_signal_from_string(bad[i]) != -EINVAL)
                        print_error("'%s'\n", bad[i]);
                assert_int_equal(sv_signal_from_string(bad[i]), -EINVAL);
        }
        assert_int_equal(sv_signal_from_string(NULL), -EINVAL);

        assert_string_equal(sv_signal_to_string(SIGTERM), "TERM");
        assert_string_equal(sv_signal_to_string(SIGINT), "INT");
        assert_string_equal(sv_signal_to_string(SIGKILL), "KILL");
        assert_string_equal(sv_signal_to_string(SIGUSR2), "USR2");
        assert_null(sv_signal_to_string(0));
        assert_null(sv_signal_to_string(-1));
        assert_null(sv_signal_to_string(999));
        /* every name round-trips */
        for (int sig = 1; sig < 65; sig++) {
                const char *name = sv_signal_to_string(sig);
                if (!name)
                        continue;
                char with_sig[32];
                (void) snprintf(with_sig, sizeof(with_sig), "SIG%s", name);
                assert_int_equal(sv_signal_from_string(name), sig);
                assert_int_equal(sv_signal_from_string(with_sig), sig);
        }
}

static void test_lookups(void **state) {
        _cleanup_(sv_config_freep) SvConfig *c = parse_ok("[socket:a]\nlisten = unix:/a\n[socket:b]\nlisten = unix:/b\n"
                                                          "[program:x]\ncommand = /bin/x\n"
                                                          "[program:y]\ncommand = /bin/y\n");
        assert_int_equal(sv_config_find_socket(c, "a"), 0);
        assert_int_equal(sv_config_find_socket(c, "b"), 1);
        assert_int_equal(sv_config_find_socket(c, "c"), -1);
        assert_int_equal(sv_config_find_socket(c, "A"), -1);
        assert_int_equal(sv_config_find_socket(c, ""), -1);
        assert_int_equal(sv_config_find_socket(c, "x"), -1);
        assert_ptr_equal(sv_config_find_program(c, "x"), &c->programs[0]);
        assert_ptr_equal(sv_config_find_program(c, "y"), &c->programs[1]);
        assert_null(sv_config_find_program(c, "z"));
        assert_null(sv_config_find_program(c, "a"));
        assert_null(sv_config_find_program(c, "X"));

        assert_string_equal(sv_ready_mode_to_string(SV_READY_STARTED), "started");
        assert_string_equal(sv_ready_mode_to_string(SV_READY_NOTIFY), "notify");
        assert_null(sv_ready_mode_to_string(_SV_READY_MAX));
        assert_string_equal(sv_autorestart_to_string(SV_AUTORESTART_FALSE), "false");
        assert_string_equal(sv_autorestart_to_string(SV_AUTORESTART_UNEXPECTED), "unexpected");
        assert_string_equal(sv_autorestart_to_string(SV_AUTORESTART_TRUE), "true");
        assert_null(sv_autorestart_to_string(_SV_AUTORESTART_MAX));
        assert_null(sv_autorestart_to_string((SvAutorestart) -1));
        assert_null(sv_config_free(NULL));
}

/* ---- durations ---- */

static void test_duration_parse(void **state) {
        static const struct {
                const char *s;
                uint64_t usec;
        } ok[] = {
                { "500ms", 500 * USEC_PER_MSEC },
                { "30s", 30 * USEC_PER_SEC },
                { "2m", 120 * USEC_PER_SEC },
                { "1h", 3600 * USEC_PER_SEC },
                { "5", 5 * USEC_PER_SEC },
                { "0", 0 },
                { "0ms", 0 },
                { "007s", 7 * USEC_PER_SEC },
                { "1ms", USEC_PER_MSEC },
                { "24h", 24 * 3600 * USEC_PER_SEC },
                { "1440m", 24 * 3600 * USEC_PER_SEC },
                { "86400", 24 * 3600 * USEC_PER_SEC },
                { "86400000ms", 24 * 3600 * USEC_PER_SEC },
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                uint64_t v = 12345;
                int r = sv_duration_parse(ok[i].s, &v);
                if (r != 0 || v != ok[i].usec)
                        print_error("'%s' -> %d %llu\n", ok[i].s, r, (unsigned long long) v);
                assert_int_equal(r, 0);
                assert_true(v == ok[i].usec);
        }
        static const struct {
                const char *s;
                int r;
        } bad[] = {
                { "", -EINVAL },        { "-1", -EINVAL },        { "1.5s", -EINVAL },   { "5x", -EINVAL },
                { "s", -EINVAL },       { "ms", -EINVAL },        { " 5", -EINVAL },     { "5 ", -EINVAL },
                { "5 s", -EINVAL },     { "+5", -EINVAL },        { "5S", -EINVAL },     { "5sec", -EINVAL },
                { "5us", -EINVAL },     { "1m30s", -EINVAL },     { "0x10", -EINVAL },   { "25h", -ERANGE },
                { "86401", -ERANGE },   { "1441m", -ERANGE },     { "86400001ms", -ERANGE },
                { "99999999999999999999999999", -ERANGE },        { "18446744073709551617", -ERANGE },
                { "18446744073709551616ms", -ERANGE },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                uint64_t v = 12345;
                int r = sv_duration_parse(bad[i].s, &v);
                if (r != bad[i].r)
                        print_error("'%s' -> %d\n", bad[i].s, r);
                assert_int_equal(r, bad[i].r);
                assert_true(v == 12345); /* untouched on error */
        }
        uint64_t v = 1;
        assert_int_equal(sv_duration_parse(NULL, &v), -EINVAL);
}

static void test_duration_format(void **state) {
        static const struct {
                uint64_t usec;
                const char *s;
        } cases[] = {
                { 0, "0ms" },
                { 850 * USEC_PER_MSEC, "850ms" },
                { 999 * USEC_PER_MSEC, "999ms" },
                { USEC_PER_SEC, "1.00s" },
                { 1250 * USEC_PER_MSEC, "1.25s" },
                { 30 * USEC_PER_SEC, "30.00s" },
                { 59990 * USEC_PER_MSEC, "59.99s" },
                { 60 * USEC_PER_SEC, "1m00s" },
                { 125 * USEC_PER_SEC, "2m05s" },
                { 3599 * USEC_PER_SEC, "59m59s" },
                { 3600 * USEC_PER_SEC, "1h00m" },
                { 5400 * USEC_PER_SEC, "1h30m" },
                { 24 * 3600 * USEC_PER_SEC, "24h00m" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[32];
                assert_ptr_equal(sv_duration_format(cases[i].usec, buf, sizeof(buf)), buf);
                assert_string_equal(buf, cases[i].s);
        }
        char small[4];
        sv_duration_format(125 * USEC_PER_SEC, small, sizeof(small));
        assert_string_equal(small, "2m0"); /* cut, but terminated */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full_file),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_daemon_section_alone),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_sockets_order),
                cmocka_unit_test(test_program_before_socket),
                cmocka_unit_test(test_environment),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_error_unknown_section),
                cmocka_unit_test(test_error_unknown_key),
                cmocka_unit_test(test_error_inline_comment_hint),
                cmocka_unit_test(test_log_and_output),
                cmocka_unit_test(test_error_outside_section),
                cmocka_unit_test(test_error_duplicate_key),
                cmocka_unit_test(test_error_duplicate_section),
                cmocka_unit_test(test_error_invalid_name),
                cmocka_unit_test(test_error_values),
                cmocka_unit_test(test_error_cross_section),
                cmocka_unit_test(test_error_syntax),
                cmocka_unit_test(test_error_no_diag),
                cmocka_unit_test(test_program_keys_values),
                cmocka_unit_test(test_program_keys_errors),
                cmocka_unit_test(test_restart_surge),
                cmocka_unit_test(test_stopasgroup_implies_killasgroup),
                cmocka_unit_test(test_exitcodes),
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
                cmocka_unit_test(test_signals),
                cmocka_unit_test(test_lookups),
                cmocka_unit_test(test_duration_parse),
                cmocka_unit_test(test_duration_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
