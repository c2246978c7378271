/* Program log capture (see output.h). The loop thread owns the pipes and the sd-event
 * sources and fills each stream's buffer; the writer thread empties the buffers into the
 * files and rotates them. They share the buffers and a few flags under one mutex, never
 * held across a read(), a write() or an open(). The writer writes straight from the ring
 * (the loop only ever appends into free space) and consumes what was written afterwards,
 * so whatever has not reached the file is still in the buffer: an upgrade carries it. */
#include "sockvisor/output.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "sockvisor/log.h"
#include "sockvisor/logfile.h"
#include "sockvisor/macro.h"

#define CHUNK_MAX (64 * 1024) /* one write() */
#define READS_PER_EVENT 16    /* reads of one pipe per event: other sources get their turn */

typedef struct Stream {
        struct SvOutput *o;
        char program[SV_NAME_MAX + 1];
        SvStream which;
        int rfd, wfd; /* the pipe; the daemon keeps wfd so it lives across worker restarts */
        sd_event_source *io;
        pthread_t thread; /* its writer: one per stream, so one slow file stalls no other */
        bool thread_started;
        pthread_cond_t wake;
        /* the loop's view of the configuration, to see a change */
        char *conf_path;
        uint64_t conf_maxbytes;
        unsigned conf_backups;

        /* under o->lock */
        SvLogBuf buf;
        char *mem;
        bool reconf; /* the writer takes new_* next */
        int new_fd;
        char *new_path;
        uint64_t new_maxbytes;
        unsigned new_backups;
        uint64_t write_dropped; /* bytes the file refused (ENOSPC, EIO ...) */
        char error[512];        /* for the loop to log */
        bool error_new;
        bool paused;            /* its writer waits, for an upgrade */

        /* the writer's own (the loop touches them only while the writer does not run) */
        int file_fd;
        char *path;
        uint64_t maxbytes;
        unsigned backups;
        uint64_t size;
        bool at_line_start; /* the file ends a line */
        bool regular;       /* a regular file: rotated; a FIFO or a device is not */
} Stream;

struct SvOutput {
        sd_event *event;
        pthread_mutex_t lock;
        pthread_cond_t paused_cond;
        bool stop, pause;
        int efd; /* the writer tells the loop of an error */
        sd_event_source *efd_src;
        int null_fd;
        Stream **v;
        size_t n;
        int *memfds; /* restored buffers, closed at start */
        size_t n_memfds;
        bool started; /* io sources on (false between restore and start) */
};

static char scratch[CHUNK_MAX]; /* the loop's read buffer */

/* ---- the writer thread ---- */

static void writer_error(Stream *s, const char *fmt, ...) _printf_(2, 3);
static void writer_error(Stream *s, const char *fmt, ...) {
        va_list ap;
        char text[512];
        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        pthread_mutex_lock(&s->o->lock);
        bool same = strcmp(text, s->error) == 0;
        if (!same) { /* once per different error, not once per write */
                memcpy(s->error, text, sizeof(text));
                s->error_new = true;
        }
        pthread_mutex_unlock(&s->o->lock);
        if (!same) {
                uint64_t one = 1;
                (void) !write(s->o->efd, &one, sizeof(one));
        }
}

static int open_log(const char *path, bool excl, int *ret_fd, bool *ret_regular) {
        /* O_NONBLOCK: opening a FIFO nobody reads fails (ENXIO) rather than waits */
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                                    (excl ? O_EXCL : 0),
                      0640);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
                int r = S_ISDIR(st.st_mode) ? -EISDIR : -errno;
                (void) close(fd);
                return r;
        }
        (void) fcntl(fd, F_SETFL, O_WRONLY | O_APPEND); /* the writer's writes block; the loop never writes */
        *ret_regular = S_ISREG(st.st_mode);
        *ret_fd = fd;
        return 0;
}

