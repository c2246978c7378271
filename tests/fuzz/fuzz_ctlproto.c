/* libFuzzer target for the control protocol: the line framer fed in arbitrary pieces,
 * every line it yields read as a request (the daemon's side) and as a reply (the
 * client's side), on arbitrary bytes. See README "Fuzzing". Besides crashes and sanitizer
 * reports it checks the contract: the framer never hands out a line longer than
 * CTL_LINE_MAX or one with a '\n' in it, and reports an overlong line instead of growing;
 * what feeding the stream in pieces yields is what feeding it at once yields; a request
 * that parses formats back to a line that parses to the same verb and arguments; a reply
 * that parses formats back to a line of the same kind. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/ctlproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const char *line, size_t len) {
        CtlRequest req;
        SvDiag d = { 0 };
        int r = ctl_request_parse(line, len, &req, &d);
        if (r < 0) {
                if (r != -EPROTO && r != -EPROTONOSUPPORT && r != -EINVAL && r != -EMSGSIZE)
                        abort();
                return;
        }
        if (req.n_args > CTL_ARGS_MAX || req.args[req.n_args])
                abort();
        char buf[CTL_LINE_MAX + 1];
        SvDiag d2 = { 0 };
        int n = ctl_request_format(buf, sizeof(buf), req.verb, req.args, req.n_args, &d2);
        if (n <= 0)
                abort(); /* what the daemon accepts, the client can say */
        CtlRequest again;
        if (ctl_request_parse(buf, (size_t) n, &again, &d2) != 0 || strcmp(again.verb, req.verb) != 0 ||
            again.n_args != req.n_args)
                abort();
        for (size_t k = 0; k < req.n_args; k++)
                if (strcmp(again.args[k], req.args[k]) != 0)
                        abort();
}

static void check_reply(const char *line, size_t len) {
        CtlReplyKind kind;
        const char *text;
        size_t text_len;
        if (ctl_reply_parse(line, len, &kind, &text, &text_len) < 0)
                return;
        if (kind >= _CTL_REPLY_MAX || text < line || text + text_len > line + len)
                abort();
        char *copy = strndup(text, text_len);
        if (!copy)
                return;
        char buf[CTL_LINE_MAX + 1];
        int n = ctl_reply_format(buf, sizeof(buf), kind, copy);
        CtlReplyKind kind2;
        if (n <= 0 || (size_t) n > CTL_LINE_MAX || buf[n - 1] != '\n' ||
            ctl_reply_parse(buf, (size_t) n, &kind2, &text, &text_len) < 0 || kind2 != kind)
                abort();
        free(copy);
}

/* Feeds data through a framer, taking pieces whose sizes come from step; returns how many
 * lines came out and a checksum of them, or -1 once the framer reports an overlong line. */
static long frame(const uint8_t *data, size_t size, size_t step, uint64_t *sum, bool check) {
        static CtlFramer f; /* 8 KiB: not on the stack */
        ctl_framer_init(&f);
        size_t off = 0;
        long lines = 0;
        *sum = 1469598103934665603ULL;
        for (;;) {
                char *line;
                size_t len;
                int r;
                while ((r = ctl_framer_next(&f, &line, &len)) == 1) {
                        if (len >= CTL_LINE_MAX || memchr(line, '\n', len) || line[len] != '\0')
                                abort();
                        for (size_t k = 0; k < len; k++)
                                *sum = (*sum ^ (uint8_t) line[k]) * 1099511628211ULL;
                        *sum = (*sum ^ 0x100) * 1099511628211ULL;
                        if (check) {
                                check_request(line, len);
                                check_reply(line, len);
                        }
                        lines++;
                }
                if (r == -EMSGSIZE)
                        return -1;
                if (r != 0)
                        abort();
                if (off == size)
                        return lines;
                size_t avail;
                char *space = ctl_framer_space(&f, &avail);
                if (avail == 0)
                        abort(); /* the framer promised room unless a line is overlong */
                size_t n = size - off < step ? size - off : step;
                if (n > avail)
                        n = avail;
                memcpy(space, data + off, n);
                ctl_framer_commit(&f, n);
                off += n;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size == 0)
                return 0;
        size_t step = (size_t) data[0] % 61 + 1; /* the piece size of the second feeding */
        uint64_t whole, pieces;
        long a = frame(data + 1, size - 1, SIZE_MAX, &whole, true);
        long b = frame(data + 1, size - 1, step, &pieces, false);
        if (a != b || (a >= 0 && whole != pieces))
                abort(); /* how the bytes arrive does not change what they say */
        return 0;
}
