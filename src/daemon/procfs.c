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

/* The fields of a /proc/PID/stat line the daemon reads. */
typedef struct ProcStat {
        char state;
        pid_t ppid, pgrp;
        uint64_t utime, stime, cutime, cstime; /* clock ticks */
        uint64_t rss_pages;
} ProcStat;

/* Past the next space-separated field of a stat line. */
static const char *skip_field(const char *s) {
        while (*s == ' ')
                s++;
        while (*s && *s != ' ' && *s != '\n')
                s++;
        return s;
}

/* The next field as a non-negative number (at most 19 digits, so it cannot overflow). */
static bool take_u64(const char **p, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;
        unsigned digits = 0;
        while (*s == ' ')
                s++;
        for (; *s >= '0' && *s <= '9'; s++, digits++)
                v = v * 10 + (uint64_t) (*s - '0');
        if (digits == 0 || digits > 19 || (*s && *s != ' ' && *s != '\n'))
                return false;
        *p = s;
        *ret = v;
        return true;
}

/* After the name (which may hold spaces and parentheses): state ppid pgrp session tty_nr
 * tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
 * num_threads itrealvalue starttime vsize rss. By hand, not sscanf: status of 10,000
 * programs parses 10,000 of these, and sscanf was a tenth of its time. */
static int parse_stat(const char *text, ProcStat *ret) {
        const char *p = text ? strrchr(text, ')') : NULL;
        uint64_t ppid, pgrp;
        if (!p || p[1] != ' ' || !p[2] || p[2] == ' ')
                return -EINVAL;
        ret->state = p[2];
        p += 3;
        if (!take_u64(&p, &ppid) || !take_u64(&p, &pgrp) || ppid > INT32_MAX || pgrp > INT32_MAX)
                return -EINVAL;
        for (int k = 0; k < 8; k++) /* session .. cmajflt */
                p = skip_field(p);
        if (!take_u64(&p, &ret->utime) || !take_u64(&p, &ret->stime) || !take_u64(&p, &ret->cutime) ||
            !take_u64(&p, &ret->cstime))
                return -EINVAL;
        for (int k = 0; k < 6; k++) /* priority .. vsize */
                p = skip_field(p);
        if (!take_u64(&p, &ret->rss_pages))
                return -EINVAL;
        ret->ppid = (pid_t) ppid;
        ret->pgrp = (pid_t) pgrp;
        return 0;
}

/* Clock ticks in microseconds, without overflow. */
static uint64_t ticks_usec(uint64_t ticks) {
        long hz = sysconf(_SC_CLK_TCK);
        uint64_t h = hz > 0 ? (uint64_t) hz : 100;
        return ticks / h * 1000000 + ticks % h * 1000000 / h;
}

static uint64_t page_size(void) {
        long page = sysconf(_SC_PAGESIZE);
        return page > 0 ? (uint64_t) page : 4096;
}

