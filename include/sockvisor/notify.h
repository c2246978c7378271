/* The NOTIFY_SOCKET server: a unix datagram socket that workers send READY=1 and STATUS=
 * to, with SO_PASSCRED so the kernel tells us which pid sent each message. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sockvisor/notifymsg.h"

/* Opens the socket at a fresh path, DIR/notify-PID-XXXXXX/notify (mkdtemp), DIR being
 * /run/sockvisor for root and $XDG_RUNTIME_DIR (else /tmp) for anyone else; *ret_path is the
 * value for NOTIFY_SOCKET. The directory is 0711 and the socket 0600: nobody but us may send
 * until sv_notify_allow() lets a program's user in. (An abstract socket, as before, took
 * datagrams from any local user: a flood from anyone burned a daemon core.) */
int sv_notify_open(int *ret_fd, char *ret_path, size_t path_len);

/* Lets uid send to the socket at path: an entry for it in the socket's POSIX ACL, kept
 * there (it survives an upgrade, which keeps the path). 0 when uid may send now (our own
 * uid always may); 1 when the filesystem has no ACLs and the socket was opened to every
 * local user (mode 0666) instead, which the caller should warn about; negative errno. */
int sv_notify_allow(const char *path, uid_t uid);

/* Removes the socket file and its directory (exit, never an upgrade: the next image keeps
 * both). Best effort. */
void sv_notify_remove(const char *path);

/* Receives one datagram; fills *ret_pid from the sender's credentials and parses it with
 * sv_notify_parse() (notifymsg.h). Returns 1 for a message, 0 when nothing was pending,
 * negative errno on failure (-EBADMSG: an embedded NUL, the message is ignored). Any
 * fds sent along (SCM_RIGHTS) are closed: workers may not use our fd store. */
int sv_notify_recv(int fd, pid_t *ret_pid, SvNotifyMsg *ret);
