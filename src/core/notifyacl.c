/* Building and reading the notify socket's POSIX ACL xattr. */
#include "sockvisor/notifyacl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

/* The kernel's xattr format (include/uapi/linux/posix_acl_xattr.h), little-endian: a version,
 * then (tag, perm, id) entries sorted by tag, named users by uid. */
#define ACL_VERSION 2u
#define TAG_USER_OBJ 0x01u
#define TAG_USER 0x02u
#define TAG_GROUP_OBJ 0x04u
#define TAG_GROUP 0x08u
#define TAG_MASK 0x10u
#define TAG_OTHER 0x20u
#define PERM_WRITE 2u
#define PERM_READ 4u
#define ID_UNDEFINED UINT32_MAX

static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static void put32(uint8_t *p, uint32_t v) {
        for (int k = 0; k < 4; k++)
                p[k] = (uint8_t) (v >> (8 * k));
}

static uint32_t get32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static int cmp_uid(const void *a, const void *b) {
        uid_t x = *(const uid_t *) a, y = *(const uid_t *) b;
        return x < y ? -1 : x > y;
}

static uint8_t *put_entry(uint8_t *p, unsigned tag, unsigned perm, uint32_t id) {
        put16(p, (uint16_t) tag);
        put16(p + 2, (uint16_t) perm);
        put32(p + 4, id);
        return p + 8;
}

int sv_notify_acl_build(const uid_t *uids, size_t n, uint8_t *buf, size_t size) {
        uid_t sorted[SV_NOTIFY_ACL_USERS_MAX];
        size_t m = 0;

        /* sort and drop repeats: the kernel refuses an ACL out of order or with a uid twice */
        for (size_t k = 0; k < n; k++) {
                bool seen = false;
                for (size_t q = 0; q < m && !seen; q++)
                        seen = sorted[q] == uids[k];
                if (seen)
                        continue;
                if (m == SV_NOTIFY_ACL_USERS_MAX)
                        return -E2BIG;
                sorted[m++] = uids[k];
        }
        qsort(sorted, m, sizeof(uid_t), cmp_uid);
        size_t len = 4 + 8 * (m + 4);
        if (len > size)
                return -ENOBUFS;
        put32(buf, ACL_VERSION);
        uint8_t *p = put_entry(buf + 4, TAG_USER_OBJ, PERM_READ | PERM_WRITE, ID_UNDEFINED);
        for (size_t k = 0; k < m; k++)
                p = put_entry(p, TAG_USER, PERM_WRITE, (uint32_t) sorted[k]); /* sending needs write only */
        p = put_entry(p, TAG_GROUP_OBJ, 0, ID_UNDEFINED);
        p = put_entry(p, TAG_MASK, PERM_WRITE, ID_UNDEFINED);
        (void) put_entry(p, TAG_OTHER, 0, ID_UNDEFINED);
        return (int) len;
}

int sv_notify_acl_users(const uint8_t *buf, size_t len, uid_t *uids, size_t max) {
        if (len < 4 || (len - 4) % 8 != 0 || get32(buf) != ACL_VERSION)
                return -EBADMSG;
        size_t n = 0;
        for (const uint8_t *p = buf + 4; p < buf + len; p += 8) {
                unsigned tag = (unsigned) p[0] | (unsigned) p[1] << 8;
                if (tag != TAG_USER_OBJ && tag != TAG_USER && tag != TAG_GROUP_OBJ && tag != TAG_GROUP &&
                    tag != TAG_MASK && tag != TAG_OTHER)
                        return -EBADMSG;
                if (tag != TAG_USER)
                        continue;
                if (n == max)
                        return -E2BIG;
                uids[n++] = (uid_t) get32(p + 4);
        }
        return (int) n;
}
