/* Unit tests for doctor_core.c: query parsing, address overlap, sock_diag parsing of
 * hand-built netlink replies, /proc text, and the diagnosis of hand-built socket lists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/doctor.h"

/* ---------------------------------------------------------------- helpers */

static SvDoctorQuery query(const char *s) {
        SvDoctorQuery q;
        SvDiag d = { 0 };

        if (sv_doctor_query_parse(s, &q, &d) != 0)
                fail_msg("'%s' rejected: %s", s, d.msg);
        return q;
}

static SvSockRec tcp(const char *ip, unsigned port, unsigned state, uint64_t inode) {
        SvSockRec r = { .protocol = IPPROTO_TCP, .socktype = SOCK_STREAM, .state = state, .lport = (uint16_t) port,
                        .inode = inode, .v6only = -1 };

        if (strchr(ip, ':')) {
                r.family = AF_INET6;
                assert_int_equal(inet_pton(AF_INET6, ip, r.laddr), 1);
        } else {
                r.family = AF_INET;
                assert_int_equal(inet_pton(AF_INET, ip, r.laddr), 1);
        }
        r.rport = 40000;
        (void) inet_pton(r.family, r.family == AF_INET ? "127.0.0.1" : "::1", r.raddr);
        return r;
}

static SvSockHolder holder(uint64_t inode, pid_t pid, const char *comm, const char *cmd) {
        SvSockHolder h = { .inode = inode, .pid = pid };

        snprintf(h.comm, sizeof(h.comm), "%s", comm);
        snprintf(h.cmdline, sizeof(h.cmdline), "%s", cmd);
        return h;
}

static void set_probe(SvDoctorFacts *f, int plain, int reuse) {
        f->probes[0] = (SvBindProbe) { .addr = f->query.addr, .tried = true, .plain = plain, .reuseaddr = reuse };
        f->n_probes = 1;
}

/* Diagnoses f, checks the text contains every needle, returns the report (caller frees). */
static SvDoctorReport run(const SvDoctorFacts *f, const char *const *needles) {
        SvDoctorReport rep = { 0 };
        char *text, *json;

        assert_int_equal(sv_doctor_diagnose(f, &rep), 0);
        text = sv_doctor_format_text(f, &rep);
        json = sv_doctor_format_json(f, &rep);
        assert_non_null(text);
        assert_non_null(json);
        for (; needles && *needles; needles++)
                if (!strstr(text, *needles))
                        fail_msg("'%s' not in:\n%s", *needles, text);
        assert_true(json[0] == '{' && json[strlen(json) - 2] == '}');
        free(text);
        free(json);
        return rep;
}

/* ---------------------------------------------------------------- query */

static void test_query_parse(void **state) {
        SvDoctorQuery q;
        SvDiag d = { 0 };

        (void) state;
        q = query("8080");
        assert_true(q.bare_port);
        assert_int_equal(q.port, 8080);
        assert_int_equal(q.addr.family, AF_INET6);
        q = query("65535");
        assert_int_equal(q.port, 65535);
        q = query("tcp://127.0.0.1:80");
        assert_false(q.bare_port);
        assert_int_equal(q.port, 80);
        q = query("udp://[::1]:53");
        assert_int_equal(q.addr.kind, SV_ADDR_UDP);
        q = query("unix:/run/x.sock");
        assert_int_equal(q.addr.kind, SV_ADDR_UNIX);
        q = query("unix:@abs");
        assert_true(q.addr.abstract);

        assert_int_equal(sv_doctor_query_parse("0", &q, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "port 0"));
        assert_int_equal(sv_doctor_query_parse("65536", &q, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "1-65535"));
        assert_int_equal(sv_doctor_query_parse("123456", &q, &d), -EINVAL);
        assert_int_equal(sv_doctor_query_parse("tcp://127.0.0.1:0", &q, &d), -EINVAL);
        assert_int_equal(sv_doctor_query_parse("http://x", &q, &d), -EINVAL);
        assert_non_null(strstr(d.msg, "bare port"));
        assert_int_equal(sv_doctor_query_parse("", &q, &d), -EINVAL);
}

/* ---------------------------------------------------------------- overlap */

static void test_overlaps(void **state) {
        const char *c;
        SvDoctorQuery q4 = query("tcp://127.0.0.1:80"), qany4 = query("tcp://0.0.0.0:80"), q6 = query("tcp://[::1]:80"),
                      qany6 = query("tcp://[::]:80"), bare = query("80"), u = query("udp://127.0.0.1:80");
        SvSockRec r;

        (void) state;
        r = tcp("127.0.0.1", 80, SV_TCP_LISTEN, 1);
        assert_true(sv_doctor_overlaps(&q4, &r, &c));
        assert_string_equal(c, "exact");
        assert_true(sv_doctor_overlaps(&qany4, &r, &c));
        assert_string_equal(c, "specific");
        assert_true(sv_doctor_overlaps(&bare, &r, &c));
        assert_string_equal(c, "port");
        assert_false(sv_doctor_overlaps(&q6, &r, NULL));
        assert_true(sv_doctor_overlaps(&qany6, &r, &c)); /* [::] dual-stack takes IPv4 too */
        assert_string_equal(c, "dual-stack");
        assert_false(sv_doctor_overlaps(&u, &r, NULL)); /* udp is another port space */

        r = tcp("0.0.0.0", 80, SV_TCP_LISTEN, 1);
        assert_true(sv_doctor_overlaps(&q4, &r, &c));
        assert_string_equal(c, "wildcard");

        r = tcp("127.0.0.2", 80, SV_TCP_LISTEN, 1);
        assert_false(sv_doctor_overlaps(&q4, &r, NULL));
        r = tcp("127.0.0.1", 81, SV_TCP_LISTEN, 1);
        assert_false(sv_doctor_overlaps(&q4, &r, NULL));

        r = tcp("::", 80, SV_TCP_LISTEN, 1);
        assert_true(sv_doctor_overlaps(&q4, &r, &c));
        assert_string_equal(c, "dual-stack");
        r.v6only = 1;
        assert_false(sv_doctor_overlaps(&q4, &r, NULL));
        assert_true(sv_doctor_overlaps(&q6, &r, &c));
        assert_string_equal(c, "wildcard");

        r = tcp("::ffff:127.0.0.1", 80, SV_TCP_TIME_WAIT, 0); /* v4 connection on a dual-stack listener */
        assert_true(sv_doctor_overlaps(&q4, &r, &c));
        assert_string_equal(c, "exact");
        assert_false(sv_doctor_overlaps(&q6, &r, NULL));
}

