/* The port doctor: who holds an address, why a bind() fails with EADDRINUSE, and the fix.
 *
 * Two halves, and the pure one never calls into the other:
 * - pure, in sv_core, unit-tested with hand-built records: src/doctor/diagnose_parse.c
 *   reads the query, sock_diag netlink replies and /proc text; src/doctor/diagnose.c decides
 *   which sockets are in the way of a bind and why; src/doctor/format.c writes the findings
 *   as text or JSON.
 * - I/O, in sv_doctor_io: src/doctor/gather.c asks the kernel (NETLINK_SOCK_DIAG: inet_diag
 *   and unix_diag), maps socket inodes to pids through /proc/PID/fd only when there are
 *   inodes to resolve, and tries real test binds.
 * Neither links libsystemd. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sockvisor/addr.h"
#include "sockvisor/diag.h"

/* What to diagnose: an address as sv_addr_parse takes it, or a bare port (tcp, every
 * address, IPv4 and IPv6). */
typedef struct SvDoctorQuery {
        SvAddr addr;    /* for a bare port: tcp://[::]:PORT (dual-stack) */
        bool bare_port; /* "8080": every tcp socket on the port is relevant */
        unsigned port;  /* 0 for unix */
} SvDoctorQuery;

/* "8080", "tcp://127.0.0.1:8080", "udp://[::1]:53", "unix:/run/x.sock", "unix:@name".
 * Port 0 is refused (it means "any free port": nothing to diagnose). Returns 0 or -EINVAL
 * with d->msg saying what is wrong and what valid input looks like. */
int sv_doctor_query_parse(const char *s, SvDoctorQuery *ret, SvDiag *d);

/* TCP states as inet_diag and unix_diag number them (include/net/tcp_states.h). */
enum {
        SV_TCP_ESTABLISHED = 1,
        SV_TCP_SYN_SENT,
        SV_TCP_SYN_RECV,
        SV_TCP_FIN_WAIT1,
        SV_TCP_FIN_WAIT2,
        SV_TCP_TIME_WAIT,
        SV_TCP_CLOSE,
        SV_TCP_CLOSE_WAIT,
        SV_TCP_LAST_ACK,
        SV_TCP_LISTEN,
        SV_TCP_CLOSING,
        SV_TCP_NEW_SYN_RECV,
        _SV_TCP_STATE_MAX,
};

/* "LISTEN", "TIME_WAIT", ...; "UNKNOWN" outside the table. */
const char *sv_tcp_state_name(unsigned state);

#define SV_SOCK_PATH_MAX 108 /* sizeof(sun_path) */

/* One socket as the kernel describes it. */
typedef struct SvSockRec {
        int family;        /* AF_INET, AF_INET6, AF_UNIX */
        int protocol;      /* IPPROTO_TCP, IPPROTO_UDP; 0 for unix */
        int socktype;      /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
        unsigned state;    /* SV_TCP_*; udp: CLOSE when unconnected */
        uint8_t laddr[16]; /* network order; IPv4 in the first 4 bytes */
        uint8_t raddr[16];
        uint16_t lport, rport; /* host order */
        int v6only;            /* AF_INET6 listeners: 0 or 1; -1 when the kernel did not say */
        uint32_t uid;
        uint64_t inode;      /* 0 for TIME_WAIT and other sockets no process holds */
        uint32_t expires_ms; /* time left on the socket's timer (TIME_WAIT: until it goes) */
        uint8_t timer;       /* idiag_timer: 0 none, 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 probe */
        /* The queues (inet: idiag_rqueue/wqueue; unix: UNIX_DIAG_RQLEN, when asked for). For
         * a listener: the connections in its accept queue, and the queue's limit (backlog). */
        bool has_queues;
        uint32_t rqueue, wqueue;
        /* unix only */
        bool has_name;
        bool abstract;
        char path[SV_SOCK_PATH_MAX + 1]; /* without the leading NUL of an abstract name */
        bool has_vfs;
        uint64_t vfs_ino;
        uint32_t vfs_dev;
        uint64_t peer_inode;
} SvSockRec;

