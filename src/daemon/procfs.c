/* /proc readers. */
#include "sockvisor/procfs.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int pid_cmp(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return x < y ? -1 : x > y;
}

/* The process group of every live process, sorted. */
static pid_t *load_pgids(size_t *ret_n) {
        DIR *d = opendir("/proc");
        size_t n = 0, cap = 0;
        pid_t *v = NULL;
        struct dirent *de;

        *ret_n = 0;
        if (!d)
                return NULL;
        while ((de = readdir(d))) {
                char path[64], buf[512];
                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                (void) snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                ssize_t len = read(fd, buf, sizeof(buf) - 1);
                (void) close(fd);
                if (len <= 0)
                        continue;
                buf[len] = '\0';
                const char *rp = strrchr(buf, ')'); /* the command name may hold spaces and parens */
                int pgrp, ppid;
                char state;
                if (!rp || sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) != 3 || state == 'Z')
                        continue;
                if (n == cap) {
                        size_t nc = cap ? cap * 2 : 256;
                        pid_t *np = realloc(v, nc * sizeof(pid_t));
                        if (!np)
                                break;
                        v = np;
                        cap = nc;
                }
                v[n++] = (pid_t) pgrp;
        }
        closedir(d);
        if (v)
                qsort(v, n, sizeof(pid_t), pid_cmp);
        *ret_n = n;
        return v;
}

void sv_procfs_count_groups(const pid_t *pgids, size_t n, unsigned *ret_counts) {
        size_t nt = 0;
        bool any = false;
        for (size_t k = 0; k < n; k++) {
                ret_counts[k] = 0;
                any = any || pgids[k] > 0;
        }
        if (!any)
                return; /* nothing running: no walk of /proc */
        pid_t *t = load_pgids(&nt);
        for (size_t k = 0; k < n && t; k++) {
                if (pgids[k] <= 0)
                        continue;
                pid_t *hit = bsearch(&pgids[k], t, nt, sizeof(pid_t), pid_cmp);
                if (!hit)
                        continue;
                pid_t *lo = hit, *hi = hit;
                while (lo > t && lo[-1] == pgids[k])
                        lo--;
                while (hi + 1 < t + nt && hi[1] == pgids[k])
                        hi++;
                ret_counts[k] = (unsigned) (hi - lo + 1);
        }
        free(t);
}

int sv_procfs_children(pid_t *ret, size_t cap) {
        char path[64], buf[8192];
        (void) snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) getpid());
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t len = read(fd, buf, sizeof(buf) - 1);
        int e = errno;
        (void) close(fd);
        if (len < 0)
                return -e;
        buf[len] = '\0';
        size_t n = 0;
        char *save = NULL;
        for (char *tok = strtok_r(buf, " \n", &save); tok && n < cap; tok = strtok_r(NULL, " \n", &save)) {
                long pid = strtol(tok, NULL, 10);
                if (pid > 0)
                        ret[n++] = (pid_t) pid;
        }
        return (int) n;
}
