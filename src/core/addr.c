/* Listen addresses: parse tcp://, udp://, unix:, unix-dgram: and unix-seqpacket: strings into
 * sockaddrs and format them back. */
#include "sockvisor/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define VALID_FORMS                                                                                       \
        "tcp://HOST:PORT, udp://HOST:PORT, unix:/PATH, unix-dgram:/PATH, unix-seqpacket:/PATH, "          \
        "unix:@NAME, unix-dgram:@NAME or unix-seqpacket:@NAME"

/* The unix schemes, one per socket type, as systemd's ListenStream=, ListenDatagram= and
 * ListenSequentialPacket= take a path or an @name. */
static const struct {
        const char *scheme; /* without the ':' */
        int socktype;
} unix_schemes[] = {
        { "unix", SOCK_STREAM },
        { "unix-dgram", SOCK_DGRAM },
        { "unix-seqpacket", SOCK_SEQPACKET },
};

/* Room in sun_path: a path needs its NUL, an abstract name needs the leading NUL instead. */
#define UNIX_PATH_MAX (sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1)

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* The port is strict decimal so that "0x50", "+80" or "80 " never silently mean something. */
static int parse_port(const char *input, const char *scheme, const char *p, uint16_t *ret, SvDiag *d) {
        size_t n = strlen(p);
        unsigned long v = 0;

        if (n == 0)
                return diag_set(d, 0, "'%s' has no port; expected %s://HOST:PORT, e.g. %s://127.0.0.1:8080",
                                input, scheme, scheme);

        for (size_t i = 0; i < n; i++)
                if (!is_digit(p[i]))
                        return diag_set(d, 0,
                                        "'%s': port '%s' must be a decimal number 0..65535 "
                                        "(digits only, no sign), e.g. %s://127.0.0.1:8080",
                                        input, p, scheme);
        if (n > 5)
                return diag_set(d, 0, "'%s': port '%s' has more than 5 digits; valid ports are 0..65535",
                                input, p);

        for (size_t i = 0; i < n; i++)
                v = v * 10 + (unsigned long) (p[i] - '0');
        if (v > 65535)
                return diag_set(d, 0, "'%s': port %lu is out of range; valid ports are 0..65535", input, v);

        *ret = (uint16_t) v;
        return 0;
}

/* Only numeric scopes: resolving an interface name needs a syscall, and this module is pure. */
static int parse_scope(const char *input, const char *scope, uint32_t *ret, SvDiag *d) {
        size_t n = strlen(scope);
        unsigned long long v = 0;

        if (n == 0 || n > 10)
                goto bad;
        for (size_t i = 0; i < n; i++) {
                if (!is_digit(scope[i]))
                        goto bad;
                v = v * 10 + (unsigned long long) (scope[i] - '0');
        }
        if (v == 0 || v > UINT32_MAX)
                goto bad;

        *ret = (uint32_t) v;
        return 0;

bad:
        return diag_set(d, 0,
                        "'%s': IPv6 scope '%%%s' must be a numeric interface index such as "
                        "[fe80::1%%2] (interface names are not resolved)",
                        input, scope);
}

