/* The control verbs, shared by sockvisorctl and sockvisord. */
#include "sockvisor/ctlverbs.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sockvisor/ctlproto.h"
#include "sockvisor/macro.h"

/* The options commands take besides the global ones (-s, -h); each list ends with { NULL }. */
#define JSON_ROWS { "json", 0, NULL, "print one JSON array, a row per line of the table" }
#define JSON_LINES { "json", 0, NULL, "print the progress and the outcome as JSON lines" }
static const SvVerbOption opts_rows[] = { JSON_ROWS, { NULL } };
static const SvVerbOption opts_lines[] = { JSON_LINES, { NULL } };
static const SvVerbOption opts_upgrade[] = {
        { "exec", 0, "PATH", "the sockvisord binary to become (default: the running one's)" }, JSON_LINES, { NULL }
};
static const SvVerbOption opts_why[] = { { "json", 0, NULL, "print the facts and the findings as one JSON object" },
                                         { NULL } };
static const SvVerbOption opts_exec[] = { { "socket", 0, "NAME", "a held socket to fetch (repeat for more)" },
                                          { NULL } };
static const SvVerbOption opts_events[] = { { "json", 0, NULL, "one JSON object per line" }, { NULL } };
static const SvVerbOption opts_tail[] = {
        { "follow", 'f', NULL, "go on printing what is written, across restarts and rotation" },
        { "lines", 'n', "N", "how many of the last lines to print first (default 10)" },
        { NULL },
};
static const SvVerbOption opts_logs[] = { { "lines", 'n', "N", "how many of the last lines of each file to print first" },
                                          { NULL } };
static const SvVerbOption opts_none[] = { { NULL } };

