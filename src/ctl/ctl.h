/* sockvisorctl's modules, each with one job:
 *   main.c    argv (read by src/core/ctlargs.c against the shared verb table,
 *             include/sockvisor/ctlverbs.h), help, dispatch
 *   client.c  one exchange with sockvisord: connect, send the request, print the reply as
 *             it comes, map how it ended to an exit code
 *   why.c     the `why` verb: the port doctor, run here (no daemon needed)
 *   complete.c `__complete`: the words the bash completion offers
 *   exec.c    the `exec` verb: fetch held sockets by SCM_RIGHTS, then become a command
 *   tail.c    the `tail` and `logs` verbs: ask where the output goes, read the files */
#pragma once

#include <stddef.h>

#include "sockvisor/ctlargs.h"
#include "sockvisor/ctlverbs.h"
#include "sockvisor/macro.h"

#define PROG "sockvisorctl"

/* Exit codes (sysexits), documented in --help and the README. */
enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILED = 1,       /* the daemon answered ERR, or the exchange broke down */
        CTL_EXIT_USAGE = 2,        /* a usage error, as most command-line tools (getopt's habit) */
        CTL_EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE: no daemon answers on the socket */
        CTL_EXIT_NOPERM = 77,      /* EX_NOPERM: not allowed to connect to the control socket */
};

/* Prints "sockvisorctl: MESSAGE" and where to find help on stderr; returns CTL_EXIT_USAGE. */
_printf_(1, 2) int ctl_usage_error(const char *fmt, ...);

/* Sends verb (one the daemon answers) with its arguments to the control socket at path,
 * prints progress and output lines as they arrive and the final reply, and returns the
 * exit code. Never waits silently without bound: a quick verb gives up after
 * CTL_QUICK_TIMEOUT_MS without a line; a waiting verb (start, stop, restart, reload,
 * shutdown) relies on the daemon's own bounds and progress lines, and a connection that
 * closes with no final line, as when the daemon dies, is a one-line error and exit 1.
 * json (--json): status, sockets and pid print one JSON array of the daemon's rows; every
 * other verb prints its progress and its outcome as JSON lines ({"type":"progress",
 * "message":...} ... {"type":"ok"|"error","message":...}), with the same exit code. */
int ctl_client_run(const char *path, SvVerb verb, char *const *args, size_t n_args, bool json);

/* fetch: asks for the held sockets names[0..n) and returns the exit code; *ret_n fds came
 * with the answer (on OK, n of them, in the order of names). Only ERR is printed. */
int ctl_client_fetch(const char *path, char **names, size_t n, int *ret_fds, size_t *ret_n);

/* Sends verb and returns its output lines in *ret_lines (malloc'ed, each and the array)
 * instead of printing them; an ERR is printed, and its exit code returned. A daemon
 * silent for timeout_ms is given up on. */
int ctl_client_lines(const char *path, const char *verb, char *const *args, size_t n_args, int timeout_ms,
                     char ***ret_lines, size_t *ret_n);

/* `tail [-f] [-n N] NAME [stdout|stderr]` and `logs [-n N] [NAME...]` (tail.c): the files
 * sockvisord writes, read here with the caller's own rights. Return the exit code. */
int ctl_tail_run(const char *path, const SvCtlArgs *a);
int ctl_logs_run(const char *path, const SvCtlArgs *a);

/* `exec --socket NAME... -- COMMAND [ARGS]`; returns only on failure, with the exit code. */
int ctl_exec_run(const char *path, const SvCtlArgs *a);

/* Read-only verbs get an answer at once; a daemon that says nothing for this long is stuck. */
#define CTL_QUICK_TIMEOUT_MS (60 * 1000)

/* `why [--json] ADDRESS|PORT`. Returns 0 when a bind of the address would succeed now, 1
 * when it would fail (the cause printed), or the usage exit code. */
int ctl_why_run(const char *target, bool json);

/* `__complete WHAT [CMD]` (complete.c), for the bash completion: one word per line of
 * commands, options [of CMD], names (programs, groups, instances) or sockets, the last two
 * asked of the daemon within CTL_COMPLETE_TIMEOUT_MS; nothing, and exit 0, without one. */
int ctl_complete_run(const char *path, char *const *words, size_t n_words);
#define CTL_COMPLETE_TIMEOUT_MS 500
