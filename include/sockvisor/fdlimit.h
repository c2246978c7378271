/* The fd limit: sockvisord holds a listening socket per [socket:] and a few fds per program,
 * so at start it raises its soft RLIMIT_NOFILE to the hard limit, as systemd does for
 * itself; workers (and the next image of an upgrade) get the soft limit it started with,
 * since select() in a worker breaks on fds >= 1024. */
#pragma once

#include <sys/resource.h>

/* Saves the limit and raises the soft one to the hard one; a failure is logged, and the
 * daemon goes on with what it has. */
void sv_fdlimit_raise(void);
/* The limit sockvisord started with, for a child to set before its execve; NULL when it
 * was not changed (nothing to restore). */
const struct rlimit *sv_fdlimit_original(void);
/* Around an upgrade's execve: back to the original (the next image raises it again and
 * hands the original on to the workers it starts), and, should the execve fail, up again. */
void sv_fdlimit_restore(void);
void sv_fdlimit_reraise(void);
