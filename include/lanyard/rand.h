/*
 * rand: bytes and identifiers from the OS CSPRNG (OpenSSL RAND_bytes).
 *
 * A failing CSPRNG aborts the worker: no secret is ever made from less.
 */
#ifndef LY_RAND_H
#define LY_RAND_H

#include <stddef.h>

void ly_rand_bytes(void *buf, size_t n);

/* n characters of the lower-case RFC 4648 base32 alphabet (a-z2-7), NUL-terminated: out[n+1]. */
void ly_rand_base32_lower(char *out, size_t n);

/* n characters of the upper-case RFC 4648 base32 alphabet (A-Z2-7), NUL-terminated. */
void ly_rand_base32_upper(char *out, size_t n);

/* n uniformly chosen characters of 0-9A-Za-z (rejection sampling), NUL-terminated. */
void ly_rand_base62(char *out, size_t n);

/*
 * Like ly_rand_base62, for identifiers that are not secrets (request ids):
 * drawn from a per-process buffer of CSPRNG bytes, emptied in a forked
 * child. Never for a token, key, nonce or anything else that must stay
 * unguessable after another id from the same buffer has been seen.
 */
void ly_rand_base62_public(char *out, size_t n);

/* n characters from alphabet (uniform, rejection sampling), NUL-terminated. */
void ly_rand_from_alphabet(char *out, size_t n, const char *alphabet);

#endif
