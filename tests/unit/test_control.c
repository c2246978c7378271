/* Tests for control.c's connection ids, lookup, replies by kind and hang-up callbacks:
 * the real control server on a real unix socket in a temp dir, driven by a real sd-event
 * loop in this process (bounded iterations), with blocking clients on the other end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockvisor/control.h"

#define IDS_MAX 16

typedef struct World {
        char dir[64], path[96];
        sd_event *e;
        SvControl *ctl;
        uint64_t ids[IDS_MAX]; /* dispatched, in order */
        size_t n_ids;
        uint64_t hung_up[IDS_MAX];
        size_t n_hung_up;
        uint64_t detached[IDS_MAX];
        size_t n_detached;
        bool found_during_detach, found_during_hangup;
} World;

static World *W;

static void on_detach(SvCtlConn *c, void *userdata) {
        World *w = userdata;
        uint64_t id = sv_ctl_conn_id(c);
        w->detached[w->n_detached++] = id;
        w->found_during_detach = sv_control_find(w->ctl, id) != NULL;
}

static void on_hangup(void *userdata, uint64_t id) {
        World *w = userdata;
        w->hung_up[w->n_hung_up++] = id;
        w->found_during_hangup = sv_control_find(w->ctl, id) != NULL;
}

/* "hold": answered later, by id. "now": output, progress and OK at once, with '%' in the
 * text (sv_ctl_reply is no format). "fail": ERR. */
static void on_request(void *userdata, SvCtlConn *c, const CtlRequest *req) {
        World *w = userdata;
        w->ids[w->n_ids++] = sv_ctl_conn_id(c);
        if (strcmp(req->verb, "hold") == 0) {
                sv_ctl_set_detach(c, on_detach, w);
                sv_ctl_reply(c, CTL_REPLY_PROGRESS, "holding 100%");
        } else if (strcmp(req->verb, "now") == 0) {
                sv_ctl_reply(c, CTL_REPLY_OUTPUT, "row %s %d");
                sv_ctl_reply(c, CTL_REPLY_PROGRESS, NULL);
                sv_ctl_reply(c, CTL_REPLY_OK, "done");
        } else
                sv_ctl_reply(c, CTL_REPLY_ERR, "no such verb");
}

/* Runs the loop until cond holds, at most 200 iterations of at most 10 ms. */
static bool run_until(bool (*cond)(void)) {
        for (int k = 0; k < 200; k++) {
                if (cond())
                        return true;
                assert_true(sd_event_run(W->e, 10 * 1000) >= 0);
        }
        return cond();
}
static size_t want;
static bool have_ids(void) {
        return W->n_ids >= want;
}
static bool have_hangups(void) {
        return W->n_hung_up >= want;
}

static int client(const char *line, bool half_close) {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        strcpy(sun.sun_path, W->path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *) &sun, sizeof(sun)), 0);
        size_t len = strlen(line);
        assert_int_equal(send(fd, line, len, MSG_NOSIGNAL), (ssize_t) len);
        if (half_close)
                assert_int_equal(shutdown(fd, SHUT_WR), 0);
        return fd;
}

/* Reads what the daemon sent until EOF, running the loop in between; NUL-terminated. */
static size_t read_all(int fd, char *buf, size_t size) {
        size_t have = 0;
        for (int k = 0; k < 400; k++) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, 0) > 0) {
                        ssize_t n = recv(fd, buf + have, size - 1 - have, MSG_DONTWAIT);
                        if (n == 0)
                                break;
                        if (n > 0)
                                have += (size_t) n;
                        else
                                assert_true(errno == EAGAIN || errno == EINTR);
                        continue;
                }
                assert_true(sd_event_run(W->e, 5 * 1000) >= 0);
        }
        buf[have] = '\0';
        return have;
}

static int setup(void **state) {
        SvDiag d = {};
        W = calloc(1, sizeof(World));
        assert_non_null(W);
        strcpy(W->dir, "/tmp/sv-test-control.XXXXXX");
        assert_non_null(mkdtemp(W->dir));
        (void) snprintf(W->path, sizeof(W->path), "%s/ctl.sock", W->dir);
        assert_int_equal(sd_event_new(&W->e), 0);
        int r = sv_control_new(W->e, W->path, 0600, on_request, W, &W->ctl, &d);
        if (r < 0)
                print_error("sv_control_new: %s\n", d.msg);
        assert_int_equal(r, 0);
        sv_control_set_hangup(W->ctl, on_hangup);
        *state = W;
        return 0;
}

static int teardown(void **state) {
        char lock[128];
        W->ctl = sv_control_free(W->ctl);
        W->e = sd_event_unref(W->e);
        (void) snprintf(lock, sizeof(lock), "%s.lock", W->path);
        (void) unlink(lock);
        (void) rmdir(W->dir);
        free(W);
        return 0;
}

