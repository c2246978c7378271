/* The programs an event touched, and the counts STATUS=, READY=1 and the shutdown order
 * read. With 10,000 programs a dispatch that walked every program (for dirty ones, for
 * counts, for start-up settled) made start-up quadratic: one timer per instance, each a
 * dispatch (and a shutdown the same, one exit each). Instead each program keeps the tally it last added to the supervisor's totals,
 * and a dispatch recounts only the programs listed since the last one. What changes many
 * programs at once (reload, restore, a program freed) asks for a full recount.
 * sv_supervisor_check_counts() recounts everything and compares: the simulator calls it every step. */

#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "supervisor-internal.h"

static void tally_of(const Program *p, SvTally *t) {
        *t = (SvTally){ .total = p->n, .rolling = p->ro.state == SV_RO_ROLLING,
                        .stopping = p->stop_sent && sv_program_live(p) };
        bool startup = p->conf->autostart && !p->removed;
        for (unsigned k = 0; k < p->n && k < p->cap; k++) {
                const Instance *i = p->cur[k];
                SmState st = i ? i->sm.state : SM_STOPPED;
                t->running += st == SM_RUNNING;
                t->failing += st == SM_FATAL || st == SM_BACKOFF;
                t->unsettled += startup && (st == SM_STARTING || st == SM_BACKOFF);
        }
}

static void tally_add(SvTally *sum, const SvTally *t, int sign) {
        sum->total += (unsigned) sign * t->total;
        sum->running += (unsigned) sign * t->running;
        sum->failing += (unsigned) sign * t->failing;
        sum->unsettled += (unsigned) sign * t->unsettled;
        sum->rolling += (unsigned) sign * t->rolling;
        sum->stopping += (unsigned) sign * t->stopping;
}

void sv_program_touch(Program *p) {
        SvSupervisor *s = p->s;
        if (p->listed)
                return;
        if (s->n_touched == s->cap_touched) {
                size_t cap = s->cap_touched ? 2 * s->cap_touched : 64;
                Program **v = realloc(s->touched, cap * sizeof(Program *));
                if (!v) { /* every program is looked at, as before the list */
                        s->touched_lost = true;
                        return;
                }
                s->touched = v;
                s->cap_touched = cap;
        }
        p->listed = true;
        s->touched[s->n_touched++] = p;
}

void sv_program_dirty(Program *p) {
        p->dirty = true;
        sv_program_touch(p);
}

void sv_tally_forget(SvSupervisor *s, Program *p) {
        for (size_t k = 0; p->listed && k < s->n_touched; k++)
                if (s->touched[k] == p) {
                        s->touched[k] = s->touched[--s->n_touched];
                        break;
                }
        p->listed = false;
        s->recount_all = true;
}

static void recount(SvSupervisor *s, Program *p) {
        SvTally t;
        tally_of(p, &t);
        tally_add(&s->totals, &p->tally, -1);
        tally_add(&s->totals, &t, +1);
        p->tally = t;
}

void sv_tally_update(SvSupervisor *s) {
        if (s->recount_all || s->touched_lost) {
                s->totals = (SvTally){ 0 };
                for (size_t q = 0; q < s->n_progs; q++) {
                        Program *p = s->progs[q];
                        tally_of(p, &p->tally);
                        tally_add(&s->totals, &p->tally, +1);
                }
                s->recount_all = false;
        } else
                for (size_t k = 0; k < s->n_touched; k++)
                        recount(s, s->touched[k]);
        /* those still dirty stay listed: their settle has not run */
        size_t kept = 0;
        for (size_t k = 0; k < s->n_touched; k++) {
                Program *p = s->touched[k];
                if (p->dirty)
                        s->touched[kept++] = p;
                else
                        p->listed = false;
        }
        s->n_touched = kept;
        if (s->touched_lost) {
                bool any_dirty = false;
                for (size_t q = 0; q < s->n_progs && !any_dirty; q++)
                        any_dirty = s->progs[q]->dirty && !s->progs[q]->listed;
                s->touched_lost = any_dirty;
        }
}

/* The touched list in the order s->progs has them (priority order): the order settles run in. */
void sv_touched_sort(SvSupervisor *s) {
        if (s->n_touched > 1) /* touched is NULL until the first touch, and qsort's base must not be */
                qsort(s->touched, s->n_touched, sizeof(Program *), sv_program_order_cmp);
}

bool sv_any_dirty(const SvSupervisor *s) {
        if (s->touched_lost)
                for (size_t q = 0; q < s->n_progs; q++)
                        if (s->progs[q]->dirty)
                                return true;
        for (size_t k = 0; k < s->n_touched; k++)
                if (s->touched[k]->dirty)
                        return true;
        return false;
}

bool sv_supervisor_check_counts(const SvSupervisor *s, char *why, size_t len) {
        SvTally sum = { 0 };
        for (size_t q = 0; q < s->n_progs; q++) {
                const Program *p = s->progs[q];
                SvTally t;
                tally_of(p, &t);
                tally_add(&sum, &t, +1);
                if (p->dirty && !p->listed && !s->touched_lost) {
                        (void) snprintf(why, len, "program %s is dirty but not listed", p->name);
                        return false;
                }
        }
        if (memcmp(&sum, &s->totals, sizeof(sum)) != 0) {
                (void) snprintf(why, len,
                                "tally total/running/failing/unsettled/rolling/stopping %u/%u/%u/%u/%u/%u, "
                                "recounted %u/%u/%u/%u/%u/%u",
                                s->totals.total, s->totals.running, s->totals.failing, s->totals.unsettled,
                                s->totals.rolling, s->totals.stopping, sum.total, sum.running, sum.failing,
                                sum.unsettled, sum.rolling, sum.stopping);
                return false;
        }
        return true;
}
