/* sockvisorctl: send one command to sockvisord's control socket and show its reply. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockvisor/ctlproto.h"
#include "sockvisor/doctor.h"
#include "sockvisor/macro.h"

#define PROG "sockvisorctl"
#define DEFAULT_CONTROL "/run/sockvisor/control.sock"

/* Exit codes (sysexits), documented in --help. */
enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,       /* the daemon answered ERR, or the exchange broke down */
        EXIT_USAGE = 64,       /* EX_USAGE */
        EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE: no daemon answers on the socket */
};

/* Read-only commands get an answer at once; a daemon that says nothing for this long is
 * stuck. Commands that wait for workers (start, stop, restart, ...) have no client-side
 * timeout: the daemon bounds them (ready_timeout, stopwaitsecs) and reports progress. */
#define QUICK_TIMEOUT_MS (60 * 1000)

typedef struct CtlCommand {
        const char *name;
        size_t min_args;
        size_t max_args; /* SIZE_MAX: no limit other than the protocol's */
        bool quick;      /* answered without waiting for workers: apply QUICK_TIMEOUT_MS */
        const char *args_help;
        const char *example; /* shown when the arguments are wrong */
        const char *help;
} CtlCommand;

static const CtlCommand commands[] = {
        { "status", 0, SIZE_MAX, true, "[NAME...]", "status app", "show programs and their instances" },
        { "start", 1, SIZE_MAX, false, "NAME...|all", "start app", "start programs" },
        { "stop", 1, SIZE_MAX, false, "NAME...|all", "stop app", "stop programs (waits for them to drain)" },
        { "restart", 1, SIZE_MAX, false, "NAME...|all", "restart app", "replace programs with no dropped connections" },
        { "pid", 0, SIZE_MAX, true, "[NAME...|all]", "pid app", "print the daemon's pid, or the pids of programs' instances" },
        { "signal", 2, SIZE_MAX, true, "SIG NAME...", "signal HUP app", "send a signal to programs" },
        { "sockets", 0, 0, true, "", "sockets", "list the held sockets: address, fd, inode, users" },
        { "reload", 0, 0, false, "", "reload", "re-read the configuration and apply the difference" },
        { "shutdown", 0, 0, false, "", "shutdown", "stop every program and exit the daemon" },
        { "version", 0, 0, true, "", "version", "print the client's and the daemon's versions" },
        { "why", 1, 2, true, "[--json] ADDRESS|PORT", "why 8080",
          "who holds an address, why a bind fails, and the fix (no daemon needed)" },
};

static const char *arg_socket = NULL;

static const CtlCommand *command_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(commands[i].name, name) == 0)
                        return &commands[i];
        return NULL;
}

static void help(void) {
        printf("Usage: %s [-s SOCKET] [-h] [-V] COMMAND [ARGS...]\n"
               "\n"
               "Control a running sockvisord.\n"
               "\n"
               "Options:\n"
               "  -s, --socket=SOCKET  the daemon's control socket (default: $SOCKVISOR_SOCKET,\n"
               "                       else " DEFAULT_CONTROL ", the default of control=\n"
               "                       in the [sockvisord] section)\n"
               "  -h, --help           show this help and exit\n"
               "  -V, --version        show the client's version and exit\n"
               "\n"
               "Commands:\n",
               PROG);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
                char synopsis[64];

                (void) snprintf(synopsis, sizeof(synopsis), "%s %s", commands[i].name, commands[i].args_help);
                printf("  %-24s %s\n", synopsis, commands[i].help);
        }
        printf("\n"
               "Exit status:\n"
               "  0   the command succeeded\n"
               "  1   the command failed (the daemon's reason is printed), or the reply was cut short\n"
               "  64  usage error\n"
               "  69  no daemon answers on the control socket\n");
}

static void command_list(char *out, size_t len) {
        size_t pos = 0;

        out[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(commands) && pos < len; i++) {
                int k = snprintf(out + pos, len - pos, "%s%s", i > 0 ? ", " : "", commands[i].name);
                if (k < 0)
                        break;
                pos += (size_t) k;
        }
}

