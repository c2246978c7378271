/* Readiness and drain by observation (issue 12): whether a worker's process tree waits on
 * one of its listening sockets, and how many accepted connections it holds, read from /proc
 * and sock_diag. For sockvisord running as root or as the workers' user; processes whose
 * /proc entries refuse the reads (another user) are skipped, not errors. Never blocks:
 * every read is of /proc or a netlink dump the kernel answers at once, and bounded. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sockvisor/addr.h"

/* Bounds. A tree larger than SV_OBSERVE_TREE_MAX is observed in its first that many pids
 * (breadth first from root); pollfd arrays and select sets beyond SV_OBSERVE_POLL_MAX fds
 * are read only that far; an epoll fdinfo is read at most SV_OBSERVE_FDINFO_MAX bytes;
 * sv_observe_connections gives -E2BIG when the tree holds more than SV_OBSERVE_INODES_MAX
 * sockets (it cannot then say "idle"). */
#define SV_OBSERVE_TREE_MAX 1024
#define SV_OBSERVE_POLL_MAX 4096
#define SV_OBSERVE_FDINFO_MAX (1024 * 1024)
#define SV_OBSERVE_INODES_MAX 65536

/* One listening socket sockvisord gave the worker. */
typedef struct SvObserveSocket {
        uint64_t inode; /* st_ino of the socket (fstat of the held fd); 0: entry ignored */
        SvAddr addr;    /* its bound address (include/sockvisor/addr.h) */
} SvObserveSocket;

typedef struct SvObservation {
        pid_t pid;       /* the process seen waiting */
        int fd;          /* its fd number of the socket (epoll: the registered tfd when the
                          * process no longer holds the socket itself) */
        const char *how; /* "epoll", "accept", "poll", "select"; "serving": it holds fd, a
                          * connection accepted from the socket */
        size_t socket;   /* index into the socks array */
        pid_t tid;       /* the thread blocked in the call; 0 for "epoll" (a registration) */
        const char *call; /* the syscall seen: "accept", "accept4", "poll", "ppoll", "select",
                           * "pselect6"; "epoll_ctl" for a registration */
} SvObservation;

/* The process tree under root (root first), via /proc/PID/task/TID/children, at most cap
 * pids; returns the count or a negative errno (-ESRCH: root is gone). */
int sv_observe_tree(pid_t root, pid_t *ret, size_t cap);

/* 1 when some process of root's tree waits on one of socks: the socket is registered for
 * EPOLLIN in an epoll set (matched by inode in the eventpoll fd's fdinfo, whether or not the
 * process is in epoll_wait now; a disarmed EPOLLONESHOT registration does not count), a
 * thread is blocked in accept/accept4 on it, or in poll/ppoll (POLLIN or POLLRDNORM asked)
 * or select/pselect6 (in the read set) over it; or, as surely, it holds a connection accepted
 * from it (a busy server is on the CPU, not waiting: each other socket fd is looked at on
 * a copy, pidfd_getfd). 0 when none, *ret filled on 1 (ret may be
 * NULL); a negative errno on error (-ESRCH: root is gone). Not seen: io_uring accepts and
 * 32-bit (compat) processes' syscalls. */
int sv_observe_accepting(pid_t root, const SvObserveSocket *socks, size_t n, SvObservation *ret);

/* How many accepted connections root's tree holds on socks: distinct socket inodes held by
 * the tree that are connections accepted from one of socks (TCP: same local address and port
 * as the listener, any state but LISTEN; unix stream/seqpacket: the listener's name), not
 * the listeners themselves and not unrelated sockets (a journal stream on stdout, a
 * database client connection, its NOTIFY socket). Datagram sockets in socks never have any.
 * When the tree holds no socket but the listeners, no kernel table is read. Returns 0 and
 * *ret, or a negative errno (*ret untouched). */
int sv_observe_connections(pid_t root, const SvObserveSocket *socks, size_t n, unsigned *ret);

/* The same count found another way: each socket fd of the tree that is none of socks is
 * looked at on a copy (pidfd_getfd): connected, not listening, and its local address is a
 * listener's. No kernel table is walked, so nothing races with the table; a shared
 * connection counts once per process. Returns 0 or a negative errno. */
int sv_observe_held(pid_t root, const SvObserveSocket *socks, size_t n, unsigned *ret);

/* Whether pid's main thread sleeps in a call that waits for work (epoll_wait, poll,
 * select, accept and their variants): then it has nothing in hand it could finish now. */
bool sv_observe_waits_for_work(pid_t pid);

/* Whether pid is stopped (SIGSTOP: 'T', traced 't'), a zombie, or gone or unreadable:
 * nothing of it runs any more. */
bool sv_observe_stopped(pid_t pid);

/* The accept queue of a listening socket, as sock_diag reports it (what ss -l shows as
 * Recv-Q and Send-Q). */
typedef struct SvSocketQueue {
        bool known;       /* the kernel listed it: a listening tcp or unix stream/seqpacket socket */
        uint32_t queued;  /* connections waiting to be accepted */
        uint32_t backlog; /* the queue's limit */
} SvSocketQueue;

/* For each of socks (matched by inode), its accept queue: one unix dump (if any is a unix
 * stream or seqpacket socket) and one tcp dump per family and port, listeners only. ret[i]
 * stays unknown for a datagram socket or one the kernel did not list. Returns 0 or a negative
 * errno (what was read before it is in ret). */
int sv_observe_queues(const SvObserveSocket *socks, size_t n, SvSocketQueue *ret);

/* --- parsers of what /proc says (pure; exposed for the tests) --- */

/* One /proc/PID/task/TID/syscall line: "NR 0xA1 ... 0xA6 0xSP 0xPC". Returns 1 and fills
 * *ret_nr and ret_args[6] when the thread is blocked in syscall NR; 0 for "running", for
 * "-1 ..." (blocked, not in a syscall) and for anything it cannot read. */
int sv_observe_parse_syscall(const char *line, long *ret_nr, uint64_t ret_args[6]);

/* One line of an eventpoll fd's fdinfo: "tfd: N events: HEX data: HEX  pos:N ino:HEX sdev:HEX".
 * Returns 1 and fills the outputs for a tfd line, 0 for any other line. */
int sv_observe_parse_tfd(const char *line, int *ret_tfd, uint32_t *ret_events, uint64_t *ret_ino);
