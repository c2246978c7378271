/* Split command= into argv with shell-like quoting, and no shell. Pure. */
#pragma once

#include <stddef.h>

#include "sockvisor/diag.h"

/* Splits s into a NULL-terminated argv (malloc'ed array of malloc'ed strings).
 * Quoting follows the POSIX shell's, without any expansion:
 *  - unquoted blanks (space, tab, newline) separate words; runs of them count once;
 *  - '…' keeps everything literally up to the next ';
 *  - "…" keeps everything literally except that \" \\ \$ \` and \<newline> are escapes;
 *  - outside quotes, a backslash keeps the next character literally;
 *  - adjacent quoted and unquoted parts join into one word ("a"'b'c is abc); "" is an
 *    empty word.
 * No globbing, no $VAR, no ~, no operators: ; | & < > are ordinary characters (and a
 * warning is not this module's job).
 * Errors (return -EINVAL, *ret_argv untouched, d->msg filled): an unterminated ' or ",
 * a trailing lone backslash, and an empty command (only blanks). Returns 0 on success. */
int sv_cmdline_split(const char *s, char ***ret_argv, SvDiag *d);

#define SV_CMDLINE_REF_MAX 64 /* longest KEY of a %(KEY) reference */

/* Puts the value of the reference %(KEY) (key: keylen bytes, no ')') into buf (len bytes,
 * at least keylen + 4: a value is never longer than its reference) and returns 0, or fills
 * d and returns a negative errno. */
typedef int (*SvCmdlineExpand)(void *userdata, const char *key, size_t keylen, char *buf, size_t len, SvDiag *d);

/* sv_cmdline_split, and then in unquoted and double-quoted text (not in '...', not after a
 * backslash): %(KEY) becomes what expand puts there, inside the word it is in; %% is one %;
 * any other % stays a %. A %( with no ) before a blank, quote or backslash is an error, as
 * is a KEY longer than SV_CMDLINE_REF_MAX; expand's own errors come back as they are.
 * With expand NULL, this is sv_cmdline_split: every % is itself. */
int sv_cmdline_split_expand(const char *s, SvCmdlineExpand expand, void *userdata, char ***ret_argv, SvDiag *d);

/* Frees an argv from sv_cmdline_split (NULL is fine); returns NULL. */
char **sv_strv_free(char **v);

/* Number of entries of a NULL-terminated string vector (NULL counts 0). */
size_t sv_strv_length(char *const *v);
