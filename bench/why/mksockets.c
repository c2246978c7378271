/* mksockets: hold about N open loopback TCP sockets (one listener on 127.0.0.1:PORT plus
 * connected pairs) for the `sockvisorctl why` benchmark. Bounded: exits after SECONDS. */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
        if (argc != 5) {
                fprintf(stderr, "usage: mksockets PORT N SECONDS READYFILE\n");
                return 64;
        }
        unsigned port = (unsigned) atoi(argv[1]);
        int n = atoi(argv[2]), seconds = atoi(argv[3]);
        struct rlimit rl;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int one = 1, lfd, made = 1;

        if (n < 1 || n > 60000)
                n = 10000;
        alarm((unsigned) seconds);
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t) n + 64) {
                rl.rlim_cur = rl.rlim_max < (rlim_t) n + 64 ? rl.rlim_max : (rlim_t) n + 64;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        (void) setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0) {
                perror("mksockets: listen");
                return 1;
        }
        while (made + 2 <= n) {
                int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (c < 0 || connect(c, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                        fprintf(stderr, "mksockets: connect after %d sockets: %s\n", made, strerror(errno));
                        break;
                }
                int s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (s < 0) {
                        fprintf(stderr, "mksockets: accept after %d sockets: %s\n", made, strerror(errno));
                        break;
                }
                made += 2;
        }
        FILE *f = fopen(argv[4], "we");
        if (f) {
                fprintf(f, "%d\n", made);
                fclose(f);
        }
        for (;;)
                pause();
}
