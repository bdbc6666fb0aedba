#include "build-config.h"
#include "banned.h"
#include "lanyard/token.h"

#include <string.h>

#include "lanyard/codec.h"
#include "lanyard/rand.h"

/*
 * SPEC §4: "<prefix>_<43 base62><6 base62 CRC-32>" for opaque tokens and
 * "<prefix>_<KEYID>_<43 base62><6 base62 CRC-32>" for API keys. The CRC
 * covers every character before it, prefix and underscores included.
 */

/* Longest prefix accepted: keeps every token within LY_TOKEN_MAX_LEN. */
#define PREFIX_MAX (LY_TOKEN_MAX_LEN - 1 - 2 - LY_KEY_ID_LEN - LY_TOKEN_SECRET_LEN)

static bool prefix_ok(const char *prefix, size_t *len)
{
    size_t n;

    if (prefix == NULL)
        return false;
    n = strnlen(prefix, PREFIX_MAX + 1);
    if (n == 0 || n > PREFIX_MAX)
        return false;
    *len = n;
    return true;
}

/* The 6-character checksum of the n bytes at text, into crc (7 bytes). */
static void checksum(const char *text, size_t n, char crc[LY_TOKEN_CRC_LEN + 1])
{
    ly_base62_encode_u32(ly_crc32(text, n), crc, LY_TOKEN_CRC_LEN);
}

/* true if the 6 characters after text[0..n) are its checksum */
static bool checksum_matches(const char *text, size_t n, const char *crc)
{
    char want[LY_TOKEN_CRC_LEN + 1];

    checksum(text, n, want);
    /* the checksum is public (derived from the token itself): no need for ct */
    return memcmp(want, crc, LY_TOKEN_CRC_LEN) == 0;
}

void ly_token_generate(const char *prefix, char out[LY_TOKEN_MAX_LEN])
{
    char buf[LY_TOKEN_MAX_LEN];
    size_t plen = 0, n;

    if (!prefix_ok(prefix, &plen)) {
        out[0] = '\0';
        return;
    }
    memcpy(buf, prefix, plen);
    buf[plen] = '_';
    n = plen + 1;
    ly_rand_base62(buf + n, LY_TOKEN_RANDOM_LEN);
    n += LY_TOKEN_RANDOM_LEN;
    checksum(buf, n, buf + n);
    memcpy(out, buf, n + LY_TOKEN_CRC_LEN + 1);
}

bool ly_token_is_well_formed(const char *prefix, struct ly_str s)
{
    size_t plen = 0;

    if (!prefix_ok(prefix, &plen) || s.ptr == NULL || s.len != plen + 1 + LY_TOKEN_SECRET_LEN)
        return false;
    if (memcmp(s.ptr, prefix, plen) != 0 || s.ptr[plen] != '_')
        return false;
    if (!ly_base62_is_alphabet(s.ptr + plen + 1, LY_TOKEN_SECRET_LEN))
        return false;
    return checksum_matches(s.ptr, s.len - LY_TOKEN_CRC_LEN, s.ptr + s.len - LY_TOKEN_CRC_LEN);
}

void ly_apikey_generate(const char *prefix, char key_id[LY_KEY_ID_LEN + 1],
                        char token[LY_TOKEN_MAX_LEN])
{
    char buf[LY_TOKEN_MAX_LEN];
    size_t plen = 0, n;

    if (!prefix_ok(prefix, &plen)) {
        key_id[0] = '\0';
        token[0] = '\0';
        return;
    }
    memcpy(buf, prefix, plen);
    n = plen;
    buf[n++] = '_';
    ly_rand_base32_upper(buf + n, LY_KEY_ID_LEN);
    n += LY_KEY_ID_LEN;
    buf[n++] = '_';
    ly_rand_base62(buf + n, LY_TOKEN_RANDOM_LEN);
    n += LY_TOKEN_RANDOM_LEN;
    checksum(buf, n, buf + n);
    memcpy(key_id, buf + plen + 1, LY_KEY_ID_LEN);
    key_id[LY_KEY_ID_LEN] = '\0';
    memcpy(token, buf, n + LY_TOKEN_CRC_LEN + 1);
}

bool ly_apikey_parse(const char *prefix, struct ly_str s, struct ly_str *key_id,
                     struct ly_str *secret)
{
    size_t plen = 0;
    const char *id, *sec;

    if (!prefix_ok(prefix, &plen) || s.ptr == NULL ||
        s.len != plen + 1 + LY_KEY_ID_LEN + 1 + LY_TOKEN_SECRET_LEN)
        return false;
    id = s.ptr + plen + 1;
    sec = id + LY_KEY_ID_LEN + 1;
    if (memcmp(s.ptr, prefix, plen) != 0 || s.ptr[plen] != '_' || id[LY_KEY_ID_LEN] != '_')
        return false;
    if (!ly_base32_is_alphabet(id, LY_KEY_ID_LEN) ||
        !ly_base62_is_alphabet(sec, LY_TOKEN_SECRET_LEN))
        return false;
    if (!checksum_matches(s.ptr, s.len - LY_TOKEN_CRC_LEN, s.ptr + s.len - LY_TOKEN_CRC_LEN))
        return false;
    *key_id = (struct ly_str){id, LY_KEY_ID_LEN};
    *secret = (struct ly_str){sec, LY_TOKEN_SECRET_LEN};
    return true;
}

bool ly_apikey_check_pair(const char *prefix, struct ly_str key_id, struct ly_str secret)
{
    char buf[LY_TOKEN_MAX_LEN];
    size_t plen = 0, n;

    if (!prefix_ok(prefix, &plen) || key_id.ptr == NULL || secret.ptr == NULL ||
        key_id.len != LY_KEY_ID_LEN || secret.len != LY_TOKEN_SECRET_LEN)
        return false;
    if (!ly_base32_is_alphabet(key_id.ptr, key_id.len) ||
        !ly_base62_is_alphabet(secret.ptr, secret.len))
        return false;
    memcpy(buf, prefix, plen);
    n = plen;
    buf[n++] = '_';
    memcpy(buf + n, key_id.ptr, LY_KEY_ID_LEN);
    n += LY_KEY_ID_LEN;
    buf[n++] = '_';
    memcpy(buf + n, secret.ptr, LY_TOKEN_RANDOM_LEN);
    n += LY_TOKEN_RANDOM_LEN;
    return checksum_matches(buf, n, secret.ptr + LY_TOKEN_RANDOM_LEN);
}
