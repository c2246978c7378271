/* Unit tests for the config's files: config_source.c (sizes capped on the fd, non-regular
 * files refused, the upgrade bundle) and [include] in config.c, on real files in a
 * temporary directory. */
#include "config_test.h"

#include <sys/stat.h>

/* A temporary directory and the files a test writes in it, removed afterwards. */
typedef struct TmpDir {
        char path[64];
        char *files[32];
        size_t n;
} TmpDir;

static void tmp_init(TmpDir *t) {
        *t = (TmpDir){};
        (void) snprintf(t->path, sizeof(t->path), "/tmp/sv-test-include-XXXXXX");
        assert_non_null(mkdtemp(t->path));
}

/* Writes name (relative, its directory made when missing) with len bytes of text. */
static char *tmp_write_n(TmpDir *t, const char *name, const char *text, size_t len) {
        assert_true(t->n < ELEMENTSOF(t->files));
        char *path = xasprintf("%s/%s", t->path, name);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        (void) mkdir(path, 0700);
        *slash = '/';
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
        t->files[t->n++] = path;
        return path;
}

static char *tmp_write(TmpDir *t, const char *name, const char *text) {
        return tmp_write_n(t, name, text, strlen(text));
}

static void tmp_done(TmpDir *t) {
        for (size_t k = t->n; k-- > 0;) {
                (void) unlink(t->files[k]);
                char *slash = strrchr(t->files[k], '/');
                *slash = '\0';
                if (strcmp(t->files[k], t->path) != 0)
                        (void) rmdir(t->files[k]);
                free(t->files[k]);
        }
        assert_int_equal(rmdir(t->path), 0);
}

/* Parses path; on failure, asserts the message has every needle (NULL ends the list). */
static int parse_path(const char *path, SvConfig **ret, const char *needle, const char *needle2) {
        SvDiag d = {};
        int r = sv_config_parse_file(path, ret, &d);
        if ((r < 0) != (needle != NULL) || (needle && !strstr(d.msg, needle)) || (needle2 && !strstr(d.msg, needle2)))
                print_error("%s -> %d: %s\n", path, r, d.msg);
        if (needle)
                assert_non_null(strstr(d.msg, needle));
        if (needle2)
                assert_non_null(strstr(d.msg, needle2));
        return r;
}

/* ---- sizes and kinds of file ---- */

static void test_size_cap(void **state) {
        TmpDir t;
        tmp_init(&t);
        size_t len = SV_CONFIG_FILE_MAX + 1;
        char *big = malloc(len);
        assert_non_null(big);
        memset(big, ';', len); /* one long comment: only the size is wrong with it */
        char *path = tmp_write_n(&t, "big.ini", big, len);
        SvConfig *c = NULL;
        _cleanup_free_ char *size = xasprintf("%zu bytes", len);
        _cleanup_free_ char *cap = xasprintf("at most %u bytes (4 MiB)", SV_CONFIG_FILE_MAX);
        assert_int_equal(parse_path(path, &c, size, cap), -EFBIG);
        assert_null(c);
        SvDiag d = {};
        assert_int_equal(sv_config_parse_file(path, &c, &d), -EFBIG);
        assert_ptr_equal(strstr(d.msg, path), d.msg); /* it names the file first */

        /* 3 MiB each is fine alone, and three of them are above the 8 MiB of a whole config */
        size_t part = 3u << 20;
        for (size_t k = 0; k < part; k++) /* short comment lines: each under the line limit */
                big[k] = k % 64 == 63 ? '\n' : ';';
        tmp_write(&t, "main.ini", "[include]\nfiles = part*.ini\n");
        tmp_write_n(&t, "part1.ini", big, part);
        tmp_write_n(&t, "part2.ini", big, part);
        char *third = tmp_write_n(&t, "part3.ini", big, part);
        free(big);
        _cleanup_free_ char *main_path = xasprintf("%s/main.ini", t.path);
        _cleanup_free_ char *where = xasprintf("%s:2: [include] files: %s: %zu bytes would make the configuration %zu "
                                               "bytes",
                                               main_path, third, part, 3 * part + strlen("[include]\nfiles = part*.ini\n"));
        assert_int_equal(parse_path(main_path, &c, where, "at most 8388608 bytes (8 MiB)"), -EINVAL);
        assert_null(c);
        tmp_done(&t);
}

