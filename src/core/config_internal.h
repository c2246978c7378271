/* What the parts of the config parser share: the parser state, and the functions one part
 * calls in another. Private to src/core/config*.c.
 *
 *   config_reader.c  the physical lines: counts them, refuses what inih would misread, sees
 *                    section headers, and formats every error as ORIGIN:LINE: ...
 *   config.c         the schema: sections, keys, defaults, inih glue, the public entry points
 *   config_values.c  the syntax of values: booleans, numbers, modes, signals, exit codes,
 *                    user names, environment=
 *   config_check.c   cross-section checks, once every section is known
 *   config_equal.c   comparisons, for reload
 *   config_source.c  the files: read from the file system (sizes capped, on the fd), or from
 *                    the bundle an upgrade carries; [include] is followed in config.c */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockvisor/config.h"

typedef enum SectionKind {
        SECTION_NONE, /* keys before any [section] */
        SECTION_DAEMON,
        SECTION_SOCKET,
        SECTION_PROGRAM,
        SECTION_INCLUDE,
        SECTION_GROUP,
} SectionKind;

/* Which keys a section has seen, to catch duplicates. One bit per key of the tables below;
 * bit 63 of Parser.daemon_seen marks "[sockvisord] seen", so a table has at most 63 keys. */
typedef uint64_t KeySet;
#define KEYSET_DAEMON_SEEN ((KeySet) 1 << 63)

/* What a [program:…] section leaves for validate(), which runs once every section is known. */
typedef struct ProgramPending {
        char *socket_list;         /* sockets= as written, NULL when absent */
        unsigned socket_list_line; /* its line */
        unsigned surge_line;       /* line of restart_surge=, 0 when absent */
        unsigned command_line;     /* line of command=, for errors about its %(fd:NAME) */
        unsigned ready_line;       /* line of ready=, 0 when absent */
        unsigned intercept_line;   /* line of intercept_bind=, 0 when absent */
        unsigned health_opt_line;  /* line of the first healthcheck_interval/timeout/failures= */
} ProgramPending;

/* One file of the configuration: the main one first, then the included ones in the order
 * they were read. Lines are numbered across all of them: the file's line L is the
 * parser's line base + L, so a line number alone says which file it is in. */
typedef struct ConfigFile {
        char *path;   /* as messages name it: the main path, or the include's directory joined */
        char *text;
        size_t len;
        unsigned base;  /* lines of the files before it */
        uint64_t id[2]; /* device and inode (bundle: its index), to read a file once */
} ConfigFile;

typedef struct Parser {
        const char *origin; /* path of the file being read */
        const char *text;
        size_t pos, len;
        unsigned line; /* physical line most recently handed to inih */
        const char *raw;  /* that line as written (inih edits its copy in place) */
        size_t raw_len;
        bool failed;   /* diag is filled; stop everything */
        SvDiag *diag;
        SvConfig *cfg;
        SectionKind kind;
        size_t index; /* into cfg->sockets or cfg->programs */
        char section[SV_NAME_MAX + 16];
        KeySet seen;
        KeySet daemon_seen;
        ProgramPending *pending; /* one per program, parallel to cfg->programs */
        const SvConfigFiles *src;
        ConfigFile *files;
        size_t n_files;
        size_t cur;          /* index of the file being read */
        size_t total_bytes;  /* of all files read, against SV_CONFIG_TOTAL_MAX */
        char *include_files; /* [include] files= of the main file, NULL when none */
        unsigned include_line;
        unsigned *group_programs_line; /* line of programs= per group, parallel to cfg->groups */
        char host_node_name[256]; /* for %(host_node_name)s, asked once */
        char at[4][320];     /* config_at()'s answers, used in turn */
        unsigned at_next;
} Parser;

/* The file a parser line is in (NULL before any file), and the line within it. */
const ConfigFile *config_file_of(const Parser *p, unsigned line, unsigned *ret_local);
/* "line 12" in a one-file configuration, else "conf.d/web.ini:12": for messages that point
 * at another line than their own. Valid until four more calls. */
const char *config_at(Parser *p, unsigned line);

/* What %(here)s and the others stand for on line (here: a buffer of len bytes for it). */
struct SvExpandVars;
void config_expand_vars(Parser *p, unsigned line, struct SvExpandVars *ret, char *here, size_t len);

/* config_source.c: the upgrade bundle. */
bool config_is_bundle(const char *text);
int config_parse_bundle(const char *text, SvConfig **ret, SvDiag *d);
int config_make_bundle(const ConfigFile *files, size_t n, char **ret);

/* Records the first error as "ORIGIN:LINE: what" (with a hint when inih cut the value at an
 * inline comment), marks the parse failed and returns -EINVAL. Later errors are dropped. */
int config_fail(Parser *p, unsigned line, const char *fmt, ...) _printf_(3, 4);

/* inih's reader callback (fgets-like); stream is the Parser. */
char *config_reader_cb(char *str, int num, void *stream);

/* Opens the section named name[0..len) on line p->line (config.c). */
int config_begin_section(Parser *p, const char *name, size_t len);

/* Cross-section checks and the last defaults, after the whole text is read (config_check.c). */
int config_validate(Parser *p);

/* Value syntax (config_values.c): 0 on success, -EINVAL when v is not valid. */
int config_parse_bool(const char *v, bool *ret);
int config_parse_mode(const char *v, mode_t *ret);
int config_parse_uint(const char *v, unsigned long min, unsigned long max, unsigned long *ret);
int config_parse_int(const char *v, long min, long max, long *ret);
bool config_id_is_valid(const char *v);
/* These two report through config_fail() themselves. */
int config_parse_exitcodes(Parser *p, const char *v, SvProgramConf *pr);
int config_parse_environment(Parser *p, const char *v, char ***ret);
/* healthcheck= (config_health.c): set reads the line, check (in validate) puts in %(port)s
 * and parses the URL. Both report through config_fail(). */
int config_health_set(Parser *p, SvProgramConf *pr, const char *v);
int config_health_check(Parser *p, SvProgramConf *pr, unsigned companion_line);
void config_health_free(SvHealthCheck *h);
/* stdout_logfile= and companions (config_logfile.c): key reads one of the seven keys
 * (stream, and which: 0 logfile, 1 maxbytes, 2 backups; redirect_stderr is its own), check
 * (in validate) refuses the combinations that cannot work, within a program and across
 * programs. All report through config_fail(). */
int config_logfile_key(Parser *p, SvProgramConf *pr, SvStream stream, int which, const char *key, const char *v);
int config_logfile_check(Parser *p, SvProgramConf *pr);
int config_logfile_check_all(Parser *p);
/* "www-data, alice, 1000": user or group names (or numbers), comma separated. */
int config_parse_names(Parser *p, const char *key, const char *v, char ***ret);
