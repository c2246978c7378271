/* Unit tests for addr.c: every accepted form, every rejected form and its message, round trips. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "sockvisor/addr.h"

typedef struct ValidCase {
        const char *input;
        SvAddrKind kind;
        int family;
        int socktype;
        unsigned port;
        const char *canonical; /* what format() gives back; NULL means the input itself */
} ValidCase;

static const ValidCase valid_cases[] = {
        { "tcp://127.0.0.1:8080", SV_ADDR_TCP, AF_INET, SOCK_STREAM, 8080, NULL },
        { "tcp://0.0.0.0:80", SV_ADDR_TCP, AF_INET, SOCK_STREAM, 80, NULL },
        { "tcp://255.255.255.255:1", SV_ADDR_TCP, AF_INET, SOCK_STREAM, 1, NULL },
        { "tcp://127.0.0.1:0", SV_ADDR_TCP, AF_INET, SOCK_STREAM, 0, NULL },
        { "tcp://127.0.0.1:65535", SV_ADDR_TCP, AF_INET, SOCK_STREAM, 65535, NULL },
        { "tcp://127.0.0.1:00080", SV_ADDR_TCP, AF_INET, SOCK_STREAM, 80, "tcp://127.0.0.1:80" },
        { "tcp://[::]:80", SV_ADDR_TCP, AF_INET6, SOCK_STREAM, 80, NULL },
        { "tcp://[::1]:8080", SV_ADDR_TCP, AF_INET6, SOCK_STREAM, 8080, NULL },
        { "tcp://[2001:db8::1]:443", SV_ADDR_TCP, AF_INET6, SOCK_STREAM, 443, NULL },
        { "tcp://[2001:DB8:0:0:0:0:0:1]:443", SV_ADDR_TCP, AF_INET6, SOCK_STREAM, 443,
          "tcp://[2001:db8::1]:443" },
        { "tcp://[::ffff:10.0.0.1]:5", SV_ADDR_TCP, AF_INET6, SOCK_STREAM, 5, NULL },
        { "tcp://[fe80::1%2]:80", SV_ADDR_TCP, AF_INET6, SOCK_STREAM, 80, NULL },
        { "tcp://[::1]:0", SV_ADDR_TCP, AF_INET6, SOCK_STREAM, 0, NULL },
        { "tcp://[::1]:65535", SV_ADDR_TCP, AF_INET6, SOCK_STREAM, 65535, NULL },
        { "udp://127.0.0.1:53", SV_ADDR_UDP, AF_INET, SOCK_DGRAM, 53, NULL },
        { "udp://[::1]:5353", SV_ADDR_UDP, AF_INET6, SOCK_DGRAM, 5353, NULL },
        { "udp://0.0.0.0:0", SV_ADDR_UDP, AF_INET, SOCK_DGRAM, 0, NULL },
        { "unix:/run/app.sock", SV_ADDR_UNIX, AF_UNIX, SOCK_STREAM, 0, NULL },
        { "unix:/", SV_ADDR_UNIX, AF_UNIX, SOCK_STREAM, 0, NULL },
        { "unix:@sockvisor", SV_ADDR_UNIX, AF_UNIX, SOCK_STREAM, 0, NULL },
        { "unix:@a", SV_ADDR_UNIX, AF_UNIX, SOCK_STREAM, 0, NULL },
        { "unix-dgram:/run/app.sock", SV_ADDR_UNIX, AF_UNIX, SOCK_DGRAM, 0, NULL },
        { "unix-dgram:/", SV_ADDR_UNIX, AF_UNIX, SOCK_DGRAM, 0, NULL },
        { "unix-dgram:@log", SV_ADDR_UNIX, AF_UNIX, SOCK_DGRAM, 0, NULL },
        { "unix-seqpacket:/run/app.sock", SV_ADDR_UNIX, AF_UNIX, SOCK_SEQPACKET, 0, NULL },
        { "unix-seqpacket:@a", SV_ADDR_UNIX, AF_UNIX, SOCK_SEQPACKET, 0, NULL },
        /* a scheme is one word: what follows the first ':' is the path, even another scheme */
        { "unix:/unix-dgram:/x", SV_ADDR_UNIX, AF_UNIX, SOCK_STREAM, 0, NULL },
        { "unix-dgram:@unix:@x", SV_ADDR_UNIX, AF_UNIX, SOCK_DGRAM, 0, NULL },
};

