/* libFuzzer target for the sock_diag record parser: sv_sockdiag_walk
 * (src/doctor/diagnose_parse.c) on arbitrary bytes read as a netlink dump of each family
 * the doctor and the daemon ask for (tcp and udp over IPv4 and IPv6, unix). The kernel
 * writes these, but a kernel of another version may write what we do not expect. See
 * README "Fuzzing". Besides crashes and sanitizer reports it checks the contract: the walk
 * returns 1, 0 or a negative errno; every record it hands out is a unix one when unix was asked
 * for, else of the protocol asked for, and a unix path NUL-terminated within its buffer; the callback's own error
 * stops the walk and comes back unchanged. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sockvisor/doctor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Walk {
        int family, protocol;
        unsigned seen, stop_after;
} Walk;

static int on_rec(const SvSockRec *s, void *userdata) {
        Walk *w = userdata;
        /* an inet record says its own family; the protocol is the one asked for */
        if (w->family == AF_UNIX ? s->family != AF_UNIX : s->protocol != w->protocol)
                abort();
        if (strnlen(s->path, sizeof(s->path)) == sizeof(s->path))
                abort();
        if (++w->seen == w->stop_after)
                return -ECANCELED;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const struct {
                int family, protocol;
        } kinds[] = {
                { AF_INET, IPPROTO_TCP },  { AF_INET6, IPPROTO_TCP }, { AF_INET, IPPROTO_UDP },
                { AF_INET6, IPPROTO_UDP }, { AF_UNIX, 0 },
        };
        /* netlink messages are 4-byte aligned in a real dump: give the walk an aligned copy */
        void *buf = malloc(size ? size : 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
                Walk w = { kinds[k].family, kinds[k].protocol, 0, 0 };
                int r = sv_sockdiag_walk(buf, size, w.family, w.protocol, on_rec, &w);
                if (r > 1)
                        abort(); /* (an NLMSG_ERROR may carry any errno, so no more can be said) */
                if (w.seen >= 1) {
                        Walk w2 = { kinds[k].family, kinds[k].protocol, 0, 1 };
                        if (sv_sockdiag_walk(buf, size, w2.family, w2.protocol, on_rec, &w2) != -ECANCELED ||
                            w2.seen != 1)
                                abort(); /* the callback's error ends the walk at once */
                }
        }
        free(buf);
        return 0;
}
