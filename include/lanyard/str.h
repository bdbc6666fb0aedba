/*
 * str: (pointer, length) views of bytes that are not NUL-terminated, and the
 * small, bounded parsers every module shares.
 */
#ifndef LY_STR_H
#define LY_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ly_str {
    const char *ptr;
    size_t len;
};

#define LY_STR_LIT(s) ((struct ly_str){(s), sizeof(s) - 1})

struct ly_str ly_str_from(const char *s); /* s may be NULL: empty view */
bool ly_str_eq(struct ly_str a, struct ly_str b);
bool ly_str_eq_cstr(struct ly_str a, const char *b);
bool ly_str_eq_nocase(struct ly_str a, const char *b);
bool ly_str_has_prefix(struct ly_str a, const char *prefix);
struct ly_str ly_str_trim(struct ly_str a); /* strips SP and HTAB at both ends */

/*
 * Parse a decimal unsigned integer that is the whole of s, at most max.
 * Returns 0 and sets *out, or -1 (leading sign, empty, junk, overflow).
 */
int ly_str_to_u64(struct ly_str s, uint64_t max, uint64_t *out);

/* v in decimal, as "%llu" would write it, into out (no NUL); returns its length. */
#define LY_U64_DEC_MAX 20
size_t ly_str_from_u64(uint64_t v, char out[LY_U64_DEC_MAX]);

/* true if every byte of s is in [A-Za-z0-9._-] (the request-id alphabet) */
bool ly_str_is_token_chars(struct ly_str s);

/*
 * Valid UTF-8 without C0/C1 controls or DEL, at most max_chars code points.
 * Used for display_name and description (SPEC §3).
 */
bool ly_str_is_clean_utf8(struct ly_str s, size_t max_chars);

#endif