/* FILE.N-1 -> FILE.N ... FILE -> FILE.1, then a fresh FILE; backups 0: truncated. */
static void rotate(Stream *s) {
        char from[PATH_MAX], to[PATH_MAX];
        if (s->backups == 0) {
                if (ftruncate(s->file_fd, 0) < 0)
                        writer_error(s, "cannot truncate %s at %" PRIu64 " bytes: %s", s->path, s->size, strerror(errno));
                s->size = 0;
                return;
        }
        for (unsigned k = s->backups; k >= 1; k--) {
                if (sv_logfile_backup_name(s->path, k - 1, from, sizeof(from)) < 0 ||
                    sv_logfile_backup_name(s->path, k, to, sizeof(to)) < 0)
                        return;
                if (rename(from, to) < 0 && errno != ENOENT) {
                        writer_error(s, "cannot rotate %s: rename to %s: %s; writing on", from, to, strerror(errno));
                        s->size = 0; /* try again after another maxbytes */
                        return;
                }
        }
        int fd = -EBADF;
        bool regular = true;
        int r = open_log(s->path, true, &fd, &regular);
        if (r == -EEXIST) /* something was put there since the rename: never a symlink */
                r = open_log(s->path, false, &fd, &regular);
        if (r < 0) {
                writer_error(s, "cannot open %s after rotating it: %s; writing on into %s.1", s->path, strerror(-r),
                             s->path);
                s->size = 0;
                return;
        }
        (void) close(s->file_fd);
        s->file_fd = fd;
        s->regular = regular;
        s->size = 0;
        s->at_line_start = true;
}

/* Writes p[0..n) with rotation at line boundaries; returns how much can be consumed. */
static size_t write_chunk(Stream *s, const char *p, size_t n, uint64_t *ret_dropped) {
        size_t done = 0;
        while (done < n) {
                bool rot = false;
                size_t k = s->regular ? sv_logfile_span(p + done, n - done, s->size, s->maxbytes, s->at_line_start, &rot)
                                      : n - done;
                if (rot) {
                        rotate(s);
                        if (s->size == 0 && s->at_line_start)
                                continue;
                        k = n - done; /* rotation failed: write on */
                }
                ssize_t w = write(s->file_fd, p + done, k);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        writer_error(s, "cannot write %s: %s; its output is dropped meanwhile", s->path,
                                     w < 0 ? strerror(errno) : "wrote nothing");
                        *ret_dropped += n - done;
                        return n;
                }
                done += (size_t) w;
                s->size += (uint64_t) w;
                s->at_line_start = p[done - 1] == '\n';
        }
        return done;
}

static bool has_work(const Stream *s) {
        return s->reconf || (s->buf.len > 0 && s->file_fd >= 0);
}

static void *writer_main(void *userdata) {
        Stream *s = userdata;
        SvOutput *o = s->o;
        pthread_mutex_lock(&o->lock);
        for (;;) {
                if (o->pause) {
                        s->paused = true;
                        pthread_cond_broadcast(&o->paused_cond);
                        pthread_cond_wait(&s->wake, &o->lock);
                        continue;
                }
                s->paused = false;
                if (!has_work(s)) {
                        if (o->stop)
                                break;
                        pthread_cond_wait(&s->wake, &o->lock);
                        continue;
                }
                if (s->reconf) {
                        int old = s->file_fd;
                        char *old_path = s->path;
                        s->reconf = false;
                        if (s->new_fd >= 0) {
                                s->file_fd = s->new_fd;
                                s->path = s->new_path;
                                s->new_fd = -EBADF;
                                s->new_path = NULL;
                        } else
                                old = -EBADF, old_path = NULL;
                        s->maxbytes = s->new_maxbytes;
                        s->backups = s->new_backups;
                        pthread_mutex_unlock(&o->lock);
                        if (old_path || old >= 0 || s->size == 0) {
                                struct stat st;
                                bool ok = fstat(s->file_fd, &st) == 0;
                                s->size = ok ? (uint64_t) st.st_size : 0;
                                s->regular = ok && S_ISREG(st.st_mode);
                                s->at_line_start = true;
                        }
                        (void) safe_close(old);
                        free(old_path);
                        pthread_mutex_lock(&o->lock);
                        continue;
                }
                const char *p;
                size_t n = sv_logbuf_peek(&s->buf, &p);
                if (n > CHUNK_MAX)
                        n = CHUNK_MAX;
                pthread_mutex_unlock(&o->lock);
                uint64_t dropped = 0;
                size_t done = write_chunk(s, p, n, &dropped);
                pthread_mutex_lock(&o->lock);
                sv_logbuf_consume(&s->buf, done);
                s->write_dropped += dropped;
        }
        pthread_mutex_unlock(&o->lock);
        return NULL;
}

