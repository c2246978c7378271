/* Configuration: ini text -> validated model of the daemon, its sockets and programs. Pure. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sockvisor/addr.h"
#include "sockvisor/diag.h"

#define SV_NAME_MAX 48            /* socket and program names; inih truncates at 49 */
#define SV_CONFIG_LINE_MAX 4096   /* longest physical line, '\n' included */
#define SV_SOCKETS_MAX 256        /* [socket:…] sections */
#define SV_PROGRAMS_MAX 65536     /* [program:…] sections */
#define SV_GROUPS_MAX 256         /* [group:…] sections */
#define SV_PROGRAM_SOCKETS_MAX 64 /* sockets= entries of one program */
#define SV_FDSTORE_MAX 64         /* fdstore_max of one program */
#define SV_CONFIG_FILE_MAX (4u << 20)  /* bytes of one config file */
#define SV_CONFIG_TOTAL_MAX (8u << 20) /* bytes of all files of one configuration */
#define SV_CONFIG_INCLUDES_MAX 1024    /* files [include] may add */
#define SV_DEFAULT_CONTROL "/run/sockvisor/control.sock"
#define SV_DEFAULT_CONFIG "/etc/sockvisor/sockvisor.ini"

typedef enum SvReadyMode {
        SV_READY_STARTED, /* ready once alive for startsecs (supervisord's RUNNING) */
        SV_READY_NOTIFY,  /* ready when it sends READY=1 to $NOTIFY_SOCKET */
        SV_READY_ACCEPTING, /* ready when one of its processes waits on one of its sockets (/proc) */
        _SV_READY_MAX,
} SvReadyMode;

typedef enum SvDrainMode {
        SV_DRAIN_SIGNAL, /* send stopsignal; the worker drains and exits (default) */
        SV_DRAIN_IDLE,   /* freeze it, and kill it once it holds no accepted connection */
        _SV_DRAIN_MAX,
} SvDrainMode;

typedef enum SvAutorestart {
        SV_AUTORESTART_FALSE,      /* never restart after an exit from RUNNING */
        SV_AUTORESTART_UNEXPECTED, /* restart unless the exit code is in exitcodes (supervisord's default) */
        SV_AUTORESTART_TRUE,       /* always restart */
        _SV_AUTORESTART_MAX,
} SvAutorestart;

typedef enum SvHealthKind {
        SV_HEALTH_NONE,
        SV_HEALTH_HTTP, /* GET a URL: healthy on a 2xx or 3xx status */
        SV_HEALTH_EXEC, /* run a command: healthy when it exits 0 */
        _SV_HEALTH_MAX,
} SvHealthKind;

/* healthcheck= and its companions: a probe the daemon runs against a RUNNING instance. */
typedef struct SvHealthCheck {
        SvHealthKind kind;
        char *text;   /* as written, for messages */
        char *target; /* HTTP: the URL with %(port)s put in; EXEC: the command */
        SvAddr addr;  /* HTTP: where to connect (tcp, an IP literal and port) */
        char *host;   /* HTTP: the Host: header, as the URL names it */
        char *path;   /* HTTP: the request target, "/" when the URL has none */
        char **argv;  /* EXEC: split, no shell */
        uint64_t interval_usec; /* from one probe's start to the next; default 10 s */
        uint64_t timeout_usec;  /* a probe not answered in time failed; default 2 s */
        unsigned failures;      /* failed probes in a row that make it unhealthy; default 3 */
        unsigned line;          /* line of healthcheck= */
} SvHealthCheck;

#define SV_NUMPROCS_MAX 256
#define SV_EXITCODES_MAX 32

/* stdout_logfile= and its companions (and the stderr twins), supervisord's names and
 * meanings: where sockvisord writes what a program's workers print, and how it rotates. */
typedef enum SvStream {
        SV_STREAM_STDOUT,
        SV_STREAM_STDERR,
        _SV_STREAM_MAX,
} SvStream;

typedef struct SvLogFileConf {
        char *path;        /* absolute; NULL: not captured (inherited, or NONE) */
        bool none;         /* NONE: the stream goes to /dev/null */
        int own_fd;        /* 1 or 2: /dev/stdout or /dev/stderr, sockvisord's own (not captured); 0 */
        uint64_t maxbytes; /* rotate once the file reaches this; 0: never; default 50MB */
        unsigned backups;  /* FILE.1 .. FILE.backups kept; 0: truncate instead; default 10 */
        unsigned line;     /* line of *_logfile=, 0 when absent */
        unsigned opt_line; /* line of the first *_logfile_maxbytes= or _backups=, 0 when absent */
} SvLogFileConf;