static void test_not_regular(void **state) {
        TmpDir t;
        tmp_init(&t);
        SvConfig *c = NULL;
        /* a fifo would block fopen() until a writer came: refused before */
        char *fifo = xasprintf("%s/fifo.ini", t.path);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_true(parse_path(fifo, &c, "not a regular file (a device, fifo or socket)", fifo) < 0);
        (void) unlink(fifo);
        free(fifo);
        assert_true(parse_path(t.path, &c, "not a regular file (a directory)", t.path) < 0);
        assert_true(parse_path("/dev/null", &c, "/dev/null: not a regular file", NULL) < 0);
        assert_null(c);
        tmp_done(&t);
}

/* ---- [include] ---- */

static void test_include_data(void **state) {
        SvConfig *c = NULL;
        assert_int_equal(parse_path(SV_TEST_DATA "/include/main.ini", &c, NULL, NULL), 0);
        /* conf.d/ sorted by name, the glob that matches nothing skipped, then the plain file */
        assert_int_equal(c->n_programs, 3);
        assert_string_equal(c->programs[0].name, "api");
        assert_string_equal(c->programs[1].name, "web");
        assert_string_equal(c->programs[2].name, "extra");
        assert_int_equal(c->n_sockets, 1);
        assert_int_equal(c->programs[1].n_sockets, 1); /* sockets= resolved across files */
        assert_string_equal(c->control_path, "/tmp/sockvisor-test/include.sock");
        assert_int_equal(c->n_files, 4);
        /* lines count on across files: the first line of the first include follows main.ini */
        assert_int_equal(c->programs[0].line, 6 + 1);

        /* the bundle an upgrade carries parses to the same configuration, with no file read */
        SvConfig *again = NULL;
        SvDiag d = {};
        assert_int_equal(sv_config_parse_string(c->source, "ignored", &again, &d), 0);
        assert_int_equal(again->n_programs, 3);
        assert_int_equal(again->n_files, 4);
        for (size_t k = 0; k < 3; k++)
                assert_true(sv_program_conf_equal(c, &c->programs[k], again, &again->programs[k]));
        assert_string_equal(again->source, c->source);
        assert_string_equal(again->origin, SV_TEST_DATA "/include/main.ini");
        sv_config_free(again);
        sv_config_free(c);

        /* a damaged bundle is an error, not a crash */
        static const char *const damaged[] = {
                ";sockvisor config bundle 1\n", ";sockvisor config bundle 1\nx.ini\n99\nshort",
                ";sockvisor config bundle 1\nx.ini\nabc\n", ";sockvisor config bundle 1\n\n0\n",
        };
        for (size_t k = 0; k < ELEMENTSOF(damaged); k++) {
                assert_int_equal(sv_config_parse_string(damaged[k], "t.ini", &c, &d), -EINVAL);
                assert_non_null(strstr(d.msg, "bundle"));
        }
}

