/*
 * fuzz_oidc: what a relying party parses of an OpenID Connect provider
 * (src/token/oidc.c): discovery documents, JWK Sets and ID tokens, against
 * a provider whose Ed25519 and P-256 keys are generated once per process.
 *
 * The first byte picks the mode (its low two bits, so '0'..'3' in text seeds):
 *   0  the rest is a discovery document, for issuer ISSUER;
 *   1  the rest is a JWK Set;
 *   2  the rest is an ID token as received;
 *   3  the second byte picks the key (bit 0: Ed25519 or P-256; '0' or '1' in
 *      text seeds), the rest is
 *      "HEADER\nPAYLOAD": "@KID@" in HEADER becomes the key's kid and the
 *      harness signs it, so the claims checks are reached.
 * Invariants: a failure returns the documented code with a static reason and
 * leaves the output alone; in mode 2 nothing verifies (the input holds no
 * signature of ours); a discovery document that passes has our issuer and
 * http(s) endpoints; a token that passes has a subject and our nonce's
 * expectations met (checked by the library, here: its outputs are sane).
 */
#include "build-config.h"
#include "banned.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "lanyard/arena.h"
#include "lanyard/codec.h"
#include "lanyard/err.h"
#include "lanyard/oidc.h"
#include "../../src/token/internal.h"

#include "fuzz.h"

#define NOW    1700000000
#define ISSUER "https://idp.test"
#define CID    "lanyard"
#define NONCE  "nonce-1"

static const struct ly_idtoken_expect expect = {ISSUER, CID, NONCE, NOW, 30};
static EVP_PKEY *keys[2]; /* Ed25519 "ed1", P-256 "ec1" */
static const char *const kids[2] = {"ed1", "ec1"};
static const enum ly_jwt_alg key_algs[2] = {LY_ALG_EDDSA, LY_ALG_ES256};
static struct ly_jwks *provider;

static void b64(char *out, const unsigned char *p, size_t n)
{
    ly_base64url_encode(p, n, out);
}

static struct ly_jwks *the_provider(void)
{
    unsigned char ed[32], pt[65];
    char x[64], ex[64], ey[64], json[512];
    size_t len = sizeof(ed);
    const char *why = NULL;

    if (provider != NULL)
        return provider;
    keys[0] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    keys[1] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    FUZZ_CHECK(keys[0] != NULL && keys[1] != NULL);
    FUZZ_CHECK(EVP_PKEY_get_raw_public_key(keys[0], ed, &len) == 1 && len == 32);
    FUZZ_CHECK(EVP_PKEY_get_octet_string_param(keys[1], OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt),
                                               &len) == 1 &&
               len == 65);
    b64(x, ed, 32);
    b64(ex, pt + 1, 32);
    b64(ey, pt + 33, 32);
    snprintf(json, sizeof(json),
             "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed1\",\"x\":\"%s\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec1\",\"x\":\"%s\",\"y\":\"%s\"}]}",
             x, ex, ey);
    FUZZ_CHECK(ly_jwks_parse(json, strlen(json), &provider, &why) == LY_OK);
    FUZZ_CHECK(ly_jwks_count(provider) == 2);
    return provider;
}

static bool is_static_reason(const char *why, const void *in, size_t n)
{
    const char *p = in;
    return why != NULL && strlen(why) > 0 && strlen(why) < 64 && !(why >= p && why < p + n);
}

static void discovery(struct ly_arena *a, const char *in, size_t n)
{
    struct ly_oidc_discovery d, sentinel;
    const char *why = NULL;
    int r;

    memset(&sentinel, 0xA5, sizeof(sentinel));
    d = sentinel;
    r = ly_oidc_discovery_parse(in, n, ISSUER, a, &d, &why);
    if (r != LY_OK) {
        FUZZ_CHECK(r == LY_E_VALIDATION && is_static_reason(why, in, n));
        FUZZ_CHECK(memcmp(&d, &sentinel, sizeof(d)) == 0);
        return;
    }
    FUZZ_CHECK(strcmp(d.issuer, ISSUER) == 0);
    FUZZ_CHECK(strncmp(d.authorization_endpoint, "http", 4) == 0);
    FUZZ_CHECK(strncmp(d.token_endpoint, "http", 4) == 0);
    FUZZ_CHECK(strncmp(d.jwks_uri, "http", 4) == 0);
}

