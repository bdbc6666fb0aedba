#include "build-config.h"
#include "banned.h"
#include "lanyard/jwt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "internal.h"
#include "lanyard/codec.h"
#include "lanyard/ct.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"
#include "lanyard/json.h"
#include "lanyard/arena.h"

#define ES256_COORD_LEN 32
#define ES256_SIG_LEN   64
#define ED25519_SIG_LEN 64
#define SIG_MAX         2048           /* RSA up to 16384 bits */
#define JSON_DEPTH_MAX  8              /* claims are flat; aud may be an array */
#define TIME_MAX        253402300799LL /* 9999-12-31T23:59:59Z: rejects absurd and saturated values */

/* ---- signatures ---------------------------------------------------------------- */

/* One EVP_DigestSign/Verify; md NULL for Ed25519, which hashes internally (RFC 8032). */
static int pkey_sign(EVP_PKEY *pkey, const EVP_MD *md, const void *in, size_t n, unsigned char *sig,
                     size_t *siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int r = -1;

    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, md, NULL, pkey) != 1 ||
        EVP_DigestSign(ctx, sig, siglen, in, n) != 1)
        goto out;
    r = 0;
out:
    EVP_MD_CTX_free(ctx);
    return r;
}

/*
 * The verifying context is the process's, made once and reset after each
 * use: verification is on every JWT check's cold path, and a worker runs
 * one request at a time (a new context per check was one allocation and
 * set-up per request for nothing).
 */
static EVP_MD_CTX *verify_ctx;

static bool pkey_verify(EVP_PKEY *pkey, const EVP_MD *md, const void *in, size_t n,
                        const unsigned char *sig, size_t siglen)
{
    bool ok = false;

    if (verify_ctx == NULL)
        verify_ctx = EVP_MD_CTX_new();
    if (verify_ctx != NULL && EVP_DigestVerifyInit(verify_ctx, NULL, md, NULL, pkey) == 1 &&
        EVP_DigestVerify(verify_ctx, sig, siglen, in, n) == 1)
        ok = true;
    if (verify_ctx != NULL)
        EVP_MD_CTX_reset(verify_ctx); /* drops the key's reference, keeps the context */
    return ok;
}

/* The P-256 group order n (SEC 2 §2.4.2) and n/2, big-endian. */
static const unsigned char P256_ORDER[ES256_COORD_LEN] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
static const unsigned char P256_HALF_ORDER[ES256_COORD_LEN] = {
    0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xDE, 0x73, 0x7D, 0x56, 0xD3, 0x8B, 0xCF, 0x42, 0x79, 0xDC, 0xE5, 0x61, 0x7E, 0x31, 0x92, 0xA8};

/*
 * ECDSA is malleable: (r, n - s) verifies wherever (r, s) does. Lanyard signs
 * with low S and its access-token verifier refuses high S (issue 18), so a
 * token has exactly one valid encoding. s is public: no constant time needed.
 */
static bool es256_s_is_low(const unsigned char s[ES256_COORD_LEN])
{
    return memcmp(s, P256_HALF_ORDER, ES256_COORD_LEN) <= 0;
}

/* RFC 7518 §3.4: JWS carries R||S, 32 bytes each; OpenSSL speaks DER. */
static int es256_der_to_raw(const unsigned char *der, size_t derlen, unsigned char raw[64])
{
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    const BIGNUM *r = NULL, *s = NULL;
    BIGNUM *n = NULL;
    int rc = -1;

    if (es == NULL)
        goto out;
    ECDSA_SIG_get0(es, &r, &s);
    /* low S only (s <= n/2): one token, one valid encoding (see es256_s_is_low) */
    if (BN_bn2binpad(s, raw + ES256_COORD_LEN, ES256_COORD_LEN) != ES256_COORD_LEN)
        goto out;
    if (!es256_s_is_low(raw + ES256_COORD_LEN)) {
        n = BN_bin2bn(P256_ORDER, ES256_COORD_LEN, NULL);
        if (n == NULL || BN_sub(n, n, s) != 1)
            goto out;
        s = n;
    }
    if (BN_bn2binpad(r, raw, ES256_COORD_LEN) != ES256_COORD_LEN ||
        BN_bn2binpad(s, raw + ES256_COORD_LEN, ES256_COORD_LEN) != ES256_COORD_LEN)
        goto out;
    rc = 0;
out:
    BN_free(n);
    ECDSA_SIG_free(es);
    return rc;
}

