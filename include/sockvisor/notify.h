/* The NOTIFY_SOCKET server: a unix datagram socket that workers send READY=1 and STATUS=
 * to, with SO_PASSCRED so the kernel tells us which pid sent each message. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sockvisor/notifymsg.h"

/* Opens the socket on an abstract address unique to this daemon; *ret_name is the value
 * for NOTIFY_SOCKET ("@sockvisord/…"). Abstract: no file to clean up, reachable by workers
 * running as any user. */
int sv_notify_open(int *ret_fd, char *ret_name, size_t name_len);

/* Receives one datagram; fills *ret_pid from the sender's credentials and parses it with
 * sv_notify_parse() (notifymsg.h). Returns 1 for a message, 0 when nothing was pending,
 * negative errno on failure (-EBADMSG: an embedded NUL, the message is ignored). Any
 * fds sent along (SCM_RIGHTS) are closed: workers may not use our fd store. */
int sv_notify_recv(int fd, pid_t *ret_pid, SvNotifyMsg *ret);
