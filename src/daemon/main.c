/* sockvisord: binds the listening sockets once, runs the programs on them, and restarts
 * them without ever closing a socket. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "sockvisor/config.h"
#include "sockvisor/daemon.h"
#include "sockvisor/log.h"
#include "sockvisor/process.h"
#include "sockvisor/reloadplan.h"

static void usage(FILE *f) {
        fprintf(f,
                "Usage: sockvisord [-c FILE] [-t] [-d]\n"
                "Hold listening sockets and run programs on them with zero-downtime restarts.\n\n"
                "  -c, --config FILE  configuration file (default %s)\n"
                "  -t, --check        check the configuration as start-up would, and exit\n"
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

/* Everything start-up checks before it binds: the file, its users and groups, and the
 * plan of applying it to an empty runtime. A failure is a configuration error (78). */
static int config_load(const char *path, SvConfig **ret, SvDiag *d) {
        SvConfig *cfg = NULL;
        SvReloadPlan plan = {};
        int r = sv_config_parse_file(path, &cfg, d);
        if (r >= 0)
                r = sv_config_check_users(cfg, d);
        if (r >= 0)
                r = sv_reload_plan(&(SvRuntimeView){}, cfg, &plan, d);
        sv_reload_plan_done(&plan);
        if (r < 0) {
                sv_config_free(cfg);
                return r;
        }
        *ret = cfg;
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
        if (config_load(config_path, &config, &d) < 0) {
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
                sv_config_free(config);
                sv_log_errno(LOG_ERR, errno, "cannot block signals");
                return EX_OSERR;
        }

        SvDaemon *daemon = NULL;
        int r = sv_daemon_new(config_path, config, &daemon, &d);
        if (r < 0) {
                log_error("%s", d.msg);
                return EX_OSERR;
        }
        r = sv_daemon_run(daemon);
        sv_daemon_free(daemon);
        log_info("sockvisord stopped");
        return r;
}
