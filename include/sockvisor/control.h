/* The daemon's side of the control socket: accept, check the peer, frame one request,
 * hand it to the manager, stream the replies back. Parsing lives in ctlproto. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "sockvisor/ctlproto.h"
#include "sockvisor/diag.h"
#include "sockvisor/fetch.h"
#include "sockvisor/macro.h"
#include "sockvisor/statefile.h"

typedef struct SvControl SvControl;
typedef struct SvCtlConn SvCtlConn;

/* Called once per well-formed request. The handler answers with sv_ctl_* and must end
 * with exactly one final line (sv_ctl_finish(), or sv_ctl_reply() with OK/ERR), now or
 * later. A handler that answers later may keep sv_ctl_conn_id(c) rather than c, and look
 * the connection up again with sv_control_find().
 *
 * The connection lives until its final line is sent. A client that half-closes
 * (shutdown(SHUT_WR)) after its request is only done sending: it still gets every line.
 * It ends early only when the client is gone (EPOLLHUP/EPOLLERR, or a write fails); then
 * the detach and hang-up callbacks below run, once, if the command had not finished. A
 * client that half-closes before a complete request gets "ERR incomplete request: ...". */
typedef void (*SvCtlDispatch)(void *userdata, SvCtlConn *c, const CtlRequest *req);
/* Called when a client hangs up before its command finished: drop every pointer to c.
 * c is still readable during the call (sv_ctl_conn_id(c) works); sv_control_find() no
 * longer returns it, and replies to it are ignored. */
typedef void (*SvCtlDetach)(SvCtlConn *c, void *userdata);
/* The same event for a caller that names clients by id: the dispatch callback's userdata
 * and the id of the client that went away. Also called from sv_control_free() for every
 * command still under way, so free the control before what the callback touches. */
typedef void (*SvCtlHangup)(void *userdata, uint64_t id);

int sv_control_new(sd_event *e, const char *path, mode_t mode, SvCtlDispatch dispatch, void *userdata,
                   SvControl **ret, SvDiag *d);
/* Closes the socket, removes its file, and drops every open connection. */
SvControl *sv_control_free(SvControl *c);
/* Sets (or with NULL clears) the hang-up callback; it gets the dispatch userdata. */
void sv_control_set_hangup(SvControl *ctl, SvCtlHangup cb);
/* The client with that id, or NULL once it is gone or its final line was queued. */
SvCtlConn *sv_control_find(SvControl *ctl, uint64_t id);

/* Unique for the daemon's life: the first client is 1, an id is never reused. */
uint64_t sv_ctl_conn_id(const SvCtlConn *c);

void sv_ctl_progress(SvCtlConn *c, const char *fmt, ...) _printf_(2, 3);
void sv_ctl_output(SvCtlConn *c, const char *fmt, ...) _printf_(2, 3);
/* The final line. The connection closes once it is sent: c is invalid afterwards. */
void sv_ctl_finish(SvCtlConn *c, bool ok, const char *fmt, ...) _printf_(3, 4);
/* One reply line of that kind, text as is (NULL for empty; not a format). PROGRESS is sent
 * at once, OUTPUT is queued, OK and ERR finish the connection like sv_ctl_finish (c is
 * invalid afterwards). */
void sv_ctl_reply(SvCtlConn *c, CtlReplyKind kind, const char *text);
void sv_ctl_set_detach(SvCtlConn *c, SvCtlDetach cb, void *userdata);
/* The final OK line with copies of fds attached (SCM_RIGHTS, with the line's first byte);
 * the copies are closed once sent. c is invalid afterwards, as after sv_ctl_finish. */
void sv_ctl_finish_fds(SvCtlConn *c, const int *fds, size_t n, const char *text);
/* Who is at the other end (SO_PEERCRED, SO_PEERGROUPS at accept). */
void sv_ctl_conn_peer(const SvCtlConn *c, uid_t *ret_uid, gid_t *ret_gid, pid_t *ret_pid, const gid_t **ret_groups,
                      size_t *ret_n_groups);

/* Upgrade. Save writes a "control" record and a "conn" record per connection (with what
 * it has read of an unfinished request and what it has not yet sent), after a last
 * non-blocking flush, and adds every fd to carry. Restore, in the next image, takes the
 * "control" record rec and reads the "conn" records after it; the first record of another
 * kind is left in *next. No fd is changed, so a failed restore leaves them to the
 * previous binary. */
typedef struct SvCarry SvCarry;
int sv_control_save(SvControl *ctl, SvStateOut *o, SvCarry *carry);
int sv_control_restore(sd_event *e, SvStateIn *in, const SvStateRec *rec, SvCtlDispatch dispatch, void *userdata,
                       SvControl **ret, SvCarry *carry, SvStateRec *next);
/* Commands under way (dispatched, not finished), for the upgrade's last check. */
size_t sv_control_pending(SvControl *ctl, uint64_t *ids, size_t max);
