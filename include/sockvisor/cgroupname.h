/* The pure half of per-instance cgroups: reading where the cgroup v2 hierarchy is mounted
 * and where we sit in it, and naming an instance's cgroup. Pure (tests/unit/test_cgroupname.c,
 * tests/fuzz/fuzz_cgroupname.c); src/daemon/cgroup.c does the file system work. */
#pragma once

#include <stddef.h>

/* The mount point of the cgroup2 file system from the text of /proc/self/mountinfo:
 * /sys/fs/cgroup when it is cgroup2 (a unified host), else the first cgroup2 mount (a hybrid
 * host's /sys/fs/cgroup/unified). Octal escapes (\040) are decoded. 0, or -ENOENT when no
 * cgroup2 is mounted, -ENAMETOOLONG when it does not fit in len. */
int sv_cgroup_find_mount(const char *mountinfo, char *buf, size_t len);

/* Our cgroup v2 path ("/system.slice/sockvisord.service", "/" in a host's root) from the
 * text of /proc/self/cgroup: the "0::PATH" line. 0, -ENOENT when there is none (cgroup v1
 * only), -ENAMETOOLONG. A path with "/.." or a deleted cgroup (" (deleted)") is refused
 * (-EINVAL): the directory names we build from it must be the ones the kernel means. */
int sv_cgroup_find_own(const char *proc_self_cgroup, char *buf, size_t len);

/* The directory name of one generation of one instance: "app.1", "pool:2.7". Every byte
 * outside [A-Za-z0-9_.:@-] becomes '_' and a leading '.' too, so no name is "." or "..", a
 * hidden file, or a cgroup interface file ("cgroup.procs" starts with the reserved
 * "cgroup."). -ENAMETOOLONG when it does not fit (names are short: 255 at most). */
int sv_cgroup_leaf_name(const char *instance, unsigned generation, char *buf, size_t len);
