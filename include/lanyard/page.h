/*
 * page: list pagination of SPEC §3 (?page_size=N&page_token=T).
 *
 * Lists are keyset-paginated: a page token carries the sort key of the last
 * item shown, so pages stay stable while rows are inserted. A token is
 * base64url(key || tag), the tag being HMAC-SHA-256("<list>:<key>")
 * truncated to 16 bytes under the instance's page-token key (table
 * settings, made by `lanyardctl migrate`): a forged or altered token is
 * refused with 400, and a token of one list is refused on another.
 *
 * This module is pure: the caller holds the key (the API layer loads it
 * once per worker) and reads the query.
 */
#ifndef LY_PAGE_H
#define LY_PAGE_H

#include <stddef.h>

#include "lanyard/arena.h"

#define LY_PAGE_SIZE_DEFAULT 50
#define LY_PAGE_SIZE_MAX     100
#define LY_PAGE_KEY_LEN      32

struct ly_page {
    size_t size;       /* 1..100 */
    const char *after; /* the sort key to continue after, or NULL for the first page */
};

/* The token that continues list after sort key key, in a. */
const char *ly_page_token_make(struct ly_arena *a, const unsigned char key[LY_PAGE_KEY_LEN],
                               const char *list, const char *sort_key);

/*
 * The sort key a token of list carries (in a). LY_OK, or LY_E_INVALID_REQUEST
 * for a token that is malformed, forged or of another list (*out untouched).
 */
int ly_page_token_read(struct ly_arena *a, const unsigned char key[LY_PAGE_KEY_LEN],
                       const char *list, const char *token, const char **out);

/*
 * page_size as given in a query (NULL: absent): LY_OK with *out, or
 * LY_E_VALIDATION when it is not an integer from 1 to 100.
 */
int ly_page_size_parse(const char *s, size_t *out);

#endif
