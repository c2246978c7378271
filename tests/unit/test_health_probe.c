/* Tests for health.c, the probe runner, for real: a daemon object (sv_daemon_alloc) on a real
 * sd-event loop in this process, HTTP probes against servers on 127.0.0.1 served from that
 * same loop (200, 503, accept-and-never-answer, a closed port), exec probes that really run
 * (/bin/true, a failing shell with output, sleep killed at its timeout). Results are caught
 * through d->probed instead of a supervisor. Every wait is bounded (loop iterations of at
 * most 10 ms, deadlines of a few seconds); only processes started here are killed, by pid;
 * each test checks that no fd is leaked and no child (zombie or not) is left. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/daemon/daemon-internal.h"
#include "sockvisor/healthcheck.h"
#include "sockvisor/procfs.h"

#define REPORTS_MAX 32
#define CONNS_MAX 16

typedef enum Mode { SERVE_200, SERVE_503, SERVE_SILENT } Mode;

typedef struct Report {
        SvInstanceId id;
        bool healthy;
        char why[SV_HEALTH_WHY_MAX];
        uint64_t at; /* usec after the test's t0 */
} Report;

typedef struct Server {
        int fd;
        unsigned port;
        Mode mode;
        sd_event_source *src;
        int conns[CONNS_MAX];
        sd_event_source *conn_src[CONNS_MAX];
        size_t n_conns, accepted;
        char request[1024]; /* the last request read in full */
        size_t req_len;
} Server;

typedef struct Fx {
        SvDaemon *d;
        Report reports[REPORTS_MAX];
        size_t n;
        uint64_t t0;
        int fds_before;
        Server srv;
        SvProgramConf conf;
        char *argv[8];
} Fx;

static Fx *F;

static uint64_t now_usec(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static int count_fds(void) {
        DIR *dir = opendir("/proc/self/fd");
        int n = 0;
        struct dirent *de;
        assert_non_null(dir);
        while ((de = readdir(dir)))
                if (de->d_name[0] != '.')
                        n++;
        (void) closedir(dir);
        return n - 1; /* the directory's own fd */
}

static void on_probed(SvDaemon *d, SvInstanceId id, bool healthy, const char *why) {
        assert_true(F->n < REPORTS_MAX);
        Report *r = &F->reports[F->n++];
        *r = (Report){ .id = id, .healthy = healthy, .at = now_usec() - F->t0 };
        (void) snprintf(r->why, sizeof(r->why), "%s", why);
}

/* Runs the loop until n reports have come, at most max_ms. */
static void run_until(size_t n, unsigned max_ms) {
        uint64_t end = now_usec() + (uint64_t) max_ms * 1000;
        while (F->n < n && now_usec() < end)
                assert_true(sd_event_run(F->d->event, 10 * 1000) >= 0);
}

static void run_for(unsigned ms) {
        uint64_t end = now_usec() + (uint64_t) ms * 1000;
        while (now_usec() < end)
                assert_true(sd_event_run(F->d->event, 10 * 1000) >= 0);
}

/* ---- the server, on the same loop ---- */

static int on_conn(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Server *sv = userdata;
        size_t k = 0;
        while (k < sv->n_conns && sv->conns[k] != fd)
                k++;
        char buf[1024];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0 || k == sv->n_conns) {
                sv->conn_src[k] = sd_event_source_disable_unref(sv->conn_src[k]);
                sv->conns[k] = safe_close(sv->conns[k]);
                return 0;
        }
        if (sv->req_len + (size_t) n < sizeof(sv->request)) {
                memcpy(sv->request + sv->req_len, buf, (size_t) n);
                sv->req_len += (size_t) n;
                sv->request[sv->req_len] = '\0';
        }
        if (!strstr(sv->request, "\r\n\r\n") || sv->mode == SERVE_SILENT)
                return 0;
        const char *answer = sv->mode == SERVE_200 ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                                                   : "HTTP/1.0 503 Service Unavailable\r\n\r\ndown for now";
        assert_int_equal(write(fd, answer, strlen(answer)), (ssize_t) strlen(answer));
        sv->conn_src[k] = sd_event_source_disable_unref(sv->conn_src[k]);
        sv->conns[k] = safe_close(sv->conns[k]);
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Server *sv = userdata;
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0)
                return 0;
        assert_true(sv->n_conns < CONNS_MAX);
        sv->accepted++;
        sv->req_len = 0;
        sv->request[0] = '\0';
        sv->conns[sv->n_conns] = c;
        assert_int_equal(sd_event_add_io(F->d->event, &sv->conn_src[sv->n_conns], c, EPOLLIN, on_conn, sv), 0);
        sv->n_conns++;
        return 0;
}

