/* Program names on a command line -> programs. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "sockvisor/diag.h"

/* Resolves args (NAME... or "all"; none means all) against names[0..n) of which visible[k]
 * says whether a name may be used (a removed program is not). Writes the indexes, without
 * duplicates, in the order asked (all: in the order of names) to ret_idx (room for n) and
 * their count to *ret_n. An unknown name is -ENOENT and d says "no program named 'x';
 * known programs: a, b", so a typo never half-applies a command. */
int sv_names_resolve(const char *const *names, const bool *visible, size_t n, char *const *args, size_t n_args,
                     size_t *ret_idx, size_t *ret_n, SvDiag *d);

/* "a, b, c" of the visible names (or "(none configured)"). */
void sv_names_join(const char *const *names, const bool *visible, size_t n, char *buf, size_t len);
