/*
 * hash: SHA-256 and HMAC-SHA-256 (OpenSSL EVP), the only digests Lanyard uses.
 */
#ifndef LY_HASH_H
#define LY_HASH_H

#include <stddef.h>

#define LY_SHA256_LEN 32

void ly_sha256(const void *p, size_t n, unsigned char out[LY_SHA256_LEN]);
void ly_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
                    unsigned char out[LY_SHA256_LEN]);

#endif
