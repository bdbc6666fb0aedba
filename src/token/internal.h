/*
 * token/internal.h: what jwt.c and keys.c share, and nothing outside
 * src/token/ includes.
 */
#ifndef LY_TOKEN_INTERNAL_H
#define LY_TOKEN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "lanyard/config.h"

#define LY_KID_MAX 64 /* a 43-character thumbprint, or 22 for HS256, plus NUL */

struct ly_jwt_key {
    char kid[LY_KID_MAX];
    EVP_PKEY *pkey;        /* RS256, ES256, EdDSA; NULL for HS256 */
    unsigned char *secret; /* HS256 only; wiped when freed */
    size_t secret_len;
    bool can_sign; /* only the current key signs */
};

struct ly_keyset {
    enum ly_jwt_alg alg;
    struct ly_jwt_key *keys; /* keys[0] is the current (signing) key */
    size_t n_keys;
    char *jwks; /* NULL for HS256 */
};

/* "HS256", "RS256", "ES256" or "EdDSA" (the JWS "alg" value, RFC 7518 §3.1, RFC 8037 §3.1) */
const char *ly_jwt_alg_str(enum ly_jwt_alg alg);

/* The key whose kid is the n bytes at kid, or NULL. */
const struct ly_jwt_key *ly_keyset_find(const struct ly_keyset *ks, const char *kid, size_t n);

/*
 * The JWS signature (RFC 7515 §5.1 step 5) of the n bytes at input with k
 * under alg, in JWS form (ES256: raw R||S, 64 bytes, RFC 7518 §3.4). sig has
 * room for sigmax bytes. Returns 0 and sets *siglen, or -1.
 */
int ly_jws_sign(enum ly_jwt_alg alg, const struct ly_jwt_key *k, const void *input, size_t n,
                unsigned char *sig, size_t sigmax, size_t *siglen);

/* true if sig is a valid JWS signature of the n bytes at input by k under alg. */
bool ly_jws_verify(enum ly_jwt_alg alg, const struct ly_jwt_key *k, const void *input, size_t n,
                   const unsigned char *sig, size_t siglen) __attribute__((warn_unused_result));

#endif
