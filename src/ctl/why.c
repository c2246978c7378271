/* sockvisorctl why: the port doctor, run in the client (it needs no daemon). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "sockvisor/doctor.h"

int ctl_why_run(char **args, size_t n_args) {
        const char *target = NULL;
        bool json = false;
        SvDoctorQuery q;
        SvDoctorFacts f;
        SvDoctorReport rep = { 0 };
        SvDiag d = { 0 };
        _cleanup_free_ char *text = NULL;
        int r;

        for (size_t i = 0; i < n_args; i++) {
                if (strcmp(args[i], "--json") == 0)
                        json = true;
                else if (args[i][0] == '-' && args[i][1] != '\0')
                        return ctl_usage_error("why: unknown option '%s'; expected [--json] ADDRESS|PORT", args[i]);
                else if (target)
                        return ctl_usage_error("why: one address at a time, got '%s' and '%s'", target, args[i]);
                else
                        target = args[i];
        }
        if (!target)
                return ctl_usage_error("why: expects an address or a port, e.g. '" PROG " why 8080' or '" PROG
                                       " why tcp://127.0.0.1:8080'");
        if (sv_doctor_query_parse(target, &q, &d) < 0)
                return ctl_usage_error("why: %s", d.msg);

        r = sv_doctor_gather(&q, &f, &d);
        if (r < 0) {
                fprintf(stderr, PROG ": why: %s\n", d.msg);
                return CTL_EXIT_FAILED;
        }
        r = sv_doctor_diagnose(&f, &rep);
        if (r >= 0)
                text = json ? sv_doctor_format_json(&f, &rep) : sv_doctor_format_text(&f, &rep);
        sv_doctor_report_done(&rep);
        sv_doctor_facts_done(&f);
        if (!text) {
                fprintf(stderr, PROG ": why: out of memory\n");
                return CTL_EXIT_FAILED;
        }
        if (fputs(text, stdout) == EOF || fflush(stdout) == EOF) {
                if (errno == EPIPE)
                        return CTL_EXIT_OK;
                fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(errno));
                return CTL_EXIT_FAILED;
        }
        return CTL_EXIT_OK;
}
