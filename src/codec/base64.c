#include "build-config.h"
#include "banned.h"
#include "lanyard/codec.h"

#include <stdint.h>

/*
 * RFC 4648 §4 (standard, padded) and §5 (URL-safe; unpadded as JWS wants,
 * RFC 7515 §2). Decoding is strict: one value has exactly one spelling, so a
 * token cannot be altered without changing its bytes (RFC 4648 §3.5).
 */

static const char std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t ly_base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

size_t ly_base64url_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

static size_t encode(const unsigned char *in, size_t n, char *out, const char *alphabet, int pad)
{
    size_t i = 0, o = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

size_t ly_base64_encode(const void *in, size_t n, char *out)
{
    return encode(in, n, out, std_alphabet, 1);
}

size_t ly_base64url_encode(const void *in, size_t n, char *out)
{
    return encode(in, n, out, url_alphabet, 0);
}

/* The 6-bit value of c in the chosen alphabet, or -1. No table: no locale, no globals. */
static int sextet(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/*
 * Decode len characters of the alphabet (no padding). A final group of 1
 * character is impossible; the unused low bits of a final group of 2 or 3
 * must be zero (RFC 4648 §3.5), else two spellings would decode alike.
 */
static int decode_unpadded(const char *in, size_t len, int url, unsigned char *out, size_t outmax,
                           size_t *outlen)
{
    size_t rem = len % 4;
    size_t need = len / 4 * 3 + (rem == 0 ? 0 : rem - 1);
    size_t i, o = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (rem == 1 || need > outmax)
        return -1;
    for (i = 0; i < len; i++) {
        int v = sextet((unsigned char)in[i], url);
        if (v < 0)
            return -1;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1;
    *outlen = o;
    return 0;
}

int ly_base64_decode(const char *in, size_t len, void *out, size_t outmax, size_t *outlen)
{
    size_t body = len;

    if (len % 4 != 0)
        return -1;
    /*
     * At most two '=' and only at the very end; since len is a multiple of 4
     * the body then ends in a group of 3 or 2. A third '=' stays in the body
     * and is refused as out of the alphabet.
     */
    if (body > 0 && in[body - 1] == '=')
        body--;
    if (body > 0 && len - body == 1 && in[body - 1] == '=')
        body--;
    return decode_unpadded(in, body, 0, out, outmax, outlen);
}

int ly_base64url_decode(const char *in, size_t len, void *out, size_t outmax, size_t *outlen)
{
    return decode_unpadded(in, len, 1, out, outmax, outlen);
}