static int parse_inet(const char *input, SvAddrKind kind, const char *rest, SvAddr *ret, SvDiag *d) {
        const char *scheme = kind == SV_ADDR_TCP ? "tcp" : "udp";
        char host[SV_ADDR_STRLEN];
        const char *port;
        uint16_t portnum;
        int r;

        if (rest[0] == '[') {
                const char *close = strchr(rest, ']');
                size_t hlen;
                char *pct;

                if (!close)
                        return diag_set(d, 0,
                                        "'%s': '[' is not closed; an IPv6 address is written "
                                        "%s://[ADDRESS]:PORT, e.g. %s://[::1]:8080",
                                        input, scheme, scheme);
                hlen = (size_t) (close - rest - 1);
                if (hlen == 0)
                        return diag_set(d, 0,
                                        "'%s': empty IPv6 address; write [::] to listen on all "
                                        "addresses or [::1] for loopback",
                                        input);
                if (hlen >= sizeof(host))
                        return diag_set(d, 0, "'%s': IPv6 address is too long; expected e.g. %s://[::1]:8080",
                                        input, scheme);
                memcpy(host, rest + 1, hlen);
                host[hlen] = '\0';

                if (close[1] == '\0')
                        return diag_set(d, 0,
                                        "'%s' has no port; expected %s://[ADDRESS]:PORT, "
                                        "e.g. %s://[::1]:8080",
                                        input, scheme, scheme);
                if (close[1] != ':')
                        return diag_set(d, 0,
                                        "'%s': expected ':' and a port after ']', e.g. %s://[::1]:8080",
                                        input, scheme);
                port = close + 2;

                struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
                pct = strchr(host, '%');
                if (pct) {
                        *pct = '\0';
                        r = parse_scope(input, pct + 1, &sin6.sin6_scope_id, d);
                        if (r < 0)
                                return r;
                }
                if (inet_pton(AF_INET6, host, &sin6.sin6_addr) != 1)
                        return diag_set(d, 0,
                                        "'%s': '%s' is not a valid IPv6 address; expected e.g. "
                                        "[::1], [::] or [2001:db8::1]",
                                        input, host);

                r = parse_port(input, scheme, port, &portnum, d);
                if (r < 0)
                        return r;
                sin6.sin6_port = htons(portnum);

                *ret = (SvAddr) {
                        .kind = kind,
                        .family = AF_INET6,
                        .socktype = kind == SV_ADDR_TCP ? SOCK_STREAM : SOCK_DGRAM,
                        .salen = sizeof(sin6),
                };
                memcpy(&ret->sa, &sin6, sizeof(sin6));
                return 0;
        }

        /* IPv4: HOST:PORT, with exactly one ':'. More than one means a bare IPv6 literal. */
        const char *colon = strchr(rest, ':');
        if (colon && strchr(colon + 1, ':'))
                return diag_set(d, 0,
                                "'%s': an IPv6 address must be in brackets, e.g. %s://[::1]:8080",
                                input, scheme);
        if (!colon)
                return diag_set(d, 0, "'%s' has no port; expected %s://HOST:PORT, e.g. %s://127.0.0.1:8080",
                                input, scheme, scheme);

        size_t hlen = (size_t) (colon - rest);
        port = colon + 1;
        if (hlen == 0)
                return diag_set(d, 0,
                                "'%s': empty host; write 0.0.0.0 (all IPv4 addresses) or [::] "
                                "(all addresses) explicitly, e.g. %s://0.0.0.0%s",
                                input, scheme, colon);
        if (hlen == 1 && rest[0] == '*')
                return diag_set(d, 0,
                                "'%s': '*' is not an address; write 0.0.0.0 (all IPv4 addresses) "
                                "or [::] (all addresses), e.g. %s://0.0.0.0%s",
                                input, scheme, colon);
        if (hlen >= sizeof(host))
                return diag_set(d, 0,
                                "'%s': host must be an IP address such as 127.0.0.1 or [::1] "
                                "(names are not resolved)",
                                input);
        memcpy(host, rest, hlen);
        host[hlen] = '\0';

        struct sockaddr_in sin = { .sin_family = AF_INET };
        if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
                bool numeric = strspn(host, "0123456789.") == hlen;

                if (numeric)
                        return diag_set(d, 0,
                                        "'%s': '%s' is not a valid IPv4 address; expected four "
                                        "decimal numbers 0..255 such as 127.0.0.1",
                                        input, host);
                return diag_set(d, 0,
                                "'%s': host must be an IP address such as 127.0.0.1 or [::1] "
                                "(names are not resolved)",
                                input);
        }

        r = parse_port(input, scheme, port, &portnum, d);
        if (r < 0)
                return r;
        sin.sin_port = htons(portnum);

        *ret = (SvAddr) {
                .kind = kind,
                .family = AF_INET,
                .socktype = kind == SV_ADDR_TCP ? SOCK_STREAM : SOCK_DGRAM,
                .salen = sizeof(sin),
        };
        memcpy(&ret->sa, &sin, sizeof(sin));
        return 0;
}

