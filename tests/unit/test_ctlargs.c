/* Unit tests for sockvisorctl's command line: options anywhere, "--", per-command options,
 * errors with the nearest word, and why's address forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sockvisor/ctlargs.h"

#define MAXW 16

/* Splits a space-separated line into argv (argv[0] = "sockvisorctl") and parses it. */
static int parse(const char *line, SvCtlArgs *a, SvDiag *d) {
        static char buf[512];
        static char *argv[MAXW];
        int argc = 0;

        argv[argc++] = "sockvisorctl";
        strcpy(buf, line);
        for (char *w = strtok(buf, " "); w && argc < MAXW; w = strtok(NULL, " "))
                argv[argc++] = w;
        memset(d, 0, sizeof(*d));
        return sv_ctlargs_parse(argc, argv, a, d);
}

static void ok(const char *line, SvCtlArgs *a) {
        SvDiag d;
        int r = parse(line, a, &d);
        if (r != 0)
                fail_msg("'%s': %s", line, d.msg);
}

/* The parse fails and the message holds every one of the pieces. */
static void bad(const char *line, const char *piece1, const char *piece2) {
        SvCtlArgs a;
        SvDiag d;

        assert_int_equal(parse(line, &a, &d), -EINVAL);
        if (!strstr(d.msg, piece1) || (piece2 && !strstr(d.msg, piece2)))
                fail_msg("'%s': '%s' lacks '%s' or '%s'", line, d.msg, piece1, piece2 ? piece2 : "");
}

static void test_options_anywhere(void **state) {
        SvCtlArgs a;

        ok("status -s /x.sock", &a);
        assert_int_equal(a.verb, SV_VERB_STATUS);
        assert_string_equal(a.socket, "/x.sock");
        assert_int_equal(a.n_operands, 0);
        ok("-s /x.sock status", &a);
        assert_string_equal(a.socket, "/x.sock");
        ok("restart --json app", &a);
        assert_true(a.json);
        assert_int_equal(a.n_operands, 1);
        assert_string_equal(a.operands[0], "app");
        ok("--json restart app --socket=/y", &a);
        assert_true(a.json);
        assert_string_equal(a.socket, "/y");
        assert_string_equal(a.operands[0], "app");
        ok("status app -s/z pool:1", &a); /* a short option's value in the same word */
        assert_string_equal(a.socket, "/z");
        assert_int_equal(a.n_operands, 2);
        assert_string_equal(a.operands[1], "pool:1");
}

static void test_dashdash_ends_options(void **state) {
        SvCtlArgs a;

        ok("status -- --json", &a); /* a program named --json, however odd */
        assert_false(a.json);
        assert_int_equal(a.n_operands, 1);
        assert_string_equal(a.operands[0], "--json");
        ok("-- status app", &a);
        assert_int_equal(a.verb, SV_VERB_STATUS);
        assert_string_equal(a.operands[0], "app");
        /* exec keeps everything after its own "--", global options included. */
        ok("exec --socket web -s /c -- /bin/server -s x --json", &a);
        assert_int_equal(a.verb, SV_VERB_EXEC);
        assert_string_equal(a.socket, "/c");
        assert_false(a.json);
        assert_int_equal(a.n_rest, 4);
        assert_string_equal(a.rest[0], "/bin/server");
        assert_string_equal(a.rest[3], "--json");
        assert_string_equal(sv_ctlargs_value(&a, "socket"), "web");
        ok("exec --socket=a --socket b -- cmd", &a);
        assert_int_equal(a.n_opts, 2);
        assert_string_equal(a.opts[0].value, "a");
        assert_string_equal(a.opts[1].value, "b");
        ok("exec --socket a", &a); /* no "--": exec.c says what is missing */
        assert_null(a.rest);
}