static void test_valid_forms(void **state) {
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(valid_cases); i++) {
                const ValidCase *c = &valid_cases[i];
                SvDiag d = { 0 };
                SvAddr a;
                char buf[SV_ADDR_STRLEN];

                memset(&a, 0xaa, sizeof(a));
                if (sv_addr_parse(c->input, &a, &d) != 0)
                        fail_msg("'%s' was rejected: %s", c->input, d.msg);
                assert_int_equal(a.kind, c->kind);
                assert_int_equal(a.family, c->family);
                assert_int_equal(a.sa.ss_family, c->family);
                assert_int_equal(a.socktype, c->socktype);
                assert_int_equal(sv_addr_port(&a), c->port);
                assert_string_equal(sv_addr_format(&a, buf, sizeof(buf)),
                                    c->canonical ? c->canonical : c->input);

                /* the canonical text parses back to an equal address */
                SvAddr b;
                assert_int_equal(sv_addr_parse(buf, &b, &d), 0);
                assert_true(sv_addr_equal(&a, &b));
        }
}

static void test_ipv4_sockaddr(void **state) {
        SvAddr a;
        struct sockaddr_in sin;
        (void) state;

        assert_int_equal(sv_addr_parse("tcp://10.1.2.3:8080", &a, NULL), 0);
        assert_int_equal(a.salen, sizeof(struct sockaddr_in));
        memcpy(&sin, &a.sa, sizeof(sin));
        assert_int_equal(sin.sin_family, AF_INET);
        assert_int_equal(ntohs(sin.sin_port), 8080);
        assert_int_equal(ntohl(sin.sin_addr.s_addr), 0x0a010203);
        assert_false(a.abstract);
}

static void test_ipv6_sockaddr(void **state) {
        SvAddr a;
        struct sockaddr_in6 sin6;
        (void) state;

        assert_int_equal(sv_addr_parse("udp://[::1]:53", &a, NULL), 0);
        assert_int_equal(a.salen, sizeof(struct sockaddr_in6));
        memcpy(&sin6, &a.sa, sizeof(sin6));
        assert_int_equal(sin6.sin6_family, AF_INET6);
        assert_int_equal(ntohs(sin6.sin6_port), 53);
        assert_true(IN6_IS_ADDR_LOOPBACK(&sin6.sin6_addr));
        assert_int_equal(sin6.sin6_scope_id, 0);

        assert_int_equal(sv_addr_parse("tcp://[::]:80", &a, NULL), 0);
        memcpy(&sin6, &a.sa, sizeof(sin6));
        assert_true(IN6_IS_ADDR_UNSPECIFIED(&sin6.sin6_addr));

        assert_int_equal(sv_addr_parse("tcp://[fe80::1%7]:80", &a, NULL), 0);
        memcpy(&sin6, &a.sa, sizeof(sin6));
        assert_int_equal(sin6.sin6_scope_id, 7);
}

static void test_unix_path(void **state) {
        SvAddr a;
        const struct sockaddr_un *sun = (const struct sockaddr_un *) &a.sa;
        (void) state;

        assert_int_equal(sv_addr_parse("unix:/run/app.sock", &a, NULL), 0);
        assert_false(a.abstract);
        assert_int_equal(sun->sun_family, AF_UNIX);
        assert_string_equal(sun->sun_path, "/run/app.sock");
        assert_int_equal(a.salen, offsetof(struct sockaddr_un, sun_path) + strlen("/run/app.sock") + 1);
        assert_int_equal(sv_addr_port(&a), 0);
}

