/* libFuzzer target for the config parser: sv_config_parse_string on arbitrary bytes.
 * Built only with -DSV_FUZZ=ON and CC=clang (tests/fuzz/CMakeLists.txt); build just this
 * target (the rest of the tree is not clang -Werror clean), then run it, e.g.
 *   CC=clang cmake -S . -B /tmp/build-fuzz -DSV_FUZZ=ON && cmake --build /tmp/build-fuzz --target fuzz_config
 *   mkdir -p /tmp/corpus && /tmp/build-fuzz/tests/fuzz/fuzz_config -max_total_time=60 -max_len=9000 \
 *       -dict=tests/fuzz/config.dict /tmp/corpus tests/data conf
 * Besides crashes and sanitizer reports it checks the parser's contract: the output is
 * written only on success, and an error message is "ORIGIN:..." (a bundle's: its own
 * file's) with a line that is within the input. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0'; /* the parser takes a C string: a NUL ends the text */

        size_t lines = 1;
        for (size_t i = 0; text[i]; i++)
                lines += text[i] == '\n';

        SvConfig *sentinel = (SvConfig *) (uintptr_t) 0x5a5a, *c = sentinel;
        SvDiag d = {};
        int r = sv_config_parse_string(text, "f.ini", &c, &d);
        if (r < 0) {
                if (c != sentinel)
                        abort(); /* written on failure */
                /* an upgrade's bundle of files (config_source.c) names the file of each error */
                bool bundle = strncmp(text, ";sockvisor config bundle 1\n", 27) == 0;
                if (r == -EINVAL && ((!bundle && strncmp(d.msg, "f.ini", 5) != 0) || !d.msg[0] || d.line > lines))
                        abort(); /* every error names the origin and a line of the input */
        } else {
                if (!c || !c->control_path)
                        abort();
                /* walk what was parsed, so the sanitizers see every field read */
                for (size_t i = 0; i < c->n_sockets; i++)
                        if (!sv_socket_conf_equal(&c->sockets[i], &c->sockets[i]) ||
                            sv_config_find_socket(c, c->sockets[i].name) < 0)
                                abort();
                for (size_t i = 0; i < c->n_programs; i++) {
                        const SvProgramConf *p = &c->programs[i];
                        if (!sv_program_conf_equal(c, p, c, p) || sv_config_find_program(c, p->name) != p || !p->argv ||
                            !p->argv[0] || !p->environment)
                                abort();
                        for (size_t j = 0; j < p->n_sockets; j++)
                                if (p->socket_idx[j] >= c->n_sockets)
                                        abort();
                }
                sv_config_free(c);
        }
        free(text);
        return 0;
}
