/* sockvisorctl: send one command to sockvisord's control socket and show its reply.
 * This file is the argv side: the words read by src/core/ctlargs.c against the shared verb
 * table (the one sockvisord dispatches on), the help, and dispatch to client.c, why.c,
 * exec.c, tail.c and complete.c. */
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

static const char exit_codes[] = "Exit status:\n"
                                 "  0   the command succeeded\n"
                                 "  1   the daemon answered with an error, or the command failed (the reason is\n"
                                 "      printed), or the reply was cut short; why: a bind would fail\n"
                                 "  2   usage error (an unknown command or option, a missing argument)\n"
                                 "  69  no daemon answers on the control socket (none there, or it refuses)\n"
                                 "  77  permission denied connecting to the control socket\n";

/* One option as help shows it: "  -n, --lines N      the text"; short_only: "-s SOCKET"
 * (a global option whose long name the command uses for one of its own). */
static void option_line(const SvVerbOption *o, bool short_only) {
        char left[48];

        if (short_only)
                (void) snprintf(left, sizeof(left), "-%c %s", o->short_name, o->arg ? o->arg : "");
        else if (o->short_name)
                (void) snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
                                o->arg ? o->arg : "");
        else
                (void) snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        printf("  %-22s %s\n", left, o->help);
}

/* text cut at spaces into lines of at most width columns, each indented. */
static void wrapped(const char *text, const char *indent, size_t width) {
        while (*text) {
                size_t n = strlen(text), take = n;

                if (n > width) {
                        take = width;
                        while (take > 0 && text[take] != ' ')
                                take--;
                        if (take == 0)
                                take = strcspn(text, " ");
                }
                printf("%s%.*s\n", indent, (int) take, text);
                text += take;
                while (*text == ' ')
                        text++;
        }
}

static void help(void) {
        printf("Usage: %s [-s SOCKET] [--json] COMMAND [ARGS...]\n"
               "\n"
               "Control a running sockvisord. Options may come before or after COMMAND; '--' ends them.\n"
               "\n"
               "Options:\n"
               "  -s, --socket SOCKET    the daemon's control socket (default: $SOCKVISOR_SOCKET,\n"
               "                         else " SV_DEFAULT_CONTROL ", the default of control=\n"
               "                         in the [sockvisord] section)\n"
               "      --json             machine-readable output (see each command's --help)\n"
               "  -h, --help             show this help, or COMMAND's, and exit\n"
               "  -V, --version          show the client's version and exit\n"
               "\n"
               "Commands:\n",
               PROG);
        for (SvVerb v = 0; v < _SV_VERB_MAX; v++) {
                const SvVerbInfo *i = sv_verb_info(v);
                char synopsis[64];

                (void) snprintf(synopsis, sizeof(synopsis), "%s %s", i->name, i->args_help);
                printf("  %-24s %s\n", synopsis, i->help);
        }
        printf("\n'%s help COMMAND' or '%s COMMAND --help' shows one command's options and an example.\n\n%s",
               PROG, PROG, exit_codes);
}

