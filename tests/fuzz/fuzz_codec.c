/*
 * fuzz_codec: the base64, base64url, base32 and base62 codecs and CRC-32.
 *
 * Invariants: a decode that succeeds gives back the input exactly when
 * encoded again (one value, one spelling), and never writes past outmax,
 * which is the exact room for the result (the buffer is sized so ASan sees
 * any overrun); encode then decode is the identity; the alphabet checks and
 * CRC-32 agree with small reference implementations written here.
 */
#include "build-config.h"
#include "banned.h"

#include <stdbool.h>
#include <string.h>

#include "lanyard/codec.h"
#include "lanyard/mem.h"

#include "fuzz.h"

static bool ref_is_base32(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '2' && s[i] <= '7')))
            return false;
    return true;
}

static int ref_base62_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 36;
    return -1;
}

/* Bitwise CRC-32/ISO-HDLC: reflected polynomial 0xEDB88320. */
static uint32_t ref_crc32(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

typedef int (*decode_fn)(const char *in, size_t len, void *out, size_t outmax, size_t *outlen);
typedef size_t (*encode_fn)(const void *in, size_t n, char *out);
typedef size_t (*encoded_len_fn)(size_t n);

/* Decode, then encode what came out: it must be the input, byte for byte. */
static void decode_canonical(const uint8_t *data, size_t size, decode_fn dec, encode_fn enc,
                             encoded_len_fn enclen)
{
    size_t cap = size / 4 * 3 + 3, outlen = (size_t)-1;
    unsigned char *out = ly_xmalloc(cap);

    if (dec((const char *)data, size, out, cap, &outlen) != 0)
        goto out;
    FUZZ_CHECK(outlen <= cap && outlen <= size);
    FUZZ_CHECK(enclen(outlen) == size);
    char *back = ly_xmalloc(size + 1);
    FUZZ_CHECK(enc(out, outlen, back) == size);
    FUZZ_CHECK(memcmp(back, data, size) == 0 && back[size] == '\0');
    free(back);

    /* The same input into exactly outlen bytes fits; one byte less does not. */
    unsigned char *exact = ly_xmalloc(outlen ? outlen : 1);
    size_t n2 = 0;
    FUZZ_CHECK(dec((const char *)data, size, exact, outlen, &n2) == 0 && n2 == outlen);
    FUZZ_CHECK(memcmp(exact, out, outlen) == 0);
    if (outlen > 0) {
        size_t untouched = 12345;
        FUZZ_CHECK(dec((const char *)data, size, exact, outlen - 1, &untouched) != 0);
        FUZZ_CHECK(untouched == 12345);
    }
    free(exact);
out:
    free(out);
}

/* Encode the input, then decode: the identity. */
static void encode_roundtrip(const uint8_t *data, size_t size, decode_fn dec, encode_fn enc,
                             encoded_len_fn enclen)
{
    size_t elen = enclen(size), outlen = 0;
    char *text = ly_xmalloc(elen + 1);
    unsigned char *back = ly_xmalloc(size ? size : 1);

    FUZZ_CHECK(enc(data, size, text) == elen && strlen(text) == elen);
    FUZZ_CHECK(dec(text, elen, back, size, &outlen) == 0);
    FUZZ_CHECK(outlen == size && memcmp(back, data, size) == 0);
    free(text);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_canonical(data, size, ly_base64_decode, ly_base64_encode, ly_base64_encoded_len);
    decode_canonical(data, size, ly_base64url_decode, ly_base64url_encode,
                     ly_base64url_encoded_len);
    encode_roundtrip(data, size, ly_base64_decode, ly_base64_encode, ly_base64_encoded_len);
    encode_roundtrip(data, size, ly_base64url_decode, ly_base64url_encode,
                     ly_base64url_encoded_len);

    /* base32: the alphabet check, and the encoder's output stays in it */
    FUZZ_CHECK(ly_base32_is_alphabet((const char *)data, size) == ref_is_base32(data, size));
    size_t b32len = (size * 8 + 4) / 5;
    char *b32 = ly_xmalloc(b32len + 1);
    FUZZ_CHECK(ly_base32_encode(data, size, b32) == b32len && strlen(b32) == b32len);
    FUZZ_CHECK(ly_base32_is_alphabet(b32, b32len) == 1);
    free(b32);

    /* base62: the alphabet check; encoding a u32 taken from the input reads back */
    bool ref62 = true;
    for (size_t i = 0; i < size; i++)
        ref62 = ref62 && ref_base62_value(data[i]) >= 0;
    FUZZ_CHECK(ly_base62_is_alphabet((const char *)data, size) == (int)ref62);
    uint32_t v = 0;
    for (size_t i = 0; i < size && i < 4; i++)
        v = v << 8 | data[i];
    char b62[8];
    ly_base62_encode_u32(v, b62, 6);
    FUZZ_CHECK(strlen(b62) == 6 && ly_base62_is_alphabet(b62, 6) == 1);
    uint64_t back = 0;
    for (size_t i = 0; i < 6; i++)
        back = back * 62 + (uint64_t)ref_base62_value((uint8_t)b62[i]);
    FUZZ_CHECK(back == v);

    FUZZ_CHECK(ly_crc32(data, size) == ref_crc32(data, size));
    return 0;
}
