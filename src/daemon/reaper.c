/* Every child, reaped from one SIGCHLD source. sockvisord is a child subreaper: besides its
 * workers and probe commands, the orphans of their descendants become its children. One
 * waitid(P_ALL) loop finds each one that has exited, whoever it is: a watched pid goes to
 * its handler, an unknown one (an orphan) is reaped and logged at debug. No pidfd and no
 * sd-event child source per child: 10,000 workers cost a table entry each, not an fd. */
#include "daemon-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "sockvisor/cgroup.h"
#include "sockvisor/log.h"
#include "sockvisor/pidmap.h"

/* Children handled per dispatch; the rest in the loop's next iteration (a defer source),
 * so a burst of exits cannot starve the control socket. */
#define REAP_BUDGET 1024

typedef struct Reapee {
        SvReapFn fn;
        void *userdata;
        uint64_t id;
} Reapee;

int sv_reaper_watch(SvDaemon *d, pid_t pid, SvReapFn fn, void *userdata, uint64_t id) {
        Reapee *e = malloc(sizeof(Reapee));
        if (!e)
                return -ENOMEM;
        *e = (Reapee){ .fn = fn, .userdata = userdata, .id = id };
        free(sv_pidmap_remove(&d->reapees, pid)); /* a pid reused: the old entry is stale */
        int r = sv_pidmap_put(&d->reapees, pid, e);
        if (r < 0)
                free(e);
        return r;
}

void sv_reaper_unwatch(SvDaemon *d, pid_t pid) {
        free(sv_pidmap_remove(&d->reapees, pid));
}

bool sv_reaper_watches(const SvDaemon *d, pid_t pid) {
        return sv_pidmap_get(&d->reapees, pid) != NULL;
}

static void reap_orphan(pid_t pid) {
        siginfo_t si = {};
        if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG) < 0 || si.si_pid != pid)
                return;
        log_debug("reaped pid %d, orphaned by a worker (%s %d)", (int) pid,
                  si.si_code == CLD_EXITED ? "status" : "signal", si.si_status);
}

/* One pass: at most REAP_BUDGET children. Returns true when more may be waiting. */
static bool reap_some(SvDaemon *d) {
        for (int budget = REAP_BUDGET; budget > 0; budget--) {
                siginfo_t si = {};
                /* WNOWAIT: the handler sees its child still a zombie, so its pid and process
                 * group cannot have been reused by the time it signals them */
                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != ECHILD)
                                sv_log_errno(LOG_WARNING, errno, "waitid failed; children are reaped at the next SIGCHLD");
                        return false;
                }
                pid_t pid = si.si_pid;
                if (pid == 0)
                        return false; /* children left, none exited */
                Reapee *e = sv_pidmap_remove(&d->reapees, pid);
                if (!e) {
                        reap_orphan(pid);
                        continue;
                }
                e->fn(d, e->userdata, e->id, &si);
                free(e);
                siginfo_t gone = {};
                (void) waitid(P_PID, (id_t) pid, &gone, WEXITED | WNOHANG);
        }
        return true;
}

static int on_more(sd_event_source *s, void *userdata) {
        SvDaemon *d = userdata;
        if (reap_some(d))
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        sv_cgroup_sweep(d->cgroups); /* the cgroups those exits emptied */
        return 0;
}

static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        SvDaemon *d = userdata;
        if (reap_some(d))
                (void) sd_event_source_set_enabled(d->reap_more_src, SD_EVENT_ONESHOT);
        sv_cgroup_sweep(d->cgroups);
        return 0;
}

int sv_reaper_start(SvDaemon *d) {
        int r = sd_event_add_signal(d->event, &d->sigchld_src, SIGCHLD, on_sigchld, d);
        if (r >= 0)
                r = sd_event_add_defer(d->event, &d->reap_more_src, on_more, d);
        /* one pass at the first iteration: children that exited before this image watched
         * (an upgrade's workers) raised their SIGCHLD already */
        return r < 0 ? r : sd_event_source_set_enabled(d->reap_more_src, SD_EVENT_ONESHOT);
}

void sv_reaper_stop(SvDaemon *d) {
        d->sigchld_src = sd_event_source_disable_unref(d->sigchld_src);
        d->reap_more_src = sd_event_source_disable_unref(d->reap_more_src);
        for (size_t k = 0; k < d->reapees.cap; k++)
                free(d->reapees.slots[k].value);
        sv_pidmap_done(&d->reapees);
}