/* ---------------------------------------------------------------- sock_diag parsing */

typedef struct Got {
        SvSockRec r[8];
        size_t n;
} Got;

static int got_cb(const SvSockRec *s, void *u) {
        Got *g = u;

        if (g->n < ELEMENTSOF(g->r))
                g->r[g->n++] = *s;
        return 0;
}

static size_t put_inet(uint8_t *p, int family, unsigned state, const char *src, unsigned sport, uint32_t inode,
                       uint32_t expires, int v6only) {
        struct nlmsghdr h = { .nlmsg_type = SOCK_DIAG_BY_FAMILY };
        struct inet_diag_msg m = { .idiag_family = (uint8_t) family, .idiag_state = (uint8_t) state };
        size_t len = NLMSG_LENGTH(sizeof(m));

        m.id.idiag_sport = htons((uint16_t) sport);
        m.id.idiag_dport = htons(50000);
        assert_int_equal(inet_pton(family, src, m.id.idiag_src), 1);
        m.idiag_inode = inode;
        m.idiag_uid = 1000;
        m.idiag_expires = expires;
        m.idiag_timer = state == SV_TCP_TIME_WAIT ? 3 : 0;
        m.idiag_rqueue = state == SV_TCP_LISTEN ? 5 : 0; /* a listener: its accept queue and backlog */
        m.idiag_wqueue = state == SV_TCP_LISTEN ? 4096 : 0;
        memcpy(p + NLMSG_HDRLEN, &m, sizeof(m));
        if (v6only >= 0) {
                struct rtattr a = { .rta_len = RTA_LENGTH(1), .rta_type = INET_DIAG_SKV6ONLY };
                uint8_t *ap = p + NLMSG_ALIGN(len);

                memcpy(ap, &a, sizeof(a));
                ap[RTA_LENGTH(0)] = (uint8_t) v6only;
                len = NLMSG_ALIGN(len) + RTA_ALIGN(a.rta_len);
        }
        h.nlmsg_len = (uint32_t) len;
        memcpy(p, &h, sizeof(h));
        return NLMSG_ALIGN(len);
}

static size_t put_done(uint8_t *p) {
        struct nlmsghdr h = { .nlmsg_type = NLMSG_DONE, .nlmsg_len = NLMSG_LENGTH(sizeof(int)) };

        memcpy(p, &h, sizeof(h));
        memset(p + NLMSG_HDRLEN, 0, sizeof(int));
        return NLMSG_ALIGN(h.nlmsg_len);
}

static void test_walk_inet(void **state) {
        _Alignas(8) uint8_t buf[1024] = { 0 };
        size_t len = 0;
        Got g = { 0 };

        (void) state;
        len += put_inet(buf + len, AF_INET, SV_TCP_LISTEN, "127.0.0.1", 8080, 111, 0, -1);
        len += put_inet(buf + len, AF_INET6, SV_TCP_LISTEN, "::", 8080, 222, 0, 1);
        len += put_inet(buf + len, AF_INET, SV_TCP_TIME_WAIT, "127.0.0.1", 8080, 0, 41000, -1);

        /* No DONE yet: more is to come. */
        assert_int_equal(sv_sockdiag_walk(buf, len, AF_INET, IPPROTO_TCP, got_cb, &g), 0);
        assert_int_equal(g.n, 3);
        len += put_done(buf + len);
        g.n = 0;
        assert_int_equal(sv_sockdiag_walk(buf, len, AF_INET, IPPROTO_TCP, got_cb, &g), 1);
        assert_int_equal(g.n, 3);

        assert_int_equal(g.r[0].family, AF_INET);
        assert_int_equal(g.r[0].protocol, IPPROTO_TCP);
        assert_int_equal(g.r[0].state, SV_TCP_LISTEN);
        assert_int_equal(g.r[0].lport, 8080);
        assert_true(g.r[0].has_queues);
        assert_int_equal(g.r[0].rqueue, 5);
        assert_int_equal(g.r[0].wqueue, 4096);
        assert_int_equal(g.r[0].rport, 50000);
        assert_int_equal(g.r[0].inode, 111);
        assert_int_equal(g.r[0].uid, 1000);
        assert_int_equal(g.r[0].v6only, -1);
        assert_int_equal(g.r[1].family, AF_INET6);
        assert_int_equal(g.r[1].v6only, 1);
        assert_int_equal(g.r[2].state, SV_TCP_TIME_WAIT);
        assert_int_equal(g.r[2].expires_ms, 41000);
        assert_int_equal(g.r[2].inode, 0);

        /* Truncated: the header claims more than there is. */
        assert_int_equal(sv_sockdiag_walk(buf, 20, AF_INET, IPPROTO_TCP, got_cb, &g), -EBADMSG);
}

