/* `sockvisorctl tail [-f] [-n N] NAME [stdout|stderr]` and `logs [-n N] [NAME...]`.
 *
 * sockvisord says where each stream goes (`logfiles`); the files are then read here, with
 * the caller's own rights: following needs no daemon connection held open, costs the
 * daemon nothing, goes on across a restart or an upgrade of sockvisord, and a user who may
 * read the file may follow it. Following is tail -F's: the file is read to its end every
 * 100 ms; once its path names another file (rotation renamed it to FILE.1 and made a fresh
 * FILE) the old one is read to its end first (the writer writes nothing more into it after
 * the rename) and the new one from its start; a file that shrank (backups = 0 truncates)
 * is read again from its start. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define FOLLOW_INTERVAL_MS 100
#define LINE_KEEP 4096 /* logs: a partial line longer than this is printed as it is */

typedef struct Stream {
        char *program, *stream, *kind, *path; /* a logfiles line */
} Stream;

typedef struct Follow {
        const char *path;
        char prefix[96]; /* logs: "app | "; tail: "" */
        int fd;
        dev_t dev;
        ino_t ino;
        off_t off;
        char part[LINE_KEEP];
        size_t n_part;
} Follow;

static int out_err; /* stdout failed (a reader that went away: | head) */

static void out_write(const char *p, size_t n) {
        if (out_err || n == 0)
                return;
        if (fwrite(p, 1, n, stdout) != n)
                out_err = errno ? errno : EIO;
}

/* Prints data as it is (tail), or line by line with the prefix (logs). */
static void emit(Follow *f, const char *p, size_t n) {
        if (!f->prefix[0]) {
                out_write(p, n);
                return;
        }
        while (n > 0) {
                const char *nl = memchr(p, '\n', n);
                size_t k = nl ? (size_t) (nl - p) + 1 : n;
                size_t room = sizeof(f->part) - f->n_part;
                size_t take = k < room ? k : room;
                memcpy(f->part + f->n_part, p, take);
                f->n_part += take;
                p += take;
                n -= take;
                if ((nl && take == k) || f->n_part == sizeof(f->part)) {
                        out_write(f->prefix, strlen(f->prefix));
                        out_write(f->part, f->n_part);
                        if (f->part[f->n_part - 1] != '\n')
                                out_write("\n", 1);
                        f->n_part = 0;
                }
        }
}

static int open_file(Follow *f) {
        f->fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (f->fd < 0)
                return -errno;
        struct stat st;
        if (fstat(f->fd, &st) < 0)
                return -errno;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->off = 0;
        return 0;
}

/* Prints from n lines before the end (fewer when the file has fewer) to the end. */
static void print_last(Follow *f, unsigned n) {
        struct stat st;
        if (fstat(f->fd, &st) < 0)
                return;
        off_t end = st.st_size, at = end;
        unsigned lines = 0;
        char buf[65536];
        bool first = true;
        if (!S_ISREG(st.st_mode))
                return;
        while (at > 0 && n > 0) {
                size_t k = at > (off_t) sizeof(buf) ? sizeof(buf) : (size_t) at;
                ssize_t got = pread(f->fd, buf, k, at - (off_t) k);
                if (got <= 0)
                        break;
                size_t i = (size_t) got;
                if (first && buf[i - 1] == '\n')
                        i--; /* the last line's own newline */
                first = false;
                while (i > 0)
                        if (buf[--i] == '\n' && ++lines == n) {
                                at = at - (off_t) k + (off_t) i + 1;
                                goto found;
                        }
                at -= (off_t) k;
        }
        at = 0;
found:
        if (n == 0)
                at = end;
        for (off_t o = at; o < end;) {
                size_t k = end - o > (off_t) sizeof(buf) ? sizeof(buf) : (size_t) (end - o);
                ssize_t got = pread(f->fd, buf, k, o);
                if (got <= 0)
                        break;
                emit(f, buf, (size_t) got);
                o += got;
        }
        f->off = end;
}

static void read_to_end(Follow *f) {
        char buf[65536];
        for (;;) {
                ssize_t got = pread(f->fd, buf, sizeof(buf), f->off);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0)
                        return;
                emit(f, buf, (size_t) got);
                f->off += got;
        }
}

/* One look: new bytes, then whether the path names another file, or a shorter one. */
static void follow_step(Follow *f) {
        struct stat st;
        if (f->fd >= 0)
                read_to_end(f);
        if (stat(f->path, &st) < 0)
                return; /* between the rename and the new file: look again */
        if (f->fd >= 0 && st.st_dev == f->dev && st.st_ino == f->ino) {
                if (st.st_size < f->off) {
                        fprintf(stderr, PROG ": %s: file truncated\n", f->path);
                        f->off = 0;
                        read_to_end(f);
                }
                return;
        }
        if (f->fd >= 0) {
                read_to_end(f); /* everything written before the rename */
                (void) close(f->fd);
                f->fd = -EBADF;
        }
        if (open_file(f) == 0)
                read_to_end(f);
}

