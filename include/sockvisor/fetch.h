/* Who may fetch a held socket over the control socket (sockvisorctl exec). Pure: the
 * caller looks the peer's names up (NSS) and this decides. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sockvisor/config.h"

#define SV_PEER_GROUPS_MAX 64

/* The client at the other end of the control socket, as SO_PEERCRED and SO_PEERGROUPS
 * describe it, with the names NSS gives (NULL when none). */
typedef struct SvPeer {
        uid_t uid;
        pid_t pid;
        const char *user;
        size_t n_groups; /* its primary group first, then the supplementary ones */
        gid_t groups[SV_PEER_GROUPS_MAX];
        const char *group_names[SV_PEER_GROUPS_MAX];
} SvPeer;

/* Root may always; anyone else only when sc's fetch_users names its user (by name or
 * number) or fetch_groups one of its groups. When not, why says so and what would allow
 * it. */
bool sv_fetch_permitted(const SvSocketConf *sc, const SvPeer *peer, char *why, size_t len);