static int writer_start(Stream *s) {
        if (s->thread_started)
                return 0;
        /* small stacks (it calls write, rename and open); the loop's blocked signal mask,
         * which is what it should have */
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        int r = pthread_create(&s->thread, &attr, writer_main, s);
        pthread_attr_destroy(&attr);
        if (r != 0)
                return -r;
        s->thread_started = true;
        return 0;
}

/* ---- the loop's side ---- */

static void wake_writer(Stream *s) {
        pthread_cond_signal(&s->wake);
}

static void drain_pipe(Stream *s, int budget) {
        SvOutput *o = s->o;
        for (; budget > 0; budget--) {
                ssize_t n = read(s->rfd, scratch, sizeof(scratch));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                pthread_mutex_lock(&o->lock);
                (void) sv_logbuf_put(&s->buf, scratch, (size_t) n);
                pthread_mutex_unlock(&o->lock);
                wake_writer(s);
                if ((size_t) n < sizeof(scratch))
                        break;
        }
}

static int on_pipe(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        drain_pipe(userdata, READS_PER_EVENT);
        return 0;
}

static int on_writer_error(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        SvOutput *o = userdata;
        uint64_t v;
        (void) !read(o->efd, &v, sizeof(v));
        for (size_t k = 0; k < o->n; k++) {
                Stream *s = o->v[k];
                char text[512] = "";
                pthread_mutex_lock(&o->lock);
                if (s->error_new) {
                        memcpy(text, s->error, sizeof(text));
                        s->error_new = false;
                }
                pthread_mutex_unlock(&o->lock);
                if (text[0])
                        sv_log(LOG_WARNING, "%s: %s: %s", s->program, sv_stream_to_string(s->which), text);
        }
        return 0;
}

int sv_output_new(sd_event *e, SvOutput **ret) {
        SvOutput *o = calloc(1, sizeof(SvOutput));
        if (!o)
                return -ENOMEM;
        o->event = e;
        o->efd = o->null_fd = -EBADF;
        pthread_mutex_init(&o->lock, NULL);
        pthread_cond_init(&o->paused_cond, NULL);
        o->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        o->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        int r = o->efd < 0 || o->null_fd < 0 ? -errno : 0;
        if (r >= 0)
                r = sd_event_add_io(e, &o->efd_src, o->efd, EPOLLIN, on_writer_error, o);
        if (r < 0) {
                sv_output_free(o);
                return r;
        }
        o->started = true;
        *ret = o;
        return 0;
}

static void stream_free(Stream *s) {
        sd_event_source_disable_unref(s->io);
        pthread_cond_destroy(&s->wake);
        (void) safe_close(s->rfd);
        (void) safe_close(s->wfd);
        (void) safe_close(s->file_fd);
        (void) safe_close(s->new_fd);
        free(s->conf_path);
        free(s->new_path);
        free(s->path);
        free(s->mem);
        free(s);
}

