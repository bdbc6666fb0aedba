/*
 * Durations as SPEC §2 writes them: "90s", "15m", "12h", "30d", or a plain
 * number of seconds. Shared by the config loader and the API (a key's ttl);
 * written back in the largest whole unit for errors and the dump.
 */
#include "build-config.h"
#include "banned.h"

#include "lanyard/config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "internal.h"

/*
 * Canonical decimal digits only: no sign, no spaces, no leading zero (so
 * that "010" cannot be read as YAML 1.1 octal by one tool and as ten by
 * another), at most one unit letter, lowercase.
 */
int ly_duration_parse(const char *s, size_t len, int64_t *out)
{
    uint64_t v = 0, mult = 1;
    size_t ndigits = len;

    if (s == NULL || len == 0)
        return -1;
    switch (s[len - 1]) {
    case 's':
        mult = 1;
        ndigits--;
        break;
    case 'm':
        mult = 60;
        ndigits--;
        break;
    case 'h':
        mult = 3600;
        ndigits--;
        break;
    case 'd':
        mult = 86400;
        ndigits--;
        break;
    default:
        break;
    }
    if (ndigits == 0 || ndigits > 19)
        return -1;
    if (ndigits > 1 && s[0] == '0')
        return -1;
    for (size_t i = 0; i < ndigits; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (uint64_t)(c - '0'); /* 19 digits cannot overflow uint64_t */
    }
    if (v > (uint64_t)INT64_MAX / mult)
        return -1;
    *out = (int64_t)(v * mult);
    return 0;
}

int ly_cfg_duration_format(int64_t v, char *buf, size_t size)
{
    if (v != 0 && v % 86400 == 0)
        return snprintf(buf, size, "%" PRId64 "d", v / 86400);
    if (v != 0 && v % 3600 == 0)
        return snprintf(buf, size, "%" PRId64 "h", v / 3600);
    if (v != 0 && v % 60 == 0)
        return snprintf(buf, size, "%" PRId64 "m", v / 60);
    return snprintf(buf, size, "%" PRId64 "s", v);
}
