/* Unit tests for config.c: the schema (sections, keys, values, defaults, cross-section
 * errors), the supervisord keys, signals and lookups (durations: test_duration.c). The reader and the
 * comparisons are in test_config_reader.c. */
#include "config_test.h"

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

static void test_fdstore_max(void **state) {
        SvConfig *c = parse_ok("[program:p]\ncommand = /bin/true\nfdstore_max = 4\n[program:q]\ncommand = /bin/true\n");
        assert_int_equal(c->programs[0].fdstore_max, 4);
        assert_int_equal(c->programs[1].fdstore_max, 0); /* default: no store */
        assert_false(sv_program_conf_equal(c, &c->programs[0], c, &c->programs[1]));
        sv_config_free(c);
        expect_error_at("[program:p]\ncommand = /bin/true\nfdstore_max = 65\n", 3, "fdstore_max: '65'", "0 to 64");
        expect_error_at("[program:p]\ncommand = /bin/true\nfdstore_max = -1\n", 3, "fdstore_max: '-1'", "FDSTORE=1");
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
        static const char *const durations[] = { "1.5.5s", "-1", "5x", "s", "", "25h", "1 s", "10S", "30s1m" };
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
                cmocka_unit_test(test_fdstore_max),
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
                cmocka_unit_test(test_signals),
                cmocka_unit_test(test_lookups),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
