/* The worker's environment: the daemon's, the program's environment=, and the variables
 * that tell it its fds, in every dialect a server may already read (fd_env=): systemd's
 * LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID, Server::Starter's SERVER_STARTER_PORT, einhorn's
 * EINHORN_FD_*, nginx's NGINX=; and NOTIFY_SOCKET. Pure. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sockvisor/addr.h"
#include "sockvisor/diag.h"

/* The dialects of fd_env=, one bit each. */
typedef enum SvFdEnv {
        SV_FD_ENV_SYSTEMD = 1u << 0,        /* LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID: every fd */
        SV_FD_ENV_SERVER_STARTER = 1u << 1, /* SERVER_STARTER_PORT, SERVER_STARTER_GENERATION */
        SV_FD_ENV_EINHORN = 1u << 2,        /* EINHORN_FD_COUNT, EINHORN_FD_0.., EINHORN_FDS */
        SV_FD_ENV_NGINX = 1u << 3,          /* NGINX=3;4; */
} SvFdEnv;
#define SV_FD_ENV_ALL (SV_FD_ENV_SYSTEMD | SV_FD_ENV_SERVER_STARTER | SV_FD_ENV_EINHORN | SV_FD_ENV_NGINX)
/* nginx is off by default: given NGINX=, nginx expects a listen directive matching each
 * inherited socket and closes the others. */
#define SV_FD_ENV_DEFAULT (SV_FD_ENV_SYSTEMD | SV_FD_ENV_SERVER_STARTER | SV_FD_ENV_EINHORN)
#define SV_FD_ENV_STRLEN 64 /* "systemd,server_starter,einhorn,nginx" and its NUL */

/* Parses a comma list of systemd, server_starter, einhorn, nginx (blanks around names
 * allowed, each at most once), or "none", into *ret. On error returns -EINVAL and d->msg
 * says which name is wrong and what is valid. */
int sv_fd_env_parse(const char *s, unsigned *ret, SvDiag *d);
/* "systemd,server_starter,einhorn" (names in that order), "none" for 0. Returns buf. */
char *sv_fd_env_format(unsigned mask, char *buf, size_t len);

/* A socket's address as Server::Starter writes it in SERVER_STARTER_PORT: "127.0.0.1:8080",
 * "8080" for 0.0.0.0 (start_server --port 8080), "[::1]:8080", "[::]:8080", "/run/app.sock",
 * "@name" for an abstract one. -EINVAL when it cannot be written so a reader splits it
 * back (a ';' or '=' in a path, an unbound socket) or does not fit len. */
int sv_server_starter_port(const SvAddr *a, char *buf, size_t len);

/* What a worker gets at fd 3, 4, ...: the first n_sockets are held sockets (addrs tells
 * their addresses), the rest are fds from its program's fd store. */
typedef struct SvWorkerFds {
        char *const *names;   /* n_fds names, in fd order: LISTEN_FDNAMES */
        size_t n_fds;
        size_t n_sockets;     /* <= n_fds */
        const SvAddr *addrs;  /* n_sockets addresses (family 0: unknown), or NULL */
        unsigned dialects;    /* SV_FD_ENV_* */
        /* intercept_bind: the shim library, put first in LD_PRELOAD (before any LD_PRELOAD the
         * environment already has), and SOCKVISOR_BIND_FDS=3,4 naming the sockets it may hand
         * out for the program's own bind(); NULL: neither. */
        const char *preload;
        /* Not an fd, but told the same way: watchdog=, as WATCHDOG_USEC and WATCHDOG_PID (the
         * worker's own pid, as systemd sets it, so sd_watchdog_enabled() says yes); 0: neither. */
        uint64_t watchdog_usec;
} SvWorkerFds;

typedef struct SvWorkerEnv {
        char **envp;           /* NULL-terminated, ready for execve() */
        char *listen_pid_slot; /* digits of LISTEN_PID go here, in the child; NULL without it */
        char *watchdog_pid_slot; /* and of WATCHDOG_PID */
} SvWorkerEnv;

/* Builds the environment of one worker.
 *  base: the daemon's environment (entries without '=' are dropped);
 *  program_env: "KEY=value" entries from environment=, overriding base;
 *  fds: its fds and which dialects describe them (NULL: no fds);
 *  notify_socket: the value for NOTIFY_SOCKET (NULL: not set);
 *  program, generation: exported as SOCKVISOR_PROGRAM and SOCKVISOR_GENERATION (and
 *  SERVER_STARTER_GENERATION with server_starter).
 * Dialects and their fds:
 *  - systemd: LISTEN_FDS=n_fds, LISTEN_FDNAMES=a:b:..., LISTEN_PID (every fd, the fd store's
 *    too);
 *  - server_starter: SERVER_STARTER_PORT=ADDR=3;ADDR=4 for the sockets (one whose address
 *    sv_server_starter_port cannot write is left out) and SERVER_STARTER_GENERATION;
 *  - einhorn: EINHORN_FD_COUNT, EINHORN_FD_0=3, ..., EINHORN_FD_FAMILY_K (AF_INET, AF_INET6,
 *    AF_UNIX) where known, and EINHORN_FDS="3 4" (einhorn sets it too), for the sockets;
 *  - nginx: NGINX=3;4; for the sockets, as nginx's own binary upgrade writes it.
 * A dialect with no fd to describe sets nothing. The variables of every dialect (LISTEN_*,
 * SERVER_STARTER_*, EINHORN_*, NGINX) and NOTIFY_SOCKET, WATCHDOG_*, SOCKVISOR_* are never
 * taken from base or program_env, whether their dialect is on or off: a stale value would
 * make the worker misread its fds.
 * LISTEN_PID (and WATCHDOG_PID) can only be known after fork(): its entry has room for any pid, filled in by
 * sv_worker_env_set_pid(). Returns 0 or -ENOMEM. */
int sv_worker_env_build(char *const *base, char *const *program_env, const SvWorkerFds *fds,
                        const char *notify_socket, const char *program, unsigned generation, SvWorkerEnv *ret);

/* Writes pid into LISTEN_PID and WATCHDOG_PID. Async-signal-safe: no allocation, for use between fork and exec. */
void sv_worker_env_set_pid(SvWorkerEnv *e, pid_t pid);

void sv_worker_env_done(SvWorkerEnv *e);

/* Returns the value of key in a NULL-terminated environment, or NULL. */
const char *sv_env_get(char *const *envp, const char *key);
