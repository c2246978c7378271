/* supervisord's %(NAME)s expansions in config values, with supervisord's meaning. Pure.
 *
 *   %(here)s            the directory of the file the line is in
 *   %(program_name)s    the [program:NAME] the line is in
 *   %(process_num)d     the instance number, 0 .. numprocs-1 (printf widths: %(process_num)02d)
 *   %(host_node_name)s  the host name (uname -n)
 *   %(ENV_X)s           the daemon's environment variable X (unset is an error)
 *   %%                  one %
 *
 * Which keys take which, in one table (expand.c). A % followed by neither ( nor % is
 * itself, as sockvisor has always read it (supervisord would refuse it). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "sockvisor/diag.h"

typedef enum SvExpandVar {
        SV_EXPAND_HERE = 1u << 0,
        SV_EXPAND_PROGRAM_NAME = 1u << 1,
        SV_EXPAND_PROCESS_NUM = 1u << 2,
        SV_EXPAND_HOST_NODE_NAME = 1u << 3,
        SV_EXPAND_ENV = 1u << 4,
} SvExpandVar;

/* One key that takes expansions. keep_refs: %(fd:NAME) (command) and %(port…) (healthcheck)
 * are left for the later pass that knows sockets, and %% stays %% for it, as does every %
 * of a value put in. */
typedef struct SvExpandKey {
        const char *section; /* "program", "socket", "sockvisord", "include" */
        const char *key;
        unsigned vars;       /* SvExpandVar bits */
        const char *keep_refs; /* prefix of the references left as they are, NULL: none */
} SvExpandKey;

/* What the names stand for where the value is. */
typedef struct SvExpandVars {
        const char *here;
        const char *program_name;   /* NULL outside [program:] */
        int process_num;            /* < 0: not known yet (checked for syntax only, as 0) */
        const char *host_node_name;
        char *const *envp;          /* the daemon's environment */
} SvExpandVars;

/* The rule for key in a section kind; NULL when the key takes no expansion. */
const SvExpandKey *sv_expand_key(const char *section, const char *key);

/* "command, directory, environment, ..." of the keys that take expansions, for messages. */
void sv_expand_keys_join(char *buf, size_t len);

/* Puts what rule allows into s: a malloc'ed string in *ret. An unknown %(NAME), a name this
 * key does not take, an unset ENV_ variable, a bad conversion (%(here)d, %(here) with none)
 * or an unterminated %( is -EINVAL with d saying which and what is known here. */
int sv_expand(const char *s, const SvExpandKey *rule, const SvExpandVars *v, char **ret, SvDiag *d);

/* Whether s refers to %(process_num): then it differs per instance. */
bool sv_expand_uses_process_num(const char *s);
