/* Self-upgrade, the daemon's half: the new binary checked before anything is risked, the
 * state in a sealed memfd, the fds that must cross execve, and execve itself. The
 * supervisor's half (what the state says) is sv_supervisor_save/restore. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "sockvisor/diag.h"
#include "sockvisor/statefile.h"

/* The fds the next image inherits: CLOEXEC is cleared on them just before execve and set
 * again by whichever image goes on (the next one, or this one if execve failed). */
typedef struct SvCarry {
        int *fds;
        size_t n, cap;
} SvCarry;

int sv_carry_add(SvCarry *c, int fd); /* fd < 0 is ignored */
/* Sets (on) or clears FD_CLOEXEC on every fd; the first failure's negative errno. */
int sv_carry_cloexec(const SvCarry *c, bool on);
void sv_carry_done(SvCarry *c);

/* What the target says of itself: "sockvisord 0.2.0" and the state versions it reads. */
typedef struct SvUpgradeTarget {
        int fd;             /* O_RDONLY|O_CLOEXEC on the binary: what was checked is what runs */
        char path[4096];
        char version[64];   /* "0.2.0" */
} SvUpgradeTarget;

/* Opens path, checks that it is an executable regular file, runs it with --version
 * (bounded: 5 s) and checks it reads SV_STATE_VERSION. On failure d says what was wrong
 * and how to fix it; nothing is left open. */
int sv_upgrade_target_open(const char *path, SvUpgradeTarget *ret, SvDiag *d);
void sv_upgrade_target_close(SvUpgradeTarget *t);
/* Runs the target with --check-state on memfd: it parses the whole state and restores it
 * into a supervisor that touches nothing. Its complaint, if any, goes into d. Bounded: 5 s. */
int sv_upgrade_target_check_state(const SvUpgradeTarget *t, int memfd, SvDiag *d);

/* A sealed memfd holding text (no write, grow, shrink or re-seal after this). */
int sv_upgrade_memfd(const char *text, size_t len, SvDiag *d);
/* The whole of a state memfd, checked to be sealed; free() it. */
int sv_upgrade_memfd_read(int fd, char **ret_text, size_t *ret_len, SvDiag *d);

/* execveat(fd, "", argv, environ, AT_EMPTY_PATH). Returns only on failure (-errno). */
int sv_upgrade_exec(int fd, char *const argv[]);
