/* The port doctor's output (pure): the line builders the diagnosis writes its findings
 * with, and a report as human text or as one JSON object. */
#include "format.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ---------------------------------------------------------------- lines and endpoints */

void sv_doctor_put(char *dst, size_t len, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(dst, len, fmt, ap);
        va_end(ap);
}

void sv_doctor_append(char *dst, size_t len, const char *fmt, ...) {
        size_t k = strlen(dst);
        va_list ap;

        if (k + 1 >= len)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(dst + k, len - k, fmt, ap);
        va_end(ap);
}

void sv_doctor_fmt_endpoint(int family, const uint8_t *a, uint16_t port, char *buf, size_t len) {
        char ip[INET6_ADDRSTRLEN];

        if (family == AF_INET) {
                (void) inet_ntop(AF_INET, a, ip, sizeof(ip));
                (void) snprintf(buf, len, "%s:%u", ip, port);
        } else {
                (void) inet_ntop(AF_INET6, a, ip, sizeof(ip));
                (void) snprintf(buf, len, "[%s]:%u", ip, port);
        }
}

void sv_doctor_fmt_local(const SvSockRec *r, char *buf, size_t len) {
        if (r->family == AF_UNIX) {
                (void) snprintf(buf, len, "%s%s", r->abstract ? "@" : "", r->has_name ? r->path : "(unnamed)");
                return;
        }
        char ep[INET6_ADDRSTRLEN + 16];

        sv_doctor_fmt_endpoint(r->family, r->laddr, r->lport, ep, sizeof(ep));
        (void) snprintf(buf, len, "%s://%s", r->protocol == IPPROTO_UDP ? "udp" : "tcp", ep);
}

void sv_doctor_fmt_duration_ms(uint32_t ms, char *buf, size_t len) {
        if (ms >= 1000)
                (void) snprintf(buf, len, "%u s", (ms + 999) / 1000);
        else
                (void) snprintf(buf, len, "%u ms", ms);
}

/* ---------------------------------------------------------------- text */

static void query_text(const SvDoctorQuery *q, char *buf, size_t len) {
        if (q->bare_port)
                sv_doctor_put(buf, len, "port %u (tcp, every address, IPv4 and IPv6)", q->port);
        else
                sv_addr_format(&q->addr, buf, len);
}

static const char *probe_result(int r, char *buf, size_t len) {
        if (r == 0)
                return "works";
        sv_doctor_put(buf, len, "fails: %s", strerror(-r));
        return buf;
}

char *sv_doctor_format_text(const SvDoctorFacts *f, const SvDoctorReport *r) {
        char *out = NULL;
        size_t outlen = 0;
        FILE *m = open_memstream(&out, &outlen);
        char q[SV_ADDR_STRLEN + 48];

        if (!m)
                return NULL;
        query_text(&f->query, q, sizeof(q));
        if (r->n_findings == 1 && r->findings[0].kind == SV_FIND_FREE)
                fprintf(m, "%s is free: %s\n", q, r->findings[0].text);
        else if (r->n_findings == 1 && r->findings[0].kind == SV_FIND_UNIX_NO_FILE)
                fprintf(m, "%s is free: %s\n", q, r->findings[0].text);
        else {
                fprintf(m, "%s is %s:\n", q, r->blocked ? "in use (bind() fails with \"Address already in use\")"
                                                        : "not free");
                for (size_t i = 0; i < r->n_findings; i++) {
                        const SvFinding *x = &r->findings[i];

                        fprintf(m, "  - %s\n", x->text);
                        if (x->fix[0])
                                fprintf(m, "    fix: %s\n", x->fix);
                }
        }
        for (size_t i = 0; i < f->n_probes; i++) {
                const SvBindProbe *p = &f->probes[i];
                char a[SV_ADDR_STRLEN], b1[96], b2[96];

                if (!p->tried)
                        continue;
                sv_addr_format(&p->addr, a, sizeof(a));
                fprintf(m, "  test bind of %s just now: %s; with SO_REUSEADDR: %s\n", a,
                        probe_result(p->plain, b1, sizeof(b1)), probe_result(p->reuseaddr, b2, sizeof(b2)));
        }
        if (f->proc_hidden > 0) {
                bool any_hidden = false;
                for (size_t i = 0; i < r->n_findings; i++)
                        any_hidden |= r->findings[i].hidden;
                if (any_hidden)
                        fprintf(m, "  note: the open files of %u process%s could not be read (other users%s)\n",
                                f->proc_hidden, f->proc_hidden == 1 ? "" : "es",
                                f->my_uid == 0 ? "" : "; root sees them");
        }
        if (fclose(m) != 0) {
                free(out);
                return NULL;
        }
        return out;
}

