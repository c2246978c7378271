/* sv-notifyflood: datagrams to a NOTIFY_SOCKET as fast as they go, for SECONDS, for the
 * tests. ADDRESS is a path or @abstract, as in $NOTIFY_SOCKET. Says how many were sent, how
 * many would have blocked (the daemon's queue was full) and how many were refused. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MESSAGE "READY=1\nSTATUS=flooding"

static int64_t now_ms(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        if (argc != 3 || strlen(argv[1]) < 2 || strlen(argv[1]) >= sizeof(sun.sun_path) || atoi(argv[2]) < 1 ||
            atoi(argv[2]) > 120) {
                fprintf(stderr, "usage: sv-notifyflood ADDRESS SECONDS (a path or @abstract; 1..120 s)\n");
                return 64;
        }
        strcpy(sun.sun_path, argv[1]);
        socklen_t len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(argv[1]));
        if (sun.sun_path[0] == '@')
                sun.sun_path[0] = '\0'; /* abstract: no trailing NUL counted */
        else
                len++;
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return 71;
        unsigned long long sent = 0, blocked = 0, refused = 0;
        int first_error = 0;
        int64_t end = now_ms() + (int64_t) atoi(argv[2]) * 1000;
        for (;;) {
                for (int k = 0; k < 1024; k++) { /* the clock is read once per 1024 sends */
                        if (sendto(fd, MESSAGE, strlen(MESSAGE), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *) &sun,
                                   len) >= 0)
                                sent++;
                        else if (errno == EAGAIN)
                                blocked++;
                        else {
                                refused++;
                                first_error = first_error ? first_error : errno;
                        }
                }
                if (now_ms() >= end)
                        break;
        }
        printf("sent %llu, would block %llu, refused %llu%s%s\n", sent, blocked, refused, first_error ? ": " : "",
               first_error ? strerror(first_error) : "");
        return 0;
}