static const SvVerbInfo verbs[_SV_VERB_MAX] = {
        [SV_VERB_STATUS] = { .name = "status", .min_args = 0, .max_args = SIZE_MAX, .max_operands = SIZE_MAX,
                             .quick = true, .args_help = "[NAME...]", .example = "status app",
                             .help = "show programs and their instances",
                             .description = "One row per instance: state, pid, generation, uptime, processes, CPU, memory, "
                                            "sockets and the worker's STATUS= line, its health or why it failed. "
                                            "NAME is a program or one instance of it (pool:1); none means all.",
                             .options = opts_rows },
        [SV_VERB_START] = { .name = "start", .min_args = 1, .max_args = SIZE_MAX, .min_operands = 1,
                            .max_operands = SIZE_MAX, .args_help = "NAME...|all", .example = "start app",
                            .help = "start programs; waits until they are ready",
                            .description = "Starts the programs named (all: every one) and waits until each is ready, "
                                           "saying what it waits for.",
                            .options = opts_lines },
        [SV_VERB_STOP] = { .name = "stop", .min_args = 1, .max_args = SIZE_MAX, .min_operands = 1,
                           .max_operands = SIZE_MAX, .args_help = "NAME...|all", .example = "stop app",
                           .help = "stop programs (waits for them to drain); cancels a start or restart under way",
                           .description = "Sends each program's stopsignal, waits up to its stopwaitsecs for it to "
                                          "drain and exit, then SIGKILL. A start or restart under way is cancelled.",
                           .options = opts_lines },
        [SV_VERB_RESTART] = { .name = "restart", .min_args = 1, .max_args = SIZE_MAX, .min_operands = 1,
                              .max_operands = SIZE_MAX, .args_help = "NAME...|all", .example = "restart app",
                              .help = "replace programs with no dropped connections (starts stopped ones)",
                              .description = "Starts a new generation on the same sockets, waits until it is ready, "
                                             "then drains the old one: no client sees a refused or reset "
                                             "connection. A generation that fails to get ready is stopped and the "
                                             "old one keeps serving (exit 1). Each step is shown with its duration.",
                              .options = opts_lines },
        [SV_VERB_PID] = { .name = "pid", .min_args = 0, .max_args = SIZE_MAX, .max_operands = SIZE_MAX,
                          .quick = true, .args_help = "[NAME...|all]", .example = "pid app",
                          .help = "print the daemon's pid, or the pids of programs' instances",
                          .description = "With no NAME, sockvisord's own pid; else one pid per line for each "
                                         "running instance of the programs named.",
                          .options = opts_rows },
        [SV_VERB_SIGNAL] = { .name = "signal", .min_args = 2, .max_args = SIZE_MAX, .min_operands = 2,
                             .max_operands = SIZE_MAX, .quick = true, .args_help = "SIG NAME...",
                             .example = "signal HUP app", .help = "send a signal to programs",
                             .description = "Sends SIG (HUP, SIGHUP or a number) to the current worker of each "
                                            "program named.",
                             .options = opts_lines },
        [SV_VERB_SOCKETS] = { .name = "sockets", .min_args = 0, .max_args = 1, .quick = true, .args_help = "",
                              .example = "sockets --json", .help = "list the held sockets: address, fd, inode, users",
                              .description = "Every socket sockvisord holds: its name, address, fd, inode, how many "
                                             "processes hold it, its state and kind.",
                              .options = opts_rows },
        [SV_VERB_RELOAD] = { .name = "reload", .min_args = 0, .max_args = 0, .args_help = "", .example = "reload",
                             .help = "re-read the configuration, apply the difference, wait for what it started",
                             .description = "Re-reads the configuration file. A file with an error changes nothing "
                                            "(exit 1, with file:line); else sockets and programs that did not change "
                                            "keep running, and new or changed ones are started.",
                             .options = opts_lines },
        [SV_VERB_SHUTDOWN] = { .name = "shutdown", .min_args = 0, .max_args = 0, .args_help = "",
                               .example = "shutdown", .help = "stop every program and exit the daemon",
                               .description = "Stops every program as stop does, then sockvisord exits.",
                               .options = opts_lines },
        [SV_VERB_UPGRADE] = { .name = "upgrade", .min_args = 0, .max_args = 2, .quick = true, .args_help = "",
                              .example = "upgrade --exec /usr/sbin/sockvisord",
                              .help = "re-execute sockvisord in place (a new build): same pid, sockets and workers",
                              .description = "sockvisord re-executes itself (or PATH) with its state in a memfd: the "
                                             "same pid, so workers stay its children, and the same sockets.",
                              .options = opts_upgrade },
        [SV_VERB_VERSION] = { .name = "version", .min_args = 0, .max_args = 0, .quick = true, .args_help = "",
                              .example = "version", .help = "print the client's and the daemon's versions",
                              .description = "The client's version, then the daemon's and its protocol's.",
                              .options = opts_lines },
        [SV_VERB_WHY] = { .name = "why", .min_args = 1, .max_args = 1, .min_operands = 1, .max_operands = 1,
                          .quick = true, .local = true, .args_help = "ADDRESS|PORT", .example = "why 127.0.0.1:8080",
                          .help = "who holds an address, why a bind fails, and the fix (no daemon needed)",
                          .description = "The port doctor: the sockets in the way of a bind of ADDRESS (listeners "
                                         "with their pids, TIME_WAIT, connections, stale unix files) and the fix. "
                                         "ADDRESS is a port (8080), HOST:PORT (127.0.0.1:8080, [::1]:8080, :8080), "
                                         "tcp://, udp://, unix:/path or unix:@name. Exit 0: a bind would succeed "
                                         "now; 1: it would fail (the cause is printed); 2: usage.",
                          .options = opts_why },
        [SV_VERB_FETCH] = { .name = "fetch", .min_args = 1, .max_args = SV_FETCH_MAX, .min_operands = 1,
                            .max_operands = SV_FETCH_MAX, .quick = true, .args_help = "NAME...",
                            .example = "fetch web",
                            .help = "send held sockets over the control socket (SCM_RIGHTS); what exec uses",
                            .description = "Asks for the held sockets named; the fds come with the answer and are "
                                           "closed here. exec is what uses it.",
                            .options = opts_lines },
        [SV_VERB_EXEC] = { .name = "exec", .min_args = 0, .max_args = 0, .max_operands = SIZE_MAX, .quick = true, .local = true,
                           .keeps_rest = true, .args_help = "--socket NAME... -- COMMAND [ARGS...]",
                           .example = "exec --socket web -- /usr/bin/server",
                           .help = "run COMMAND on held sockets (fd 3.., LISTEN_FDS), fetched from sockvisord",
                           .description = "Fetches the held sockets named (SCM_RIGHTS), puts them at fd 3, 4, ... with "
                                          "LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID, and becomes COMMAND. Every word "
                                          "after '--' is COMMAND's.",
                           .options = opts_exec },
        [SV_VERB_EVENTS] = { .name = "events", .min_args = 0, .max_args = 1, .args_help = "", .example = "events --json",
                             .help = "the state now, then every transition and milestone as it happens, until Ctrl-C",
                             .description = "First the state of every instance, then each transition and milestone "
                                            "as it happens, until Ctrl-C or sockvisord stops (exit 0).",
                             .options = opts_events },
        [SV_VERB_LOGFILES] = { .name = "logfiles", .min_args = 0, .max_args = SIZE_MAX, .max_operands = SIZE_MAX,
                               .quick = true, .args_help = "[NAME...]", .example = "logfiles app",
                               .help = "where programs' stdout and stderr go: a file, the journal, inherited, none",
                               .description = "One line per program and stream: where its output goes.",
                               .options = opts_lines },
        [SV_VERB_TAIL] = { .name = "tail", .min_args = 1, .max_args = 2, .min_operands = 1, .max_operands = 2,
                           .quick = true, .local = true, .args_help = "NAME [stdout|stderr]", .example = "tail -f app",
                           .help = "the last lines of a program's log file (-f: and what follows, across rotation)",
                           .description = "Reads the log file sockvisord writes for NAME's stdout (or stderr), with "
                                          "your own rights.",
                           .options = opts_tail },
        [SV_VERB_LOGS] = { .name = "logs", .min_args = 0, .max_args = SIZE_MAX, .max_operands = SIZE_MAX,
                           .quick = true, .local = true, .args_help = "[NAME...]", .example = "logs app",
                           .help = "follow the log files of every program (or those named), each line prefixed",
                           .description = "Follows the log files of every program (or those named), each line "
                                          "prefixed with its program, until Ctrl-C.",
                           .options = opts_logs },
        [SV_VERB_HELP] = { .name = "help", .min_args = 0, .max_args = 1, .max_operands = 1, .quick = true,
                           .local = true, .args_help = "[COMMAND]", .example = "help restart",
                           .help = "the list of commands, or one command's synopsis, options and example",
                           .description = "With no COMMAND, the general help; else what COMMAND --help prints.",
                           .options = opts_none },
};

const SvVerbInfo *sv_verb_info(SvVerb v) {
        return v < _SV_VERB_MAX ? &verbs[v] : NULL;
}

const SvVerbInfo *sv_verb_find(const char *name, SvVerb *ret_verb) {
        for (size_t k = 0; k < ELEMENTSOF(verbs); k++)
                if (strcmp(verbs[k].name, name) == 0) {
                        if (ret_verb)
                                *ret_verb = (SvVerb) k;
                        return &verbs[k];
                }
        return NULL;
}

void sv_verbs_list(char *buf, size_t len, bool daemon_only) {
        size_t o = 0;
        if (len == 0)
                return;
        buf[0] = '\0';
        for (size_t k = 0; k < ELEMENTSOF(verbs) && o < len; k++) {
                if (daemon_only && verbs[k].local)
                        continue;
                int n = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", verbs[k].name);
                if (n < 0)
                        break;
                o += (size_t) n;
        }
}