_printf_(1, 2) static int usage_error(const char *fmt, ...) {
        va_list ap;

        fputs(PROG ": ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry '" PROG " --help' for more information.\n", stderr);
        return EXIT_USAGE;
}

/* Connects to the control socket. On failure prints one line naming the path and what
 * to do, and returns the exit code; on success returns 0 and sets *ret_fd. */
static int control_connect(const char *path, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n = strlen(path);
        int r;

        if (n >= sizeof(sa.sun_path)) {
                fprintf(stderr, PROG ": control socket path is %zu bytes long, a unix socket path holds at most %zu "
                        "(use a shorter control= path): %s\n", n, sizeof(sa.sun_path) - 1, path);
                return EXIT_UNAVAILABLE;
        }
        memcpy(sa.sun_path, path, n + 1);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                fprintf(stderr, PROG ": cannot create a unix socket: %s\n", strerror(errno));
                return EXIT_UNAVAILABLE;
        }

        r = connect(fd, (const struct sockaddr *) &sa, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1));
        if (r < 0 && errno == EINTR) {
                /* The connection goes on in the background: wait for it, then ask how it went. */
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                int err = 0;
                socklen_t errlen = sizeof(err);

                while ((r = poll(&p, 1, -1)) < 0 && errno == EINTR)
                        ;
                if (r >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) >= 0) {
                        errno = err;
                        r = err == 0 ? 0 : -1;
                } else
                        r = -1;
        }
        if (r < 0) {
                switch (errno) {
                case ENOENT:
                        fprintf(stderr, PROG ": no sockvisord control socket at %s (is sockvisord running? give its control= path with -s)\n", path);
                        break;
                case ECONNREFUSED:
                        fprintf(stderr, PROG ": nothing is listening on %s (stale socket file; is sockvisord running?)\n", path);
                        break;
                case EACCES:
                case EPERM:
                        fprintf(stderr, PROG ": permission denied on %s (the control socket is 0600: run as its owner or root)\n", path);
                        break;
                default:
                        fprintf(stderr, PROG ": cannot connect to %s: %s\n", path, strerror(errno));
                        break;
                }
                return EXIT_UNAVAILABLE;
        }

        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int send_all(int fd, const char *buf, size_t len) {
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL); /* EPIPE, never SIGPIPE */
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Prints reply text as a line; control bytes become '?' should a daemon send any, so the
 * terminal never interprets them. Returns 0 or -errno. */
static int print_text(FILE *f, const char *text, size_t len, bool flush) {
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) text[i];

                if (putc(c < 0x20 || c == 0x7f ? '?' : c, f) == EOF)
                        return -errno;
        }
        if (putc('\n', f) == EOF || (flush && fflush(f) == EOF))
                return -errno;
        return 0;
}

