/* Unit tests for reloadplan.c, table-driven: the configuration running now (ini text), the next
 * one (ini text), what runs (per program: running or not, and optionally an older configuration
 * it still runs after a failed rollout) -> the plan, rendered as one line and compared whole. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sockvisor/reloadplan.h"

/* Building blocks of the ini texts. */
#define WEB(listen) "[socket:web]\nlisten = " listen "\n"
#define API "[socket:api]\nlisten = unix:/run/api.sock\n"
#define APP(extra) "[program:app]\ncommand = /bin/app\nsockets = web\n" extra
#define JOB(extra) "[program:job]\ncommand = /bin/job\n" extra

typedef struct Case {
        const char *what;
        const char *now;     /* NULL: start-up (no configuration yet) */
        const char *next;
        const char *running; /* per program of now, in order: 'r' running, '.' not, 'm' running and
                              * mixed (a rollout that failed part way left some indexes on another
                              * configuration) */
        const char *older;   /* optional: a configuration ... */
        const char *on_older; /* ... that this program still runs */
        const char *want;
} Case;

/* "sock:keep,bind retire:0,1 prog:roll,unchanged add:-,add-start n:+1 -0 ~1 =1 ctl:0" */
static void render(const SvReloadPlan *p, char *buf, size_t len) {
        static const char *const sock[] = { [SV_SOCK_KEEP] = "keep", [SV_SOCK_ADJUST] = "adjust",
                                            [SV_SOCK_BIND] = "bind" };
        size_t o = 0;
#define PUT(...) o += (size_t) snprintf(buf + o, o < len ? len - o : 0, __VA_ARGS__)
        PUT("sock:");
        for (size_t k = 0; k < p->n_sockets; k++)
                PUT("%s%s", k ? "," : "", sock[p->sockets[k]]);
        PUT(" retire:");
        for (size_t k = 0; k < p->n_old_sockets; k++)
                PUT("%s%d", k ? "," : "", p->retire[k]);
        PUT(" prog:");
        for (size_t k = 0; k < p->n_programs; k++)
                PUT("%s%s", k ? "," : "", sv_prog_plan_to_string(p->programs[k]));
        PUT(" add:");
        for (size_t k = 0; k < p->n_added; k++)
                PUT("%s%s", k ? "," : "", p->added[k] == SV_PROG_UNCHANGED ? "-" : sv_prog_plan_to_string(p->added[k]));
        PUT(" n:+%u -%u ~%u =%u ctl:%d", p->n_add, p->n_remove, p->n_change, p->n_unchanged, p->control_changed);
#undef PUT
}

static SvConfig *parse(const char *text, const char *what) {
        SvConfig *c = NULL;
        SvDiag d = {};
        int r = sv_config_parse_string(text, "t.ini", &c, &d);
        if (r < 0)
                print_error("%s: %s\n", what, d.msg);
        assert_int_equal(r, 0);
        return c;
}

