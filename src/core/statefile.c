/* The upgrade state format (statefile.h): escaped key=value records, one per line. */
#include "sockvisor/statefile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing ---- */

static bool grow(SvStateOut *o, size_t more) {
        if (o->failed)
                return false;
        if (o->len + more + 1 <= o->cap)
                return true;
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + more + 1)
                cap *= 2;
        char *b = cap <= SV_STATE_SIZE_MAX ? realloc(o->buf, cap) : NULL;
        if (!b) {
                o->failed = true;
                return false;
        }
        o->buf = b;
        o->cap = cap;
        return true;
}

static void put(SvStateOut *o, const char *s, size_t n) {
        if (!grow(o, n))
                return;
        memcpy(o->buf + o->len, s, n);
        o->len += n;
        o->buf[o->len] = '\0';
}

static bool needs_escape(unsigned char c) {
        return c <= ' ' || c == '%' || c == '=' || c == 0x7f;
}

static void put_escaped(SvStateOut *o, const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        size_t n = 0;
        for (const char *p = s; *p; p++)
                n += needs_escape((unsigned char) *p) ? 3 : 1;
        if (!grow(o, n))
                return;
        char *w = o->buf + o->len;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (needs_escape(*p)) {
                        *w++ = '%';
                        *w++ = hex[*p >> 4];
                        *w++ = hex[*p & 15];
                } else
                        *w++ = (char) *p;
        o->len += n;
        o->buf[o->len] = '\0';
}

void sv_state_record(SvStateOut *o, const char *kind) {
        if (o->len > 0)
                put(o, "\n", 1);
        put(o, kind, strlen(kind));
}

static void put_key(SvStateOut *o, const char *key) {
        put(o, " ", 1);
        put(o, key, strlen(key));
        put(o, "=", 1);
}

void sv_state_str(SvStateOut *o, const char *key, const char *value) {
        if (!value)
                return;
        put_key(o, key);
        put_escaped(o, value);
}

void sv_state_u64(SvStateOut *o, const char *key, uint64_t v) {
        char b[24];
        put_key(o, key);
        put(o, b, (size_t) snprintf(b, sizeof(b), "%" PRIu64, v));
}

void sv_state_i64(SvStateOut *o, const char *key, int64_t v) {
        char b[24];
        put_key(o, key);
        put(o, b, (size_t) snprintf(b, sizeof(b), "%" PRId64, v));
}

void sv_state_bool(SvStateOut *o, const char *key, bool v) {
        put_key(o, key);
        put(o, v ? "1" : "0", 1);
}

void sv_state_ids(SvStateOut *o, const char *key, const uint64_t *v, size_t n) {
        char b[24];
        put_key(o, key);
        for (size_t k = 0; k < n; k++) {
                if (k > 0)
                        put(o, ",", 1);
                put(o, b, (size_t) snprintf(b, sizeof(b), "%" PRIu64, v[k]));
        }
}

void sv_state_done(SvStateOut *o) {
        free(o->buf);
        *o = (SvStateOut){};
}

/* ---- reading ---- */

void sv_state_in_init(SvStateIn *in, const char *text, size_t len, SvDiag *d) {
        *in = (SvStateIn){ .text = text, .len = len, .d = d };
}

void sv_state_in_done(SvStateIn *in) {
        free(in->scratch);
        in->scratch = NULL;
        in->scratch_cap = 0;
}

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* In place; false on a malformed escape. */
static bool unescape(char *s) {
        char *w = s;
        for (char *p = s; *p; p++) {
                if (*p != '%') {
                        *w++ = *p;
                        continue;
                }
                int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
                if (lo < 0 || (hi == 0 && lo == 0)) /* a NUL would cut the value short */
                        return false;
                *w++ = (char) (hi << 4 | lo);
                p += 2;
        }
        *w = '\0';
        return true;
}

static int in_fail(SvStateIn *in, unsigned line, const char *fmt, va_list ap) _printf_(3, 0);
static int in_fail(SvStateIn *in, unsigned line, const char *fmt, va_list ap) {
        char text[sizeof(in->d->msg)];
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        if (!in->err) {
                in->err = -EINVAL;
                if (in->d)
                        diag_set(in->d, line, "upgrade state, line %u: %s", line, text);
        }
        return in->err;
}

int sv_rec_fail(SvStateIn *in, const SvStateRec *r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int e = in_fail(in, r ? r->line : in->line, fmt, ap);
        va_end(ap);
        return e;
}

static int fail_at(SvStateIn *in, const char *fmt, ...) _printf_(2, 3);
static int fail_at(SvStateIn *in, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int e = in_fail(in, in->line, fmt, ap);
        va_end(ap);
        return e;
}

