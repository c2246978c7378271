/* Random configurations for the simulator, as a small model that reloads mutate and that
 * is written out as ini text for sv_config_parse_string. */
#include "sim.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>


static const int stopsignals[] = { SIGTERM, SIGINT, SIGQUIT };

static bool name_used_program(const GenConf *c, unsigned name) {
        return gen_find_program(c, name) != NULL;
}

static bool name_used_socket(const GenConf *c, unsigned name) {
        for (size_t k = 0; k < c->n_sockets; k++)
                if (c->sockets[k].name == name)
                        return true;
        return false;
}

static unsigned free_name(Rng *r, bool (*used)(const GenConf *, unsigned), const GenConf *c) {
        unsigned start = (unsigned) rng_below(r, GEN_NAMES);
        for (unsigned k = 0; k < GEN_NAMES; k++) {
                unsigned n = (start + k) % GEN_NAMES;
                if (!used(c, n))
                        return n;
        }
        return 0; /* not reached: fewer slots than names */
}

static void random_socket(GenConf *c, Rng *r, GenSocket *s) {
        s->name = free_name(r, name_used_socket, c);
        s->is_unix = rng_chance(r, 400);
        s->addr = c->next_addr++;
        s->backlog = (unsigned) rng_range(r, 1, 4) * 64;
}

static void random_program_keys(GenProgram *p, Rng *r) {
        p->numprocs = (unsigned) rng_range(r, 1, GEN_NUMPROCS_MAX);
        p->surge = (unsigned) rng_range(r, 1, p->numprocs);
        p->notify = rng_chance(r, 600);
        p->accepting = !p->notify && rng_chance(r, 500);
        p->drain_idle = rng_chance(r, 300);
        p->startsecs_ms = (unsigned) rng_below(r, 5) * 500;
        p->ready_timeout_ms = (unsigned) rng_range(r, 1, 5) * 1000;
        p->stopwait_ms = (unsigned) rng_range(r, 1, 5) * 1000;
        p->autorestart = (SvAutorestart) rng_below(r, _SV_AUTORESTART_MAX);
        p->startretries = (unsigned) rng_below(r, 4);
        p->stopsignal = stopsignals[rng_below(r, 3)];
        p->priority = (int) rng_below(r, 3) * 100;
        p->fdstore_max = rng_chance(r, 500) ? (unsigned) rng_range(r, 1, 3) : 0;
        p->watchdog_ms = rng_chance(r, 350) ? (unsigned) rng_range(r, 1, 6) * 500 : 0;
        p->health = rng_chance(r, 350) ? (unsigned) rng_range(r, 1, 2) : 0;
        p->health_interval_ms = (unsigned) rng_range(r, 1, 4) * 500;
        p->health_timeout_ms = (unsigned) rng_range(r, 1, p->health_interval_ms / 100) * 100;
        p->health_failures = (unsigned) rng_range(r, 1, 3);
}

static void random_program(GenConf *c, Rng *r, GenProgram *p) {
        p->name = free_name(r, name_used_program, c);
        p->version = 1;
        random_program_keys(p, r);
        p->autostart = rng_chance(r, 800);
        p->sockets = 0;
        for (size_t k = 0; k < c->n_sockets; k++)
                if (rng_chance(r, 600))
                        p->sockets |= 1u << k;
}

void gen_conf_random(GenConf *c, Rng *r) {
        memset(c, 0, sizeof(*c));
        c->next_addr = 20000 + (unsigned) rng_below(r, 10000);
        size_t ns = rng_below(r, GEN_SOCKETS_MAX + 1);
        for (size_t k = 0; k < ns; k++)
                random_socket(c, r, &c->sockets[c->n_sockets++]);
        size_t np = rng_range(r, 1, GEN_PROGRAMS_MAX);
        for (size_t k = 0; k < np; k++)
                random_program(c, r, &c->programs[c->n_programs++]);
}

static void remove_socket(GenConf *c, size_t k) {
        for (size_t i = 0; i < c->n_programs; i++) {
                unsigned m = c->programs[i].sockets;
                unsigned low = m & ((1u << k) - 1), high = (m >> (k + 1)) << k;
                c->programs[i].sockets = low | high;
        }
        memmove(&c->sockets[k], &c->sockets[k + 1], (c->n_sockets - k - 1) * sizeof(GenSocket));
        c->n_sockets--;
}

static void change_program(GenConf *c, Rng *r, GenProgram *p) {
        switch (rng_below(r, 6)) {
        case 0: /* numprocs up or down */
                p->numprocs = (unsigned) rng_range(r, 1, GEN_NUMPROCS_MAX);
                if (p->surge > p->numprocs)
                        p->surge = p->numprocs;
                break;
        case 1:
                p->version++;
                break;
        case 2:
                random_program_keys(p, r);
                break;
        case 3:
                p->autostart = !p->autostart;
                break;
        case 4:
                if (c->n_sockets > 0)
                        p->sockets ^= 1u << rng_below(r, c->n_sockets);
                break;
        default:
                p->stopwait_ms = (unsigned) rng_range(r, 1, 5) * 1000;
                break;
        }
}

