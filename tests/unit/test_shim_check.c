/* Tests for sv_shim_check_binary and sv_shim_path_for on real files: binaries built in the
 * tree (a dynamic one, a -static one when the toolchain can link it, one with a Go section),
 * scripts, a setuid copy (as root), synthesized 32-bit ELF headers and broken files, all in a
 * private temp dir. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sockvisor/shim.h"

static char dir[64];

static void path_in(char *buf, size_t len, const char *name) {
        (void) snprintf(buf, len, "%s/%s", dir, name);
}

static void write_file(const char *path, const void *data, size_t n, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, n), (ssize_t) n);
        assert_int_equal(close(fd), 0);
        assert_int_equal(chmod(path, mode), 0);
}

static void copy_file(const char *from, const char *to, size_t max, mode_t mode) {
        static char buf[1 << 22];
        int fd = open(from, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        ssize_t n = read(fd, buf, max < sizeof(buf) ? max : sizeof(buf));
        assert_true(n > 0);
        (void) close(fd);
        write_file(to, buf, (size_t) n, mode);
}

static void script(const char *name, const char *text) {
        char p[128];
        path_in(p, sizeof(p), name);
        write_file(p, text, strlen(text), 0755);
}

/* Checks path and expects r; why must contain each of the NULL-terminated fragments. */
static void expect(const char *path, int want, ...) {
        char why[1024];
        memset(why, 'x', sizeof(why));
        int r = sv_shim_check_binary(path, why, sizeof(why));
        print_message("%s -> %d: %s\n", path, r, why);
        assert_int_equal(r, want);
        if (want == 0)
                assert_string_equal(why, "");
        va_list ap;
        va_start(ap, want);
        for (const char *frag; (frag = va_arg(ap, const char *));)
                if (!strstr(why, frag))
                        fail_msg("'%s' not in '%s'", frag, why);
        va_end(ap);
}

