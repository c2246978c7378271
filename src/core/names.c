/* Names to programs and instances. */
#include "sockvisor/names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/cmdline.h"
#include "sockvisor/config.h"
#include "sockvisor/macro.h"

void sv_names_join(const char *const *names, const bool *visible, size_t n, char *buf, size_t len) {
        size_t o = 0;
        buf[0] = '\0';
        for (size_t k = 0; k < n && o < len; k++)
                if (!visible || visible[k]) {
                        int w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", names[k]);
                        if (w < 0)
                                break;
                        o += (size_t) w;
                }
        if (!buf[0])
                (void) snprintf(buf, len, "(none configured)");
}

static bool visible(const SvNameSet *set, size_t k) {
        return !set->visible || set->visible[k];
}

static unsigned numprocs(const SvNameSet *set, size_t k) {
        return set->numprocs ? set->numprocs[k] : 1;
}

/* The visible program called name[0..len), or set->n. */
static size_t find_program(const SvNameSet *set, const char *name, size_t len) {
        for (size_t k = 0; k < set->n; k++)
                if (visible(set, k) && strlen(set->names[k]) == len && memcmp(set->names[k], name, len) == 0)
                        return k;
        return set->n;
}

static const SvNameGroup *find_group(const SvNameSet *set, const char *name, size_t len) {
        for (size_t g = 0; g < set->n_groups; g++)
                if (strlen(set->groups[g].name) == len && memcmp(set->groups[g].name, name, len) == 0)
                        return &set->groups[g];
        return NULL;
}

/* Edit distance, capped: a suggestion is only worth making for a near miss. */
static size_t distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        if (la > 64 || lb > 64)
                return SIZE_MAX;
        size_t row[65];
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j];
                        size_t best = diag + (a[i - 1] != b[j - 1]);
                        if (up + 1 < best)
                                best = up + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        row[j] = best;
                        diag = up;
                }
        }
        return row[lb];
}

static int unknown(const SvNameSet *set, const char *arg, SvDiag *d) {
        const char *best = NULL;
        size_t best_d = 3; /* at most two edits away */
        char known[1024];
        size_t o = 0;
        known[0] = '\0';
        for (size_t k = 0; k < set->n; k++)
                if (visible(set, k)) {
                        size_t dk = distance(arg, set->names[k]);
                        if (dk < best_d)
                                best = set->names[k], best_d = dk;
                        if (o < sizeof(known))
                                o += (size_t) snprintf(known + o, sizeof(known) - o, "%s%s", o ? ", " : "",
                                                       set->names[k]);
                }
        for (size_t g = 0; g < set->n_groups; g++) {
                size_t dg = distance(arg, set->groups[g].name);
                if (dg < best_d)
                        best = set->groups[g].name, best_d = dg;
                if (o < sizeof(known))
                        o += (size_t) snprintf(known + o, sizeof(known) - o, "%sgroup %s", o ? ", " : "",
                                               set->groups[g].name);
        }
        if (!known[0])
                (void) snprintf(known, sizeof(known), "(none configured)");
        if (best)
                diag_set(d, 0, "no program or group '%s'; did you mean '%s'? known: %s", arg, best, known);
        else
                diag_set(d, 0, "no program or group '%s'; known: %s", arg, known);
        return -ENOENT;
}

/* The targets being built: program k's is ret[slot[k] - 1] (slot[k] 0: none yet), so a
 * mention finds an earlier one in O(1), not by a scan (status of 10,000 was quadratic). */
typedef struct {
        SvNameTarget *ret;
        size_t n;
        size_t *slot;
} Targets;

/* Adds program k (index -1: all of it) to the targets, merging with an earlier mention. */
static void add(Targets *ts, size_t k, int index) {
        if (!ts->slot[k]) {
                ts->ret[ts->n] = (SvNameTarget){ .prog = k };
                ts->slot[k] = ++ts->n;
        }
        SvNameTarget *t = &ts->ret[ts->slot[k] - 1];
        if (index < 0)
                t->all = true;
        else
                t->mask[index / 64] |= UINT64_C(1) << (index % 64);
}

static void add_group(const SvNameSet *set, const SvNameGroup *g, Targets *ts) {
        for (size_t m = 0; m < g->n_members; m++)
                if (g->members[m] < set->n && visible(set, g->members[m]))
                        add(ts, g->members[m], -1);
}

