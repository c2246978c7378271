/* Unit tests for fd_env= and %(fd:NAME) in command=: the config side of the fd dialects, and
 * cmdline.c's %(KEY) expansion. The variables themselves are test_env.c's. */
#include "config_test.h"

#include "sockvisor/env.h"
#include "sockvisor/macro.h"

static void config_freep_(SvConfig **c) {
        *c = sv_config_free(*c);
}
#define _cleanup_config_ _cleanup_(config_freep_)

static const char sockets[] = "[socket:web]\nlisten = tcp://127.0.0.1:8080\n"
                              "[socket:admin]\nlisten = unix:/run/admin.sock\n"
                              "[socket:spare]\nlisten = tcp://127.0.0.1:8081\n";

/* ---- fd_env= ---- */

static void test_fd_env_default(void **state) {
        _cleanup_free_ char *t = xasprintf("%s[program:p]\ncommand = /bin/p\nsockets = web\n", sockets);
        _cleanup_config_ SvConfig *c = parse_ok(t);
        assert_int_equal(c->programs[0].fd_env, SV_FD_ENV_SYSTEMD | SV_FD_ENV_SERVER_STARTER | SV_FD_ENV_EINHORN);
        assert_false(c->programs[0].fd_env & SV_FD_ENV_NGINX); /* nginx only when asked */
}