SvOutput *sv_output_free(SvOutput *o) {
        if (!o)
                return NULL;
        bool joined = true;
        for (size_t k = 0; k < o->n && o->started; k++)
                drain_pipe(o->v[k], 64); /* what the last workers wrote */
        pthread_mutex_lock(&o->lock);
        o->stop = true;
        o->pause = false;
        for (size_t k = 0; k < o->n; k++)
                pthread_cond_broadcast(&o->v[k]->wake);
        pthread_mutex_unlock(&o->lock);
        struct timespec deadline;
        (void) clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 2; /* for all of them */
        for (size_t k = 0; k < o->n; k++)
                if (o->v[k]->thread_started && pthread_timedjoin_np(o->v[k]->thread, NULL, &deadline) != 0) {
                        sv_log(LOG_WARNING, "%s: the writer of its %s log is stuck in a write (%s); what it has not "
                                            "written is lost",
                               o->v[k]->program, sv_stream_to_string(o->v[k]->which), o->v[k]->conf_path);
                        joined = false;
                }
        sd_event_source_disable_unref(o->efd_src);
        o->efd_src = NULL;
        if (!joined) /* a writer stuck in a write (a FIFO nobody reads, a dead disk) still uses
                      * what it has: left to it, the process is about to exit */
                return NULL;
        for (size_t k = 0; k < o->n; k++)
                stream_free(o->v[k]);
        for (size_t k = 0; k < o->n_memfds; k++)
                (void) safe_close(o->memfds[k]);
        free(o->memfds);
        free(o->v);
        (void) safe_close(o->efd);
        (void) safe_close(o->null_fd);
        pthread_cond_destroy(&o->paused_cond);
        pthread_mutex_destroy(&o->lock);
        free(o);
        return NULL;
}

static Stream *stream_find(SvOutput *o, const char *program, SvStream which) {
        for (size_t k = 0; k < o->n; k++)
                if (o->v[k]->which == which && strcmp(o->v[k]->program, program) == 0)
                        return o->v[k];
        return NULL;
}

static int stream_add(SvOutput *o, const char *program, SvStream which, int rfd, int wfd, Stream **ret) {
        pthread_mutex_lock(&o->lock); /* the writer walks o->v */
        Stream **v = realloc(o->v, (o->n + 1) * sizeof(Stream *));
        if (v)
                o->v = v;
        pthread_mutex_unlock(&o->lock);
        if (!v)
                return -ENOMEM;
        Stream *s = calloc(1, sizeof(Stream));
        char *mem = malloc(SV_LOGBUF_SIZE + SV_LOGBUF_SLACK);
        if (!s || !mem) {
                free(s);
                free(mem);
                return -ENOMEM;
        }
        *s = (Stream){ .o = o, .which = which, .rfd = rfd, .wfd = wfd, .new_fd = -EBADF, .file_fd = -EBADF,
                       .mem = mem, .at_line_start = true, .regular = true };
        (void) snprintf(s->program, sizeof(s->program), "%s", program);
        sv_logbuf_init(&s->buf, mem, SV_LOGBUF_SIZE);
        pthread_cond_init(&s->wake, NULL);
        if (o->started) {
                int r = sd_event_add_io(o->event, &s->io, rfd, EPOLLIN, on_pipe, s);
                if (r < 0) {
                        pthread_cond_destroy(&s->wake);
                        free(mem);
                        free(s);
                        return r;
                }
        }
        pthread_mutex_lock(&o->lock); /* the writer walks o->v */
        o->v[o->n++] = s;
        pthread_mutex_unlock(&o->lock);
        *ret = s;
        return 0;
}

static int stream_new(SvOutput *o, const char *program, SvStream which, Stream **ret) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        /* only our end is non-blocking: a worker's write into a full pipe waits, as it would
         * on a terminal, and the loop keeps the pipe from staying full */
        if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
                int r = -errno;
                (void) close(p[0]);
                (void) close(p[1]);
                return r;
        }
        int r = stream_add(o, program, which, p[0], p[1], ret);
        if (r < 0) {
                (void) close(p[0]);
                (void) close(p[1]);
        }
        return r;
}

static int open_error(const SvLogFileConf *l, SvStream which, int r, SvDiag *d) {
        const char *w = sv_stream_to_string(which);
        if (r == -ELOOP)
                return diag_set(d, l->line,
                                "cannot open %s_logfile %s: it is a symbolic link, and sockvisord never follows one at a "
                                "log path (it opens the file as root: a link it did not make could point anywhere); "
                                "remove the link, or set %s_logfile= to the file itself",
                                w, l->path, w),
                       r;
        if (r == -ENOENT)
                return diag_set(d, l->line, "cannot open %s_logfile %s: its directory does not exist; create it", w,
                                l->path),
                       r;
        if (r == -ENXIO)
                return diag_set(d, l->line, "cannot open %s_logfile %s: a FIFO that nobody reads", w, l->path), r;
        return diag_set(d, l->line, "cannot open %s_logfile %s: %s", w, l->path, strerror(-r)), r;
}