static int resolve_one(const SvNameSet *set, const char *arg, Targets *ts, SvDiag *d) {
        const char *colon = strchr(arg, ':');
        size_t len = colon ? (size_t) (colon - arg) : strlen(arg);
        size_t k = find_program(set, arg, len);
        const SvNameGroup *g = find_group(set, arg, len);

        if (!colon || strcmp(colon, ":*") == 0) {
                if (k < set->n)
                        add(ts, k, -1);
                else if (g)
                        add_group(set, g, ts);
                else
                        return unknown(set, arg, d);
                return 0;
        }
        const char *rest = colon + 1;
        if (k < set->n) { /* PROG:N, N as status shows it */
                char *end = NULL;
                unsigned long idx = rest[0] >= '0' && rest[0] <= '9' ? strtoul(rest, &end, 10) : 0;
                unsigned np = numprocs(set, k);
                if (!end || *end)
                        return diag_set(d, 0, "'%s': after '%.*s:' comes an instance number (%.*s:0%s%s), or * for all",
                                        arg, (int) len, arg, (int) len, arg, np > 1 ? " .. " : "",
                                        np > 1 ? "N-1" : ""),
                               -ENOENT;
                if (np <= 1)
                        return diag_set(d, 0, "'%s': %.*s has one instance, named %.*s", arg, (int) len, arg, (int) len, arg),
                               -ERANGE;
                if (idx >= np)
                        return diag_set(d, 0, "'%s': %.*s has instances %.*s:0 to %.*s:%u", arg, (int) len, arg, (int) len,
                                        arg, (int) len, arg, np - 1),
                               -ERANGE;
                add(ts, k, (int) idx);
                return 0;
        }
        if (g) { /* GROUP:PROG */
                size_t m = find_program(set, rest, strlen(rest));
                for (size_t q = 0; q < g->n_members && m < set->n; q++)
                        if (g->members[q] == m) {
                                add(ts, m, -1);
                                return 0;
                        }
                return diag_set(d, 0, "'%s': group %s has no program '%s'", arg, g->name, rest), -ENOENT;
        }
        return unknown(set, arg, d);
}

int sv_names_resolve(const SvNameSet *set, char *const *args, size_t n_args, SvNameTarget *ret, size_t *ret_n,
                     SvDiag *d) {
        if (n_args == 0 || (n_args == 1 && strcmp(args[0], "all") == 0)) {
                size_t n = 0; /* each program once: nothing to merge */
                for (size_t k = 0; k < set->n; k++)
                        if (visible(set, k))
                                ret[n++] = (SvNameTarget){ .prog = k, .all = true };
                *ret_n = n;
                return 0;
        }
        Targets ts = { .ret = ret, .slot = calloc(set->n ? set->n : 1, sizeof(size_t)) };
        if (!ts.slot)
                return diag_set(d, 0, "out of memory resolving names"), -ENOMEM;
        int r = 0;
        for (size_t a = 0; a < n_args && r >= 0; a++)
                r = resolve_one(set, args[a], &ts, d);
        free(ts.slot);
        if (r < 0)
                return r;
        *ret_n = ts.n;
        return 0;
}

size_t sv_names_group_members(const SvConfig *cfg) {
        size_t n = 0;
        for (size_t g = 0; g < cfg->n_groups; g++)
                n += sv_strv_length(cfg->groups[g].programs);
        return n;
}

size_t sv_names_groups_from_config(const SvConfig *cfg, const char *const *names, const bool *visible, size_t n,
                                   SvNameGroup *groups, size_t *members) {
        size_t used = 0;
        for (size_t g = 0; g < cfg->n_groups; g++) {
                groups[g] = (SvNameGroup){ .name = cfg->groups[g].name, .members = members + used };
                for (size_t k = 0; cfg->groups[g].programs[k]; k++)
                        for (size_t q = 0; q < n; q++)
                                if ((!visible || visible[q]) && strcmp(names[q], cfg->groups[g].programs[k]) == 0) {
                                        members[used++] = q;
                                        groups[g].n_members++;
                                        break;
                                }
        }
        return cfg->n_groups;
}
