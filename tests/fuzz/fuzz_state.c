/* libFuzzer target for the upgrade state reader: sv_supervisor_restore on arbitrary bytes,
 * the text a new image of sockvisord trusts least. Built only with -DSV_FUZZ=ON and
 * CC=clang, like fuzz_config:
 *   CC=clang cmake -S . -B /tmp/build-fuzz -DSV_FUZZ=ON && cmake --build /tmp/build-fuzz --target fuzz_state
 *   mkdir -p /tmp/corpus-state && /tmp/build-fuzz/tests/fuzz/fuzz_state -max_total_time=60 \
 *       -dict=tests/fuzz/state.dict /tmp/corpus-state tests/fuzz/seeds/state
 * Besides crashes and sanitizer reports it checks the restore's contract: on failure not an
 * op is called but the imports (nothing closed, nothing answered); on success the state it
 * accepted saves, and that text restores and saves again to the very same bytes. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/supervisor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned other_calls; /* ops other than import, during a restore that fails */

static uint64_t f_now(void *ctx) {
        return 1000000;
}
static void f_arm(void *ctx, SvInstanceId id, uint64_t at) {
        other_calls++;
}
static void f_signal(void *ctx, pid_t pid, int sig, bool group) {
        other_calls++;
}
static void f_socket_close(void *ctx, SvSocketInfo *si) {
        other_calls++;
}
static void f_reply(void *ctx, SvConnId conn, CtlReplyKind kind, const char *text) {
        other_calls++;
}
static void f_log(void *ctx, int level, const SvLogWho *who, const char *text) {
}
static void f_set_log_target(void *ctx, SvLogTo to) {
}
static void f_service_manager(void *ctx, const char *a) {
        other_calls++;
}
static int f_socket_export(void *ctx, const SvSocketInfo *si, char *buf, size_t len) {
        return snprintf(buf, len, "fuzz");
}
static int f_socket_import(void *ctx, const char *name, const SvSocketInfo *saved, const char *ext,
                           SvSocketInfo *ret, SvDiag *d) {
        *ret = *saved;
        return strcmp(ext, "refuse") == 0 ? (diag_set(d, 0, "refused"), -EBADF) : 0;
}

static void f_fd_close(void *ctx, int fd) {
        other_calls++;
}
static void f_fd_watch(void *ctx, int fd) {
        other_calls++;
}
static int f_fd_carry(void *ctx, int fd, bool restoring) {
        return fd == 666 ? -EBADF : 0; /* one that did not come through */
}

static const SvOps ops = {
        .now = f_now,
        .arm = f_arm,
        .signal = f_signal,
        .socket_close = f_socket_close,
        .reply = f_reply,
        .log = f_log,
        .set_log_target = f_set_log_target,
        .service_manager = f_service_manager,
        .socket_export = f_socket_export,
        .socket_import = f_socket_import,
        .fd_close = f_fd_close,
        .fd_watch = f_fd_watch,
        .fd_carry = f_fd_carry,
};

static int restore(const char *text, size_t len, SvSupervisor **ret, SvDiag *d) {
        SvStateIn in;
        if (sv_supervisor_new(&ops, NULL, ret) < 0)
                abort();
        sv_state_in_init(&in, text, len, NULL);
        int r = sv_supervisor_restore(*ret, &in, d);
        sv_state_in_done(&in);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        SvSupervisor *s = NULL;
        SvDiag d = {};
        other_calls = 0;
        int r = restore((const char *) data, size, &s, &d);
        if (r < 0) {
                if (!d.msg[0] || other_calls)
                        abort(); /* every refusal says why, and touches nothing */
                sv_supervisor_free(s);
                return 0;
        }
        SvStateOut a = {}, b = {};
        if (sv_supervisor_save(s, &a, &d) < 0)
                abort(); /* what was accepted can be carried on */
        sv_supervisor_abandon(s);
        if (restore(a.buf, a.len, &s, &d) < 0 || sv_supervisor_save(s, &b, &d) < 0 || a.len != b.len ||
            memcmp(a.buf, b.buf, a.len) != 0)
                abort(); /* and carried on again unchanged */
        sv_supervisor_free(s);
        sv_state_done(&a);
        sv_state_done(&b);
        return 0;
}
