/*
 * oidc: what Lanyard, as an OpenID Connect relying party, checks of a
 * provider's discovery document, JWK Set and ID tokens (SPEC §5.15).
 *
 * Everything here works on bytes already fetched, so that the whole of it
 * is unit-tested and fuzzed. The signature code is jwt.c's (ly_jws_verify);
 * the JWK Set only turns the provider's public keys into EVP_PKEYs.
 */
#include "build-config.h"
#include "banned.h"
#include "lanyard/oidc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "internal.h"
#include "lanyard/codec.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"
#include "lanyard/json.h"
#include "lanyard/mem.h"
#include "lanyard/str.h"

#define IDTOKEN_MAX       16384  /* the header's cap, checked before any decoding */
#define DISCOVERY_MAX     262144 /* a discovery document is a few KiB; anything larger is refused */
#define JWKS_MAX          262144
#define JWKS_KEYS_MAX     64  /* providers publish two to five; more is a broken or hostile set */
#define JWK_DEPTH_MAX     8   /* {"keys": [{"x5c": [...]}]} */
#define KID_MAX           256 /* Entra, Google, Keycloak and Okta kids are 20 to 45 characters */
#define URL_MAX           2048
#define SUB_MAX           255 /* OpenID Connect Core §2: at most 255 ASCII characters */
#define RSA_MIN_BITS      2048
#define RSA_MAX_BYTES     2048 /* 16384 bits: jwt.c's signature buffer */
#define RSA_E_MAX_BYTES   8
#define EC_COORD_LEN      32
#define ED25519_KEY_LEN   32
#define LEEWAY_MAX        86400
#define PKCE_VERIFIER_MIN 43 /* RFC 7636 §4.1 */
#define PKCE_VERIFIER_MAX 128

struct jwk {
    char *kid; /* heap */
    enum ly_jwt_alg alg;
    struct ly_jwt_key key; /* key.kid unused: provider kids may be longer than ours */
};

struct ly_jwks {
    struct jwk *keys;
    size_t n;
};

/* ---- discovery ------------------------------------------------------------------ */

/*
 * An absolute http or https URL (scheme in lower case, as providers write
 * it) with a non-empty host and no user information, whitespace or
 * control characters. The fetching side (httpc) decides which of the two
 * schemes it follows to which hosts.
 */
static bool is_http_url(const char *s)
{
    size_t len = strlen(s), i, skip;
    const char *host, *end;

    if (len > URL_MAX)
        return false;
    if (strncmp(s, "https://", 8) == 0)
        skip = 8;
    else if (strncmp(s, "http://", 7) == 0)
        skip = 7;
    else
        return false;
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    host = s + skip;
    end = host + strcspn(host, "/?#");
    if (end == host || memchr(host, '@', (size_t)(end - host)) != NULL)
        return false;
    return true;
}

int ly_oidc_discovery_parse(const char *json, size_t n, const char *expected_issuer,
                            struct ly_arena *a, struct ly_oidc_discovery *out, const char **why)
{
    static const char *const urls[] = {"authorization_endpoint", "token_endpoint", "jwks_uri"};
    const char *val[3], *issuer;
    json_object *o = NULL;
    const char *reason = "discovery document is not a JSON object";
    bool present;
    size_t i;
    int r = LY_E_VALIDATION;

    if (json == NULL || n > DISCOVERY_MAX || expected_issuer == NULL) {
        reason = "discovery document too large";
        goto out;
    }
    if (ly_json_decode((struct ly_str){json, n}, LY_JSON_MAX_DEPTH,
                       LY_JSON_UNIQUE_KEYS | LY_JSON_NO_NUL, &o) != LY_OK ||
        !json_object_is_type(o, json_type_object))
        goto out;
    /* OpenID Connect Discovery 1.0 §4.3: identical to the issuer asked about */
    issuer = ly_jws_get_str(o, "issuer", &present);
    if (issuer == NULL || strcmp(issuer, expected_issuer) != 0) {
        reason = "discovery issuer does not match";
        goto out;
    }
    for (i = 0; i < 3; i++) {
        val[i] = ly_jws_get_str(o, urls[i], &present);
        if (val[i] == NULL) {
            reason = "discovery document lacks an endpoint";
            goto out;
        }
        if (!is_http_url(val[i])) {
            reason = "discovery endpoint is not an http(s) URL";
            goto out;
        }
    }
    out->issuer = ly_arena_strdup(a, issuer);
    out->authorization_endpoint = ly_arena_strdup(a, val[0]);
    out->token_endpoint = ly_arena_strdup(a, val[1]);
    out->jwks_uri = ly_arena_strdup(a, val[2]);
    r = LY_OK;
out:
    json_object_put(o);
    if (r != LY_OK && why != NULL)
        *why = reason;
    return r;
}

