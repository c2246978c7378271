/* The next step of a shutdown. */
#include "sockvisor/stoporder.h"

SvStopNext sv_stop_order_next(const SvStopItem *items, size_t n, int *ret_level) {
        bool any = false;
        int level = 0;
        for (size_t k = 0; k < n; k++) {
                if (!items[k].live)
                        continue;
                if (items[k].stop_sent)
                        return SV_STOP_WAIT; /* the level being stopped is not down yet */
                if (!any || items[k].priority > level) {
                        level = items[k].priority;
                        any = true;
                }
        }
        if (!any)
                return SV_STOP_DONE;
        *ret_level = level;
        return SV_STOP_LEVEL;
}
