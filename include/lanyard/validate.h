/*
 * validate: the name, e-mail and text rules of SPEC §3, the resource rules
 * of §4, and new identifiers.
 */
#ifndef LY_VALIDATE_H
#define LY_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "lanyard/arena.h"

#define LY_EMAIL_MAX        254
#define LY_DISPLAY_NAME_MAX 200
#define LY_DESCRIPTION_MAX  1000

/* ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ and at least 2 characters (organizations, service accounts).
 */
bool ly_name_is_valid(const char *s);

/* SPEC §4: a key's resource, 1–255 characters of [A-Za-z0-9._:/-]. */
bool ly_resource_is_valid(const char *s);

/*
 * SPEC §4: whether a credential scoped to scope (NULL: unscoped) passes a
 * check for resource (NULL: none named). An unscoped credential passes any
 * resource and none; a scoped one only a resource equal to its scope or
 * starting with its scope followed by '/', and never a check that names none.
 */
bool ly_resource_covers(const char *scope, const char *resource);

/*
 * At most 254 bytes, one '@', a non-empty local part, a domain with a dot
 * (not at either end), no spaces or control characters. On success returns
 * true and *out is the lower-cased copy in a.
 */
bool ly_email_normalize(struct ly_arena *a, const char *s, const char **out);

/* UTF-8 without control characters, at most max characters. */
bool ly_text_is_valid(const char *s, size_t max);

/*
 * An e-mail domain as an organization claims it (SPEC §5.15): a DNS name of
 * at least two labels, each 1-63 letters, digits and inner hyphens, at most
 * 253 in all. *out is the lower-cased copy in a; false for anything else.
 */
bool ly_domain_normalize(struct ly_arena *a, const char *s, const char **out);

#define LY_RETURN_TO_MAX 1024

/*
 * SPEC §5.15: a return_to is a path on this origin (a query allowed): it
 * starts with one '/', and holds only printable ASCII without '\\' or '#'.
 */
bool ly_return_to_is_valid(const char *p);

/*
 * A copy of s, from a client and about to be stored (a User-Agent, an
 * address), that a utf8mb4 VARCHAR(max_bytes) column always takes: every
 * ill-formed UTF-8 sequence (overlong, surrogate, past U+10FFFF, truncated,
 * stray continuation byte) becomes U+FFFD, one for each maximal subpart as
 * Unicode §3.9 recommends; C0 and C1 control characters and DEL become a
 * space; and the result is cut at a character boundary to at most
 * max_bytes bytes. In the arena; NULL for NULL.
 */
const char *ly_utf8_clean(struct ly_arena *a, const char *s, size_t max_bytes);

/* True when s[0..n) is well-formed UTF-8 (Unicode §3.9: no overlong form,
 * surrogate, code point past U+10FFFF, truncated or stray byte). */
bool ly_utf8_valid(const char *s, size_t n);

/*
 * A new identifier: prefix followed by n random lower-case base32
 * characters ("u-", 12 → "u-k3j…"). In the arena.
 */
const char *ly_id_generate(struct ly_arena *a, const char *prefix, size_t n);

#endif
