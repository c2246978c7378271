/* Small helpers shared by every module: cleanup attributes, ownership hand-off, sizes. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* close() that keeps errno and returns -EBADF, so "fd = safe_close(fd);" leaves fd invalid. */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd); /* on Linux the fd is gone even on EINTR: never retry */
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        (void) safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Hand ownership to the caller: returns the value and leaves the cleanup variable empty. */
#define TAKE_PTR(p)                                  \
        ({                                           \
                __typeof__(p) _taken = (p);          \
                (p) = NULL;                          \
                _taken;                              \
        })
#define TAKE_FD(fd)                                  \
        ({                                           \
                int _taken_fd = (fd);                \
                (fd) = -EBADF;                       \
                _taken_fd;                           \
        })

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