static void test_walk_error(void **state) {
        _Alignas(8) uint8_t buf[128] = { 0 };
        struct nlmsghdr h = { .nlmsg_type = NLMSG_ERROR, .nlmsg_len = NLMSG_LENGTH(sizeof(struct nlmsgerr)) };
        int err = -ENOENT;
        Got g = { 0 };

        (void) state;
        memcpy(buf, &h, sizeof(h));
        memcpy(buf + NLMSG_HDRLEN, &err, sizeof(err));
        assert_int_equal(sv_sockdiag_walk(buf, NLMSG_ALIGN(h.nlmsg_len), AF_INET6, IPPROTO_UDP, got_cb, &g), -ENOENT);
        assert_int_equal(g.n, 0);
}

static void test_walk_unix(void **state) {
        _Alignas(8) uint8_t buf[512] = { 0 };
        struct nlmsghdr h = { .nlmsg_type = SOCK_DIAG_BY_FAMILY };
        struct unix_diag_msg m = { .udiag_family = AF_UNIX, .udiag_type = SOCK_STREAM,
                                   .udiag_state = SV_TCP_LISTEN, .udiag_ino = 4242 };
        struct unix_diag_vfs v = { .udiag_vfs_ino = 77, .udiag_vfs_dev = 254u << 20 };
        static const char name[] = "\0my-abstract";
        size_t len = NLMSG_ALIGN(NLMSG_LENGTH(sizeof(m)));
        struct rtattr a;
        Got g = { 0 };

        (void) state;
        memcpy(buf + NLMSG_HDRLEN, &m, sizeof(m));
        a = (struct rtattr) { .rta_len = RTA_LENGTH(sizeof(name) - 1), .rta_type = UNIX_DIAG_NAME };
        memcpy(buf + len, &a, sizeof(a));
        memcpy(buf + len + RTA_LENGTH(0), name, sizeof(name) - 1);
        len += RTA_ALIGN(a.rta_len);
        a = (struct rtattr) { .rta_len = RTA_LENGTH(sizeof(v)), .rta_type = UNIX_DIAG_VFS };
        memcpy(buf + len, &a, sizeof(a));
        memcpy(buf + len + RTA_LENGTH(0), &v, sizeof(v));
        len += RTA_ALIGN(a.rta_len);
        /* a listener's accept queue: 3 waiting, room for 128 (metrics) */
        struct unix_diag_rqlen q = { .udiag_rqueue = 3, .udiag_wqueue = 128 };
        a = (struct rtattr) { .rta_len = RTA_LENGTH(sizeof(q)), .rta_type = UNIX_DIAG_RQLEN };
        memcpy(buf + len, &a, sizeof(a));
        memcpy(buf + len + RTA_LENGTH(0), &q, sizeof(q));
        len += RTA_ALIGN(a.rta_len);
        h.nlmsg_len = (uint32_t) len;
        memcpy(buf, &h, sizeof(h));
        len += put_done(buf + len);

        assert_int_equal(sv_sockdiag_walk(buf, len, AF_UNIX, 0, got_cb, &g), 1);
        assert_int_equal(g.n, 1);
        assert_int_equal(g.r[0].family, AF_UNIX);
        assert_int_equal(g.r[0].inode, 4242);
        assert_int_equal(g.r[0].state, SV_TCP_LISTEN);
        assert_true(g.r[0].has_name);
        assert_true(g.r[0].abstract);
        assert_string_equal(g.r[0].path, "my-abstract");
        assert_true(g.r[0].has_vfs);
        assert_int_equal(g.r[0].vfs_ino, 77);
        assert_int_equal(g.r[0].vfs_dev, 254u << 20);
        assert_true(g.r[0].has_queues);
        assert_int_equal(g.r[0].rqueue, 3);
        assert_int_equal(g.r[0].wqueue, 128);
}

/* ---------------------------------------------------------------- /proc text */

static void test_proc_text(void **state) {
        char out[16];
        static const char raw[] = "python3\0-m\0http.server\0";

        (void) state;
        assert_int_equal(sv_doctor_parse_socket_link("socket:[12345]", 14), 12345);
        assert_int_equal(sv_doctor_parse_socket_link("socket:[]", 9), 0);
        assert_int_equal(sv_doctor_parse_socket_link("socket:[12a]", 12), 0);
        assert_int_equal(sv_doctor_parse_socket_link("pipe:[12345]", 12), 0);
        assert_int_equal(sv_doctor_parse_socket_link("/dev/null", 9), 0);

        char big[64];
        sv_doctor_cmdline_clean(raw, sizeof(raw), big, sizeof(big));
        assert_string_equal(big, "python3 -m http.server");
        sv_doctor_cmdline_clean(raw, sizeof(raw), out, sizeof(out));
        assert_string_equal(out, "python3 -m h...");
        sv_doctor_cmdline_clean("a\nb\x1b", 4, out, sizeof(out));
        assert_string_equal(out, "a?b?");
        sv_doctor_cmdline_clean("", 0, out, sizeof(out));
        assert_string_equal(out, "");
}

/* ---------------------------------------------------------------- diagnosis */