/* Reads reply lines until the final one and returns the exit code. */
static int read_reply(int fd, const char *path, int timeout_ms) {
        static CtlFramer framer; /* 8 KiB: keep it off the stack */
        int out_r = 0; /* first stdout error: keep reading, the command runs on regardless */

        ctl_framer_init(&framer);

        for (;;) {
                char *line, *p;
                size_t len, avail;
                ssize_t n;
                int r;

                while ((r = ctl_framer_next(&framer, &line, &len)) == 1) {
                        CtlReplyKind kind;
                        const char *text;
                        size_t text_len;

                        r = ctl_reply_parse(line, len, &kind, &text, &text_len);
                        if (r < 0) {
                                char shown[84];
                                size_t k = len > 80 ? 80 : len;

                                for (size_t i = 0; i < k; i++)
                                        shown[i] = ((unsigned char) line[i] < 0x20 || line[i] == 0x7f) ? '?' : line[i];
                                strcpy(shown + k, len > k ? "..." : "");
                                (void) fflush(stdout);
                                fprintf(stderr, PROG ": malformed reply from %s: '%s' (is it the control socket of a "
                                        "sockvisord of the same release?)\n", path, shown);
                                return EXIT_FAILED;
                        }

                        switch (kind) {
                        case CTL_REPLY_PROGRESS:
                        case CTL_REPLY_OUTPUT:
                                if (out_r == 0)
                                        out_r = print_text(stdout, text, text_len, kind == CTL_REPLY_PROGRESS);
                                break;
                        case CTL_REPLY_OK:
                                if (out_r == 0 && text_len > 0)
                                        out_r = print_text(stdout, text, text_len, false);
                                if (out_r == 0 && fflush(stdout) == EOF)
                                        out_r = -errno;
                                /* A reader that went away (| head) is not a failure of the command. */
                                if (out_r < 0 && out_r != -EPIPE) {
                                        fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(-out_r));
                                        return EXIT_FAILED;
                                }
                                return EXIT_OK;
                        case CTL_REPLY_ERR:
                                (void) fflush(stdout);
                                if (text_len == 0)
                                        fprintf(stderr, PROG ": the command failed (the daemon gave no reason)\n");
                                else {
                                        fputs(PROG ": ", stderr);
                                        (void) print_text(stderr, text, text_len, false);
                                }
                                return EXIT_FAILED;
                        default:
                                abort(); /* ctl_reply_parse returns only the kinds above */
                        }
                }
                if (r == -EMSGSIZE) {
                        (void) fflush(stdout);
                        fprintf(stderr, PROG ": malformed reply from %s: a line longer than %d bytes\n",
                                path, CTL_LINE_MAX);
                        return EXIT_FAILED;
                }

                if (timeout_ms >= 0) {
                        struct pollfd pfd = { .fd = fd, .events = POLLIN };

                        r = poll(&pfd, 1, timeout_ms);
                        if (r < 0 && errno == EINTR)
                                continue;
                        if (r < 0) {
                                fprintf(stderr, PROG ": cannot wait for the reply from %s: %s\n", path, strerror(errno));
                                return EXIT_FAILED;
                        }
                        if (r == 0) {
                                (void) fflush(stdout);
                                fprintf(stderr, PROG ": no answer from sockvisord on %s within %ds (is it stuck? see its log)\n",
                                        path, timeout_ms / 1000);
                                return EXIT_UNAVAILABLE;
                        }
                }

                p = ctl_framer_space(&framer, &avail);
                n = read(fd, p, avail);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        (void) fflush(stdout);
                        if (errno == ECONNRESET) {
                                /* It closed without reading our request, or crashed. */
                                fprintf(stderr, PROG ": the daemon closed the connection before answering (connection reset)\n");
                                return EXIT_FAILED;
                        }
                        fprintf(stderr, PROG ": cannot read the reply from %s: %s\n", path, strerror(errno));
                        return EXIT_FAILED;
                }
                if (n == 0) {
                        (void) fflush(stdout);
                        fprintf(stderr, PROG ": the daemon closed the connection before answering\n");
                        return EXIT_FAILED;
                }
                ctl_framer_commit(&framer, (size_t) n);
        }
}

/* "why": the port doctor, run here (it needs no daemon). */
static int run_why(char **args, size_t n_args) {
        const char *target = NULL;
        bool json = false;
        SvDoctorQuery q;
        SvDoctorFacts f;
        SvDoctorReport rep = { 0 };
        SvDiag d = { 0 };
        _cleanup_free_ char *text = NULL;
        int r;

        for (size_t i = 0; i < n_args; i++) {
                if (strcmp(args[i], "--json") == 0)
                        json = true;
                else if (args[i][0] == '-' && args[i][1] != '\0')
                        return usage_error("why: unknown option '%s'; expected [--json] ADDRESS|PORT", args[i]);
                else if (target)
                        return usage_error("why: one address at a time, got '%s' and '%s'", target, args[i]);
                else
                        target = args[i];
        }
        if (!target)
                return usage_error("why: expects an address or a port, e.g. '" PROG " why 8080' or '" PROG
                                   " why tcp://127.0.0.1:8080'");
        if (sv_doctor_query_parse(target, &q, &d) < 0)
                return usage_error("why: %s", d.msg);

        r = sv_doctor_gather(&q, &f, &d);
        if (r < 0) {
                fprintf(stderr, PROG ": why: %s\n", d.msg);
                return EXIT_FAILED;
        }
        r = sv_doctor_diagnose(&f, &rep);
        if (r >= 0)
                text = json ? sv_doctor_format_json(&f, &rep) : sv_doctor_format_text(&f, &rep);
        sv_doctor_report_done(&rep);
        sv_doctor_facts_done(&f);
        if (!text) {
                fprintf(stderr, PROG ": why: out of memory\n");
                return EXIT_FAILED;
        }
        if (fputs(text, stdout) == EOF || fflush(stdout) == EOF) {
                if (errno == EPIPE)
                        return EXIT_OK;
                fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(errno));
                return EXIT_FAILED;
        }
        return EXIT_OK;
}