int sv_state_next(SvStateIn *in, SvStateRec *rec) {
        if (in->err)
                return in->err;
        if (in->pos >= in->len)
                return 0;
        const char *start = in->text + in->pos, *nl = memchr(start, '\n', in->len - in->pos);
        size_t n = nl ? (size_t) (nl - start) : in->len - in->pos;
        in->pos += n + (nl != NULL);
        in->line++;
        if (memchr(start, '\0', n))
                return fail_at(in, "contains a NUL byte");
        if (n + 1 > in->scratch_cap) {
                char *b = realloc(in->scratch, n + 1);
                if (!b)
                        return in->err = -ENOMEM;
                in->scratch = b;
                in->scratch_cap = n + 1;
        }
        memcpy(in->scratch, start, n);
        in->scratch[n] = '\0';

        *rec = (SvStateRec){ .line = in->line };
        char *save = NULL, *tok = strtok_r(in->scratch, " ", &save);
        if (!tok)
                return fail_at(in, "empty line");
        rec->kind = tok;
        while ((tok = strtok_r(NULL, " ", &save))) {
                char *eq = strchr(tok, '=');
                if (!eq || eq == tok)
                        return fail_at(in, "'%.40s' is not key=value", tok);
                if (rec->n == SV_STATE_FIELDS_MAX)
                        return fail_at(in, "more than %d fields", SV_STATE_FIELDS_MAX);
                *eq = '\0';
                if (!unescape(eq + 1))
                        return fail_at(in, "field '%.40s': malformed %%-escape", tok);
                rec->keys[rec->n] = tok;
                rec->vals[rec->n++] = eq + 1;
        }
        return 1;
}

int sv_state_expect(SvStateIn *in, SvStateRec *rec, const char *kind) {
        int r = sv_state_next(in, rec);
        if (r == 0)
                return fail_at(in, "ends before a '%s' record", kind);
        if (r > 0 && strcmp(rec->kind, kind) != 0)
                return fail_at(in, "'%.40s' where a '%s' record belongs", rec->kind, kind);
        return r;
}

const char *sv_rec_opt(const SvStateRec *r, const char *key) {
        for (size_t k = 0; k < r->n; k++)
                if (strcmp(r->keys[k], key) == 0)
                        return r->vals[k];
        return NULL;
}

const char *sv_rec_str(SvStateIn *in, const SvStateRec *r, const char *key) {
        const char *v = sv_rec_opt(r, key);
        if (!v) {
                sv_rec_fail(in, r, "'%s' record without %s=", r->kind, key);
                return "";
        }
        return v;
}

static bool parse_u64(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        if (!*s)
                return false;
        for (; *s; s++) {
                uint64_t digit = (uint64_t) (*s - '0');
                if (*s < '0' || *s > '9' || v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && digit > UINT64_MAX % 10))
                        return false;
                v = v * 10 + digit;
        }
        *ret = v;
        return true;
}

uint64_t sv_rec_u64(SvStateIn *in, const SvStateRec *r, const char *key) {
        const char *v = sv_rec_opt(r, key);
        uint64_t x;
        if (!v || !parse_u64(v, &x)) {
                sv_rec_fail(in, r, "'%s' record: %s=%s is not a number", r->kind, key, v ? v : "(missing)");
                return 0;
        }
        return x;
}

int64_t sv_rec_i64(SvStateIn *in, const SvStateRec *r, const char *key) {
        const char *v = sv_rec_opt(r, key);
        uint64_t x;
        bool neg = v && *v == '-';
        if (!v || !parse_u64(v + neg, &x) || x > (uint64_t) INT64_MAX) {
                sv_rec_fail(in, r, "'%s' record: %s=%s is not a number", r->kind, key, v ? v : "(missing)");
                return 0;
        }
        return neg ? -(int64_t) x : (int64_t) x;
}

bool sv_rec_bool(SvStateIn *in, const SvStateRec *r, const char *key) {
        const char *v = sv_rec_opt(r, key);
        if (!v || (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)) {
                sv_rec_fail(in, r, "'%s' record: %s=%s is not 0 or 1", r->kind, key, v ? v : "(missing)");
                return false;
        }
        return v[0] == '1';
}

uint64_t sv_rec_below(SvStateIn *in, const SvStateRec *r, const char *key, uint64_t max) {
        uint64_t v = sv_rec_u64(in, r, key);
        if (!in->err && v >= max) {
                sv_rec_fail(in, r, "'%s' record: %s=%" PRIu64 " is out of range (below %" PRIu64 ")", r->kind, key, v,
                            max);
                return 0;
        }
        return v;
}

size_t sv_rec_ids(SvStateIn *in, const SvStateRec *r, const char *key, uint64_t *v, size_t max) {
        const char *s = sv_rec_opt(r, key);
        size_t n = 0;
        if (!s) {
                sv_rec_fail(in, r, "'%s' record without %s=", r->kind, key);
                return 0;
        }
        while (*s) {
                char num[24];
                size_t l = strcspn(s, ",");
                if (n == max || l == 0 || l >= sizeof(num)) {
                        sv_rec_fail(in, r, "'%s' record: %s= is not a list of at most %zu numbers", r->kind, key, max);
                        return 0;
                }
                memcpy(num, s, l);
                num[l] = '\0';
                if (!parse_u64(num, &v[n])) {
                        sv_rec_fail(in, r, "'%s' record: %s= holds '%s', not a number", r->kind, key, num);
                        return 0;
                }
                n++;
                s += l;
                if (*s == ',' && *++s == '\0') {
                        sv_rec_fail(in, r, "'%s' record: %s= ends with a comma", r->kind, key);
                        return 0;
                }
        }
        return n;
}