/* rest follows "SCHEME:"; the scheme says the socket type. */
static int parse_unix(const char *input, const char *scheme, int socktype, const char *rest, SvAddr *ret,
                      SvDiag *d) {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        size_t n;
        bool abstract;

        if (rest[0] == '@') {
                const char *name = rest + 1;

                n = strlen(name);
                if (n == 0)
                        return diag_set(d, 0,
                                        "'%s': abstract socket name is empty; expected %s:@NAME, "
                                        "e.g. %s:@sockvisor",
                                        input, scheme, scheme);
                if (n > UNIX_PATH_MAX)
                        return diag_set(d, 0, "'%s': abstract socket name is %zu bytes; at most %zu fit",
                                        input, n, (size_t) UNIX_PATH_MAX);
                sun.sun_path[0] = '\0';
                memcpy(sun.sun_path + 1, name, n);
                abstract = true;
        } else {
                if (rest[0] != '/')
                        return diag_set(d, 0,
                                        "'%s': unix socket path must be absolute (start with '/'), "
                                        "e.g. %s:/run/app.sock, or use %s:@NAME for an abstract socket",
                                        input, scheme, scheme);
                n = strlen(rest);
                if (n > UNIX_PATH_MAX)
                        return diag_set(d, 0,
                                        "'%s': unix socket path is %zu bytes; at most %zu fit in sun_path",
                                        input, n, (size_t) UNIX_PATH_MAX);
                memcpy(sun.sun_path, rest, n + 1);
                abstract = false;
        }

        *ret = (SvAddr) {
                .kind = SV_ADDR_UNIX,
                .family = AF_UNIX,
                .socktype = socktype,
                /* abstract: leading NUL + name, no terminator; path: path + its NUL */
                .salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + n),
                .abstract = abstract,
        };
        memcpy(&ret->sa, &sun, sizeof(sun));
        return 0;
}

static bool is_scheme_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '+' || c == '-' || c == '.';
}

int sv_addr_parse(const char *s, SvAddr *ret, SvDiag *d) {
        const char *sep;

        if (!s || s[0] == '\0')
                return diag_set(d, 0, "empty address; expected " VALID_FORMS);

        if (strncmp(s, "tcp://", 6) == 0)
                return parse_inet(s, SV_ADDR_TCP, s + 6, ret, d);
        if (strncmp(s, "udp://", 6) == 0)
                return parse_inet(s, SV_ADDR_UDP, s + 6, ret, d);
        for (size_t i = 0; i < sizeof(unix_schemes) / sizeof(unix_schemes[0]); i++) {
                size_t n = strlen(unix_schemes[i].scheme);
                if (strncmp(s, unix_schemes[i].scheme, n) == 0 && s[n] == ':')
                        return parse_unix(s, unix_schemes[i].scheme, unix_schemes[i].socktype, s + n + 1, ret, d);
        }

        /* From here on it is only about choosing the most helpful message. */
        if (strncmp(s, "tcp:", 4) == 0 || strncmp(s, "udp:", 4) == 0)
                return diag_set(d, 0, "'%s': write %.3s://HOST:PORT, e.g. %.3s://127.0.0.1:8080", s, s, s);

        sep = strstr(s, "://");
        if (sep && sep > s &&
            strspn(s, "abcdefghijklmnopqrstuvwxyz" "ABCDEFGHIJKLMNOPQRSTUVWXYZ" "0123456789+-.") ==
                    (size_t) (sep - s))
                return diag_set(d, 0, "'%s': unknown scheme '%.*s'; expected " VALID_FORMS, s,
                                (int) (sep - s), s);

        /* "unix-stream:/p", "unix-datagram:@n": a scheme-like word, then ':' and a path or a name */
        sep = strchr(s, ':');
        if (sep && sep > s && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')) &&
            (sep[1] == '/' || sep[1] == '@')) {
                const char *c = s;
                while (c < sep && is_scheme_char(*c))
                        c++;
                if (c == sep)
                        return diag_set(d, 0, "'%s': unknown scheme '%.*s'; expected " VALID_FORMS, s,
                                        (int) (sep - s), s);
        }

        if (s[0] == '/' || s[0] == '@')
                return diag_set(d, 0,
                                "'%s' has no scheme; write unix:%s for a unix stream socket (unix-dgram:%s, "
                                "unix-seqpacket:%s for the other types)",
                                s, s, s, s);

        return diag_set(d, 0, "'%s' has no scheme; expected " VALID_FORMS ", e.g. tcp://127.0.0.1:8080", s);
}

