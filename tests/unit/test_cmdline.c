/* Unit tests for cmdline.c: shell-like word splitting without a shell. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sockvisor/cmdline.h"

#define MAX_WORDS 8

typedef struct SplitCase {
        const char *input;
        const char *words[MAX_WORDS]; /* NULL-terminated expectation */
} SplitCase;

static const SplitCase split_cases[] = {
        /* plain words and blanks */
        { "/bin/true", { "/bin/true" } },
        { "/usr/bin/app --port 80", { "/usr/bin/app", "--port", "80" } },
        { "a   b    c", { "a", "b", "c" } },
        { "   lead and trail   ", { "lead", "and", "trail" } },
        { "a\tb\nc \t\n d", { "a", "b", "c", "d" } },
        { "\n\tx\n", { "x" } },
        { "a\rb", { "a\rb" } }, /* only space, tab and newline separate */
        /* single quotes: everything literal */
        { "'hello world'", { "hello world" } },
        { "echo 'a \"b\" \\n $HOME `x`'", { "echo", "a \"b\" \\n $HOME `x`" } },
        { "'a\\'", { "a\\" } },
        { "''", { "" } },
        { "'\n\t'", { "\n\t" } },
        /* double quotes and each escape */
        { "\"hello world\"", { "hello world" } },
        { "\"a\\\"b\"", { "a\"b" } },
        { "\"a\\\\b\"", { "a\\b" } },
        { "\"a\\$b\"", { "a$b" } },
        { "\"a\\`b\"", { "a`b" } },
        { "\"a\\\nb\"", { "ab" } },       /* backslash-newline vanishes */
        { "\"a\\nb\"", { "a\\nb" } },     /* other backslashes stay */
        { "\"a\\'b\"", { "a\\'b" } },
        { "\"\\\\\\\\\"", { "\\\\" } },
        { "\"it's\"", { "it's" } },
        { "\"$HOME ~ *\"", { "$HOME ~ *" } },
        { "\"\"", { "" } },
        { "a \"\" b", { "a", "", "b" } },
        { "\"\" \"\"", { "", "" } },
        /* backslash outside quotes */
        { "a\\ b", { "a b" } },
        { "\\'x\\'", { "'x'" } },
        { "\\\"", { "\"" } },
        { "\\\\", { "\\" } },
        { "\\n", { "n" } },
        { "a\\\nb", { "ab" } },           /* line continuation joins */
        { "a \\\n b", { "a", "b" } },     /* and makes no word of its own */
        { "\\\t", { "\t" } },
        /* adjacent parts join */
        { "\"a\"'b'c", { "abc" } },
        { "pre\"mid\"post", { "premidpost" } },
        { "--opt='a b'", { "--opt=a b" } },
        { "''\"\"x", { "x" } },
        { "x''", { "x" } },
        /* operators, globs and variables are ordinary characters */
        { "a;b", { "a;b" } },
        { "a ; b", { "a", ";", "b" } },
        { "a|b && c > d < e &", { "a|b", "&&", "c", ">", "d", "<", "e", "&" } },
        { "$HOME ~ *.txt ${X} $(id)", { "$HOME", "~", "*.txt", "${X}", "$(id)" } },
        { "# not a comment", { "#", "not", "a", "comment" } },
        { "/bin/sh -c 'exec app \"$@\"'", { "/bin/sh", "-c", "exec app \"$@\"" } },
};

static void check_argv(const char *input, char **argv, const char *const *want) {
        size_t n = 0;

        while (n < MAX_WORDS && want[n])
                n++;
        if (sv_strv_length(argv) != n)
                fail_msg("[%s]: %zu words, expected %zu", input, sv_strv_length(argv), n);
        for (size_t i = 0; i < n; i++)
                if (strcmp(argv[i], want[i]) != 0)
                        fail_msg("[%s]: word %zu is [%s], expected [%s]", input, i, argv[i], want[i]);
        assert_null(argv[n]);
}

static void test_split(void **state) {
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(split_cases); i++) {
                const SplitCase *c = &split_cases[i];
                SvDiag d = { 0 };
                char **argv = NULL;

                if (sv_cmdline_split(c->input, &argv, &d) != 0)
                        fail_msg("[%s] was rejected: %s", c->input, d.msg);
                check_argv(c->input, argv, c->words);
                argv = sv_strv_free(argv);
                assert_null(argv);
        }
}

typedef struct ErrorCase {
        const char *input;
        const char *needles[3];
} ErrorCase;

