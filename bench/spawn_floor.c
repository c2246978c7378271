/* The floor under bench/scale.sh's start-up figure: how long this machine takes to start N
 * copies of the workers' command from one process with nothing else going on (posix_spawnp,
 * vfork-based like sockvisord's spawn), in ms. They are then killed and reaped, by pid.
 *
 *   spawn_floor N COMMAND [ARG...]
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double ms_since(const struct timespec *a) {
        struct timespec b;
        clock_gettime(CLOCK_MONOTONIC, &b);
        return (double) (b.tv_sec - a->tv_sec) * 1e3 + (double) (b.tv_nsec - a->tv_nsec) / 1e6;
}

int main(int argc, char **argv) {
        if (argc < 3) {
                fprintf(stderr, "usage: %s N COMMAND [ARG...]\n", argv[0]);
                return 2;
        }
        long n = strtol(argv[1], NULL, 10);
        if (n <= 0 || n > 100000) {
                fprintf(stderr, "%s: N must be 1 to 100000, not '%s'\n", argv[0], argv[1]);
                return 2;
        }
        pid_t *pids = calloc((size_t) n, sizeof(pid_t));
        if (!pids)
                return 1;
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        long started = 0;
        for (; started < n; started++)
                if (posix_spawnp(&pids[started], argv[2], NULL, NULL, argv + 2, environ) != 0) {
                        perror("posix_spawnp");
                        break;
                }
        double ms = ms_since(&t0);
        for (long k = 0; k < started; k++)
                (void) kill(pids[k], SIGKILL);
        for (long k = 0; k < started; k++)
                (void) waitpid(pids[k], NULL, 0);
        free(pids);
        if (started < n)
                return 1;
        printf("%.0f\n", ms);
        return 0;
}
