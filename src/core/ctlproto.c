/* The control protocol: request and reply lines, and a bounded line framer. Pure. */
#include "sockvisor/ctlproto.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#define CTL_MAGIC "SOCKVISOR/"
#define CTL_MAGIC_LEN (sizeof(CTL_MAGIC) - 1)

/* ctl_request_format writes the version as a literal. */
_Static_assert(CTL_PROTO_VERSION == 1, "update the \"SOCKVISOR/1 \" literal in ctl_request_format");

/* How much of a user-supplied string a diagnostic quotes. */
#define PREVIEW_MAX 40

static bool verb_char_ok(unsigned char c) {
        return c >= 'a' && c <= 'z';
}

static bool arg_char_ok(unsigned char c) {
        return c >= 0x21 && c <= 0x7e;
}

static bool is_control(unsigned char c) {
        return c < 0x20 || c == 0x7f;
}

/* Copies at most PREVIEW_MAX bytes of s[0..n) into out for quoting in a message, with
 * control and non-ASCII bytes shown as '?' and "..." when cut. */
static const char *preview(char out[static PREVIEW_MAX + 4], const char *s, size_t n) {
        size_t k = n > PREVIEW_MAX ? PREVIEW_MAX : n;

        for (size_t i = 0; i < k; i++) {
                unsigned char c = (unsigned char) s[i];
                out[i] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
        }
        if (k < n) {
                memcpy(out + k, "...", 3);
                k += 3;
        }
        out[k] = '\0';
        return out;
}

static int check_verb(const char *v, size_t n, SvDiag *d) {
        char p[PREVIEW_MAX + 4];

        if (n == 0)
                return diag_set(d, 0, "empty command verb; expected lowercase letters such as 'status'");
        if (n > CTL_VERB_MAX)
                return diag_set(d, 0, "command verb '%s' is %zu bytes long; at most %d are allowed",
                                preview(p, v, n), n, CTL_VERB_MAX);
        for (size_t i = 0; i < n; i++)
                if (!verb_char_ok((unsigned char) v[i]))
                        return diag_set(d, 0, "bad command verb '%s': only lowercase letters a-z are allowed",
                                        preview(p, v, n));
        return 0;
}

/* idx is 1-based, as a user counts arguments. */
static int check_arg(size_t idx, const char *a, size_t n, SvDiag *d) {
        char p[PREVIEW_MAX + 4];

        if (n == 0)
                return diag_set(d, 0, "argument %zu is empty; arguments are 1..%d printable ASCII bytes without spaces",
                                idx, CTL_ARG_MAX);
        if (n > CTL_ARG_MAX)
                return diag_set(d, 0, "argument %zu ('%s') is %zu bytes long; at most %d are allowed",
                                idx, preview(p, a, n), n, CTL_ARG_MAX);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) a[i];

                if (arg_char_ok(c))
                        continue;
                if (c == ' ')
                        return diag_set(d, 0, "argument %zu ('%s') contains a space; names and arguments cannot contain spaces",
                                        idx, preview(p, a, n));
                return diag_set(d, 0, "argument %zu ('%s') contains the byte 0x%02x at offset %zu; only printable ASCII is allowed",
                                idx, preview(p, a, n), c, i);
        }
        return 0;
}

int ctl_request_format(char *buf, size_t len, const char *verb, char *const *args, size_t n_args,
                       SvDiag *d) {
        size_t verb_len, need, pos;
        int r;

        assert(buf || len == 0);
        assert(args || n_args == 0);

        if (!verb)
                return diag_set(d, 0, "no command verb given");
        verb_len = strlen(verb);
        r = check_verb(verb, verb_len, d);
        if (r < 0)
                return r;

        if (n_args > CTL_ARGS_MAX) {
                (void) diag_set(d, 0, "too many arguments (%zu); at most %d fit in one request: send them in several",
                                n_args, CTL_ARGS_MAX);
                return -EMSGSIZE;
        }

        /* Validate everything and measure before writing a byte: buf is only written on success. */
        need = CTL_MAGIC_LEN + 2 + verb_len + 1; /* "SOCKVISOR/1 " verb '\n' */
        for (size_t i = 0; i < n_args; i++) {
                size_t n;

                if (!args[i])
                        return diag_set(d, 0, "argument %zu is missing (NULL)", i + 1);
                n = strlen(args[i]);
                r = check_arg(i + 1, args[i], n, d);
                if (r < 0)
                        return r;
                need += 1 + n;
        }

        if (need > CTL_LINE_MAX) {
                (void) diag_set(d, 0, "request would be %zu bytes long; the limit is %d bytes: send fewer arguments at a time",
                                need, CTL_LINE_MAX);
                return -EMSGSIZE;
        }
        if (need + 1 > len) {
                (void) diag_set(d, 0, "request needs %zu bytes but the buffer holds only %zu", need + 1, len);
                return -EMSGSIZE;
        }

        pos = 0;
        memcpy(buf + pos, CTL_MAGIC "1 ", CTL_MAGIC_LEN + 2);
        pos += CTL_MAGIC_LEN + 2;
        memcpy(buf + pos, verb, verb_len);
        pos += verb_len;
        for (size_t i = 0; i < n_args; i++) {
                size_t n = strlen(args[i]);

                buf[pos++] = ' ';
                memcpy(buf + pos, args[i], n);
                pos += n;
        }
        buf[pos++] = '\n';
        buf[pos] = '\0';
        assert(pos == need);

        return (int) pos;
}

