/* Where the bind shim is, and whether a program's executable can load it: a bounded read of
 * its ELF headers (or its "#!" line) on an fd of our own. */
#include "sockvisor/shim.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sockvisor/macro.h"

#ifndef SV_SHIM_INSTALL_PATH
#define SV_SHIM_INSTALL_PATH "/usr/local/lib/sockvisor/" SV_SHIM_NAME
#endif

#define SCRIPT_DEPTH_MAX 4      /* the kernel follows at most 4 levels of interpreters too */
#define PHDRS_MAX 4096
#define SHDRS_MAX 8192
#define SHSTRTAB_MAX (1u << 20)

static bool is_file(const char *p) {
        struct stat st;
        return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int sv_shim_path_for(const char *exe, const char *installed, char *buf, size_t len) {
        char cand[PATH_MAX];
        const char *slash = exe ? strrchr(exe, '/') : NULL;

        if (slash) {
                int n = snprintf(cand, sizeof(cand), "%.*s/%s", (int) (slash - exe), exe, SV_SHIM_NAME);
                if (n > 0 && (size_t) n < sizeof(cand) && is_file(cand)) {
                        if ((size_t) n >= len)
                                return -ENAMETOOLONG;
                        memcpy(buf, cand, (size_t) n + 1);
                        return 0;
                }
        }
        if (installed && is_file(installed)) {
                size_t n = strlen(installed);
                if (n >= len)
                        return -ENAMETOOLONG;
                memcpy(buf, installed, n + 1);
                return 0;
        }
        return -ENOENT;
}

int sv_shim_path(char *buf, size_t len) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

        if (n > 0)
                exe[n] = '\0';
        return sv_shim_path_for(n > 0 ? exe : NULL, SV_SHIM_INSTALL_PATH, buf, len);
}

_printf_(3, 4) static void fail(char *why, size_t len, const char *fmt, ...) {
        if (why && len > 0) {
                va_list ap;
                va_start(ap, fmt);
                (void) vsnprintf(why, len, fmt, ap);
                va_end(ap);
        }
}

/* ---- little-endian ELF, 32- and 64-bit ---- */

typedef struct Elf {
        int fd;
        bool is64;
        uint64_t size;          /* of the file: every offset is checked against it */
} Elf;

static uint64_t le(const unsigned char *p, size_t n) {
        uint64_t v = 0;
        for (size_t k = n; k > 0; k--)
                v = (v << 8) | p[k - 1];
        return v;
}

/* Reads exactly n bytes at off, or fails: -EIO for a short file (truncated headers). */
static int read_at(const Elf *e, uint64_t off, void *buf, size_t n) {
        if (off > e->size || n > e->size - off)
                return -EIO;
        size_t got = 0;
        while (got < n) {
                ssize_t r = pread(e->fd, (char *) buf + got, n - got, (off_t) (off + got));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -EIO;
                got += (size_t) r;
        }
        return 0;
}

typedef struct ElfFacts {
        bool is64;
        unsigned machine, type;
        bool interp;            /* has PT_INTERP: the dynamic loader runs, and reads LD_PRELOAD */
        bool go;                /* has .go.buildinfo or .note.go.buildid */
} ElfFacts;

typedef struct Shdr {
        uint64_t offset, size;
        uint32_t name, link, info;
} Shdr;

static int read_shdr(const Elf *e, uint64_t shoff, unsigned shentsize, uint64_t k, Shdr *ret) {
        unsigned char b[64];
        int r = read_at(e, shoff + k * shentsize, b, e->is64 ? 64 : 40);
        if (r < 0)
                return r;
        ret->name = (uint32_t) le(b, 4);
        if (e->is64) {
                ret->offset = le(b + 24, 8);
                ret->size = le(b + 32, 8);
                ret->link = (uint32_t) le(b + 40, 4);
                ret->info = (uint32_t) le(b + 44, 4);
        } else {
                ret->offset = le(b + 16, 4);
                ret->size = le(b + 20, 4);
                ret->link = (uint32_t) le(b + 24, 4);
                ret->info = (uint32_t) le(b + 28, 4);
        }
        return 0;
}

/* The facts we need from an ELF file open at fd. -ENOEXEC: not ELF; -ENOTSUP: big-endian;
 * -EIO: truncated or inconsistent headers. */
