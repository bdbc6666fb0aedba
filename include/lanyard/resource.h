/*
 * resource: the resource-scope rule of SPEC §4, as a pure function, so the
 * check endpoint and its unit test share one definition.
 */
#ifndef LY_RESOURCE_H
#define LY_RESOURCE_H

#include <stdbool.h>

/*
 * Whether a credential scoped to scope (NULL: unscoped) passes a check for
 * resource (NULL: none named). An unscoped credential passes any resource
 * and none; a scoped one only a resource equal to its scope or starting
 * with its scope followed by '/', and never a check that names none.
 */
bool ly_resource_covers(const char *scope, const char *resource);

#endif