static void request_reset(CtlRequest *ret) {
        ret->verb[0] = '\0';
        ret->n_args = 0;
        ret->args[0] = NULL;
}

int ctl_request_parse(const char *line, size_t len, CtlRequest *ret, SvDiag *d) {
        char p[PREVIEW_MAX + 4];
        size_t pos, digits, verb_start, buf_pos;
        unsigned version;
        int r;

        assert(line || len == 0);
        assert(ret);

        ret->version = 0;
        request_reset(ret);

        if (len > 0 && line[len - 1] == '\n')
                len--;

        /* Size first: nothing below has to care about huge input. */
        if (len + 1 > CTL_LINE_MAX) {
                (void) diag_set(d, 0, "request line is %zu bytes long; the limit is %d bytes including the newline",
                                len + 1, CTL_LINE_MAX);
                return -EMSGSIZE;
        }

        if (len < CTL_MAGIC_LEN || memcmp(line, CTL_MAGIC, CTL_MAGIC_LEN) != 0) {
                (void) diag_set(d, 0, "not a sockvisor request: expected '" CTL_MAGIC "%d <verb> ...', got '%s'",
                                CTL_PROTO_VERSION, preview(p, line, len));
                return -EPROTO;
        }

        /* Version: saturate instead of overflowing; any huge number is unsupported anyway. */
        pos = CTL_MAGIC_LEN;
        version = 0;
        for (digits = 0; pos < len && line[pos] >= '0' && line[pos] <= '9'; pos++, digits++) {
                unsigned dgt = (unsigned) (line[pos] - '0');

                version = version > (UINT_MAX - dgt) / 10 ? UINT_MAX : version * 10 + dgt;
        }
        if (digits == 0 || pos >= len || line[pos] != ' ') {
                (void) diag_set(d, 0, "not a sockvisor request: expected '" CTL_MAGIC "%d <verb> ...', got '%s'",
                                CTL_PROTO_VERSION, preview(p, line, len));
                return -EPROTO;
        }
        ret->version = version;
        if (version != CTL_PROTO_VERSION) {
                (void) diag_set(d, 0, "protocol version %u is not supported; this side speaks " CTL_MAGIC "%d only "
                                "(are sockvisorctl and sockvisord from the same release?)",
                                version, CTL_PROTO_VERSION);
                return -EPROTONOSUPPORT;
        }
        pos++; /* the space */

        verb_start = pos;
        while (pos < len && line[pos] != ' ')
                pos++;
        r = check_verb(line + verb_start, pos - verb_start, d);
        if (r < 0)
                goto fail;
        memcpy(ret->verb, line + verb_start, pos - verb_start);
        ret->verb[pos - verb_start] = '\0';

        /* Each argument is " arg"; copied into ret->buf NUL-terminated. The copies take at
         * most len - pos bytes, which is less than CTL_LINE_MAX. */
        buf_pos = 0;
        while (pos < len) {
                size_t arg_start, n;

                assert(line[pos] == ' ');
                pos++;
                arg_start = pos;
                while (pos < len && line[pos] != ' ')
                        pos++;
                n = pos - arg_start;

                if (ret->n_args >= CTL_ARGS_MAX) {
                        (void) diag_set(d, 0, "too many arguments; at most %d are allowed in one request", CTL_ARGS_MAX);
                        r = -EMSGSIZE;
                        goto fail;
                }
                r = check_arg(ret->n_args + 1, line + arg_start, n, d);
                if (r < 0)
                        goto fail;

                assert(buf_pos + n + 1 <= sizeof(ret->buf));
                memcpy(ret->buf + buf_pos, line + arg_start, n);
                ret->buf[buf_pos + n] = '\0';
                ret->args[ret->n_args++] = ret->buf + buf_pos;
                buf_pos += n + 1;
        }
        ret->args[ret->n_args] = NULL;

        return 0;

fail:
        request_reset(ret); /* ret->version stays: the caller may want to say which one */
        return r;
}

/* The bare prefix of each kind; ". " and "| " always carry their space, OK and ERR only
 * when text follows. */
static const char *const reply_word[_CTL_REPLY_MAX] = {
        [CTL_REPLY_PROGRESS] = ".",
        [CTL_REPLY_OUTPUT] = "|",
        [CTL_REPLY_OK] = "OK",
        [CTL_REPLY_ERR] = "ERR",
};