/* ---- JWK Set -------------------------------------------------------------------- */

/*
 * The base64url member k of o into buf (room for max). 0 and *len, or -1
 * when absent, of another type, not canonical base64url, or too long.
 */
static int get_b64(json_object *o, const char *k, unsigned char *buf, size_t max, size_t *len)
{
    bool present;
    const char *s = ly_jws_get_str(o, k, &present);

    if (s == NULL)
        return -1;
    return ly_jws_decode_part(s, strlen(s), buf, max, len);
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    OSSL_PARAM_free(params);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* RFC 7518 §6.3.1: n and e, big-endian; at least RSA_MIN_BITS. */
static EVP_PKEY *rsa_key(json_object *o)
{
    unsigned char *nb = ly_xmalloc(RSA_MAX_BYTES), eb[RSA_E_MAX_BYTES];
    size_t nlen = 0, elen = 0;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;

    if (get_b64(o, "n", nb, RSA_MAX_BYTES, &nlen) != 0 ||
        get_b64(o, "e", eb, sizeof(eb), &elen) != 0)
        goto out;
    n = BN_bin2bn(nb, (int)nlen, NULL);
    e = BN_bin2bn(eb, (int)elen, NULL);
    /* the bit count of n itself, so that leading zero bytes cannot pad a short key */
    if (n == NULL || e == NULL || BN_num_bits(n) < RSA_MIN_BITS || !BN_is_odd(e) || BN_is_one(e))
        goto out;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
        goto out;
    pkey = pkey_fromdata("RSA", bld);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    free(nb);
    return pkey;
}

/* RFC 7518 §6.2.1: x and y, 32 bytes each, as the uncompressed point 04 || x || y. */
static EVP_PKEY *ec_key(json_object *o)
{
    unsigned char pt[1 + 2 * EC_COORD_LEN];
    size_t xlen = 0, ylen = 0;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *check = NULL;

    pt[0] = 0x04;
    if (get_b64(o, "x", pt + 1, EC_COORD_LEN, &xlen) != 0 || xlen != EC_COORD_LEN ||
        get_b64(o, "y", pt + 1 + EC_COORD_LEN, EC_COORD_LEN, &ylen) != 0 || ylen != EC_COORD_LEN)
        goto out;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)) != 1)
        goto out;
    pkey = pkey_fromdata("EC", bld);
    /* a point off the curve is an invalid-curve attack waiting for a verify: refuse it here */
    check = pkey != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
    if (pkey != NULL && (check == NULL || EVP_PKEY_public_check(check) != 1)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
out:
    EVP_PKEY_CTX_free(check);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

/* RFC 8037 §2: crv Ed25519, x the 32-byte public key. */
static EVP_PKEY *ed25519_key(json_object *o)
{
    unsigned char x[ED25519_KEY_LEN];
    size_t len = 0;

    if (get_b64(o, "x", x, sizeof(x), &len) != 0 || len != sizeof(x))
        return NULL;
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, len);
}

/*
 * One member of "keys" into *out, or -1 when it is to be skipped: not an
 * object, no kid, a "use" other than "sig", an "alg" other than the one
 * its type verifies, another kty or crv, or key material that does not
 * make a key.
 */