static const Case cases[] = {
        { "identical", WEB("tcp://127.0.0.1:8080") APP("") JOB(""), WEB("tcp://127.0.0.1:8080") APP("") JOB(""), "rr",
          NULL, NULL, "sock:keep retire:0 prog:unchanged,unchanged add:-,- n:+0 -0 ~0 =2 ctl:0" },
        { "a listen change: bind, retire, and roll the program using it", WEB("tcp://127.0.0.1:8080") APP("") JOB(""),
          WEB("tcp://127.0.0.1:8081") APP("") JOB(""), "rr", NULL, NULL,
          "sock:bind retire:1 prog:roll,unchanged add:-,- n:+0 -0 ~1 =1 ctl:0" },
        { "a listen change of a program not running: set", WEB("tcp://127.0.0.1:8080") APP(""),
          WEB("tcp://127.0.0.1:8081") APP(""), ".", NULL, NULL,
          "sock:bind retire:1 prog:set add:- n:+0 -0 ~1 =0 ctl:0" },
        { "a backlog change: adjust in place, no roll", WEB("tcp://127.0.0.1:8080") APP(""),
          WEB("tcp://127.0.0.1:8080") "backlog = 16\n" APP(""), "r", NULL, NULL,
          "sock:adjust retire:0 prog:unchanged add:- n:+0 -0 ~0 =1 ctl:0" },
        { "blocking and mode changes: adjust", "[socket:u]\nlisten = unix:/run/u.sock\n" JOB(""),
          "[socket:u]\nlisten = unix:/run/u.sock\nblocking = no\nmode = 0660\n" JOB(""), "r", NULL, NULL,
          "sock:adjust retire:0 prog:unchanged add:- n:+0 -0 ~0 =1 ctl:0" },
        { "changed, running, autostart=false: stop then set", JOB(""), JOB("autostart = false\n"), "r", NULL, NULL,
          "sock: retire: prog:stop-then-set add:- n:+0 -0 ~1 =0 ctl:0" },
        { "changed, running: roll", JOB(""), JOB("numprocs = 2\n"), "r", NULL, NULL,
          "sock: retire: prog:roll add:- n:+0 -0 ~1 =0 ctl:0" },
        { "changed, not running: set", JOB(""), JOB("stopwaitsecs = 3\n"), ".", NULL, NULL,
          "sock: retire: prog:set add:- n:+0 -0 ~1 =0 ctl:0" },
        { "changed, not running, autostart=false: set", JOB(""), JOB("autostart = false\n"), ".", NULL, NULL,
          "sock: retire: prog:set add:- n:+0 -0 ~1 =0 ctl:0" },
        { "removed program, its socket retired", WEB("tcp://127.0.0.1:8080") APP("") JOB(""), JOB(""), "rr", NULL,
          NULL, "sock: retire:1 prog:remove,unchanged add:- n:+0 -1 ~0 =1 ctl:0" },
        { "added: started, or not (autostart=false)", JOB(""),
          JOB("") WEB("tcp://127.0.0.1:8080") APP("") "[program:idle]\ncommand = /bin/idle\nautostart = false\n", "r",
          NULL, NULL, "sock:bind retire: prog:unchanged add:-,add-start,add n:+2 -0 ~0 =1 ctl:0" },
        { "a program switches to another held socket: roll, both kept", WEB("tcp://127.0.0.1:8080") API APP(""),
          WEB("tcp://127.0.0.1:8080") API "[program:app]\ncommand = /bin/app\nsockets = api\n", "r", NULL, NULL,
          "sock:keep,keep retire:0,0 prog:roll add:- n:+0 -0 ~1 =0 ctl:0" },
        { "a socket dropped from a program and the file", WEB("tcp://127.0.0.1:8080") API
          "[program:app]\ncommand = /bin/app\nsockets = web, api\n",
          WEB("tcp://127.0.0.1:8080") APP(""), "r", NULL, NULL,
          "sock:keep retire:0,1 prog:roll add:- n:+0 -0 ~1 =0 ctl:0" },
        { "control= changes", "[sockvisord]\ncontrol = /run/a.sock\n" JOB(""),
          "[sockvisord]\ncontrol = /run/b.sock\n" JOB(""), "r", NULL, NULL,
          "sock: retire: prog:unchanged add:- n:+0 -0 ~0 =1 ctl:1" },
        { "control_mode= changes", JOB(""), "[sockvisord]\ncontrol_mode = 0660\n" JOB(""), "r", NULL, NULL,
          "sock: retire: prog:unchanged add:- n:+0 -0 ~0 =1 ctl:1" },
        { "log= alone is no control change", JOB(""), "[sockvisord]\nlog = stderr\n" JOB(""), "r", NULL, NULL,
          "sock: retire: prog:unchanged add:- n:+0 -0 ~0 =1 ctl:0" },
        { "start-up: everything new", NULL, WEB("tcp://127.0.0.1:8080") APP("") JOB("autostart = false\n"), "",
          NULL, NULL, "sock:bind retire: prog: add:add-start,add n:+2 -0 ~0 =0 ctl:0" },
        /* the last rollout of app failed: app still runs the v1 configuration while the supervisor
         * holds v2; a reload of v2 again must roll app, not call it unchanged */
        { "a program on an older configuration rolls again", WEB("tcp://127.0.0.1:8080") APP("environment = V=2\n"),
          WEB("tcp://127.0.0.1:8080") APP("environment = V=2\n"), "r", WEB("tcp://127.0.0.1:8080") APP("environment = V=1\n"),
          "app", "sock:keep retire:0 prog:roll add:- n:+0 -0 ~1 =0 ctl:0" },
        { "...and so it does when only its socket's address was older",
          WEB("tcp://127.0.0.1:8081") APP("") JOB(""), WEB("tcp://127.0.0.1:8081") APP("") JOB(""), "rr",
          WEB("tcp://127.0.0.1:8080") APP(""), "app",
          "sock:keep retire:0 prog:roll,unchanged add:-,- n:+0 -0 ~1 =1 ctl:0" },
        { "a program a failed rollout left mixed rolls, although its configuration equals the next",
          JOB(""), JOB(""), "m", NULL, NULL, "sock: retire: prog:roll add:- n:+0 -0 ~1 =0 ctl:0" },
        { "...and is unchanged once back on what it runs", WEB("tcp://127.0.0.1:8080") APP("environment = V=2\n"),
          WEB("tcp://127.0.0.1:8080") APP("environment = V=1\n"), "r", WEB("tcp://127.0.0.1:8080") APP("environment = V=1\n"),
          "app", "sock:keep retire:0 prog:unchanged add:- n:+0 -0 ~0 =1 ctl:0" },
};