static unsigned listen_on_loopback(int *ret_fd) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sin);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
        assert_int_equal(listen(fd, 16), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
        *ret_fd = fd;
        return ntohs(sin.sin_port);
}

static void serve(Mode mode) {
        F->srv.mode = mode;
        F->srv.port = listen_on_loopback(&F->srv.fd);
        assert_int_equal(sd_event_add_io(F->d->event, &F->srv.src, F->srv.fd, EPOLLIN, on_accept, &F->srv), 0);
}

/* ---- probe configurations ---- */

static void http_conf(unsigned port, uint64_t interval_ms, uint64_t timeout_ms) {
        static char host[64], target[128];
        char addr[64];
        SvDiag diag = {};
        (void) snprintf(host, sizeof(host), "127.0.0.1:%u", port);
        (void) snprintf(target, sizeof(target), "http://127.0.0.1:%u/healthz", port);
        (void) snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%u", port);
        F->conf.health = (SvHealthCheck){ .kind = SV_HEALTH_HTTP, .text = target, .target = target, .host = host,
                                          .path = "/healthz", .interval_usec = interval_ms * 1000,
                                          .timeout_usec = timeout_ms * 1000, .failures = 3 };
        assert_int_equal(sv_addr_parse(addr, &F->conf.health.addr, &diag), 0);
}

static void exec_conf(uint64_t interval_ms, uint64_t timeout_ms, ...) {
        va_list ap;
        size_t n = 0;
        va_start(ap, timeout_ms);
        for (const char *a; (a = va_arg(ap, const char *)) && n + 1 < ELEMENTSOF(F->argv);)
                F->argv[n++] = (char *) a;
        va_end(ap);
        F->argv[n] = NULL;
        F->conf.health = (SvHealthCheck){ .kind = SV_HEALTH_EXEC, .text = "exec:...", .target = F->argv[0],
                                          .argv = F->argv, .interval_usec = interval_ms * 1000,
                                          .timeout_usec = timeout_ms * 1000, .failures = 3 };
}

/* The one child of ours an exec probe runs now (0: none), waiting at most 1 s for it. */
static pid_t probe_child(void) {
        for (int k = 0; k < 100; k++) {
                pid_t kids[8];
                int n = sv_procfs_children(kids, ELEMENTSOF(kids));
                for (int i = 0; i < n; i++)
                        if (sv_health_owns_pid(F->d, kids[i]))
                                return kids[i];
                run_for(10);
        }
        return 0;
}

/* No child of ours is left, not even a zombie (waiting at most 2 s for the reaping). */
static void assert_no_children(void) {
        for (int k = 0; k < 200; k++) {
                pid_t kids[8];
                if (sv_procfs_children(kids, ELEMENTSOF(kids)) == 0)
                        break;
                run_for(10);
        }
        errno = 0;
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
}

/* ---- fixture ---- */

static int setup(void **state) {
        F = calloc(1, sizeof(Fx));
        SvDiag diag = {};
        F->fds_before = count_fds();
        assert_int_equal(sv_daemon_alloc("/nonexistent/test.ini", false, &F->d, &diag), 0);
        F->d->probed = on_probed;
        F->srv.fd = -EBADF;
        F->conf = (SvProgramConf){ .name = "app", .umask = -1 };
        F->t0 = now_usec();
        return 0;
}

static int teardown(void **state) {
        sv_health_set(F->d, 1, 0, NULL);
        sv_health_set(F->d, 2, 0, NULL);
        run_for(20);
        assert_no_children();
        for (size_t k = 0; k < F->srv.n_conns; k++) {
                sd_event_source_disable_unref(F->srv.conn_src[k]);
                (void) safe_close(F->srv.conns[k]);
        }
        sd_event_source_disable_unref(F->srv.src);
        (void) safe_close(F->srv.fd);
        F->d = sv_daemon_free(F->d);
        /* nothing the runner opened is left open (sd_event_default is unref'ed with the daemon) */
        assert_int_equal(count_fds(), F->fds_before);
        free(F);
        F = NULL;
        return 0;
}

/* ---- HTTP ---- */

