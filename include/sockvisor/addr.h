/* Listen addresses: parse "tcp://127.0.0.1:8080", "tcp://[::1]:80", "udp://…",
 * "unix:/run/app.sock", "unix:@abstract", "unix-dgram:/p", "unix-seqpacket:@n" into a
 * sockaddr, and format them back. Pure. */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "sockvisor/diag.h"

typedef enum SvAddrKind {
        SV_ADDR_TCP,
        SV_ADDR_UDP,
        SV_ADDR_UNIX, /* every unix kind: socktype says stream, dgram or seqpacket */
} SvAddrKind;

typedef struct SvAddr {
        SvAddrKind kind;
        int family;   /* AF_INET, AF_INET6 or AF_UNIX */
        int socktype; /* SOCK_STREAM, SOCK_DGRAM or (unix only) SOCK_SEQPACKET */
        struct sockaddr_storage sa;
        socklen_t salen; /* exact length to pass to bind(); for abstract unix: offsetof+1+namelen */
        bool abstract;   /* unix:@name */
} SvAddr;

/* Longest formatted address, "tcp://[ffff:...:ffff%scope]:65535" or
 * "unix-seqpacket:@" and 107 bytes of name, plus NUL. */
#define SV_ADDR_STRLEN 128

/* Parses s. On success fills *ret and returns 0. On error returns -EINVAL, leaves *ret
 * untouched and writes a message into d->msg (d->line is left 0) saying what was wrong
 * and what a valid address looks like, e.g.
 *   "'tcp://127.0.0.1' has no port; expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:8080".
 * Rules:
 *  - tcp:// and udp:// take an IPv4 dotted quad or a bracketed IPv6 literal, then ':' and a
 *    decimal port 0..65535 (no sign, no leading '+', at most 5 digits). Host names are not
 *    resolved (the error says to write an address). a "*" host and an empty host (tcp://:80) are
 *    errors that suggest 0.0.0.0 or [::].
 *  - unix:/absolute/path (must start with '/', shorter than sizeof(sun_path)): SOCK_STREAM;
 *    unix-dgram:/path is SOCK_DGRAM, unix-seqpacket:/path SOCK_SEQPACKET (kind SV_ADDR_UNIX).
 *  - unix:@name (and unix-dgram:@name, unix-seqpacket:@name) for the abstract namespace
 *    (name non-empty, fits sun_path minus 1).
 *  - anything else names every valid scheme. */
int sv_addr_parse(const char *s, SvAddr *ret, SvDiag *d);

/* "tcp", "udp", "unix", "unix-dgram" or "unix-seqpacket": the scheme a's text starts with. */
const char *sv_addr_scheme(const SvAddr *a);

/* What sockvisorctl shows as the kind: "tcp", "udp", "unix-stream", "unix-dgram" or
 * "unix-seqpacket". */
const char *sv_addr_kind_name(const SvAddr *a);

/* Canonical text for a: "tcp://127.0.0.1:8080", "tcp://[::1]:8080", "unix:/p", "unix:@n",
 * "unix-dgram:/p", "unix-seqpacket:@n".
 * Works for any address returned by sv_addr_parse and for addresses read back with
 * getsockname() when kind/socktype are set. Always NUL-terminates; returns buf. */
char *sv_addr_format(const SvAddr *a, char *buf, size_t len);

/* Builds an SvAddr from a raw sockaddr (e.g. from getsockname) and a socket type. */
int sv_addr_from_sockaddr(const struct sockaddr *sa, socklen_t salen, int socktype, SvAddr *ret);

/* True when both name the same family, type, address and port (or the same unix path). */
bool sv_addr_equal(const SvAddr *a, const SvAddr *b);

/* Port of a tcp/udp address in host order, 0 for unix. */
unsigned sv_addr_port(const SvAddr *a);