static void follow_all(Follow *v, size_t n) {
        while (!out_err) {
                if (fflush(stdout) == EOF)
                        break;
                (void) poll(NULL, 0, FOLLOW_INTERVAL_MS);
                for (size_t k = 0; k < n; k++)
                        follow_step(&v[k]);
        }
}

static void streams_free(Stream *v, size_t n, char **lines, size_t n_lines) {
        for (size_t k = 0; k < n_lines; k++)
                free(lines[k]);
        free(lines);
        free(v);
}

/* The logfiles lines, split in place: "NAME STREAM KIND [PATH]". */
static int ask(const char *path, char *const *names, size_t n_names, Stream **ret, size_t *ret_n, char ***ret_lines,
               size_t *ret_n_lines) {
        char **lines = NULL;
        size_t n = 0;
        int r = ctl_client_lines(path, "logfiles", names, n_names, CTL_QUICK_TIMEOUT_MS, &lines, &n);
        if (r != 0)
                return r;
        Stream *v = calloc(n ? n : 1, sizeof(Stream));
        if (!v) {
                streams_free(NULL, 0, lines, n);
                return CTL_EXIT_FAILED;
        }
        size_t m = 0;
        for (size_t k = 0; k < n; k++) {
                char *save = NULL;
                v[m].program = strtok_r(lines[k], " ", &save);
                v[m].stream = strtok_r(NULL, " ", &save);
                v[m].kind = strtok_r(NULL, " ", &save);
                v[m].path = save && *save ? save : NULL; /* the rest: a path may hold spaces */
                if (v[m].program && v[m].stream && v[m].kind)
                        m++;
        }
        *ret = v;
        *ret_n = m;
        *ret_lines = lines;
        *ret_n_lines = n;
        return 0;
}

/* Why a stream has no file to read, and where its output is instead. */
static void explain(const Stream *s, unsigned n, bool follow) {
        if (strcmp(s->kind, "journal") == 0)
                fprintf(stderr, "%s: its output goes to the journal (output = journal); see it with: journalctl -t %s -n %u%s\n",
                        s->program, s->program, n, follow ? " -f" : "");
        else if (strcmp(s->kind, "none") == 0)
                fprintf(stderr, "%s: its %s is discarded (%s_logfile = NONE)\n", s->program, s->stream, s->stream);
        else if (strncmp(s->kind, "own-", 4) == 0)
                fprintf(stderr, "%s: its %s goes to sockvisord's own %s (%s_logfile = /dev/%s), not to a file\n", s->program,
                        s->stream, s->kind + 4, s->stream, s->kind + 4);
        else
                fprintf(stderr,
                        "%s: its %s is not captured: it goes to sockvisord's own %s (under systemd: journalctl -u "
                        "sockvisord); set %s_logfile= to write it to a file\n",
                        s->program, s->stream, s->stream, s->stream);
}

static int parse_count(const char *v, unsigned *ret) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (errno || end == v || *end || n > 1000000 || v[0] == '-')
                return ctl_usage_error("-n: '%s' is not a number of lines from 0 to 1000000", v);
        *ret = (unsigned) n;
        return 0;
}

/* -n N, if given, into *n. */
static int lines_option(const SvCtlArgs *a, unsigned *n) {
        const char *v = sv_ctlargs_value(a, "lines");
        return v ? parse_count(v, n) : 0;
}

