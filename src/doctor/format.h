/* Internal to src/doctor: the one-line text builders and endpoint formatting that the
 * diagnosis (diagnose.c) and the report formatters (format.c) share. Pure; not public. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sockvisor/doctor.h"
#include "sockvisor/macro.h"

/* vsnprintf into dst (cut silently: these are one-line messages). */
_printf_(3, 4) void sv_doctor_put(char *dst, size_t len, const char *fmt, ...);
/* Appends to what dst holds, cut silently. */
_printf_(3, 4) void sv_doctor_append(char *dst, size_t len, const char *fmt, ...);

/* "127.0.0.1:8080", "[::1]:8080", "[::]:8080" (a is in network order). */
void sv_doctor_fmt_endpoint(int family, const uint8_t *a, uint16_t port, char *buf, size_t len);
/* A socket's own end: "tcp://127.0.0.1:8080", "udp://[::]:53", "/run/x.sock", "@name". */
void sv_doctor_fmt_local(const SvSockRec *r, char *buf, size_t len);
/* "250 ms", "37 s" (seconds rounded up). */
void sv_doctor_fmt_duration_ms(uint32_t ms, char *buf, size_t len);

/* f->holders sorted by inode (ties in their order in f->holders), so that the holders of
 * one socket are found without a walk over all of them. */
typedef struct SvHolderIx {
        uint64_t inode;
        size_t i; /* index in f->holders */
} SvHolderIx;

/* *ret: a malloc'd index of f->n_holders entries (NULL when there are none). Returns 0 or
 * -ENOMEM. */
int sv_doctor_holder_index(const SvDoctorFacts *f, SvHolderIx **ret);
/* How many entries of ix (n long) are for inode; *ret_first: the first of them. */
size_t sv_doctor_holders_find(const SvHolderIx *ix, size_t n, uint64_t inode, size_t *ret_first);