int ctl_reply_format(char *buf, size_t len, CtlReplyKind kind, const char *text) {
        size_t cap, word_len, room, n, full, pos;
        bool space;

        assert(buf || len == 0);

        if ((unsigned) kind >= _CTL_REPLY_MAX)
                return -EINVAL;
        if (!text)
                text = "";

        /* The whole line with its '\n' must fit CTL_LINE_MAX; the NUL after it must fit buf. */
        cap = len < CTL_LINE_MAX + 1 ? len : CTL_LINE_MAX + 1;
        word_len = strlen(reply_word[kind]);
        space = !ctl_reply_is_final(kind);
        if (cap < word_len + space + 2)
                return -EMSGSIZE;
        room = cap - word_len - space - 2;
        if (ctl_reply_is_final(kind) && text[0] != '\0' && room >= 2) {
                space = true; /* "OK text"; plain "OK" when not even one byte of text fits */
                room--;
        } else if (ctl_reply_is_final(kind))
                room = 0;

        full = strnlen(text, room + 1);
        n = full <= room ? full : room;
        if (n < full)
                /* Do not split a UTF-8 sequence: back off while the cut lands on a continuation byte. */
                for (size_t k = 0; k < 3 && n > 0 && ((unsigned char) text[n] & 0xC0) == 0x80; k++)
                        n--;
        if (ctl_reply_is_final(kind) && n == 0)
                space = false; /* "OK" rather than "OK " when no text fitted */

        pos = 0;
        memcpy(buf, reply_word[kind], word_len);
        pos += word_len;
        if (space)
                buf[pos++] = ' ';
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) text[i];

                buf[pos++] = is_control(c) ? '?' : (char) c;
        }
        buf[pos++] = '\n';
        buf[pos] = '\0';

        return (int) pos;
}

int ctl_reply_parse(const char *line, size_t len, CtlReplyKind *kind, const char **text, size_t *text_len) {
        assert(line || len == 0);
        assert(kind);
        assert(text);
        assert(text_len);

        if (len > 0 && line[len - 1] == '\n')
                len--;
        if (len + 1 > CTL_LINE_MAX)
                return -EMSGSIZE;
        if (memchr(line, '\n', len) || memchr(line, '\0', len))
                return -EPROTO;

        for (CtlReplyKind k = 0; k < _CTL_REPLY_MAX; k++) {
                size_t w = strlen(reply_word[k]);

                if (len < w || memcmp(line, reply_word[k], w) != 0)
                        continue;
                if (len == w) {
                        *kind = k;
                        *text = line + len;
                        *text_len = 0;
                        return 0;
                }
                if (line[w] != ' ')
                        continue; /* "OKAY", ".x": not ours */
                *kind = k;
                *text = line + w + 1;
                *text_len = len - w - 1;
                return 0;
        }

        return -EPROTO;
}

void ctl_framer_init(CtlFramer *f) {
        assert(f);
        f->start = 0;
        f->len = 0;
}

/* Compacts lazily: only when less than one full line of space is left at the tail. Once
 * the caller has taken every complete line, what remains is a partial line shorter than
 * CTL_LINE_MAX, so after compaction more than CTL_LINE_MAX bytes are free. */
char *ctl_framer_space(CtlFramer *f, size_t *avail) {
        assert(f);
        assert(avail);

        if (f->len == 0)
                f->start = 0;
        else if (f->start > 0 && sizeof(f->buf) - (f->start + f->len) < CTL_LINE_MAX) {
                memmove(f->buf, f->buf + f->start, f->len);
                f->start = 0;
        }

        *avail = sizeof(f->buf) - (f->start + f->len);
        return f->buf + f->start + f->len;
}

void ctl_framer_commit(CtlFramer *f, size_t n) {
        assert(f);
        assert(n <= sizeof(f->buf) - (f->start + f->len));

        f->len += n;
}

int ctl_framer_next(CtlFramer *f, char **line, size_t *line_len) {
        char *s, *nl;
        size_t n;

        assert(f);
        assert(line);
        assert(line_len);

        if (f->len == 0)
                return 0;

        /* A '\n' further than CTL_LINE_MAX-1 bytes in means the line is too long, so never
         * look past CTL_LINE_MAX bytes. */
        s = f->buf + f->start;
        nl = memchr(s, '\n', f->len < CTL_LINE_MAX ? f->len : CTL_LINE_MAX);
        if (!nl)
                return f->len >= CTL_LINE_MAX ? -EMSGSIZE : 0;

        n = (size_t) (nl - s);
        *nl = '\0';
        f->start += n + 1;
        f->len -= n + 1;

        *line = s;
        *line_len = n;
        return 1;
}

size_t ctl_framer_pending(const CtlFramer *f) {
        assert(f);
        return f->len;
}
