/* Unit tests for the control verb table that sockvisorctl checks arguments against and
 * sockvisord dispatches on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sockvisor/ctlproto.h"
#include "sockvisor/ctlverbs.h"

static const struct {
        SvVerb verb;
        const char *name;
        size_t min_args, max_args;
        bool quick, local;
} expected[] = {
        { SV_VERB_STATUS, "status", 0, SIZE_MAX, true, false },
        { SV_VERB_START, "start", 1, SIZE_MAX, false, false },
        { SV_VERB_STOP, "stop", 1, SIZE_MAX, false, false },
        { SV_VERB_RESTART, "restart", 1, SIZE_MAX, false, false },
        { SV_VERB_PID, "pid", 0, SIZE_MAX, true, false },
        { SV_VERB_SIGNAL, "signal", 2, SIZE_MAX, true, false },
        { SV_VERB_SOCKETS, "sockets", 0, 1, true, false },
        { SV_VERB_RELOAD, "reload", 0, 0, false, false },
        { SV_VERB_SHUTDOWN, "shutdown", 0, 0, false, false },
        { SV_VERB_UPGRADE, "upgrade", 0, 2, true, false },
        { SV_VERB_VERSION, "version", 0, 0, true, false },
        { SV_VERB_WHY, "why", 1, 1, true, true },
        { SV_VERB_FETCH, "fetch", 1, 16, true, false },
        { SV_VERB_EXEC, "exec", 0, 0, true, true },
        { SV_VERB_EVENTS, "events", 0, 1, false, false },
        { SV_VERB_LOGFILES, "logfiles", 0, SIZE_MAX, true, false },
        { SV_VERB_TAIL, "tail", 1, 2, true, true },
        { SV_VERB_LOGS, "logs", 0, SIZE_MAX, true, true },
        { SV_VERB_HELP, "help", 0, 1, true, true },
};

static void test_every_verb_found_by_name(void **state) {
        assert_int_equal(sizeof(expected) / sizeof(expected[0]), _SV_VERB_MAX);
        for (size_t k = 0; k < _SV_VERB_MAX; k++) {
                SvVerb got = _SV_VERB_MAX;
                const SvVerbInfo *i = sv_verb_find(expected[k].name, &got);

                assert_non_null(i);
                assert_int_equal(got, expected[k].verb);
                assert_ptr_equal(i, sv_verb_info(expected[k].verb));
                assert_string_equal(i->name, expected[k].name);
                assert_ptr_equal(sv_verb_find(expected[k].name, NULL), i); /* ret_verb is optional */
        }
}

static void test_every_entry_is_complete(void **state) {
        for (SvVerb v = 0; v < _SV_VERB_MAX; v++) {
                const SvVerbInfo *i = sv_verb_info(v);
                char req[CTL_LINE_MAX];
                SvDiag d = { 0 };

                assert_non_null(i);
                assert_non_null(i->name);
                assert_non_null(i->args_help);
                assert_non_null(i->help);
                assert_true(strlen(i->help) > 0);
                /* The example shown on a usage error starts with the verb itself. */
                assert_non_null(i->example);
                assert_int_equal(strncmp(i->example, i->name, strlen(i->name)), 0);
                assert_true(i->min_args <= i->max_args);
                assert_true(i->min_operands <= i->max_operands);
                /* What --help prints: a description, and every option with its text. */
                assert_non_null(i->description);
                assert_true(strlen(i->description) > strlen(i->help) / 2);
                assert_non_null(i->options);
                for (const SvVerbOption *o = i->options; o->name; o++) {
                        assert_non_null(o->help);
                        assert_true(o->short_name == 0 || (o->short_name >= 'a' && o->short_name <= 'z'));
                }
                /* Only exec keeps the words after "--". */
                assert_int_equal(i->keeps_rest, v == SV_VERB_EXEC);
                /* Every name is a verb the protocol can carry. */
                assert_true(ctl_request_format(req, sizeof(req), i->name, NULL, 0, &d) > 0);
        }
        assert_null(sv_verb_info(_SV_VERB_MAX));
        assert_null(sv_verb_info((SvVerb) 1000));
}

static void test_unknown_is_null(void **state) {
        static const char *const bad[] = { "", "bogus", "STATUS", "Status", "stat", "statusx", "status ", " stop",
                                           "why2", "-h" };

        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
                SvVerb got = (SvVerb) 77;

                assert_null(sv_verb_find(bad[k], &got));
                assert_int_equal(got, 77); /* untouched on failure */
        }
}

static void test_list_text(void **state) {
        char buf[256];

        sv_verbs_list(buf, sizeof(buf), false);
        assert_string_equal(buf, "status, start, stop, restart, pid, signal, sockets, reload, shutdown, upgrade, version, why, fetch, exec, events, logfiles, tail, logs, help");
        sv_verbs_list(buf, sizeof(buf), true); /* the daemon's "unknown command" leaves out why */
        assert_string_equal(buf, "status, start, stop, restart, pid, signal, sockets, reload, shutdown, upgrade, version, fetch, events, logfiles");
}

static void test_list_cut_to_fit(void **state) {
        char buf[16];

        memset(buf, 'x', sizeof(buf));
        sv_verbs_list(buf, 10, false);
        assert_string_equal(buf, "status, s"); /* cut, always terminated */
        assert_int_equal(buf[10], 'x');        /* nothing written past len */

        memset(buf, 'x', sizeof(buf));
        sv_verbs_list(buf, 0, false); /* no room: nothing written */
        assert_int_equal(buf[0], 'x');

        sv_verbs_list(buf, 1, false);
        assert_string_equal(buf, "");
}

/* A daemon verb whose options travel on the wire (--json read by the daemon, --exec PATH)
 * accepts them in its wire count: sockvisorctl's operands never exceed what the daemon takes. */
static void test_operands_fit_the_wire(void **state) {
        for (SvVerb v = 0; v < _SV_VERB_MAX; v++) {
                const SvVerbInfo *i = sv_verb_info(v);
                if (i->local)
                        continue;
                assert_true(i->min_operands >= i->min_args || i->min_args == 0);
                assert_true(i->max_operands <= i->max_args);
        }
        assert_int_equal(sv_verb_info(SV_VERB_SOCKETS)->max_operands, 0); /* "--json" is its one wire word */
        assert_int_equal(sv_verb_info(SV_VERB_SOCKETS)->max_args, 1);
        assert_int_equal(sv_verb_info(SV_VERB_UPGRADE)->max_args, 2);     /* "--exec PATH" */
}

static void test_arguments_and_timeouts(void **state) {
        for (size_t k = 0; k < _SV_VERB_MAX; k++) {
                const SvVerbInfo *i = sv_verb_info(expected[k].verb);

                assert_int_equal(i->min_args, expected[k].min_args);
                assert_int_equal(i->max_args, expected[k].max_args);
                /* Waiting verbs have no client timeout: the daemon bounds them. */
                assert_int_equal(i->quick, expected[k].quick);
                assert_int_equal(i->local, expected[k].local);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_verb_found_by_name),
                cmocka_unit_test(test_every_entry_is_complete),
                cmocka_unit_test(test_unknown_is_null),
                cmocka_unit_test(test_list_text),
                cmocka_unit_test(test_list_cut_to_fit),
                cmocka_unit_test(test_arguments_and_timeouts),
                cmocka_unit_test(test_operands_fit_the_wire),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
