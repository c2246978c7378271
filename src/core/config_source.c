/* Where the config parser gets its files: the file system, or the bundle an upgrade
 * carries (the exact bytes the running configuration was parsed from, every included
 * file with them, so the next image parses the same text, never the files again).
 *
 * The file system half is the only file access of the parser: one open per file, its
 * size checked on that fd (fstat) before reading and again while reading, non-regular
 * files refused, and glob() sorted in byte order so the result never depends on a locale. */
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_internal.h"
#include "sockvisor/cmdline.h"

static int too_big(const char *path, uint64_t size, SvDiag *d) {
        diag_set(d, 0, "%s: the file is %" PRIu64 " bytes; a config file may have at most %u bytes (%u MiB)", path, size,
                 SV_CONFIG_FILE_MAX, SV_CONFIG_FILE_MAX >> 20);
        return -EFBIG;
}

static int not_regular(const char *path, mode_t mode, SvDiag *d) {
        return diag_set(d, 0, "%s: not a regular file (%s); a config file must be a plain file", path,
                        S_ISDIR(mode) ? "a directory" : "a device, fifo or socket");
}

static int fs_read(void *ctx, const char *path, char **ret_text, size_t *ret_len, uint64_t ret_id[2], SvDiag *d) {
        (void) ctx;
        /* fopen() of a fifo waits for a writer: refuse what is not a plain file before the
         * open, and again on the fd (the authoritative check: the name may change between) */
        struct stat pre;
        if (stat(path, &pre) == 0 && !S_ISREG(pre.st_mode))
                return not_regular(path, pre.st_mode, d);
        FILE *f = fopen(path, "re");
        if (!f) {
                int r = -errno;
                diag_set(d, 0, "%s: cannot open: %s", path, strerror(-r));
                return r;
        }
        struct stat st;
        int r = 0;
        char *text = NULL;
        size_t len = 0;
        if (fstat(fileno(f), &st) < 0) {
                r = -errno;
                diag_set(d, 0, "%s: cannot stat: %s", path, strerror(-r));
        } else if (!S_ISREG(st.st_mode)) {
                r = not_regular(path, st.st_mode, d);
        } else if ((uint64_t) st.st_size > SV_CONFIG_FILE_MAX) {
                r = too_big(path, (uint64_t) st.st_size, d);
        } else if (!(text = malloc((size_t) st.st_size + 2))) {
                r = -ENOMEM;
        } else {
                /* the size it has now bounds the read: a file that grows meanwhile is refused,
                 * not read on until memory runs out */
                size_t cap = (size_t) st.st_size + 1;
                len = fread(text, 1, cap, f);
                if (ferror(f))
                        r = (diag_set(d, 0, "%s: read error", path), -EIO);
                else if (len == cap)
                        r = diag_set(d, 0, "%s: the file grew while it was read; try again once it is written", path);
                else
                        text[len] = '\0';
        }
        fclose(f);
        if (r < 0) {
                free(text);
                return r;
        }
        *ret_text = text;
        *ret_len = len;
        ret_id[0] = (uint64_t) st.st_dev;
        ret_id[1] = (uint64_t) st.st_ino;
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A NULL-terminated copy of paths[0..n), sorted. */
static int sorted_copy(char *const *paths, size_t n, char ***ret) {
        char **v = calloc(n + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++)
                if (!(v[k] = strdup(paths[k]))) {
                        sv_strv_free(v);
                        return -ENOMEM;
                }
        qsort(v, n, sizeof(char *), cmp_str);
        *ret = v;
        return 0;
}

/* A directory that does not exist matches nothing; one that cannot be read is an error. */
static int glob_error(const char *path, int err) {
        (void) path;
        return err != ENOENT && err != ENOTDIR;
}

static int fs_glob(void *ctx, const char *pattern, char ***ret, SvDiag *d) {
        (void) ctx;
        glob_t g = {};
        int e = glob(pattern, GLOB_NOSORT, glob_error, &g);
        if (e != 0 && e != GLOB_NOMATCH) {
                globfree(&g);
                diag_set(d, 0, "%s: %s", pattern, e == GLOB_NOSPACE ? "out of memory" : "a directory on the way cannot be read (its permissions?)");
                return e == GLOB_NOSPACE ? -ENOMEM : -EIO;
        }
        int r = sorted_copy(e == 0 ? g.gl_pathv : NULL, e == 0 ? g.gl_pathc : 0, ret);
        globfree(&g);
        return r;
}

const SvConfigFiles *sv_config_files_fs(void) {
        static const SvConfigFiles fs = { .read = fs_read, .glob = fs_glob };
        return &fs;
}

/* ---- the bundle ----
 * BUNDLE_MAGIC, then per file "PATH\nLENGTH\n" and LENGTH bytes; the first file is the
 * main one. A config without includes is carried as its plain text, as before. */

#define BUNDLE_MAGIC ";sockvisor config bundle 1\n"

typedef struct Bundle {
        size_t n;
        char *paths[SV_CONFIG_INCLUDES_MAX + 1];
        const char *texts[SV_CONFIG_INCLUDES_MAX + 1];
        size_t lens[SV_CONFIG_INCLUDES_MAX + 1];
} Bundle;

bool config_is_bundle(const char *text) {
        return strncmp(text, BUNDLE_MAGIC, strlen(BUNDLE_MAGIC)) == 0;
}

static int bundle_read(void *ctx, const char *path, char **ret_text, size_t *ret_len, uint64_t ret_id[2], SvDiag *d) {
        const Bundle *b = ctx;
        for (size_t k = 0; k < b->n; k++)
                if (strcmp(b->paths[k], path) == 0) {
                        char *t = strndup(b->texts[k], b->lens[k]);
                        if (!t)
                                return -ENOMEM;
                        *ret_text = t;
                        *ret_len = b->lens[k];
                        ret_id[0] = 0;
                        ret_id[1] = k + 1;
                        return 0;
                }
        diag_set(d, 0, "%s: cannot open: %s (not in the configuration carried over)", path, strerror(ENOENT));
        return -ENOENT;
}

static int bundle_glob(void *ctx, const char *pattern, char ***ret, SvDiag *d) {
        (void) d;
        const Bundle *b = ctx;
        char *match[SV_CONFIG_INCLUDES_MAX + 1];
        size_t n = 0;
        for (size_t k = 1; k < b->n; k++)
                if (fnmatch(pattern, b->paths[k], FNM_PATHNAME | FNM_PERIOD) == 0)
                        match[n++] = b->paths[k];
        return sorted_copy(match, n, ret);
}

static void bundle_done(Bundle *b) {
        for (size_t k = 0; k < b->n; k++)
                free(b->paths[k]);
}

int config_parse_bundle(const char *text, SvConfig **ret, SvDiag *d) {
        Bundle *b = calloc(1, sizeof(Bundle));
        if (!b)
                return -ENOMEM;
        const char *s = text + strlen(BUNDLE_MAGIC), *end = text + strlen(text);
        int r = 0;
        while (s < end && r == 0) {
                const char *nl = memchr(s, '\n', (size_t) (end - s));
                char *numend = NULL;
                unsigned long long len = nl ? strtoull(nl + 1, &numend, 10) : 0;
                if (!nl || nl == s || !numend || *numend != '\n' || len > (unsigned long long) (end - numend - 1) ||
                    b->n > SV_CONFIG_INCLUDES_MAX) {
                        r = diag_set(d, 0, "the configuration bundle is damaged at byte %zu", (size_t) (s - text));
                        break;
                }
                if (!(b->paths[b->n] = strndup(s, (size_t) (nl - s)))) {
                        r = -ENOMEM;
                        break;
                }
                b->texts[b->n] = numend + 1;
                b->lens[b->n] = (size_t) len;
                b->n++;
                s = numend + 1 + len;
        }
        if (r == 0 && b->n == 0)
                r = diag_set(d, 0, "the configuration bundle holds no file");
        if (r == 0) {
                SvConfigFiles files = { .read = bundle_read, .glob = bundle_glob, .ctx = b };
                r = sv_config_parse_files(b->paths[0], &files, ret, d);
        }
        bundle_done(b);
        free(b);
        return r;
}

int config_make_bundle(const ConfigFile *files, size_t n, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&buf, &size);
        if (!m)
                return -ENOMEM;
        fputs(BUNDLE_MAGIC, m);
        for (size_t k = 0; k < n; k++) {
                fprintf(m, "%s\n%zu\n", files[k].path, files[k].len);
                fwrite(files[k].text, 1, files[k].len, m);
        }
        if (fclose(m) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}