/* The stream of c's logfile[which], with its file as configured. */
static int stream_for(SvOutput *o, const SvProgramConf *c, SvStream which, int *ret_fd, SvDiag *d) {
        const SvLogFileConf *l = &c->logfile[which];
        Stream *s = stream_find(o, c->name, which);
        int r;
        bool new_path = !s || !s->conf_path || strcmp(s->conf_path, l->path) != 0;
        int fd = -EBADF;
        bool regular = true;
        char *path = NULL;

        if (new_path) {
                r = open_log(l->path, false, &fd, &regular);
                if (r < 0)
                        return open_error(l, which, r, d);
                path = strdup(l->path);
                char *cp = strdup(l->path);
                if (!path || !cp) {
                        free(path);
                        free(cp);
                        (void) close(fd);
                        return diag_set(d, 0, "out of memory"), -ENOMEM;
                }
                if (!regular)
                        sv_log(LOG_INFO, "%s: %s_logfile %s is not a regular file: it is written, never rotated", c->name,
                               sv_stream_to_string(which), l->path);
                if (!s && (r = stream_new(o, c->name, which, &s)) < 0) {
                        free(path);
                        free(cp);
                        (void) close(fd);
                        return diag_set(d, 0, "cannot create a pipe for its %s: %s", sv_stream_to_string(which),
                                        strerror(-r)),
                               r;
                }
                free(s->conf_path);
                s->conf_path = cp;
        }
        if (new_path || s->conf_maxbytes != l->maxbytes || s->conf_backups != l->backups) {
                s->conf_maxbytes = l->maxbytes;
                s->conf_backups = l->backups;
                pthread_mutex_lock(&o->lock);
                if (new_path) {
                        (void) safe_close(s->new_fd);
                        free(s->new_path);
                        s->new_fd = fd;
                        s->new_path = path;
                }
                s->new_maxbytes = l->maxbytes;
                s->new_backups = l->backups;
                s->reconf = true;
                pthread_mutex_unlock(&o->lock);
                wake_writer(s);
        }
        r = writer_start(s);
        if (r < 0)
                return diag_set(d, 0, "cannot start the log writer thread: %s", strerror(-r)), r;
        *ret_fd = s->wfd;
        return 0;
}

int sv_output_prepare(SvOutput *o, const SvProgramConf *c, int *ret_out, int *ret_err, SvDiag *d) {
        int fds[_SV_STREAM_MAX] = { -1, -1 };
        for (int k = 0; k < _SV_STREAM_MAX; k++) {
                const SvLogFileConf *l = &c->logfile[k];
                if (k == SV_STREAM_STDERR && c->redirect_stderr) {
                        fds[k] = fds[SV_STREAM_STDOUT];
                        continue;
                }
                if (l->none)
                        fds[k] = o->null_fd;
                else if (l->own_fd)
                        fds[k] = l->own_fd;
                else if (l->path) {
                        int r = stream_for(o, c, (SvStream) k, &fds[k], d);
                        if (r < 0)
                                return r;
                }
        }
        *ret_out = fds[SV_STREAM_STDOUT];
        *ret_err = fds[SV_STREAM_STDERR];
        return 0;
}

uint64_t sv_output_dropped(SvOutput *o, const char *program) {
        uint64_t n = 0;
        if (!o)
                return 0;
        pthread_mutex_lock(&o->lock);
        for (size_t k = 0; k < o->n; k++)
                if (strcmp(o->v[k]->program, program) == 0)
                        n += o->v[k]->buf.dropped + o->v[k]->write_dropped;
        pthread_mutex_unlock(&o->lock);
        return n;
}

