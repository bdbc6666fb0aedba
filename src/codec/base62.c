#include "build-config.h"
#include "banned.h"
#include "lanyard/codec.h"

/* SPEC §4: the token checksum alphabet, digits first, then upper, then lower case. */

static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/*
 * Exactly width digits are written, so out never overflows; a value needing
 * more digits keeps its low-order ones. Callers pick a width that fits
 * (62^6 > 2^32, so 6 always fits a CRC-32).
 */
void ly_base62_encode_u32(uint32_t value, char *out, size_t width)
{
    size_t i;

    for (i = width; i > 0; i--) {
        out[i - 1] = alphabet[value % 62];
        value /= 62;
    }
    out[width] = '\0';
}

int ly_base62_is_alphabet(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return 0;
    }
    return 1;
}
