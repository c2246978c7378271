/* Where the cgroup v2 hierarchy is and how an instance's cgroup is named. */
#include "sockvisor/cgroupname.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Copies the field starting at s (up to a space, a newline or the end) into buf, decoding
 * mountinfo's \NNN octal escapes. */
static int copy_field(const char *s, char *buf, size_t len) {
        size_t o = 0;
        while (*s && *s != ' ' && *s != '\n') {
                char c = *s++;
                if (c == '\\' && s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' &&
                    s[2] <= '7') {
                        c = (char) ((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
                        s += 3;
                        if (c == '\0')
                                return -EINVAL;
                }
                if (o + 1 >= len)
                        return -ENAMETOOLONG;
                buf[o++] = c;
        }
        if (o == 0)
                return -EINVAL;
        buf[o] = '\0';
        return 0;
}

/* The start of the n-th (0-based) space-separated field of line, or NULL. */
static const char *field(const char *line, const char *end, int n) {
        const char *p = line;
        for (int k = 0; k < n; k++) {
                p = memchr(p, ' ', (size_t) (end - p));
                if (!p)
                        return NULL;
                p++;
        }
        return p < end ? p : NULL;
}

int sv_cgroup_find_mount(const char *mountinfo, char *buf, size_t len) {
        bool found = false;
        for (const char *line = mountinfo; *line;) {
                const char *end = strchr(line, '\n');
                if (!end)
                        end = line + strlen(line);
                /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
                const char *sep = NULL;
                for (const char *p = line; p + 2 < end && !sep; p++)
                        if (p[0] == ' ' && p[1] == '-' && p[2] == ' ')
                                sep = p + 3;
                const char *mp = field(line, end, 4);
                if (sep && mp && (size_t) (end - sep) > 8 && strncmp(sep, "cgroup2 ", 8) == 0) {
                        char here[4096];
                        if (copy_field(mp, here, sizeof(here)) == 0 && here[0] == '/' &&
                            (!found || strcmp(here, "/sys/fs/cgroup") == 0)) {
                                if (strlen(here) >= len)
                                        return -ENAMETOOLONG;
                                strcpy(buf, here);
                                found = true;
                        }
                }
                line = *end ? end + 1 : end;
        }
        return found ? 0 : -ENOENT;
}

int sv_cgroup_find_own(const char *text, char *buf, size_t len) {
        for (const char *line = text; *line;) {
                const char *end = strchr(line, '\n');
                if (!end)
                        end = line + strlen(line);
                if ((size_t) (end - line) >= 4 && strncmp(line, "0::/", 4) == 0) {
                        size_t n = (size_t) (end - line) - 3;
                        if (n >= len)
                                return -ENAMETOOLONG;
                        memcpy(buf, line + 3, n);
                        buf[n] = '\0';
                        if (strstr(buf, "/..") || strstr(buf, " (deleted)") || strchr(buf, '\r'))
                                return -EINVAL;
                        return 0;
                }
                line = *end ? end + 1 : end;
        }
        return -ENOENT;
}

int sv_cgroup_leaf_name(const char *instance, unsigned generation, char *buf, size_t len) {
        size_t o = 0;
        if (len > 256)
                len = 256; /* NAME_MAX + 1 */
        for (const char *s = instance; *s; s++) {
                char c = *s;
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                          c == '.' || c == ':' || c == '@' || c == '-';
                if (!ok || (o == 0 && c == '.'))
                        c = '_';
                if (o + 1 >= len)
                        return -ENAMETOOLONG;
                buf[o++] = c;
        }
        if (o == 0) {
                if (len < 2)
                        return -ENAMETOOLONG;
                buf[o++] = '_';
        }
        int w = snprintf(buf + o, len - o, ".%u", generation);
        if (w < 0 || (size_t) w >= len - o)
                return -ENAMETOOLONG;
        if (strncmp(buf, "cgroup.", 7) == 0) { /* the kernel's own files: "_cgroup.procs.1" */
                if (o + (size_t) w + 2 > len)
                        return -ENAMETOOLONG;
                memmove(buf + 1, buf, o + (size_t) w + 1);
                buf[0] = '_';
        }
        return 0;
}