const char *sv_output_path(SvOutput *o, const char *program, SvStream which) {
        Stream *s = o ? stream_find(o, program, which) : NULL;
        return s ? s->conf_path : NULL;
}

/* ---- upgrade ---- */

static int buffer_memfd(const SvLogBuf *b, int *ret) {
        int fd = memfd_create("sockvisor-output", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        SvLogBuf copy = *b;
        const char *p;
        size_t n;
        while ((n = sv_logbuf_peek(&copy, &p)) > 0) {
                ssize_t w = write(fd, p, n);
                if (w <= 0) {
                        int r = w < 0 ? -errno : -EIO;
                        (void) close(fd);
                        return r;
                }
                sv_logbuf_consume(&copy, (size_t) w);
        }
        *ret = fd;
        return 0;
}

int sv_output_save(SvOutput *o, SvStateOut *so, SvCarry *carry, SvDiag *d) {
        pthread_mutex_lock(&o->lock);
        o->pause = true;
        for (size_t k = 0; k < o->n; k++)
                pthread_cond_broadcast(&o->v[k]->wake);
        struct timespec deadline;
        (void) clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 1;
        for (size_t k = 0; k < o->n; k++)
                while (o->v[k]->thread_started && !o->v[k]->paused)
                        if (pthread_cond_timedwait(&o->paused_cond, &o->lock, &deadline) != 0) {
                                /* stuck in a write: what it is writing may be written twice */
                                sv_log(LOG_WARNING, "upgrade: the writer of %s's %s log is stuck in a write", o->v[k]->program,
                                       sv_stream_to_string(o->v[k]->which));
                                break;
                        }
        int r = 0;
        for (size_t k = 0; k < o->n && r >= 0; k++) {
                Stream *s = o->v[k];
                int memfd = -EBADF;
                /* a reconfiguration the writer has not taken yet is taken here: it is paused */
                bool reconf = s->reconf;
                r = buffer_memfd(&s->buf, &memfd);
                if (r < 0) {
                        diag_set(d, 0, "output of %s: cannot keep its buffer in a memfd: %s", s->program, strerror(-r));
                        break;
                }
                sv_state_record(so, "output");
                sv_state_str(so, "program", s->program);
                sv_state_str(so, "stream", sv_stream_to_string(s->which));
                sv_state_i64(so, "rfd", s->rfd);
                sv_state_i64(so, "wfd", s->wfd);
                int file_fd = reconf && s->new_fd >= 0 ? s->new_fd : s->file_fd;
                sv_state_i64(so, "file_fd", file_fd);
                sv_state_str(so, "path", s->conf_path);
                sv_state_u64(so, "maxbytes", s->conf_maxbytes);
                sv_state_u64(so, "backups", s->conf_backups);
                sv_state_i64(so, "buf_fd", memfd);
                sv_state_u64(so, "dropped", s->buf.dropped + s->write_dropped);
                sv_state_u64(so, "unreported", s->buf.unreported);
                sv_state_bool(so, "buf_line_start", s->buf.at_line_start);
                sv_state_bool(so, "dropping", s->buf.dropping);
                sv_state_bool(so, "file_line_start", reconf && s->new_fd >= 0 ? true : s->at_line_start);
                r = sv_carry_add(carry, s->rfd);
                r = r ?: sv_carry_add(carry, s->wfd);
                r = r ?: sv_carry_add(carry, file_fd);
                r = r ?: sv_carry_add(carry, memfd); /* closed with the carry, or by the next image */
                if (r < 0)
                        diag_set(d, 0, "out of memory");
        }
        pthread_mutex_unlock(&o->lock);
        return r;
}

void sv_output_resume(SvOutput *o) {
        pthread_mutex_lock(&o->lock);
        o->pause = false;
        for (size_t k = 0; k < o->n; k++)
                pthread_cond_broadcast(&o->v[k]->wake);
        pthread_mutex_unlock(&o->lock);
}

int sv_output_restore(SvOutput *o, SvStateIn *in, const SvStateRec *rec, SvCarry *carry) {
        o->started = false; /* no source, no writer until sv_output_start */
        const char *program = sv_rec_str(in, rec, "program"), *stream = sv_rec_str(in, rec, "stream");
        int rfd = (int) sv_rec_i64(in, rec, "rfd"), wfd = (int) sv_rec_i64(in, rec, "wfd");
        int file_fd = (int) sv_rec_i64(in, rec, "file_fd"), buf_fd = (int) sv_rec_i64(in, rec, "buf_fd");
        const char *path = sv_rec_str(in, rec, "path");
        uint64_t maxbytes = sv_rec_u64(in, rec, "maxbytes"), backups = sv_rec_u64(in, rec, "backups");
        uint64_t dropped = sv_rec_u64(in, rec, "dropped"), unreported = sv_rec_u64(in, rec, "unreported");
        bool buf_line_start = sv_rec_bool(in, rec, "buf_line_start"), dropping = sv_rec_bool(in, rec, "dropping");
        bool file_line_start = sv_rec_bool(in, rec, "file_line_start");
        if (in->err)
                return in->err;
        SvStream which = strcmp(stream, "stderr") == 0 ? SV_STREAM_STDERR : SV_STREAM_STDOUT;
        int fds[] = { rfd, wfd, file_fd, buf_fd };
        for (size_t k = 0; k < ELEMENTSOF(fds); k++)
                if (fcntl(fds[k], F_GETFD) < 0)
                        return sv_rec_fail(in, rec, "output of %s: fd %d did not come through", program, fds[k]);
        /* all of them close on exec again (the carry), whatever happens next */
        int r = sv_carry_add(carry, rfd);
        r = r ?: sv_carry_add(carry, wfd);
        r = r ?: sv_carry_add(carry, file_fd);
        if (r < 0)
                return r;
        Stream *s;
        r = stream_add(o, program, which, rfd, wfd, &s);
        if (r < 0)
                return sv_rec_fail(in, rec, "output of %s: %s", program, strerror(-r));
        /* from here on the stream owns them, but a failed restore must not close them: the
         * previous binary takes them back (execve follows, nothing is freed) */
        struct stat st;
        s->file_fd = file_fd;
        s->path = strdup(path);
        s->conf_path = strdup(path);
        s->maxbytes = s->conf_maxbytes = maxbytes;
        s->backups = s->conf_backups = (unsigned) backups;
        s->size = fstat(file_fd, &st) == 0 ? (uint64_t) st.st_size : 0;
        s->regular = S_ISREG(st.st_mode);
        s->at_line_start = file_line_start;
        /* the buffer as it was, byte for byte (it holds at most cap + slack) */
        ssize_t n = pread(buf_fd, s->mem, SV_LOGBUF_SIZE + SV_LOGBUF_SLACK, 0);
        s->buf.len = n > 0 ? (size_t) n : 0;
        s->buf.at_line_start = buf_line_start;
        s->buf.dropping = dropping;
        s->buf.dropped = dropped;
        s->buf.unreported = unreported;
        int *m = realloc(o->memfds, (o->n_memfds + 1) * sizeof(int));
        if (!m || !s->path || !s->conf_path)
                return sv_rec_fail(in, rec, "out of memory");
        o->memfds = m;
        o->memfds[o->n_memfds++] = buf_fd;
        return 0;
}

void sv_output_start(SvOutput *o) {
        for (size_t k = 0; k < o->n_memfds; k++)
                (void) safe_close(o->memfds[k]);
        o->n_memfds = 0;
        if (o->started)
                return;
        o->started = true;
        for (size_t k = 0; k < o->n; k++) {
                Stream *s = o->v[k];
                if (sd_event_add_io(o->event, &s->io, s->rfd, EPOLLIN, on_pipe, s) < 0)
                        sv_log(LOG_ERR, "%s: cannot read its %s pipe any more; its workers may block", s->program,
                               sv_stream_to_string(s->which));
                if (writer_start(s) < 0)
                        sv_log(LOG_ERR, "%s: cannot start the writer of its %s log; its output is not written",
                               s->program, sv_stream_to_string(s->which));
        }
}