/* ---------------------------------------------------------------- holders by inode */

static int cmp_holder_ix(const void *a, const void *b) {
        const SvHolderIx *x = a, *y = b;

        if (x->inode != y->inode)
                return x->inode < y->inode ? -1 : 1;
        return x->i < y->i ? -1 : x->i > y->i;
}

int sv_doctor_holder_index(const SvDoctorFacts *f, SvHolderIx **ret) {
        SvHolderIx *ix = NULL;

        if (f->n_holders > 0) {
                ix = malloc(f->n_holders * sizeof(*ix));
                if (!ix)
                        return -ENOMEM;
                for (size_t i = 0; i < f->n_holders; i++)
                        ix[i] = (SvHolderIx) { .inode = f->holders[i].inode, .i = i };
                qsort(ix, f->n_holders, sizeof(*ix), cmp_holder_ix);
        }
        *ret = ix;
        return 0;
}

size_t sv_doctor_holders_find(const SvHolderIx *ix, size_t n, uint64_t inode, size_t *ret_first) {
        size_t lo = 0, hi = n, k;

        while (lo < hi) { /* the first entry with ix[].inode >= inode */
                size_t mid = lo + (hi - lo) / 2;
                if (ix[mid].inode < inode)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (k = lo; k < n && ix[k].inode == inode; k++)
                ;
        *ret_first = lo;
        return k - lo;
}

/* ---------------------------------------------------------------- JSON */

#define SV_JSON_SOCKETS_PER_STATE 64

/* s as a JSON string into dst (at most cap bytes, NUL included): runs of plain characters
 * are copied whole. Returns the length written; a string cut short still ends with '"'. */
static size_t json_put(char *dst, size_t cap, const char *s) {
        size_t o = 0;
        if (cap < 3)
                return 0;
        dst[o++] = '"';
        for (; *s && o + 8 < cap; s++) {
                unsigned char c = (unsigned char) *s;
                if (c == '"' || c == '\\') {
                        dst[o++] = '\\';
                        dst[o++] = (char) c;
                } else if (c < 0x20 || c == 0x7f)
                        o += (size_t) snprintf(dst + o, cap - o, "\\u%04x", c);
                else
                        dst[o++] = (char) c;
        }
        dst[o++] = '"';
        dst[o] = '\0';
        return o;
}

static void json_str(FILE *m, const char *s) {
        char small[1024] = "";
        size_t cap = 6 * strlen(s) + 16; /* every character may become \u00XX */
        char *buf = cap <= sizeof(small) ? small : malloc(cap);
        if (!buf) {
                fputs("null", m);
                return;
        }
        size_t n = json_put(buf, cap, s);
        fwrite(buf, 1, n, m);
        if (buf != small)
                free(buf);
}

static void json_errno(FILE *m, int r) {
        if (r == 0)
                fputs("null", m);
        else {
                const char *n = strerrorname_np(-r);
                json_str(m, n ? n : "unknown");
        }
}

static void json_tristate(FILE *m, int v) {
        fputs(v < 0 ? "null" : v ? "true" : "false", m);
}

char *sv_doctor_format_json(const SvDoctorFacts *f, const SvDoctorReport *r) {
        char *out = NULL;
        size_t outlen = 0;
        FILE *m = open_memstream(&out, &outlen);
        char buf[SV_ADDR_STRLEN + 48];
        const SvDoctorQuery *q = &f->query;

        if (!m)
                return NULL;
        sv_addr_format(&q->addr, buf, sizeof(buf));
        fputs("{\"query\":", m);
        if (q->bare_port)
                (void) snprintf(buf, sizeof(buf), "%u", q->port);
        json_str(m, buf);
        fprintf(m, ",\"protocol\":\"%s\",\"port\":%u,\"bare_port\":%s,\"in_use\":%s,",
                q->addr.kind == SV_ADDR_UNIX ? "unix" : q->addr.kind == SV_ADDR_UDP ? "udp" : "tcp", q->port,
                q->bare_port ? "true" : "false", r->blocked ? "true" : "false");

        fputs("\"findings\":[", m);
        for (size_t i = 0; i < r->n_findings; i++) {
                const SvFinding *x = &r->findings[i];

                fprintf(m, "%s{\"kind\":\"%s\",\"text\":", i ? "," : "", sv_finding_kind_name(x->kind));
                json_str(m, x->text);
                fputs(",\"fix\":", m);
                if (x->fix[0])
                        json_str(m, x->fix);
                else
                        fputs("null", m);
                fputs(",\"conflict\":", m);
                if (x->conflict)
                        json_str(m, x->conflict);
                else
                        fputs("null", m);
                fprintf(m, ",\"count\":%u,\"max_remaining_ms\":%" PRIu32 ",\"reuseaddr_helps\":", x->count,
                        x->max_expires_ms);
                json_tristate(m, x->reuseaddr_helps);
                fprintf(m, ",\"holder_visible\":%s,\"holder_matched\":%s,\"pids\":[", x->hidden ? "false" : "true",
                        x->unmatched ? "false" : "true");
                for (size_t k = 0; k < x->n_pids; k++)
                        fprintf(m, "%s%d", k ? "," : "", (int) x->pids[k]);
                fputs("]}", m);
        }

        fputs("],\"probes\":[", m);
        bool first = true;
        for (size_t i = 0; i < f->n_probes; i++) {
                const SvBindProbe *p = &f->probes[i];

                if (!p->tried)
                        continue;
                sv_addr_format(&p->addr, buf, sizeof(buf));
                fprintf(m, "%s{\"address\":", first ? "" : ",");
                json_str(m, buf);
                fprintf(m, ",\"plain_ok\":%s,\"plain_error\":", p->plain == 0 ? "true" : "false");
                json_errno(m, p->plain);
                fprintf(m, ",\"reuseaddr_ok\":%s,\"reuseaddr_error\":", p->reuseaddr == 0 ? "true" : "false");
                json_errno(m, p->reuseaddr);
                fputc('}', m);
                first = false;
        }

        SvHolderIx *hix = NULL;
        if (sv_doctor_holder_index(f, &hix) < 0) {
                (void) fclose(m);
                free(out);
                return NULL;
        }
        /* Thousands of sockets on a busy port: each object is built in one buffer and written
         * once, and each holder's command is escaped once, not once per socket it holds. */
        char **hjson = calloc(f->n_holders ? f->n_holders : 1, sizeof(char *));
        if (!hjson) {
                free(hix);
                (void) fclose(m);
                free(out);
                return NULL;
        }
        /* The facts are the findings, which count everything. The socket list is for a closer
         * look: at most SV_JSON_SOCKETS_PER_STATE per state, the rest counted, so that 10,000
         * connections on a port cost what the text costs. */
        unsigned per_state[_SV_TCP_STATE_MAX + 1] = { 0 }, omitted[_SV_TCP_STATE_MAX + 1] = { 0 };
        size_t listed = 0;
        fputs("],\"sockets\":[", m);
        for (size_t i = 0; i < f->n_socks; i++) {
                const SvSockRec *s = &f->socks[i];
                unsigned st = s->state < _SV_TCP_STATE_MAX ? s->state : _SV_TCP_STATE_MAX;
                if (per_state[st]++ >= SV_JSON_SOCKETS_PER_STATE) {
                        omitted[st]++;
                        continue;
                }
                char obj[2048], addr[SV_ADDR_STRLEN + 48];
                size_t o = (size_t) snprintf(obj, sizeof(obj), "%s{\"local\":", listed++ ? "," : "");

                sv_doctor_fmt_local(s, addr, sizeof(addr));
                o += json_put(obj + o, sizeof(obj) - o, addr);
                if (s->family != AF_UNIX) {
                        sv_doctor_fmt_endpoint(s->family, s->raddr, s->rport, addr, sizeof(addr));
                        o += (size_t) snprintf(obj + o, sizeof(obj) - o, ",\"remote\":");
                        o += json_put(obj + o, sizeof(obj) - o, addr);
                        o += (size_t) snprintf(obj + o, sizeof(obj) - o, ",\"family\":\"%s\",\"v6only\":%s",
                                               s->family == AF_INET ? "ipv4" : "ipv6",
                                               s->family != AF_INET6 ? "null" : s->v6only ? "true" : "false");
                } else
                        o += (size_t) snprintf(obj + o, sizeof(obj) - o, ",\"family\":\"unix\",\"type\":\"%s\"",
                                               s->socktype == SOCK_DGRAM       ? "dgram"
                                               : s->socktype == SOCK_SEQPACKET ? "seqpacket"
                                                                               : "stream");
                char uid[16] = "null";
                if (s->uid != UINT32_MAX)
                        (void) snprintf(uid, sizeof(uid), "%" PRIu32, s->uid);
                o += (size_t) snprintf(obj + o, sizeof(obj) - o,
                                       ",\"state\":\"%s\",\"inode\":%" PRIu64 ",\"uid\":%s,\"remaining_ms\":%" PRIu32
                                       ",\"holders\":[",
                                       sv_tcp_state_name(s->state), s->inode, uid, s->timer ? s->expires_ms : 0);
                fwrite(obj, 1, o < sizeof(obj) ? o : sizeof(obj) - 1, m);
                size_t h0 = 0, n_h = s->inode ? sv_doctor_holders_find(hix, f->n_holders, s->inode, &h0) : 0;
                for (size_t h = 0; h < n_h; h++) {
                        size_t hi = hix[h0 + h].i;
                        const SvSockHolder *x = &f->holders[hi];
                        if (!hjson[hi]) { /* every character may become \u00XX: room for that */
                                size_t cap = 96 + 6 * (strlen(x->comm) + strlen(x->cmdline)) + 16;
                                char *tmp = malloc(cap);
                                if (tmp) {
                                        size_t t = (size_t) snprintf(tmp, cap, "{\"pid\":%d,\"uid\":%u,\"comm\":",
                                                                     (int) x->pid, (unsigned) x->uid);
                                        t += json_put(tmp + t, cap - t, x->comm);
                                        t += (size_t) snprintf(tmp + t, cap - t, ",\"command\":");
                                        t += json_put(tmp + t, cap - t, x->cmdline);
                                        (void) snprintf(tmp + t, cap - t, "}");
                                }
                                hjson[hi] = tmp;
                        }
                        if (h)
                                fputc(',', m);
                        if (hjson[hi])
                                fputs(hjson[hi], m);
                }
                fputs("]}", m);
        }
        for (size_t k = 0; k < f->n_holders; k++)
                free(hjson[k]);
        free(hjson);
        fprintf(m, "],\"sockets_total\":%zu,\"sockets_omitted\":{", f->n_socks);
        bool any = false;
        for (unsigned st = 0; st <= _SV_TCP_STATE_MAX; st++)
                if (omitted[st]) {
                        fprintf(m, "%s\"%s\":%u", any ? "," : "", st < _SV_TCP_STATE_MAX ? sv_tcp_state_name(st) : "OTHER",
                                omitted[st]);
                        any = true;
                }
        fputc('}', m);
        free(hix);
        fprintf(m, ",\"proc_scanned\":%s,\"processes_not_readable\":%u", f->proc_scanned ? "true" : "false",
                f->proc_hidden);
        fputs(",\"processes_read_partly\":[", m);
        for (size_t i = 0; i < f->n_partial; i++)
                fprintf(m, "%s%d", i ? "," : "", (int) f->partial_pids[i]);
        fputc(']', m);
        if (q->addr.kind == SV_ADDR_UNIX && !q->addr.abstract) {
                fprintf(m, ",\"file\":{\"exists\":%s,\"is_socket\":%s,\"connect_error\":",
                        f->unix_file.exists ? "true" : "false", f->unix_file.is_socket ? "true" : "false");
                json_errno(m, f->unix_file.connect_err);
                fputc('}', m);
        }
        fputs("}\n", m);
        if (fclose(m) != 0) {
                free(out);
                return NULL;
        }
        return out;
}
