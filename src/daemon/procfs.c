/* /proc readers. */
#include "sockvisor/procfs.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One live process as status counts it: its group, CPU ticks, resident pages. */
typedef struct ProcEnt {
        pid_t pgrp;
        unsigned long long ticks, rss_pages;
} ProcEnt;

static int ent_cmp(const void *a, const void *b) {
        pid_t x = ((const ProcEnt *) a)->pgrp, y = ((const ProcEnt *) b)->pgrp;
        return x < y ? -1 : x > y;
}

/* Every live (not zombie) process, sorted by process group. */
static ProcEnt *load_procs(size_t *ret_n) {
        DIR *d = opendir("/proc");
        size_t n = 0, cap = 0;
        ProcEnt *v = NULL;
        struct dirent *de;

        *ret_n = 0;
        if (!d)
                return NULL;
        while ((de = readdir(d))) {
                char path[64], buf[1024];
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
                unsigned long long utime, stime, rss;
                /* fields 3..5, skip 6..13, 14 utime, 15 stime, skip 16..23, 24 rss (pages) */
                if (!rp || sscanf(rp + 1, " %c %d %d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
                                          "%*u %*u %llu",
                                  &state, &ppid, &pgrp, &utime, &stime, &rss) != 6 ||
                    state == 'Z')
                        continue;
                if (n == cap) {
                        size_t nc = cap ? cap * 2 : 256;
                        ProcEnt *np = realloc(v, nc * sizeof(ProcEnt));
                        if (!np)
                                break;
                        v = np;
                        cap = nc;
                }
                v[n++] = (ProcEnt){ .pgrp = (pid_t) pgrp, .ticks = utime + stime, .rss_pages = rss };
        }
        closedir(d);
        if (v)
                qsort(v, n, sizeof(ProcEnt), ent_cmp);
        *ret_n = n;
        return v;
}

void sv_procfs_group_usage(const pid_t *pgids, size_t n, SvGroupUsage *ret) {
        size_t nt = 0;
        bool any = false;
        for (size_t k = 0; k < n; k++) {
                ret[k] = (SvGroupUsage){};
                any = any || pgids[k] > 0;
        }
        if (!any)
                return; /* nothing running: no walk of /proc */
        long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
        ProcEnt *t = load_procs(&nt);
        for (size_t k = 0; k < n && t; k++) {
                if (pgids[k] <= 0)
                        continue;
                ProcEnt key = { .pgrp = pgids[k] };
                ProcEnt *hit = bsearch(&key, t, nt, sizeof(ProcEnt), ent_cmp);
                if (!hit)
                        continue;
                while (hit > t && hit[-1].pgrp == pgids[k])
                        hit--;
                for (; hit < t + nt && hit->pgrp == pgids[k]; hit++) {
                        ret[k].procs++;
                        ret[k].cpu_usec += hz > 0 ? hit->ticks * 1000000ULL / (unsigned long long) hz : 0;
                        ret[k].rss_bytes += hit->rss_pages * (unsigned long long) (page > 0 ? page : 4096);
                }
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

int sv_procfs_parse_stat_ticks(const char *text, uint64_t *ret) {
        const char *rp = strrchr(text, ')');
        uint64_t f[4];
        /* after the name: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
         * cmajflt, then utime stime cutime cstime */
        if (!rp || sscanf(rp + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %" SCNu64 " %" SCNu64 " %" SCNu64
                                   " %" SCNu64,
                          &f[0], &f[1], &f[2], &f[3]) != 4)
                return -EINVAL;
        *ret = f[0] + f[1] + f[2] + f[3];
        return 0;
}

int sv_procfs_parse_statm_resident(const char *text, uint64_t *ret) {
        uint64_t size, resident;
        if (sscanf(text, "%" SCNu64 " %" SCNu64, &size, &resident) != 2)
                return -EINVAL;
        *ret = resident;
        return 0;
}

/* The first bytes of /proc/PID/NAME, NUL-terminated. */
static int read_proc(pid_t pid, const char *name, char *buf, size_t len) {
        char path[64];
        (void) snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, len - 1);
        int e = errno;
        (void) close(fd);
        if (n < 0)
                return -e;
        buf[n] = '\0';
        return 0;
}

int sv_procfs_cpu_usec(pid_t pid, uint64_t *ret) {
        char buf[1024];
        uint64_t ticks;
        long hz = sysconf(_SC_CLK_TCK);
        int r = read_proc(pid, "stat", buf, sizeof(buf));
        if (r < 0)
                return r;
        r = sv_procfs_parse_stat_ticks(buf, &ticks);
        if (r < 0)
                return r;
        if (hz <= 0)
                hz = 100;
        *ret = ticks / (uint64_t) hz * 1000000 + ticks % (uint64_t) hz * 1000000 / (uint64_t) hz;
        return 0;
}

int sv_procfs_rss_bytes(pid_t pid, uint64_t *ret) {
        char buf[256];
        uint64_t pages;
        int r = read_proc(pid, "statm", buf, sizeof(buf));
        if (r < 0)
                return r;
        r = sv_procfs_parse_statm_resident(buf, &pages);
        if (r < 0)
                return r;
        *ret = pages * (uint64_t) sysconf(_SC_PAGESIZE);
        return 0;
}

int sv_procfs_self_fds(unsigned *ret) {
        DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;
        struct dirent *de;
        if (!d)
                return -errno;
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        *ret = n ? n - 1 : 0; /* the directory's own fd */
        return 0;
}