static void test_include_errors(void **state) {
        TmpDir t;
        tmp_init(&t);
        SvConfig *c = NULL;
        SvDiag d = {};
        char *main_path = tmp_write(&t, "main.ini", "[program:a]\ncommand = /bin/a\n\n[include]\nfiles = conf.d/*.ini\n");
        char *web = tmp_write(&t, "conf.d/web.ini", "[program:web]\ncommand = /bin/web\nnumprocs = many\n");

        /* an error in an included file names that file and its own line */
        _cleanup_free_ char *where = xasprintf("%s:3: [program:web] numprocs", web);
        assert_int_equal(sv_config_parse_file(main_path, &c, &d), -EINVAL);
        assert_ptr_equal(strstr(d.msg, where), d.msg);
        assert_non_null(strstr(d.msg, "conf.d/web.ini:3: "));
        assert_int_equal(d.line, 3);

        /* includes do not nest */
        tmp_write(&t, "conf.d/web.ini", "[program:web]\ncommand = /bin/web\n[include]\nfiles = more.ini\n");
        _cleanup_free_ char *nest = xasprintf("%s:3: [include] in an included file", web);
        assert_true(parse_path(main_path, &c, nest, main_path) < 0);

        /* a program defined in two files: both places named */
        tmp_write(&t, "conf.d/web.ini", "\n[program:a]\ncommand = /bin/a\n");
        _cleanup_free_ char *twice = xasprintf("%s:2: [program:a] is defined twice (first on %s:1)", web, main_path);
        assert_true(parse_path(main_path, &c, twice, NULL) < 0);

        /* a missing plain file is an error at the files= line; a glob that matches nothing is not */
        tmp_write(&t, "conf.d/web.ini", "[program:web]\ncommand = /bin/web\n");
        tmp_write(&t, "main.ini", "[include]\nfiles = nothing/*.ini conf.d/*.ini missing.ini\n");
        _cleanup_free_ char *missing = xasprintf("%s:2: [include] files: %s/missing.ini: cannot open: %s", main_path,
                                                 t.path, strerror(ENOENT));
        assert_true(parse_path(main_path, &c, missing, NULL) < 0);
        tmp_write(&t, "main.ini", "[include]\nfiles = nothing/*.ini conf.d/*.ini\n");
        assert_int_equal(parse_path(main_path, &c, NULL, NULL), 0);
        assert_int_equal(c->n_programs, 1);
        c = sv_config_free(c);

        /* the key and the section are checked as every other */
        tmp_write(&t, "main.ini", "[include]\nfile = conf.d/*.ini\n");
        assert_true(parse_path(main_path, &c, "main.ini:2: [include]: unknown key 'file'; valid keys here are: files",
                               NULL) < 0);
        tmp_write(&t, "main.ini", "[include]\nfiles = a.ini\n[include]\nfiles = b.ini\n");
        assert_true(parse_path(main_path, &c, "main.ini:3: [include] appears twice", NULL) < 0);
        /* given as text, an include finds no file */
        expect_error("[include]\nfiles = x.ini\n", 2, "a configuration given as text includes no file");
        tmp_done(&t);
}

static void test_include_once(void **state) {
        TmpDir t;
        tmp_init(&t);
        SvConfig *c = NULL;
        /* the same file through a glob, its plain name, a symlink and the main file itself: read once */
        char *main_path = tmp_write(&t, "main.ini",
                                    "[include]\nfiles = conf.d/*.ini conf.d/a.ini link.ini main.ini\n");
        char *a = tmp_write(&t, "conf.d/a.ini", "[program:a]\ncommand = /bin/a\n");
        char *link = xasprintf("%s/link.ini", t.path);
        assert_int_equal(symlink(a, link), 0);
        assert_int_equal(parse_path(main_path, &c, NULL, NULL), 0);
        assert_int_equal(c->n_programs, 1);
        assert_int_equal(c->n_files, 2);
        c = sv_config_free(c);
        (void) unlink(link);
        free(link);
        tmp_done(&t);
}

static void test_include_count_cap(void **state) {
        TmpDir t;
        tmp_init(&t);
        char *main_path = tmp_write(&t, "main.ini", "[include]\nfiles = d/*.ini\n");
        char *dir = xasprintf("%s/d", t.path);
        assert_int_equal(mkdir(dir, 0700), 0);
        for (unsigned k = 0; k <= SV_CONFIG_INCLUDES_MAX; k++) {
                _cleanup_free_ char *p = xasprintf("%s/%04u.ini", dir, k);
                FILE *f = fopen(p, "we");
                assert_non_null(f);
                assert_int_equal(fclose(f), 0);
        }
        SvConfig *c = NULL;
        _cleanup_free_ char *last = xasprintf("%s/%04u.ini: more than %d included files", dir, SV_CONFIG_INCLUDES_MAX,
                                              SV_CONFIG_INCLUDES_MAX);
        assert_true(parse_path(main_path, &c, "main.ini:2: [include] files: ", last) < 0);
        for (unsigned k = 0; k <= SV_CONFIG_INCLUDES_MAX; k++) {
                _cleanup_free_ char *p = xasprintf("%s/%04u.ini", dir, k);
                assert_int_equal(unlink(p), 0);
        }
        assert_int_equal(rmdir(dir), 0);
        free(dir);
        tmp_done(&t);
}

/* ---- %(…)s expansions in a configuration ---- */

