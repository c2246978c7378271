/* Split command= into argv with POSIX shell quoting and nothing else: no shell expansion, no
 * operators; only %(KEY) references, when the caller asks for them. */
#include "sockvisor/cmdline.h"

#include <stdbool.h>
#include <string.h>

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\n';
}

char **sv_strv_free(char **v) {
        if (v) {
                for (char **i = v; *i; i++)
                        free(*i);
                free(v);
        }
        return NULL;
}

size_t sv_strv_length(char *const *v) {
        size_t n = 0;

        if (v)
                while (v[n])
                        n++;
        return n;
}

static void strv_freep(char ***v) {
        *v = sv_strv_free(*v);
}

/* Appends a copy of word[0..len) to *v, which always stays NULL-terminated so that
 * sv_strv_free() can release it on any error path. */
static int strv_push(char ***v, size_t *n, size_t *cap, const char *word, size_t len) {
        char *copy;

        if (*n + 1 >= *cap) {
                size_t ncap = *cap ? *cap * 2 : 8;
                char **nv = realloc(*v, ncap * sizeof(char *));

                if (!nv)
                        return -ENOMEM;
                if (!*v)
                        nv[0] = NULL;
                *v = nv;
                *cap = ncap;
        }

        copy = strndup(word, len);
        if (!copy)
                return -ENOMEM;
        (*v)[(*n)++] = copy;
        (*v)[*n] = NULL;
        return 0;
}

/* At s[*i] == '%', outside single quotes: %% is one %, %(KEY) is what expand says, any other
 * % is itself. Appends to word at *wlen and moves *i past what it read. */
static int expand_percent(const char *s, size_t *i, char *word, size_t *wlen, SvCmdlineExpand expand,
                          void *userdata, SvDiag *d) {
        if (s[*i + 1] == '%') {
                word[(*wlen)++] = '%';
                *i += 2;
                return 0;
        }
        if (s[*i + 1] != '(') {
                word[(*wlen)++] = s[(*i)++];
                return 0;
        }
        size_t start = *i, key = *i + 2, n = strcspn(s + key, ") \t\n'\"\\");
        if (s[key + n] != ')')
                return diag_set(d, 0,
                                "unterminated %%( at column %zu; write %%(fd:NAME) for the fd number of socket "
                                "NAME, or %%%% for a literal %%",
                                start + 1);
        /* a value is never longer than its reference, so the word buffer (as long as the
         * whole input) always has room */
        char value[SV_CMDLINE_REF_MAX + 4];
        if (n > SV_CMDLINE_REF_MAX)
                return diag_set(d, 0, "%%(%.*s...) at column %zu is too long; write %%(fd:NAME), or %%%% for a literal %%",
                                16, s + key, start + 1);
        value[0] = '\0';
        int r = expand(userdata, s + key, n, value, n + 4, d);
        if (r < 0)
                return r;
        size_t vlen = strnlen(value, n + 3);
        memcpy(word + *wlen, value, vlen);
        *wlen += vlen;
        *i = key + n + 1;
        return 0;
}

int sv_cmdline_split(const char *s, char ***ret_argv, SvDiag *d) {
        return sv_cmdline_split_expand(s, NULL, NULL, ret_argv, d);
}

int sv_cmdline_split_expand(const char *s, SvCmdlineExpand expand, void *userdata, char ***ret_argv, SvDiag *d) {
        _cleanup_(strv_freep) char **argv = NULL;
        _cleanup_free_ char *word = NULL;
        size_t n = 0, cap = 0, wlen = 0, i = 0;
        bool in_word = false; /* separate from wlen > 0: "" is a word of length 0 */
        int r;

        if (!s)
                return diag_set(d, 0, "command is empty");

        /* No word can be longer than the input, so one buffer serves every word. */
        word = malloc(strlen(s) + 1);
        if (!word)
                return -ENOMEM;

        while (s[i] != '\0') {
                char c = s[i];

                if (is_blank(c)) {
                        if (in_word) {
                                r = strv_push(&argv, &n, &cap, word, wlen);
                                if (r < 0)
                                        return r;
                                wlen = 0;
                                in_word = false;
                        }
                        i++;

                } else if (c == '\'') {
                        size_t start = i++;

                        while (s[i] != '\0' && s[i] != '\'')
                                word[wlen++] = s[i++];
                        if (s[i] == '\0')
                                return diag_set(d, 0,
                                                "unterminated single quote starting at column %zu "
                                                "in command; add the closing '",
                                                start + 1);
                        i++;
                        in_word = true;

                } else if (c == '"') {
                        size_t start = i++;

                        while (s[i] != '\0' && s[i] != '"') {
                                if (s[i] == '%' && expand) {
                                        r = expand_percent(s, &i, word, &wlen, expand, userdata, d);
                                        if (r < 0)
                                                return r;
                                } else if (s[i] == '\\' && s[i + 1] == '\n') {
                                        /* line continuation, as in the shell: both characters vanish */
                                        i += 2;
                                } else if (s[i] == '\\' && s[i + 1] != '\0' && strchr("\"\\$`", s[i + 1])) {
                                        word[wlen++] = s[i + 1];
                                        i += 2;
                                } else
                                        /* any other backslash is literal inside double quotes */
                                        word[wlen++] = s[i++];
                        }
                        if (s[i] == '\0')
                                return diag_set(d, 0,
                                                "unterminated double quote starting at column %zu "
                                                "in command; add the closing \"",
                                                start + 1);
                        i++;
                        in_word = true;

                } else if (c == '\\') {
                        if (s[i + 1] == '\0')
                                return diag_set(d, 0,
                                                "trailing backslash at column %zu in command; "
                                                "write \\\\ or '\\' for a literal backslash",
                                                i + 1);
                        if (s[i + 1] == '\n') {
                                /* Line continuation, as in the shell: it neither starts nor ends a word. */
                                i += 2;
                                continue;
                        }
                        word[wlen++] = s[i + 1];
                        i += 2;
                        in_word = true;

                } else if (c == '%' && expand) {
                        r = expand_percent(s, &i, word, &wlen, expand, userdata, d);
                        if (r < 0)
                                return r;
                        in_word = true;

                } else {
                        word[wlen++] = c;
                        i++;
                        in_word = true;
                }
        }

        if (in_word) {
                r = strv_push(&argv, &n, &cap, word, wlen);
                if (r < 0)
                        return r;
        }

        if (n == 0)
                return diag_set(d, 0,
                                "command is empty%s; expected a program and its arguments, "
                                "e.g. /usr/bin/app --flag",
                                s[0] == '\0' ? "" : " (only blanks)");

        *ret_argv = TAKE_PTR(argv);
        return 0;
}