typedef struct SvSocketConf {
        char *name;
        char *listen; /* as written, for messages */
        SvAddr addr;
        int backlog;
        bool blocking; /* hand out a blocking listener (default yes, as systemd: NonBlocking=false;
                        * no when a program that uses it has intercept_bind) */
        unsigned blocking_line; /* line of blocking=, 0 when not written */
        mode_t mode;   /* unix path sockets: permissions of the socket file */
        unsigned line; /* line of the section header */
        unsigned listen_line; /* line of listen= */
        char **fetch_users;  /* who besides root may fetch it over the control socket (NULL: nobody) */
        char **fetch_groups; /* members of these groups may too */
} SvSocketConf;

typedef struct SvProgramConf {
        char *name;
        char *command; /* as written */
        char **argv;   /* split, no shell; %(…)s expansions put in, each %(fd:NAME) replaced by its fd
                        * number; for instance 0 when command= has %(process_num)d */
        char ***instance_argv; /* with %(process_num)d: numprocs argvs, one per instance; else NULL */
        size_t n_sockets;
        size_t *socket_idx; /* indexes into SvConfig.sockets, in sockets= order */
        SvReadyMode ready;
        uint64_t startsecs_usec;
        uint64_t ready_timeout_usec;
        int stopsignal;
        uint64_t stopwait_usec;
        char *directory;   /* NULL: the daemon's own */
        char **environment; /* "KEY=value" strings, NULL-terminated (may be empty) */
        bool clearenv;      /* start from an empty environment (PATH kept) instead of the daemon's */
        bool output_journal; /* stdout and stderr to the journal (output = journal), else inherited */
        unsigned output_line; /* line of output=, 0 when absent */
        SvLogFileConf logfile[_SV_STREAM_MAX]; /* stdout_logfile=, stderr_logfile= and companions */
        bool redirect_stderr;  /* stderr goes where stdout goes (supervisord's redirect_stderr) */
        unsigned redirect_line; /* line of redirect_stderr=, 0 when absent */
        unsigned numprocs;  /* instances NAME:0..N-1 (just NAME when 1); default 1 */
        unsigned restart_surge; /* new instances started ahead of draining old ones; 1..numprocs, default 1 */
        bool autostart;     /* start with the daemon; default true */
        SvAutorestart autorestart; /* default unexpected */
        size_t n_exitcodes;
        int exitcodes[SV_EXITCODES_MAX]; /* expected exit codes; default {0} */
        unsigned startretries;  /* retries after a failed first start; default 3 */
        bool stopasgroup;   /* stopsignal goes to the whole process group */
        bool killasgroup;   /* SIGKILL goes to the whole process group (implied by stopasgroup) */
        char *user;         /* NULL: the daemon's user */
        char *group;        /* NULL: the user's primary group */
        unsigned user_line; /* line of the first user= or group=, for errors about them */
        int umask;          /* -1: inherit */
        int priority;       /* start order, low first; stop in reverse; default 999 */
        unsigned fdstore_max; /* fds its workers may keep with FDSTORE=1 for the next generations; default 0 */
        unsigned fd_env;    /* which variables tell its workers their fds: SV_FD_ENV_* (env.h); fd_env= */
        bool intercept_bind; /* preload the shim: its own bind() of one of its sockets gets the held one */
        SvDrainMode drain;  /* how an instance is asked to go: drain= */
        uint64_t watchdog_usec; /* RUNNING: WATCHDOG=1 at least this often, else unhealthy; 0: off */
        SvHealthCheck health;   /* healthcheck=; kind NONE when absent */
        unsigned line;
} SvProgramConf;

/* [group:NAME] programs = a, b: a name that stands for those programs in every command. */
typedef struct SvGroupConf {
        char *name;
        char **programs; /* program names, in the order written, NULL-terminated */
        unsigned line;   /* of the section header */
} SvGroupConf;

typedef enum SvLogTo {
        SV_LOG_TO_AUTO,
        SV_LOG_TO_JOURNAL,
        SV_LOG_TO_STDERR,
        _SV_LOG_TO_MAX,
} SvLogTo;

