#include "build-config.h"
#include "banned.h"

#include "lanyard/page.h"

#include "lanyard/err.h"
#include "lanyard/str.h"

int ly_page_size_parse(const char *s, size_t *out)
{
    uint64_t size = LY_PAGE_SIZE_DEFAULT;
    if (s != NULL && (ly_str_to_u64(ly_str_from(s), LY_PAGE_SIZE_MAX, &size) != 0 || size == 0))
        return LY_E_VALIDATION;
    *out = (size_t)size;
    return LY_OK;
}
