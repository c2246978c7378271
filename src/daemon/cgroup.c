/* Per-instance cgroups v2: make, join (in the child, see spawn.c), signal, empty, remove.
 * Everything is done relative to the directory fd of our own cgroup, which we made. */
#include "sockvisor/cgroup.h"
#include "daemon-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "sockvisor/cgroupname.h"
#include "sockvisor/log.h"
#include "sockvisor/macro.h"
#include "sockvisor/pidmap.h"

/* One worker's cgroup: in the live map by the worker's pid until it is reaped, then on the
 * reaped list until the cgroup is empty and removed. */
typedef struct CgEntry {
        pid_t pid;
        bool killed;       /* reaped: SIGKILLed after the grace period */
        uint64_t kill_at;  /* reaped: SIGKILL what is left then (CLOCK_MONOTONIC usec) */
        struct CgEntry *next_reaped;
        char name[]; /* its directory's: as long as it is (10,000 of 256 bytes were 2.5 MB) */
} CgEntry;

struct SvCgroups {
        int dir_fd;          /* OWN/sockvisord-NS-PID */
        bool have_kill;      /* cgroup.kill (Linux 5.14): SIGKILL to a whole cgroup at once */
        char path[4096];     /* absolute, for the log and for adopt */
        char rel[4096];      /* the same below the mount point: what /proc/PID/cgroup shows */
        char pending[256];   /* the name sv_cgroup_prepare made, until sv_cgroup_spawned */
        SvPidMap live;       /* pid -> CgEntry: a lookup per signal and reap, with 10,000 workers */
        CgEntry *reaped;     /* the few whose cgroup is not empty yet */
        sd_event *event;
        sd_event_source *kill_src; /* the next kill_at */
};

static void arm_kill(SvCgroups *cg);

/* The whole of a small /proc file, NUL-terminated, or NULL. */
static char *read_all(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        size_t len = 0, cap = 16384;
        char *buf = malloc(cap);
        while (buf) {
                if (len + 1 >= cap) {
                        char *nb = cap < (8u << 20) ? realloc(buf, cap * 2) : NULL;
                        if (!nb) {
                                free(buf);
                                buf = NULL;
                                break;
                        }
                        buf = nb;
                        cap *= 2;
                }
                ssize_t r = read(fd, buf + len, cap - 1 - len);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        free(buf);
                        buf = NULL;
                        break;
                }
                if (r == 0) {
                        buf[len] = '\0';
                        break;
                }
                len += (size_t) r;
        }
        close(fd);
        return buf;
}

/* Moving a process needs write access to the cgroup.procs of the common ancestor, which
 * mkdir succeeding does not prove (a delegated subtree may be ours to create in but not to
 * move into): a child tries it for real, in a probe cgroup, before we rely on it. */