static void run_case(const Case *t) {
        _cleanup_(sv_config_freep) SvConfig *now = t->now ? parse(t->now, t->what) : NULL;
        _cleanup_(sv_config_freep) SvConfig *next = parse(t->next, t->what);
        _cleanup_(sv_config_freep) SvConfig *older = t->older ? parse(t->older, t->what) : NULL;
        const char *names[8];
        bool running[8], mixed[8];
        const SvProgramConf *confs[8];
        const SvConfig *cfgs[8];
        size_t n = now ? now->n_programs : 0;
        assert_true(n <= 8);
        assert_int_equal(strlen(t->running), n);
        for (size_t q = 0; q < n; q++) {
                names[q] = now->programs[q].name;
                running[q] = t->running[q] == 'r' || t->running[q] == 'm';
                mixed[q] = t->running[q] == 'm';
                bool on_older = older && strcmp(names[q], t->on_older) == 0;
                confs[q] = on_older ? sv_config_find_program(older, names[q]) : &now->programs[q];
                cfgs[q] = on_older ? older : now;
                assert_non_null(confs[q]);
        }
        SvRuntimeView view = {
                .cfg = now,
                .n_programs = n,
                .names = names,
                .confs = older ? confs : NULL, /* without an older one: looked up in cfg */
                .cfgs = older ? cfgs : NULL,
                .running = running,
                .mixed = mixed,
        };
        SvReloadPlan plan = {};
        SvDiag d = {};
        int r = sv_reload_plan(&view, next, &plan, &d);
        if (r < 0)
                print_error("%s: %s\n", t->what, d.msg);
        assert_int_equal(r, 0);
        char got[512];
        render(&plan, got, sizeof(got));
        if (strcmp(got, t->want) != 0)
                print_error("%s:\n   got  %s\n   want %s\n", t->what, got, t->want);
        assert_string_equal(got, t->want);
        assert_int_equal(plan.n_sockets, next->n_sockets);
        assert_int_equal(plan.n_old_sockets, now ? now->n_sockets : 0);
        assert_int_equal(plan.n_programs, n);
        assert_int_equal(plan.n_added, next->n_programs);
        assert_int_equal(plan.n_remove + plan.n_change + plan.n_unchanged, n);
        sv_reload_plan_done(&plan);
        assert_null(plan.sockets);
        assert_null(plan.programs);
}

static void test_plans(void **state) {
        (void) state;
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
                run_case(&cases[c]);
}

/* No runtime at all (the -t check): a plan against nothing. */
static void test_null_runtime(void **state) {
        (void) state;
        _cleanup_(sv_config_freep) SvConfig *next = parse(WEB("tcp://127.0.0.1:8080") APP(""), "null");
        SvReloadPlan plan = {};
        assert_int_equal(sv_reload_plan(NULL, next, &plan, NULL), 0);
        char got[256];
        render(&plan, got, sizeof(got));
        assert_string_equal(got, "sock:bind retire: prog: add:add-start n:+1 -0 ~0 =0 ctl:0");
        sv_reload_plan_done(&plan);
}

static void test_names(void **state) {
        (void) state;
        assert_string_equal(sv_prog_plan_to_string(SV_PROG_UNCHANGED), "unchanged");
        assert_string_equal(sv_prog_plan_to_string(SV_PROG_ROLL), "roll");
        assert_string_equal(sv_prog_plan_to_string(SV_PROG_STOP_THEN_SET), "stop-then-set");
        assert_string_equal(sv_prog_plan_to_string(SV_PROG_SET), "set");
        assert_string_equal(sv_prog_plan_to_string(SV_PROG_REMOVE), "remove");
        assert_string_equal(sv_prog_plan_to_string(SV_PROG_ADD), "add");
        assert_string_equal(sv_prog_plan_to_string(SV_PROG_ADD_START), "add-start");
        assert_string_equal(sv_prog_plan_to_string((SvProgPlan) 42), "?");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plans),
                cmocka_unit_test(test_null_runtime),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