static void test_unix_path_longest(void **state) {
        char path[sizeof(((struct sockaddr_un *) NULL)->sun_path)];
        char in[sizeof(path) + 16], buf[SV_ADDR_STRLEN];
        SvAddr a;
        SvDiag d = { 0 };
        (void) state;

        /* sizeof(sun_path)-1 bytes leaves room for the NUL: the longest path that fits */
        memset(path, 'x', sizeof(path) - 1);
        path[0] = '/';
        path[sizeof(path) - 1] = '\0';
        (void) snprintf(in, sizeof(in), "unix:%s", path);
        assert_int_equal(sv_addr_parse(in, &a, &d), 0);
        assert_int_equal(a.salen, sizeof(struct sockaddr_un));
        assert_string_equal(sv_addr_format(&a, buf, sizeof(buf)), in);

        /* one byte more does not fit */
        (void) snprintf(in, sizeof(in), "unix:%sy", path);
        assert_int_equal(sv_addr_parse(in, &a, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "at most 107"));
}

static void test_unix_abstract(void **state) {
        SvAddr a;
        const struct sockaddr_un *sun = (const struct sockaddr_un *) &a.sa;
        (void) state;

        assert_int_equal(sv_addr_parse("unix:@sockvisor", &a, NULL), 0);
        assert_true(a.abstract);
        assert_int_equal(sun->sun_family, AF_UNIX);
        assert_int_equal(sun->sun_path[0], '\0');
        assert_memory_equal(sun->sun_path + 1, "sockvisor", strlen("sockvisor"));
        assert_int_equal(a.salen, offsetof(struct sockaddr_un, sun_path) + 1 + strlen("sockvisor"));
}

static void test_unix_abstract_longest(void **state) {
        char in[200], buf[SV_ADDR_STRLEN];
        size_t max = sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1;
        SvAddr a;
        SvDiag d = { 0 };
        (void) state;

        strcpy(in, "unix:@");
        memset(in + 6, 'n', max);
        in[6 + max] = '\0';
        assert_int_equal(sv_addr_parse(in, &a, &d), 0);
        assert_int_equal(a.salen, sizeof(struct sockaddr_un));
        assert_string_equal(sv_addr_format(&a, buf, sizeof(buf)), in);

        in[6 + max] = 'n';
        in[7 + max] = '\0';
        assert_int_equal(sv_addr_parse(in, &a, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "abstract"));
}

typedef struct ErrorCase {
        const char *input;
        const char *needles[3]; /* each must occur in the message */
} ErrorCase;