static int elf_facts(int fd, ElfFacts *ret) {
        unsigned char h[64];
        struct stat st;
        Elf e = { .fd = fd };
        int r;

        if (fstat(fd, &st) < 0)
                return -errno;
        e.size = (uint64_t) st.st_size;
        if (e.size < SELFMAG || (r = read_at(&e, 0, h, e.size < 64 ? (size_t) e.size : 64)) < 0)
                return e.size < SELFMAG ? -ENOEXEC : r;
        if (memcmp(h, ELFMAG, SELFMAG) != 0)
                return -ENOEXEC;
        if (e.size < 52)
                return -EIO;
        if (h[EI_DATA] != ELFDATA2LSB)
                return -ENOTSUP;
        if (h[EI_CLASS] != ELFCLASS32 && h[EI_CLASS] != ELFCLASS64)
                return -EIO;
        e.is64 = h[EI_CLASS] == ELFCLASS64;
        if (e.is64 && e.size < 64)
                return -EIO;

        ElfFacts f = { .is64 = e.is64, .type = (unsigned) le(h + 16, 2), .machine = (unsigned) le(h + 18, 2) };
        uint64_t phoff = e.is64 ? le(h + 32, 8) : le(h + 28, 4);
        uint64_t shoff = e.is64 ? le(h + 40, 8) : le(h + 32, 4);
        unsigned phentsize = (unsigned) le(h + (e.is64 ? 54 : 42), 2), phnum = (unsigned) le(h + (e.is64 ? 56 : 44), 2);
        unsigned shentsize = (unsigned) le(h + (e.is64 ? 58 : 46), 2);
        uint64_t shnum = le(h + (e.is64 ? 60 : 48), 2), shstrndx = le(h + (e.is64 ? 62 : 50), 2);
        Shdr s0 = { 0 };

        if (shoff != 0) {
                if (shentsize < (e.is64 ? 64u : 40u))
                        return -EIO;
                if ((r = read_shdr(&e, shoff, shentsize, 0, &s0)) < 0)
                        return r;
                if (shnum == 0) /* more than 0xff00 sections: the count is in section 0 */
                        shnum = s0.size;
                if (shstrndx == SHN_XINDEX)
                        shstrndx = s0.link;
        }
        if (phnum == PN_XNUM && shoff != 0)
                phnum = s0.info;
        if (phnum > PHDRS_MAX || (phnum > 0 && phentsize < (e.is64 ? 56u : 32u)))
                return -EIO;
        for (unsigned k = 0; k < phnum; k++) {
                unsigned char p[4];
                if ((r = read_at(&e, phoff + (uint64_t) k * phentsize, p, sizeof(p))) < 0)
                        return r;
                if (le(p, 4) == PT_INTERP)
                        f.interp = true;
        }

        if (shoff != 0 && shnum > 0 && shnum <= SHDRS_MAX && shstrndx < shnum) {
                Shdr strs;
                if ((r = read_shdr(&e, shoff, shentsize, shstrndx, &strs)) < 0)
                        return r;
                if (strs.size > 0 && strs.size <= SHSTRTAB_MAX) {
                        _cleanup_free_ char *names = malloc(strs.size + 1);
                        if (!names)
                                return -ENOMEM;
                        if ((r = read_at(&e, strs.offset, names, strs.size)) < 0)
                                return r;
                        names[strs.size] = '\0';
                        for (uint64_t k = 1; k < shnum && !f.go; k++) {
                                Shdr s;
                                if ((r = read_shdr(&e, shoff, shentsize, k, &s)) < 0)
                                        return r;
                                if (s.name < strs.size && (strcmp(names + s.name, ".go.buildinfo") == 0 ||
                                                           strcmp(names + s.name, ".note.go.buildid") == 0))
                                        f.go = true;
                        }
                }
        }
        *ret = f;
        return 0;
}

/* The class and machine of the running executable, which the shim was built with. */
static int own_facts(ElfFacts *ret) {
        _cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        return fd < 0 ? -errno : elf_facts(fd, ret);
}

/* A program name as execvp would find it. */
static int path_lookup(const char *name, char *buf, size_t len) {
        if (strchr(name, '/')) {
                if (strlen(name) >= len)
                        return -ENAMETOOLONG;
                strcpy(buf, name);
                return 0;
        }
        const char *p = getenv("PATH");
        if (!p || !*p)
                p = "/usr/local/bin:/usr/bin:/bin";
        while (*p) {
                const char *end = strchrnul(p, ':');
                int n = end == p ? snprintf(buf, len, "./%s", name) /* an empty entry is the cwd */
                                 : snprintf(buf, len, "%.*s/%s", (int) (end - p), p, name);
                if (n > 0 && (size_t) n < len && access(buf, X_OK) == 0 && is_file(buf))
                        return 0;
                p = *end ? end + 1 : end;
        }
        return -ENOENT;
}

static int check(const char *path, char *why, size_t len, unsigned depth);