static void test_ids_lookup_reply(void **state) {
        char buf[1024];

        assert_null(sv_control_find(W->ctl, 0));
        assert_int_equal(sv_ctl_conn_id(NULL), 0);

        /* 1: answered at once, by kind; the OK ends it */
        int a = client("SOCKVISOR/1 now\n", false);
        read_all(a, buf, sizeof(buf));
        assert_string_equal(buf, "| row %s %d\n. \nOK done\n");
        assert_int_equal(W->n_ids, 1);
        assert_int_equal(W->ids[0], 1);
        assert_null(sv_control_find(W->ctl, 1)); /* finished: gone */
        close(a);

        /* 2 and 3: held, then found by id */
        int b = client("SOCKVISOR/1 hold\n", false);
        int c = client("SOCKVISOR/1 hold\n", true); /* half-closed: only done sending */
        want = 3;
        assert_true(run_until(have_ids));
        assert_int_equal(W->ids[1], 2);
        assert_int_equal(W->ids[2], 3);
        SvCtlConn *cb = sv_control_find(W->ctl, 2), *cc = sv_control_find(W->ctl, 3);
        assert_non_null(cb);
        assert_non_null(cc);
        assert_ptr_not_equal(cb, cc);
        assert_int_equal(sv_ctl_conn_id(cb), 2);
        assert_int_equal(sv_ctl_conn_id(cc), 3);
        assert_null(sv_control_find(W->ctl, 4));

        /* the half-closed one is not a hang-up: a few more loop rounds change nothing */
        for (int k = 0; k < 20; k++)
                assert_true(sd_event_run(W->e, 1000) >= 0);
        assert_int_equal(W->n_hung_up, 0);
        assert_non_null(sv_control_find(W->ctl, 3));
        sv_ctl_reply(sv_control_find(W->ctl, 3), CTL_REPLY_ERR, "late, but delivered");
        assert_null(sv_control_find(W->ctl, 3));
        read_all(c, buf, sizeof(buf));
        assert_string_equal(buf, ". holding 100%\nERR late, but delivered\n");
        close(c);
        assert_int_equal(W->n_hung_up, 0); /* it finished: no hang-up */

        /* 2 goes away entirely: hang-up and detach by id, and the id is dead */
        close(b);
        want = 1;
        assert_true(run_until(have_hangups));
        assert_int_equal(W->n_hung_up, 1);
        assert_int_equal(W->hung_up[0], 2);
        assert_int_equal(W->n_detached, 1);
        assert_int_equal(W->detached[0], 2);
        assert_false(W->found_during_detach);
        assert_false(W->found_during_hangup);
        assert_null(sv_control_find(W->ctl, 2));

        /* ids are never reused: the next client is 4 */
        int d = client("SOCKVISOR/1 fail\n", true);
        read_all(d, buf, sizeof(buf));
        assert_string_equal(buf, "ERR no such verb\n");
        assert_int_equal(W->n_ids, 4);
        assert_int_equal(W->ids[3], 4);
        close(d);

        /* a command still under way when the control is freed gets its hang-up too */
        int e = client("SOCKVISOR/1 hold\n", false);
        want = 5;
        assert_true(run_until(have_ids));
        assert_int_equal(W->ids[4], 5);
        W->ctl = sv_control_free(W->ctl);
        assert_int_equal(W->n_hung_up, 2);
        assert_int_equal(W->hung_up[1], 5);
        close(e);
}

static bool closed_by_daemon(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char c;
        return poll(&p, 1, 0) > 0 && recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

/* Full (256): the oldest connection without a request makes way for each new one, a
 * command under way is never the one, and a real request still gets in and is answered. */
static void test_full_makes_room(void **state) {
        enum { SILENT = 300 };
        static int silent[SILENT];
        char buf[1024];

        int held = client("SOCKVISOR/1 hold\n", false);
        want = 1;
        assert_true(run_until(have_ids));
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        strcpy(sun.sun_path, W->path);
        for (int k = 0; k < SILENT; k++) {
                silent[k] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                assert_true(silent[k] >= 0);
                assert_int_equal(connect(silent[k], (struct sockaddr *) &sun, sizeof(sun)), 0);
                assert_true(sd_event_run(W->e, 0) >= 0); /* accepted before the backlog fills */
        }
        for (int k = 0; k < 5; k++)
                assert_true(sd_event_run(W->e, 1000) >= 0);
        /* 1 held + the 255 newest silent ones stay; the oldest went first */
        for (int k = 0; k < SILENT; k++)
                assert_int_equal(closed_by_daemon(silent[k]), k < SILENT + 1 - 256);
        assert_non_null(sv_control_find(W->ctl, 1));
        assert_int_equal(W->n_hung_up, 0);

        int now = client("SOCKVISOR/1 now\n", false);
        read_all(now, buf, sizeof(buf));
        assert_string_equal(buf, "| row %s %d\n. \nOK done\n");
        close(now);
        for (int k = 0; k < SILENT; k++)
                close(silent[k]);
        close(held);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_ids_lookup_reply, setup, teardown),
                cmocka_unit_test_setup_teardown(test_full_makes_room, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
