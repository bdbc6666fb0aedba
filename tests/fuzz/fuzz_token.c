/*
 * fuzz_token: the opaque token and API key formats of SPEC §4
 * (ly_token_is_well_formed, ly_apikey_parse, ly_apikey_check_pair).
 *
 * The input is tried with the fixed prefixes lya, lyr and lyk, and with the
 * prefix it starts with (the bytes before its first '_'), as a configured
 * api_keys.prefix would be. Invariants: the answers agree with a reference
 * check written here (lengths, alphabets, CRC-32 in base62); a parse that
 * succeeds points inside the input with the documented lengths, and one that
 * fails leaves its outputs alone; parse and check_pair agree with each other.
 */
#include "build-config.h"
#include "banned.h"

#include <stdbool.h>
#include <string.h>

#include "lanyard/codec.h"
#include "lanyard/str.h"
#include "lanyard/token.h"

#include "fuzz.h"

#define PREFIX_MAX (LY_TOKEN_MAX_LEN - 1 - 2 - LY_KEY_ID_LEN - LY_TOKEN_SECRET_LEN)

static bool in_set(const char *s, size_t n, bool base62)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = base62
                      ? (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                      : (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7');
        if (!ok)
            return false;
    }
    return true;
}

/* true if the 6 characters at crc are the base62 CRC-32 of the n bytes at text */
static bool ref_crc_ok(const char *text, size_t n, const char *crc)
{
    uint32_t v = ly_crc32(text, n);
    char want[LY_TOKEN_CRC_LEN];
    for (size_t i = LY_TOKEN_CRC_LEN; i > 0; i--) {
        want[i - 1] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[v % 62];
        v /= 62;
    }
    return memcmp(want, crc, LY_TOKEN_CRC_LEN) == 0;
}

static bool ref_token(const char *prefix, struct ly_str s)
{
    size_t plen = strlen(prefix);
    if (plen == 0 || plen > PREFIX_MAX || s.len != plen + 1 + LY_TOKEN_SECRET_LEN ||
        memcmp(s.ptr, prefix, plen) != 0 || s.ptr[plen] != '_' ||
        !in_set(s.ptr + plen + 1, LY_TOKEN_SECRET_LEN, true))
        return false;
    return ref_crc_ok(s.ptr, s.len - LY_TOKEN_CRC_LEN, s.ptr + s.len - LY_TOKEN_CRC_LEN);
}

static bool ref_apikey(const char *prefix, struct ly_str s)
{
    size_t plen = strlen(prefix);
    if (plen == 0 || plen > PREFIX_MAX ||
        s.len != plen + 1 + LY_KEY_ID_LEN + 1 + LY_TOKEN_SECRET_LEN ||
        memcmp(s.ptr, prefix, plen) != 0 || s.ptr[plen] != '_' ||
        s.ptr[plen + 1 + LY_KEY_ID_LEN] != '_' || !in_set(s.ptr + plen + 1, LY_KEY_ID_LEN, false) ||
        !in_set(s.ptr + plen + 2 + LY_KEY_ID_LEN, LY_TOKEN_SECRET_LEN, true))
        return false;
    return ref_crc_ok(s.ptr, s.len - LY_TOKEN_CRC_LEN, s.ptr + s.len - LY_TOKEN_CRC_LEN);
}

static void check_prefix(const char *prefix, struct ly_str s)
{
    size_t plen = strlen(prefix);

    FUZZ_CHECK(ly_token_is_well_formed(prefix, s) == ref_token(prefix, s));

    struct ly_str sentinel = {"sentinel", 8};
    struct ly_str key_id = sentinel, secret = sentinel;
    bool ok = ly_apikey_parse(prefix, s, &key_id, &secret);
    FUZZ_CHECK(ok == ref_apikey(prefix, s));
    if (!ok) {
        FUZZ_CHECK(key_id.ptr == sentinel.ptr && key_id.len == sentinel.len);
        FUZZ_CHECK(secret.ptr == sentinel.ptr && secret.len == sentinel.len);
        return;
    }
    FUZZ_CHECK(key_id.ptr == s.ptr + plen + 1 && key_id.len == LY_KEY_ID_LEN);
    FUZZ_CHECK(secret.ptr == s.ptr + plen + 2 + LY_KEY_ID_LEN && secret.len == LY_TOKEN_SECRET_LEN);
    FUZZ_CHECK(secret.ptr + secret.len == s.ptr + s.len);
    /* the Basic form of the same key is accepted too */
    FUZZ_CHECK(ly_apikey_check_pair(prefix, key_id, secret));
}

/* Split the input as a Basic pair would be (KEYID:secret) and check it both ways. */
static void check_pair(const char *prefix, struct ly_str s)
{
    const char *colon = memchr(s.ptr, ':', s.len);
    if (colon == NULL)
        return;
    struct ly_str key_id = {s.ptr, (size_t)(colon - s.ptr)};
    struct ly_str secret = {colon + 1, s.len - key_id.len - 1};
    bool ok = ly_apikey_check_pair(prefix, key_id, secret);
    size_t plen = strlen(prefix);
    if (plen == 0 || plen > PREFIX_MAX || key_id.len != LY_KEY_ID_LEN ||
        secret.len != LY_TOKEN_SECRET_LEN) {
        FUZZ_CHECK(!ok);
        return;
    }
    /* rebuild the token text: parse must say the same */
    char token[LY_TOKEN_MAX_LEN + 8];
    size_t n = 0;
    memcpy(token, prefix, plen);
    n = plen;
    token[n++] = '_';
    memcpy(token + n, key_id.ptr, key_id.len);
    n += key_id.len;
    token[n++] = '_';
    memcpy(token + n, secret.ptr, secret.len);
    n += secret.len;
    struct ly_str k2, s2;
    FUZZ_CHECK(ok == ly_apikey_parse(prefix, (struct ly_str){token, n}, &k2, &s2));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ly_str s = {(const char *)data, size};
    static const char *const fixed[] = {LY_ACCESS_PREFIX, LY_REFRESH_PREFIX, "lyk"};
    char own[PREFIX_MAX + 2];

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        check_prefix(fixed[i], s);
        check_pair(fixed[i], s);
    }
    const char *us = memchr(data, '_', size);
    size_t plen = us ? (size_t)(us - (const char *)data) : 0;
    if (us != NULL && plen > 0 && plen <= PREFIX_MAX + 1 && memchr(data, '\0', plen) == NULL) {
        memcpy(own, data, plen);
        own[plen] = '\0';
        check_prefix(own, s);
        if (plen < size)
            check_pair(own, (struct ly_str){us + 1, size - plen - 1});
    }
    /* a NULL view is refused, never read */
    FUZZ_CHECK(!ly_token_is_well_formed(LY_ACCESS_PREFIX, (struct ly_str){NULL, 0}));
    return 0;
}