/* A process that holds a socket (one fd pointing at the socket's inode). */
typedef struct SvSockHolder {
        uint64_t inode;
        pid_t pid;
        uid_t uid;        /* the process's uid */
        char comm[16];    /* /proc/PID/comm */
        char cmdline[256]; /* /proc/PID/cmdline, NULs as spaces, control bytes as '?', maybe cut */
} SvSockHolder;

/* Outcome of one test bind: 0 (it worked) or a negative errno. */
typedef struct SvBindProbe {
        SvAddr addr;
        bool tried;       /* false: not tried (e.g. unix paths are never test-bound) */
        int plain;        /* bind() without SO_REUSEADDR */
        int reuseaddr;    /* bind() with SO_REUSEADDR */
} SvBindProbe;

#define SV_DOCTOR_PROBES_MAX 2

/* The facts about a unix path, gathered by the I/O layer. */
typedef struct SvUnixFile {
        bool exists;
        bool is_socket;
        uint64_t ino;
        uint32_t dev; /* encoded as unix_diag's UNIX_DIAG_VFS does */
        int connect_err; /* connect() to it: 0 ok, -ECONNREFUSED nobody listens, ... */
} SvUnixFile;

/* Everything the diagnosis looks at; filled by sv_doctor_gather() or by a test by hand. */
typedef struct SvDoctorFacts {
        SvDoctorQuery query;
        SvSockRec *socks; /* sockets on the port / on the unix name (already filtered) */
        size_t n_socks;
        SvSockHolder *holders;
        size_t n_holders;
        bool proc_scanned;      /* /proc was searched for the inodes */
        unsigned proc_hidden;   /* processes whose fds we could not read (other users) */
        /* Processes read only as far as every listener in socks: each holds all of them;
         * their other fds were not read, so the connections no fully read process holds
         * are counted (by the kernel), not matched to one of these. */
        pid_t *partial_pids;
        size_t n_partial;
        SvBindProbe probes[SV_DOCTOR_PROBES_MAX];
        size_t n_probes;
        SvUnixFile unix_file;
        uid_t my_uid;
} SvDoctorFacts;

typedef enum SvFindingKind {
        SV_FIND_FREE,          /* nothing in the way: a bind now works */
        SV_FIND_LISTENER,      /* a live socket bound or listening on the address */
        SV_FIND_CONNECTIONS,   /* connections on the port held by processes, no listener */
        SV_FIND_CLOSE_WAIT,    /* the peer closed, the holder never did */
        SV_FIND_TIME_WAIT,     /* closed connections the kernel keeps for 60 s */
        SV_FIND_CLOSING,       /* FIN_WAIT1/2, LAST_ACK, CLOSING with no process */
        SV_FIND_UNIX_LIVE,     /* a process listens on the unix name */
        SV_FIND_UNIX_STALE,    /* a socket file with nobody behind it */
        SV_FIND_UNIX_NOT_SOCKET,
        SV_FIND_UNIX_NO_FILE,
        SV_FIND_UNKNOWN,       /* bind fails and we found no socket that explains it */
        _SV_FIND_KIND_MAX,
} SvFindingKind;

/* "free", "listener", ...: the stable names used in --json. */
const char *sv_finding_kind_name(SvFindingKind k);

#define SV_FINDING_TEXT_MAX 512
#define SV_FINDING_PIDS_MAX 16

typedef struct SvFinding {
        SvFindingKind kind;
        char text[SV_FINDING_TEXT_MAX]; /* one line: what is in the way */
        char fix[SV_FINDING_TEXT_MAX];  /* one line: what to do; may be empty */
        const char *conflict; /* listener: "exact", "wildcard", "specific", "dual-stack", "port" */
        unsigned count;       /* sockets behind this finding */
        uint32_t max_expires_ms;
        int reuseaddr_helps;  /* -1 unknown, 0 no, 1 yes: decided by the test bind */
        size_t sock;          /* index in facts->socks of the first socket, or SIZE_MAX */
        pid_t pids[SV_FINDING_PIDS_MAX];
        size_t n_pids;
        bool hidden;          /* a socket here has no visible holder */
        bool unmatched;       /* connections counted, not all matched: pids are the listener's
                               * processes read only in part (SvDoctorFacts.partial_pids) */
        unsigned n_matched;   /* unmatched: how many of count were seen in those processes */
} SvFinding;

