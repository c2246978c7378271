/* libFuzzer target for cgroupname.c: the same bytes read as /proc/self/mountinfo, as
 * /proc/self/cgroup and as an instance name. Besides crashes and sanitizer reports it checks
 * the contract the daemon builds paths on: every result fits and is terminated, our cgroup
 * is absolute without "/..", and a leaf name is one safe path component. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/cgroupname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';

        char buf[128];
        if (sv_cgroup_find_mount(s, buf, sizeof(buf)) == 0 && (strnlen(buf, sizeof(buf)) == sizeof(buf) || !buf[0]))
                abort();
        if (sv_cgroup_find_own(s, buf, sizeof(buf)) == 0 &&
            (strnlen(buf, sizeof(buf)) == sizeof(buf) || buf[0] != '/' || strstr(buf, "/..") || strchr(buf, '\n')))
                abort();
        if (sv_cgroup_leaf_name(s, (unsigned) size, buf, sizeof(buf)) == 0 &&
            (strnlen(buf, sizeof(buf)) == sizeof(buf) || strchr(buf, '/') || buf[0] == '.' ||
             strncmp(buf, "cgroup.", 7) == 0 || !strrchr(buf, '.')))
                abort();
        free(s);
        return 0;
}
