/*
 * token: the formats of Lanyard's opaque secrets (SPEC §4).
 *
 *   access token (opaque mode)  lya_<43 base62><6 base62 CRC-32>
 *   refresh token               lyr_<43 base62><6 base62 CRC-32>
 *   API key token               <prefix>_<16 base32 KEYID>_<43 base62><6 CRC>
 *
 * The checksum is the CRC-32 of everything before it, so a mistyped or cut
 * token is refused without a database round trip. The database keeps only
 * the SHA-256 of the whole token string (opaque and refresh tokens) or of the
 * 49-character secret (API keys).
 */
#ifndef LY_TOKEN_H
#define LY_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "lanyard/str.h"

#define LY_TOKEN_RANDOM_LEN 43 /* base62 characters: 256 bits */
#define LY_TOKEN_CRC_LEN    6
#define LY_TOKEN_SECRET_LEN (LY_TOKEN_RANDOM_LEN + LY_TOKEN_CRC_LEN) /* 49 */
#define LY_KEY_ID_LEN       16
#define LY_TOKEN_MAX_LEN    128 /* room for any opaque token or API key token, with NUL */

#define LY_ACCESS_PREFIX  "lya"
#define LY_REFRESH_PREFIX "lyr"

/*
 * Make a new opaque token "<prefix>_<43><crc6>" into out (LY_TOKEN_MAX_LEN).
 * prefix is "lya" or "lyr".
 */
void ly_token_generate(const char *prefix, char out[LY_TOKEN_MAX_LEN]);

/* true if s is "<prefix>_" + 43 base62 + the right checksum, nothing more. */
bool ly_token_is_well_formed(const char *prefix, struct ly_str s);

/*
 * Make a new API key for prefix: key_id (LY_KEY_ID_LEN+1) and the whole token
 * "<prefix>_<KEYID>_<secret49>" (LY_TOKEN_MAX_LEN). The secret is the last
 * 49 characters of the token; its checksum covers "<prefix>_<KEYID>_<43>".
 */
void ly_apikey_generate(const char *prefix, char key_id[LY_KEY_ID_LEN + 1],
                        char token[LY_TOKEN_MAX_LEN]);

/*
 * Split and check an API key token. On success returns true and points
 * *key_id (16) and *secret (49) into s. The checksum must match.
 */
bool ly_apikey_parse(const char *prefix, struct ly_str s, struct ly_str *key_id,
                     struct ly_str *secret);

/*
 * Check a Basic-style pair (KEYID, secret49) by rebuilding the token text
 * "<prefix>_<KEYID>_<43>" and its checksum. true if well formed.
 */
bool ly_apikey_check_pair(const char *prefix, struct ly_str key_id, struct ly_str secret);

#endif
