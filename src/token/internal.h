/*
 * token/internal.h: what jwt.c, keys.c and oidc.c share, and nothing
 * outside src/token/ includes.
 */
#ifndef LY_TOKEN_INTERNAL_H
#define LY_TOKEN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- the compact JWS as received (jwt.c; Lanyard's access tokens and ID tokens) ---- */

struct json_object;

/* The three base64url parts of a JWS compact serialization (RFC 7515 §7.1). */
struct ly_jws_parts {
    const char *hdr, *pl, *sig;
    size_t hdr_len, pl_len, sig_len;
    size_t signed_len; /* header "." payload: the JWS signing input, from the token's start */
};

/* Split the n bytes at tok at exactly two dots. 0 and *out, or -1. */
int ly_jws_split(const char *tok, size_t n, struct ly_jws_parts *out);

/* One non-empty, strictly base64url part into buf (room for max). 0 and *outlen, or -1. */
int ly_jws_decode_part(const char *p, size_t n, unsigned char *buf, size_t max, size_t *outlen);

/*
 * The n bytes at p as one strict JSON object (no repeated key, no "\u0000"),
 * released by the caller with json_object_put; NULL for anything else. The
 * caller has capped the token's size.
 */
struct json_object *ly_jws_parse_object(const char *p, size_t n);

/* false if the header has crit, jku, jwk, x5u or x5c (RFC 8725 §3.1). */
bool ly_jws_header_is_plain(struct json_object *hdr);

/*
 * The string member k of o without NUL inside, or NULL (absent or of
 * another type); *present tells the two apart.
 */
const char *ly_jws_get_str(struct json_object *o, const char *k, bool *present);

/* The integer NumericDate (RFC 7519 §2) member k, within 0 .. 9999-12-31. 0 and *out, or -1. */
int ly_jws_get_time(struct json_object *o, const char *k, int64_t *out);

/* true if the payload's aud is audience, or an array holding it (RFC 7519 §4.1.3). */
bool ly_jws_aud_has(struct json_object *pl, const char *audience);

#endif