static void test_command_options(void **state) {
        SvCtlArgs a;

        ok("tail -f -n 5 app", &a);
        assert_string_equal(sv_ctlargs_value(&a, "follow"), "");
        assert_string_equal(sv_ctlargs_value(&a, "lines"), "5");
        ok("tail app -fn5", &a); /* bundled, value in the word */
        assert_string_equal(sv_ctlargs_value(&a, "lines"), "5");
        assert_non_null(sv_ctlargs_value(&a, "follow"));
        ok("tail --lines=7 --lines 8 app stderr", &a); /* the last one counts */
        assert_string_equal(sv_ctlargs_value(&a, "lines"), "8");
        assert_int_equal(a.n_operands, 2);
        ok("tail -100 app", &a); /* "-N" is an operand: no option is a digit */
        assert_string_equal(a.operands[0], "-100");
        assert_null(sv_ctlargs_value(&a, "follow"));
        ok("upgrade --exec ./sockvisord", &a);
        assert_string_equal(sv_ctlargs_value(&a, "exec"), "./sockvisord");
        assert_int_equal(a.n_operands, 0);
        ok("why --json :8080", &a);
        assert_true(a.json);
        assert_string_equal(a.operands[0], ":8080");
        ok("signal HUP app", &a);
        assert_int_equal(a.n_operands, 2);
}

static void test_help_and_version(void **state) {
        SvCtlArgs a;

        ok("--help", &a);
        assert_true(a.help);
        assert_null(a.info);
        ok("restart --help", &a); /* no NAME needed to ask for help */
        assert_true(a.help);
        assert_int_equal(a.verb, SV_VERB_RESTART);
        ok("-h tail", &a);
        assert_int_equal(a.verb, SV_VERB_TAIL);
        ok("help", &a);
        assert_int_equal(a.verb, SV_VERB_HELP);
        ok("help status", &a);
        assert_string_equal(a.operands[0], "status");
        ok("-V", &a);
        assert_true(a.version);
}

static void test_complete(void **state) {
        SvCtlArgs a;

        ok("-s /c __complete options tail", &a);
        assert_true(a.complete);
        assert_string_equal(a.socket, "/c");
        assert_int_equal(a.n_operands, 2);
        assert_string_equal(a.operands[1], "tail");
        ok("__complete options -x", &a); /* its words are not options */
        assert_string_equal(a.operands[1], "-x");
}

static void test_errors(void **state) {
        SvCtlArgs a;
        SvDiag d;

        bad("stauts", "unknown command 'stauts'; did you mean 'status'?", "commands: status, start");
        bad("frobnicate", "unknown command 'frobnicate'; commands:", NULL);
        bad("", "no command given; commands: status", NULL);
        bad("-s", "option '-s' needs a value (SOCKET)", NULL);
        bad("status --socket", "option '--socket' needs a value", NULL);
        bad("status --jsno", "unknown option '--jsno' for 'status'; did you mean '--json'?", "status takes --json");
        bad("tail --folow app", "did you mean '--follow'?", "tail takes -f, --follow, -n, --lines N");
        bad("tail -x app", "unknown option '-x' for 'tail'", "-s, --socket SOCKET");
        bad("tail -fx app", "unknown option '-x' for 'tail'", NULL);
        bad("tail --json app", "'tail' has no --json output", NULL);
        bad("--json tail app", "'tail' has no --json output", NULL);
        bad("status --json=yes", "option '--json' takes no value", NULL);
        bad("--bogus status", "unknown option '--bogus' for 'status'", NULL);
        bad("--bogus", "unknown option '--bogus' (before a command:", "-V, --version");
        /* Before the command only the global options stand (their values are known). */
        bad("-f tail app", "option '-f' is tail's: put it after the command (sockvisorctl tail -f ...)", NULL);
        bad("--follow tail app", "option '--follow' is tail's", NULL);
        bad("restart", "'restart' expects NAME...|all, e.g. 'sockvisorctl restart app'", NULL);
        bad("reload now", "'reload' takes no arguments, got 'now'", NULL);
        bad("sockets web", "'sockets' takes no arguments", NULL);
        bad("why", "'why' expects ADDRESS|PORT", NULL);
        bad("why 1 2", "'why' expects", NULL);
        bad("help a b", "'help' expects [COMMAND]", NULL);
        /* On failure the command found is still there, for "Try 'sockvisorctl tail --help'". */
        assert_int_equal(parse("tail --bogus", &a, &d), -EINVAL);
        assert_ptr_equal(a.info, sv_verb_info(SV_VERB_TAIL));
        assert_int_equal(parse("bogus", &a, &d), -EINVAL);
        assert_null(a.info);
}

