/* The control protocol between sockvisorctl and sockvisord, shared by both. Pure.
 *
 * Text lines over a unix stream socket; every line ends with '\n' and is at most
 * CTL_LINE_MAX bytes including it.
 *
 * Request (client -> daemon), exactly one line, then the client only reads:
 *     SOCKVISOR/1 <verb> [<arg> ...]
 *   verb: lowercase letters only ("status", "restart", ...), 1..31 bytes.
 *   args: separated by single spaces; each 1..255 bytes of printable ASCII without space
 *   (0x21..0x7e); at most CTL_ARGS_MAX.
 *
 * Replies (daemon -> client), any number of lines, the last one final:
 *     . <text>     progress while a command waits (shown as it arrives)
 *     | <text>     output (a table row, a value), printed as is
 *     OK <text>    final, success (text may be empty: "OK")
 *     ERR <text>   final, failure; text is a one-line reason
 *   The daemon closes the connection after the final line.
 *   text: any bytes except '\n' and NUL; the formatter turns control characters into '?'. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "sockvisor/diag.h"

#define CTL_PROTO_VERSION 1
#define CTL_LINE_MAX 4096
#define CTL_ARGS_MAX 64
#define CTL_VERB_MAX 31
#define CTL_ARG_MAX 255
#define SV_FETCH_MAX 16 /* held sockets one fetch (sockvisorctl exec) may ask for */

typedef struct CtlRequest {
        unsigned version;
        char verb[CTL_VERB_MAX + 1];
        size_t n_args;
        char *args[CTL_ARGS_MAX + 1]; /* point into buf; args[n_args] == NULL */
        char buf[CTL_LINE_MAX];
} CtlRequest;

/* Writes "SOCKVISOR/1 verb args...\n" into buf. Returns the length (without NUL) or
 * -EINVAL (bad verb/arg, message in d) or -EMSGSIZE (does not fit buf or CTL_LINE_MAX). */
int ctl_request_format(char *buf, size_t len, const char *verb, char *const *args, size_t n_args,
                       SvDiag *d);

/* Parses one request line (line[0..len), with or without its trailing '\n').
 * -EPROTO when the line does not start with "SOCKVISOR/<digits> " (d says what it got),
 * -EPROTONOSUPPORT when the version is not CTL_PROTO_VERSION (ret->version is still set),
 * -EINVAL for a bad verb or argument, -EMSGSIZE for too long or too many args. */
int ctl_request_parse(const char *line, size_t len, CtlRequest *ret, SvDiag *d);

typedef enum CtlReplyKind {
        CTL_REPLY_PROGRESS, /* ". " */
        CTL_REPLY_OUTPUT,   /* "| " */
        CTL_REPLY_OK,       /* "OK" */
        CTL_REPLY_ERR,      /* "ERR" */
        _CTL_REPLY_MAX,
} CtlReplyKind;

/* Writes one reply line with its '\n' into buf (text may be NULL for empty); control
 * characters in text become '?', and text is cut to fit CTL_LINE_MAX. Returns the length
 * or -EMSGSIZE when buf is too small for even the prefix. */
int ctl_reply_format(char *buf, size_t len, CtlReplyKind kind, const char *text);

/* Parses one reply line (without or with '\n'). On success sets *kind and *text (pointing
 * into line, NUL-terminated copy not made: *text_len gives its length). -EPROTO for an
 * unknown prefix. */
int ctl_reply_parse(const char *line, size_t len, CtlReplyKind *kind, const char **text, size_t *text_len);

static inline bool ctl_reply_is_final(CtlReplyKind k) {
        return k == CTL_REPLY_OK || k == CTL_REPLY_ERR;
}

/* Splits a byte stream into lines, bounded by CTL_LINE_MAX. */
typedef struct CtlFramer {
        char buf[2 * CTL_LINE_MAX];
        size_t start, len; /* unconsumed bytes are buf[start .. start+len) */
} CtlFramer;

void ctl_framer_init(CtlFramer *f);
/* Where the next read() may write, and how many bytes fit (always >= 1 unless a line is
 * overlong, which ctl_framer_next reports first). */
char *ctl_framer_space(CtlFramer *f, size_t *avail);
/* Records that n bytes were written at the space returned above. */
void ctl_framer_commit(CtlFramer *f, size_t n);
/* Takes the next complete line: returns 1 and sets *line to it, NUL-terminated with the
 * '\n' removed (valid until the next framer call) and *line_len to its length; returns 0
 * when no complete line is buffered; -EMSGSIZE when CTL_LINE_MAX bytes arrived without a
 * '\n'. */
int ctl_framer_next(CtlFramer *f, char **line, size_t *line_len);
/* Bytes buffered but not yet returned as a line. */
size_t ctl_framer_pending(const CtlFramer *f);