void gen_conf_mutate(GenConf *c, Rng *r) {
        unsigned n = (unsigned) rng_range(r, 1, 3);
        for (unsigned m = 0; m < n; m++) {
                switch (rng_below(r, 7)) {
                case 0: /* add a program */
                        if (c->n_programs < GEN_PROGRAMS_MAX)
                                random_program(c, r, &c->programs[c->n_programs++]);
                        break;
                case 1: /* remove a program */
                        if (c->n_programs > 1) {
                                size_t k = rng_below(r, c->n_programs);
                                memmove(&c->programs[k], &c->programs[k + 1],
                                        (c->n_programs - k - 1) * sizeof(GenProgram));
                                c->n_programs--;
                        }
                        break;
                case 2: /* add a socket, maybe used by one program */
                        if (c->n_sockets < GEN_SOCKETS_MAX) {
                                random_socket(c, r, &c->sockets[c->n_sockets]);
                                if (rng_chance(r, 700))
                                        c->programs[rng_below(r, c->n_programs)].sockets |= 1u << c->n_sockets;
                                c->n_sockets++;
                        }
                        break;
                case 3: /* remove a socket */
                        if (c->n_sockets > 0)
                                remove_socket(c, rng_below(r, c->n_sockets));
                        break;
                case 4: /* re-address or re-tune a socket */
                        if (c->n_sockets > 0) {
                                GenSocket *s = &c->sockets[rng_below(r, c->n_sockets)];
                                if (rng_chance(r, 500))
                                        s->addr = c->next_addr++;
                                else
                                        s->backlog = (unsigned) rng_range(r, 1, 4) * 64;
                        }
                        break;
                default:
                        change_program(c, r, &c->programs[rng_below(r, c->n_programs)]);
                        break;
                }
        }
}

void gen_socket_listen(const GenSocket *s, char *buf, size_t len) {
        if (s->is_unix)
                snprintf(buf, len, "unix:/tmp/sv-sim/%u.sock", s->addr);
        else
                snprintf(buf, len, "tcp://127.0.0.1:%u", s->addr);
}

#define EMIT(...)                                                                \
        do {                                                                     \
                int n_ = snprintf(buf + o, len - o, __VA_ARGS__);                \
                if (n_ < 0 || (size_t) n_ >= len - o)                            \
                        return -ENOBUFS;                                         \
                o += (size_t) n_;                                                \
        } while (0)

int gen_conf_ini(const GenConf *c, char *buf, size_t len) {
        static const char *const ar[] = { "false", "unexpected", "true" };
        size_t o = 0;
        char listen[SV_ADDR_STRLEN];

        EMIT("[sockvisord]\ncontrol = /tmp/sv-sim/control.sock\n");
        for (size_t k = 0; k < c->n_sockets; k++) {
                gen_socket_listen(&c->sockets[k], listen, sizeof(listen));
                EMIT("\n[socket:s%u]\nlisten = %s\nbacklog = %u\n", c->sockets[k].name, listen,
                     c->sockets[k].backlog);
        }
        for (size_t k = 0; k < c->n_programs; k++) {
                const GenProgram *p = &c->programs[k];
                EMIT("\n[program:p%u]\ncommand = /usr/bin/sim-worker --version %u\n", p->name, p->version);
                if (p->sockets) {
                        EMIT("sockets = ");
                        bool first = true;
                        for (size_t s = 0; s < c->n_sockets; s++)
                                if (p->sockets & (1u << s)) {
                                        EMIT("%ss%u", first ? "" : ", ", c->sockets[s].name);
                                        first = false;
                                }
                        EMIT("\n");
                }
                bool has_sockets = false;
                for (size_t s = 0; s < c->n_sockets; s++)
                        has_sockets = has_sockets || (p->sockets & (1u << s));
                EMIT("drain = %s\n", p->drain_idle ? "idle" : "signal");
                if (p->watchdog_ms)
                        EMIT("watchdog = %ums\n", p->watchdog_ms);
                bool first_tcp = false; /* %(port)s is the first tcp socket's */
                for (size_t s = 0; s < c->n_sockets; s++)
                        if (p->sockets & (1u << s) && !c->sockets[s].is_unix)
                                first_tcp = true;
                if (p->health)
                        EMIT("healthcheck = %s\nhealthcheck_interval = %ums\nhealthcheck_timeout = %ums\n"
                             "healthcheck_failures = %u\n",
                             p->health == 1 && first_tcp ? "http://127.0.0.1:%(port)s/healthz" : "exec:/usr/bin/sim-check",
                             p->health_interval_ms, p->health_timeout_ms, p->health_failures);
                EMIT("numprocs = %u\nrestart_surge = %u\nready = %s\nstartsecs = %ums\n"
                     "ready_timeout = %ums\nstopwaitsecs = %ums\nautorestart = %s\nstartretries = %u\n"
                     "autostart = %s\nstopsignal = %s\npriority = %d\nfdstore_max = %u\n",
                     p->numprocs, p->surge,
                     p->notify ? "notify" : p->accepting && has_sockets ? "accepting" : "started", p->startsecs_ms,
                     p->ready_timeout_ms, p->stopwait_ms, ar[p->autorestart], p->startretries,
                     p->autostart ? "yes" : "no", sv_signal_to_string(p->stopsignal), p->priority,
                     p->fdstore_max);
        }
        return (int) o;
}

const GenProgram *gen_find_program(const GenConf *c, unsigned name) {
        for (size_t k = 0; k < c->n_programs; k++)
                if (c->programs[k].name == name)
                        return &c->programs[k];
        return NULL;
}

uint64_t gen_ready_bound(const GenProgram *p) {
        if (p->accepting) /* accepting, or started when its sockets are gone: the larger bound */
                return (p->ready_timeout_ms > p->startsecs_ms ? p->ready_timeout_ms : p->startsecs_ms) * MSEC;
        return (p->notify ? p->ready_timeout_ms : p->startsecs_ms) * MSEC;
}

uint64_t gen_stop_bound(const GenProgram *p) {
        return p->stopwait_ms * MSEC + SEC;
}

uint64_t gen_restart_bound(const GenProgram *p) {
        uint64_t rounds = (p->numprocs + p->surge - 1) / p->surge;
        return rounds * (gen_ready_bound(p) + gen_stop_bound(p)) + gen_stop_bound(p);
}
