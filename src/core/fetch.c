/* Who may fetch a held socket (fetch.h). */
#include "sockvisor/fetch.h"

#include <stdio.h>
#include <string.h>

/* An entry of fetch_users= or fetch_groups= names it: by name, or by number. */
static bool names(char *const *list, const char *name, unsigned long id) {
        char num[24];
        (void) snprintf(num, sizeof(num), "%lu", id);
        for (char *const *e = list; e && *e; e++)
                if ((name && strcmp(*e, name) == 0) || strcmp(*e, num) == 0)
                        return true;
        return false;
}

static void join(char *const *list, char *buf, size_t len) {
        size_t o = 0;
        buf[0] = '\0';
        for (char *const *e = list; e && *e && o < len; e++)
                o += (size_t) snprintf(buf + o, len - o, "%s%s", o ? ", " : "", *e);
}

bool sv_fetch_permitted(const SvSocketConf *sc, const SvPeer *peer, char *why, size_t len) {
        if (peer->uid == 0 || names(sc->fetch_users, peer->user, peer->uid))
                return true;
        for (size_t k = 0; k < peer->n_groups; k++)
                if (names(sc->fetch_groups, peer->group_names[k], peer->groups[k]))
                        return true;
        char users[256], groups[256], who[96];
        join(sc->fetch_users, users, sizeof(users));
        join(sc->fetch_groups, groups, sizeof(groups));
        if (peer->user)
                (void) snprintf(who, sizeof(who), "uid %u (%s)", (unsigned) peer->uid, peer->user);
        else
                (void) snprintf(who, sizeof(who), "uid %u", (unsigned) peer->uid);
        (void) snprintf(why, len,
                        "permission denied: %s may not fetch socket '%s' (fetch_users = %s; fetch_groups = %s); add "
                        "the user to fetch_users= or one of its groups to fetch_groups= in [socket:%s]",
                        who, sc->name, users[0] ? users : "(none)", groups[0] ? groups : "(none)", sc->name);
        return false;
}
