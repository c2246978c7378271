/* sockvisorctl: send one command to sockvisord's control socket and show its reply.
 * This file is the argv side: options, the verb and its argument count against the shared
 * verb table (the one sockvisord dispatches on), help, and dispatch to client.c or why.c. */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "sockvisor/config.h"

int ctl_usage_error(const char *fmt, ...) {
        va_list ap;

        fputs(PROG ": ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry '" PROG " --help' for more information.\n", stderr);
        return CTL_EXIT_USAGE;
}

static void help(void) {
        printf("Usage: %s [-s SOCKET] [-h] [-V] COMMAND [ARGS...]\n"
               "\n"
               "Control a running sockvisord.\n"
               "\n"
               "Options:\n"
               "  -s, --socket=SOCKET  the daemon's control socket (default: $SOCKVISOR_SOCKET,\n"
               "                       else " SV_DEFAULT_CONTROL ", the default of control=\n"
               "                       in the [sockvisord] section)\n"
               "  -h, --help           show this help and exit\n"
               "  -V, --version        show the client's version and exit\n"
               "\n"
               "Commands:\n",
               PROG);
        for (SvVerb v = 0; v < _SV_VERB_MAX; v++) {
                const SvVerbInfo *i = sv_verb_info(v);
                char synopsis[64];

                (void) snprintf(synopsis, sizeof(synopsis), "%s %s", i->name, i->args_help);
                printf("  %-24s %s\n", synopsis, i->help);
        }
        printf("\n"
               "Exit status:\n"
               "  0   the command succeeded\n"
               "  1   the command failed (the daemon's reason is printed), or the reply was cut short\n"
               "  64  usage error\n"
               "  69  no daemon answers on the control socket\n");
}

/* -s, else $SOCKVISOR_SOCKET, else the default of control=. */
static const char *control_path(const char *arg_socket) {
        const char *path = arg_socket;

        if (!path) {
                path = getenv("SOCKVISOR_SOCKET");
                if (!path || path[0] == '\0')
                        path = SV_DEFAULT_CONTROL;
        }
        return path;
}

/* Checks the argument count against the verb table; 0 or the usage exit code. */
static int check_args(const SvVerbInfo *i, size_t n_args) {
        if (n_args >= i->min_args && n_args <= i->max_args)
                return 0;
        if (i->max_args == 0)
                return ctl_usage_error("'%s' takes no arguments", i->name);
        return ctl_usage_error("'%s' expects %s, e.g. '" PROG " %s'", i->name, i->args_help, i->example);
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 },
        };
        const char *arg_socket = NULL, *path;
        const SvVerbInfo *info;
        char list[256];
        SvVerb verb;
        size_t n_args;
        char **args;
        int c, r;

        /* Writes to a closed stdout must fail with EPIPE, not kill us mid-command. */
        (void) signal(SIGPIPE, SIG_IGN);

        /* "+": stop at COMMAND, so "signal -HUP app" style arguments reach the daemon;
         * ":" and opterr = 0: report option errors ourselves, in our own words. */
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:s:hV", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        arg_socket = optarg;
                        break;
                case 'h':
                        help();
                        return CTL_EXIT_OK;
                case 'V':
                        printf(PROG " " SV_VERSION "\n");
                        return CTL_EXIT_OK;
                case ':':
                        if (strncmp(argv[optind - 1], "--", 2) == 0)
                                return ctl_usage_error("option '%s' needs an argument", argv[optind - 1]);
                        return ctl_usage_error("option '-%c' needs an argument", optopt);
                case '?':
                        /* A long option (optopt is 0, or its short twin for "--help=x"). */
                        if (strncmp(argv[optind - 1], "--", 2) == 0)
                                return ctl_usage_error("unknown option '%s', or one that takes no value",
                                                       argv[optind - 1]);
                        return ctl_usage_error("unknown option '-%c'", optopt);
                default:
                        abort();
                }

        path = control_path(arg_socket);
        if (path[0] == '\0')
                return ctl_usage_error("the control socket path given with -s is empty");

        sv_verbs_list(list, sizeof(list), false);
        if (optind >= argc)
                return ctl_usage_error("no command given; commands: %s", list);
        info = sv_verb_find(argv[optind], &verb);
        if (!info)
                return ctl_usage_error("unknown command '%s'; commands: %s", argv[optind], list);

        char *exec_arg[2], cwd[4096], abs_path[8192];
        args = argv + optind + 1;
        n_args = (size_t) (argc - optind - 1);
        /* --json, for every verb the daemon answers but events (which takes it itself) */
        bool json = false;
        if (verb != SV_VERB_WHY && verb != SV_VERB_EXEC && verb != SV_VERB_EVENTS) {
                size_t kept = 0;
                for (size_t k = 0; k < n_args; k++)
                        if (strcmp(args[k], "--json") == 0)
                                json = true;
                        else
                                args[kept++] = args[k];
                n_args = kept;
        }
        r = check_args(info, n_args);
        if (r != 0)
                return r;

        switch (verb) {
        case SV_VERB_WHY: /* answered here: it needs no daemon */
                return ctl_why_run(args, n_args);
        case SV_VERB_EXEC:
                return ctl_exec_run(path, args, n_args);
        case SV_VERB_TAIL:
                return ctl_tail_run(path, args, n_args);
        case SV_VERB_LOGS:
                return ctl_logs_run(path, args, n_args);
        case SV_VERB_UPGRADE:
                /* The daemon has another working directory: a relative PATH is made ours. */
                if (n_args == 1 && strncmp(args[0], "--exec=", 7) == 0) {
                        exec_arg[0] = "--exec";
                        exec_arg[1] = args[0] + 7;
                } else if (n_args == 2 && strcmp(args[0], "--exec") == 0) {
                        exec_arg[0] = args[0];
                        exec_arg[1] = args[1];
                } else if (n_args != 0)
                        return ctl_usage_error("upgrade takes nothing or --exec PATH; for example: " PROG
                                               " upgrade --exec /usr/sbin/sockvisord");
                if (n_args && exec_arg[1][0] != '/') {
                        if (!getcwd(cwd, sizeof(cwd)) ||
                            snprintf(abs_path, sizeof(abs_path), "%s/%s", cwd, exec_arg[1]) >= (int) sizeof(abs_path))
                                return ctl_usage_error("cannot make '%s' an absolute path; give one", exec_arg[1]);
                        exec_arg[1] = abs_path;
                }
                if (n_args) {
                        args = exec_arg;
                        n_args = 2;
                }
                break;
        case SV_VERB_VERSION:
                /* Ours first, so it shows even when no daemon answers. */
                printf(PROG " " SV_VERSION "\n");
                (void) fflush(stdout);
                break;
        default:
                if (info->local) { /* a verb the table says we run, with no code here */
                        fprintf(stderr, PROG ": '%s' is not implemented by this " PROG "\n", info->name);
                        return CTL_EXIT_FAILED;
                }
                break;
        }
        return ctl_client_run(path, verb, args, n_args, json);
}