static int parse_jwk(json_object *o, struct jwk *out)
{
    const char *kty, *kid, *use, *alg, *crv;
    bool use_present, alg_present, present;
    enum ly_jwt_alg want;
    EVP_PKEY *pkey = NULL;

    if (!json_object_is_type(o, json_type_object))
        return -1;
    kty = ly_jws_get_str(o, "kty", &present);
    kid = ly_jws_get_str(o, "kid", &present);
    use = ly_jws_get_str(o, "use", &use_present);
    alg = ly_jws_get_str(o, "alg", &alg_present);
    crv = ly_jws_get_str(o, "crv", &present);
    if (kty == NULL || kid == NULL || kid[0] == '\0' || strlen(kid) > KID_MAX ||
        (use_present && (use == NULL || strcmp(use, "sig") != 0)) || (alg_present && alg == NULL))
        return -1;
    if (strcmp(kty, "RSA") == 0) {
        want = LY_ALG_RS256;
    } else if (strcmp(kty, "EC") == 0 && crv != NULL && strcmp(crv, "P-256") == 0) {
        want = LY_ALG_ES256;
    } else if (strcmp(kty, "OKP") == 0 && crv != NULL && strcmp(crv, "Ed25519") == 0) {
        want = LY_ALG_EDDSA;
    } else {
        return -1;
    }
    /* an RSA key published for RS384 or RSA-OAEP is not one of our RS256 keys */
    if (alg_present && strcmp(alg, ly_jwt_alg_str(want)) != 0)
        return -1;
    switch (want) {
    case LY_ALG_RS256:
        pkey = rsa_key(o);
        break;
    case LY_ALG_ES256:
        pkey = ec_key(o);
        break;
    case LY_ALG_EDDSA:
        pkey = ed25519_key(o);
        break;
    case LY_ALG_HS256:
        break;
    }
    ERR_clear_error();
    if (pkey == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    out->kid = ly_xstrdup(kid);
    out->alg = want;
    out->key.pkey = pkey;
    return 0;
}

int ly_jwks_parse(const char *json, size_t n, struct ly_jwks **out, const char **why)
{
    struct ly_jwks *ks = NULL;
    json_object *o = NULL, *keys = NULL;
    const char *reason = "JWK Set is not a JSON object with a keys array";
    size_t i, len;
    int r = LY_E_VALIDATION;

    if (json == NULL || n > JWKS_MAX) {
        reason = "JWK Set too large";
        goto out;
    }
    if (ly_json_decode((struct ly_str){json, n}, JWK_DEPTH_MAX,
                       LY_JSON_UNIQUE_KEYS | LY_JSON_NO_NUL, &o) != LY_OK ||
        !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "keys", &keys) ||
        !json_object_is_type(keys, json_type_array))
        goto out;
    len = json_object_array_length(keys);
    if (len > JWKS_KEYS_MAX) {
        reason = "JWK Set has too many keys";
        goto out;
    }
    ks = ly_xcalloc(1, sizeof(*ks));
    ks->keys = ly_xcalloc(len > 0 ? len : 1, sizeof(*ks->keys));
    for (i = 0; i < len; i++)
        if (parse_jwk(json_object_array_get_idx(keys, i), &ks->keys[ks->n]) == 0)
            ks->n++;
    *out = ks;
    ks = NULL;
    r = LY_OK;
out:
    ly_jwks_free(ks);
    json_object_put(o);
    if (r != LY_OK && why != NULL)
        *why = reason;
    return r;
}

void ly_jwks_free(struct ly_jwks *ks)
{
    size_t i;

    if (ks == NULL)
        return;
    for (i = 0; i < ks->n; i++) {
        free(ks->keys[i].kid);
        EVP_PKEY_free(ks->keys[i].key.pkey);
    }
    free(ks->keys);
    free(ks);
}

size_t ly_jwks_count(const struct ly_jwks *ks)
{
    return ks != NULL ? ks->n : 0;
}

/* ---- ID tokens ------------------------------------------------------------------ */

/* RS256, ES256 or EdDSA; never none, HS* or anything else. 0 / -1. */
static int idtoken_alg(const char *s, enum ly_jwt_alg *out)
{
    static const enum ly_jwt_alg allowed[] = {LY_ALG_RS256, LY_ALG_ES256, LY_ALG_EDDSA};
    size_t i;

    for (i = 0; s != NULL && i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        if (strcmp(s, ly_jwt_alg_str(allowed[i])) == 0) {
            *out = allowed[i];
            return 0;
        }
    }
    return -1;
}

/*
 * The key for kid and alg. NULL with *known false when no key has that
 * kid (the caller refetches the set once), with *known true when the key
 * that has it is of another type: an RSA key never verifies an ES256
 * token, whatever the header says.
 */
