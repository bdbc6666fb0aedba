#include "build-config.h"
#include "banned.h"
#include "lanyard/hash.h"

#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/*
 * These digests cannot fail short of a broken OpenSSL installation or memory
 * exhaustion; like an allocation failure (mem.h), that aborts the worker
 * rather than letting a caller go on with an unset digest.
 */

void ly_sha256(const void *p, size_t n, unsigned char out[LY_SHA256_LEN])
{
    unsigned int len = 0;

    if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != LY_SHA256_LEN)
        abort();
}

void ly_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
                    unsigned char out[LY_SHA256_LEN])
{
    unsigned int len = 0;
    static const unsigned char empty = 0;

    /* HMAC() treats a NULL key as "reuse the previous one"; an empty key is not that */
    if (key == NULL || keylen == 0) {
        key = &empty;
        keylen = 0;
    }
    if (HMAC(EVP_sha256(), key, (int)keylen, p, n, out, &len) == NULL || len != LY_SHA256_LEN)
        abort();
}