static void test_http_200(void **state) {
        serve(SERVE_200);
        /* Times with wide margins (the machine is shared, and CI runs this under ASan): an
         * interval of 600 ms tells "at once" from "after an interval" and a probe's own
         * gap from a missed one, whatever the load. */
        http_conf(F->srv.port, 600, 500);
        sv_health_set(F->d, 1, getpid(), &F->conf);
        assert_int_equal(F->n, 0); /* never inside the op that asked: from the loop */
        run_until(1, 2000);
        assert_int_equal(F->n, 1);
        assert_int_equal(F->reports[0].id, 1);
        assert_true(F->reports[0].healthy);
        assert_string_equal(F->reports[0].why, "HTTP 200 OK");
        assert_true(F->reports[0].at < 450 * 1000); /* the first probe at once, not after 600 ms */
        char want[256];
        (void) snprintf(want, sizeof(want),
                        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUser-Agent: sockvisor-healthcheck\r\n"
                        "Connection: close\r\n\r\n",
                        F->srv.port);
        assert_string_equal(F->srv.request, want);
        /* then every interval, start to start */
        run_until(3, 4000);
        assert_int_equal(F->n, 3);
        for (size_t k = 1; k < 3; k++) {
                uint64_t gap = F->reports[k].at - F->reports[k - 1].at;
                assert_true(F->reports[k].healthy);
                if (gap < 200 * 1000 || gap > 1500 * 1000) /* a slow first answer shortens the gap */
                        print_error("gap %llu us between probes %zu and %zu, interval 600 ms\n",
                                    (unsigned long long) gap, k - 1, k);
                assert_true(gap >= 200 * 1000 && gap < 1500 * 1000);
        }
        /* ended: no probe after that */
        sv_health_set(F->d, 1, 0, NULL);
        size_t accepted = F->srv.accepted;
        run_for(1300);
        assert_int_equal(F->n, 3);
        run_for(10);
        assert_int_equal(F->srv.accepted, accepted);
}

static void test_http_503(void **state) {
        serve(SERVE_503);
        http_conf(F->srv.port, 10000, 1000);
        sv_health_set(F->d, 2, getpid(), &F->conf);
        run_until(1, 2000);
        assert_int_equal(F->n, 1);
        assert_int_equal(F->reports[0].id, 2);
        assert_false(F->reports[0].healthy);
        assert_string_equal(F->reports[0].why, "HTTP 503 Service Unavailable");
}

static void test_http_silent(void **state) {
        serve(SERVE_SILENT);
        http_conf(F->srv.port, 10000, 300);
        sv_health_set(F->d, 1, getpid(), &F->conf);
        run_until(1, 2000);
        assert_int_equal(F->n, 1);
        assert_false(F->reports[0].healthy);
        assert_string_equal(F->reports[0].why, "no answer within 300ms");
        assert_true(F->reports[0].at >= 290 * 1000 && F->reports[0].at < 2000 * 1000);
        assert_int_equal(F->srv.accepted, 1);
        assert_non_null(strstr(F->srv.request, "GET /healthz HTTP/1.1\r\n"));
}

static void test_http_refused(void **state) {
        int fd;
        unsigned port = listen_on_loopback(&fd);
        (void) close(fd); /* nothing listens there now */
        http_conf(port, 10000, 1000);
        sv_health_set(F->d, 1, getpid(), &F->conf);
        run_until(1, 2000);
        assert_int_equal(F->n, 1);
        assert_false(F->reports[0].healthy);
        assert_string_equal(F->reports[0].why, "connection refused");
}

/* Ended while its answer is awaited: no report, and its connection is closed. */
static void test_http_end_in_flight(void **state) {
        serve(SERVE_SILENT);
        http_conf(F->srv.port, 10000, 300);
        sv_health_set(F->d, 1, getpid(), &F->conf);
        for (int k = 0; k < 100 && F->srv.req_len == 0; k++)
                run_for(10);
        assert_true(F->srv.req_len > 0);
        sv_health_set(F->d, 1, 0, NULL);
        run_for(500);
        assert_int_equal(F->n, 0);
        assert_int_equal(F->srv.conns[0], -EBADF); /* the server saw EOF */
}

/* ---- EXEC ---- */

static void test_exec_true(void **state) {
        exec_conf(10000, 1000, "/bin/true", NULL);
        sv_health_set(F->d, 1, getpid(), &F->conf);
        run_until(1, 2000);
        assert_int_equal(F->n, 1);
        assert_true(F->reports[0].healthy);
        assert_string_equal(F->reports[0].why, "exited with status 0");
}