int sv_procfs_read(pid_t pid, const char *name, char *buf, size_t len) {
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

/* One live process as status counts it: its group, CPU ticks, resident pages. */
typedef struct ProcEnt {
        pid_t pgrp;
        uint32_t rss_pages; /* 16 TiB of 4 KiB pages: a sample of 10,000 stays 160 KB */
        uint64_t ticks;
} ProcEnt;

struct SvProcSample {
        uint64_t taken_usec;
        size_t n;
        ProcEnt *v; /* sorted by pgrp */
};

static int ent_cmp(const void *a, const void *b) {
        pid_t x = ((const ProcEnt *) a)->pgrp, y = ((const ProcEnt *) b)->pgrp;
        return x < y ? -1 : x > y;
}

/* Every live (not zombie) process, sorted by process group: 10,000 processes take ~100 ms
 * here, nearly all of it the kernel's making of the stat lines. */
static ProcEnt *load_procs(size_t *ret_n) {
        DIR *d = opendir("/proc");
        size_t n = 0, cap = 0;
        ProcEnt *v = NULL;
        struct dirent *de;

        *ret_n = 0;
        if (!d)
                return NULL;
        while ((de = readdir(d))) {
                char buf[1024];
                ProcStat st;
                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                if (sv_procfs_read((pid_t) strtol(de->d_name, NULL, 10), "stat", buf, sizeof(buf)) < 0 ||
                    parse_stat(buf, &st) < 0 || st.state == 'Z')
                        continue; /* gone since the readdir, or a zombie */
                if (n == cap) {
                        size_t nc = cap ? cap * 2 : 256;
                        ProcEnt *np = realloc(v, nc * sizeof(ProcEnt));
                        if (!np)
                                break;
                        v = np;
                        cap = nc;
                }
                v[n++] = (ProcEnt){ .pgrp = st.pgrp,
                                    .rss_pages = st.rss_pages > UINT32_MAX ? UINT32_MAX : (uint32_t) st.rss_pages,
                                    .ticks = st.utime + st.stime };
        }
        closedir(d);
        if (v)
                qsort(v, n, sizeof(ProcEnt), ent_cmp);
        *ret_n = n;
        return v;
}

SvProcSample *sv_proc_sample_free(SvProcSample *s) {
        if (s)
                free(s->v);
        free(s);
        return NULL;
}

/* The first entry of group pgid in the sample, or NULL. */
static const ProcEnt *sample_find(const SvProcSample *s, pid_t pgid) {
        ProcEnt key = { .pgrp = pgid };
        const ProcEnt *hit = s->v ? bsearch(&key, s->v, s->n, sizeof(ProcEnt), ent_cmp) : NULL;
        while (hit && hit > s->v && hit[-1].pgrp == pgid)
                hit--;
        return hit;
}

/* The sample answers when it is younger than SV_PROC_SAMPLE_MAX_AGE_USEC and holds every
 * group asked for: a worker started since (a new pgid) is never shown as 0 processes. */
static bool sample_serves(const SvProcSample *s, uint64_t now_usec, const pid_t *pgids, size_t n) {
        if (!s || now_usec < s->taken_usec || now_usec - s->taken_usec >= SV_PROC_SAMPLE_MAX_AGE_USEC)
                return false;
        for (size_t k = 0; k < n; k++)
                if (pgids[k] > 0 && !sample_find(s, pgids[k]))
                        return false;
        return true;
}

static int read_task_children(const char *task_dir, pid_t *ret, size_t cap, size_t *n);

/* Status of a few programs: a walk of each leader's descendants, not of all of /proc
 * (10,000 workers made that 190 ms per status of one). A worker leads its group, and its
 * group is the descendants that kept it; an orphan of the group reparented to us is not
 * a descendant, and is not counted here (the walk of all /proc counts it). */
#define FEW_GROUPS 16
#define DESCENDANTS_MAX 4096

static void descendant_usage(pid_t leader, SvGroupUsage *ret) {
        pid_t *q = malloc(DESCENDANTS_MAX * sizeof(pid_t));
        size_t n = 0;
        if (!q)
                return;
        q[n++] = leader;
        for (size_t k = 0; k < n; k++) { /* bounded: DESCENDANTS_MAX pids in all */
                char buf[1024], dir[64];
                ProcStat st;
                if (sv_procfs_read(q[k], "stat", buf, sizeof(buf)) < 0 || parse_stat(buf, &st) < 0)
                        continue;
                if (st.state != 'Z' && st.pgrp == leader) {
                        ret->procs++;
                        ret->cpu_usec += ticks_usec(st.utime + st.stime);
                        ret->rss_bytes += st.rss_pages * page_size();
                }
                (void) snprintf(dir, sizeof(dir), "/proc/%d/task", (int) q[k]);
                (void) read_task_children(dir, q, DESCENDANTS_MAX, &n);
        }
        free(q);
}

void sv_procfs_group_usage(SvProcSample **cache, uint64_t now_usec, const pid_t *pgids, size_t n,
                           SvGroupUsage *ret) {
        size_t live = 0;
        for (size_t k = 0; k < n; k++) {
                ret[k] = (SvGroupUsage){};
                live += pgids[k] > 0;
        }
        if (live == 0)
                return; /* nothing running: no walk of /proc */
        if (live <= FEW_GROUPS) {
                for (size_t k = 0; k < n; k++)
                        if (pgids[k] > 0)
                                descendant_usage(pgids[k], &ret[k]);
                return;
        }
        if (!sample_serves(*cache, now_usec, pgids, n)) {
                SvProcSample *s = calloc(1, sizeof(SvProcSample));
                if (!s)
                        return;
                s->v = load_procs(&s->n);
                s->taken_usec = now_usec;
                sv_proc_sample_free(*cache);
                *cache = s;
        }
        for (size_t k = 0; k < n; k++) {
                if (pgids[k] <= 0)
                        continue;
                const ProcEnt *hit = sample_find(*cache, pgids[k]);
                for (; hit && hit < (*cache)->v + (*cache)->n && hit->pgrp == pgids[k]; hit++) {
                        ret[k].procs++;
                        ret[k].cpu_usec += ticks_usec(hit->ticks);
                        ret[k].rss_bytes += (uint64_t) hit->rss_pages * page_size();
                }
        }
}

/* Appends the pids of one children file to ret while *n < cap, read to its end. */
static int read_children_file(int dirfd, const char *name, pid_t *ret, size_t cap, size_t *n) {
        int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno; /* the thread has just exited */
        char buf[4096];
        long pid = 0;
        bool in_pid = false;
        for (;;) {
                ssize_t len = read(fd, buf, sizeof(buf));
                if (len < 0 && errno == EINTR)
                        continue;
                if (len < 0) {
                        int r = -errno;
                        (void) close(fd);
                        return r;
                }
                for (ssize_t k = 0; k < len; k++) /* a pid may be cut between two reads */
                        if (buf[k] >= '0' && buf[k] <= '9') {
                                pid = pid * 10 + (buf[k] - '0');
                                in_pid = pid <= INT32_MAX;
                        } else {
                                if (in_pid && pid > 0 && *n < cap)
                                        ret[(*n)++] = (pid_t) pid;
                                pid = 0;
                                in_pid = false;
                        }
                if (len == 0)
                        break;
        }
        if (in_pid && pid > 0 && *n < cap)
                ret[(*n)++] = (pid_t) pid;
        (void) close(fd);
        return 0;
}

/* Appends the children of every thread in task_dir (/proc/PID/task) while *n < cap. */
static int read_task_children(const char *task_dir, pid_t *ret, size_t cap, size_t *n) {
        DIR *d = opendir(task_dir);
        if (!d)
                return -errno;
        int r = 0;
        struct dirent *de;
        while (r >= 0 && *n < cap && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char name[96];
                (void) snprintf(name, sizeof(name), "%s/children", de->d_name);
                r = read_children_file(dirfd(d), name, ret, cap, n);
        }
        closedir(d);
        return r;
}

int sv_procfs_children(pid_t *ret, size_t cap) {
        size_t n = 0;
        int r = read_task_children("/proc/self/task", ret, cap, &n);
        return r < 0 ? r : (int) n;
}

int sv_procfs_parse_stat_ticks(const char *text, uint64_t *ret) {
        ProcStat st;
        int r = parse_stat(text, &st);
        if (r < 0)
                return r;
        *ret = st.utime + st.stime + st.cutime + st.cstime;
        return 0;
}

int sv_procfs_parse_statm_resident(const char *text, uint64_t *ret) {
        uint64_t size, resident;
        if (sscanf(text, "%" SCNu64 " %" SCNu64, &size, &resident) != 2)
                return -EINVAL;
        *ret = resident;
        return 0;
}

int sv_procfs_cpu_usec(pid_t pid, uint64_t *ret) {
        char buf[1024];
        uint64_t ticks;
        int r = sv_procfs_read(pid, "stat", buf, sizeof(buf));
        if (r < 0)
                return r;
        r = sv_procfs_parse_stat_ticks(buf, &ticks);
        if (r < 0)
                return r;
        *ret = ticks_usec(ticks);
        return 0;
}

int sv_procfs_rss_bytes(pid_t pid, uint64_t *ret) {
        char buf[256];
        uint64_t pages;
        int r = sv_procfs_read(pid, "statm", buf, sizeof(buf));
        if (r < 0)
                return r;
        r = sv_procfs_parse_statm_resident(buf, &pages);
        if (r < 0)
                return r;
        *ret = pages * page_size();
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