static const ErrorCase error_cases[] = {
        /* scheme */
        { "", { "empty address", "tcp://HOST:PORT" } },
        { "127.0.0.1:80", { "'127.0.0.1:80'", "no scheme", "tcp://HOST:PORT" } },
        { "localhost:80", { "no scheme", "unix:/PATH" } },
        { "/run/app.sock", { "no scheme", "unix:/run/app.sock" } },
        { "@name", { "no scheme", "unix:@name" } },
        { "http://127.0.0.1:80", { "unknown scheme 'http'", "tcp://HOST:PORT", "unix:@NAME" } },
        { "TCP://127.0.0.1:80", { "unknown scheme 'TCP'" } },
        { "sctp://127.0.0.1:80", { "unknown scheme 'sctp'" } },
        { "tcp:127.0.0.1:80", { "tcp://HOST:PORT" } },
        { "udp:[::1]:80", { "udp://HOST:PORT" } },
        /* port */
        { "tcp://127.0.0.1", { "'tcp://127.0.0.1'", "has no port", "tcp://127.0.0.1:8080" } },
        { "tcp://127.0.0.1:", { "has no port" } },
        { "tcp://[::1]", { "has no port", "[::1]" } },
        { "tcp://[::1]:", { "has no port" } },
        { "tcp://[::1]80", { "after ']'" } },
        { "udp://127.0.0.1", { "has no port", "udp://" } },
        { "tcp://127.0.0.1:65536", { "65536", "out of range", "0..65535" } },
        { "tcp://127.0.0.1:99999", { "99999", "out of range" } },
        { "tcp://127.0.0.1:+80", { "'+80'", "decimal", "no sign" } },
        { "tcp://127.0.0.1:-1", { "'-1'", "no sign" } },
        { "tcp://127.0.0.1:8o", { "'8o'", "decimal" } },
        { "tcp://127.0.0.1:http", { "'http'", "decimal" } },
        { "tcp://127.0.0.1:0x50", { "'0x50'", "decimal" } },
        { "tcp://127.0.0.1: 80", { "' 80'", "decimal" } },
        { "tcp://127.0.0.1:80 ", { "'80 '", "decimal" } },
        { "tcp://127.0.0.1:080808", { "'080808'", "more than 5 digits" } },
        { "tcp://127.0.0.1:100000", { "more than 5 digits" } },
        { "tcp://[::1]:65536", { "out of range" } },
        /* host */
        { "tcp://localhost:80",
          { "'tcp://localhost:80'", "must be an IP address", "names are not resolved" } },
        { "tcp://example.com:80", { "must be an IP address", "127.0.0.1", "[::1]" } },
        { "tcp://*:80", { "'*'", "0.0.0.0", "[::]" } },
        { "tcp://:80", { "empty host", "0.0.0.0", "[::]" } },
        { "udp://:53", { "empty host", "udp://0.0.0.0:53" } },
        { "tcp://[]:80", { "empty IPv6", "[::]" } },
        { "tcp://256.0.0.1:80", { "'256.0.0.1'", "not a valid IPv4" } },
        { "tcp://1.2.3:80", { "'1.2.3'", "not a valid IPv4" } },
        { "tcp://::1:80", { "brackets", "[::1]" } },
        { "tcp://::1", { "brackets" } },
        { "tcp://fe80::1:80", { "brackets" } },
        { "tcp://[::1:80", { "'['", "not closed", "tcp://[::1]:8080" } },
        { "tcp://[::1", { "not closed" } },
        { "tcp://[::g]:80", { "'::g'", "not a valid IPv6" } },
        { "tcp://[127.0.0.1]:80", { "not a valid IPv6" } },
        { "tcp://[fe80::1%eth0]:80", { "'%eth0'", "numeric interface index" } },
        { "tcp://[fe80::1%]:80", { "numeric interface index" } },
        { "tcp://[fe80::1%0]:80", { "numeric interface index" } },
        /* unix */
        { "unix:run/app.sock", { "'unix:run/app.sock'", "absolute", "unix:/run/app.sock" } },
        { "unix:", { "absolute" } },
        { "unix:./app.sock", { "absolute" } },
        { "unix:@", { "abstract socket name is empty", "unix:@NAME" } },
        /* the other unix kinds: the message names the scheme that was written */
        { "unix-dgram:", { "'unix-dgram:'", "absolute", "unix-dgram:/run/app.sock" } },
        { "unix-dgram:run/log.sock", { "absolute", "unix-dgram:/run/app.sock", "unix-dgram:@NAME" } },
        { "unix-seqpacket:x", { "absolute", "unix-seqpacket:/run/app.sock" } },
        { "unix-dgram:@", { "abstract socket name is empty", "unix-dgram:@NAME" } },
        { "unix-seqpacket:@", { "abstract socket name is empty", "unix-seqpacket:@NAME" } },
        { "unix-seqpacket", { "no scheme", "unix-seqpacket:/PATH" } },
        /* a bad scheme: every valid one is listed */
        { "unix-stream:/run/a.sock", { "unknown scheme 'unix-stream'", "unix-dgram:/PATH", "unix-seqpacket:@NAME" } },
        { "unix-datagram:@log", { "unknown scheme 'unix-datagram'", "unix-dgram:/PATH" } },
        { "UNIX:/run/a.sock", { "unknown scheme 'UNIX'", "unix:/PATH" } },
        { "unixdgram:/run/a.sock", { "unknown scheme 'unixdgram'" } },
        { "/run/app.sock", { "unix-dgram:/run/app.sock", "unix-seqpacket:/run/app.sock" } },
};

/* Every message about a bad scheme lists every valid scheme, each in its path and its
 * abstract form. */
