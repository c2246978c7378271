/* sockvisorctl's modules, each with one job:
 *   main.c    argv: options, the verb and its argument count (checked against the shared
 *             verb table, include/sockvisor/ctlverbs.h), help, dispatch
 *   client.c  one exchange with sockvisord: connect, send the request, print the reply as
 *             it comes, map how it ended to an exit code
 *   why.c     the `why` verb: the port doctor, run here (no daemon needed)
 *   exec.c    the `exec` verb: fetch held sockets by SCM_RIGHTS, then become a command
 *   tail.c    the `tail` and `logs` verbs: ask where the output goes, read the files */
#pragma once

#include <stddef.h>

#include "sockvisor/ctlverbs.h"
#include "sockvisor/macro.h"

#define PROG "sockvisorctl"

/* Exit codes (sysexits), documented in --help and the README. */
enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILED = 1,       /* the daemon answered ERR, or the exchange broke down */
        CTL_EXIT_USAGE = 64,       /* EX_USAGE */
        CTL_EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE: no daemon answers on the socket */
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
int ctl_client_run(const char *path, SvVerb verb, char **args, size_t n_args, bool json);

/* fetch: asks for the held sockets names[0..n) and returns the exit code; *ret_n fds came
 * with the answer (on OK, n of them, in the order of names). Only ERR is printed. */
int ctl_client_fetch(const char *path, char **names, size_t n, int *ret_fds, size_t *ret_n);

/* Sends verb and returns its output lines in *ret_lines (malloc'ed, each and the array)
 * instead of printing them; an ERR is printed, and its exit code returned. */
int ctl_client_lines(const char *path, const char *verb, char **args, size_t n_args, char ***ret_lines,
                     size_t *ret_n);

/* `tail [-f] [-n N] NAME [stdout|stderr]` and `logs [-n N] [NAME...]` (tail.c): the files
 * sockvisord writes, read here with the caller's own rights. Return the exit code. */
int ctl_tail_run(const char *path, char **args, size_t n_args);
int ctl_logs_run(const char *path, char **args, size_t n_args);

/* `exec --socket NAME... -- COMMAND [ARGS]`; returns only on failure, with the exit code. */
int ctl_exec_run(const char *path, char **args, size_t n_args);

/* Read-only verbs get an answer at once; a daemon that says nothing for this long is stuck. */
#define CTL_QUICK_TIMEOUT_MS (60 * 1000)

/* `why [--json] ADDRESS|PORT`: args are the words after "why". Returns the exit code. */
int ctl_why_run(char **args, size_t n_args);