const char *sv_addr_scheme(const SvAddr *a) {
        if (a->family == AF_UNIX) {
                for (size_t i = 0; i < sizeof(unix_schemes) / sizeof(unix_schemes[0]); i++)
                        if (unix_schemes[i].socktype == a->socktype)
                                return unix_schemes[i].scheme;
                return "unix-?";
        }
        return a->kind == SV_ADDR_UDP ? "udp" : "tcp";
}

const char *sv_addr_kind_name(const SvAddr *a) {
        if (a->family != AF_UNIX)
                return a->kind == SV_ADDR_UDP ? "udp" : "tcp";
        switch (a->socktype) {
        case SOCK_STREAM:
                return "unix-stream";
        case SOCK_DGRAM:
                return "unix-dgram";
        case SOCK_SEQPACKET:
                return "unix-seqpacket";
        default:
                return "unix-?";
        }
}

char *sv_addr_format(const SvAddr *a, char *buf, size_t len) {
        const char *scheme = sv_addr_scheme(a);
        char host[INET6_ADDRSTRLEN];

        if (len == 0)
                return buf;

        switch (a->family) {
        case AF_INET: {
                struct sockaddr_in sin;

                memcpy(&sin, &a->sa, sizeof(sin));
                if (!inet_ntop(AF_INET, &sin.sin_addr, host, sizeof(host)))
                        (void) snprintf(host, sizeof(host), "?");
                (void) snprintf(buf, len, "%s://%s:%u", scheme, host, (unsigned) ntohs(sin.sin_port));
                break;
        }
        case AF_INET6: {
                struct sockaddr_in6 sin6;
                char scope[16] = "";

                memcpy(&sin6, &a->sa, sizeof(sin6));
                if (!inet_ntop(AF_INET6, &sin6.sin6_addr, host, sizeof(host)))
                        (void) snprintf(host, sizeof(host), "?");
                /* numeric, like the parser accepts, so the output parses back */
                if (sin6.sin6_scope_id != 0)
                        (void) snprintf(scope, sizeof(scope), "%%%u", (unsigned) sin6.sin6_scope_id);
                (void) snprintf(buf, len, "%s://[%s%s]:%u", scheme, host, scope,
                                (unsigned) ntohs(sin6.sin6_port));
                break;
        }
        case AF_UNIX: {
                const struct sockaddr_un *sun = (const struct sockaddr_un *) &a->sa;
                size_t off = offsetof(struct sockaddr_un, sun_path);
                size_t n = a->salen > off ? a->salen - off : 0;

                if (n > sizeof(sun->sun_path))
                        n = sizeof(sun->sun_path);
                if (n == 0)
                        /* unbound or autobind not yet done: nothing to name, and not parseable */
                        (void) snprintf(buf, len, "%s:", scheme);
                else if (sun->sun_path[0] == '\0')
                        /* a NUL inside an abstract name ends the printed part; names we parse have none */
                        (void) snprintf(buf, len, "%s:@%.*s", scheme, (int) (n - 1), sun->sun_path + 1);
                else
                        (void) snprintf(buf, len, "%s:%.*s", scheme, (int) n, sun->sun_path);
                break;
        }
        default:
                (void) snprintf(buf, len, "unknown:family=%d", a->family);
                break;
        }

        return buf;
}

