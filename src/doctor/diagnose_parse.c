/* The port doctor's readers (pure): the query a user types, the sock_diag netlink replies
 * and the /proc text that gather.c fetches. They turn bytes into SvDoctorQuery and
 * SvSockRec; what the records mean for a bind is decided in diagnose.c. */
#include "sockvisor/doctor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const tcp_state_names[_SV_TCP_STATE_MAX] = {
        [SV_TCP_ESTABLISHED] = "ESTABLISHED", [SV_TCP_SYN_SENT] = "SYN_SENT",
        [SV_TCP_SYN_RECV] = "SYN_RECV",       [SV_TCP_FIN_WAIT1] = "FIN_WAIT1",
        [SV_TCP_FIN_WAIT2] = "FIN_WAIT2",     [SV_TCP_TIME_WAIT] = "TIME_WAIT",
        [SV_TCP_CLOSE] = "CLOSE",             [SV_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
        [SV_TCP_LAST_ACK] = "LAST_ACK",       [SV_TCP_LISTEN] = "LISTEN",
        [SV_TCP_CLOSING] = "CLOSING",         [SV_TCP_NEW_SYN_RECV] = "NEW_SYN_RECV",
};

const char *sv_tcp_state_name(unsigned state) {
        if (state < _SV_TCP_STATE_MAX && tcp_state_names[state])
                return tcp_state_names[state];
        return "UNKNOWN";
}

/* ---------------------------------------------------------------- query */

int sv_doctor_query_parse(const char *s, SvDoctorQuery *ret, SvDiag *d) {
        SvDoctorQuery q = { 0 };
        size_t n = strlen(s);

        if (n > 0 && strspn(s, "0123456789") == n) {
                char text[32];
                unsigned long port;

                if (n > 5 || (port = strtoul(s, NULL, 10)) > 65535)
                        return diag_set(d, 0, "'%s' is not a port (1-65535); expected a port such as 8080 or an "
                                        "address such as tcp://127.0.0.1:8080", s);
                if (port == 0)
                        return diag_set(d, 0, "port 0 means \"any free port\": there is nothing to diagnose; give "
                                        "the port that fails, e.g. 8080");
                (void) snprintf(text, sizeof(text), "tcp://[::]:%lu", port);
                if (sv_addr_parse(text, &q.addr, d) < 0)
                        return -EINVAL;
                q.bare_port = true;
                q.port = (unsigned) port;
                *ret = q;
                return 0;
        }

        if (sv_addr_parse(s, &q.addr, d) < 0) {
                /* Say that a bare port works too. */
                size_t k = strlen(d->msg);
                (void) snprintf(d->msg + k, sizeof(d->msg) - k, " (or give a bare port, e.g. 8080)");
                return -EINVAL;
        }
        q.port = sv_addr_port(&q.addr);
        if (q.addr.kind != SV_ADDR_UNIX && q.port == 0)
                return diag_set(d, 0, "'%s': port 0 means \"any free port\": there is nothing to diagnose; give "
                                "the port that fails", s);
        *ret = q;
        return 0;
}

/* ---------------------------------------------------------------- sock_diag parsing */

static void parse_inet_attrs(const uint8_t *p, size_t len, SvSockRec *r) {
        while (len >= sizeof(struct rtattr)) {
                struct rtattr a;

                memcpy(&a, p, sizeof(a));
                if (a.rta_len < sizeof(a) || a.rta_len > len)
                        return;
                if (a.rta_type == INET_DIAG_SKV6ONLY && a.rta_len >= RTA_LENGTH(1))
                        r->v6only = p[RTA_LENGTH(0)] != 0;
                size_t step = RTA_ALIGN(a.rta_len);
                if (step >= len)
                        return;
                p += step;
                len -= step;
        }
}

static void parse_unix_attrs(const uint8_t *p, size_t len, SvSockRec *r) {
        while (len >= sizeof(struct rtattr)) {
                struct rtattr a;

                memcpy(&a, p, sizeof(a));
                if (a.rta_len < sizeof(a) || a.rta_len > len)
                        return;
                const uint8_t *data = p + RTA_LENGTH(0);
                size_t dlen = a.rta_len - RTA_LENGTH(0);

                switch (a.rta_type) {
                case UNIX_DIAG_NAME:
                        if (dlen > 0) {
                                r->has_name = true;
                                r->abstract = data[0] == '\0';
                                if (r->abstract) {
                                        data++;
                                        dlen--;
                                }
                                if (dlen > SV_SOCK_PATH_MAX)
                                        dlen = SV_SOCK_PATH_MAX;
                                memcpy(r->path, data, dlen);
                                r->path[dlen] = '\0';
                        }
                        break;
                case UNIX_DIAG_VFS:
                        if (dlen >= sizeof(struct unix_diag_vfs)) {
                                struct unix_diag_vfs v;

                                memcpy(&v, data, sizeof(v));
                                r->has_vfs = true;
                                r->vfs_ino = v.udiag_vfs_ino;
                                r->vfs_dev = v.udiag_vfs_dev;
                        }
                        break;
                case UNIX_DIAG_PEER:
                        if (dlen >= sizeof(uint32_t)) {
                                uint32_t peer;

                                memcpy(&peer, data, sizeof(peer));
                                r->peer_inode = peer;
                        }
                        break;
                case UNIX_DIAG_UID:
                        if (dlen >= sizeof(uint32_t))
                                memcpy(&r->uid, data, sizeof(uint32_t));
                        break;
                case UNIX_DIAG_RQLEN:
                        if (dlen >= sizeof(struct unix_diag_rqlen)) {
                                struct unix_diag_rqlen q;

                                memcpy(&q, data, sizeof(q));
                                r->has_queues = true;
                                r->rqueue = q.udiag_rqueue;
                                r->wqueue = q.udiag_wqueue;
                        }
                        break;
                default:
                        break;
                }
                size_t step = RTA_ALIGN(a.rta_len);
                if (step >= len)
                        return;
                p += step;
                len -= step;
        }
}