static void test_bad_scheme_lists_every_scheme(void **state) {
        static const char *const inputs[] = { "http://127.0.0.1:80", "unix-stream:/a", "", "localhost:80",
                                              "sctp://[::1]:9", "unixdgram:@x" };
        static const char *const forms[] = { "tcp://HOST:PORT", "udp://HOST:PORT",   "unix:/PATH",
                                             "unix-dgram:/PATH", "unix-seqpacket:/PATH", "unix:@NAME",
                                             "unix-dgram:@NAME", "unix-seqpacket:@NAME" };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                SvDiag d = { 0 };
                SvAddr a;

                assert_int_equal(sv_addr_parse(inputs[i], &a, &d), -EINVAL);
                for (size_t j = 0; j < ELEMENTSOF(forms); j++)
                        if (!strstr(d.msg, forms[j]))
                                fail_msg("'%s': message \"%s\" lacks \"%s\"", inputs[i], d.msg, forms[j]);
        }
}

static void test_unix_kinds(void **state) {
        static const struct {
                const char *input;
                int socktype;
                bool abstract;
                const char *scheme, *kind;
        } cases[] = {
                { "unix:/run/s", SOCK_STREAM, false, "unix", "unix-stream" },
                { "unix:@s", SOCK_STREAM, true, "unix", "unix-stream" },
                { "unix-dgram:/run/s", SOCK_DGRAM, false, "unix-dgram", "unix-dgram" },
                { "unix-dgram:@s", SOCK_DGRAM, true, "unix-dgram", "unix-dgram" },
                { "unix-seqpacket:/run/s", SOCK_SEQPACKET, false, "unix-seqpacket", "unix-seqpacket" },
                { "unix-seqpacket:@s", SOCK_SEQPACKET, true, "unix-seqpacket", "unix-seqpacket" },
                { "tcp://127.0.0.1:1", SOCK_STREAM, false, "tcp", "tcp" },
                { "udp://127.0.0.1:1", SOCK_DGRAM, false, "udp", "udp" },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                SvAddr a;
                const struct sockaddr_un *sun = (const struct sockaddr_un *) &a.sa;
                const char *name = strchr(cases[i].input, ':') + 1;

                assert_int_equal(sv_addr_parse(cases[i].input, &a, NULL), 0);
                assert_int_equal(a.socktype, cases[i].socktype);
                assert_string_equal(sv_addr_scheme(&a), cases[i].scheme);
                assert_string_equal(sv_addr_kind_name(&a), cases[i].kind);
                if (a.family != AF_UNIX)
                        continue;
                assert_int_equal(a.kind, SV_ADDR_UNIX);
                assert_int_equal(a.abstract, cases[i].abstract);
                assert_int_equal(sv_addr_port(&a), 0);
                if (cases[i].abstract) {
                        assert_int_equal(sun->sun_path[0], '\0');
                        assert_memory_equal(sun->sun_path + 1, name + 1, strlen(name + 1));
                        assert_int_equal(a.salen, offsetof(struct sockaddr_un, sun_path) + strlen(name));
                } else {
                        assert_string_equal(sun->sun_path, name);
                        assert_int_equal(a.salen, offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1);
                }
        }
}

/* The longest name of the longest scheme still formats in full and parses back. */
static void test_unix_seqpacket_longest(void **state) {
        size_t max = sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1;
        char in[300], buf[SV_ADDR_STRLEN];
        const char *prefixes[] = { "unix-seqpacket:@", "unix-seqpacket:/", "unix-dgram:@" };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
                size_t p = strlen(prefixes[i]);
                SvAddr a, b;
                SvDiag d = { 0 };

                strcpy(in, prefixes[i]);
                /* a path keeps its '/' and needs room for its NUL: max bytes in all */
                memset(in + p, 'q', in[p - 1] == '@' ? max : max - 1);
                in[p + (in[p - 1] == '@' ? max : max - 1)] = '\0';
                assert_int_equal(sv_addr_parse(in, &a, &d), 0);
                assert_string_equal(sv_addr_format(&a, buf, sizeof(buf)), in);
                assert_int_equal(sv_addr_parse(buf, &b, &d), 0);
                assert_true(sv_addr_equal(&a, &b));
                strcat(in, "q");
                assert_int_equal(sv_addr_parse(in, &a, &d), -EINVAL);
                assert_non_null(strstr(d.msg, "at most 107"));
        }
}