static const struct jwk *find_key(const struct ly_jwks *ks, const char *kid, enum ly_jwt_alg alg,
                                  bool *known)
{
    size_t i;

    *known = false;
    for (i = 0; ks != NULL && i < ks->n; i++) {
        if (strcmp(ks->keys[i].kid, kid) != 0)
            continue;
        *known = true;
        if (ks->keys[i].alg == alg)
            return &ks->keys[i];
    }
    return NULL;
}

/*
 * OpenID Connect Core §3.1.3.7 items 3-5: aud holds client_id; with more
 * than one audience azp is required; azp, when present, is client_id.
 */
static bool aud_ok(json_object *pl, const char *client_id)
{
    json_object *v = NULL;
    const char *azp;
    bool azp_present;
    size_t n_aud = 1;

    if (!ly_jws_aud_has(pl, client_id))
        return false;
    if (json_object_object_get_ex(pl, "aud", &v) && json_object_is_type(v, json_type_array))
        n_aud = json_object_array_length(v);
    azp = ly_jws_get_str(pl, "azp", &azp_present);
    if (azp_present && (azp == NULL || strcmp(azp, client_id) != 0))
        return false;
    return n_aud == 1 || azp_present;
}

/* The claims of an already verified payload, checked, then copied into a. */
static int check_claims(json_object *pl, const struct ly_idtoken_expect *exp, struct ly_arena *a,
                        struct ly_idtoken_claims *out, const char **why)
{
    const char *iss, *sub, *nonce, *email;
    bool present, email_present;
    json_object *v = NULL;
    int64_t t_exp = 0, t_iat = 0, t_nbf = 0, leeway;

    iss = ly_jws_get_str(pl, "iss", &present);
    sub = ly_jws_get_str(pl, "sub", &present);
    nonce = ly_jws_get_str(pl, "nonce", &present);
    email = ly_jws_get_str(pl, "email", &email_present);
    if (iss == NULL || sub == NULL || sub[0] == '\0' || strlen(sub) > SUB_MAX ||
        (email_present && email == NULL)) {
        *why = "malformed token claims";
        return -1;
    }
    if (ly_jws_get_time(pl, "exp", &t_exp) != 0 || ly_jws_get_time(pl, "iat", &t_iat) != 0 ||
        (json_object_object_get_ex(pl, "nbf", NULL) && ly_jws_get_time(pl, "nbf", &t_nbf) != 0)) {
        *why = "malformed token times";
        return -1;
    }
    if (strcmp(iss, exp->issuer) != 0) {
        *why = "wrong issuer";
        return -1;
    }
    if (!aud_ok(pl, exp->client_id)) {
        *why = "wrong audience";
        return -1;
    }
    leeway = exp->leeway < 0 ? 0 : exp->leeway > LEEWAY_MAX ? LEEWAY_MAX : exp->leeway;
    if (t_exp + leeway <= exp->now) {
        *why = "token expired";
        return -1;
    }
    if (t_nbf - leeway > exp->now || t_iat - leeway > exp->now) {
        *why = "token not yet valid";
        return -1;
    }
    /* §3.1.3.7 item 11: the nonce we sent, exactly; it is not a secret, strcmp is enough */
    if (nonce == NULL || strcmp(nonce, exp->nonce) != 0) {
        *why = "nonce mismatch";
        return -1;
    }
    out->sub = ly_arena_strdup(a, sub);
    out->email = email != NULL ? ly_arena_strdup(a, email) : NULL;
    /*
     * Only JSON true is verified. Some providers (Cognito, older ADFS) send
     * the string "true"; accepting a string would let one sloppy mapping of
     * an unverified attribute into the claim pass too, and SSO then lets that
     * address into an organization. Such a provider can be fixed on its side.
     */
    out->email_verified = json_object_object_get_ex(pl, "email_verified", &v) &&
                          json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
    return 0;
}

