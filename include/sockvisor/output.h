/* Program log capture: one pipe per program and stream (stdout, stderr) that every worker
 * of the program writes into, across restarts and self-upgrades; read non-blocking on the
 * daemon's sd-event loop into a bounded buffer (SV_LOGBUF_SIZE per stream: what does not
 * fit is dropped and counted, never blocking a worker); written into the file, and rotated,
 * by a writer thread per stream, so a slow disk never blocks the loop, nor another
 * program's log. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "sockvisor/config.h"
#include "sockvisor/diag.h"
#include "sockvisor/statefile.h"
#include "sockvisor/upgrade.h"

typedef struct SvOutput SvOutput;

int sv_output_new(sd_event *e, SvOutput **ret);
/* Reads what the pipes hold, lets the writer write what it can (bounded: 2 s), and frees. */
SvOutput *sv_output_free(SvOutput *o);

/* The fds a worker of program c gets as stdout and stderr: *ret_out, *ret_err are the
 * output's own (never close them), or -1 when c captures nothing for that stream (then it
 * is inherited, or goes to the journal). Opens the file when it is new or its path changed
 * (O_APPEND|O_CREAT|O_NOFOLLOW, mode 0640): a file that cannot be opened, a symbolic link
 * above all, is an error in d (the spawn fails with it), and the stream keeps its old file. */
int sv_output_prepare(SvOutput *o, const SvProgramConf *c, int *ret_out, int *ret_err, SvDiag *d);

/* Bytes of the program's output dropped since sockvisord started (both streams): the
 * buffer was full, or the file could not be written. */
uint64_t sv_output_dropped(SvOutput *o, const char *program);

/* Where program's stream is captured: its file, or NULL. */
const char *sv_output_path(SvOutput *o, const char *program, SvStream which);

/* Upgrade. save pauses the writer (waiting at most 1 s for the write under way), and
 * writes an "output" record per stream: the pipe, the file and what the buffer holds (in
 * a memfd), all added to carry. resume undoes the pause should the execve fail. */
int sv_output_save(SvOutput *o, SvStateOut *so, SvCarry *carry, SvDiag *d);
void sv_output_resume(SvOutput *o);
/* The next image: one "output" record. Nothing is read or written until start, after the
 * point of no return (a fall-back re-reads the same state). */
int sv_output_restore(SvOutput *o, SvStateIn *in, const SvStateRec *rec, SvCarry *carry);
void sv_output_start(SvOutput *o);
