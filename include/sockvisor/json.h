/* JSON through jansson (Debian's libjansson): every string that goes out is valid UTF-8,
 * whatever bytes it came from. Pure. */
#pragma once

#include <jansson.h>
#include <stddef.h>

/* A JSON string of s: invalid UTF-8 sequences become U+FFFD, so a command line in Latin-1
 * still makes valid JSON (the bytes it stood for are lost, as in any UTF-8 reader). NULL
 * on out of memory; s NULL makes JSON null. */
json_t *sv_json_string(const char *s);
/* Adds key: sv_json_string(s) to obj; 0 or -ENOMEM. */
int sv_json_set_string(json_t *obj, const char *key, const char *s);
/* One line of compact JSON into buf (no newline): its length, or -ENOMEM / -EMSGSIZE.
 * Takes the reference to v. */
int sv_json_line(json_t *v, char *buf, size_t len);