static void verb_help(const SvVerbInfo *i) {
        bool any = i->options && i->options[0].name;

        printf("Usage: %s %s%s%s%s\n\n", PROG, i->name, any ? " [OPTIONS]" : "", i->args_help[0] ? " " : "",
               i->args_help);
        wrapped(i->description, "", 78);
        printf("\nOptions:\n");
        for (const SvVerbOption *o = i->options; o && o->name; o++)
                option_line(o, false);
        for (const SvVerbOption *o = sv_ctlargs_global_options(); o->name; o++) {
                bool shadowed = false;
                for (const SvVerbOption *m = i->options; m && m->name; m++)
                        shadowed |= strcmp(m->name, o->name) == 0;
                if (strcmp(o->name, "json") == 0) /* listed above where the command has it */
                        continue;
                if (!shadowed)
                        option_line(o, false);
                else if (o->short_name)
                        option_line(o, true);
        }
        printf("\nExample:\n  %s %s\n\n%s", PROG, i->example, exit_codes);
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

/* help [COMMAND] */
static int help_run(const SvCtlArgs *a) {
        SvVerb v;
        SvDiag d = { 0 };

        if (a->n_operands == 0) {
                help();
                return CTL_EXIT_OK;
        }
        if (sv_ctlargs_find_verb(a->operands[0], &v, &d) < 0)
                return ctl_usage_error("help: %s", d.msg);
        verb_help(sv_verb_info(v));
        return CTL_EXIT_OK;
}

/* upgrade [--exec PATH]: the daemon has another working directory, so a relative PATH is
 * made ours. */
static int upgrade_run(const char *path, const SvCtlArgs *a) {
        const char *exec = sv_ctlargs_value(a, "exec");
        char cwd[4096], abs_path[8192];
        char *sent[2] = { "--exec", (char *) exec };

        if (!exec)
                return ctl_client_run(path, SV_VERB_UPGRADE, NULL, 0, a->json);
        if (exec[0] == '\0')
                return ctl_usage_error("upgrade: --exec needs a path, e.g. " PROG " upgrade --exec /usr/sbin/sockvisord");
        if (exec[0] != '/') {
                if (!getcwd(cwd, sizeof(cwd)) ||
                    snprintf(abs_path, sizeof(abs_path), "%s/%s", cwd, exec) >= (int) sizeof(abs_path))
                        return ctl_usage_error("cannot make '%s' an absolute path; give one", exec);
                sent[1] = abs_path;
        }
        return ctl_client_run(path, SV_VERB_UPGRADE, sent, 2, a->json);
}

int main(int argc, char *argv[]) {
        SvCtlArgs a;
        SvDiag d = { 0 };

        /* Writes to a closed stdout must fail with EPIPE, not kill us mid-command. */
        (void) signal(SIGPIPE, SIG_IGN);

        if (sv_ctlargs_parse(argc, argv, &a, &d) < 0) {
                fprintf(stderr, PROG ": %s\n", d.msg);
                if (a.info)
                        fprintf(stderr, "Try '" PROG " %s --help' for more information.\n", a.info->name);
                else
                        fputs("Try '" PROG " --help' for more information.\n", stderr);
                return CTL_EXIT_USAGE;
        }
        const char *path = control_path(a.socket);

        if (a.complete)
                return ctl_complete_run(path, a.operands, a.n_operands);
        if (a.help) {
                if (a.info && a.verb != SV_VERB_HELP)
                        verb_help(a.info);
                else
                        help();
                return CTL_EXIT_OK;
        }
        if (a.version) {
                printf(PROG " " SV_VERSION "\n");
                return CTL_EXIT_OK;
        }

        switch (a.verb) {
        case SV_VERB_HELP:
                return help_run(&a);
        case SV_VERB_WHY: /* answered here: it needs no daemon */
                return ctl_why_run(a.operands[0], a.json);
        case SV_VERB_EXEC:
                return ctl_exec_run(path, &a);
        case SV_VERB_TAIL:
                return ctl_tail_run(path, &a);
        case SV_VERB_LOGS:
                return ctl_logs_run(path, &a);
        case SV_VERB_UPGRADE:
                return upgrade_run(path, &a);
        case SV_VERB_VERSION:
                /* Ours first, so it shows even when no daemon answers. */
                printf(PROG " " SV_VERSION "\n");
                (void) fflush(stdout);
                break;
        default:
                if (a.info->local) { /* a verb the table says we run, with no code here */
                        fprintf(stderr, PROG ": '%s' is not implemented by this " PROG "\n", a.info->name);
                        return CTL_EXIT_FAILED;
                }
                break;
        }
        return ctl_client_run(path, a.verb, a.operands, a.n_operands, a.json);
}
