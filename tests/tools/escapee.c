/* sv-escapee: a worker whose child escapes, for the end-to-end tests.
 *
 *   sv-escapee [--ignore-term] REPORT
 *
 * Takes its listening socket from LISTEN_FDS (fd 3), forks a child that calls setsid()
 * (out of the worker's process group: stop and kill of the group miss it), moves itself to
 * the root of the cgroup2 hierarchy when it may (as root: out of the worker's cgroup too, so
 * only sockvisord's search by socket finds it), and serves fd 3. Worker and child both
 * answer each connection with "worker=PID\n", PID the worker's: the generation that served
 * it. Appends "worker W child C" to REPORT once both serve.
 *
 *   --ignore-term    the child ignores SIGTERM: only SIGKILL ends it
 *   --grandchild     the child forks one more that serves too (and is reported as
 *                    "grandchild G" after the child) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void leave_cgroup(void) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096], mount[4096] = "";
        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                if (strstr(line, " - cgroup2 ") && sscanf(line, "%*s %*s %*s %*s %4095s", mount) == 1)
                        break;
        fclose(f);
        if (!mount[0])
                return;
        char path[4200];
        (void) snprintf(path, sizeof(path), "%s/cgroup.procs", mount);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                (void) !write(fd, "0", 1); /* refused where we may not: then nobody has cgroups for us */
                close(fd);
        }
}

static void serve(int lfd, const char *marker) {
        for (;;) {
                struct pollfd p = { .fd = lfd, .events = POLLIN };
                int r = poll(&p, 1, 1000);
                if (r < 0 && errno != EINTR)
                        _exit(1);
                if (r <= 0)
                        continue;
                int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue; /* another process took it */
                (void) !write(c, marker, strlen(marker));
                close(c);
        }
}

int main(int argc, char **argv) {
        bool ignore_term = false, grandchild = false;
        int a = 1;
        for (; a < argc && strncmp(argv[a], "--", 2) == 0; a++)
                if (strcmp(argv[a], "--ignore-term") == 0)
                        ignore_term = true;
                else if (strcmp(argv[a], "--grandchild") == 0)
                        grandchild = true;
                else
                        break;
        const char *fds = getenv("LISTEN_FDS");
        if (a + 1 != argc || !fds || atoi(fds) < 1) {
                fprintf(stderr, "usage: LISTEN_FDS=1 sv-escapee [--ignore-term] [--grandchild] REPORT (fd 3: a listening socket)\n");
                return 2;
        }
        char marker[64];
        pid_t worker = getpid();
        (void) snprintf(marker, sizeof(marker), "worker=%d\n", (int) worker);
        int ready[2];
        if (pipe2(ready, O_CLOEXEC) < 0)
                return 1;
        pid_t child = fork();
        if (child < 0)
                return 1;
        if (child == 0) {
                close(ready[0]);
                if (setsid() < 0)
                        _exit(1);
                leave_cgroup();
                if (ignore_term)
                        signal(SIGTERM, SIG_IGN);
                pid_t g = grandchild ? fork() : 0;
                if (g < 0)
                        _exit(1);
                if (grandchild && g == 0) {
                        close(ready[1]);
                        serve(3, marker);
                }
                if (g > 0) /* through the pipe, before the worker reports */
                        (void) !write(ready[1], &g, sizeof(g));
                close(ready[1]); /* set up: the worker may report it */
                serve(3, marker);
        }
        close(ready[1]);
        pid_t g = 0;
        char b;
        if (grandchild)
                (void) !read(ready[0], &g, sizeof(g));
        (void) !read(ready[0], &b, 1); /* EOF once the child is set up */
        close(ready[0]);
        FILE *r = fopen(argv[a], "ae");
        if (!r)
                return 1;
        if (g > 0)
                fprintf(r, "worker %d child %d grandchild %d\n", (int) worker, (int) child, (int) g);
        else
                fprintf(r, "worker %d child %d\n", (int) worker, (int) child);
        fclose(r);
        serve(3, marker);
}
