/* The upgrade state format: what one sockvisord image hands the next across execve, in a
 * sealed memfd. Pure.
 *
 * Text, one record per line: a kind, then key=value fields separated by one space:
 *
 *     sockvisor-state version=1 writer=0.1.0
 *     sock id=1 name=web fd=3 inode=4711 ...
 *     end
 *
 * Values are escaped (%XX for control bytes, space, '%', '=' and DEL), so any string,
 * a whole configuration file included, stays on its line. A reader ignores keys it does not
 * know (a later writer of the same version may add some) and fails, naming the line, on a
 * key it needs that is missing or malformed. The version changes when a reader of the old
 * one would misread the new. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockvisor/diag.h"
#include "sockvisor/macro.h"

#define SV_STATE_VERSION 1        /* what this build writes */
#define SV_STATE_VERSIONS "1"     /* what it reads, for --version */
#define SV_STATE_FIELDS_MAX 48    /* per record */
#define SV_STATE_SIZE_MAX (64u << 20)

/* ---- writing ---- */

typedef struct SvStateOut {
        char *buf;
        size_t len, cap;
        bool failed; /* out of memory: every later write is a no-op */
} SvStateOut;

void sv_state_record(SvStateOut *o, const char *kind);
void sv_state_str(SvStateOut *o, const char *key, const char *value); /* NULL writes nothing */
void sv_state_u64(SvStateOut *o, const char *key, uint64_t v);
void sv_state_i64(SvStateOut *o, const char *key, int64_t v);
void sv_state_bool(SvStateOut *o, const char *key, bool v);
/* "1,4,0": a list of ids. */
void sv_state_ids(SvStateOut *o, const char *key, const uint64_t *v, size_t n);
void sv_state_done(SvStateOut *o); /* frees the buffer */

/* ---- reading ---- */

typedef struct SvStateRec {
        const char *kind;
        unsigned line;
        size_t n;
        const char *keys[SV_STATE_FIELDS_MAX];
        const char *vals[SV_STATE_FIELDS_MAX];
} SvStateRec;

typedef struct SvStateIn {
        const char *text;
        size_t len, pos;
        unsigned line;
        char *scratch; /* the current line, unescaped in place */
        size_t scratch_cap;
        int err;       /* the first getter error; the record's fields are then unusable */
        SvDiag *d;
} SvStateIn;

void sv_state_in_init(SvStateIn *in, const char *text, size_t len, SvDiag *d);
void sv_state_in_done(SvStateIn *in);
/* The next record: 1, with rec filled (valid until the next call); 0 at the end of the
 * text; a negative errno with in->d saying which line was malformed. */
int sv_state_next(SvStateIn *in, SvStateRec *rec);
/* Like sv_state_next, but the record must be of this kind. */
int sv_state_expect(SvStateIn *in, SvStateRec *rec, const char *kind);

/* Getters: a missing or malformed field sets in->err (and in->d) once and returns 0 / "".
 * Check in->err after reading a record's fields. */
const char *sv_rec_str(SvStateIn *in, const SvStateRec *r, const char *key);
const char *sv_rec_opt(const SvStateRec *r, const char *key); /* NULL when absent */
uint64_t sv_rec_u64(SvStateIn *in, const SvStateRec *r, const char *key);
int64_t sv_rec_i64(SvStateIn *in, const SvStateRec *r, const char *key);
bool sv_rec_bool(SvStateIn *in, const SvStateRec *r, const char *key);
/* Below max, else an error naming the field and the bound. */
uint64_t sv_rec_below(SvStateIn *in, const SvStateRec *r, const char *key, uint64_t max);
/* A list written by sv_state_ids: at most max entries into v; returns the count. */
size_t sv_rec_ids(SvStateIn *in, const SvStateRec *r, const char *key, uint64_t *v, size_t max);
/* Sets in->err and in->d with the record's line; returns in->err. */
int sv_rec_fail(SvStateIn *in, const SvStateRec *r, const char *fmt, ...) _printf_(3, 4);
