/* Worker environment construction. */
#include "sockvisor/env.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sockvisor/cmdline.h"
#include "sockvisor/macro.h"

#define PID_DIGITS_MAX 20

/* Set by sockvisord only, whatever the base or environment= say: entries and prefixes. */
static const char *const owned_prefixes[] = {
        "LISTEN_FDS=",        "LISTEN_PID=",           "LISTEN_FDNAMES=", "NOTIFY_SOCKET=",
        "WATCHDOG_PID=",      "WATCHDOG_USEC=",        "SOCKVISOR_PROGRAM=", "SOCKVISOR_GENERATION=",
        "SOCKVISOR_BIND_FDS=", /* a stale one would hand the shim fds that are not held sockets */
        "SERVER_STARTER_PORT=", "SERVER_STARTER_GENERATION=", "NGINX=",
        "EINHORN_", /* EINHORN_FD_COUNT, EINHORN_FD_K, EINHORN_FD_FAMILY_K, EINHORN_FDS, and
                     * EINHORN_MASTER_PID / EINHORN_SOCK_*, which would send an ack nowhere */
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

static const char *const fd_env_names[] = { "systemd", "server_starter", "einhorn", "nginx" };

int sv_fd_env_parse(const char *s, unsigned *ret, SvDiag *d) {
        static const char valid[] = "use a comma list of systemd, server_starter, einhorn, nginx, or none "
                                    "(default systemd,server_starter,einhorn)";
        unsigned mask = 0;
        bool none = false, any = false;

        if (!s)
                return diag_set(d, 0, "no value; %s", valid);
        while (*s) {
                s += strspn(s, " \t");
                size_t n = strcspn(s, ",");
                size_t w = n;
                while (w > 0 && (s[w - 1] == ' ' || s[w - 1] == '\t'))
                        w--;
                if (w == 0)
                        return diag_set(d, 0, "an empty name in the list; %s", valid);
                int bit = -1;
                for (size_t i = 0; i < ELEMENTSOF(fd_env_names); i++)
                        if (strlen(fd_env_names[i]) == w && memcmp(fd_env_names[i], s, w) == 0)
                                bit = (int) i;
                if (bit < 0 && w == strlen("none") && memcmp(s, "none", w) == 0) {
                        if (none || any)
                                return diag_set(d, 0, "'none' must stand alone; %s", valid);
                        none = true;
                } else if (bit < 0)
                        return diag_set(d, 0, "'%.*s' is not an fd dialect; %s", (int) w, s, valid);
                else if (none)
                        return diag_set(d, 0, "'none' must stand alone; %s", valid);
                else if (mask & (1u << bit))
                        return diag_set(d, 0, "'%.*s' is listed twice; %s", (int) w, s, valid);
                else
                        mask |= 1u << bit;
                any = true;
                s += n;
                if (*s == ',') {
                        s++;
                        if (*s == '\0')
                                return diag_set(d, 0, "the list ends in a comma; %s", valid);
                }
        }
        if (!any)
                return diag_set(d, 0, "no value; %s", valid);
        *ret = mask;
        return 0;
}

char *sv_fd_env_format(unsigned mask, char *buf, size_t len) {
        size_t o = 0;

        if (len == 0)
                return buf;
        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(fd_env_names); i++)
                if (mask & (1u << i) && o < len)
                        o += (size_t) snprintf(buf + o, len - o, "%s%s", o ? "," : "", fd_env_names[i]);
        if (o == 0)
                (void) snprintf(buf, len, "none");
        return buf;
}