static void test_errors(void **state) {
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(error_cases); i++) {
                const ErrorCase *c = &error_cases[i];
                SvDiag d = { .line = 99 };
                SvAddr a, untouched;

                memset(&a, 0x5a, sizeof(a));
                memcpy(&untouched, &a, sizeof(a));
                if (sv_addr_parse(c->input, &a, &d) != -EINVAL)
                        fail_msg("'%s' was accepted", c->input);
                assert_memory_equal(&a, &untouched, sizeof(a));
                assert_int_equal(d.line, 0);
                for (size_t j = 0; j < ELEMENTSOF(c->needles) && c->needles[j]; j++) {
                        if (!strstr(d.msg, c->needles[j]))
                                fail_msg("'%s': message \"%s\" lacks \"%s\"", c->input, d.msg, c->needles[j]);
                }
        }
}

static void test_unix_too_long(void **state) {
        char in[400];
        SvDiag d = { 0 };
        SvAddr a;
        (void) state;

        strcpy(in, "unix:/");
        memset(in + 6, 'p', 200);
        in[206] = '\0';
        assert_int_equal(sv_addr_parse(in, &a, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "unix socket path is 201 bytes"));
        assert_non_null(strstr(d.msg, "sun_path"));
}

static void test_null_diag(void **state) {
        SvAddr a;
        (void) state;

        /* the diag is optional: errors still return -EINVAL */
        assert_int_equal(sv_addr_parse("tcp://nope:1", &a, NULL), -EINVAL);
}

static void test_from_sockaddr_in(void **state) {
        struct sockaddr_in sin = {
                .sin_family = AF_INET,
                .sin_port = htons(4242),
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
        };
        SvAddr a, p;
        char buf[SV_ADDR_STRLEN];
        (void) state;

        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &sin, sizeof(sin), SOCK_STREAM, &a), 0);
        assert_int_equal(a.kind, SV_ADDR_TCP);
        assert_int_equal(a.family, AF_INET);
        assert_int_equal(a.socktype, SOCK_STREAM);
        assert_int_equal(a.salen, sizeof(sin));
        assert_false(a.abstract);
        assert_int_equal(sv_addr_port(&a), 4242);
        assert_string_equal(sv_addr_format(&a, buf, sizeof(buf)), "tcp://127.0.0.1:4242");

        assert_int_equal(sv_addr_parse("tcp://127.0.0.1:4242", &p, NULL), 0);
        assert_true(sv_addr_equal(&a, &p));

        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &sin, sizeof(sin), SOCK_DGRAM, &a), 0);
        assert_int_equal(a.kind, SV_ADDR_UDP);
        assert_string_equal(sv_addr_format(&a, buf, sizeof(buf)), "udp://127.0.0.1:4242");
        assert_false(sv_addr_equal(&a, &p)); /* same address and port, other type */

        /* too short, unknown type, unknown family */
        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &sin, sizeof(sin) - 1, SOCK_STREAM, &a),
                         -EINVAL);
        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &sin, sizeof(sin), SOCK_RAW, &a),
                         -ESOCKTNOSUPPORT);
        sin.sin_family = AF_APPLETALK;
        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &sin, sizeof(sin), SOCK_STREAM, &a),
                         -EAFNOSUPPORT);
}

static void test_from_sockaddr_in6(void **state) {
        struct sockaddr_in6 sin6 = {
                .sin6_family = AF_INET6,
                .sin6_port = htons(8443),
                .sin6_addr = IN6ADDR_LOOPBACK_INIT,
        };
        SvAddr a, p;
        char buf[SV_ADDR_STRLEN];
        (void) state;

        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &sin6, sizeof(sin6), SOCK_STREAM, &a), 0);
        assert_string_equal(sv_addr_format(&a, buf, sizeof(buf)), "tcp://[::1]:8443");
        assert_int_equal(sv_addr_parse(buf, &p, NULL), 0);
        assert_true(sv_addr_equal(&a, &p));

        sin6.sin6_scope_id = 3;
        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &sin6, sizeof(sin6), SOCK_STREAM, &a), 0);
        assert_string_equal(sv_addr_format(&a, buf, sizeof(buf)), "tcp://[::1%3]:8443");
        assert_false(sv_addr_equal(&a, &p)); /* the scope is part of the address */
}

