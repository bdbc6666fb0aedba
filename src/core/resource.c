#include "build-config.h"
#include "banned.h"

#include "lanyard/resource.h"

#include <string.h>

bool ly_resource_covers(const char *scope, const char *resource)
{
    if (scope == NULL)
        return true;
    if (resource == NULL)
        return false;
    size_t n = strlen(scope);
    /* SPEC §4: "a/b" covers "a/b" and "a/b/c", not "a/bc": the match ends at a '/'. */
    return strncmp(resource, scope, n) == 0 && (resource[n] == '\0' || resource[n] == '/');
}