static void test_empty_socket(void **state) {
        char *argv[] = { "sockvisorctl", "-s", "", "status", NULL };
        SvCtlArgs a;
        SvDiag d = { 0 };

        assert_int_equal(sv_ctlargs_parse(4, argv, &a, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "given with -s is empty"));
}

static void test_too_many(void **state) {
        char *argv[SV_CTLARGS_MAX + 3];
        SvCtlArgs a;
        SvDiag d = { 0 };

        argv[0] = "sockvisorctl";
        argv[1] = "status";
        for (int k = 0; k < SV_CTLARGS_MAX; k++)
                argv[2 + k] = "app";
        assert_int_equal(sv_ctlargs_parse(SV_CTLARGS_MAX + 2, argv, &a, &d), 0);
        argv[SV_CTLARGS_MAX + 2] = "one-more";
        assert_int_equal(sv_ctlargs_parse(SV_CTLARGS_MAX + 3, argv, &a, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "too many arguments"));
}

static void test_find_verb(void **state) {
        SvVerb v = _SV_VERB_MAX;
        SvDiag d = { 0 };

        assert_int_equal(sv_ctlargs_find_verb("logs", &v, &d), 0);
        assert_int_equal(v, SV_VERB_LOGS);
        assert_int_equal(sv_ctlargs_find_verb("lgos", &v, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "did you mean 'logs'?"));
}

static void test_options_list(void **state) {
        char buf[128];

        sv_ctlargs_options_list(sv_verb_info(SV_VERB_TAIL)->options, buf, sizeof(buf));
        assert_string_equal(buf, "-f, --follow, -n, --lines N");
        sv_ctlargs_options_list(sv_verb_info(SV_VERB_HELP)->options, buf, sizeof(buf));
        assert_string_equal(buf, "");
        sv_ctlargs_options_list(sv_ctlargs_global_options(), buf, 12);
        assert_string_equal(buf, "-s, --socke"); /* cut to fit, terminated */
}

static void test_why_address(void **state) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "8080", "8080" },
                { ":8080", "8080" },
                { "127.0.0.1:8080", "tcp://127.0.0.1:8080" },
                { "[::1]:8080", "tcp://[::1]:8080" },
                { "[::]:80", "tcp://[::]:80" },
                { "tcp://127.0.0.1:8080", "tcp://127.0.0.1:8080" },
                { "udp://127.0.0.1:53", "udp://127.0.0.1:53" },
                { "unix:/run/x.sock", "unix:/run/x.sock" },
                { "unix:@name:1", "unix:@name:1" },
                { "::1:80", "::1:80" },           /* ambiguous: the doctor refuses it */
                { "host:http", "host:http" },     /* not a port number: left to be refused */
                { "127.0.0.1:", "127.0.0.1:" },
        };
        char buf[64];

        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                const char *got = sv_ctlargs_why_address(cases[k].in, buf, sizeof(buf));
                assert_non_null(got);
                assert_string_equal(got, cases[k].out);
        }
        assert_null(sv_ctlargs_why_address("127.0.0.1:8080", buf, 10)); /* does not fit */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_options_anywhere), cmocka_unit_test(test_dashdash_ends_options),
                cmocka_unit_test(test_command_options),  cmocka_unit_test(test_help_and_version),
                cmocka_unit_test(test_complete),         cmocka_unit_test(test_errors),
                cmocka_unit_test(test_empty_socket),     cmocka_unit_test(test_too_many),
                cmocka_unit_test(test_find_verb),        cmocka_unit_test(test_options_list),
                cmocka_unit_test(test_why_address),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
