/*
 * jwt: RFC 9068 access tokens as JWS compact serialisation (RFC 7515), signed
 * with one configured algorithm, verified strictly per RFC 8725.
 *
 * A keyset is loaded once per worker from tokens.jwt.key_file (signs and
 * verifies) and tokens.jwt.previous_key_files (verify only, for rotation).
 * Each key has a kid: the RFC 7638 JWK thumbprint for public-key algorithms,
 * a truncated SHA-256 of the secret for HS256 (which reveals nothing of it).
 */
#ifndef LY_JWT_H
#define LY_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/config.h"
#include "lanyard/str.h"

#define LY_JWT_MAX_LEN 8192 /* SPEC §4: tokens over 8 KiB are refused before decoding */

struct ly_keyset;

enum ly_principal_type { LY_PRINCIPAL_USER = 0, LY_PRINCIPAL_SERVICE_ACCOUNT = 1 };

/* The claims of an access token (SPEC §4). Strings are NUL-terminated. */
struct ly_jwt_claims {
    const char *iss;
    const char *sub; /* u-… or sa-… */
    const char *aud;
    const char *jti;
    const char *client_id; /* "lanyard" for users, the key id for service accounts */
    const char *sid;       /* users: the session id; else NULL */
    const char *org;       /* service accounts: the organization's name; else NULL */
    const char *resource;  /* service accounts by a scoped key: its resource; else NULL */
    enum ly_principal_type principal_type;
    int64_t exp, iat, nbf;
};

/*
 * Load the keys named by cfg->tokens.jwt. Returns LY_OK and sets *out, or
 * LY_E_CONFIG with a one-line message in err (naming the file, never its
 * contents). HS256 keys are the bytes of the file, trailing newline
 * removed, at least 32 of them.
 */
int ly_keyset_load(const struct ly_config *cfg, struct ly_keyset **out, char *err, size_t errlen);
void ly_keyset_free(struct ly_keyset *ks);

/* kid of the signing key (NUL-terminated, owned by ks). */
const char *ly_keyset_current_kid(const struct ly_keyset *ks);

/*
 * The JWK Set (RFC 7517) of the public keys, current first, each with kid,
 * alg, use "sig", as a JSON text built once at load. NULL for HS256.
 */
const char *ly_keyset_jwks(const struct ly_keyset *ks);

/*
 * Sign claims (all fields but sid/org required; sid/org written when not
 * NULL) with the current key; header {"alg","typ":"at+jwt","kid"}. *out is
 * allocated in a. Returns LY_OK or LY_E_CRYPTO (out untouched).
 */
int ly_jwt_sign(const struct ly_keyset *ks, const struct ly_jwt_claims *claims, struct ly_arena *a,
                char **out);

struct ly_jwt_expect {
    const char *issuer;
    const char *audience;
    int64_t now;
    int64_t leeway;
};

/*
 * Verify token: size, strict base64url, header (only the configured alg,
 * typ "at+jwt", a known kid, no crit), signature over the received bytes,
 * and only then the claims (iss, aud, exp/nbf with leeway, types). On
 * success returns LY_OK and fills *out (strings in a). On failure returns
 * LY_E_INVALID_TOKEN, leaves *out untouched, and points *why at a static
 * description fit for an RFC 6750 error_description (no token material).
 */
int ly_jwt_verify(const struct ly_keyset *ks, struct ly_str token, const struct ly_jwt_expect *exp,
                  struct ly_arena *a, struct ly_jwt_claims *out, const char **why)
    __attribute__((warn_unused_result));

/* true if s looks like a JWS compact token (two dots) rather than an opaque token. */
bool ly_jwt_looks_like(struct ly_str s);

/*
 * Write a new signing key for alg to path with mode 0600 (O_EXCL: an existing
 * file is not overwritten). PEM PKCS#8 for RS256 (3072 bits), ES256 (P-256)
 * and EdDSA (Ed25519); 48 random bytes, base64, for HS256.
 * Returns LY_OK, LY_E_IO or LY_E_CRYPTO; err gets a one-line message.
 */
int ly_key_generate(enum ly_jwt_alg alg, const char *path, char *err, size_t errlen);

/* Parse "HS256"/"RS256"/"ES256"/"EdDSA". 0 / -1. */
int ly_jwt_alg_parse(const char *s, enum ly_jwt_alg *out);

#endif