static void test_listener_exact(void **state) {
        SvSockRec s[] = { tcp("127.0.0.1", 8080, SV_TCP_LISTEN, 500) };
        SvSockHolder h[] = { holder(500, 1234, "python3", "python3 -m http.server 8080") };
        SvDoctorFacts f = { .query = query("tcp://127.0.0.1:8080"), .socks = s, .n_socks = 1, .holders = h,
                            .n_holders = 1, .my_uid = 1000 };
        static const char *const needles[] = { "in use", "pid 1234 (python3 -m http.server 8080)",
                                               "listens on tcp://127.0.0.1:8080", "fix: stop pid 1234 (kill 1234)",
                                               NULL };
        SvDoctorReport rep;

        (void) state;
        set_probe(&f, -EADDRINUSE, -EADDRINUSE);
        rep = run(&f, needles);
        assert_true(rep.blocked);
        assert_int_equal(rep.n_findings, 1);
        assert_int_equal(rep.findings[0].kind, SV_FIND_LISTENER);
        assert_string_equal(rep.findings[0].conflict, "exact");
        assert_int_equal(rep.findings[0].n_pids, 1);
        assert_int_equal(rep.findings[0].pids[0], 1234);
        sv_doctor_report_done(&rep);
}

static void test_listener_wildcard_forked(void **state) {
        SvSockRec s[] = { tcp("0.0.0.0", 80, SV_TCP_LISTEN, 9) };
        SvSockHolder h[] = { holder(9, 100, "nginx", "nginx: master process"),
                             holder(9, 101, "nginx", "nginx: worker process") };
        SvDoctorFacts f = { .query = query("tcp://127.0.0.1:80"), .socks = s, .n_socks = 1, .holders = h,
                            .n_holders = 2 };
        static const char *const needles[] = { "pid 100 (nginx: master process) and pid 101",
                                               "shared by 2 processes", "every address", "kill 100 101", NULL };
        SvDoctorReport rep;

        (void) state;
        set_probe(&f, -EADDRINUSE, -EADDRINUSE);
        rep = run(&f, needles);
        assert_string_equal(rep.findings[0].conflict, "wildcard");
        assert_int_equal(rep.findings[0].n_pids, 2);
        sv_doctor_report_done(&rep);
}

static void test_listener_dual_stack(void **state) {
        SvSockRec s[] = { tcp("::", 80, SV_TCP_LISTEN, 9) };
        SvSockHolder h[] = { holder(9, 100, "srv", "srv") };
        SvDoctorFacts f = { .query = query("tcp://127.0.0.1:80"), .socks = s, .n_socks = 1, .holders = h,
                            .n_holders = 1 };
        static const char *const needles[] = { "dual-stack", "IPV6_V6ONLY", NULL };
        SvDoctorReport rep;

        (void) state;
        set_probe(&f, -EADDRINUSE, -EADDRINUSE);
        rep = run(&f, needles);
        assert_string_equal(rep.findings[0].conflict, "dual-stack");
        sv_doctor_report_done(&rep);
}

static void test_listener_hidden(void **state) {
        SvSockRec s[] = { tcp("127.0.0.1", 80, SV_TCP_LISTEN, 9) };
        SvDoctorFacts f = { .query = query("80"), .socks = s, .n_socks = 1, .my_uid = 1000, .proc_scanned = true,
                            .proc_hidden = 3 };
        static const char *const needles[] = { "cannot see", "uid 1000", "run as root", "3 processes", NULL };
        SvDoctorReport rep;

        (void) state;
        s[0].uid = 1000;
        set_probe(&f, -EADDRINUSE, -EADDRINUSE);
        rep = run(&f, needles);
        assert_true(rep.findings[0].hidden);
        sv_doctor_report_done(&rep);

        /* As root there is nobody to ask: say where else to look. */
        f.my_uid = 0;
        static const char *const root_needles[] = { "PID namespace", NULL };
        rep = run(&f, root_needles);
        sv_doctor_report_done(&rep);
}

static void test_sockvisord_holds_it(void **state) {
        SvSockRec s[] = { tcp("127.0.0.1", 80, SV_TCP_LISTEN, 9) };
        SvSockHolder h[] = { holder(9, 77, "sockvisord", "sockvisord -c /etc/sockvisor/sockvisor.ini") };
        SvDoctorFacts f = { .query = query("80"), .socks = s, .n_socks = 1, .holders = h, .n_holders = 1 };
        static const char *const needles[] = { "pid 77 (sockvisord -c", "sockvisorctl restart", NULL };
        SvDoctorReport rep;

        (void) state;
        set_probe(&f, -EADDRINUSE, -EADDRINUSE);
        rep = run(&f, needles);
        sv_doctor_report_done(&rep);
}