/* raw R||S to a freshly allocated DER; *der freed with OPENSSL_free. */
static int es256_raw_to_der(const unsigned char raw[64], unsigned char **der, size_t *derlen)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, ES256_COORD_LEN, NULL);
    BIGNUM *s = BN_bin2bn(raw + ES256_COORD_LEN, ES256_COORD_LEN, NULL);
    unsigned char *d = NULL;
    int n, rc = -1;

    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
        goto out;
    r = s = NULL; /* owned by es now */
    n = i2d_ECDSA_SIG(es, &d);
    if (n <= 0)
        goto out;
    *der = d;
    *derlen = (size_t)n;
    rc = 0;
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return rc;
}

int ly_jws_sign(enum ly_jwt_alg alg, const struct ly_jwt_key *k, const void *input, size_t n,
                unsigned char *sig, size_t sigmax, size_t *siglen)
{
    unsigned char der[SIG_MAX];
    size_t len;
    int r = -1;

    switch (alg) {
    case LY_ALG_HS256:
        if (k->secret == NULL || sigmax < LY_SHA256_LEN)
            goto out;
        ly_hmac_sha256(k->secret, k->secret_len, input, n, sig);
        *siglen = LY_SHA256_LEN;
        r = 0;
        break;
    case LY_ALG_RS256:
        len = sigmax;
        if (k->pkey == NULL || pkey_sign(k->pkey, EVP_sha256(), input, n, sig, &len) != 0)
            goto out;
        *siglen = len;
        r = 0;
        break;
    case LY_ALG_ES256:
        len = sizeof(der);
        if (k->pkey == NULL || sigmax < ES256_SIG_LEN ||
            pkey_sign(k->pkey, EVP_sha256(), input, n, der, &len) != 0 ||
            es256_der_to_raw(der, len, sig) != 0)
            goto out;
        *siglen = ES256_SIG_LEN;
        r = 0;
        break;
    case LY_ALG_EDDSA:
        len = sigmax;
        if (k->pkey == NULL || pkey_sign(k->pkey, NULL, input, n, sig, &len) != 0)
            goto out;
        *siglen = len;
        r = 0;
        break;
    }
out:
    ERR_clear_error();
    return r;
}

bool ly_jws_verify(enum ly_jwt_alg alg, const struct ly_jwt_key *k, const void *input, size_t n,
                   const unsigned char *sig, size_t siglen)
{
    unsigned char mac[LY_SHA256_LEN];
    unsigned char *der = NULL;
    size_t derlen = 0;
    bool ok = false;

    switch (alg) {
    case LY_ALG_HS256:
        if (k->secret == NULL || siglen != LY_SHA256_LEN)
            break;
        ly_hmac_sha256(k->secret, k->secret_len, input, n, mac);
        ok = ly_ct_equal(mac, sig, LY_SHA256_LEN);
        OPENSSL_cleanse(mac, sizeof(mac));
        break;
    case LY_ALG_RS256:
        /* RFC 8017 §8.2.2: the signature is exactly as long as the modulus */
        if (k->pkey == NULL || siglen != (size_t)EVP_PKEY_get_size(k->pkey))
            break;
        ok = pkey_verify(k->pkey, EVP_sha256(), input, n, sig, siglen);
        break;
    case LY_ALG_ES256:
        if (k->pkey == NULL || siglen != ES256_SIG_LEN || es256_raw_to_der(sig, &der, &derlen) != 0)
            break;
        ok = pkey_verify(k->pkey, EVP_sha256(), input, n, der, derlen);
        break;
    case LY_ALG_EDDSA:
        if (k->pkey == NULL || siglen != ED25519_SIG_LEN)
            break;
        ok = pkey_verify(k->pkey, NULL, input, n, sig, siglen);
        break;
    }
    OPENSSL_free(der);
    ERR_clear_error();
    return ok;
}

/* ---- signing ------------------------------------------------------------------- */

