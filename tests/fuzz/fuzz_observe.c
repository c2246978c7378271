/* libFuzzer target for the parsers of what /proc says (src/daemon/observe.c): a
 * /proc/PID/task/TID/syscall line and an eventpoll fdinfo line, on arbitrary bytes. What a
 * worker's process writes can shape neither, but a kernel of another version can. Built
 * only with -DSV_FUZZ=ON and CC=clang:
 *   CC=clang cmake -S . -B /tmp/build-fuzz -DSV_FUZZ=ON && cmake --build /tmp/build-fuzz --target fuzz_observe
 *   /tmp/build-fuzz/tests/fuzz/fuzz_observe -max_total_time=60
 * Besides crashes and sanitizer reports it checks the contract: a syscall line is read only
 * as a syscall number that is not negative, an fdinfo line only when it starts "tfd:",
 * and a parse that fails leaves the outputs as they were. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockvisor/observe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *line = malloc(size + 1);
        if (!line)
                return 0;
        memcpy(line, data, size);
        line[size] = '\0'; /* the readers hand over NUL-terminated lines */

        long nr = -7;
        uint64_t args[6] = { 1, 2, 3, 4, 5, 6 };
        int r = sv_observe_parse_syscall(line, &nr, args);
        if (r != 0 && r != 1)
                abort();
        if (r == 1 && nr < 0)
                abort();
        if (r == 0 && (nr != -7 || args[0] != 1 || args[5] != 6))
                abort(); /* a failed parse writes nothing */

        int tfd = -7;
        uint32_t events = 7;
        uint64_t ino = 7;
        r = sv_observe_parse_tfd(line, &tfd, &events, &ino);
        if (r != 0 && r != 1)
                abort();
        if (r == 1 && (tfd < 0 || strncmp(line, "tfd:", 4) != 0))
                abort();
        if (r == 0 && (tfd != -7 || events != 7 || ino != 7))
                abort();
        free(line);
        return 0;
}