static int setup(void **state) {
        (void) snprintf(dir, sizeof(dir), "/tmp/sv-shimcheck.XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        char cmd[128];
        (void) snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void test_dynamic(void **state) {
        expect(SV_SELFBIND, 0, NULL);
        expect("/bin/sh", 0, NULL);
}

static void test_static(void **state) {
        if (!SV_STATIC_BIN[0]) {
                print_message("skip: the toolchain cannot link -static (no libc.a), no static binary to check\n");
                skip();
        }
        expect(SV_STATIC_BIN, -ENOEXEC, SV_STATIC_BIN, "is statically linked: LD_PRELOAD cannot load the shim",
               "Address already in use", "LISTEN_FDS", NULL);
}

static void test_go(void **state) {
        expect(SV_FAKEGO, -ENOEXEC, "is a Go program: Go calls bind with raw syscalls, bypassing libc", NULL);
}

static void test_scripts(void **state) {
        char p[128], text[512];

        script("ok.sh", "#!/bin/sh\necho hi\n");
        path_in(p, sizeof(p), "ok.sh");
        expect(p, 0, NULL);

        script("spaces.sh", "#!  /bin/sh -e\n");
        path_in(p, sizeof(p), "spaces.sh");
        expect(p, 0, NULL);

        (void) snprintf(text, sizeof(text), "#!%s\n", SV_FAKEGO);
        script("go.sh", text);
        path_in(p, sizeof(p), "go.sh");
        expect(p, -ENOEXEC, "go.sh' is a script run by " SV_FAKEGO, "is a Go program", NULL);

        /* #!/usr/bin/env NAME: NAME is looked up in PATH */
        char bin[128], link[160];
        path_in(bin, sizeof(bin), "bin");
        assert_int_equal(mkdir(bin, 0755), 0);
        (void) snprintf(link, sizeof(link), "%s/fakego", bin);
        assert_int_equal(symlink(SV_FAKEGO, link), 0);
        char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
        assert_int_equal(setenv("PATH", bin, 1), 0);
        script("env.sh", "#!/usr/bin/env -S fakego --flag\n");
        path_in(p, sizeof(p), "env.sh");
        expect(p, -ENOEXEC, "(through env)", "is a Go program", NULL);
        script("envmissing.sh", "#!/usr/bin/env no-such-program-here\n");
        path_in(p, sizeof(p), "envmissing.sh");
        expect(p, -ENOENT, "'no-such-program-here' is not in PATH", NULL);
        if (old)
                assert_int_equal(setenv("PATH", old, 1), 0);
        free(old);

        script("noint.sh", "#!\n");
        path_in(p, sizeof(p), "noint.sh");
        expect(p, -ENOEXEC, "names no interpreter", NULL);

        /* a script whose interpreter is itself: the depth is bounded */
        path_in(p, sizeof(p), "loop.sh");
        (void) snprintf(text, sizeof(text), "#!%s\n", p);
        script("loop.sh", text);
        expect(p, -ELOOP, "levels of '#!' interpreters", NULL);
}

static void test_setuid(void **state) {
        if (geteuid() != 0) {
                print_message("skip: not root, cannot make a setuid copy\n");
                skip();
        }
        char p[128];
        path_in(p, sizeof(p), "suid");
        copy_file(SV_SELFBIND, p, SIZE_MAX, 04755);
        expect(p, -EPERM, "is setuid: the dynamic loader ignores LD_PRELOAD for setuid", NULL);
        path_in(p, sizeof(p), "sgid");
        copy_file(SV_SELFBIND, p, SIZE_MAX, 02755);
        expect(p, -EPERM, "is setgid", NULL);
}

static void test_unreadable(void **state) {
        char p[128];
        path_in(p, sizeof(p), "missing");
        expect(p, -ENOENT, "cannot open", "missing", "No such file", NULL);
        expect(dir, -EACCES, "not a regular file", NULL);
        expect("", -EINVAL, NULL);

        path_in(p, sizeof(p), "text");
        write_file(p, "hello\n", 6, 0755);
        expect(p, -ENOEXEC, "neither an ELF executable nor a '#!' script", NULL);
        path_in(p, sizeof(p), "empty");
        write_file(p, "", 0, 0755);
        expect(p, -ENOEXEC, "neither", NULL);

        /* the real ELF header, with its program headers cut off */
        path_in(p, sizeof(p), "cut100");
        copy_file(SV_SELFBIND, p, 100, 0755);
        expect(p, -ENOEXEC, "truncated or corrupt", NULL);
        path_in(p, sizeof(p), "cut20");
        copy_file(SV_SELFBIND, p, 20, 0755);
        expect(p, -ENOEXEC, "truncated or corrupt", NULL);
        if (geteuid() != 0) { /* root reads through mode 0 */
                path_in(p, sizeof(p), "noread");
                write_file(p, "#!/bin/sh\n", 10, 0);
                expect(p, -EACCES, "cannot open", NULL);
        }
}

/* A minimal 32-bit little-endian executable header with one program header of type t. */
static void elf32(const char *name, uint32_t t, uint16_t type) {
        unsigned char b[52 + 32] = { 0 };
        memcpy(b, ELFMAG, SELFMAG);
        b[EI_CLASS] = ELFCLASS32;
        b[EI_DATA] = ELFDATA2LSB;
        b[EI_VERSION] = EV_CURRENT;
        b[16] = (unsigned char) type;       /* e_type */
        b[18] = EM_386;                     /* e_machine */
        b[20] = EV_CURRENT;                 /* e_version */
        b[28] = 52;                         /* e_phoff */
        b[40] = 52;                         /* e_ehsize */
        b[42] = 32;                         /* e_phentsize */
        b[44] = 1;                          /* e_phnum */
        memcpy(b + 52, &t, 4);              /* p_type (the host is little-endian too) */
        char p[128];
        path_in(p, sizeof(p), name);
        write_file(p, b, sizeof(b), 0755);
}

static void test_elf32(void **state) {
        char p[128];
        elf32("e32static", PT_LOAD, ET_EXEC);
        path_in(p, sizeof(p), "e32static");
        expect(p, -ENOEXEC, "is statically linked", NULL);
        elf32("e32dyn", PT_INTERP, ET_EXEC);
        path_in(p, sizeof(p), "e32dyn");
        if (sizeof(void *) == 8)
                expect(p, -ENOEXEC, "is a 32-bit program for ELF machine 3", "built 64-bit", NULL);
        elf32("e32rel", PT_INTERP, ET_REL);
        path_in(p, sizeof(p), "e32rel");
        expect(p, -ENOEXEC, "not an executable", NULL);

        /* big-endian: cannot run here */
        unsigned char be[64] = { 0x7f, 'E', 'L', 'F', ELFCLASS64, ELFDATA2MSB, EV_CURRENT };
        path_in(p, sizeof(p), "be");
        write_file(p, be, sizeof(be), 0755);
        expect(p, -ENOEXEC, "big-endian", NULL);
}

static void test_why_bounded(void **state) {
        char why[24];
        memset(why, 'x', sizeof(why));
        assert_int_equal(sv_shim_check_binary(SV_FAKEGO, why, 16), -ENOEXEC);
        assert_int_equal(strlen(why), 15);
        assert_int_equal(why[16], 'x');
        assert_int_equal(sv_shim_check_binary(SV_FAKEGO, NULL, 0), -ENOEXEC);
}

static void test_path(void **state) {
        char exe[128], lib[160], inst[128], buf[256];

        path_in(exe, sizeof(exe), "sockvisord");
        write_file(exe, "", 0, 0755);
        path_in(inst, sizeof(inst), "installed.so");

        strcpy(buf, "untouched");
        assert_int_equal(sv_shim_path_for(exe, inst, buf, sizeof(buf)), -ENOENT);
        assert_string_equal(buf, "untouched");
        assert_int_equal(sv_shim_path_for(NULL, NULL, buf, sizeof(buf)), -ENOENT);

        write_file(inst, "", 0, 0644);
        assert_int_equal(sv_shim_path_for(exe, inst, buf, sizeof(buf)), 0);
        assert_string_equal(buf, inst);

        (void) snprintf(lib, sizeof(lib), "%s/%s", dir, SV_SHIM_NAME);
        write_file(lib, "", 0, 0644);
        assert_int_equal(sv_shim_path_for(exe, inst, buf, sizeof(buf)), 0);
        assert_string_equal(buf, lib); /* beside the executable wins */

        strcpy(buf, "untouched");
        assert_int_equal(sv_shim_path_for(exe, inst, buf, 10), -ENAMETOOLONG);
        assert_string_equal(buf, "untouched");

        /* this test binary is in tests/, where no shim is: the answer is the installed one or none */
        int r = sv_shim_path(buf, sizeof(buf));
        assert_true(r == 0 || r == -ENOENT);
        if (r == 0)
                assert_non_null(strstr(buf, "/sockvisor/" SV_SHIM_NAME));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dynamic),   cmocka_unit_test(test_static),
                cmocka_unit_test(test_go),        cmocka_unit_test(test_scripts),
                cmocka_unit_test(test_setuid),    cmocka_unit_test(test_unreadable),
                cmocka_unit_test(test_elf32),     cmocka_unit_test(test_why_bounded),
                cmocka_unit_test(test_path),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
