/* sockvisord: binds the listening sockets once, runs the programs on them, and restarts
 * them without ever closing a socket. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sysexits.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "sockvisor/config.h"
#include "sockvisor/log.h"
#include "sockvisor/manager.h"

static void usage(FILE *f) {
        fprintf(f,
                "Usage: sockvisord [-c FILE] [-t] [-d]\n"
                "Hold listening sockets and run programs on them with zero-downtime restarts.\n\n"
                "  -c, --config FILE  configuration file (default %s)\n"
                "  -t, --check        check the configuration and exit\n"
                "  -d, --debug        log debug messages\n"
                "  -h, --help         show this help\n"
                "  -V, --version      show the version\n\n"
                "Exit status: 0 ok, 1 runtime failure, 64 usage, 71 cannot set up (bind, control socket),\n"
                "78 configuration error.\n",
                SV_DEFAULT_CONFIG);
}

/* Fds 0-2 must be open: otherwise the first socket we open becomes "stdout". */
static void ensure_stdio(void) {
        for (int fd = 0; fd < 3; fd++)
                if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
                        int n = open("/dev/null", O_RDWR); /* lands on fd: the lowest free number */
                        if (n >= 0 && n != fd)
                                (void) close(n);
                }
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        SvManager *m = userdata;
        sv_manager_shutdown(m, si->ssi_signo == SIGINT ? "SIGINT received" : "SIGTERM received");
        return 0;
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("SIGHUP received");
        sv_manager_reload(userdata);
        return 0;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' }, { "check", no_argument, NULL, 't' },
                { "debug", no_argument, NULL, 'd' },        { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },      {},
        };
        const char *config_path = SV_DEFAULT_CONFIG;
        bool check = false, debug = false;
        int c;

        while ((c = getopt_long(argc, argv, "c:tdhV", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case 't':
                        check = true;
                        break;
                case 'd':
                        debug = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("sockvisord %s\n", SV_VERSION);
                        return 0;
                default:
                        usage(stderr);
                        return EX_USAGE;
                }
        if (optind < argc) {
                fprintf(stderr, "sockvisord: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return EX_USAGE;
        }

        ensure_stdio();
        sv_log_init("sockvisord", debug);

        SvConfig *config = NULL;
        SvDiag d = { 0 };
        if (sv_config_parse_file(config_path, &config, &d) < 0) {
                fprintf(stderr, "sockvisord: %s\n", d.msg);
                return EX_CONFIG;
        }
        if (check) {
                printf("%s: configuration OK (%zu sockets, %zu programs)\n", config_path, config->n_sockets,
                       config->n_programs);
                sv_config_free(config);
                return 0;
        }

        /* Workers must not get SIGPIPE'd state from us: the child resets dispositions anyway. */
        (void) signal(SIGPIPE, SIG_IGN);
        /* sd-event needs SIGCHLD blocked before the first child source; TERM/INT/HUP arrive
         * as signalfd sources, so no handler runs in the middle of anything. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                sv_log_errno(LOG_ERR, errno, "cannot block signals");
                return EX_OSERR;
        }

        sd_event *e = NULL;
        int r = sd_event_default(&e);
        if (r < 0) {
                sv_config_free(config);
                sv_log_errno(LOG_ERR, r, "cannot create the event loop");
                return EX_OSERR;
        }

        /* Sockets from systemd (socket units, or our own fd store after a restart). Unset, so
         * nothing we start mistakes them for its own. */
        char **passed_names = NULL;
        int n_passed = sd_listen_fds_with_names(1, &passed_names);
        if (n_passed < 0) {
                sv_log_errno(LOG_WARNING, n_passed, "cannot read LISTEN_FDS; binding every socket");
                n_passed = 0;
        }
        SvManager *m = NULL;
        r = sv_manager_new(e, config_path, config, n_passed, passed_names, &m, &d);
        for (int k = 0; passed_names && passed_names[k]; k++)
                free(passed_names[k]);
        free(passed_names);
        if (r < 0) {
                log_error("%s", d.msg);
                sd_notifyf(0, "STATUS=failed to start: %s", d.msg);
                sd_event_unref(e);
                return EX_OSERR;
        }
        (void) sd_event_add_signal(e, NULL, SIGTERM, on_term, m);
        (void) sd_event_add_signal(e, NULL, SIGINT, on_term, m);
        (void) sd_event_add_signal(e, NULL, SIGHUP, on_hup, m);
        (void) sd_event_set_watchdog(e, true);

        log_info("sockvisord %s running (pid %d)", SV_VERSION, (int) getpid());
        sv_manager_start_all(m); /* READY=1 follows once the programs are ready */

        r = sd_event_loop(e);
        if (r < 0)
                sv_log_errno(LOG_ERR, r, "event loop failed");
        sv_manager_free(m);
        sd_event_unref(e);
        log_info("sockvisord stopped");
        return r < 0 ? 1 : 0;
}
