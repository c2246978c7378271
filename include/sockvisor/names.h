/* Names on a command line -> programs and instances. Pure.
 *
 *   NAME        a program (all of its instances), else a group (all of its programs)
 *   NAME:*      the same: all instances of program NAME, or all programs of group NAME
 *   PROG:N      instance N of program PROG, as status shows it ("pool:1")
 *   GROUP:PROG  program PROG of group GROUP (supervisord's way of writing it)
 *   all         every program (also: no name at all) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockvisor/diag.h"

/* A [group:NAME]: its programs as indexes into the names. */
typedef struct SvNameGroup {
        const char *name;
        const size_t *members;
        size_t n_members;
} SvNameGroup;

/* The programs the names asked for (the names a table of n: names[k], of which visible[k]
 * may be used, numprocs[k] instances each). */
typedef struct SvNameSet {
        const char *const *names;
        const bool *visible;    /* NULL: all */
        const unsigned *numprocs; /* NULL: one instance each */
        size_t n;
        const SvNameGroup *groups;
        size_t n_groups;
} SvNameSet;

#define SV_NAMES_INSTANCES_MAX 256

/* One program asked for: all of its instances, or those set in the mask. */
typedef struct SvNameTarget {
        size_t prog;
        bool all;
        uint64_t mask[SV_NAMES_INSTANCES_MAX / 64];
} SvNameTarget;

static inline bool sv_name_target_has(const SvNameTarget *t, unsigned index) {
        return t->all || (index < SV_NAMES_INSTANCES_MAX && (t->mask[index / 64] >> (index % 64) & 1));
}

/* Resolves args against set: one target per program, in the order first asked (all: in
 * the order of names), written to ret (room for set->n), their count to *ret_n. A program
 * asked for whole and by instance is whole. An unknown name is -ENOENT, an instance number
 * out of range -ERANGE, with d saying "no program or group 'x'; did you mean 'y'? known:
 * ...", so a typo never half-applies a command. */
int sv_names_resolve(const SvNameSet *set, char *const *args, size_t n_args, SvNameTarget *ret, size_t *ret_n,
                     SvDiag *d);

/* The [group:] sections of cfg as groups over names[0..n) (a member not among the visible
 * names is left out): groups has room for cfg->n_groups, members for every program of
 * every group (sv_names_group_members). Returns the number of groups. */
struct SvConfig;
size_t sv_names_groups_from_config(const struct SvConfig *cfg, const char *const *names, const bool *visible, size_t n,
                                   SvNameGroup *groups, size_t *members);
size_t sv_names_group_members(const struct SvConfig *cfg);

/* "a, b, c" of the visible names (or "(none configured)"). */
void sv_names_join(const char *const *names, const bool *visible, size_t n, char *buf, size_t len);
