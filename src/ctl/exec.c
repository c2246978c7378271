/* sockvisorctl exec --socket NAME [--socket NAME]... -- COMMAND [ARGS...]: fetches the named
 * held sockets from sockvisord over the control socket (SCM_RIGHTS), puts them at fd 3, 4,
 * ... with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID (our pid, which execvp keeps) and
 * becomes COMMAND. A process sockvisord did not start so serves on the same socket: a
 * container sharing the control socket, a debugging copy of a server, a server under
 * another supervisor. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "sockvisor/ctlproto.h"

/* fds[k] to 3 + k, CLOEXEC off; everything else of ours stays CLOEXEC. */
static int arrange(int *fds, size_t n) {
        int top = 3 + (int) n;
        for (size_t k = 0; k < n; k++) /* first above the target range, so no dup2 clobbers one */
                if (fds[k] < top) {
                        int moved = fcntl(fds[k], F_DUPFD_CLOEXEC, top);
                        if (moved < 0)
                                return -errno;
                        (void) close(fds[k]);
                        fds[k] = moved;
                }
        for (size_t k = 0; k < n; k++) {
                if (dup2(fds[k], 3 + (int) k) < 0) /* dup2 clears CLOEXEC on the copy */
                        return -errno;
                (void) close(fds[k]);
        }
        return 0;
}

int ctl_exec_run(const char *path, const SvCtlArgs *a) {
        char *names[SV_FETCH_MAX];
        size_t n = 0;
        for (size_t k = 0; k < a->n_opts; k++) {
                if (strcmp(a->opts[k].opt->name, "socket") != 0)
                        continue;
                if (n == SV_FETCH_MAX)
                        return ctl_usage_error("exec: at most %d sockets", SV_FETCH_MAX);
                names[n++] = (char *) a->opts[k].value;
        }
        if (n == 0)
                return ctl_usage_error("exec: name at least one socket: exec --socket NAME -- COMMAND [ARGS...]");
        if (a->n_operands > 0)
                return ctl_usage_error("exec: '%s' comes before '--'; the command goes after it: exec --socket %s -- "
                                       "COMMAND [ARGS...]",
                                       a->operands[0], names[0]);
        if (!a->rest || a->n_rest == 0)
                return ctl_usage_error("exec: no command after '--'; e.g. exec --socket web -- /usr/bin/server");
        char *const *argv = a->rest;

        int fds[SV_FETCH_MAX];
        size_t got = 0;
        int r = ctl_client_fetch(path, names, n, fds, &got);
        if (r != CTL_EXIT_OK || got != n) {
                for (size_t q = 0; q < got; q++)
                        (void) close(fds[q]);
                if (r == CTL_EXIT_OK) {
                        fprintf(stderr, PROG ": exec: sockvisord sent %zu of %zu sockets\n", got, n);
                        r = CTL_EXIT_FAILED;
                }
                return r;
        }
        r = arrange(fds, n);
        if (r < 0) {
                fprintf(stderr, PROG ": exec: cannot put the sockets at fd 3..%zu: %s\n", 2 + n, strerror(-r));
                return CTL_EXIT_FAILED;
        }
        char count[16], pid[16], joined[SV_FETCH_MAX * (CTL_ARG_MAX + 1) + 1] = "";
        (void) snprintf(count, sizeof(count), "%zu", n);
        (void) snprintf(pid, sizeof(pid), "%d", (int) getpid());
        for (size_t q = 0; q < n; q++) {
                if (q)
                        strcat(joined, ":");
                strncat(joined, names[q], CTL_ARG_MAX);
        }
        if (setenv("LISTEN_FDS", count, 1) < 0 || setenv("LISTEN_PID", pid, 1) < 0 ||
            setenv("LISTEN_FDNAMES", joined, 1) < 0) {
                fprintf(stderr, PROG ": exec: cannot set the environment: %s\n", strerror(errno));
                return CTL_EXIT_FAILED;
        }
        (void) fflush(stdout);
        execvp(argv[0], argv);
        fprintf(stderr, PROG ": exec: cannot run %s: %s\n", argv[0], strerror(errno));
        return errno == ENOENT ? 127 : 126;
}