int ly_idtoken_verify(const struct ly_jwks *ks, const char *token, size_t n,
                      const struct ly_idtoken_expect *exp, struct ly_arena *a,
                      struct ly_idtoken_claims *out, const char **why)
{
    struct ly_jws_parts parts;
    struct ly_idtoken_claims c = {0};
    const struct jwk *k;
    json_object *hdr = NULL, *pl = NULL;
    unsigned char *buf = NULL, *sig = NULL;
    const char *reason = "malformed token", *kid, *typ;
    enum ly_jwt_alg alg;
    size_t len, siglen;
    bool known, present;
    int r = LY_E_INVALID_TOKEN;

    if (exp == NULL || exp->issuer == NULL || exp->client_id == NULL || exp->nonce == NULL) {
        reason = "nothing to verify against";
        goto out;
    }
    /* the cap comes before any decoding */
    if (n > IDTOKEN_MAX) {
        reason = "token too large";
        goto out;
    }
    if (ly_jws_split(token, n, &parts) != 0)
        goto out;
    buf = ly_xmalloc(IDTOKEN_MAX);
    sig = ly_xmalloc(IDTOKEN_MAX);
    if (ly_jws_decode_part(parts.hdr, parts.hdr_len, buf, IDTOKEN_MAX, &len) != 0)
        goto out;
    hdr = ly_jws_parse_object((const char *)buf, len);
    if (hdr == NULL)
        goto out;
    if (!ly_jws_header_is_plain(hdr)) {
        reason = "unsupported token header";
        goto out;
    }
    /* RFC 8725 §3.1: the allowed algorithms are ours, the header only names one of them */
    if (idtoken_alg(ly_jws_get_str(hdr, "alg", &present), &alg) != 0) {
        reason = "unexpected algorithm";
        goto out;
    }
    /* RFC 9068 §2.1: typ at+jwt marks an access token, which is no ID token */
    typ = ly_jws_get_str(hdr, "typ", &present);
    if (present && (typ == NULL || strcasecmp(typ, "at+jwt") == 0 ||
                    strcasecmp(typ, "application/at+jwt") == 0)) {
        reason = "wrong token type";
        goto out;
    }
    kid = ly_jws_get_str(hdr, "kid", &present);
    if (kid == NULL || kid[0] == '\0') {
        reason = "token has no key id";
        goto out;
    }
    /* all three parts decode before an unknown kid may cost a refetch of the JWK Set */
    if (ly_jws_decode_part(parts.sig, parts.sig_len, sig, IDTOKEN_MAX, &siglen) != 0 ||
        ly_jws_decode_part(parts.pl, parts.pl_len, buf, IDTOKEN_MAX, &len) != 0)
        goto out;
    k = find_key(ks, kid, alg, &known);
    if (k == NULL && !known) {
        reason = "unknown signing key";
        r = LY_IDTOKEN_UNKNOWN_KID;
        goto out;
    }
    if (k == NULL) {
        reason = "algorithm does not match the key";
        goto out;
    }
    /* the signature over the received bytes, before the payload is parsed */
    if (!ly_jws_verify(alg, &k->key, token, parts.signed_len, sig, siglen)) {
        reason = "signature mismatch";
        goto out;
    }
    pl = ly_jws_parse_object((const char *)buf, len);
    if (pl == NULL) {
        reason = "malformed token claims";
        goto out;
    }
    if (check_claims(pl, exp, a, &c, &reason) != 0)
        goto out;
    *out = c;
    r = LY_OK;
out:
    json_object_put(hdr);
    json_object_put(pl);
    free(buf);
    free(sig);
    if (r != LY_OK && why != NULL)
        *why = reason;
    return r;
}

/* ---- PKCE ----------------------------------------------------------------------- */

int ly_pkce_challenge(const char *verifier, char out[44])
{
    unsigned char digest[LY_SHA256_LEN];
    size_t len, i;

    if (verifier == NULL)
        return LY_E_VALIDATION;
    len = strlen(verifier);
    if (len < PKCE_VERIFIER_MIN || len > PKCE_VERIFIER_MAX)
        return LY_E_VALIDATION;
    /* RFC 7636 §4.1: unreserved characters only */
    for (i = 0; i < len; i++) {
        char ch = verifier[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.' || ch == '_' || ch == '~'))
            return LY_E_VALIDATION;
    }
    ly_sha256(verifier, len, digest);
    ly_base64url_encode(digest, sizeof(digest), out);
    return LY_OK;
}
