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

/*
 * The digest and its context are made once per process and reused (issue 17):
 * EVP_Digest's implicit fetch and the context's allocation cost more than
 * hashing a short token. Each worker is one thread, and a forked --listen
 * child gets its own copy of both; no call is ever left half-done, so the
 * copy it inherits is a finished context that the next init resets.
 */
static EVP_MD *sha256_md;
static EVP_MD_CTX *sha256_ctx;

void ly_sha256(const void *p, size_t n, unsigned char out[LY_SHA256_LEN])
{
    unsigned int len = 0;

    if (sha256_ctx == NULL) {
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
        sha256_ctx = EVP_MD_CTX_new();
        if (sha256_md == NULL || sha256_ctx == NULL)
            abort();
    }
    if (EVP_DigestInit_ex2(sha256_ctx, sha256_md, NULL) != 1 ||
        EVP_DigestUpdate(sha256_ctx, p, n) != 1 || EVP_DigestFinal_ex(sha256_ctx, out, &len) != 1 ||
        len != LY_SHA256_LEN)
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
