/*
 * oidc: what a relying party verifies of an OpenID Connect provider (SPEC
 * §5.15): its discovery document, its JWK Set, and the ID tokens it signs.
 *
 * Pure functions over bytes already fetched (the fetching is httpc's and the
 * caching the SSO handler's), so that all of it is unit-tested and fuzzed.
 */
#ifndef LY_OIDC_H
#define LY_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lanyard/arena.h"

/* The fields of a discovery document (OpenID Connect Discovery 1.0 §3) Lanyard uses. */
struct ly_oidc_discovery {
    char *issuer;
    char *authorization_endpoint;
    char *token_endpoint;
    char *jwks_uri;
};

/*
 * Parse a discovery document and check it: a JSON object whose "issuer" is
 * exactly expected_issuer, with authorization_endpoint, token_endpoint and
 * jwks_uri strings that are absolute http(s) URLs. LY_OK and *out (strings in
 * a), or LY_E_VALIDATION with *why a static reason. Outputs untouched on failure.
 */
int ly_oidc_discovery_parse(const char *json, size_t n, const char *expected_issuer,
                            struct ly_arena *a, struct ly_oidc_discovery *out, const char **why);

struct ly_jwks; /* the provider's keys, parsed: heap-owned, cached across requests */

/*
 * Parse a JWK Set (RFC 7517 §5): keys of kty RSA (n, e; at least 2048 bits),
 * EC (crv P-256, x, y) and OKP (crv Ed25519, x), with a kid; keys with "use"
 * other than "sig", another kty/crv, or without kid are skipped, not errors.
 * LY_OK and *out (free with ly_jwks_free; it may hold no key at all, see
 * ly_jwks_count), or LY_E_VALIDATION with *why a static reason.
 */
int ly_jwks_parse(const char *json, size_t n, struct ly_jwks **out, const char **why);
void ly_jwks_free(struct ly_jwks *ks);
size_t ly_jwks_count(const struct ly_jwks *ks);

/* What the ID token must hold (OpenID Connect Core 1.0 §3.1.3.7). */
struct ly_idtoken_expect {
    const char *issuer;
    const char *client_id; /* must be in aud; azp, when present, must equal it */
    const char *nonce;
    int64_t now;
    int64_t leeway;
};

struct ly_idtoken_claims {
    char *sub;
    char *email; /* NULL when absent */
    bool email_verified;
};

/*
 * Results of ly_idtoken_verify beyond LY_OK. LY_IDTOKEN_UNKNOWN_KID: well
 * formed, but its kid is not in ks: refetch the JWKS once.
 */
#define LY_IDTOKEN_UNKNOWN_KID 1

/*
 * Verify an ID token: size (at most 16 KiB), strict base64url, header alg
 * RS256, ES256 or EdDSA only (never none or HS*), matching the key's type, a
 * kid, no crit; signature over the received bytes; then iss, aud/azp, exp,
 * iat, nbf (with leeway), nonce (exact). LY_OK and *out (strings in a);
 * LY_IDTOKEN_UNKNOWN_KID; or LY_E_INVALID_TOKEN with *why a static reason.
 */
int ly_idtoken_verify(const struct ly_jwks *ks, const char *token, size_t n,
                      const struct ly_idtoken_expect *exp, struct ly_arena *a,
                      struct ly_idtoken_claims *out, const char **why)
    __attribute__((warn_unused_result));

/*
 * RFC 7636 §4.2: code_challenge = base64url(SHA-256(verifier)), 43 characters
 * + NUL. LY_OK, or LY_E_VALIDATION (out untouched) for a verifier that is not
 * 43-128 unreserved characters (§4.1).
 */
int ly_pkce_challenge(const char *verifier, char out[44]);

#endif
