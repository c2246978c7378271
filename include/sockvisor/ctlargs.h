/* sockvisorctl's command line, read against the verb table: global options and the
 * command's own anywhere (`status -s X`, `restart --json app`), `--` ending options (a
 * command that keeps its rest, exec, gets every word after its own `--` as it is), and
 * errors that name what was wrong, what is valid and the nearest known word. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "sockvisor/ctlverbs.h"
#include "sockvisor/diag.h"

#define SV_CTLARGS_MAX 64 /* operands, and options, of one command line */

/* The hidden command the bash completion asks: `sockvisorctl __complete WHAT [CMD]`. */
#define SV_CTLARGS_COMPLETE "__complete"

typedef struct SvCtlOptValue {
        const SvVerbOption *opt; /* in the command's options */
        const char *value;       /* NULL for a flag */
} SvCtlOptValue;

typedef struct SvCtlArgs {
        const char *socket; /* -s SOCKET, or NULL */
        bool help;          /* -h, --help */
        bool version;       /* -V, --version */
        bool json;          /* --json (only for a command that has it) */
        bool complete;      /* __complete: operands are its words, read as they are */
        const SvVerbInfo *info; /* the command, or NULL when none was given */
        SvVerb verb;
        SvCtlOptValue opts[SV_CTLARGS_MAX]; /* the command's own options but --json, in order */
        size_t n_opts;
        char *operands[SV_CTLARGS_MAX];
        size_t n_operands;
        char *const *rest; /* keeps_rest commands: the words after "--" (NULL: no "--") */
        size_t n_rest;
} SvCtlArgs;

/* The options every command takes (-s, --json, -h, -V), ended by { NULL }. */
const SvVerbOption *sv_ctlargs_global_options(void);

/* Reads argv[1..argc). Returns 0, or -EINVAL with d saying what is wrong (an unknown
 * command or option with the nearest known one, a missing value, the operand count).
 * On failure ret->info is still set when a known command was found, so the caller can
 * point at that command's help; nothing else in ret is to be used. -h and -V skip the
 * operand count (the caller prints the help or the version). */
int sv_ctlargs_parse(int argc, char *const *argv, SvCtlArgs *ret, SvDiag *d);

/* The command named word, or -EINVAL with d saying so and suggesting the nearest. */
int sv_ctlargs_find_verb(const char *word, SvVerb *ret, SvDiag *d);

/* The value of the last NAME option given (a flag: ""), or NULL when not given. */
const char *sv_ctlargs_value(const SvCtlArgs *a, const char *name);

/* "-f, --follow, -n, --lines N" of opts (the empty string for none). */
void sv_ctlargs_options_list(const SvVerbOption *opts, char *buf, size_t len);

/* why's ADDRESS as people write it, made what the port doctor reads: "127.0.0.1:8080"
 * and "[::1]:8080" become tcp://...; ":8080" becomes the bare port "8080" (every
 * address); "8080", "tcp://", "udp://" and "unix:" forms are kept as they are. Returns
 * buf, or NULL when the result does not fit len. */
const char *sv_ctlargs_why_address(const char *in, char *buf, size_t len);