static void test_exec_false_output(void **state) {
        exec_conf(10000, 1000, "/bin/sh", "-c", "echo; echo '  disk full on /var  '; echo more >&2; exit 1", NULL);
        sv_health_set(F->d, 1, getpid(), &F->conf);
        run_until(1, 2000);
        assert_int_equal(F->n, 1);
        assert_false(F->reports[0].healthy);
        assert_string_equal(F->reports[0].why, "exited with status 1: disk full on /var");
        /* stderr goes to the same pipe; PATH lookup of a bare name */
        F->n = 0;
        exec_conf(10000, 1000, "sh", "-c", "echo oops >&2; exit 7", NULL);
        sv_health_set(F->d, 1, getpid(), &F->conf);
        run_until(1, 2000);
        assert_int_equal(F->n, 1);
        assert_string_equal(F->reports[0].why, "exited with status 7: oops");
}

/* Its environment, stdin and fds: the daemon's environment plus SOCKVISOR_*; stdin
 * /dev/null; nothing but 0, 1, 2 open. */
static void test_exec_env_fds(void **state) {
        assert_int_equal(setenv("SV_TEST_MARK", "kept", 1), 0);
        assert_int_equal(setenv("NOTIFY_SOCKET", "/stale", 1), 0);
        exec_conf(10000, 1000, "/bin/sh", "-c",
                  "echo \"$SOCKVISOR_PROGRAM $SOCKVISOR_PID $SV_TEST_MARK ${NOTIFY_SOCKET-unset} "
                  "${SOCKVISOR_GENERATION-none} $(readlink /proc/$$/fd/0) $(ls /proc/$$/fd | tr '\\n' ' ')\"; exit 1",
                  NULL);
        sv_health_set(F->d, 1, 4242, &F->conf);
        run_until(1, 2000);
        (void) unsetenv("NOTIFY_SOCKET");
        (void) unsetenv("SV_TEST_MARK");
        assert_int_equal(F->n, 1);
        /* the shell's own $(...) pipe may show as one more fd of the shell, never ours: the
         * listing is checked from outside in test_exec_timeout_killed */
        const char *want = "exited with status 1: app 4242 kept unset none /dev/null 0 1 2";
        if (strncmp(F->reports[0].why, want, strlen(want)) != 0)
                fail_msg("why: '%s', want it to start '%s'", F->reports[0].why, want);
}

static void test_exec_timeout_killed(void **state) {
        exec_conf(10000, 300, "/bin/sleep", "30", NULL);
        sv_health_set(F->d, 1, getpid(), &F->conf);
        pid_t child = probe_child();
        assert_true(child > 0);
        /* its own process group, and nothing of ours but stdio */
        assert_int_equal(getpgid(child), child);
        char path[64], link[256];
        (void) snprintf(path, sizeof(path), "/proc/%d/fd", (int) child);
        DIR *dir = opendir(path);
        assert_non_null(dir);
        struct dirent *de;
        int fds = 0;
        while ((de = readdir(dir)))
                if (de->d_name[0] != '.') {
                        fds++;
                        assert_true(atoi(de->d_name) <= 2);
                }
        (void) closedir(dir);
        assert_int_equal(fds, 3);
        (void) snprintf(path, sizeof(path), "/proc/%d/fd/0", (int) child);
        ssize_t l = readlink(path, link, sizeof(link) - 1);
        assert_true(l > 0);
        link[l] = '\0';
        assert_string_equal(link, "/dev/null");

        run_until(1, 2000);
        assert_int_equal(F->n, 1);
        assert_false(F->reports[0].healthy);
        assert_string_equal(F->reports[0].why, "killed after 300ms (no exit)");
        assert_true(F->reports[0].at >= 290 * 1000 && F->reports[0].at < 2000 * 1000);
        /* reaped by its child source, not by anyone else */
        for (int k = 0; k < 200 && sv_health_owns_pid(F->d, child); k++)
                run_for(10);
        assert_false(sv_health_owns_pid(F->d, child));
        assert_int_equal(kill(child, 0), -1);
        assert_no_children();
}

