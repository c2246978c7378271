/* Unit tests for expand.c: supervisord's %(NAME)s expansions and the table of keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/expand.h"
#include "sockvisor/macro.h"

static char *const envp[] = { "HOME=/home/op", "EMPTY=", "PCT=50%", "HOMEX=no", NULL };

static const SvExpandVars vars = {
        .here = "/etc/sv/conf.d",
        .program_name = "web",
        .process_num = 7,
        .host_node_name = "node1",
        .envp = envp,
};

static char *expand_ok(const char *section, const char *key, const char *s) {
        char *out = NULL;
        SvDiag d = {};
        const SvExpandKey *rule = sv_expand_key(section, key);
        assert_non_null(rule);
        int r = sv_expand(s, rule, &vars, &out, &d);
        if (r < 0)
                print_error("'%s' -> %d: %s\n", s, r, d.msg);
        assert_int_equal(r, 0);
        return out;
}

static void check(const char *section, const char *key, const char *s, const char *want) {
        char *out = expand_ok(section, key, s);
        if (strcmp(out, want) != 0)
                print_error("'%s' -> '%s', want '%s'\n", s, out, want);
        assert_string_equal(out, want);
        free(out);
}

static void check_error(const char *section, const char *key, const char *s, const char *needle, const char *needle2) {
        char *out = (char *) 0x1;
        SvDiag d = {};
        int r = sv_expand(s, sv_expand_key(section, key), &vars, &out, &d);
        if (r != -EINVAL || !strstr(d.msg, needle) || (needle2 && !strstr(d.msg, needle2)))
                print_error("'%s' -> %d: %s\n", s, r, d.msg);
        assert_int_equal(r, -EINVAL);
        assert_ptr_equal(out, (char *) 0x1); /* untouched on error */
        assert_non_null(strstr(d.msg, needle));
        if (needle2)
                assert_non_null(strstr(d.msg, needle2));
}

static void test_names(void **state) {
        check("program", "directory", "%(here)s/app", "/etc/sv/conf.d/app");
        check("program", "directory", "/srv/%(program_name)s", "/srv/web");
        check("program", "environment", "HOST=%(host_node_name)s,H=%(ENV_HOME)s", "HOST=node1,H=/home/op");
        check("program", "environment", "E=[%(ENV_EMPTY)s]", "E=[]"); /* set and empty is set */
        check("socket", "listen", "unix:%(here)s/s.sock", "unix:/etc/sv/conf.d/s.sock");
        check("sockvisord", "control", "%(ENV_HOME)s/c.sock", "/home/op/c.sock");
        check("include", "files", "%(here)s/*.ini", "/etc/sv/conf.d/*.ini");
        /* %% is one %, a % of its own stays, text around is kept */
        check("program", "directory", "/a%%b", "/a%b");
        check("program", "directory", "/a%b 100%", "/a%b 100%");
        check("program", "directory", "", "");
        check("program", "directory", "no references", "no references");
}

static void test_process_num(void **state) {
        check("program", "command", "/bin/w --n %(process_num)d", "/bin/w --n 7");
        check("program", "command", "/bin/w %(process_num)02d", "/bin/w 07");
        check("program", "command", "/bin/w %(process_num)03d", "/bin/w 007");
        check("program", "command", "/bin/w [%(process_num)3d]", "/bin/w [  7]");
        check("program", "command", "/bin/w [%(process_num)-3d]", "/bin/w [7  ]");
        check("program", "command", "/bin/w %(process_num)s", "/bin/w 7");
        check("program", "command", "/bin/w [%(program_name)5s]", "/bin/w [  web]");
        SvExpandVars v = vars;
        v.process_num = 123;
        char *out = NULL;
        assert_int_equal(sv_expand("%(process_num)02d", sv_expand_key("program", "command"), &v, &out, NULL), 0);
        assert_string_equal(out, "123"); /* a width is a minimum */
        free(out);
        v.process_num = -1; /* not known yet: checked as 0 */
        assert_int_equal(sv_expand("%(process_num)02d", sv_expand_key("program", "command"), &v, &out, NULL), 0);
        assert_string_equal(out, "00");
        free(out);
        assert_true(sv_expand_uses_process_num("a %(process_num)02d"));
        assert_false(sv_expand_uses_process_num("a %(program_name)s"));
}

