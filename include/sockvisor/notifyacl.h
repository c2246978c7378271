/* The POSIX ACL (the system.posix_acl_access xattr) of the notify socket: its owner may read
 * and write, each program user may write (send), group and others nothing. Pure: bytes in,
 * bytes out; notify.c reads and writes the xattr. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Named users one ACL holds: far more distinct user= than a config has. */
#define SV_NOTIFY_ACL_USERS_MAX 256
/* Bytes of an ACL with that many users: a 4-byte header, 8 bytes per entry, and the four
 * entries every ACL has (owner, group, mask, other). */
#define SV_NOTIFY_ACL_SIZE_MAX (4 + 8 * (SV_NOTIFY_ACL_USERS_MAX + 4))

/* Writes the xattr value for uids (any order, repeats allowed) into buf. Returns its length,
 * -E2BIG for more than SV_NOTIFY_ACL_USERS_MAX distinct users, -ENOBUFS if buf is too small. */
int sv_notify_acl_build(const uid_t *uids, size_t n, uint8_t *buf, size_t size);

/* The named users of an xattr value (any valid ACL, not only ours) into uids, at most max.
 * Returns how many, or -EBADMSG for a value that is not an ACL, -E2BIG past max. */
int sv_notify_acl_users(const uint8_t *buf, size_t len, uid_t *uids, size_t max);
