/*
 * page: one page of a list (SPEC §3, ?page_size=N&page_token=T), as the
 * stores take it. Lists are keyset-paginated: a page continues after the
 * sort key of the last item shown, so pages stay stable while rows are
 * inserted. The tokens that carry that key are pagetoken.h's.
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

/*
 * page_size as given in a query (NULL: absent): LY_OK with *out, or
 * LY_E_VALIDATION when it is not an integer from 1 to 100.
 */
int ly_page_size_parse(const char *s, size_t *out);

#endif