/* Verify and check the invariants of either outcome; returns the result. */
static int verify(const struct ly_jwks *ks, struct ly_arena *a, const char *tok, size_t n)
{
    struct ly_idtoken_claims c, sentinel;
    const char *why = NULL;
    int r;

    memset(&sentinel, 0xA5, sizeof(sentinel));
    c = sentinel;
    r = ly_idtoken_verify(ks, tok, n, &expect, a, &c, &why);
    if (getenv("FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "  idtoken: %d %s\n", r, r == LY_OK ? c.sub : why);
    if (r != LY_OK) {
        FUZZ_CHECK(r == LY_E_INVALID_TOKEN || r == LY_IDTOKEN_UNKNOWN_KID);
        FUZZ_CHECK(is_static_reason(why, tok, n));
        FUZZ_CHECK(memcmp(&c, &sentinel, sizeof(c)) == 0);
        return r;
    }
    FUZZ_CHECK(c.sub != NULL && c.sub[0] != '\0' && strlen(c.sub) <= 255);
    FUZZ_CHECK(c.email_verified == true || c.email_verified == false);
    return r;
}

static void jwks(struct ly_arena *a, const char *in, size_t n)
{
    struct ly_jwks *ks = NULL;
    const char *why = NULL;
    int r = ly_jwks_parse(in, n, &ks, &why);

    if (r != LY_OK) {
        FUZZ_CHECK(r == LY_E_VALIDATION && ks == NULL && is_static_reason(why, in, n));
        return;
    }
    FUZZ_CHECK(ks != NULL && ly_jwks_count(ks) <= 64);
    /* a token that names a kid the set may hold; it is signed by none of them */
    static const char tok[] = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsifQ.e30.AAAA";
    FUZZ_CHECK(verify(ks, a, tok, sizeof(tok) - 1) != LY_OK);
    ly_jwks_free(ks);
}

static void signed_parts(struct ly_arena *a, const unsigned char *in, size_t n)
{
    const struct ly_jwks *ks = the_provider();
    size_t which, hlen, plen, o = 0, siglen = 0;
    const char *text, *nl, *mark;
    unsigned char sig[128];
    struct ly_jwt_key k = {0};
    char *h, *tok;

    if (n < 1)
        return;
    which = in[0] & 1;
    text = (const char *)in + 1;
    n--;
    nl = memchr(text, '\n', n);
    if (nl == NULL)
        return;
    hlen = (size_t)(nl - text);
    plen = n - hlen - 1;
    /* the header with @KID@ replaced (once) */
    h = ly_arena_alloc(a, hlen + 8);
    mark = memmem(text, hlen, "@KID@", 5);
    if (mark != NULL) {
        size_t pre = (size_t)(mark - text);
        memcpy(h, text, pre);
        memcpy(h + pre, kids[which], 3);
        memcpy(h + pre + 3, mark + 5, hlen - pre - 5);
        hlen -= 2;
    } else {
        memcpy(h, text, hlen);
    }
    tok = ly_arena_alloc(a, ly_base64url_encoded_len(hlen) + ly_base64url_encoded_len(plen) +
                                ly_base64url_encoded_len(sizeof(sig)) + 3);
    o += ly_base64url_encode(h, hlen, tok);
    tok[o++] = '.';
    o += ly_base64url_encode(nl + 1, plen, tok + o);
    k.pkey = keys[which];
    FUZZ_CHECK(ly_jws_sign(key_algs[which], &k, tok, o, sig, sizeof(sig), &siglen) == 0);
    tok[o++] = '.';
    o += ly_base64url_encode(sig, siglen, tok + o);
    (void)verify(ks, a, tok, o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ly_arena arena;
    const char *rest;

    if (size == 0)
        return 0;
    rest = (const char *)data + 1;
    ly_arena_init(&arena, 4096);
    switch (data[0] & 3) {
    case 0:
        discovery(&arena, rest, size - 1);
        break;
    case 1:
        jwks(&arena, rest, size - 1);
        break;
    case 2:
        FUZZ_CHECK(verify(the_provider(), &arena, rest, size - 1) != LY_OK);
        break;
    default:
        signed_parts(&arena, data + 1, size - 1);
        break;
    }
    ly_arena_release(&arena);
    return 0;
}
