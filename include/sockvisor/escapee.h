/* Escapees: processes that outlived the generation they came from and still hold its
 * listening sockets (a worker's child that called setsid() left the process group stop and
 * kill reach, and goes on serving old code). Which holders are escapees is decided here,
 * from facts the daemon read in /proc (src/daemon/escape.c); pure. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One process and its parent, as /proc/PID/stat said. */
typedef struct SvProcParent {
        pid_t pid, ppid;
} SvProcParent;

/* How far up a holder's ancestry is followed: deeper trees are not ours to judge. */
#define SV_ESCAPEE_DEPTH_MAX 64

typedef struct SvEscapeeFacts {
        const pid_t *holders;      /* processes with an fd on one of the sockets (repeats allowed) */
        size_t n_holders;
        const SvProcParent *tree;  /* the parent of each holder and of its ancestors, as far as read */
        size_t n_tree;
        const pid_t *live;         /* the workers with a process now, every program's */
        size_t n_live;
        pid_t self;                /* sockvisord */
} SvEscapeeFacts;

/* Writes to ret (at most cap) each holder that is an escapee, once: not sockvisord, not a
 * live worker nor one's descendant, and sockvisord's descendant. The last is what makes an
 * orphan ours: a worker's orphans are reparented to sockvisord (the child subreaper), while a
 * process given the socket by `sockvisorctl exec` (or sent it over a unix socket) descends
 * from someone else and is left alone. A holder whose ancestry is not known up to sockvisord
 * (gone meanwhile, or deeper than SV_ESCAPEE_DEPTH_MAX) is left alone too. Returns how many. */
size_t sv_escapees_pick(const SvEscapeeFacts *f, pid_t *ret, size_t cap);

/* A /proc/PID/stat line -> its parent (field 4) and start time in clock ticks (field 22),
 * which tell a process from a later one with its pid. -EINVAL when it does not read as one;
 * the command name may hold spaces and parentheses. */
int sv_escapee_parse_stat(const char *text, pid_t *ret_ppid, uint64_t *ret_start);
