/* Shutdown order: programs stop in reverse priority, one level at a time. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct SvStopItem {
        int priority;
        bool live;      /* has something to stop */
        bool stop_sent; /* its level was asked to stop */
} SvStopItem;

typedef enum SvStopNext {
        SV_STOP_WAIT,  /* a level is stopping: wait for it */
        SV_STOP_LEVEL, /* stop every live program of *ret_level now */
        SV_STOP_DONE,  /* nothing is left: exit */
} SvStopNext;

SvStopNext sv_stop_order_next(const SvStopItem *items, size_t n, int *ret_level);