int sv_server_starter_port(const SvAddr *a, char *buf, size_t len) {
        char text[SV_ADDR_STRLEN];
        const char *v;

        if (!a || (a->family != AF_INET && a->family != AF_INET6 && a->family != AF_UNIX))
                return -EINVAL;
        sv_addr_format(a, text, sizeof(text));
        if (a->family == AF_UNIX) {
                v = strchr(text, ':'); /* after unix:, unix-dgram:, unix-seqpacket: */
                if (!v || *++v == '\0')
                        return -EINVAL; /* unbound: nothing to name it by */
        } else {
                v = strstr(text, "://");
                if (!v)
                        return -EINVAL;
                v += 3;
                /* start_server --port 8080 binds 0.0.0.0 and writes the bare port */
                if (strncmp(v, "0.0.0.0:", strlen("0.0.0.0:")) == 0)
                        v += strlen("0.0.0.0:");
        }
        /* readers split the list on ';' and each entry at its first '=' */
        if (strpbrk(v, ";="))
                return -EINVAL;
        if (strlen(v) >= len)
                return -EINVAL;
        strcpy(buf, v);
        return 0;
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

/* A growing string, for the list-valued variables. */
typedef struct Str {
        char *s;
        size_t n, cap;
        bool oom;
} Str;

_printf_(2, 3) static void str_addf(Str *t, const char *fmt, ...) {
        va_list ap;

        if (t->oom)
                return;
        for (;;) {
                size_t room = t->cap - t->n;
                va_start(ap, fmt);
                int k = vsnprintf(t->s ? t->s + t->n : NULL, room, fmt, ap);
                va_end(ap);
                if (k < 0) {
                        t->oom = true;
                        return;
                }
                if ((size_t) k < room) {
                        t->n += (size_t) k;
                        return;
                }
                size_t cap = (t->cap ? t->cap : 64) * 2;
                while (cap < t->n + (size_t) k + 1)
                        cap *= 2;
                char *ns = realloc(t->s, cap);
                if (!ns) {
                        t->oom = true;
                        return;
                }
                t->s = ns;
                t->cap = cap;
        }
}

/* Pushes the finished string (NULL on out of memory, which push reports). */
static int str_push(Builder *b, Str *t) {
        if (t->oom) {
                free(t->s);
                t->s = NULL;
        }
        char *s = t->s;
        *t = (Str){};
        return push(b, s);
}

/* "KEY=" with room for any pid, filled in after fork(). */
static int push_pid_entry(Builder *b, const char *key, char **ret_slot) {
        char *entry = calloc(1, strlen(key) + PID_DIGITS_MAX + 1);
        if (entry)
                strcpy(entry, key);
        int r = push(b, entry);
        if (r == 0)
                *ret_slot = entry + strlen(key);
        return r;
}

static int add_systemd(Builder *b, const SvWorkerFds *f, char **ret_pid_slot) {
        Str names = {};

        str_addf(&names, "LISTEN_FDNAMES=");
        for (size_t i = 0; i < f->n_fds; i++)
                str_addf(&names, "%s%s", i > 0 ? ":" : "", f->names ? f->names[i] : "unknown");
        int r = str_push(b, &names);
        if (r == 0)
                r = pushf(b, "LISTEN_FDS=%zu", f->n_fds);
        if (r == 0)
                r = push_pid_entry(b, "LISTEN_PID=", ret_pid_slot);
        return r;
}

static int add_server_starter(Builder *b, const SvWorkerFds *f, unsigned generation) {
        Str port = {};
        size_t listed = 0;

        str_addf(&port, "SERVER_STARTER_PORT=");
        for (size_t i = 0; i < f->n_sockets; i++) {
                char a[SV_ADDR_STRLEN];
                if (!f->addrs || sv_server_starter_port(&f->addrs[i], a, sizeof(a)) < 0)
                        continue; /* no spelling a reader would split back: left out */
                str_addf(&port, "%s%s=%zu", listed++ ? ";" : "", a, 3 + i);
        }
        if (listed == 0) { /* nothing to name: as without the dialect */
                free(port.s);
                return 0;
        }
        int r = str_push(b, &port);
        if (r == 0)
                r = pushf(b, "SERVER_STARTER_GENERATION=%u", generation);
        return r;
}

static const char *family_name(int family) {
        switch (family) {
        case AF_INET:
                return "AF_INET";
        case AF_INET6:
                return "AF_INET6";
        case AF_UNIX:
                return "AF_UNIX";
        }
        return NULL;
}

static int add_einhorn(Builder *b, const SvWorkerFds *f) {
        Str list = {};
        int r = pushf(b, "EINHORN_FD_COUNT=%zu", f->n_sockets);

        for (size_t i = 0; i < f->n_sockets && r == 0; i++) {
                r = pushf(b, "EINHORN_FD_%zu=%zu", i, 3 + i);
                const char *fam = f->addrs ? family_name(f->addrs[i].family) : NULL;
                if (r == 0 && fam)
                        r = pushf(b, "EINHORN_FD_FAMILY_%zu=%s", i, fam);
        }
        str_addf(&list, "EINHORN_FDS=");
        for (size_t i = 0; i < f->n_sockets; i++)
                str_addf(&list, "%s%zu", i ? " " : "", 3 + i);
        if (r < 0) {
                free(list.s);
                return r;
        }
        return str_push(b, &list);
}

static int add_nginx(Builder *b, const SvWorkerFds *f) {
        Str v = {};

        str_addf(&v, "NGINX=");
        for (size_t i = 0; i < f->n_sockets; i++)
                str_addf(&v, "%zu;", 3 + i);
        return str_push(b, &v);
}

int sv_worker_env_build(char *const *base, char *const *program_env, const SvWorkerFds *fds,
                        const char *notify_socket, const char *program, unsigned generation, SvWorkerEnv *ret) {
        static const SvWorkerFds none = {};
        const SvWorkerFds *f = fds ? fds : &none;
        Builder b = {};
        char *pid_slot = NULL, *watchdog_pid_slot = NULL;
        int r = 0;

        const char *preload_before = NULL; /* LD_PRELOAD as the environment has it */
        for (char *const *e = base; e && *e && r == 0; e++)
                if (strchr(*e, '=') && !is_owned(*e) && !key_in(*e, program_env)) {
                        if (f->preload && strncmp(*e, "LD_PRELOAD=", 11) == 0)
                                preload_before = *e + 11;
                        else
                                r = push(&b, strdup(*e));
                }
        for (char *const *e = program_env; e && *e && r == 0; e++)
                if (strchr(*e, '=') && !is_owned(*e)) {
                        if (f->preload && strncmp(*e, "LD_PRELOAD=", 11) == 0)
                                preload_before = *e + 11;
                        else
                                r = push(&b, strdup(*e));
                }

        size_t n_sockets = f->n_sockets <= f->n_fds ? f->n_sockets : f->n_fds;
        SvWorkerFds held = *f;
        held.n_sockets = n_sockets;
        if (r == 0 && f->n_fds > 0 && (f->dialects & SV_FD_ENV_SYSTEMD))
                r = add_systemd(&b, &held, &pid_slot);
        if (r == 0 && n_sockets > 0 && (f->dialects & SV_FD_ENV_SERVER_STARTER))
                r = add_server_starter(&b, &held, generation);
        if (r == 0 && n_sockets > 0 && (f->dialects & SV_FD_ENV_EINHORN))
                r = add_einhorn(&b, &held);
        if (r == 0 && n_sockets > 0 && (f->dialects & SV_FD_ENV_NGINX))
                r = add_nginx(&b, &held);
        if (r == 0 && n_sockets > 0 && f->preload) {
                r = pushf(&b, "LD_PRELOAD=%s%s%s", f->preload, preload_before && *preload_before ? " " : "",
                          preload_before ? preload_before : "");
                Str list = {};
                str_addf(&list, "SOCKVISOR_BIND_FDS=");
                for (size_t i = 0; i < n_sockets; i++)
                        str_addf(&list, "%s%zu", i ? "," : "", 3 + i);
                if (r == 0)
                        r = str_push(&b, &list);
                else
                        free(list.s);
        } else if (r == 0 && preload_before)
                r = pushf(&b, "LD_PRELOAD=%s", preload_before);
        if (r == 0 && notify_socket)
                r = pushf(&b, "NOTIFY_SOCKET=%s", notify_socket);
        if (r == 0 && f->watchdog_usec) {
                r = pushf(&b, "WATCHDOG_USEC=%llu", (unsigned long long) f->watchdog_usec);
                if (r == 0)
                        r = push_pid_entry(&b, "WATCHDOG_PID=", &watchdog_pid_slot);
        }
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
        ret->listen_pid_slot = pid_slot;
        ret->watchdog_pid_slot = watchdog_pid_slot;
        return 0;
}

static void write_pid(char *slot, pid_t pid) {
        char digits[PID_DIGITS_MAX];
        size_t n = 0;
        unsigned long v = (unsigned long) pid;

        if (!slot)
                return;
        do {
                digits[n++] = (char) ('0' + v % 10);
                v /= 10;
        } while (v && n < sizeof(digits));
        for (size_t i = 0; i < n; i++)
                slot[i] = digits[n - 1 - i];
        slot[n] = '\0';
}

void sv_worker_env_set_pid(SvWorkerEnv *e, pid_t pid) {
        write_pid(e->listen_pid_slot, pid);
        write_pid(e->watchdog_pid_slot, pid);
}

void sv_worker_env_done(SvWorkerEnv *e) {
        e->envp = sv_strv_free(e->envp);
        e->listen_pid_slot = e->watchdog_pid_slot = NULL;
}

const char *sv_env_get(char *const *envp, const char *key) {
        size_t klen = strlen(key);
        for (; envp && *envp; envp++)
                if (strncmp(*envp, key, klen) == 0 && (*envp)[klen] == '=')
                        return *envp + klen + 1;
        return NULL;
}