/* What a command leaves running in its process group goes with it. */
static void test_exec_leftovers_killed(void **state) {
        exec_conf(10000, 2000, "/bin/sh", "-c", "sleep 30 & echo $!; exit 1", NULL);
        sv_health_set(F->d, 1, getpid(), &F->conf);
        run_until(1, 3000);
        assert_int_equal(F->n, 1);
        const char *p = strstr(F->reports[0].why, ": ");
        assert_non_null(p);
        pid_t bg = (pid_t) atoi(p + 2);
        assert_true(bg > 0);
        /* it was reparented to us (the daemon is a subreaper): killed, and the reaper's
         * waitid(P_ALL) reaps it as an orphan, so it is gone well before its 30 s */
        bool gone = false;
        for (int k = 0; k < 200 && !gone; k++) {
                gone = kill(bg, 0) < 0 && errno == ESRCH;
                if (!gone)
                        run_for(10);
        }
        if (!gone) /* not killed: ours to end (started by this test), then fail */
                (void) kill(bg, SIGKILL);
        assert_true(gone);
}

/* Replaced while a command runs: it is killed unreported, the new probing starts at once. */
static void test_exec_replace_in_flight(void **state) {
        exec_conf(10000, 2000, "/bin/sleep", "30", NULL);
        sv_health_set(F->d, 1, getpid(), &F->conf);
        pid_t child = probe_child();
        assert_true(child > 0);
        exec_conf(10000, 1000, "/bin/true", NULL);
        sv_health_set(F->d, 1, getpid(), &F->conf);
        run_until(1, 2000);
        assert_int_equal(F->n, 1);
        assert_true(F->reports[0].healthy);
        assert_string_equal(F->reports[0].why, "exited with status 0");
        for (int k = 0; k < 200 && sv_health_owns_pid(F->d, child); k++)
                run_for(10);
        assert_false(sv_health_owns_pid(F->d, child));
        run_for(100);
        assert_int_equal(F->n, 1);
}

/* Before an upgrade's execve: the command killed, unreported; probing goes on. */
static void test_exec_drop_in_flight(void **state) {
        exec_conf(400, 300, "/bin/sleep", "30", NULL);
        sv_health_set(F->d, 1, getpid(), &F->conf);
        pid_t child = probe_child();
        assert_true(child > 0);
        sv_health_drop_in_flight(F->d);
        for (int k = 0; k < 200 && sv_health_owns_pid(F->d, child); k++)
                run_for(10);
        assert_false(sv_health_owns_pid(F->d, child));
        assert_int_equal(F->n, 0);
        /* the next probe comes at its time (400 ms after the first started) and times out */
        run_until(1, 2000);
        assert_int_equal(F->n, 1);
        assert_string_equal(F->reports[0].why, "killed after 300ms (no exit)");
        assert_true(F->reports[0].at >= 690 * 1000);
}

static void test_exec_not_found(void **state) {
        exec_conf(10000, 1000, "/nonexistent/check", NULL);
        sv_health_set(F->d, 1, getpid(), &F->conf);
        run_until(1, 2000);
        assert_int_equal(F->n, 1);
        assert_false(F->reports[0].healthy);
        assert_string_equal(F->reports[0].why, "cannot execute /nonexistent/check: No such file or directory");
}

/* user= and directory= of the program. */
static void test_exec_user_directory(void **state) {
        if (geteuid() != 0 || !getpwnam("nobody")) {
                skip();
                return;
        }
        F->conf.user = "nobody";
        F->conf.directory = "/tmp";
        exec_conf(10000, 1000, "/bin/sh", "-c", "echo \"$(id -u) $(pwd) $USER\"; exit 1", NULL);
        sv_health_set(F->d, 1, getpid(), &F->conf);
        run_until(1, 2000);
        assert_int_equal(F->n, 1);
        char want[128];
        (void) snprintf(want, sizeof(want), "exited with status 1: %u /tmp nobody", (unsigned) getpwnam("nobody")->pw_uid);
        assert_string_equal(F->reports[0].why, want);
}

int main(void) {
        /* sd-event child sources need SIGCHLD blocked, as the daemon has it */
        sigset_t ss;
        (void) sigemptyset(&ss);
        (void) sigaddset(&ss, SIGCHLD);
        (void) sigprocmask(SIG_BLOCK, &ss, NULL);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_http_200, setup, teardown),
                cmocka_unit_test_setup_teardown(test_http_503, setup, teardown),
                cmocka_unit_test_setup_teardown(test_http_silent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_http_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_http_end_in_flight, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_true, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_false_output, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_env_fds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_timeout_killed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_leftovers_killed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_replace_in_flight, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_drop_in_flight, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_not_found, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_user_directory, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
