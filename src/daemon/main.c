/* sockvisord: binds the listening sockets once, runs the programs on them, and restarts
 * them without ever closing a socket. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "sockvisor/config.h"
#include "sockvisor/daemon.h"
#include "sockvisor/fdlimit.h"
#include "sockvisor/log.h"
#include "sockvisor/process.h"
#include "sockvisor/reloadplan.h"
#include "sockvisor/statefile.h"

static void usage(FILE *f) {
        fprintf(f,
                "Usage: sockvisord [-c FILE] [-t] [-d]\n"
                "Hold listening sockets and run programs on them with zero-downtime restarts.\n\n"
                "  -c, --config FILE  configuration file (default %s)\n"
                "  -t, --check        check the configuration as start-up would, and exit\n"
                "  -d, --debug        log debug messages\n"
                "  -h, --help         show this help\n"
                "  -V, --version      show the version and the upgrade state formats it reads\n\n"
                "'sockvisorctl upgrade' (or SIGUSR2) re-executes sockvisord in place; it passes the internal\n"
                "options --restore FD, --check-state FD and --upgrade-failed WHY to the new binary.\n\n"
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

/* Signals arrive as signalfd sources in the loop: blocked first, so no handler runs in the
 * middle of anything (sd-event also needs SIGCHLD blocked before the first child source). */
static int block_signals(void) {
        sigset_t mask;
        sv_fdlimit_raise(); /* before the first fd: every image, the restored one too */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGUSR2);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                sv_log_errno(LOG_ERR, errno, "cannot block signals");
                return -errno;
        }
        return 0;
}

static int run_daemon(SvDaemon *daemon) {
        int r = sv_daemon_run(daemon);
        sv_daemon_free(daemon);
        log_info("sockvisord stopped");
        return r;
}

/* The next image of an upgrade (or the previous one taking a failed upgrade back). */
static int run_restored(int memfd, const char *failed) {
        SvDaemon *daemon = NULL;
        SvDiag d = { 0 };
        (void) signal(SIGPIPE, SIG_IGN);
        if (block_signals() < 0)
                return EX_OSERR;
        if (sv_daemon_restore(memfd, failed, &daemon, &d) < 0) {
                log_error("%s", d.msg);
                if (!failed)
                        sv_daemon_fall_back(memfd, d.msg); /* returns only if it cannot */
                log_error("sockvisord cannot go on: the sockets stay in the service manager's fd store, if any");
                return EX_SOFTWARE;
        }
        (void) close(memfd);
        return run_daemon(daemon);
}

int main(int argc, char **argv) {
        enum { OPT_RESTORE = 256, OPT_CHECK_STATE, OPT_UPGRADE_FAILED };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check", no_argument, NULL, 't' },
                { "debug", no_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { "restore", required_argument, NULL, OPT_RESTORE },
                { "check-state", required_argument, NULL, OPT_CHECK_STATE },
                { "upgrade-failed", required_argument, NULL, OPT_UPGRADE_FAILED },
                {},
        };
        const char *config_path = SV_DEFAULT_CONFIG, *upgrade_failed = NULL;
        bool check = false, debug = false;
        int c, restore_fd = -1, check_state_fd = -1;

        while ((c = getopt_long(argc, argv, "c:tdhV", options, NULL)) >= 0)
                switch (c) {
                case OPT_RESTORE:
                case OPT_CHECK_STATE: {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || v < 3 || v > INT32_MAX) {
                                fprintf(stderr, "sockvisord: --%s takes an fd number, not '%s'\n",
                                        c == OPT_RESTORE ? "restore" : "check-state", optarg);
                                return EX_USAGE;
                        }
                        *(c == OPT_RESTORE ? &restore_fd : &check_state_fd) = (int) v;
                        break;
                }
                case OPT_UPGRADE_FAILED:
                        upgrade_failed = optarg;
                        break;
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
                        printf("sockvisord %s\nupgrade state formats: %s\n", SV_VERSION, SV_STATE_VERSIONS);
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

        if (check_state_fd >= 0) {
                SvDiag d = { 0 };
                if (sv_daemon_check_state(check_state_fd, &d) < 0) {
                        fprintf(stderr, "sockvisord: %s\n", d.msg);
                        return EX_DATAERR;
                }
                return 0;
        }
        if (restore_fd >= 0)
                return run_restored(restore_fd, upgrade_failed);

        /* As supervisord: a relative -c is taken from the directory we started in, so
         * %(here)s is absolute and a reload finds the same file whatever the cwd is then. */
        char abs_path[PATH_MAX];
        if (config_path[0] != '/') {
                char cwd[PATH_MAX];
                if (!getcwd(cwd, sizeof(cwd)) || snprintf(abs_path, sizeof(abs_path), "%s/%s", cwd, config_path) >=
                                                          (int) sizeof(abs_path)) {
                        fprintf(stderr, "sockvisord: cannot make the config path '%s' absolute: %s; give -c an absolute "
                                        "path\n", config_path, strerror(errno ? errno : ENAMETOOLONG));
                        return EX_USAGE;
                }
                config_path = abs_path;
        }

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
        if (block_signals() < 0) {
                sv_config_free(config);
                return EX_OSERR;
        }
        SvDaemon *daemon = NULL;
        if (sv_daemon_new(config_path, config, debug, &daemon, &d) < 0) {
                log_error("%s", d.msg);
                return EX_OSERR;
        }
        return run_daemon(daemon);
}