int ctl_tail_run(const char *path, const SvCtlArgs *a) {
        bool follow = sv_ctlargs_value(a, "follow") != NULL;
        unsigned n = 10;
        const char *name = NULL, *want = NULL;
        int r = lines_option(a, &n);
        if (r != 0)
                return r;
        for (size_t k = 0; k < a->n_operands; k++) {
                const char *w = a->operands[k];
                if (w[0] == '-' && w[1] >= '0' && w[1] <= '9') { /* tail -100 */
                        if ((r = parse_count(w + 1, &n)) != 0)
                                return r;
                } else if (!name)
                        name = w;
                else if (!want && (strcmp(w, "stdout") == 0 || strcmp(w, "stderr") == 0))
                        want = w;
                else
                        return ctl_usage_error("tail: '%s' is neither stdout nor stderr; expected [-f] [-n N] NAME "
                                               "[stdout|stderr]",
                                               w);
        }
        if (!name)
                return ctl_usage_error("tail: which program? e.g. '" PROG " tail -f app'");

        Stream *v = NULL;
        char **lines = NULL;
        size_t nv = 0, nl = 0;
        char *names[] = { (char *) name };
        r = ask(path, names, 1, &v, &nv, &lines, &nl);
        if (r != 0)
                return r;
        const Stream *out = NULL, *err = NULL, *s;
        for (size_t k = 0; k < nv; k++)
                if (strcmp(v[k].stream, "stdout") == 0)
                        out = &v[k];
                else
                        err = &v[k];
        if (!out || !err) {
                streams_free(v, nv, lines, nl);
                fprintf(stderr, PROG ": sockvisord did not say where the output of %s goes\n", name);
                return CTL_EXIT_FAILED;
        }
        /* stdout, unless asked otherwise or stderr alone has a file */
        if (want)
                s = strcmp(want, "stderr") == 0 ? err : out;
        else
                s = strcmp(out->kind, "file") != 0 && strcmp(err->kind, "file") == 0 ? err : out;
        if (s == err && strcmp(err->kind, "stdout") == 0) {
                fprintf(stderr, "%s: its stderr goes into its stdout's file (redirect_stderr = true)\n", name);
                s = out;
        }
        if (strcmp(s->kind, "file") != 0 || !s->path) {
                explain(s, n, follow);
                streams_free(v, nv, lines, nl);
                return CTL_EXIT_FAILED;
        }

        Follow f = { .path = s->path, .fd = -EBADF };
        r = open_file(&f);
        if (r < 0 && !(follow && r == -ENOENT)) {
                fprintf(stderr, PROG ": cannot read %s: %s%s\n", f.path, strerror(-r),
                        r == -EACCES ? " (sockvisord writes it as root, mode 0640: run as root, or as its group)" : "");
                streams_free(v, nv, lines, nl);
                return CTL_EXIT_FAILED;
        }
        if (follow) {
                printf("==> %s <==\n", f.path);
                (void) fflush(stdout);
        }
        if (f.fd >= 0)
                print_last(&f, n);
        if (follow)
                follow_all(&f, 1);
        (void) fflush(stdout);
        if (f.fd >= 0)
                (void) close(f.fd);
        streams_free(v, nv, lines, nl);
        return out_err && out_err != EPIPE ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}

int ctl_logs_run(const char *path, const SvCtlArgs *a) {
        unsigned n = 10;
        char *const *names = a->operands;
        size_t n_names = a->n_operands;
        int r = lines_option(a, &n);
        if (r != 0)
                return r;
        Stream *v = NULL;
        char **lines = NULL;
        size_t nv = 0, nl = 0;
        r = ask(path, names, n_names, &v, &nv, &lines, &nl);
        if (r != 0)
                return r;
        Follow *f = calloc(nv ? nv : 1, sizeof(Follow));
        size_t nf = 0;
        if (!f) {
                streams_free(v, nv, lines, nl);
                return CTL_EXIT_FAILED;
        }
        for (size_t k = 0; k < nv; k++) {
                const Stream *s = &v[k];
                if (strcmp(s->kind, "file") == 0 && s->path) {
                        Follow *x = &f[nf++];
                        *x = (Follow){ .path = s->path, .fd = -EBADF };
                        (void) snprintf(x->prefix, sizeof(x->prefix), "%s%s | ", s->program,
                                        strcmp(s->stream, "stderr") == 0 ? " (stderr)" : "");
                        if (open_file(x) < 0 && errno != ENOENT)
                                fprintf(stderr, PROG ": cannot read %s: %s\n", x->path, strerror(errno));
                        fprintf(stderr, "==> %s: %s <==\n", s->program, s->path);
                } else if (strcmp(s->kind, "stdout") != 0 &&
                           !(strcmp(s->kind, "journal") == 0 && strcmp(s->stream, "stderr") == 0))
                        explain(s, n, true);
        }
        if (nf == 0) {
                fprintf(stderr, PROG ": no program writes its output to a file: set stdout_logfile= (and "
                                "stderr_logfile=, or redirect_stderr = true)\n");
                free(f);
                streams_free(v, nv, lines, nl);
                return CTL_EXIT_FAILED;
        }
        for (size_t k = 0; k < nf; k++)
                if (f[k].fd >= 0)
                        print_last(&f[k], n);
        follow_all(f, nf);
        for (size_t k = 0; k < nf; k++)
                if (f[k].fd >= 0)
                        (void) close(f[k].fd);
        free(f);
        streams_free(v, nv, lines, nl);
        return out_err && out_err != EPIPE ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}
