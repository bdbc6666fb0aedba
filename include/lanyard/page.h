/*
 * page: list pagination of SPEC §3 (?page_size=N&page_token=T).
 *
 * Lists are keyset-paginated: a page token carries the sort key of the last
 * item shown, so pages stay stable while rows are inserted. Tokens are
 * base64url("<list>:<key>") followed by an HMAC-SHA-256 tag (truncated to
 * 16 bytes) under the instance's page_token_key (table settings, made by
 * `lanyardctl migrate`), so a forged or altered token is refused with 400
 * and a token of one list cannot be replayed on another.
 */
#ifndef LY_PAGE_H
#define LY_PAGE_H

#include <stddef.h>

#include "lanyard/http.h"

#define LY_PAGE_SIZE_DEFAULT 50
#define LY_PAGE_SIZE_MAX     100

struct ly_page {
    size_t size;       /* 1..100 */
    const char *after; /* the sort key to continue after, or NULL for the first page */
};

/*
 * Read page_size and page_token from the query for the list named list
 * ("orgs", "members:<org id>", …). Answers the 400 itself (validation_failed
 * for page_size, invalid_request for a bad token) and returns the error, or
 * LY_OK with *out filled.
 */
int ly_page_from_query(struct ly_request *req, struct ly_response *resp, const char *list,
                       struct ly_page *out);

/* The token that continues list after key (in the request arena), or NULL on error. */
const char *ly_page_token(struct ly_request *req, const char *list, const char *key);

#endif