static void test_time_wait(void **state) {
        SvSockRec s[3];
        SvDoctorFacts f = { .query = query("tcp://127.0.0.1:8080"), .socks = s, .n_socks = 3 };
        SvDoctorReport rep;

        (void) state;
        for (size_t i = 0; i < 3; i++) {
                s[i] = tcp("127.0.0.1", 8080, SV_TCP_TIME_WAIT, 0);
                s[i].timer = 3;
                s[i].expires_ms = (uint32_t) (10000 * (i + 1));
        }

        /* Left by a listener with SO_REUSEADDR: the test bind with it works. */
        static const char *const ok[] = { "3 closed connections", "TIME_WAIT", "goes in 30 s",
                                          "fix: set SO_REUSEADDR", NULL };
        set_probe(&f, -EADDRINUSE, 0);
        rep = run(&f, ok);
        assert_true(rep.blocked);
        assert_int_equal(rep.findings[0].kind, SV_FIND_TIME_WAIT);
        assert_int_equal(rep.findings[0].count, 3);
        assert_int_equal(rep.findings[0].max_expires_ms, 30000);
        assert_int_equal(rep.findings[0].reuseaddr_helps, 1);
        sv_doctor_report_done(&rep);

        /* Left by one without: nothing but waiting helps. */
        static const char *const no[] = { "fix: wait 30 s", "will NOT get past", NULL };
        set_probe(&f, -EADDRINUSE, -EADDRINUSE);
        rep = run(&f, no);
        assert_int_equal(rep.findings[0].reuseaddr_helps, 0);
        sv_doctor_report_done(&rep);

        /* Behind a live listener the test bind cannot tell. */
        SvSockRec s2[4] = { s[0], s[1], s[2], tcp("127.0.0.1", 8080, SV_TCP_LISTEN, 5) };
        f.socks = s2;
        f.n_socks = 4;
        rep = run(&f, NULL);
        assert_int_equal(rep.n_findings, 2);
        assert_int_equal(rep.findings[0].kind, SV_FIND_LISTENER);
        assert_true(rep.findings[0].hidden);
        assert_int_equal(rep.findings[1].reuseaddr_helps, -1);
        sv_doctor_report_done(&rep);
}

static void test_child_keeps_connection(void **state) {
        SvSockRec s[] = { tcp("127.0.0.1", 8080, SV_TCP_ESTABLISHED, 42), tcp("127.0.0.1", 8080, SV_TCP_ESTABLISHED, 43),
                          tcp("127.0.0.1", 8080, SV_TCP_CLOSE_WAIT, 44), tcp("127.0.0.1", 8080, SV_TCP_FIN_WAIT2, 0),
                          tcp("127.0.0.1", 8080, SV_TCP_LAST_ACK, 0) };
        SvSockHolder h[] = { holder(42, 555, "worker", "app --child"), holder(43, 555, "worker", "app --child"),
                             holder(44, 556, "leaky", "leaky") };
        SvDoctorFacts f = { .query = query("8080"), .socks = s, .n_socks = 5, .holders = h, .n_holders = 3 };
        static const char *const needles[] = { "pid 555 (app --child) still holds 2 connections",
                                               "no listener left", "fix: stop pid 555 (kill 555)",
                                               "pid 556 (leaky) holds 1 connection", "CLOSE_WAIT",
                                               "1 FIN_WAIT2 1 LAST_ACK", NULL };
        SvDoctorReport rep;

        (void) state;
        set_probe(&f, -EADDRINUSE, -EADDRINUSE);
        rep = run(&f, needles);
        assert_int_equal(rep.n_findings, 3);
        assert_int_equal(rep.findings[0].kind, SV_FIND_CONNECTIONS);
        assert_int_equal(rep.findings[0].count, 2);
        assert_int_equal(rep.findings[1].kind, SV_FIND_CLOSE_WAIT);
        assert_int_equal(rep.findings[2].kind, SV_FIND_CLOSING);
        assert_int_equal(rep.findings[2].count, 2);
        sv_doctor_report_done(&rep);
}

static void test_connections_of_the_listener_need_no_fix(void **state) {
        SvSockRec s[] = { tcp("127.0.0.1", 80, SV_TCP_LISTEN, 1), tcp("127.0.0.1", 80, SV_TCP_ESTABLISHED, 2) };
        SvSockHolder h[] = { holder(1, 10, "srv", "srv"), holder(2, 10, "srv", "srv") };
        SvDoctorFacts f = { .query = query("80"), .socks = s, .n_socks = 2, .holders = h, .n_holders = 2 };
        SvDoctorReport rep;

        (void) state;
        set_probe(&f, -EADDRINUSE, -EADDRINUSE);
        rep = run(&f, NULL);
        assert_int_equal(rep.n_findings, 2);
        assert_string_equal(rep.findings[1].fix, "");
        sv_doctor_report_done(&rep);
}

/* Holders come in /proc order, not by inode: each socket still gets all of its holders,
 * in that order (the first one names a group of connections). */
static void test_holders_out_of_order(void **state) {
        SvSockRec s[] = { tcp("127.0.0.1", 80, SV_TCP_LISTEN, 5), tcp("127.0.0.1", 80, SV_TCP_ESTABLISHED, 7),
                          tcp("127.0.0.1", 80, SV_TCP_ESTABLISHED, 3) };
        SvSockHolder h[] = { holder(7, 30, "w", "worker a"), holder(5, 20, "m", "master"),
                             holder(7, 31, "w", "worker b"), holder(5, 21, "m", "master too"),
                             holder(3, 31, "w", "worker b") };
        SvDoctorFacts f = { .query = query("80"), .socks = s, .n_socks = 3, .holders = h, .n_holders = 5 };
        static const char *const needles[] = { "pid 20 (master) and pid 21 (master too), which listens",
                                               "pid 30 (worker a) and pid 31 (worker b) still holds 1 connection",
                                               "pid 31 (worker b) still holds 1 connection", NULL };
        SvDoctorReport rep;
        char *json;

        (void) state;
        set_probe(&f, -EADDRINUSE, -EADDRINUSE);
        rep = run(&f, needles);
        assert_int_equal(rep.n_findings, 3);
        assert_int_equal(rep.findings[0].n_pids, 2);
        assert_int_equal(rep.findings[0].pids[0], 20);
        assert_int_equal(rep.findings[1].pids[0], 30);
        assert_int_equal(rep.findings[1].n_pids, 2);
        assert_int_equal(rep.findings[2].pids[0], 31);
        assert_int_equal(rep.findings[2].n_pids, 1);
        json = sv_doctor_format_json(&f, &rep);
        assert_non_null(json);
        assert_non_null(strstr(json, "\"inode\":5,\"uid\":0,\"remaining_ms\":0,\"holders\":[{\"pid\":20,"));
        assert_non_null(strstr(json, "\"command\":\"master\"},{\"pid\":21,"));
        assert_non_null(strstr(json, "\"inode\":7,\"uid\":0,\"remaining_ms\":0,\"holders\":[{\"pid\":30,"));
        assert_non_null(strstr(json, "\"command\":\"worker a\"},{\"pid\":31,"));
        assert_non_null(strstr(json, "\"inode\":3,\"uid\":0,\"remaining_ms\":0,\"holders\":[{\"pid\":31,"));
        free(json);
        sv_doctor_report_done(&rep);
}