typedef struct SvConfig {
        char *origin; /* file name used in messages */
        char *source; /* the text it was parsed from, with its includes: an upgrade parses it again,
                       * never the files */
        size_t n_files; /* files read: the main one and what [include] added */
        SvLogTo log_to; /* [sockvisord] log= */
        char *control_path;
        mode_t control_mode;
        char *metrics;        /* [sockvisord] metrics= as written; NULL: no metrics endpoint (default) */
        SvAddr metrics_addr;  /* its address: tcp://, or a unix: stream path or @name */
        mode_t metrics_mode;  /* metrics_mode=: a unix path socket's permissions; default 0660 */
        unsigned metrics_line; /* line of metrics= */
        size_t n_sockets;
        SvSocketConf *sockets;
        size_t n_programs;
        SvProgramConf *programs;
        size_t n_groups;
        SvGroupConf *groups;
} SvConfig;

/* Parses and validates ini text (or the source of a configuration with includes). origin
 * names the file in messages; an [include] of plain text finds no file. On error returns
 * -EINVAL (or -ENOMEM) and fills d: d->line is the line, d->msg reads
 * "ORIGIN:LINE: [section] key: what was wrong; what would be valid". */
int sv_config_parse_string(const char *text, const char *origin, SvConfig **ret, SvDiag *d);

/* Where the parser reads files from. read: the whole file as a malloc'ed NUL-terminated
 * text and its length, and an identity (device, inode) two names of one file share;
 * -ENOENT when it does not exist; it refuses, with d filled, what is not a regular file or
 * is above SV_CONFIG_FILE_MAX. glob: the paths matching a glob(7) pattern, sorted by
 * strcmp, as a NULL-terminated vector (empty when none match). */
typedef struct SvConfigFiles {
        int (*read)(void *ctx, const char *path, char **ret_text, size_t *ret_len, uint64_t ret_id[2], SvDiag *d);
        int (*glob)(void *ctx, const char *pattern, char ***ret, SvDiag *d);
        void *ctx;
} SvConfigFiles;

/* The file system: one open per file, sizes checked on the fd (config_source.c). */
const SvConfigFiles *sv_config_files_fs(void);

/* Reads the file at path and what its [include] names, through files, and parses them.
 * A file that cannot be read is an error naming the path and errno. SvConfig.source then
 * holds every byte read (the main text alone when nothing was included), so
 * sv_config_parse_string(source) gives the same configuration without the files. */
int sv_config_parse_files(const char *path, const SvConfigFiles *files, SvConfig **ret, SvDiag *d);
/* sv_config_parse_files on the file system. */
int sv_config_parse_file(const char *path, SvConfig **ret, SvDiag *d);

SvConfig *sv_config_free(SvConfig *c);
static inline void sv_config_freep(SvConfig **c) {
        *c = sv_config_free(*c);
}

/* Writes to ret (room for SV_GROUPS_MAX) the groups program is in; returns their count. */
size_t sv_config_groups_of(const SvConfig *c, const char *program, const SvGroupConf **ret);

/* What instance index of pr runs: its own argv when command= has %(process_num)d. */
char *const *sv_program_argv(const SvProgramConf *pr, unsigned index);

/* Lookups by name; NULL / -1 when absent. */
const SvProgramConf *sv_config_find_program(const SvConfig *c, const char *name);
int sv_config_find_socket(const SvConfig *c, const char *name);

const char *sv_ready_mode_to_string(SvReadyMode m);
const char *sv_drain_mode_to_string(SvDrainMode m);
const char *sv_autorestart_to_string(SvAutorestart a);
const char *sv_health_kind_to_string(SvHealthKind k);
const char *sv_stream_to_string(SvStream s); /* "stdout", "stderr" */

/* True when the two programs would run the same way (every key equal); reload restarts
 * a program whose configuration changed and leaves an equal one untouched. Socket
 * references compare by socket name, so the caller also checks the sockets themselves. */
bool sv_program_conf_equal(const SvConfig *ca, const SvProgramConf *a, const SvConfig *cb, const SvProgramConf *b);
/* True when a socket would be bound the same way (listen, backlog, blocking, mode). */
bool sv_socket_conf_equal(const SvSocketConf *a, const SvSocketConf *b);
/* True when both would serve metrics the same way (metrics= and metrics_mode=): a reload
 * that changes either rebinds the endpoint. */
bool sv_metrics_conf_equal(const SvConfig *a, const SvConfig *b);
/* "TERM", "SIGTERM", "15" -> SIGTERM; -EINVAL when unknown. */
int sv_signal_from_string(const char *s);
/* "TERM" for SIGTERM; NULL when unknown. */
const char *sv_signal_to_string(int sig);
/* Any signal by name for what users read: a stopsignal= name, else the C library's
 * abbreviation (SEGV, PIPE ...), else its number written into buf. Never NULL. */
const char *sv_signal_name(int sig, char *buf, size_t len);
#define SV_SIGNAME(sig) sv_signal_name((sig), (char[16]){}, 16)
