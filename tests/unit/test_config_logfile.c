/* Unit tests for stdout_logfile=, stderr_logfile=, their _maxbytes= and _backups=, and
 * redirect_stderr=: what they parse to, and every error they give. */
#include "config_test.h"

#include "sockvisor/logfile.h"
#include "sockvisor/macro.h"

static void config_freep_(SvConfig **c) {
        *c = sv_config_free(*c);
}
#define _cleanup_config_ _cleanup_(config_freep_)

/* [program:app] on line 1, command= on line 2, keys from line 3 on. */
static SvConfig *program(const char *keys) {
        _cleanup_free_ char *t = xasprintf("[program:app]\ncommand = /bin/app\n%s", keys);
        return parse_ok(t);
}

static void expect_program_error(const char *keys, unsigned line, const char *needle, const char *needle2) {
        _cleanup_free_ char *t = xasprintf("[program:app]\ncommand = /bin/app\n%s", keys);
        expect_error_at(t, line, needle, needle2);
}

static void test_defaults(void **state) {
        _cleanup_config_ SvConfig *c = program("");
        for (int k = 0; k < _SV_STREAM_MAX; k++) {
                const SvLogFileConf *l = &c->programs[0].logfile[k];
                assert_null(l->path);
                assert_false(l->none);
                assert_int_equal(l->own_fd, 0);
                assert_true(l->maxbytes == 50 * 1024 * 1024);
                assert_int_equal(l->backups, 10);
        }
        assert_false(c->programs[0].redirect_stderr);
        assert_string_equal(sv_stream_to_string(SV_STREAM_STDOUT), "stdout");
        assert_string_equal(sv_stream_to_string(SV_STREAM_STDERR), "stderr");
}

static void test_values(void **state) {
        _cleanup_config_ SvConfig *c = program("stdout_logfile = /var/log/%(program_name)s.out\n"
                                               "stdout_logfile_maxbytes = 1KB\nstdout_logfile_backups = 0\n"
                                               "stderr_logfile = /var/log/100%%.err\nstderr_logfile_maxbytes = 0\n"
                                               "stderr_logfile_backups = 1000\n");
        const SvLogFileConf *o = &c->programs[0].logfile[SV_STREAM_STDOUT], *e = &c->programs[0].logfile[SV_STREAM_STDERR];
        assert_string_equal(o->path, "/var/log/app.out");
        assert_true(o->maxbytes == 1024);
        assert_int_equal(o->backups, 0);
        assert_int_equal(o->line, 3);
        assert_string_equal(e->path, "/var/log/100%.err");
        assert_true(e->maxbytes == 0);
        assert_int_equal(e->backups, 1000);

        _cleanup_config_ SvConfig *n = program("stdout_logfile = NONE\nstderr_logfile = none\n");
        assert_true(n->programs[0].logfile[0].none);
        assert_true(n->programs[0].logfile[1].none);
        assert_null(n->programs[0].logfile[0].path);

        /* the docker habit: sockvisord's own streams, not opened (they are symlinks) */
        _cleanup_config_ SvConfig *d = program("stdout_logfile = /dev/stdout\nstdout_logfile_maxbytes = 0\n"
                                               "stderr_logfile = /dev/stderr\n");
        assert_null(d->programs[0].logfile[0].path);
        assert_int_equal(d->programs[0].logfile[0].own_fd, 1);
        assert_int_equal(d->programs[0].logfile[1].own_fd, 2);

        _cleanup_config_ SvConfig *r = program("stdout_logfile = /var/log/app.log\nredirect_stderr = true\n");
        assert_true(r->programs[0].redirect_stderr);
        assert_null(r->programs[0].logfile[1].path);
}

