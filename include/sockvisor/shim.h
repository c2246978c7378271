/* The bind-adoption shim (libsockvisor-bind.so), seen from the daemon: where the library is,
 * and whether a program's executable can load it at all. The environment contract:
 * SOCKVISOR_BIND_FDS=3,4 (the fds the program may adopt, each a held listener handed over
 * non-blocking) and the library's path in LD_PRELOAD. */
#pragma once

#include <stddef.h>

#define SV_SHIM_NAME "libsockvisor-bind.so"

/* drain = idle tells a generation's processes that they drain by setting their timer slack
 * (/proc/PID/timerslack_ns, which a daemon with CAP_SYS_NICE may write) to this value, 21 ns
 * above the kernel's default: a change no program notices, and one the shim reads with one
 * prctl(PR_GET_TIMERSLACK). A draining process accepts nothing more from an adopted socket,
 * so it comes to be idle even under load; whatever waits in the shared queue goes to the next
 * generation. */
#define SV_SHIM_DRAIN_TIMERSLACK_NS 50021

/* The library to preload: SV_SHIM_NAME in the directory of /proc/self/exe when it exists
 * there (the build tree, the tests), else the installed path. Returns 0 and writes the
 * path, or a negative errno and writes nothing: -ENOENT when neither exists,
 * -ENAMETOOLONG when buf is too small. */
int sv_shim_path(char *buf, size_t len);

/* sv_shim_path() with the executable and the installed path given: "exe" is a path to an
 * executable whose directory is looked in first, "installed" the fallback (may be NULL). */
int sv_shim_path_for(const char *exe, const char *installed, char *buf, size_t len);

/* Checks the executable at path (the program's argv[0], resolved in PATH; a "#!" script is
 * checked through its interpreter, and "#!/usr/bin/env NAME" through NAME in PATH). Returns
 * 0 when the dynamic loader will preload the shim, else a negative errno with why set to a
 * one-line warning that says what is wrong and what to do instead:
 *   -EPERM    setuid or setgid: the loader ignores LD_PRELOAD (secure execution)
 *   -ENOEXEC  statically linked, a Go program (raw syscalls), another ELF class or machine
 *             than the shim's, or not an ELF executable or script at all
 *   -errno    the file cannot be opened or read (why says so)
 * The ELF is read with bounded reads on an fd of our own; 32- and 64-bit little-endian. */
int sv_shim_check_binary(const char *path, char *why, size_t len);