static void test_expansions(void **state) {
        TmpDir t;
        tmp_init(&t);
        SvConfig *c = NULL;
        assert_int_equal(setenv("SV_TEST_EXPAND", "from-env", 1), 0);
        char *main_path = tmp_write(&t, "main.ini",
                                    "[sockvisord]\ncontrol = %(here)s/control.sock\n[include]\nfiles = conf.d/*.ini\n");
        tmp_write(&t, "conf.d/pool.ini",
                  "[socket:s]\nlisten = unix:%(here)s/%(ENV_SV_TEST_EXPAND)s.sock\n"
                  "[program:pool]\ncommand = /bin/echo %(program_name)s-%(process_num)02d %(fd:s) 100%%\n"
                  "numprocs = 3\nsockets = s\ndirectory = %(here)s\n"
                  "environment = WHERE=\"%(here)s\",ME=%(program_name)s\n"
                  "stdout_logfile = %(here)s/%(program_name)s.log\n");
        assert_int_equal(parse_path(main_path, &c, NULL, NULL), 0);
        _cleanup_free_ char *control = xasprintf("%s/control.sock", t.path);
        _cleanup_free_ char *listen = xasprintf("unix:%s/conf.d/from-env.sock", t.path);
        _cleanup_free_ char *here = xasprintf("%s/conf.d", t.path);
        _cleanup_free_ char *where = xasprintf("WHERE=%s", here);
        _cleanup_free_ char *log = xasprintf("%s/pool.log", here);
        assert_string_equal(c->control_path, control); /* %(here)s of the main file */
        assert_string_equal(c->sockets[0].listen, listen); /* of the included one */
        const SvProgramConf *pr = &c->programs[0];
        assert_string_equal(pr->directory, here);
        assert_string_equal(pr->environment[0], where);
        assert_string_equal(pr->environment[1], "ME=pool");
        assert_string_equal(pr->logfile[SV_STREAM_STDOUT].path, log);
        /* as written, and per instance as each runs it */
        assert_string_equal(pr->command, "/bin/echo %(program_name)s-%(process_num)02d %(fd:s) 100%%");
        for (unsigned k = 0; k < 3; k++) {
                char *const *argv = sv_program_argv(pr, k);
                _cleanup_free_ char *want = xasprintf("pool-%02u", k);
                assert_string_equal(argv[1], want);
                assert_string_equal(argv[2], "3"); /* %(fd:s) after the expansions */
                assert_string_equal(argv[3], "100%");
        }
        assert_string_equal(sv_program_argv(pr, 0)[1], pr->argv[1]); /* argv is instance 0's */
        assert_ptr_equal(sv_program_argv(pr, 99), pr->argv); /* out of range: instance 0's */

        /* the bundle gives the same expansion */
        SvConfig *again = NULL;
        assert_int_equal(sv_config_parse_string(c->source, "x", &again, NULL), 0);
        assert_true(sv_program_conf_equal(c, pr, again, &again->programs[0]));
        sv_config_free(again);
        c = sv_config_free(c);

        /* a changed variable is a changed program, for reload */
        SvConfig *before = NULL, *after = NULL;
        tmp_write(&t, "conf.d/pool.ini", "[program:pool]\ncommand = /bin/echo %(ENV_SV_TEST_EXPAND)s\n");
        assert_int_equal(parse_path(main_path, &before, NULL, NULL), 0);
        assert_int_equal(setenv("SV_TEST_EXPAND", "changed", 1), 0);
        assert_int_equal(parse_path(main_path, &after, NULL, NULL), 0);
        assert_false(sv_program_conf_equal(before, &before->programs[0], after, &after->programs[0]));
        sv_config_free(before);
        sv_config_free(after);

        /* errors name the file and line of the reference */
        unsetenv("SV_TEST_EXPAND");
        char *pool = tmp_write(&t, "conf.d/pool.ini", "[program:pool]\ncommand = /bin/echo %(ENV_SV_TEST_EXPAND)s\n");
        _cleanup_free_ char *unset = xasprintf("%s:2: [program:pool] command: '%%(ENV_SV_TEST_EXPAND)s': SV_TEST_EXPAND "
                                               "is not set in sockvisord's environment",
                                               pool);
        assert_true(parse_path(main_path, &c, unset, NULL) < 0);
        tmp_write(&t, "conf.d/pool.ini", "[program:pool]\ncommand = /bin/a\nuser = %(program_name)s\n");
        assert_true(parse_path(main_path, &c, "pool.ini:3: [program:pool] user: '%(' expansions are not taken in this key",
                               "keys that take them: [program] command") < 0);
        /* a % of its own in a key without expansions is the value as written */
        tmp_write(&t, "conf.d/pool.ini", "[program:pool]\ncommand = /bin/a\nnumprocs = 50%\n");
        assert_true(parse_path(main_path, &c, "pool.ini:3: [program:pool] numprocs: '50%' is not a number", NULL) < 0);
        tmp_write(&t, "conf.d/pool.ini", "[program:pool]\ncommand = /bin/a %(prog)s\n");
        assert_true(parse_path(main_path, &c, "pool.ini:2: [program:pool] command: unknown expansion '%(prog)s'",
                               "known here: %(here)s, %(program_name)s, %(process_num)d") < 0);
        tmp_done(&t);
}