static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static void add_int(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

/* base64url of s into the arena-backed buffer at *p; advances *p */
static void put_b64url(char **p, const void *s, size_t n)
{
    *p += ly_base64url_encode(s, n, *p);
}

int ly_jwt_sign(const struct ly_keyset *ks, const struct ly_jwt_claims *claims, struct ly_arena *a,
                char **out)
{
    const struct ly_jwt_key *k = &ks->keys[0];
    json_object *hdr = NULL, *pl = NULL;
    const char *htext, *ptext;
    size_t hlen, plen, siglen = 0, total;
    unsigned char sig[SIG_MAX];
    char *tok, *p;
    int r = LY_E_CRYPTO;

    if (claims->iss == NULL || claims->sub == NULL || claims->aud == NULL || claims->jti == NULL ||
        claims->client_id == NULL || !k->can_sign ||
        (claims->principal_type != LY_PRINCIPAL_USER &&
         claims->principal_type != LY_PRINCIPAL_SERVICE_ACCOUNT))
        goto out;
    hdr = json_object_new_object();
    add_str(hdr, "alg", ly_jwt_alg_str(ks->alg));
    add_str(hdr, "typ", "at+jwt");
    add_str(hdr, "kid", k->kid);
    pl = json_object_new_object();
    add_str(pl, "iss", claims->iss);
    add_str(pl, "sub", claims->sub);
    add_str(pl, "aud", claims->aud);
    add_int(pl, "exp", claims->exp);
    add_int(pl, "iat", claims->iat);
    add_int(pl, "nbf", claims->nbf);
    add_str(pl, "jti", claims->jti);
    add_str(pl, "client_id", claims->client_id);
    add_str(pl, "principal_type",
            claims->principal_type == LY_PRINCIPAL_USER ? "user" : "service_account");
    if (claims->sid != NULL)
        add_str(pl, "sid", claims->sid);
    if (claims->org != NULL)
        add_str(pl, "org", claims->org);
    if (claims->resource != NULL)
        add_str(pl, "resource", claims->resource);
    htext = json_object_to_json_string_ext(hdr,
                                           JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    ptext =
        json_object_to_json_string_ext(pl, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (htext == NULL || ptext == NULL)
        goto out;
    hlen = strlen(htext);
    plen = strlen(ptext);
    total = ly_base64url_encoded_len(hlen) + 1 + ly_base64url_encoded_len(plen) + 1 +
            ly_base64url_encoded_len(SIG_MAX) + 1;
    tok = ly_arena_alloc(a, total);
    p = tok;
    put_b64url(&p, htext, hlen);
    *p++ = '.';
    put_b64url(&p, ptext, plen);
    if (ly_jws_sign(ks->alg, k, tok, (size_t)(p - tok), sig, sizeof(sig), &siglen) != 0)
        goto out;
    *p++ = '.';
    put_b64url(&p, sig, siglen);
    *out = tok;
    r = LY_OK;
out:
    json_object_put(hdr);
    json_object_put(pl);
    return r;
}

/* ---- verification -------------------------------------------------------------- */

/*
 * A JSON object that is the whole of the n bytes at p; else NULL. The same
 * strict RFC 8259 check as request bodies (ly_json_decode: no NaN, no
 * single quotes, nothing after the value), and stricter still: a repeated
 * key at any level (RFC 7515 §5.2 / RFC 8725 §3.1: no ambiguous headers or
 * claims) and "\u0000" in any key or string are refused. No size check
 * here: every caller caps the whole token before decoding any part of it.
 */
struct json_object *ly_jws_parse_object(const char *p, size_t n)
{
    json_object *o = NULL;

    if (ly_json_decode((struct ly_str){p, n}, JSON_DEPTH_MAX, LY_JSON_UNIQUE_KEYS | LY_JSON_NO_NUL,
                       &o) != LY_OK)
        return NULL;
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

const char *ly_jws_get_str(struct json_object *o, const char *k, bool *present)
{
    json_object *v = NULL;
    const char *s;

    *present = json_object_object_get_ex(o, k, &v);
    if (!*present || !json_object_is_type(v, json_type_string))
        return NULL;
    s = json_object_get_string(v);
    if (s == NULL || strlen(s) != (size_t)json_object_get_string_len(v))
        return NULL;
    return s;
}

static const char *req_str(json_object *o, const char *k)
{
    bool present;

    return ly_jws_get_str(o, k, &present);
}

int ly_jws_get_time(struct json_object *o, const char *k, int64_t *out)
{
    json_object *v = NULL;
    int64_t t;

    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
        return -1;
    t = json_object_get_int64(v);
    if (t < 0 || t > TIME_MAX)
        return -1;
    *out = t;
    return 0;
}

bool ly_jws_aud_has(struct json_object *pl, const char *audience)
{
    json_object *v = NULL;
    size_t i, n;
    bool present;
    const char *s;

    if (!json_object_object_get_ex(pl, "aud", &v))
        return false;
    if (json_object_is_type(v, json_type_string)) {
        s = ly_jws_get_str(pl, "aud", &present);
        return s != NULL && strcmp(s, audience) == 0;
    }
    /* RFC 7519 §4.1.3: an array of which one must be ours */
    if (!json_object_is_type(v, json_type_array))
        return false;
    n = json_object_array_length(v);
    for (i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (json_object_is_type(e, json_type_string) &&
            strlen(json_object_get_string(e)) == (size_t)json_object_get_string_len(e) &&
            strcmp(json_object_get_string(e), audience) == 0)
            return true;
    }
    return false;
}

int ly_jws_decode_part(const char *p, size_t n, unsigned char *buf, size_t max, size_t *outlen)
{
    /* RFC 7515 §2: base64url without padding; ly_base64url_decode refuses '=', '+', '/' */
    if (n == 0)
        return -1;
    return ly_base64url_decode(p, n, buf, max, outlen);
}

int ly_jws_split(const char *tok, size_t n, struct ly_jws_parts *out)
{
    const char *d1, *d2, *end;

    if (tok == NULL || n == 0)
        return -1;
    end = tok + n;
    d1 = memchr(tok, '.', n);
    d2 = d1 != NULL ? memchr(d1 + 1, '.', (size_t)(end - d1 - 1)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) != NULL)
        return -1;
    out->hdr = tok;
    out->hdr_len = (size_t)(d1 - tok);
    out->pl = d1 + 1;
    out->pl_len = (size_t)(d2 - d1 - 1);
    out->sig = d2 + 1;
    out->sig_len = (size_t)(end - d2 - 1);
    out->signed_len = (size_t)(d2 - tok);
    return 0;
}

bool ly_jws_header_is_plain(struct json_object *hdr)
{
    /* RFC 8725 §3.1: nothing in the header may fetch a key or change the rules */
    static const char *const forbidden[] = {"crit", "jku", "jwk", "x5u", "x5c"};
    size_t i;

    for (i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
        if (json_object_object_get_ex(hdr, forbidden[i], NULL))
            return false;
    return true;
}

/* RFC 8725 §3.1, §3.11, SPEC §4: the header decides nothing but the kid. */
static const struct ly_jwt_key *check_header(const struct ly_keyset *ks, json_object *hdr,
                                             const char **why)
{
    const struct ly_jwt_key *k;
    const char *alg, *typ, *kid;

    if (!ly_jws_header_is_plain(hdr)) {
        *why = "unsupported token header";
        return NULL;
    }
    alg = req_str(hdr, "alg");
    if (alg == NULL || strcmp(alg, ly_jwt_alg_str(ks->alg)) != 0) {
        *why = "unexpected algorithm";
        return NULL;
    }
    /* RFC 9068 §4 / RFC 8725 §3.11: explicit typing keeps ID tokens and others out */
    typ = req_str(hdr, "typ");
    if (typ == NULL || strcmp(typ, "at+jwt") != 0) {
        *why = "wrong token type";
        return NULL;
    }
    kid = req_str(hdr, "kid");
    k = kid != NULL ? ly_keyset_find(ks, kid, strlen(kid)) : NULL;
    if (k == NULL) {
        *why = "unknown signing key";
        return NULL;
    }
    return k;
}

/* The claims of an already verified payload, copied into a. */
static int check_claims(json_object *pl, const struct ly_jwt_expect *exp, struct ly_arena *a,
                        struct ly_jwt_claims *out, const char **why)
{
    struct ly_jwt_claims c = {0};
    const char *iss, *sub, *jti, *client_id, *pt, *sid, *org, *resource;
    bool sid_present, org_present, resource_present;

    iss = req_str(pl, "iss");
    sub = req_str(pl, "sub");
    jti = req_str(pl, "jti");
    client_id = req_str(pl, "client_id");
    pt = req_str(pl, "principal_type");
    sid = ly_jws_get_str(pl, "sid", &sid_present);
    org = ly_jws_get_str(pl, "org", &org_present);
    resource = ly_jws_get_str(pl, "resource", &resource_present);
    if (iss == NULL || sub == NULL || jti == NULL || client_id == NULL || pt == NULL ||
        (sid_present && sid == NULL) || (org_present && org == NULL) ||
        (resource_present && resource == NULL) || ly_jws_get_time(pl, "exp", &c.exp) != 0 ||
        ly_jws_get_time(pl, "iat", &c.iat) != 0 || ly_jws_get_time(pl, "nbf", &c.nbf) != 0) {
        *why = "malformed token claims";
        return -1;
    }
    if (strcmp(pt, "user") == 0) {
        c.principal_type = LY_PRINCIPAL_USER;
    } else if (strcmp(pt, "service_account") == 0) {
        c.principal_type = LY_PRINCIPAL_SERVICE_ACCOUNT;
    } else {
        *why = "malformed token claims";
        return -1;
    }
    if (exp->issuer == NULL || strcmp(iss, exp->issuer) != 0) {
        *why = "wrong issuer";
        return -1;
    }
    if (exp->audience == NULL || !ly_jws_aud_has(pl, exp->audience)) {
        *why = "wrong audience";
        return -1;
    }
    /* RFC 7519 §4.1.4/§4.1.5 with the configured clock skew (SPEC §2 tokens.leeway) */
    if (c.exp + exp->leeway <= exp->now) {
        *why = "token expired";
        return -1;
    }
    if (c.nbf - exp->leeway > exp->now) {
        *why = "token not yet valid";
        return -1;
    }
    c.iss = ly_arena_strdup(a, iss);
    c.sub = ly_arena_strdup(a, sub);
    c.aud = ly_arena_strdup(a, exp->audience);
    c.jti = ly_arena_strdup(a, jti);
    c.client_id = ly_arena_strdup(a, client_id);
    c.sid = sid != NULL ? ly_arena_strdup(a, sid) : NULL;
    c.org = org != NULL ? ly_arena_strdup(a, org) : NULL;
    c.resource = resource != NULL ? ly_arena_strdup(a, resource) : NULL;
    *out = c;
    return 0;
}

int ly_jwt_verify(const struct ly_keyset *ks, struct ly_str token, const struct ly_jwt_expect *exp,
                  struct ly_arena *a, struct ly_jwt_claims *out, const char **why)
{
    struct ly_jws_parts parts;
    const struct ly_jwt_key *k;
    json_object *hdr = NULL, *pl = NULL;
    unsigned char *buf = NULL;
    size_t n;
    const char *reason = "malformed token";
    int r = LY_E_INVALID_TOKEN;

    /* SPEC §4: the cap comes before any decoding */
    if (token.len > LY_JWT_MAX_LEN) {
        reason = "token too large";
        goto out;
    }
    if (ly_jws_split(token.ptr, token.len, &parts) != 0)
        goto out;
    /* The request's arena, not malloc: the decoded parts live as long as the check. */
    buf = ly_arena_alloc(a, LY_JWT_MAX_LEN);

    if (ly_jws_decode_part(parts.hdr, parts.hdr_len, buf, LY_JWT_MAX_LEN, &n) != 0)
        goto out;
    hdr = ly_jws_parse_object((const char *)buf, n);
    if (hdr == NULL)
        goto out;
    k = check_header(ks, hdr, &reason);
    if (k == NULL)
        goto out;

    /* RFC 8725 §3.1 / STYLE 9: the signature over the received bytes, before the payload */
    if (ly_jws_decode_part(parts.sig, parts.sig_len, buf, LY_JWT_MAX_LEN, &n) != 0)
        goto out;
    if ((ks->alg == LY_ALG_ES256 &&
         (n != ES256_SIG_LEN || !es256_s_is_low(buf + ES256_COORD_LEN))) ||
        !ly_jws_verify(ks->alg, k, token.ptr, parts.signed_len, buf, n)) {
        reason = "signature mismatch";
        goto out;
    }

    if (ly_jws_decode_part(parts.pl, parts.pl_len, buf, LY_JWT_MAX_LEN, &n) != 0)
        goto out;
    pl = ly_jws_parse_object((const char *)buf, n);
    if (pl == NULL) {
        reason = "malformed token claims";
        goto out;
    }
    if (check_claims(pl, exp, a, out, &reason) != 0)
        goto out;
    r = LY_OK;
out:
    json_object_put(hdr);
    json_object_put(pl);
    if (r != LY_OK && why != NULL)
        *why = reason;
    return r;
}

bool ly_jwt_looks_like(struct ly_str s)
{
    /* Three memchr, not a loop over every byte: this runs on every bearer credential. */
    if (s.len == 0)
        return false;
    const char *end = s.ptr + s.len;
    const char *dot1 = memchr(s.ptr, '.', s.len);
    if (dot1 == NULL)
        return false;
    const char *dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));
    return dot2 != NULL && memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) == NULL;
}
