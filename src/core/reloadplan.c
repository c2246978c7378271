/* The reload plan. */
#include "sockvisor/reloadplan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/macro.h"

static const char *const prog_plan_names[] = {
        [SV_PROG_UNCHANGED] = "unchanged", [SV_PROG_ROLL] = "roll",     [SV_PROG_STOP_THEN_SET] = "stop-then-set",
        [SV_PROG_SET] = "set",             [SV_PROG_REMOVE] = "remove", [SV_PROG_ADD] = "add",
        [SV_PROG_ADD_START] = "add-start",
};

const char *sv_prog_plan_to_string(SvProgPlan p) {
        return (size_t) p < ELEMENTSOF(prog_plan_names) ? prog_plan_names[p] : "?";
}

static const SvSocketConf *find_socket(const SvConfig *c, const char *name) {
        int k = c ? sv_config_find_socket(c, name) : -1;
        return k >= 0 ? &c->sockets[k] : NULL;
}

/* The program would get other sockets: one is bound anew, or the one it runs on now has
 * another address than the next configuration's of that name. */
static bool sockets_change(const SvConfig *ocfg, const SvProgramConf *opc, const SvConfig *next,
                           const SvProgramConf *npc, const SvSockPlan *sockets) {
        for (size_t k = 0; k < npc->n_sockets; k++) {
                if (sockets[npc->socket_idx[k]] == SV_SOCK_BIND)
                        return true;
                if (k < opc->n_sockets &&
                    strcmp(ocfg->sockets[opc->socket_idx[k]].listen, next->sockets[npc->socket_idx[k]].listen) != 0)
                        return true;
        }
        return false;
}

void sv_reload_plan_done(SvReloadPlan *p) {
        free(p->sockets);
        free(p->retire);
        free(p->programs);
        free(p->added);
        *p = (SvReloadPlan){};
}

int sv_reload_plan(const SvRuntimeView *now, const SvConfig *next, SvReloadPlan *ret, SvDiag *d) {
        const SvConfig *cur = now ? now->cfg : NULL;
        size_t n_progs = now ? now->n_programs : 0;
        SvReloadPlan p = {
                .n_sockets = next->n_sockets,
                .n_old_sockets = cur ? cur->n_sockets : 0,
                .n_programs = n_progs,
                .n_added = next->n_programs,
        };
        p.sockets = calloc(p.n_sockets ? p.n_sockets : 1, sizeof(SvSockPlan));
        p.retire = calloc(p.n_old_sockets ? p.n_old_sockets : 1, sizeof(bool));
        p.programs = calloc(n_progs ? n_progs : 1, sizeof(SvProgPlan));
        p.added = calloc(p.n_added ? p.n_added : 1, sizeof(SvProgPlan));
        if (!p.sockets || !p.retire || !p.programs || !p.added) {
                sv_reload_plan_done(&p);
                diag_set(d, 0, "out of memory planning the reload");
                return -ENOMEM;
        }

        for (size_t k = 0; k < next->n_sockets; k++) {
                const SvSocketConf *sc = &next->sockets[k], *old = find_socket(cur, sc->name);
                if (old && sv_socket_conf_equal(old, sc))
                        p.sockets[k] = SV_SOCK_KEEP;
                else if (old && strcmp(old->listen, sc->listen) == 0)
                        p.sockets[k] = SV_SOCK_ADJUST;
                else
                        p.sockets[k] = SV_SOCK_BIND;
        }
        for (size_t k = 0; k < p.n_old_sockets; k++) {
                int q = sv_config_find_socket(next, cur->sockets[k].name);
                p.retire[k] = q < 0 || p.sockets[q] == SV_SOCK_BIND;
        }

        for (size_t q = 0; q < n_progs; q++) {
                const SvProgramConf *npc = sv_config_find_program(next, now->names[q]);
                const SvProgramConf *opc = now->confs ? now->confs[q]
                                           : cur       ? sv_config_find_program(cur, now->names[q])
                                                       : NULL;
                const SvConfig *ocfg = now->confs ? now->cfgs[q] : cur;
                if (!npc) {
                        p.programs[q] = SV_PROG_REMOVE;
                        p.n_remove++;
                } else if (opc && !(now->mixed && now->mixed[q]) && sv_program_conf_equal(ocfg, opc, next, npc) &&
                           !sockets_change(ocfg, opc, next, npc, p.sockets)) {
                        p.programs[q] = SV_PROG_UNCHANGED;
                        p.n_unchanged++;
                } else {
                        p.programs[q] = !now->running[q] ? SV_PROG_SET
                                        : npc->autostart ? SV_PROG_ROLL
                                                         : SV_PROG_STOP_THEN_SET;
                        p.n_change++;
                }
        }
        for (size_t k = 0; k < next->n_programs; k++) {
                const SvProgramConf *npc = &next->programs[k];
                bool exists = false;
                for (size_t q = 0; q < n_progs && !exists; q++)
                        exists = strcmp(now->names[q], npc->name) == 0;
                p.added[k] = exists ? SV_PROG_UNCHANGED : npc->autostart ? SV_PROG_ADD_START : SV_PROG_ADD;
                p.n_add += !exists;
        }
        p.control_changed = cur && (strcmp(cur->control_path, next->control_path) != 0 ||
                                    cur->control_mode != next->control_mode);
        *ret = p;
        return 0;
}