typedef struct SvDoctorReport {
        SvFinding *findings;
        size_t n_findings;
        bool blocked; /* a bind of the query address fails now (or would) */
} SvDoctorReport;

/* Decides which sockets are in the way of binding f->query and why. Pure. Returns 0 or
 * -ENOMEM. */
int sv_doctor_diagnose(const SvDoctorFacts *f, SvDoctorReport *ret);
void sv_doctor_report_done(SvDoctorReport *r);

/* Human text: a heading, one line per finding, a "fix:" line under each. Returns a
 * malloc'd string or NULL on ENOMEM. */
char *sv_doctor_format_text(const SvDoctorFacts *f, const SvDoctorReport *r);
/* The same facts as one JSON object (with a trailing newline). */
char *sv_doctor_format_json(const SvDoctorFacts *f, const SvDoctorReport *r);

/* --- parsing what the kernel and /proc say (pure, diagnose_parse.c) --- */

/* Walks a buffer of netlink messages from a SOCK_DIAG_BY_FAMILY dump and calls cb for
 * every socket (family AF_UNIX: unix_diag_msg, else inet_diag_msg of the given protocol,
 * IPPROTO_TCP or IPPROTO_UDP, which the reply does not repeat). Returns 1 when the
 * dump is complete (NLMSG_DONE), 0 when more is to come, a negative errno for an
 * NLMSG_ERROR reply, -EBADMSG for a truncated or malformed message, or cb's negative
 * return. */
int sv_sockdiag_walk(const void *buf, size_t len, int family, int protocol, int (*cb)(const SvSockRec *s, void *userdata),
                     void *userdata);

/* "socket:[12345]" -> 12345; anything else -> 0. */
uint64_t sv_doctor_parse_socket_link(const char *link, size_t len);

/* /proc/PID/cmdline bytes -> one printable line (NULs to spaces, control bytes to '?',
 * trailing NULs dropped, cut with "..." to fit). */
void sv_doctor_cmdline_clean(const char *raw, size_t len, char *out, size_t outlen);

/* True when a socket bound to (rec) would conflict with a bind of q (same protocol and
 * port, overlapping addresses: exact, wildcard, or IPv6 dual-stack). *ret_conflict, if not
 * NULL, gets "exact", "wildcard", "specific", "dual-stack" or "port" (bare port). */
bool sv_doctor_overlaps(const SvDoctorQuery *q, const SvSockRec *rec, const char **ret_conflict);

/* --- I/O (gather.c, in sv_doctor_io; the pure half never calls these) --- */

/* Gathers the facts about q: sock_diag dumps, /proc holders, test binds, the unix file.
 * Returns 0, or a negative errno with d->msg saying what failed. Free with
 * sv_doctor_facts_done(). */
int sv_doctor_gather(const SvDoctorQuery *q, SvDoctorFacts *ret, SvDiag *d);
void sv_doctor_facts_done(SvDoctorFacts *f);

/* The processes that hold any of the sockets inodes[] (n of them), one record per process
 * and socket, in one walk of /proc; processes we may not read are skipped. Returns 0 and a
 * malloc'd *ret (free() it), or a negative errno. */
int sv_doctor_find_holders(const uint64_t *inodes, size_t n, SvSockHolder **ret, size_t *ret_n);

/* For sockvisord when its own bind of addr fails with EADDRINUSE: a multi-line human
 * explanation (who holds it, why, the fix), every line ending in '\n'. Returns 0 and a
 * malloc'd *ret_text, or a negative errno (then *ret_text is untouched). Takes a few ms;
 * does not block on anything but the kernel and /proc. */
int sv_doctor_explain(const SvAddr *addr, char **ret_text);