static void test_fd_env_values(void **state) {
        static const struct {
                const char *v;
                unsigned want;
        } cases[] = {
                { "systemd", SV_FD_ENV_SYSTEMD },
                { "nginx", SV_FD_ENV_NGINX },
                { "server_starter", SV_FD_ENV_SERVER_STARTER },
                { "einhorn", SV_FD_ENV_EINHORN },
                { "systemd,nginx", SV_FD_ENV_SYSTEMD | SV_FD_ENV_NGINX },
                { "systemd, server_starter, einhorn, nginx", SV_FD_ENV_ALL },
                { "none", 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *t = xasprintf("[program:p]\ncommand = /bin/p\nfd_env = %s\n", cases[i].v);
                _cleanup_config_ SvConfig *c = parse_ok(t);
                assert_int_equal(c->programs[0].fd_env, cases[i].want);
        }
}

static void test_fd_env_errors(void **state) {
        expect_error_at("[program:p]\ncommand = /bin/p\nfd_env = systemd,apache\n", 3,
                        "[program:p] fd_env: 'apache' is not an fd dialect",
                        "systemd, server_starter, einhorn, nginx, or none");
        expect_error_at("[program:p]\ncommand = /bin/p\n\nfd_env = nginx,nginx\n", 4, "fd_env: 'nginx' is listed twice",
                        "or none");
        expect_error_at("[program:p]\ncommand = /bin/p\nfd_env = none,nginx\n", 3, "'none' must stand alone", NULL);
        expect_error_at("[program:p]\ncommand = /bin/p\nfd_env = systemd,\n", 3, "ends in a comma", NULL);
        expect_error_at("[program:p]\ncommand = /bin/p\nfd_env =\n", 3, "fd_env", NULL);
        expect_error_at("[program:p]\ncommand = /bin/p\nfd_env = nginx\nfd_env = systemd\n", 4, "fd_env", NULL);
        /* a [socket:] has no fd_env */
        expect_error("[socket:s]\nlisten = tcp://127.0.0.1:1\nfd_env = nginx\n", 3, "fd_env");
}

/* A changed fd_env is a changed program: reload restarts it. */
static void test_fd_env_compares(void **state) {
        _cleanup_config_ SvConfig *a = parse_ok("[program:p]\ncommand = /bin/p\n");
        _cleanup_config_ SvConfig *b = parse_ok("[program:p]\ncommand = /bin/p\nfd_env = systemd,nginx\n");
        _cleanup_config_ SvConfig *c = parse_ok("[program:p]\ncommand = /bin/p\nfd_env = einhorn,server_starter,systemd\n");
        assert_false(sv_program_conf_equal(a, &a->programs[0], b, &b->programs[0]));
        assert_true(sv_program_conf_equal(a, &a->programs[0], c, &c->programs[0])); /* the default, spelled out */
}

/* ---- %(fd:NAME) in command= ---- */

static void expect_argv(const char *program_lines, const char *const *want) {
        _cleanup_free_ char *t = xasprintf("%s[program:p]\n%s", sockets, program_lines);
        _cleanup_config_ SvConfig *c = parse_ok(t);
        const SvProgramConf *p = &c->programs[0];
        size_t n = 0;
        while (want[n])
                n++;
        for (size_t i = 0; i < n; i++)
                if (!p->argv[i] || strcmp(p->argv[i], want[i]) != 0)
                        print_error("%s: argv[%zu] = '%s', want '%s'\n", program_lines, i, p->argv[i] ? p->argv[i] : "(null)",
                                    want[i]);
        assert_int_equal(sv_strv_length(p->argv), n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(p->argv[i], want[i]);
}

static void test_fd_ref_numbers(void **state) {
        /* fd 3.. in sockets= order, wherever command= is written */
        expect_argv("command = app --fd %(fd:web)\nsockets = web\n", (const char *[]){ "app", "--fd", "3", NULL });
        expect_argv("sockets = admin, web\ncommand = app %(fd:web) %(fd:admin)\n",
                    (const char *[]){ "app", "4", "3", NULL });
        expect_argv("command = app --fd=%(fd:spare),%(fd:web) x%(fd:admin)y\nsockets = web admin spare\n",
                    (const char *[]){ "app", "--fd=5,3", "x4y", NULL });
        /* inside double quotes too, as $ is in a shell; not in single quotes, nor after \ */
        expect_argv("command = sh -c \"exec app --fd %(fd:web)\" '%(fd:web)' \\%(fd:web)\nsockets = web\n",
                    (const char *[]){ "sh", "-c", "exec app --fd 3", "%(fd:web)", "%(fd:web)", NULL });
        /* the same socket twice */
        expect_argv("command = app %(fd:web) %(fd:web)\nsockets = web\n", (const char *[]){ "app", "3", "3", NULL });
        /* the command as written stays, for messages */
        _cleanup_free_ char *t = xasprintf("%s[program:p]\ncommand = app %%(fd:web)\nsockets = web\n", sockets);
        _cleanup_config_ SvConfig *c = parse_ok(t);
        assert_string_equal(c->programs[0].command, "app %(fd:web)");
}

static void test_percent_literal(void **state) {
        /* %% is one %; a % not before ( or % is itself, as before %(fd:NAME) existed */
        expect_argv("command = date +%s 100% %%(fd:web) a%%b %\nsockets = web\n",
                    (const char *[]){ "date", "+%s", "100%", "%(fd:web)", "a%b", "%", NULL });
        expect_argv("command = printf \"%%d %d\" '%%'\n", (const char *[]){ "printf", "%d %d", "%%", NULL });
        /* no socket at all, no % reference: untouched */
        expect_argv("command = app 50%\n", (const char *[]){ "app", "50%", NULL });
}

static void test_fd_ref_errors(void **state) {
        /* a socket that exists but is not in sockets= */
        _cleanup_free_ char *t1 = xasprintf("%s[program:p]\ncommand = app --fd %%(fd:spare)\nsockets = web, admin\n", sockets);
        expect_error_at(t1, 8, "[program:p] command: %(fd:spare): [socket:spare] is not in this program's sockets=",
                        "add it to sockets= or use one of %(fd:web), %(fd:admin)");
        /* no such socket */
        _cleanup_free_ char *t2 = xasprintf("%s[program:p]\nsockets = web\n\ncommand = app %%(fd:wbe)\n", sockets);
        expect_error_at(t2, 10, "command: %(fd:wbe): no [socket:wbe] is defined", "valid here: %(fd:web)");
        /* a program without sockets= */
        _cleanup_free_ char *t3 = xasprintf("%s[program:p]\ncommand = app %%(fd:web)\n", sockets);
        expect_error_at(t3, 8, "[socket:web] is not in this program's sockets=", "add it to sockets=");
        expect_error_at("[program:p]\ncommand = app %(fd:web)\n", 2, "no [socket:web] is defined",
                        "add a [socket:NAME] section");
        /* other references: an unknown one is not passed through silently */
        _cleanup_free_ char *t4 = xasprintf("%s[program:p]\ncommand = app %%(progname)s\nsockets = web\n", sockets);
        expect_error_at(t4, 8, "unknown expansion '%(progname)s'; known here: %(here)s, %(program_name)s",
                        "%(fd:NAME) and %% for a literal %");
        expect_error_at("[program:p]\ncommand = app %(fd:)\n", 2, "no [socket:] is defined", NULL);
        expect_error_at("[program:p]\ncommand = app %(fd:web\n", 2, "unterminated %( at column 5", "%% for a literal %");
        expect_error_at("[program:p]\ncommand = app \"%(fd:web\"\n", 2, "unterminated %( at column 6", NULL);
        expect_error_at("[program:p]\ncommand = app %(fd:a b)\n", 2, "unterminated %(", NULL);
        /* the error names the second program's own line */
        _cleanup_free_ char *t5 =
                xasprintf("%s[program:ok]\ncommand = a %%(fd:web)\nsockets = web\n[program:bad]\ncommand = b %%(fd:admin)\n"
                          "sockets = web\n",
                          sockets);
        expect_error_at(t5, 11, "[program:bad] command: %(fd:admin)", NULL);
}

/* ---- cmdline.c's expansion on its own ---- */

static int expand_upper(void *userdata, const char *key, size_t keylen, char *buf, size_t len, SvDiag *d) {
        int *calls = userdata;
        (*calls)++;
        if (keylen == 3 && memcmp(key, "bad", 3) == 0)
                return diag_set(d, 0, "bad key");
        assert_true(len >= keylen + 4);
        for (size_t i = 0; i < keylen; i++)
                buf[i] = (char) (key[i] >= 'a' && key[i] <= 'z' ? key[i] - 32 : key[i]);
        buf[keylen] = '\0';
        return 0;
}

static void test_cmdline_expand(void **state) {
        char **argv = NULL;
        SvDiag d = {};
        int calls = 0;

        assert_int_equal(sv_cmdline_split_expand("a %(xy)z \"%(q) %%\" '%(n)' \\%(n)", expand_upper, &calls, &argv, &d), 0);
        assert_int_equal(calls, 2);
        assert_int_equal(sv_strv_length(argv), 5);
        assert_string_equal(argv[1], "XYz");
        assert_string_equal(argv[2], "Q %");
        assert_string_equal(argv[3], "%(n)");
        assert_string_equal(argv[4], "%(n)");
        argv = sv_strv_free(argv);

        /* a reference alone is a word, even when its value is empty */
        assert_int_equal(sv_cmdline_split_expand("a %(e)", NULL, NULL, &argv, &d), 0);
        assert_string_equal(argv[1], "%(e)"); /* without expand: every % is itself */
        argv = sv_strv_free(argv);

        char **sentinel = (char **) (uintptr_t) 0x5a5a;
        argv = sentinel;
        assert_int_equal(sv_cmdline_split_expand("a %(bad) b", expand_upper, &calls, &argv, &d), -EINVAL);
        assert_string_equal(d.msg, "bad key");
        assert_ptr_equal(argv, sentinel);
        /* a key longer than SV_CMDLINE_REF_MAX */
        char longref[SV_CMDLINE_REF_MAX + 16];
        memset(longref, 'k', sizeof(longref));
        memcpy(longref, "%(", 2);
        longref[sizeof(longref) - 2] = ')';
        longref[sizeof(longref) - 1] = '\0';
        assert_int_equal(sv_cmdline_split_expand(longref, expand_upper, &calls, &argv, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "too long"));
        /* the plain split keeps its behaviour */
        assert_int_equal(sv_cmdline_split("x %(fd:web) %%", &argv, &d), 0);
        assert_string_equal(argv[1], "%(fd:web)");
        assert_string_equal(argv[2], "%%");
        argv = sv_strv_free(argv);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fd_env_default),   cmocka_unit_test(test_fd_env_values),
                cmocka_unit_test(test_fd_env_errors),    cmocka_unit_test(test_fd_env_compares),
                cmocka_unit_test(test_fd_ref_numbers),   cmocka_unit_test(test_percent_literal),
                cmocka_unit_test(test_fd_ref_errors),    cmocka_unit_test(test_cmdline_expand),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
