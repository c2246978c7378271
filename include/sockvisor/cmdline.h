/* Split command= into argv with shell-like quoting, and no shell. Pure. */
#pragma once

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

/* Frees an argv from sv_cmdline_split (NULL is fine); returns NULL. */
char **sv_strv_free(char **v);

/* Number of entries of a NULL-terminated string vector (NULL counts 0). */
size_t sv_strv_length(char *const *v);