/* Two processes read only as far as the listener (partial_pids): the connections no fully
 * read process holds are one total, with the listener's processes named and how many of
 * them were seen; a connection a fully read process holds keeps its own finding. */
static void test_listener_processes_read_in_part(void **state) {
        SvSockRec s[] = { tcp("127.0.0.1", 80, SV_TCP_LISTEN, 1), tcp("127.0.0.1", 80, SV_TCP_ESTABLISHED, 2),
                          tcp("127.0.0.1", 80, SV_TCP_ESTABLISHED, 3), tcp("127.0.0.1", 80, SV_TCP_ESTABLISHED, 4),
                          tcp("127.0.0.1", 80, SV_TCP_ESTABLISHED, 5), tcp("127.0.0.1", 80, SV_TCP_ESTABLISHED, 6) };
        SvSockHolder h[] = { holder(1, 10, "srv", "srv"), holder(2, 10, "srv", "srv"), holder(1, 11, "srv", "srv -w"),
                             holder(6, 12, "child", "child") };
        pid_t partial[] = { 10, 11 };
        SvDoctorFacts f = { .query = query("80"), .socks = s, .n_socks = 6, .holders = h, .n_holders = 4,
                            .partial_pids = partial, .n_partial = 2 };
        static const char *const needles[] = {
                "in use by pid 10 (srv) and pid 11 (srv -w), which listens",
                "pid 12 (child) still holds 1 connection on port 80",
                "fix: stop pid 12 (kill 12)",
                "4 connections on port 80 in all (e.g. tcp://127.0.0.1:80 from 127.0.0.1:40000, ESTABLISHED), as the "
                "kernel counts them: the listener's processes pid 10 (srv) and pid 11 (srv -w) were read only in part "
                "and hold 1 of them there; the other 3 are not matched to a process (most likely theirs too)",
                NULL };
        SvDoctorReport rep;
        char *json;

        (void) state;
        set_probe(&f, -EADDRINUSE, -EADDRINUSE);
        rep = run(&f, needles);
        assert_int_equal(rep.n_findings, 3);
        assert_int_equal(rep.findings[1].kind, SV_FIND_CONNECTIONS);
        assert_true(rep.findings[1].unmatched);
        assert_false(rep.findings[1].hidden);
        assert_int_equal(rep.findings[1].count, 4);
        assert_int_equal(rep.findings[1].n_matched, 1);
        assert_int_equal(rep.findings[1].n_pids, 2);
        assert_string_equal(rep.findings[1].fix, ""); /* stopping the listener's processes does it */
        assert_int_equal(rep.findings[2].kind, SV_FIND_CONNECTIONS);
        assert_false(rep.findings[2].unmatched);
        assert_int_equal(rep.findings[2].count, 1);
        assert_int_equal(rep.findings[2].pids[0], 12);
        json = sv_doctor_format_json(&f, &rep);
        assert_non_null(json);
        assert_non_null(strstr(json, "\"holder_matched\":false,\"pids\":[10,11]"));
        assert_non_null(strstr(json, "\"processes_read_partly\":[10,11]"));
        free(json);
        sv_doctor_report_done(&rep);

        /* Nobody read in part: the same unheld connections are hidden, as before. */
        f.n_partial = 0;
        static const char *const hidden[] = { "a process we cannot see", NULL };
        rep = run(&f, hidden);
        assert_int_equal(rep.n_findings, 4); /* listener, pid 10's connection, the hidden ones, pid 12's */
        assert_true(rep.findings[2].hidden);
        assert_int_equal(rep.findings[2].count, 3);
        assert_false(rep.findings[2].unmatched);
        sv_doctor_report_done(&rep);
}

static void test_free_and_unknown(void **state) {
        SvDoctorFacts f = { .query = query("tcp://127.0.0.1:8080") };
        static const char *const free_needles[] = { "is free", "test bind", NULL };
        static const char *const acces[] = { "below 1024", NULL };
        SvDoctorReport rep;

        (void) state;
        set_probe(&f, 0, 0);
        rep = run(&f, free_needles);
        assert_false(rep.blocked);
        assert_int_equal(rep.findings[0].kind, SV_FIND_FREE);
        sv_doctor_report_done(&rep);

        set_probe(&f, -EACCES, -EACCES);
        rep = run(&f, acces);
        assert_false(rep.blocked);
        assert_int_equal(rep.findings[0].kind, SV_FIND_UNKNOWN);
        sv_doctor_report_done(&rep);
}