static void test_from_sockaddr_un(void **state) {
        struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/run/x.sock" };
        struct sockaddr_un abs = { .sun_family = AF_UNIX };
        SvAddr a, p;
        char buf[SV_ADDR_STRLEN];
        socklen_t len;
        (void) state;

        /* getsockname() may report the path with or without its NUL: both are the same socket */
        len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(sun.sun_path));
        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &sun, len, SOCK_STREAM, &a), 0);
        assert_int_equal(a.kind, SV_ADDR_UNIX);
        assert_false(a.abstract);
        assert_string_equal(sv_addr_format(&a, buf, sizeof(buf)), "unix:/run/x.sock");
        assert_int_equal(sv_addr_parse("unix:/run/x.sock", &p, NULL), 0);
        assert_true(sv_addr_equal(&a, &p));
        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &sun, sizeof(sun), SOCK_STREAM, &a), 0);
        assert_true(sv_addr_equal(&a, &p));

        memcpy(abs.sun_path + 1, "abc", 3);
        len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 4);
        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &abs, len, SOCK_STREAM, &a), 0);
        assert_true(a.abstract);
        assert_string_equal(sv_addr_format(&a, buf, sizeof(buf)), "unix:@abc");
        assert_int_equal(sv_addr_parse("unix:@abc", &p, NULL), 0);
        assert_true(sv_addr_equal(&a, &p));
        assert_int_equal(sv_addr_parse("unix:@abcd", &p, NULL), 0);
        assert_false(sv_addr_equal(&a, &p));
        assert_int_equal(sv_addr_parse("unix:/abc", &p, NULL), 0);
        assert_false(sv_addr_equal(&a, &p)); /* abstract "abc" is not the path "/abc" */

        /* datagram unix sockets keep their type and stay unequal to stream ones */
        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &abs, len, SOCK_DGRAM, &a), 0);
        assert_int_equal(a.socktype, SOCK_DGRAM);
        assert_int_equal(sv_addr_parse("unix:@abc", &p, NULL), 0);
        assert_false(sv_addr_equal(&a, &p));
        assert_string_equal(sv_addr_format(&a, buf, sizeof(buf)), "unix-dgram:@abc");
        assert_int_equal(sv_addr_parse("unix-dgram:@abc", &p, NULL), 0);
        assert_true(sv_addr_equal(&a, &p));

        /* what getsockname() gives for a seqpacket or datagram path socket formats with its kind */
        len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(sun.sun_path) + 1);
        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &sun, len, SOCK_SEQPACKET, &a), 0);
        assert_string_equal(sv_addr_format(&a, buf, sizeof(buf)), "unix-seqpacket:/run/x.sock");
        assert_int_equal(sv_addr_parse(buf, &p, NULL), 0);
        assert_true(sv_addr_equal(&a, &p));
        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &sun, len, SOCK_DGRAM, &a), 0);
        assert_string_equal(sv_addr_format(&a, buf, sizeof(buf)), "unix-dgram:/run/x.sock");
        assert_int_equal(sv_addr_parse("unix-seqpacket:/run/x.sock", &p, NULL), 0);
        assert_false(sv_addr_equal(&a, &p));
        /* no unix kind but these three */
        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &sun, len, SOCK_RAW, &a), -ESOCKTNOSUPPORT);
}

