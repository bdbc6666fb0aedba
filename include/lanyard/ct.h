/*
 * ct: the one constant-time comparison of secrets.
 */
#ifndef LY_CT_H
#define LY_CT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * true if the n bytes at a and b are equal; the time taken depends on n only.
 * Compare fixed-length digests, never raw secrets of differing lengths.
 */
bool ly_ct_equal(const void *a, const void *b, size_t n) __attribute__((warn_unused_result));

#endif
