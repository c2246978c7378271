/* libFuzzer target for the address parsers: sv_addr_parse (socket listen=, metrics=) and
 * sv_doctor_query_parse (sockvisorctl why), on arbitrary bytes. See README "Fuzzing".
 * Besides crashes and sanitizer reports it checks the contract: a failed parse leaves the
 * output as it was and says why; a parsed address formats to text that parses back to the
 * same address (the round trip status and the upgrade state rely on). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/addr.h"
#include "sockvisor/doctor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';

        SvAddr a, untouched;
        memset(&a, 0x5a, sizeof(a));
        untouched = a;
        SvDiag d = { 0 };
        int r = sv_addr_parse(s, &a, &d);
        if (r < 0) {
                if (memcmp(&a, &untouched, sizeof(a)) != 0 || !d.msg[0])
                        abort(); /* a failure writes nothing and says why */
        } else {
                if (r != 0 || a.salen == 0 || a.salen > sizeof(a.sa))
                        abort();
                char text[SV_ADDR_STRLEN];
                if (!sv_addr_format(&a, text, sizeof(text)) || strnlen(text, sizeof(text)) == sizeof(text))
                        abort();
                SvAddr back;
                SvDiag d2 = { 0 };
                if (sv_addr_parse(text, &back, &d2) != 0 || !sv_addr_equal(&a, &back))
                        abort(); /* what we print must read back as the same address */
                (void) sv_addr_scheme(&a);
                (void) sv_addr_kind_name(&a);
                (void) sv_addr_port(&a);
        }

        SvDoctorQuery q;
        SvDiag dq = { 0 };
        if (sv_doctor_query_parse(s, &q, &dq) < 0 && !dq.msg[0])
                abort();
        free(s);
        return 0;
}
