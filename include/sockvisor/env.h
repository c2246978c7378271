/* The worker's environment: the daemon's, the program's environment=, and the socket
 * activation variables (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID, NOTIFY_SOCKET). Pure. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

typedef struct SvWorkerEnv {
        char **envp;           /* NULL-terminated, ready for execve() */
        char *listen_pid_slot; /* digits of LISTEN_PID go here, in the child; NULL without fds */
} SvWorkerEnv;

/* Builds the environment of one worker.
 *  base: the daemon's environment (entries without '=' are dropped);
 *  program_env: "KEY=value" entries from environment=, overriding base;
 *  fdnames: the names of the n_fds sockets, in fd order (3, 4, ...);
 *  notify_socket: the value for NOTIFY_SOCKET (NULL: not set);
 *  program, generation: exported as SOCKVISOR_PROGRAM and SOCKVISOR_GENERATION.
 * Variables that belong to the supervisor (LISTEN_*, NOTIFY_SOCKET, WATCHDOG_*) are never
 * taken from base or program_env: a stale value would make the worker misread its fds.
 * LISTEN_PID can only be known after fork(): its entry has room for any pid, filled in by
 * sv_worker_env_set_pid(). Returns 0 or -ENOMEM. */
int sv_worker_env_build(char *const *base, char *const *program_env, char *const *fdnames, size_t n_fds,
                        const char *notify_socket, const char *program, unsigned generation,
                        SvWorkerEnv *ret);

/* Writes pid into LISTEN_PID. Async-signal-safe: no allocation, for use between fork and exec. */
void sv_worker_env_set_pid(SvWorkerEnv *e, pid_t pid);

void sv_worker_env_done(SvWorkerEnv *e);

/* Returns the value of key in a NULL-terminated environment, or NULL. */
const char *sv_env_get(char *const *envp, const char *key);