static const ErrorCase error_cases[] = {
        { "", { "command is empty" } },
        { " ", { "command is empty", "only blanks" } },
        { " \t\n  ", { "command is empty", "only blanks" } },
        { "\\\n", { "command is empty" } },
        { "'abc", { "unterminated single quote", "column 1 " } },
        { "echo 'abc", { "unterminated single quote", "column 6 " } },
        { "echo \"it's", { "unterminated double quote", "column 6 " } },
        { "/bin/app --x \"abc", { "unterminated double quote", "column 14 " } },
        { "\"abc\\\"", { "unterminated double quote", "column 1 " } },
        { "\"abc\\", { "unterminated double quote" } },
        { "a 'b' 'c", { "single quote", "column 7 " } },
        { "a\\", { "trailing backslash", "column 2 ", "\\\\" } },
        { "\\", { "trailing backslash", "column 1 " } },
        { "abc \\", { "trailing backslash", "column 5 " } },
};

static void test_errors(void **state) {
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(error_cases); i++) {
                const ErrorCase *c = &error_cases[i];
                SvDiag d = { .line = 7 };
                char *sentinel[] = { NULL };
                char **argv = sentinel;

                if (sv_cmdline_split(c->input, &argv, &d) != -EINVAL)
                        fail_msg("[%s] was accepted", c->input);
                assert_ptr_equal(argv, sentinel); /* untouched on error */
                assert_int_equal(d.line, 0);
                for (size_t j = 0; j < ELEMENTSOF(c->needles) && c->needles[j]; j++)
                        if (!strstr(d.msg, c->needles[j]))
                                fail_msg("[%s]: message \"%s\" lacks \"%s\"", c->input, d.msg, c->needles[j]);
        }
}

static void test_error_after_words(void **state) {
        /* words already built before the error are freed (the sanitizer build checks the leak) */
        char **argv = NULL;
        SvDiag d = { 0 };
        (void) state;

        assert_int_equal(sv_cmdline_split("one two three four five six seven eight nine ten 'x", &argv, &d),
                         -EINVAL);
        assert_null(argv);
        assert_non_null(strstr(d.msg, "column 50 "));
}

static void test_null_diag(void **state) {
        char **argv = NULL;
        (void) state;

        assert_int_equal(sv_cmdline_split("'", &argv, NULL), -EINVAL);
        assert_int_equal(sv_cmdline_split("", &argv, NULL), -EINVAL);
        assert_null(argv);
}

static void test_long_command(void **state) {
        /* 300 words of 9 characters plus a blank each: 3000 bytes, enough to grow argv many times */
        char s[3001];
        char **argv = NULL;
        SvDiag d = { 0 };
        size_t pos = 0;
        (void) state;

        for (unsigned i = 0; i < 300; i++) {
                /* 'w000000'  "w000001"  w\000002x: each quoting style in turn */
                static const char *const pre[] = { "'w", "\"w", "w\\" }, *const post[] = { "'", "\"", "x" };
                int w = snprintf(s + pos, sizeof(s) - pos, "%s%06u%s ", pre[i % 3], i, post[i % 3]);
                assert_int_equal(w, 10);
                pos += (size_t) w;
        }
        assert_int_equal(pos, 3000);
        assert_int_equal(strlen(s), 3000);

        assert_int_equal(sv_cmdline_split(s, &argv, &d), 0);
        assert_int_equal(sv_strv_length(argv), 300);
        for (unsigned i = 0; i < 300; i++) {
                char want[16];

                (void) snprintf(want, sizeof(want), "w%06u%s", i, i % 3 == 2 ? "x" : "");
                assert_string_equal(argv[i], want);
        }
        assert_null(argv[300]);
        argv = sv_strv_free(argv);
}

static void test_one_long_word(void **state) {
        char s[3001];
        char **argv = NULL;
        (void) state;

        memset(s, 'a', 3000);
        s[3000] = '\0';
        assert_int_equal(sv_cmdline_split(s, &argv, NULL), 0);
        assert_int_equal(sv_strv_length(argv), 1);
        assert_int_equal(strlen(argv[0]), 3000);
        argv = sv_strv_free(argv);
}

static void test_strv_helpers(void **state) {
        char *v[] = { (char *) "a", (char *) "b", NULL };
        char *empty[] = { NULL };
        (void) state;

        assert_int_equal(sv_strv_length(NULL), 0);
        assert_int_equal(sv_strv_length(empty), 0);
        assert_int_equal(sv_strv_length(v), 2);
        assert_null(sv_strv_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_split),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_error_after_words),
                cmocka_unit_test(test_null_diag),
                cmocka_unit_test(test_long_command),
                cmocka_unit_test(test_one_long_word),
                cmocka_unit_test(test_strv_helpers),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
