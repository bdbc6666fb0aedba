/*
 * page: list pagination of SPEC §3 (?page_size=N&page_token=T).
 *
 * Lists are keyset-paginated: a page token carries the sort key of the last
 * item shown, so pages stay stable while rows are inserted. A token is
 * base64url(key || tag), the tag being HMAC-SHA-256("<list>:<key>")
 * truncated to 16 bytes under the instance's page_token_key (table
 * settings, made by `lanyardctl migrate`): a forged or altered token is
 * refused with 400, and a token of one list is refused on another.
 * The query side (ly_page_from_query, ly_page_token) is in http.h.
 */
#ifndef LY_PAGE_H
#define LY_PAGE_H

#include <stddef.h>

#define LY_PAGE_SIZE_DEFAULT 50
#define LY_PAGE_SIZE_MAX     100

struct ly_page {
    size_t size;       /* 1..100 */
    const char *after; /* the sort key to continue after, or NULL for the first page */
};

#endif
