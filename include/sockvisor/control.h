/* The daemon's side of the control socket: accept, check the peer, frame one request,
 * hand it to the manager, stream the replies back. Parsing lives in ctlproto. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "sockvisor/ctlproto.h"
#include "sockvisor/diag.h"
#include "sockvisor/macro.h"

typedef struct SvControl SvControl;
typedef struct SvCtlConn SvCtlConn;

/* Called once per well-formed request. The handler answers with sv_ctl_* and must end
 * with exactly one sv_ctl_finish(), now or later. */
typedef void (*SvCtlDispatch)(void *userdata, SvCtlConn *c, const CtlRequest *req);
/* Called when a client hangs up before its command finished: drop every pointer to c. */
typedef void (*SvCtlDetach)(SvCtlConn *c, void *userdata);

int sv_control_new(sd_event *e, const char *path, mode_t mode, SvCtlDispatch dispatch, void *userdata,
                   SvControl **ret, SvDiag *d);
/* Closes the socket, removes its file, and drops every open connection. */
SvControl *sv_control_free(SvControl *c);

void sv_ctl_progress(SvCtlConn *c, const char *fmt, ...) _printf_(2, 3);
void sv_ctl_output(SvCtlConn *c, const char *fmt, ...) _printf_(2, 3);
/* The final line. The connection closes once it is sent: c is invalid afterwards. */
void sv_ctl_finish(SvCtlConn *c, bool ok, const char *fmt, ...) _printf_(3, 4);
void sv_ctl_set_detach(SvCtlConn *c, SvCtlDetach cb, void *userdata);