static void test_equal(void **state) {
        static const struct {
                const char *a, *b;
                bool equal;
        } cases[] = {
                { "tcp://127.0.0.1:80", "tcp://127.0.0.1:80", true },
                { "tcp://127.0.0.1:80", "tcp://127.0.0.1:00080", true },
                { "tcp://127.0.0.1:80", "tcp://127.0.0.1:81", false },
                { "tcp://127.0.0.1:80", "tcp://127.0.0.2:80", false },
                { "tcp://127.0.0.1:80", "udp://127.0.0.1:80", false },
                { "tcp://0.0.0.0:80", "tcp://[::]:80", false },
                { "tcp://[::1]:80", "tcp://[0:0:0:0:0:0:0:1]:80", true },
                { "tcp://[::1]:80", "tcp://[::2]:80", false },
                { "unix:/a", "unix:/a", true },
                { "unix:/a", "unix:/b", false },
                { "unix:/a", "unix:/a/", false },
                { "unix:@a", "unix:@a", true },
                { "unix:@a", "unix:/a", false },
                { "unix:@a", "unix:@ab", false },
                /* a change of kind is another address, as a change of path is */
                { "unix:/a", "unix-dgram:/a", false },
                { "unix:/a", "unix-seqpacket:/a", false },
                { "unix-dgram:/a", "unix-seqpacket:/a", false },
                { "unix-dgram:/a", "unix-dgram:/a", true },
                { "unix-seqpacket:/a", "unix-seqpacket:/a", true },
                { "unix:@a", "unix-dgram:@a", false },
                { "unix-seqpacket:@a", "unix-seqpacket:@a", true },
                { "unix-dgram:@a", "unix-dgram:/a", false },
        };
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                SvAddr a, b;

                assert_int_equal(sv_addr_parse(cases[i].a, &a, NULL), 0);
                assert_int_equal(sv_addr_parse(cases[i].b, &b, NULL), 0);
                if (sv_addr_equal(&a, &b) != cases[i].equal || sv_addr_equal(&b, &a) != cases[i].equal)
                        fail_msg("'%s' vs '%s': expected %s", cases[i].a, cases[i].b,
                                 cases[i].equal ? "equal" : "different");
        }
}

static void test_format_truncates(void **state) {
        SvAddr a;
        char buf[8];
        (void) state;

        assert_int_equal(sv_addr_parse("tcp://127.0.0.1:8080", &a, NULL), 0);
        memset(buf, 'z', sizeof(buf));
        assert_ptr_equal(sv_addr_format(&a, buf, sizeof(buf)), buf);
        assert_string_equal(buf, "tcp://1");
        assert_ptr_equal(sv_addr_format(&a, buf, 0), buf); /* nothing written, no crash */
}

static void test_format_longest_fits(void **state) {
        /* SV_ADDR_STRLEN holds the longest tcp/udp form the formatter can produce */
        struct sockaddr_in6 sin6 = {
                .sin6_family = AF_INET6,
                .sin6_port = htons(65535),
                .sin6_scope_id = UINT32_MAX,
        };
        SvAddr a;
        char buf[SV_ADDR_STRLEN];
        (void) state;

        memset(&sin6.sin6_addr, 0xff, sizeof(sin6.sin6_addr));
        sin6.sin6_addr.s6_addr[15] = 0xfe;
        assert_int_equal(sv_addr_from_sockaddr((struct sockaddr *) &sin6, sizeof(sin6), SOCK_DGRAM, &a), 0);
        assert_string_equal(sv_addr_format(&a, buf, sizeof(buf)),
                            "udp://[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe%4294967295]:65535");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid_forms),
                cmocka_unit_test(test_ipv4_sockaddr),
                cmocka_unit_test(test_ipv6_sockaddr),
                cmocka_unit_test(test_unix_path),
                cmocka_unit_test(test_unix_path_longest),
                cmocka_unit_test(test_unix_abstract),
                cmocka_unit_test(test_unix_abstract_longest),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_bad_scheme_lists_every_scheme),
                cmocka_unit_test(test_unix_kinds),
                cmocka_unit_test(test_unix_seqpacket_longest),
                cmocka_unit_test(test_unix_too_long),
                cmocka_unit_test(test_null_diag),
                cmocka_unit_test(test_from_sockaddr_in),
                cmocka_unit_test(test_from_sockaddr_in6),
                cmocka_unit_test(test_from_sockaddr_un),
                cmocka_unit_test(test_equal),
                cmocka_unit_test(test_format_truncates),
                cmocka_unit_test(test_format_longest_fits),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