int sv_sockdiag_walk(const void *buf, size_t len, int family, int protocol, int (*cb)(const SvSockRec *s, void *userdata),
                     void *userdata) {
        const uint8_t *p = buf;

        while (len > 0) {
                struct nlmsghdr h;
                SvSockRec r;
                int k;

                if (len < sizeof(h))
                        return -EBADMSG;
                memcpy(&h, p, sizeof(h));
                if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len)
                        return -EBADMSG;

                const uint8_t *payload = p + NLMSG_HDRLEN;
                size_t plen = h.nlmsg_len - NLMSG_HDRLEN;

                switch (h.nlmsg_type) {
                case NLMSG_DONE:
                        return 1;
                case NLMSG_ERROR: {
                        struct nlmsgerr e;

                        if (plen < sizeof(e.error))
                                return -EBADMSG;
                        memcpy(&e.error, payload, sizeof(e.error));
                        return e.error < 0 ? e.error : -EPROTO;
                }
                case NLMSG_NOOP:
                        break;
                default:
                        memset(&r, 0, sizeof(r));
                        r.v6only = -1;
                        if (family == AF_UNIX) {
                                struct unix_diag_msg m;

                                if (plen < sizeof(m))
                                        return -EBADMSG;
                                memcpy(&m, payload, sizeof(m));
                                r.family = AF_UNIX;
                                r.socktype = m.udiag_type;
                                r.state = m.udiag_state;
                                r.inode = m.udiag_ino;
                                r.uid = UINT32_MAX; /* unknown unless UNIX_DIAG_UID says */
                                parse_unix_attrs(payload + NLMSG_ALIGN(sizeof(m)),
                                                 plen > NLMSG_ALIGN(sizeof(m)) ? plen - NLMSG_ALIGN(sizeof(m)) : 0, &r);
                        } else {
                                struct inet_diag_msg m;

                                if (plen < sizeof(m))
                                        return -EBADMSG;
                                memcpy(&m, payload, sizeof(m));
                                r.family = m.idiag_family;
                                r.protocol = protocol;
                                r.socktype = protocol == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
                                r.state = m.idiag_state;
                                r.timer = m.idiag_timer;
                                r.lport = ntohs(m.id.idiag_sport);
                                r.rport = ntohs(m.id.idiag_dport);
                                memcpy(r.laddr, m.id.idiag_src, 16);
                                memcpy(r.raddr, m.id.idiag_dst, 16);
                                if (r.family == AF_INET) {
                                        memset(r.laddr + 4, 0, 12);
                                        memset(r.raddr + 4, 0, 12);
                                }
                                r.expires_ms = m.idiag_expires;
                                r.uid = m.idiag_uid;
                                r.inode = m.idiag_inode;
                                r.has_queues = true;
                                r.rqueue = m.idiag_rqueue;
                                r.wqueue = m.idiag_wqueue;
                                parse_inet_attrs(payload + NLMSG_ALIGN(sizeof(m)),
                                                 plen > NLMSG_ALIGN(sizeof(m)) ? plen - NLMSG_ALIGN(sizeof(m)) : 0, &r);
                        }
                        k = cb(&r, userdata);
                        if (k < 0)
                                return k;
                        break;
                }

                size_t step = NLMSG_ALIGN(h.nlmsg_len);
                if (step >= len)
                        break;
                p += step;
                len -= step;
        }
        return 0;
}

/* ---------------------------------------------------------------- /proc text */

uint64_t sv_doctor_parse_socket_link(const char *link, size_t len) {
        static const char prefix[] = "socket:[";
        uint64_t v = 0;
        size_t i = sizeof(prefix) - 1;

        if (len < sizeof(prefix) + 1 || memcmp(link, prefix, sizeof(prefix) - 1) != 0 || link[len - 1] != ']')
                return 0;
        for (; i < len - 1; i++) {
                if (link[i] < '0' || link[i] > '9' || v > (UINT64_MAX - 9) / 10)
                        return 0;
                v = v * 10 + (uint64_t) (link[i] - '0');
        }
        return v;
}

void sv_doctor_cmdline_clean(const char *raw, size_t len, char *out, size_t outlen) {
        size_t o = 0;

        if (outlen == 0)
                return;
        while (len > 0 && raw[len - 1] == '\0')
                len--;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) raw[i];

                if (o + 1 >= outlen) {
                        /* Cut: end with "..." where it fits. */
                        if (outlen >= 4)
                                memcpy(out + outlen - 4, "...", 3), o = outlen - 1;
                        break;
                }
                out[o++] = c == '\0' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : (char) c;
        }
        out[o] = '\0';
}
