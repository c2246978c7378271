/* sockvisorctl why: the port doctor, run in the client (it needs no daemon). Its exit code
 * answers "would a bind of this address succeed now?": 0 yes, 1 no (the cause printed),
 * 2 usage. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "ctl.h"
#include "sockvisor/doctor.h"

/* A bind fails now: the doctor found something in the way, or a test bind failed for any
 * reason (EACCES below 1024, EADDRNOTAVAIL for an address this machine lacks, ...). A
 * bare port is tried on [::] and 0.0.0.0: a machine without IPv6 fails the first for
 * want of IPv6, not of the port. */
static bool bind_fails(const SvDoctorFacts *f, const SvDoctorReport *rep) {
        if (rep->blocked)
                return true;
        for (size_t i = 0; i < f->n_probes; i++) {
                const SvBindProbe *p = &f->probes[i];
                bool no_ipv6 = f->query.bare_port && p->addr.family == AF_INET6 &&
                               (p->plain == -EAFNOSUPPORT || p->plain == -EADDRNOTAVAIL);

                if (p->tried && p->plain < 0 && !no_ipv6)
                        return true;
        }
        return false;
}

int ctl_why_run(const char *target, bool json) {
        char address[512];
        SvDoctorQuery q;
        SvDoctorFacts f;
        SvDoctorReport rep = { 0 };
        SvDiag d = { 0 };
        _cleanup_free_ char *text = NULL;
        bool fails = false;
        int r;

        if (!sv_ctlargs_why_address(target, address, sizeof(address)))
                return ctl_usage_error("why: '%.64s...' is too long for an address", target);
        if (sv_doctor_query_parse(address, &q, &d) < 0)
                return ctl_usage_error("why: %s", d.msg);

        r = sv_doctor_gather(&q, &f, &d);
        if (r < 0) {
                fprintf(stderr, PROG ": why: %s\n", d.msg);
                return CTL_EXIT_FAILED;
        }
        r = sv_doctor_diagnose(&f, &rep);
        if (r >= 0) {
                text = json ? sv_doctor_format_json(&f, &rep) : sv_doctor_format_text(&f, &rep);
                fails = bind_fails(&f, &rep);
        }
        sv_doctor_report_done(&rep);
        sv_doctor_facts_done(&f);
        if (!text) {
                fprintf(stderr, PROG ": why: out of memory\n");
                return CTL_EXIT_FAILED;
        }
        if ((fputs(text, stdout) == EOF || fflush(stdout) == EOF) && errno != EPIPE) {
                fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(errno));
                return CTL_EXIT_FAILED;
        }
        return fails ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}
