/*
 * pagetoken: the page tokens of SPEC §3. A token is base64url(key || tag),
 * the tag being HMAC-SHA-256("<list>:<key>") truncated to 16 bytes under the
 * instance's page-token key (table settings, made by `lanyardctl migrate`):
 * a forged or altered token is refused with 400, and a token of one list is
 * refused on another. Pure: the caller holds the key (the API layer loads
 * it once per worker).
 */
#ifndef LY_PAGETOKEN_H
#define LY_PAGETOKEN_H

#include "lanyard/arena.h"

#define LY_PAGE_KEY_LEN 32

/* The token that continues list after sort key key, in a. */
const char *ly_page_token_make(struct ly_arena *a, const unsigned char key[LY_PAGE_KEY_LEN],
                               const char *list, const char *sort_key);

/*
 * The sort key a token of list carries (in a). LY_OK, or LY_E_INVALID_REQUEST
 * for a token that is malformed, forged or of another list (*out untouched).
 */
int ly_page_token_read(struct ly_arena *a, const unsigned char key[LY_PAGE_KEY_LEN],
                       const char *list, const char *token, const char **out);

#endif