static void test_unix(void **state) {
        SvSockRec s = { .family = AF_UNIX, .socktype = SOCK_STREAM, .state = SV_TCP_LISTEN, .inode = 99,
                        .has_name = true, .path = "/run/app.sock" };
        SvSockHolder h[] = { holder(99, 31, "app", "/srv/app") };
        SvDoctorFacts f = { .query = query("unix:/run/app.sock"), .unix_file = { .exists = true, .is_socket = true } };
        SvDoctorReport rep;

        (void) state;
        /* A file, nobody behind it: stale. */
        f.unix_file.connect_err = -ECONNREFUSED;
        static const char *const stale[] = { "stale socket file", "rm /run/app.sock", NULL };
        rep = run(&f, stale);
        assert_true(rep.blocked);
        assert_int_equal(rep.findings[0].kind, SV_FIND_UNIX_STALE);
        sv_doctor_report_done(&rep);

        /* A live listener: its pid. */
        f.socks = &s;
        f.n_socks = 1;
        f.holders = h;
        f.n_holders = 1;
        f.unix_file.connect_err = 0;
        static const char *const live[] = { "pid 31 (/srv/app)", "listens on unix:/run/app.sock", "kill 31", NULL };
        rep = run(&f, live);
        assert_int_equal(rep.findings[0].kind, SV_FIND_UNIX_LIVE);
        sv_doctor_report_done(&rep);

        /* Something answers but no socket matched: live, holder unknown. */
        f.n_socks = 0;
        rep = run(&f, NULL);
        assert_int_equal(rep.findings[0].kind, SV_FIND_UNIX_LIVE);
        assert_true(rep.findings[0].hidden);
        sv_doctor_report_done(&rep);

        /* Not a socket; no file at all. */
        f.unix_file = (SvUnixFile) { .exists = true };
        rep = run(&f, NULL);
        assert_int_equal(rep.findings[0].kind, SV_FIND_UNIX_NOT_SOCKET);
        sv_doctor_report_done(&rep);
        f.unix_file = (SvUnixFile) { 0 };
        static const char *const none[] = { "is free", NULL };
        rep = run(&f, none);
        assert_false(rep.blocked);
        sv_doctor_report_done(&rep);
}

static void test_json(void **state) {
        SvSockRec s[] = { tcp("127.0.0.1", 8080, SV_TCP_LISTEN, 500), tcp("::", 8080, SV_TCP_TIME_WAIT, 0) };
        SvSockHolder h[] = { holder(500, 1234, "sh", "sh -c \"echo\"\t") };
        SvDoctorFacts f = { .query = query("8080"), .socks = s, .n_socks = 2, .holders = h, .n_holders = 1 };
        SvDoctorReport rep = { 0 };
        char *json;

        (void) state;
        set_probe(&f, -EADDRINUSE, -EADDRINUSE);
        assert_int_equal(sv_doctor_diagnose(&f, &rep), 0);
        json = sv_doctor_format_json(&f, &rep);
        assert_non_null(json);
        assert_non_null(strstr(json, "\"query\":\"8080\""));
        assert_non_null(strstr(json, "\"in_use\":true"));
        assert_non_null(strstr(json, "\"kind\":\"listener\""));
        assert_non_null(strstr(json, "\"pids\":[1234]"));
        /* The quotes and the tab escaped (jansson writes the tab as \t, the hand-written
         * formatter wrote \u0009: the same JSON string). */
        assert_non_null(strstr(json, "\"command\":\"sh -c \\\"echo\\\"\\t\""));
        assert_non_null(strstr(json, "\"plain_error\":\"EADDRINUSE\""));
        assert_non_null(strstr(json, "\"state\":\"LISTEN\""));
        /* The kernel sends no v6only for a TIME_WAIT socket (-1): unknown, not true. */
        assert_non_null(strstr(json, "\"family\":\"ipv6\",\"v6only\":null,\"state\":\"TIME_WAIT\""));
        free(json);
        sv_doctor_report_done(&rep);
}

/* Bytes that are not UTF-8 (a Latin-1 command line, a lone continuation byte), a control
 * character and quotes, in a holder's comm and command and in a unix path: the output is
 * still JSON that a strict parser (json_loads refuses invalid UTF-8) reads back, with
 * U+FFFD for each bad byte and everything else as it was. */
#define FFFD "\xef\xbf\xbd"
static json_t *loads_strict(const char *json) {
        json_error_t err;
        json_t *v = json_loads(json, JSON_REJECT_DUPLICATES, &err);

        if (!v)
                fail_msg("not valid JSON (%s at %d): %s", err.text, err.position, json);
        return v;
}

