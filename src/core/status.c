/* Status rows and the STATUS= summary. */
#include "sockvisor/status.h"

#include <stdio.h>

#include "sockvisor/duration.h"

int sv_status_name_width(size_t longest) {
        size_t w = longest + 14; /* room for " (removed)", " (new)" */
        return w < 7 ? 7 : (int) (w > 200 ? 200 : w);
}

void sv_status_header(char *buf, size_t len, int width) {
        (void) snprintf(buf, len, "%-*s %-9s %-8s %-4s %-8s %-5s %-7s %-6s %-28s %s", width, "PROGRAM", "STATE", "PID",
                        "GEN", "UPTIME", "PROCS", "CPU", "MEM", "SOCKETS", "STATUS");
}

char *sv_status_bytes(uint64_t bytes, char *buf, size_t len) {
        static const char units[] = "KMGT";
        double v = (double) bytes / 1024.0;
        size_t u = 0;
        while (v >= 1024.0 && u + 1 < sizeof(units) - 1) {
                v /= 1024.0;
                u++;
        }
        if (v < 10.0 && u > 0)
                (void) snprintf(buf, len, "%.1f%c", v, units[u]);
        else
                (void) snprintf(buf, len, "%.0f%c", v, units[u]);
        return buf;
}

void sv_status_row(char *buf, size_t len, int width, const SvStatusRow *r) {
        char pid[16] = "-", uptime[32] = "-", procs[16] = "-", cpu[32] = "-", mem[16] = "-";
        if (r->pid > 0) {
                (void) snprintf(pid, sizeof(pid), "%d", (int) r->pid);
                sv_duration_format(r->uptime_usec, uptime, sizeof(uptime));
                (void) snprintf(procs, sizeof(procs), "%u", r->procs);
                sv_duration_format(r->cpu_usec, cpu, sizeof(cpu));
                sv_status_bytes(r->rss_bytes, mem, sizeof(mem));
        }
        (void) snprintf(buf, len, "%-*s %-9s %-8s %-4u %-8s %-5s %-7s %-6s %-28s %s", width, r->name,
                        sm_state_to_string(r->state), pid, r->generation, uptime, procs, cpu, mem,
                        r->sockets ? r->sockets : "-", r->extra ? r->extra : "");
}

void sv_status_extra(char *buf, size_t len, SmState state, uint64_t retry_in_usec, const char *exit_text,
                     const char *error, const char *worker_status) {
        const char *why = exit_text && exit_text[0] ? exit_text : error ? error : "";
        char d[32];
        buf[0] = '\0';
        if (state == SM_BACKOFF)
                (void) snprintf(buf, len, "retry in %s after %s", sv_duration_format(retry_in_usec, d, sizeof(d)), why);
        else if (state == SM_FATAL || state == SM_EXITED)
                (void) snprintf(buf, len, "%s%s", state == SM_FATAL ? "gave up: " : "", why);
        else if (worker_status && worker_status[0])
                (void) snprintf(buf, len, "%s", worker_status);
}

void sv_status_summary(char *buf, size_t len, const SvStatusCounts *c) {
        char rolling[96] = "";
        if (c->rolling_program)
                (void) snprintf(rolling, sizeof(rolling), "%s %s (generation %u); ",
                                c->rolling_health ? "replacing unhealthy" : "restarting", c->rolling_program,
                                c->rolling_gen);
        if (c->failing)
                (void) snprintf(buf, len, "%s%s%u of %u instances running, %u failing, %u socket%s held",
                                c->stopping ? "stopping: " : "", rolling, c->running, c->total, c->failing, c->sockets,
                                c->sockets == 1 ? "" : "s");
        else
                (void) snprintf(buf, len, "%s%s%u of %u instances running, %u socket%s held",
                                c->stopping ? "stopping: " : "", rolling, c->running, c->total, c->sockets,
                                c->sockets == 1 ? "" : "s");
}