/* "#!INTERP [ARG]": checks INTERP, and for "#!/usr/bin/env NAME" the NAME it runs. */
static int check_script(const char *path, char *line, char *why, size_t len, unsigned depth) {
        char *interp = line + 2, *arg, *e;

        interp += strspn(interp, " \t");
        e = interp + strcspn(interp, " \t");
        arg = *e ? e + 1 : e;
        *e = '\0';
        arg += strspn(arg, " \t");
        if (!*interp) {
                fail(why, len, "'%s' starts with '#!' but names no interpreter: it cannot run", path);
                return -ENOEXEC;
        }
        if (depth >= SCRIPT_DEPTH_MAX) {
                fail(why, len, "'%s': more than %d levels of '#!' interpreters", path, SCRIPT_DEPTH_MAX);
                return -ELOOP;
        }

        char inner[512];
        int r = check(interp, inner, sizeof(inner), depth + 1);
        if (r == -ELOOP)
                fail(why, len, "%s", inner); /* one message, not one per level */
        else if (r < 0)
                fail(why, len, "'%s' is a script run by %s: %s", path, interp, inner);
        if (r < 0)
                return r;
        const char *base = strrchr(interp, '/');
        if (strcmp(base ? base + 1 : interp, "env") != 0)
                return 0;

        /* env [-S] [-i] NAME ...: the first word that is not an option */
        char *w = arg;
        while (*w) {
                char *we = w + strcspn(w, " \t");
                char save = *we;
                *we = '\0';
                if (w[0] != '-' && !strchr(w, '=')) {
                        char prog[PATH_MAX];
                        if (path_lookup(w, prog, sizeof(prog)) < 0) {
                                fail(why, len, "'%s' is run by '%s %s', and '%s' is not in PATH: it cannot run",
                                     path, interp, w, w);
                                return -ENOENT;
                        }
                        r = check(prog, inner, sizeof(inner), depth + 1);
                        if (r < 0)
                                fail(why, len, "'%s' is a script run by %s (through env): %s", path, prog, inner);
                        return r;
                }
                *we = save;
                w = we + strspn(we, " \t");
        }
        return 0; /* "#!/usr/bin/env" alone: env itself runs, and was checked */
}

static int check(const char *path, char *why, size_t len, unsigned depth) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        char head[257];
        ssize_t n;
        int r;

        if (fd < 0) {
                r = -errno;
                fail(why, len, "cannot open '%s' to check whether the bind shim can load into it: %s", path,
                     strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                fail(why, len, "cannot stat '%s': %s", path, strerror(-r));
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                fail(why, len, "'%s' is not a regular file: it cannot be executed", path);
                return -EACCES;
        }
        do
                n = pread(fd, head, sizeof(head) - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                r = -errno;
                fail(why, len, "cannot read '%s' to check whether the bind shim can load into it: %s", path,
                     strerror(-r));
                return r;
        }
        head[n] = '\0';
        if (n >= 2 && head[0] == '#' && head[1] == '!') {
                head[strcspn(head, "\n")] = '\0'; /* setuid bits on scripts are ignored by Linux */
                return check_script(path, head, why, len, depth);
        }

        ElfFacts f;
        r = elf_facts(fd, &f);
        if (r == -ENOEXEC) {
                fail(why, len, "'%s' is neither an ELF executable nor a '#!' script: cannot tell whether the bind "
                     "shim will load into it", path);
                return -ENOEXEC;
        }
        if (r == -ENOTSUP) {
                fail(why, len, "'%s' is a big-endian ELF file: it cannot run on this machine, nor load the bind shim",
                     path);
                return -ENOEXEC;
        }
        if (r < 0) {
                fail(why, len, "cannot read the ELF headers of '%s' (%s): cannot tell whether the bind shim will "
                     "load into it", path, r == -EIO ? "truncated or corrupt" : strerror(-r));
                return r == -EIO ? -ENOEXEC : r;
        }
        if (f.type != ET_EXEC && f.type != ET_DYN) {
                fail(why, len, "'%s' is an ELF file but not an executable (type %u)", path, f.type);
                return -ENOEXEC;
        }
        if (f.go) {
                fail(why, len, "'%s' is a Go program: Go calls bind with raw syscalls, bypassing libc, so the shim "
                     "never sees the bind and the program binds its own socket (Address already in use on "
                     "restart); give it the socket by fd (LISTEN_FDS, e.g. go-systemd's activation package) "
                     "instead", path);
                return -ENOEXEC;
        }
        if (!f.interp) {
                fail(why, len, "'%s' is statically linked: LD_PRELOAD cannot load the shim, so it binds its own "
                     "socket (Address already in use on restart); give it the socket by fd (LISTEN_FDS) instead",
                     path);
                return -ENOEXEC;
        }
        if (st.st_mode & (S_ISUID | S_ISGID)) {
                fail(why, len, "'%s' is set%cid: the dynamic loader ignores LD_PRELOAD for setuid and setgid "
                     "programs (secure execution), so it binds its own socket (Address already in use on "
                     "restart); clear the bit and use user= instead, or give it the socket by fd (LISTEN_FDS)",
                     path, (st.st_mode & S_ISUID) ? 'u' : 'g');
                return -EPERM;
        }
        ElfFacts own;
        if (own_facts(&own) == 0 && (own.is64 != f.is64 || own.machine != f.machine)) {
                fail(why, len, "'%s' is a %d-bit program for ELF machine %u, and the bind shim is built %d-bit for "
                     "machine %u: the loader skips it, so the program binds its own socket (Address already in "
                     "use on restart); give it the socket by fd (LISTEN_FDS) instead",
                     path, f.is64 ? 64 : 32, f.machine, own.is64 ? 64 : 32, own.machine);
                return -ENOEXEC;
        }
        return 0;
}

int sv_shim_check_binary(const char *path, char *why, size_t len) {
        if (why && len > 0)
                why[0] = '\0';
        if (!path || !*path) {
                fail(why, len, "no executable to check");
                return -EINVAL;
        }
        return check(path, why, len, 0);
}