static void test_json_any_bytes(void **state) {
        SvSockRec s[] = { tcp("127.0.0.1", 8080, SV_TCP_LISTEN, 500), tcp("127.0.0.1", 8080, SV_TCP_ESTABLISHED, 501) };
        SvSockHolder h[] = { holder(500, 1234, "caf\xe9", "python3 -c x caf\xe9 \x80z \"q\" \x01 \xc3\xa9"),
                             holder(501, 1234, "caf\xe9", "python3 -c x caf\xe9 \x80z \"q\" \x01 \xc3\xa9") };
        SvDoctorFacts f = { .query = query("8080"), .socks = s, .n_socks = 2, .holders = h, .n_holders = 2 };
        SvDoctorReport rep = { 0 };
        const char *want_cmd = "python3 -c x caf" FFFD " " FFFD "z \"q\" \x01 \xc3\xa9";

        (void) state;
        set_probe(&f, -EADDRINUSE, -EADDRINUSE);
        assert_int_equal(sv_doctor_diagnose(&f, &rep), 0);
        char *json = sv_doctor_format_json(&f, &rep);
        assert_non_null(json);
        json_t *v = loads_strict(json);
        assert_null(strstr(json, "caf\xe9"));        /* no raw Latin-1 byte left */
        assert_non_null(strstr(json, "\\u0001")); /* the control character escaped */
        json_t *hd = json_array_get(json_object_get(json_array_get(json_object_get(v, "sockets"), 0), "holders"), 0);
        assert_int_equal(json_integer_value(json_object_get(hd, "pid")), 1234);
        assert_string_equal(json_string_value(json_object_get(hd, "comm")), "caf" FFFD);
        assert_string_equal(json_string_value(json_object_get(hd, "command")), want_cmd);
        json_t *fd = json_array_get(json_object_get(v, "findings"), 0);
        assert_string_equal(json_string_value(json_object_get(fd, "kind")), "listener");
        assert_non_null(strstr(json_string_value(json_object_get(fd, "text")), want_cmd));
        assert_int_equal(json_integer_value(json_array_get(json_object_get(fd, "pids"), 0)), 1234);
        /* The second socket has the same holder: the same object, listed again. */
        json_t *hd2 = json_array_get(json_object_get(json_array_get(json_object_get(v, "sockets"), 1), "holders"), 0);
        assert_true(json_equal(hd, hd2));
        assert_int_equal(json_integer_value(json_object_get(v, "sockets_total")), 2);
        json_decref(v);
        free(json);
        sv_doctor_report_done(&rep);

        /* A unix path in Latin-1, in the query and in the socket's own address. */
        SvSockRec u = { .family = AF_UNIX, .socktype = SOCK_STREAM, .state = SV_TCP_LISTEN, .inode = 99,
                        .has_name = true, .path = "/run/caf\xe9.sock" };
        SvSockHolder uh[] = { holder(99, 31, "app", "/srv/caf\xe9") };
        SvDoctorFacts g = { .query = query("unix:/run/caf\xe9.sock"), .socks = &u, .n_socks = 1, .holders = uh,
                            .n_holders = 1, .unix_file = { .exists = true, .is_socket = true } };
        assert_int_equal(sv_doctor_diagnose(&g, &rep), 0);
        json = sv_doctor_format_json(&g, &rep);
        assert_non_null(json);
        v = loads_strict(json);
        assert_non_null(strstr(json_string_value(json_object_get(v, "query")), "/run/caf" FFFD ".sock"));
        json_t *so = json_array_get(json_object_get(v, "sockets"), 0);
        assert_string_equal(json_string_value(json_object_get(so, "local")), "/run/caf" FFFD ".sock");
        assert_string_equal(json_string_value(json_object_get(so, "family")), "unix");
        assert_true(json_is_true(json_object_get(json_object_get(v, "file"), "exists")));
        json_decref(v);
        free(json);
        sv_doctor_report_done(&rep);
}

/* Thousands of connections: the findings count them all, the socket list shows 64 per state
 * and says how many it left out. */
static void test_json_bounded(void **state) {
        static SvSockRec s[1 + 70 + 3];
        size_t n = 0;
        s[n++] = tcp("127.0.0.1", 8080, SV_TCP_LISTEN, 500);
        for (unsigned k = 0; k < 70; k++)
                s[n++] = tcp("127.0.0.1", 8080, SV_TCP_ESTABLISHED, 1000 + k);
        for (unsigned k = 0; k < 3; k++)
                s[n++] = tcp("127.0.0.1", 8080, SV_TCP_TIME_WAIT, 0);
        SvSockHolder h[] = { holder(500, 1234, "srv", "srv --port 8080") };
        SvDoctorFacts f = { .query = query("8080"), .socks = s, .n_socks = n, .holders = h, .n_holders = 1 };
        SvDoctorReport rep = { 0 };
        (void) state;
        set_probe(&f, -EADDRINUSE, -EADDRINUSE);
        assert_int_equal(sv_doctor_diagnose(&f, &rep), 0);
        char *json = sv_doctor_format_json(&f, &rep);
        assert_non_null(json);
        size_t listed = 0;
        for (const char *p = json; (p = strstr(p, "{\"local\":")); p++)
                listed++;
        assert_int_equal(listed, 1 + 64 + 3);
        assert_non_null(strstr(json, "\"sockets_total\":74,\"sockets_omitted\":{\"ESTABLISHED\":6}"));
        assert_non_null(strstr(json, "\"count\":70")); /* the finding counts every connection */
        free(json);
        sv_doctor_report_done(&rep);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_query_parse),
                cmocka_unit_test(test_overlaps),
                cmocka_unit_test(test_walk_inet),
                cmocka_unit_test(test_walk_error),
                cmocka_unit_test(test_walk_unix),
                cmocka_unit_test(test_proc_text),
                cmocka_unit_test(test_listener_exact),
                cmocka_unit_test(test_listener_wildcard_forked),
                cmocka_unit_test(test_listener_dual_stack),
                cmocka_unit_test(test_listener_hidden),
                cmocka_unit_test(test_sockvisord_holds_it),
                cmocka_unit_test(test_time_wait),
                cmocka_unit_test(test_child_keeps_connection),
                cmocka_unit_test(test_connections_of_the_listener_need_no_fix),
                cmocka_unit_test(test_holders_out_of_order),
                cmocka_unit_test(test_listener_processes_read_in_part),
                cmocka_unit_test(test_free_and_unknown),
                cmocka_unit_test(test_unix),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_json_bounded),
                cmocka_unit_test(test_json_any_bytes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