int sv_addr_from_sockaddr(const struct sockaddr *sa, socklen_t salen, int socktype, SvAddr *ret) {
        SvAddr a = { .socktype = socktype, .salen = salen };

        if (!sa || salen < sizeof(sa_family_t) || salen > sizeof(a.sa))
                return -EINVAL;

        switch (sa->sa_family) {
        case AF_INET:
        case AF_INET6:
                if (salen < (sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                                      : sizeof(struct sockaddr_in6)))
                        return -EINVAL;
                if (socktype == SOCK_STREAM)
                        a.kind = SV_ADDR_TCP;
                else if (socktype == SOCK_DGRAM)
                        a.kind = SV_ADDR_UDP;
                else
                        return -ESOCKTNOSUPPORT;
                break;
        case AF_UNIX:
                if (salen > sizeof(struct sockaddr_un))
                        return -EINVAL;
                if (socktype != SOCK_STREAM && socktype != SOCK_DGRAM && socktype != SOCK_SEQPACKET)
                        return -ESOCKTNOSUPPORT;
                a.kind = SV_ADDR_UNIX;
                a.abstract = salen > offsetof(struct sockaddr_un, sun_path) &&
                             ((const struct sockaddr_un *) sa)->sun_path[0] == '\0';
                break;
        default:
                return -EAFNOSUPPORT;
        }

        a.family = sa->sa_family;
        memcpy(&a.sa, sa, salen);
        *ret = a;
        return 0;
}

/* Length of the unix name in bytes: abstract names count to salen, paths stop at the NUL
 * (the kernel may or may not include the terminator in the length it returns). */
static size_t unix_name(const SvAddr *a, const char **ret) {
        const struct sockaddr_un *sun = (const struct sockaddr_un *) &a->sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t n = a->salen > off ? a->salen - off : 0;

        if (n > sizeof(sun->sun_path))
                n = sizeof(sun->sun_path);
        if (n > 0 && sun->sun_path[0] == '\0') {
                *ret = sun->sun_path + 1;
                return n - 1;
        }
        *ret = sun->sun_path;
        return strnlen(sun->sun_path, n);
}

bool sv_addr_equal(const SvAddr *a, const SvAddr *b) {
        if (a->family != b->family || a->socktype != b->socktype)
                return false;

        switch (a->family) {
        case AF_INET: {
                struct sockaddr_in x, y;

                memcpy(&x, &a->sa, sizeof(x));
                memcpy(&y, &b->sa, sizeof(y));
                return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
        }
        case AF_INET6: {
                struct sockaddr_in6 x, y;

                memcpy(&x, &a->sa, sizeof(x));
                memcpy(&y, &b->sa, sizeof(y));
                return x.sin6_port == y.sin6_port && x.sin6_scope_id == y.sin6_scope_id &&
                       memcmp(&x.sin6_addr, &y.sin6_addr, sizeof(x.sin6_addr)) == 0;
        }
        case AF_UNIX: {
                const char *na, *nb;
                size_t la, lb;

                if (a->abstract != b->abstract)
                        return false;
                la = unix_name(a, &na);
                lb = unix_name(b, &nb);
                return la == lb && memcmp(na, nb, la) == 0;
        }
        default:
                return false;
        }
}

unsigned sv_addr_port(const SvAddr *a) {
        switch (a->family) {
        case AF_INET: {
                struct sockaddr_in sin;

                memcpy(&sin, &a->sa, sizeof(sin));
                return ntohs(sin.sin_port);
        }
        case AF_INET6: {
                struct sockaddr_in6 sin6;

                memcpy(&sin6, &a->sa, sizeof(sin6));
                return ntohs(sin6.sin6_port);
        }
        default:
                return 0;
        }
}
