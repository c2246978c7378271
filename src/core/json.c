/* JSON strings that are always valid UTF-8. */
#include "sockvisor/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when s[0] starts none. */
static size_t utf8_len(const unsigned char *s, size_t left) {
        unsigned c = s[0];
        size_t n;
        unsigned min;
        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                n = 2, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef)
                n = 3, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4)
                n = 4, min = 0x10000;
        else
                return 0;
        if (n > left)
                return 0;
        unsigned cp = c & (0xff >> (n + 1));
        for (size_t k = 1; k < n; k++) {
                if ((s[k] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0; /* overlong, beyond Unicode, or a surrogate */
        return n;
}

json_t *sv_json_string(const char *s) {
        if (!s)
                return json_null();
        size_t len = strlen(s);
        const unsigned char *u = (const unsigned char *) s;
        size_t bad = 0;
        for (size_t k = 0; k < len;) {
                size_t n = utf8_len(u + k, len - k);
                bad += n == 0;
                k += n ? n : 1;
        }
        if (!bad)
                return json_stringn(s, len);
        char *clean = malloc(len + bad * 2 + 1); /* each bad byte (1) becomes U+FFFD (3) */
        if (!clean)
                return NULL;
        size_t o = 0;
        for (size_t k = 0; k < len;) {
                size_t n = utf8_len(u + k, len - k);
                if (n) {
                        memcpy(clean + o, s + k, n);
                        o += n;
                        k += n;
                } else {
                        memcpy(clean + o, "\xef\xbf\xbd", 3);
                        o += 3;
                        k++;
                }
        }
        json_t *j = json_stringn(clean, o);
        free(clean);
        return j;
}

int sv_json_set_string(json_t *obj, const char *key, const char *s) {
        json_t *v = sv_json_string(s);
        return v && json_object_set_new(obj, key, v) == 0 ? 0 : -ENOMEM;
}

int sv_json_line(json_t *v, char *buf, size_t len) {
        if (!v)
                return -ENOMEM;
        size_t need = json_dumpb(v, buf, len, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(v);
        if (need == 0)
                return -ENOMEM;
        if (need >= len)
                return -EMSGSIZE;
        buf[need] = '\0';
        return (int) need;
}
