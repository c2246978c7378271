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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_size_cap),
                cmocka_unit_test(test_not_regular),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