static int probe_join(int dir_fd, SvDiag *d) {
        if (mkdirat(dir_fd, "probe", 0755) < 0 && errno != EEXIST)
                return diag_set(d, 0, "cannot create a cgroup: %s", strerror(errno)), -errno;
        int fd = openat(dir_fd, "probe/cgroup.procs", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        int r = 0;
        if (fd < 0)
                r = -errno;
        else {
                pid_t pid = fork();
                if (pid == 0)
                        _exit(write(fd, "0", 1) == 1 ? 0 : 1);
                int status = 0;
                if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        r = -EACCES;
                close(fd);
        }
        (void) unlinkat(dir_fd, "probe", AT_REMOVEDIR);
        if (r < 0)
                diag_set(d, 0, "a process cannot be moved into a cgroup here: %s", strerror(-r));
        return r;
}

/* Our pid namespace's inode: pids are only unique within one, and a container's sockvisord
 * is pid 1 in each, so our directory's name holds both: sockvisord-NS-PID. */
static unsigned long pidns_inode(void) {
        struct stat st;
        return stat("/proc/self/ns/pid", &st) == 0 ? (unsigned long) st.st_ino : 0;
}

/* A sockvisord killed with SIGKILL leaves its (emptied) cgroups behind: remove those of
 * every sockvisord-NS-PID beside ours in our pid namespace whose PID is gone. Only empty
 * ones go (rmdir). */
static void remove_stale(const char *parent, unsigned long ns) {
        int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *dir = pfd >= 0 ? fdopendir(pfd) : NULL;
        if (!dir) {
                if (pfd >= 0)
                        close(pfd);
                return;
        }
        unsigned seen = 0;
        for (struct dirent *de; (de = readdir(dir)) && seen < 4096; seen++) {
                char prefix[48], *end = NULL;
                int pl = snprintf(prefix, sizeof(prefix), "sockvisord-%lu-", ns);
                long pid = strncmp(de->d_name, prefix, (size_t) pl) == 0 ? strtol(de->d_name + pl, &end, 10) : 0;
                char proc[64];
                (void) snprintf(proc, sizeof(proc), "/proc/%ld", pid);
                if (pid <= 0 || *end || de->d_type != DT_DIR || access(proc, F_OK) == 0)
                        continue;
                int sfd = openat(pfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                DIR *sub = sfd >= 0 ? fdopendir(sfd) : NULL;
                if (!sub) {
                        if (sfd >= 0)
                                close(sfd);
                        continue;
                }
                unsigned n = 0;
                for (struct dirent *ce; (ce = readdir(sub)) && n < 65536; n++)
                        if (ce->d_type == DT_DIR && ce->d_name[0] != '.')
                                (void) unlinkat(sfd, ce->d_name, AT_REMOVEDIR);
                closedir(sub);
                (void) unlinkat(pfd, de->d_name, AT_REMOVEDIR);
        }
        closedir(dir);
}

SvCgroups *sv_cgroups_open(sd_event *event, SvDiag *d) {
        char mount[4096], own[4096];
        _cleanup_free_ char *mi = read_all("/proc/self/mountinfo");
        _cleanup_free_ char *cg = read_all("/proc/self/cgroup");
        if (!mi || !cg)
                return diag_set(d, 0, "cannot read /proc/self/mountinfo or /proc/self/cgroup"), NULL;
        if (sv_cgroup_find_mount(mi, mount, sizeof(mount)) < 0)
                return diag_set(d, 0, "no cgroup2 file system is mounted"), NULL;
        if (sv_cgroup_find_own(cg, own, sizeof(own)) < 0)
                return diag_set(d, 0, "/proc/self/cgroup has no usable cgroup v2 line"), NULL;

        SvCgroups *c = calloc(1, sizeof(*c));
        if (!c)
                return diag_set(d, 0, "out of memory"), NULL;
        c->dir_fd = -1;
        c->event = event;
        unsigned long ns = pidns_inode();
        int w1 = snprintf(c->rel, sizeof(c->rel), "%s/sockvisord-%lu-%d", strcmp(own, "/") == 0 ? "" : own, ns,
                          (int) getpid());
        int w2 = snprintf(c->path, sizeof(c->path), "%s%s", mount, c->rel);
        if (w1 < 0 || (size_t) w1 >= sizeof(c->rel) || w2 < 0 || (size_t) w2 >= sizeof(c->path)) {
                diag_set(d, 0, "the cgroup path is too long");
                goto fail;
        }
        char parent[4096];
        (void) snprintf(parent, sizeof(parent), "%s%s", mount, strcmp(own, "/") == 0 ? "" : own);
        remove_stale(parent, ns);
        /* EEXIST: an upgrade (same pid) finds the directory the old image made */
        if (mkdir(c->path, 0755) < 0 && errno != EEXIST) {
                diag_set(d, 0, "cannot create %s: %s", c->path, strerror(errno));
                goto fail;
        }
        c->dir_fd = open(c->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (c->dir_fd < 0) {
                diag_set(d, 0, "cannot open %s: %s", c->path, strerror(errno));
                goto fail;
        }
        if (probe_join(c->dir_fd, d) < 0)
                goto fail;
        c->have_kill = faccessat(c->dir_fd, "cgroup.kill", F_OK, 0) == 0;
        return c;
fail:
        if (c->dir_fd >= 0)
                close(c->dir_fd);
        (void) rmdir(c->path);
        free(c);
        return NULL;
}

const char *sv_cgroups_path(const SvCgroups *cg) {
        return cg ? cg->path : NULL;
}

static CgEntry *find(SvCgroups *cg, pid_t pid) {
        return cg ? sv_pidmap_get(&cg->live, pid) : NULL;
}

/* An entry for the cgroup called name, or NULL. */
static CgEntry *entry_new(const char *name) {
        size_t len = strlen(name);
        CgEntry *e = calloc(1, sizeof(*e) + len + 1);
        if (e)
                memcpy(e->name, name, len + 1);
        return e;
}

static bool add(SvCgroups *cg, pid_t pid, const char *name) {
        CgEntry *e = entry_new(name);
        if (!e)
                return false;
        e->pid = pid;
        if (sv_pidmap_put(&cg->live, pid, e) < 0) {
                free(e);
                return false;
        }
        return true;
}

int sv_cgroup_prepare(SvCgroups *cg, const char *instance, unsigned generation, SvDiag *d) {
        char base[240], name[256];
        if (!cg)
                return -EOPNOTSUPP;
        if (sv_cgroup_leaf_name(instance, generation, base, sizeof(base)) < 0)
                return diag_set(d, 0, "the cgroup name of %s is too long", instance), -ENAMETOOLONG;
        /* A name taken (an earlier generation not yet emptied, the same number after a
         * reload renamed things): the next free "-N". */
        int r = -EEXIST;
        for (unsigned k = 1; k <= 64 && r == -EEXIST; k++) {
                if (k == 1)
                        (void) snprintf(name, sizeof(name), "%s", base);
                else
                        (void) snprintf(name, sizeof(name), "%s-%u", base, k);
                r = mkdirat(cg->dir_fd, name, 0755) < 0 ? -errno : 0;
        }
        if (r < 0)
                return diag_set(d, 0, "cannot create the cgroup %s/%s: %s", cg->path, name, strerror(-r)), r;
        char procs[300];
        (void) snprintf(procs, sizeof(procs), "%s/cgroup.procs", name);
        int fd = openat(cg->dir_fd, procs, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                r = -errno;
                (void) unlinkat(cg->dir_fd, name, AT_REMOVEDIR);
                return diag_set(d, 0, "cannot open %s/%s: %s", cg->path, procs, strerror(-r)), r;
        }
        (void) snprintf(cg->pending, sizeof(cg->pending), "%s", name);
        return fd;
}

void sv_cgroup_spawned(SvCgroups *cg, pid_t pid, int procs_fd, bool ok) {
        if (procs_fd >= 0)
                close(procs_fd);
        if (!cg || !cg->pending[0])
                return;
        if (!ok || !add(cg, pid, cg->pending))
                (void) unlinkat(cg->dir_fd, cg->pending, AT_REMOVEDIR);
        cg->pending[0] = '\0';
}

void sv_cgroup_adopt(SvCgroups *cg, pid_t pid) {
        char path[64], own[4096];
        if (!cg || find(cg, pid))
                return;
        (void) snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) pid);
        _cleanup_free_ char *text = read_all(path);
        size_t n = strlen(cg->rel);
        if (text && sv_cgroup_find_own(text, own, sizeof(own)) == 0 && strncmp(own, cg->rel, n) == 0 &&
            own[n] == '/' && own[n + 1]) {
                char *nested = strchr(own + n + 1, '/');
                if (nested) /* a worker may make cgroups below its own: its leaf is the first step */
                        *nested = '\0';
                (void) add(cg, pid, own + n + 1);
        }
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The previous image's reaped list did not come across the execve: a leaf of our directory
 * that no adopted worker is in is one of those (or was emptied since). Empty: removed.
 * Populated: what its worker left, already sent SIGTERM; it is ours to SIGKILL after
 * grace_usec, as the previous image would have, and to remove once empty. */
void sv_cgroups_adopt_rest(SvCgroups *cg, uint64_t grace_usec, const pid_t *workers, size_t n_workers) {
        if (!cg)
                return;
        /* A worker whose cgroup could not be read would look like leftovers and be killed
         * with them: then nothing populated is touched, only empty leaves go. */
        size_t unplaced = 0;
        for (size_t k = 0; k < n_workers; k++)
                unplaced += !find(cg, workers[k]);
        if (unplaced)
                log_warning("cgroups after the upgrade: %zu worker(s) not found in one of ours; what the previous "
                            "image's stopped workers left in theirs is not killed",
                            unplaced);
        size_t n = 0;
        const char **live = calloc(cg->live.n ? cg->live.n : 1, sizeof(char *));
        if (!live)
                return;
        for (size_t k = 0; k < cg->live.cap && n < cg->live.n; k++)
                if (cg->live.slots[k].key != 0)
                        live[n++] = ((CgEntry *) cg->live.slots[k].value)->name;
        qsort(live, n, sizeof(char *), name_cmp);

        int fd = openat(cg->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                if (fd >= 0)
                        close(fd);
                free(live);
                return;
        }
        unsigned removed = 0, kept = 0;
        uint64_t kill_at = sv_clock_usec() + grace_usec;
        for (struct dirent *de; (de = readdir(d));) {
                const char *name = de->d_name;
                if (de->d_type != DT_DIR || name[0] == '.' || strcmp(name, "probe") == 0 ||
                    bsearch(&name, live, n, sizeof(char *), name_cmp))
                        continue;
                if (unlinkat(cg->dir_fd, name, AT_REMOVEDIR) == 0) {
                        removed++;
                        continue;
                }
                if (unplaced)
                        continue;
                CgEntry *e = entry_new(name);
                if (!e)
                        break;
                e->kill_at = kill_at;
                e->next_reaped = cg->reaped;
                cg->reaped = e;
                kept++;
        }
        closedir(d);
        free(live);
        if (removed || kept)
                log_info("cgroups after the upgrade: removed %u emptied, %u still holding what a stopped worker left "
                         "(SIGKILL in %" PRIu64 " s)", removed, kept, grace_usec / 1000000);
        arm_kill(cg);
}

/* Sends sig to every pid in NAME/cgroup.procs (0: only counts them); returns how many, or -errno. */
static int for_each_proc(SvCgroups *cg, const char *name, int sig) {
        char procs[300], buf[4096];
        (void) snprintf(procs, sizeof(procs), "%s/cgroup.procs", name);
        int fd = openat(cg->dir_fd, procs, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        int count = 0;
        long cur = -1;
        for (;;) {
                ssize_t r = read(fd, buf, sizeof(buf));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                for (ssize_t k = 0; k < r; k++) {
                        if (buf[k] >= '0' && buf[k] <= '9')
                                cur = (cur < 0 ? 0 : cur * 10) + (buf[k] - '0');
                        else if (cur > 0) {
                                if (sig == 0 || kill((pid_t) cur, sig) == 0)
                                        count++;
                                cur = -1;
                        }
                }
        }
        close(fd);
        return count;
}

static int signal_cgroup(SvCgroups *cg, const char *name, int sig) {
        if (sig == SIGKILL && cg->have_kill) {
                int n = for_each_proc(cg, name, 0);
                char kpath[300];
                (void) snprintf(kpath, sizeof(kpath), "%s/cgroup.kill", name);
                int fd = openat(cg->dir_fd, kpath, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd >= 0) {
                        bool done = write(fd, "1", 1) == 1;
                        close(fd);
                        if (done)
                                return n < 0 ? 0 : n;
                }
        }
        int n = for_each_proc(cg, name, sig);
        return n < 0 ? 0 : n;
}

int sv_cgroup_signal(SvCgroups *cg, pid_t pid, int sig) {
        CgEntry *e = find(cg, pid);
        return e ? signal_cgroup(cg, e->name, sig) : 0;
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        SvCgroups *cg = userdata;
        uint64_t now = sv_clock_usec();
        for (CgEntry *e = cg->reaped; e; e = e->next_reaped) {
                if (!e->killed && e->kill_at <= now) {
                        e->killed = true;
                        (void) signal_cgroup(cg, e->name, SIGKILL);
                }
        }
        arm_kill(cg);
        return 0;
}

/* One timer for every reaped cgroup still waiting for its SIGKILL: at the earliest. */
static void arm_kill(SvCgroups *cg) {
        uint64_t next = 0;
        for (const CgEntry *e = cg->reaped; e; e = e->next_reaped)
                if (!e->killed && (!next || e->kill_at < next))
                        next = e->kill_at;
        if (cg->event || cg->kill_src)
                (void) sv_timer_oneshot(cg->event, &cg->kill_src, next, on_kill_timer, cg);
}

int sv_cgroup_reaped(SvCgroups *cg, pid_t pid, uint64_t grace_usec) {
        CgEntry *e = cg ? sv_pidmap_remove(&cg->live, pid) : NULL;
        if (!e)
                return 0;
        int left = signal_cgroup(cg, e->name, SIGTERM);
        if (left == 0 && unlinkat(cg->dir_fd, e->name, AT_REMOVEDIR) == 0) {
                free(e);
                return 0;
        }
        e->kill_at = sv_clock_usec() + grace_usec;
        e->next_reaped = cg->reaped;
        cg->reaped = e;
        arm_kill(cg);
        return left;
}

void sv_cgroup_sweep(SvCgroups *cg) {
        bool removed = false;
        for (CgEntry **pp = cg ? &cg->reaped : NULL; pp && *pp;)
                if (unlinkat(cg->dir_fd, (*pp)->name, AT_REMOVEDIR) == 0) {
                        CgEntry *gone = *pp;
                        *pp = gone->next_reaped;
                        free(gone);
                        removed = true;
                } else
                        pp = &(*pp)->next_reaped;
        if (removed)
                arm_kill(cg);
}

void sv_cgroups_free(SvCgroups *cg) {
        if (!cg)
                return;
        /* What sv_cgroup_reaped signalled is ending: orphans, so our children, whose zombies
         * keep their cgroup populated until reaped. At exit every worker has been reaped, so
         * any child left is one of those. A second of grace, then SIGKILL and another
         * second: 200 rounds of 10 ms at most. */
        for (unsigned round = 0; round < 200 && cg->reaped; round++) {
                for (CgEntry *e = cg->reaped; e && round == 100; e = e->next_reaped)
                        if (!e->killed) {
                                e->killed = true;
                                (void) signal_cgroup(cg, e->name, SIGKILL);
                        }
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                sv_cgroup_sweep(cg);
                if (cg->reaped)
                        (void) usleep(10000);
        }
        cg->kill_src = sd_event_source_disable_unref(cg->kill_src);
        /* Only empty ones go (rmdir refuses the others). */
        for (CgEntry *e = cg->reaped, *next; e; e = next) {
                next = e->next_reaped;
                (void) unlinkat(cg->dir_fd, e->name, AT_REMOVEDIR);
                free(e);
        }
        for (size_t k = 0; k < cg->live.cap; k++)
                if (cg->live.slots[k].key != 0) {
                        CgEntry *e = cg->live.slots[k].value;
                        (void) unlinkat(cg->dir_fd, e->name, AT_REMOVEDIR);
                        free(e);
                }
        sv_pidmap_done(&cg->live);
        close(cg->dir_fd);
        (void) rmdir(cg->path);
        free(cg);
}