/* ---- [group:NAME] ---- */

static void test_groups(void **state) {
        SvConfig *c = parse_ok("[program:web]\ncommand = /bin/web\n[program:api]\ncommand = /bin/api\n"
                               "[group:backend]\nprograms = api, web\n[group:front]\nprograms = web\n");
        assert_int_equal(c->n_groups, 2);
        assert_string_equal(c->groups[0].name, "backend");
        assert_string_equal(c->groups[0].programs[0], "api");
        assert_string_equal(c->groups[0].programs[1], "web");
        assert_null(c->groups[0].programs[2]);
        const SvGroupConf *g[SV_GROUPS_MAX];
        assert_int_equal(sv_config_groups_of(c, "web", g), 2);
        assert_string_equal(g[0]->name, "backend");
        assert_string_equal(g[1]->name, "front");
        assert_int_equal(sv_config_groups_of(c, "api", g), 1);
        assert_int_equal(sv_config_groups_of(c, "nope", g), 0);
        sv_config_free(c);
        /* a group may come before its programs, or from another file */
        c = parse_ok("[group:g]\nprograms = a\n[program:a]\ncommand = /bin/a\n");
        sv_config_free(c);

        expect_error("[program:web]\ncommand = /bin/web\n[group:g]\nprograms = web, wbe\n", 4,
                     "[group:g] programs: no [program:wbe] is defined; known: web");
        expect_error("[program:web]\ncommand = /bin/web\n[group:web]\nprograms = web\n", 3,
                     "[group:web]: a program is named web too (on line 1); a command could not tell them apart");
        expect_error("[program:web]\ncommand = /bin/web\n[group:g]\nprograms = web, web\n", 4,
                     "[group:g] programs: 'web' is listed twice");
        expect_error("[program:web]\ncommand = /bin/web\n[group:g]\n", 3, "[group:g] lists no programs");
        expect_error("[program:web]\ncommand = /bin/web\n[group:g]\nprograms = ,\n", 4, "[group:g] lists no programs");
        expect_error("[program:web]\ncommand = /bin/web\n[group:g]\nprograms = web\n[group:g]\nprograms = web\n", 5,
                     "[group:g] is defined twice (first on line 3)");
        expect_error("[group:g]\nprogram = web\n", 2, "[group:g]: unknown key 'program'; valid keys here are: programs");
        expect_error("[group:g]\nprograms = a;b\n", 2, "[group:g] programs: 'a;b' is not a list of program names");
        expect_error("[group:]\n", 1, "invalid name ''");
        expect_error("[program:all]\ncommand = /bin/a\n", 1, "[program:all]: 'all' is reserved (in every command it means every program)");
        expect_error("[group:all]\nprograms = a\n", 1, "[group:all]: 'all' is reserved");
        expect_error("[grup:g]\n", 1, "[program:NAME], [group:NAME] and [include]");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_size_cap),
                cmocka_unit_test(test_not_regular),
                cmocka_unit_test(test_include_data),
                cmocka_unit_test(test_include_errors),
                cmocka_unit_test(test_include_once),
                cmocka_unit_test(test_include_count_cap),
                cmocka_unit_test(test_expansions),
                cmocka_unit_test(test_groups),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
