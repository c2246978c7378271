/* The port doctor's output (pure): the line builders the diagnosis writes its findings
 * with, and a report as human text or as one JSON object. */
#include "format.h"

#include "sockvisor/json.h"

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

/* Through jansson, like every JSON sockvisor writes: whatever bytes a command line, a comm
 * or a unix path holds, the output is valid UTF-8 (sv_json_string makes invalid sequences
 * U+FFFD). Every builder below returns a new reference, or NULL on out of memory; json_pack
 * with "o" takes its arguments' references even when it fails, so nothing leaks. */

#define SV_JSON_SOCKETS_PER_STATE 64

static json_t *errno_json(int r) {
        if (r == 0)
                return json_null();
        const char *n = strerrorname_np(-r);
        return sv_json_string(n ? n : "unknown");
}

static json_t *tristate_json(int v) {
        return v < 0 ? json_null() : json_boolean(v);
}

static json_t *pids_json(const pid_t *pids, size_t n) {
        json_auto_t *a = json_array();
        if (!a)
                return NULL;
        for (size_t k = 0; k < n; k++)
                if (json_array_append_new(a, json_integer(pids[k])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

static json_t *finding_json(const SvFinding *x) {
        return json_pack("{s:s,s:o,s:o,s:o,s:I,s:I,s:o,s:b,s:b,s:o}", "kind", sv_finding_kind_name(x->kind), "text",
                         sv_json_string(x->text), "fix", x->fix[0] ? sv_json_string(x->fix) : json_null(), "conflict",
                         sv_json_string(x->conflict), "count", (json_int_t) x->count, "max_remaining_ms",
                         (json_int_t) x->max_expires_ms, "reuseaddr_helps", tristate_json(x->reuseaddr_helps),
                         "holder_visible", !x->hidden, "holder_matched", !x->unmatched, "pids",
                         pids_json(x->pids, x->n_pids));
}

static json_t *probe_json(const SvBindProbe *p) {
        char a[SV_ADDR_STRLEN];

        sv_addr_format(&p->addr, a, sizeof(a));
        return json_pack("{s:o,s:b,s:o,s:b,s:o}", "address", sv_json_string(a), "plain_ok", p->plain == 0,
                         "plain_error", errno_json(p->plain), "reuseaddr_ok", p->reuseaddr == 0, "reuseaddr_error",
                         errno_json(p->reuseaddr));
}

static json_t *holder_json(const SvSockHolder *h) {
        return json_pack("{s:i,s:I,s:o,s:o}", "pid", (int) h->pid, "uid", (json_int_t) h->uid, "comm",
                         sv_json_string(h->comm), "command", sv_json_string(h->cmdline));
}

/* One socket, with the holders of its inode in their order in f->holders. A holder's
 * object is built the first time one of its sockets is listed (hcache[its index]) and
 * shared by reference after that: on a busy port one process holds thousands of them. */
static json_t *socket_json(const SvDoctorFacts *f, const SvSockRec *s, const SvHolderIx *hix, json_t **hcache) {
        char local[SV_ADDR_STRLEN + 48], remote[INET6_ADDRSTRLEN + 16];
        json_auto_t *holders = json_array();
        json_auto_t *o = NULL;

        if (!holders)
                return NULL;
        size_t h0 = 0, n_h = s->inode ? sv_doctor_holders_find(hix, f->n_holders, s->inode, &h0) : 0;
        for (size_t h = 0; h < n_h; h++) {
                size_t i = hix[h0 + h].i;
                if (!hcache[i])
                        hcache[i] = holder_json(&f->holders[i]);
                if (!hcache[i] || json_array_append(holders, hcache[i]) < 0)
                        return NULL;
        }

        sv_doctor_fmt_local(s, local, sizeof(local));
        if (s->family != AF_UNIX) {
                sv_doctor_fmt_endpoint(s->family, s->raddr, s->rport, remote, sizeof(remote));
                o = json_pack("{s:o,s:o,s:s,s:o}", "local", sv_json_string(local), "remote", sv_json_string(remote),
                              "family", s->family == AF_INET ? "ipv4" : "ipv6", "v6only",
                              s->family != AF_INET6 ? json_null() : tristate_json(s->v6only));
        } else
                o = json_pack("{s:o,s:s,s:s}", "local", sv_json_string(local), "family", "unix", "type",
                              s->socktype == SOCK_DGRAM       ? "dgram"
                              : s->socktype == SOCK_SEQPACKET ? "seqpacket"
                                                              : "stream");
        if (!o || json_object_set_new(o, "state", json_string(sv_tcp_state_name(s->state))) < 0 ||
            json_object_set_new(o, "inode", json_integer((json_int_t) s->inode)) < 0 ||
            json_object_set_new(o, "uid", s->uid != UINT32_MAX ? json_integer(s->uid) : json_null()) < 0 ||
            json_object_set_new(o, "remaining_ms", json_integer(s->timer ? s->expires_ms : 0)) < 0 ||
            json_object_set(o, "holders", holders) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* The socket list is for a closer look (the findings count everything): at most
 * SV_JSON_SOCKETS_PER_STATE per state, the rest counted in *omitted, so that 10,000
 * connections on a port cost what the text costs. Adds "sockets", "sockets_total" and
 * "sockets_omitted" to root; 0 or -ENOMEM. */
static int sockets_json(const SvDoctorFacts *f, json_t *root) {
        unsigned per_state[_SV_TCP_STATE_MAX + 1] = { 0 }, omitted[_SV_TCP_STATE_MAX + 1] = { 0 };
        _cleanup_free_ SvHolderIx *hix = NULL;
        _cleanup_free_ json_t **hcache = NULL;
        json_auto_t *socks = json_array();
        json_auto_t *om = json_object();
        int r;

        if (!socks || !om || sv_doctor_holder_index(f, &hix) < 0)
                return -ENOMEM;
        hcache = calloc(f->n_holders ? f->n_holders : 1, sizeof(json_t *));
        if (!hcache)
                return -ENOMEM;
        r = 0;
        for (size_t i = 0; i < f->n_socks && r == 0; i++) {
                const SvSockRec *s = &f->socks[i];
                unsigned st = s->state < _SV_TCP_STATE_MAX ? s->state : _SV_TCP_STATE_MAX;
                if (per_state[st]++ >= SV_JSON_SOCKETS_PER_STATE) {
                        omitted[st]++;
                        continue;
                }
                r = json_array_append_new(socks, socket_json(f, s, hix, hcache)) < 0 ? -ENOMEM : 0;
        }
        for (size_t k = 0; k < f->n_holders; k++)
                json_decref(hcache[k]); /* the sockets that list them hold them */
        for (unsigned st = 0; st <= _SV_TCP_STATE_MAX && r == 0; st++)
                if (omitted[st] && json_object_set_new(om, st < _SV_TCP_STATE_MAX ? sv_tcp_state_name(st) : "OTHER",
                                                       json_integer(omitted[st])) < 0)
                        r = -ENOMEM;
        if (r < 0 || json_object_set(root, "sockets", socks) < 0 ||
            json_object_set_new(root, "sockets_total", json_integer((json_int_t) f->n_socks)) < 0 ||
            json_object_set(root, "sockets_omitted", om) < 0)
                return -ENOMEM;
        return 0;
}

static json_t *report_json(const SvDoctorFacts *f, const SvDoctorReport *r) {
        const SvDoctorQuery *q = &f->query;
        char qs[SV_ADDR_STRLEN + 48];
        json_auto_t *findings = json_array();
        json_auto_t *probes = json_array();

        if (!findings || !probes)
                return NULL;
        for (size_t i = 0; i < r->n_findings; i++)
                if (json_array_append_new(findings, finding_json(&r->findings[i])) < 0)
                        return NULL;
        for (size_t i = 0; i < f->n_probes; i++)
                if (f->probes[i].tried && json_array_append_new(probes, probe_json(&f->probes[i])) < 0)
                        return NULL;

        if (q->bare_port)
                (void) snprintf(qs, sizeof(qs), "%u", q->port);
        else
                sv_addr_format(&q->addr, qs, sizeof(qs));
        json_auto_t *root = json_pack("{s:o,s:s,s:I,s:b,s:b,s:O,s:O}", "query", sv_json_string(qs), "protocol",
                                      q->addr.kind == SV_ADDR_UNIX  ? "unix"
                                      : q->addr.kind == SV_ADDR_UDP ? "udp"
                                                                    : "tcp",
                                      "port", (json_int_t) q->port, "bare_port", q->bare_port, "in_use", r->blocked,
                                      "findings", findings, "probes", probes);
        if (!root || sockets_json(f, root) < 0 ||
            json_object_set_new(root, "proc_scanned", json_boolean(f->proc_scanned)) < 0 ||
            json_object_set_new(root, "processes_not_readable", json_integer(f->proc_hidden)) < 0 ||
            json_object_set_new(root, "processes_read_partly", pids_json(f->partial_pids, f->n_partial)) < 0)
                return NULL;
        if (q->addr.kind == SV_ADDR_UNIX && !q->addr.abstract &&
            json_object_set_new(root, "file",
                                json_pack("{s:b,s:b,s:o}", "exists", f->unix_file.exists, "is_socket",
                                          f->unix_file.is_socket, "connect_error",
                                          errno_json(f->unix_file.connect_err))) < 0)
                return NULL;
        return TAKE_PTR(root);
}

/* json_dump_callback's sink: one growing buffer, doubled as needed. */
typedef struct JsonBuf {
        char *p;
        size_t len, cap;
} JsonBuf;

static int json_buf_put(const char *s, size_t n, void *data) {
        JsonBuf *b = data;

        if (b->len + n + 2 > b->cap) { /* room for the newline and the NUL too */
                size_t cap = b->cap ? b->cap : 16384;
                while (cap < b->len + n + 2)
                        cap *= 2;
                char *p = realloc(b->p, cap);
                if (!p)
                        return -1;
                b->p = p, b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        return 0;
}

char *sv_doctor_format_json(const SvDoctorFacts *f, const SvDoctorReport *r) {
        json_auto_t *root = report_json(f, r);
        JsonBuf b = { 0 };

        if (!root || json_dump_callback(root, json_buf_put, &b, JSON_COMPACT | JSON_PRESERVE_ORDER) < 0 ||
            json_buf_put("\n", 1, &b) < 0) {
                free(b.p);
                return NULL;
        }
        b.p[b.len] = '\0';
        return b.p;
}
