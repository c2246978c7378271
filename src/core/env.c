/* Worker environment construction. */
#include "sockvisor/env.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/cmdline.h"
#include "sockvisor/macro.h"

#define PID_DIGITS_MAX 20

static const char *const owned_prefixes[] = {
        "LISTEN_FDS=", "LISTEN_PID=",    "LISTEN_FDNAMES=",       "NOTIFY_SOCKET=",
        "WATCHDOG_PID=", "WATCHDOG_USEC=", "SOCKVISOR_PROGRAM=", "SOCKVISOR_GENERATION=",
};

static bool is_owned(const char *entry) {
        for (size_t i = 0; i < ELEMENTSOF(owned_prefixes); i++)
                if (strncmp(entry, owned_prefixes[i], strlen(owned_prefixes[i])) == 0)
                        return true;
        return false;
}

/* True when entry sets a key that is also set in v. */
static bool key_in(const char *entry, char *const *v) {
        size_t klen = strcspn(entry, "=");
        for (; v && *v; v++)
                if (strncmp(*v, entry, klen) == 0 && (*v)[klen] == '=')
                        return true;
        return false;
}

typedef struct Builder {
        char **v;
        size_t n, cap;
} Builder;

static int push(Builder *b, char *s) {
        if (!s)
                return -ENOMEM;
        if (b->n + 2 > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 32;
                char **nv = realloc(b->v, cap * sizeof(char *));
                if (!nv) {
                        free(s);
                        return -ENOMEM;
                }
                b->v = nv;
                b->cap = cap;
        }
        b->v[b->n++] = s;
        b->v[b->n] = NULL;
        return 0;
}

_printf_(2, 3) static int pushf(Builder *b, const char *fmt, ...) {
        char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return push(b, r < 0 ? NULL : s);
}

int sv_worker_env_build(char *const *base, char *const *program_env, char *const *fdnames, size_t n_fds,
                        const char *notify_socket, const char *program, unsigned generation,
                        SvWorkerEnv *ret) {
        Builder b = {};
        char *pid_entry = NULL;
        int r = 0;

        for (char *const *e = base; e && *e && r == 0; e++)
                if (strchr(*e, '=') && !is_owned(*e) && !key_in(*e, program_env))
                        r = push(&b, strdup(*e));
        for (char *const *e = program_env; e && *e && r == 0; e++)
                if (strchr(*e, '=') && !is_owned(*e))
                        r = push(&b, strdup(*e));

        if (r == 0 && n_fds > 0) {
                size_t len = strlen("LISTEN_FDNAMES=") + 1;
                for (size_t i = 0; i < n_fds; i++)
                        len += strlen(fdnames[i]) + 1;
                char *names = malloc(len);
                if (!names)
                        r = -ENOMEM;
                else {
                        char *o = stpcpy(names, "LISTEN_FDNAMES=");
                        for (size_t i = 0; i < n_fds; i++) {
                                if (i > 0)
                                        *o++ = ':';
                                o = stpcpy(o, fdnames[i]);
                        }
                        r = push(&b, names);
                }
                if (r == 0)
                        r = pushf(&b, "LISTEN_FDS=%zu", n_fds);
                if (r == 0) {
                        pid_entry = calloc(1, strlen("LISTEN_PID=") + PID_DIGITS_MAX + 1);
                        if (pid_entry)
                                strcpy(pid_entry, "LISTEN_PID=");
                        r = push(&b, pid_entry);
                }
        }
        if (r == 0 && notify_socket)
                r = pushf(&b, "NOTIFY_SOCKET=%s", notify_socket);
        if (r == 0 && program)
                r = pushf(&b, "SOCKVISOR_PROGRAM=%s", program);
        if (r == 0)
                r = pushf(&b, "SOCKVISOR_GENERATION=%u", generation);
        if (r == 0 && !b.v) { /* an empty environment is still a valid, NULL-terminated one */
                b.v = calloc(1, sizeof(char *));
                if (!b.v)
                        r = -ENOMEM;
        }

        if (r < 0) {
                sv_strv_free(b.v);
                return -ENOMEM;
        }
        ret->envp = b.v;
        ret->listen_pid_slot = pid_entry ? pid_entry + strlen("LISTEN_PID=") : NULL;
        return 0;
}

void sv_worker_env_set_pid(SvWorkerEnv *e, pid_t pid) {
        char digits[PID_DIGITS_MAX];
        size_t n = 0;
        unsigned long v = (unsigned long) pid;

        if (!e->listen_pid_slot)
                return;
        do {
                digits[n++] = (char) ('0' + v % 10);
                v /= 10;
        } while (v && n < sizeof(digits));
        for (size_t i = 0; i < n; i++)
                e->listen_pid_slot[i] = digits[n - 1 - i];
        e->listen_pid_slot[n] = '\0';
}

void sv_worker_env_done(SvWorkerEnv *e) {
        e->envp = sv_strv_free(e->envp);
        e->listen_pid_slot = NULL;
}

const char *sv_env_get(char *const *envp, const char *key) {
        size_t klen = strlen(key);
        for (; envp && *envp; envp++)
                if (strncmp(*envp, key, klen) == 0 && (*envp)[klen] == '=')
                        return *envp + klen + 1;
        return NULL;
}
