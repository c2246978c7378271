/* The fd store of a program, as systemd keeps one for a service (sd_pid_notify_with_fds(3)):
 * a worker sends FDSTORE=1 with fds and a FDNAME=, and every later generation of the program
 * gets them after its sockets, named in LISTEN_FDNAMES. A warm cache in a memfd or a
 * long-lived upstream connection so outlives the process that made it.
 *
 * At most fdstore_max fds (a store beyond it is refused and the fds closed, with a log
 * line); FDSTOREREMOVE=1 drops those of a name; a stored fd that reports POLLHUP or POLLERR
 * is dropped unless it was stored with FDPOLL=0. The store empties when the program is
 * stopped (stop, shutdown, removal by a reload), as systemd's does when a unit stops; a
 * crash, a restart or an upgrade of sockvisord keeps it. */
#include "supervisor-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

void sv_fdstore_close_fds(SvSupervisor *s, const int *fds, size_t n) {
        for (size_t k = 0; k < n; k++)
                s->ops->fd_close(s->ctx, fds[k]);
}

static void drop_at(Program *p, size_t k) {
        p->s->ops->fd_close(p->s->ctx, p->fdstore[k].fd);
        memmove(p->fdstore + k, p->fdstore + k + 1, (p->n_fdstore - k - 1) * sizeof(StoredFd));
        p->n_fdstore--;
        sv_program_dirty(p);
}

void sv_fdstore_drop_all(Program *p, const char *why) {
        if (!p->n_fdstore)
                return;
        sv_logf(p->s, LOG_INFO, NULL, "program '%s': %zu stored fd%s closed (%s)", p->name, p->n_fdstore,
                p->n_fdstore == 1 ? "" : "s", why);
        while (p->n_fdstore)
                drop_at(p, p->n_fdstore - 1);
}

void sv_fdstore_trim(Program *p) {
        if (p->n_fdstore <= p->conf->fdstore_max)
                return;
        sv_logf(p->s, LOG_WARNING, NULL, "program '%s': fdstore_max is %u now; closing the %zu fds stored last",
                p->name, p->conf->fdstore_max, p->n_fdstore - p->conf->fdstore_max);
        while (p->n_fdstore > p->conf->fdstore_max)
                drop_at(p, p->n_fdstore - 1);
}

void sv_fdstore_settle(Program *p) {
        if (!p->n_fdstore || sv_program_live(p))
                return;
        for (unsigned k = 0; k < p->n; k++)
                if (p->cur[k] && p->cur[k]->sm.state != SM_STOPPED)
                        return; /* EXITED or FATAL: a start may still want them */
        sv_fdstore_drop_all(p, "the program is stopped");
}

static void fdstore_remove(SvSupervisor *s, Instance *i, const char *name) {
        Program *p = i->prog;
        size_t before = p->n_fdstore;
        for (size_t k = p->n_fdstore; k-- > 0;)
                if (strcmp(p->fdstore[k].name, name) == 0)
                        drop_at(p, k);
        sv_logf(s, LOG_INFO, i, "FDSTOREREMOVE=1: %zu stored fd%s named '%s' closed", before - p->n_fdstore,
                before - p->n_fdstore == 1 ? "" : "s", name);
}

void sv_fdstore_message(SvSupervisor *s, Instance *i, const SvNotifyMsg *m) {
        Program *p = i->prog;
        const SvProgramConf *conf = p->conf;
        if (m->fdstore_remove && !m->bad_fdname)
                fdstore_remove(s, i, m->fdname);
        if (!m->n_fds)
                return;
        const char *why = NULL;
        if (!m->fdstore)
                why = "the message has no FDSTORE=1";
        else if (m->bad_fdname)
                why = "FDNAME= must be 1-255 printable characters without ':'";
        else if (conf->fdstore_max == 0)
                why = "the program has no fd store (set fdstore_max = N)";
        else if (p->removed || s->shutting_down)
                why = "the program is going away";
        else if (p->n_fdstore + m->n_fds > conf->fdstore_max)
                why = "the fd store is full";
        if (why) {
                sv_logf(s, LOG_WARNING, i, "refused %zu fd%s sent with '%s': %s (%zu of fdstore_max = %u stored); "
                        "closed them",
                        m->n_fds, m->n_fds == 1 ? "" : "s", m->fdname, why, p->n_fdstore, conf->fdstore_max);
                sv_fdstore_close_fds(s, m->fds, m->n_fds);
                return;
        }
        StoredFd *v = realloc(p->fdstore, (p->n_fdstore + m->n_fds) * sizeof(StoredFd));
        if (!v) {
                sv_logf(s, LOG_ERR, i, "out of memory storing %zu fds; closed them", m->n_fds);
                sv_fdstore_close_fds(s, m->fds, m->n_fds);
                return;
        }
        p->fdstore = v;
        for (size_t k = 0; k < m->n_fds; k++) {
                StoredFd *e = &p->fdstore[p->n_fdstore++];
                *e = (StoredFd){ .fd = m->fds[k], .poll = m->fdpoll };
                (void) snprintf(e->name, sizeof(e->name), "%s", m->fdname);
                if (e->poll)
                        s->ops->fd_watch(s->ctx, e->fd);
        }
        sv_program_dirty(p);
        sv_logf(s, LOG_INFO, i, "stored %zu fd%s as '%s' (%zu of %u); later generations get them", m->n_fds,
                m->n_fds == 1 ? "" : "s", m->fdname, p->n_fdstore, conf->fdstore_max);
}

void sv_supervisor_fd_hangup(SvSupervisor *s, int fd) {
        for (size_t q = 0; q < s->n_progs; q++) {
                Program *p = s->progs[q];
                for (size_t k = 0; k < p->n_fdstore; k++)
                        if (p->fdstore[k].fd == fd && p->fdstore[k].poll) {
                                sv_logf(s, LOG_INFO, NULL, "program '%s': stored fd '%s' hung up (POLLHUP/POLLERR); "
                                        "closed it",
                                        p->name, p->fdstore[k].name);
                                drop_at(p, k);
                                sv_dispatch(s);
                                return;
                        }
        }
}