static void test_errors(void **state) {
        expect_program_error("stdout_logfile = app.log\n", 3, "[program:app] stdout_logfile: 'app.log' is not an absolute path",
                             "or NONE");
        expect_program_error("stderr_logfile = AUTO\n", 3, "stderr_logfile: AUTO (supervisord's files in its childlogdir) is "
                                                          "not supported",
                             "/var/log/app.stderr.log");
        expect_program_error("stdout_logfile = /var/log/\n", 3, "'/var/log/' names a directory", "/var/log/app.log");
        expect_program_error("stdout_logfile = /var/log/%(process_num)02d.log\n", 3,
                             "'%(process_num)d' is not known here (the instances of a program share this key", NULL);
        expect_program_error("stdout_logfile = /var/log/%(hostname)s.log\n", 3,
                             "unknown expansion '%(hostname)s'", "%(program_name)s");
        expect_program_error("stdout_logfile_maxbytes = 50XB\n", 3,
                             "stdout_logfile_maxbytes: '50XB' is not a size; e.g. 50MB (the default)", "0: never rotate");
        expect_program_error("stderr_logfile_maxbytes = -1\n", 3, "stderr_logfile_maxbytes: '-1' is not a size", NULL);
        expect_program_error("stdout_logfile_backups = 1001\n", 3, "stdout_logfile_backups: '1001' is not a number from 0 "
                                                                   "to 1000",
                             "truncated instead");
        expect_program_error("stderr_logfile_backups = many\n", 3, "stderr_logfile_backups: 'many' is not a number", NULL);
        expect_program_error("redirect_stderr = maybe\n", 3, "redirect_stderr: 'maybe' is not a boolean", NULL);
        expect_program_error("stdout_logfile = /a\nstdout_logfile = /b\n", 4, "stdout_logfile: set twice", NULL);
        /* output = journal and a file: which lines, and what to choose */
        expect_program_error("output = journal\nstdout_logfile = /var/log/app.log\n", 4,
                             "stdout_logfile: output = journal (line 3) and stdout_logfile= (line 4) both say where its "
                             "output goes",
                             "keep output = journal for the journal, or drop it");
        expect_program_error("stderr_logfile = NONE\noutput = journal\n", 3, "output = journal (line 4) and stderr_logfile= "
                                                                           "(line 3)",
                             NULL);
        expect_program_error("output = files\n", 3, "output: 'files' is not an output", "set stdout_logfile=");
        expect_program_error("stdout_logfile = /l/app\nredirect_stderr = yes\nstderr_logfile = /l/app.err\n", 5,
                             "redirect_stderr = true (line 4) sends stderr into stdout's log, so stderr_logfile= (line 5) "
                             "would never be written",
                             NULL);
        /* one file, two streams */
        expect_program_error("stdout_logfile = /l/app\nstderr_logfile = /l/app\n", 4,
                             "[program:app] stderr_logfile: /l/app is also stdout_logfile of [program:app] (line 3)",
                             "redirect_stderr = true");
        expect_error("[program:a]\ncommand = /bin/a\nstdout_logfile = /l/%(program_name)s\n"
                     "[program:b]\ncommand = /bin/b\nstderr_logfile = /l/a\n",
                     6, "[program:b] stderr_logfile: /l/a is also stdout_logfile of [program:a] (line 3)");
}

static void test_equal(void **state) {
        _cleanup_config_ SvConfig *a = program("stdout_logfile = /l/a\n");
        _cleanup_config_ SvConfig *b = program("stdout_logfile = /l/a\n");
        _cleanup_config_ SvConfig *c = program("stdout_logfile = /l/b\n");
        _cleanup_config_ SvConfig *d = program("stdout_logfile = /l/a\nstdout_logfile_backups = 3\n");
        _cleanup_config_ SvConfig *e = program("stdout_logfile = /l/a\nredirect_stderr = true\n");
        _cleanup_config_ SvConfig *f = program("stdout_logfile = /l/a\nstdout_logfile_maxbytes = 1MB\n");
        assert_true(sv_program_conf_equal(a, &a->programs[0], b, &b->programs[0]));
        assert_false(sv_program_conf_equal(a, &a->programs[0], c, &c->programs[0]));
        assert_false(sv_program_conf_equal(a, &a->programs[0], d, &d->programs[0]));
        assert_false(sv_program_conf_equal(a, &a->programs[0], e, &e->programs[0]));
        assert_false(sv_program_conf_equal(a, &a->programs[0], f, &f->programs[0]));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_equal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