static int run(const char *path, const CtlCommand *cmd, char **args, size_t n_args) {
        _cleanup_close_ int fd = -EBADF;
        char req[CTL_LINE_MAX];
        SvDiag d = { 0 };
        int r;

        /* Validate before connecting, so a bad name is a usage error even with no daemon. */
        r = ctl_request_format(req, sizeof(req), cmd->name, args, n_args, &d);
        if (r < 0)
                return usage_error("%s: %s", cmd->name, d.msg);
        size_t req_len = (size_t) r;

        if (strcmp(cmd->name, "version") == 0) {
                printf(PROG " " SV_VERSION "\n");
                (void) fflush(stdout);
        }

        r = control_connect(path, &fd);
        if (r != 0)
                return r;

        r = send_all(fd, req, req_len);
        if (r == -EPIPE || r == -ECONNRESET) {
                /* The daemon may refuse a client (wrong uid, too many connections) before it
                 * reads the request: its reason is already waiting to be read. */
                char peek;
                if (recv(fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
                        return read_reply(fd, path, QUICK_TIMEOUT_MS);
        }
        if (r < 0) {
                fprintf(stderr, PROG ": cannot send the request to %s: %s\n", path, strerror(-r));
                return r == -EPIPE || r == -ECONNRESET ? EXIT_UNAVAILABLE : EXIT_FAILED;
        }

        return read_reply(fd, path, cmd->quick ? QUICK_TIMEOUT_MS : -1);
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 },
        };
        const CtlCommand *cmd;
        const char *path;
        size_t n_args;
        int c;

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
                        return EXIT_OK;
                case 'V':
                        printf(PROG " " SV_VERSION "\n");
                        return EXIT_OK;
                case ':':
                        if (strncmp(argv[optind - 1], "--", 2) == 0)
                                return usage_error("option '%s' needs an argument", argv[optind - 1]);
                        return usage_error("option '-%c' needs an argument", optopt);
                case '?':
                        /* A long option (optopt is 0, or its short twin for "--help=x"). */
                        if (strncmp(argv[optind - 1], "--", 2) == 0)
                                return usage_error("unknown option '%s', or one that takes no value",
                                                   argv[optind - 1]);
                        return usage_error("unknown option '-%c'", optopt);
                default:
                        abort();
                }

        path = arg_socket;
        if (!path) {
                path = getenv("SOCKVISOR_SOCKET");
                if (!path || path[0] == '\0')
                        path = DEFAULT_CONTROL;
        }
        if (path[0] == '\0')
                return usage_error("the control socket path given with -s is empty");

        if (optind >= argc) {
                char list[256];

                command_list(list, sizeof(list));
                return usage_error("no command given; commands: %s", list);
        }

        cmd = command_find(argv[optind]);
        if (!cmd) {
                char list[256];

                command_list(list, sizeof(list));
                return usage_error("unknown command '%s'; commands: %s", argv[optind], list);
        }

        n_args = (size_t) (argc - optind - 1);
        if (n_args < cmd->min_args || n_args > cmd->max_args) {
                if (cmd->max_args == 0)
                        return usage_error("'%s' takes no arguments", cmd->name);
                return usage_error("'%s' expects %s, e.g. '" PROG " %s'", cmd->name, cmd->args_help, cmd->example);
        }

        if (strcmp(cmd->name, "why") == 0) /* answered here: it needs no daemon */
                return run_why(argv + optind + 1, n_args);
        return run(path, cmd, argv + optind + 1, n_args);
}