static void test_kept_for_later(void **state) {
        /* command= keeps %(fd:NAME) and %% for cmdline.c, and doubles the % of a value put in */
        check("program", "command", "/bin/w --fd %(fd:web) %% %(ENV_PCT)s", "/bin/w --fd %(fd:web) %% 50%%");
        check("program", "command", "/bin/w %(fd:web", "/bin/w %(fd:web"); /* cmdline.c says where */
        check("program", "healthcheck", "http://127.0.0.1:%(port)s/%(program_name)s", "http://127.0.0.1:%(port)s/web");
        check("program", "healthcheck", "http://127.0.0.1:%(port:admin)s/", "http://127.0.0.1:%(port:admin)s/");
        /* elsewhere %(fd:…) is not known */
        check_error("program", "directory", "/%(fd:web)", "unknown expansion '%(fd:web)", NULL);
}

static void test_errors(void **state) {
        check_error("program", "directory", "%(bogus)s", "unknown expansion '%(bogus)s'; known here: %(here)s, "
                                                         "%(program_name)s, %(host_node_name)s, %(ENV_NAME)s",
                    "%% for a literal %");
        check_error("program", "command", "%(hostname)s", "unknown expansion", "%(process_num)d");
        check_error("program", "command", "%(hostname)s", "%(fd:NAME)", NULL);
        check_error("socket", "listen", "unix:/%(program_name)s", "'%(program_name)s' is not known here",
                    "known here: %(here)s, %(host_node_name)s, %(ENV_NAME)s");
        check_error("program", "directory", "/%(process_num)d", "'%(process_num)d' is not known here",
                    "only command= differs per instance");
        check_error("program", "directory", "%(ENV_NOPE)s", "NOPE is not set in sockvisord's environment", NULL);
        check_error("program", "directory", "%(ENV_HOM)s", "HOM is not set", NULL); /* a prefix is not the name */
        check_error("program", "directory", "%(ENV_)s", "unknown expansion '%(ENV_)s'", NULL);
        check_error("program", "directory", "%(here)", "'%(here)': a bad format; write %(here)s", NULL);
        check_error("program", "directory", "%(here)x", "'%(here)x': a bad format", NULL);
        check_error("program", "directory", "%(here)123s", "a bad format", NULL);
        check_error("program", "directory", "%(here)d", "here is text, not a number; write %(here)s", NULL);
        check_error("program", "directory", "/a/%(here", "unterminated %(", "%% for a literal %");
        /* no name is longer than 64: an unterminated one is not searched to the end of a long line */
        char long_ref[200];
        memset(long_ref, 'a', sizeof(long_ref) - 1);
        long_ref[0] = '%', long_ref[1] = '(', long_ref[sizeof(long_ref) - 2] = ')', long_ref[sizeof(long_ref) - 1] = '\0';
        check_error("program", "directory", long_ref, "unterminated %( (or a name above 64 characters)", NULL);
        /* a value that grows past the cap */
        char *big = malloc(70000);
        assert_non_null(big);
        for (size_t k = 0; k + 16 < 70000; k += 16)
                memcpy(big + k, "%(here)s--------", 16);
        big[69990] = '\0';
        check_error("program", "directory", big, "longer than 65536 bytes once expanded", NULL);
        free(big);
}

static void test_table(void **state) {
        assert_null(sv_expand_key("program", "user"));
        assert_null(sv_expand_key("socket", "command"));
        assert_non_null(sv_expand_key("program", "stdout_logfile"));
        assert_non_null(sv_expand_key("program", "stderr_logfile"));
        char buf[512];
        sv_expand_keys_join(buf, sizeof(buf));
        assert_non_null(strstr(buf, "[program] command, [program] directory"));
        assert_non_null(strstr(buf, "[socket] listen"));
        char small[8];
        sv_expand_keys_join(small, sizeof(small)); /* cut, but terminated */
        assert_true(strlen(small) < sizeof(small));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),      cmocka_unit_test(test_process_num), cmocka_unit_test(test_kept_for_later),
                cmocka_unit_test(test_errors),     cmocka_unit_test(test_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
