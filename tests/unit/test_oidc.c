/*
 * test_oidc: discovery documents, JWK Sets, ID tokens and PKCE (src/token/oidc.c).
 *
 * The provider's keys (RSA-2048, P-256, Ed25519) are generated here, its
 * JWK Set is built from them, and the tokens are signed here with
 * ly_jws_sign, so every refusal is checked against a token that differs
 * from a valid one in one way only.
 */
#include "build-config.h"
#include "banned.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "check.h"
#include "lanyard/arena.h"
#include "lanyard/codec.h"
#include "lanyard/err.h"
#include "lanyard/oidc.h"
#include "../../src/token/internal.h"

#define NOW   1700000000
#define ISS   "https://idp.test/realms/acme"
#define CID   "lanyard-client"
#define NONCE "n-0S6_WzA2Mj"

/* The claims of a valid token, with what a row changes spliced in at the front. */
#define CLAIMS_TAIL                                                                                \
    "\"sub\":\"u-1\",\"exp\":1700000600,\"iat\":1700000000,\"email\":\"ann@acme.test\",\"email_"   \
    "verified\":true}"
#define STD_ISS   "\"iss\":\"" ISS "\","
#define STD_AUD   "\"aud\":\"" CID "\","
#define STD_NONCE "\"nonce\":\"" NONCE "\","
#define GOOD      "{" STD_ISS STD_AUD STD_NONCE CLAIMS_TAIL

enum signer { K_RSA, K_EC, K_ED, K_RSA_SHORT, K_EC_OTHER, NKEYS };

struct fixture {
    EVP_PKEY *pkey[NKEYS];
    char *jwks_json;
    struct ly_jwks *ks;
    struct ly_arena arena;
};

static char *b64url_alloc(const void *p, size_t n)
{
    char *s = malloc(ly_base64url_encoded_len(n) + 1);
    ly_base64url_encode(p, n, s);
    return s;
}

static char *bn_b64(EVP_PKEY *k, const char *name)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1024];
    int n;
    char *s;

    assert_int_equal(EVP_PKEY_get_bn_param(k, name, &bn), 1);
    n = BN_bn2bin(bn, buf);
    s = b64url_alloc(buf, (size_t)n);
    BN_free(bn);
    return s;
}

/* The JWK of k (public part) with kid, as JSON text (heap). */
static char *jwk_of(EVP_PKEY *k, const char *kid)
{
    char out[4096];
    unsigned char pt[65];
    size_t len = 0;

    if (EVP_PKEY_is_a(k, "RSA")) {
        char *n = bn_b64(k, OSSL_PKEY_PARAM_RSA_N), *e = bn_b64(k, OSSL_PKEY_PARAM_RSA_E);
        snprintf(out, sizeof(out),
                 "{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}", kid,
                 n, e);
        free(n);
        free(e);
    } else if (EVP_PKEY_is_a(k, "EC")) {
        assert_int_equal(
            EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len), 1);
        assert_int_equal(len, 65);
        char *x = b64url_alloc(pt + 1, 32), *y = b64url_alloc(pt + 33, 32);
        snprintf(out, sizeof(out),
                 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\",\"kid\":\"%s\",\"x\":\"%s\","
                 "\"y\":\"%s\"}",
                 kid, x, y);
        free(x);
        free(y);
    } else {
        len = 32;
        assert_int_equal(EVP_PKEY_get_raw_public_key(k, pt, &len), 1);
        char *x = b64url_alloc(pt, 32);
        snprintf(out, sizeof(out),
                 "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"%s\",\"x\":\"%s\"}", kid, x);
        free(x);
    }
    return strdup(out);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char *rsa, *ec, *ed, *shortrsa, *nokid, *enc;
    const char *why = NULL;
    size_t n;

    f->pkey[K_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    f->pkey[K_EC] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    f->pkey[K_ED] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    f->pkey[K_RSA_SHORT] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    f->pkey[K_EC_OTHER] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    for (n = 0; n < NKEYS; n++)
        if (f->pkey[n] == NULL)
            return -1;
    rsa = jwk_of(f->pkey[K_RSA], "rsa1");
    ec = jwk_of(f->pkey[K_EC], "ec1");
    ed = jwk_of(f->pkey[K_ED], "ed1");
    shortrsa = jwk_of(f->pkey[K_RSA_SHORT], "short");
    nokid = jwk_of(f->pkey[K_EC_OTHER], "");
    enc = jwk_of(f->pkey[K_EC_OTHER], "enc1");
    /* the encryption key: its "alg" ES256 becomes "use":"enc" plus ES256 */
    memcpy(strstr(enc, "\"alg\":\"ES256\""), "\"use\":\"enc\"  ", 13);
    n = strlen(rsa) + strlen(ec) + strlen(ed) + strlen(shortrsa) + strlen(nokid) + strlen(enc) +
        256;
    f->jwks_json = malloc(n);
    snprintf(f->jwks_json, n,
             "{\"keys\":[%s,{\"kty\":\"oct\",\"kid\":\"hs\",\"k\":\"c2VjcmV0\"},%s,%s,"
             "{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"p384\",\"x\":\"AA\",\"y\":\"AA\"},"
             "%s,%s,%s,\"not a key\"]}",
             rsa, ec, shortrsa, nokid, enc, ed);
    free(rsa);
    free(ec);
    free(ed);
    free(shortrsa);
    free(nokid);
    free(enc);
    if (ly_jwks_parse(f->jwks_json, strlen(f->jwks_json), &f->ks, &why) != LY_OK) {
        fprintf(stderr, "jwks: %s\n", why);
        return -1;
    }
    ly_arena_init(&f->arena, 4096);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    size_t i;

    for (i = 0; i < NKEYS; i++)
        EVP_PKEY_free(f->pkey[i]);
    ly_jwks_free(f->ks);
    free(f->jwks_json);
    ly_arena_release(&f->arena);
    free(f);
    return 0;
}

/* ---- making tokens ---------------------------------------------------------------- */

enum how {
    SIGN,     /* a real signature by the key */
    NOSIG,    /* "h.p." */
    FLIPSIG,  /* a real signature with one byte changed */
    TAMPER,   /* signed over other claims than those sent */
    HS_RSAPUB /* HMAC with the RSA public key's PEM as secret: the classic confusion */
};

static enum ly_jwt_alg alg_of(enum signer s)
{
    return s == K_EC || s == K_EC_OTHER ? LY_ALG_ES256 : s == K_ED ? LY_ALG_EDDSA : LY_ALG_RS256;
}

static char *make_token(struct fixture *f, const char *hdr, const char *claims, enum signer s,
                        enum how how)
{
    struct ly_arena *a = &f->arena;
    const char *signed_claims = how == TAMPER ? GOOD : claims;
    size_t hl = strlen(hdr), cl = strlen(signed_claims), o = 0, siglen = 0;
    char *tok = ly_arena_alloc(a, 2 * (hl + cl) + 4096);
    unsigned char sig[1024];
    struct ly_jwt_key k = {0};
    enum ly_jwt_alg alg = alg_of(s);
    BIO *bio = NULL;
    char *pem = NULL;
    long pemlen;

    o += ly_base64url_encode(hdr, hl, tok);
    tok[o++] = '.';
    o += ly_base64url_encode(signed_claims, cl, tok + o);
    k.pkey = f->pkey[s];
    if (how == HS_RSAPUB) {
        bio = BIO_new(BIO_s_mem());
        assert_int_equal(PEM_write_bio_PUBKEY(bio, f->pkey[K_RSA]), 1);
        pemlen = BIO_get_mem_data(bio, &pem);
        k.pkey = NULL;
        k.secret = (unsigned char *)pem;
        k.secret_len = (size_t)pemlen;
        alg = LY_ALG_HS256;
    }
    if (how != NOSIG)
        assert_int_equal(ly_jws_sign(alg, &k, tok, o, sig, sizeof(sig), &siglen), 0);
    BIO_free(bio);
    if (how == TAMPER) {
        o = ly_base64url_encode(hdr, hl, tok);
        tok[o++] = '.';
        o += ly_base64url_encode(claims, strlen(claims), tok + o);
    }
    if (how == FLIPSIG)
        sig[siglen / 2] ^= 0x01;
    tok[o++] = '.';
    o += ly_base64url_encode(sig, siglen, tok + o);
    tok[o] = '\0';
    return tok;
}

static const struct ly_idtoken_expect expect = {ISS, CID, NONCE, NOW, 30};

/* Verify, and check that a failure leaves the output as it was. */
static int verify(struct fixture *f, const char *tok, const struct ly_idtoken_expect *e,
                  struct ly_idtoken_claims *c, const char **why)
{
    struct ly_idtoken_claims sentinel;
    int r;

    memset(&sentinel, 0xA5, sizeof(sentinel));
    *c = sentinel;
    *why = NULL;
    r = ly_idtoken_verify(f->ks, tok, strlen(tok), e, &f->arena, c, why);
    if (r != LY_OK)
        assert_memory_equal(c, &sentinel, sizeof(sentinel));
    return r;
}

/* ---- ID tokens -------------------------------------------------------------------- */

static void test_valid_each_alg(void **state)
{
    struct fixture *f = *state;
    static const struct {
        enum signer s;
        const char *hdr;
    } rows[] = {
        {K_RSA, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"JWT\"}"},
        {K_EC, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}"},
        {K_ED, "{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}"},
    };
    struct ly_idtoken_claims c;
    const char *why;
    size_t i;

    assert_int_equal(ly_jwks_count(f->ks), 3);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *tok = make_token(f, rows[i].hdr, GOOD, rows[i].s, SIGN);
        int r = verify(f, tok, &expect, &c, &why);
        if (r != LY_OK)
            fail_msg("%s: %d %s", rows[i].hdr, r, why);
        assert_string_equal(c.sub, "u-1");
        assert_string_equal(c.email, "ann@acme.test");
        assert_true(c.email_verified);
    }
}

struct row {
    const char *desc;
    const char *hdr;
    const char *claims;
    enum signer s;
    enum how how;
    int want;        /* LY_OK, LY_IDTOKEN_UNKNOWN_KID or LY_E_INVALID_TOKEN */
    const char *why; /* the reason, for LY_E_INVALID_TOKEN */
};

#define H_RSA "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}"
#define H_EC  "{\"alg\":\"ES256\",\"kid\":\"ec1\"}"
#define H_ED  "{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}"
#define BAD   LY_E_INVALID_TOKEN

static const struct row token_rows[] = {
    {"wrong signature (other key, same kid)", H_EC, GOOD, K_EC_OTHER, SIGN, BAD,
     "signature mismatch"},
    {"flipped signature byte", H_RSA, GOOD, K_RSA, FLIPSIG, BAD, "signature mismatch"},
    {"flipped EdDSA signature byte", H_ED, GOOD, K_ED, FLIPSIG, BAD, "signature mismatch"},
    {"payload tampered", H_RSA,
     "{" STD_ISS STD_AUD STD_NONCE "\"sub\":\"admin\",\"exp\":1700000600,\"iat\":1700000000}",
     K_RSA, TAMPER, BAD, "signature mismatch"},
    {"alg none, no signature", "{\"alg\":\"none\",\"kid\":\"rsa1\"}", GOOD, K_RSA, NOSIG, BAD,
     "unexpected algorithm"},
    {"alg none, with a signature", "{\"alg\":\"none\",\"kid\":\"rsa1\"}", GOOD, K_RSA, SIGN, BAD,
     "unexpected algorithm"},
    {"HS256 keyed with the RSA public key", "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", GOOD, K_RSA,
     HS_RSAPUB, BAD, "unexpected algorithm"},
    {"RS384", "{\"alg\":\"RS384\",\"kid\":\"rsa1\"}", GOOD, K_RSA, SIGN, BAD,
     "unexpected algorithm"},
    {"alg missing", "{\"kid\":\"rsa1\"}", GOOD, K_RSA, SIGN, BAD, "unexpected algorithm"},
    {"ES256 header on the RSA key", "{\"alg\":\"ES256\",\"kid\":\"rsa1\"}", GOOD, K_EC, SIGN, BAD,
     "algorithm does not match the key"},
    {"RS256 header on the EC key", "{\"alg\":\"RS256\",\"kid\":\"ec1\"}", GOOD, K_RSA, SIGN, BAD,
     "algorithm does not match the key"},
    {"EdDSA header on the EC key", "{\"alg\":\"EdDSA\",\"kid\":\"ec1\"}", GOOD, K_ED, SIGN, BAD,
     "algorithm does not match the key"},
    {"unknown kid", "{\"alg\":\"RS256\",\"kid\":\"rsa2\"}", GOOD, K_RSA, SIGN,
     LY_IDTOKEN_UNKNOWN_KID, NULL},
    {"kid of a skipped short RSA key", "{\"alg\":\"RS256\",\"kid\":\"short\"}", GOOD, K_RSA_SHORT,
     SIGN, LY_IDTOKEN_UNKNOWN_KID, NULL},
    {"missing kid", "{\"alg\":\"RS256\"}", GOOD, K_RSA, SIGN, BAD, "token has no key id"},
    {"kid not a string", "{\"alg\":\"RS256\",\"kid\":7}", GOOD, K_RSA, SIGN, BAD,
     "token has no key id"},
    {"crit", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"exp\"],\"exp\":1}", GOOD, K_RSA, SIGN,
     BAD, "unsupported token header"},
    {"jku", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"jku\":\"https://evil.test/\"}", GOOD, K_RSA,
     SIGN, BAD, "unsupported token header"},
    {"duplicate alg", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"alg\":\"none\"}", GOOD, K_RSA, SIGN,
     BAD, "malformed token"},
    {"typ at+jwt", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"at+jwt\"}", GOOD, K_RSA, SIGN,
     BAD, "wrong token type"},
    {"duplicate sub", H_RSA, "{" STD_ISS STD_AUD STD_NONCE "\"sub\":\"x\"," CLAIMS_TAIL, K_RSA,
     SIGN, BAD, "malformed token claims"},
    {"claims not an object", H_RSA, "[1]", K_RSA, SIGN, BAD, "malformed token claims"},
    {"wrong iss", H_RSA,
     "{\"iss\":\"https://idp.test/realms/other\"," STD_AUD STD_NONCE CLAIMS_TAIL, K_RSA, SIGN, BAD,
     "wrong issuer"},
    {"iss with a trailing slash", H_RSA, "{\"iss\":\"" ISS "/\"," STD_AUD STD_NONCE CLAIMS_TAIL,
     K_RSA, SIGN, BAD, "wrong issuer"},
    {"iss a number", H_RSA, "{\"iss\":1," STD_AUD STD_NONCE CLAIMS_TAIL, K_RSA, SIGN, BAD,
     "malformed token claims"},
    {"sub missing", H_RSA, "{" STD_ISS STD_AUD STD_NONCE "\"exp\":1700000600,\"iat\":1700000000}",
     K_RSA, SIGN, BAD, "malformed token claims"},
    {"email a number", H_RSA, "{" STD_ISS STD_AUD STD_NONCE "\"email\":1," CLAIMS_TAIL, K_RSA, SIGN,
     BAD, "malformed token claims"},
    {"aud another client", H_RSA, "{" STD_ISS "\"aud\":\"other\"," STD_NONCE CLAIMS_TAIL, K_RSA,
     SIGN, BAD, "wrong audience"},
    {"aud missing", H_RSA, "{" STD_ISS STD_NONCE CLAIMS_TAIL, K_RSA, SIGN, BAD, "wrong audience"},
    {"aud array without client_id", H_RSA,
     "{" STD_ISS "\"aud\":[\"a\",\"b\"],\"azp\":\"a\"," STD_NONCE CLAIMS_TAIL, K_RSA, SIGN, BAD,
     "wrong audience"},
    {"aud array of one", H_RSA, "{" STD_ISS "\"aud\":[\"" CID "\"]," STD_NONCE CLAIMS_TAIL, K_RSA,
     SIGN, LY_OK, NULL},
    {"aud array of two, no azp", H_RSA,
     "{" STD_ISS "\"aud\":[\"" CID "\",\"api\"]," STD_NONCE CLAIMS_TAIL, K_RSA, SIGN, BAD,
     "wrong audience"},
    {"aud array of two, wrong azp", H_RSA,
     "{" STD_ISS "\"aud\":[\"" CID "\",\"api\"],\"azp\":\"api\"," STD_NONCE CLAIMS_TAIL, K_RSA,
     SIGN, BAD, "wrong audience"},
    {"aud array of two, azp ours", H_RSA,
     "{" STD_ISS "\"aud\":[\"" CID "\",\"api\"],\"azp\":\"" CID "\"," STD_NONCE CLAIMS_TAIL, K_RSA,
     SIGN, LY_OK, NULL},
    {"one aud, wrong azp", H_RSA, "{" STD_ISS STD_AUD "\"azp\":\"api\"," STD_NONCE CLAIMS_TAIL,
     K_RSA, SIGN, BAD, "wrong audience"},
    {"expired beyond the leeway", H_RSA,
     "{" STD_ISS STD_AUD STD_NONCE "\"sub\":\"u-1\",\"exp\":1699999970,\"iat\":1699999000}", K_RSA,
     SIGN, BAD, "token expired"},
    {"expired within the leeway", H_RSA,
     "{" STD_ISS STD_AUD STD_NONCE "\"sub\":\"u-1\",\"exp\":1699999980,\"iat\":1699999000}", K_RSA,
     SIGN, LY_OK, NULL},
    {"exp missing", H_RSA, "{" STD_ISS STD_AUD STD_NONCE "\"sub\":\"u-1\",\"iat\":1699999000}",
     K_RSA, SIGN, BAD, "malformed token times"},
    {"exp a string", H_RSA,
     "{" STD_ISS STD_AUD STD_NONCE "\"sub\":\"u-1\",\"exp\":\"1700000600\",\"iat\":1699999000}",
     K_RSA, SIGN, BAD, "malformed token times"},
    {"iat missing", H_RSA, "{" STD_ISS STD_AUD STD_NONCE "\"sub\":\"u-1\",\"exp\":1700000600}",
     K_RSA, SIGN, BAD, "malformed token times"},
    {"iat in the future", H_RSA,
     "{" STD_ISS STD_AUD STD_NONCE "\"sub\":\"u-1\",\"exp\":1700000600,\"iat\":1700000100}", K_RSA,
     SIGN, BAD, "token not yet valid"},
    {"nbf in the future", H_RSA, "{" STD_ISS STD_AUD STD_NONCE "\"nbf\":1700000100," CLAIMS_TAIL,
     K_RSA, SIGN, BAD, "token not yet valid"},
    {"nbf within the leeway", H_RSA,
     "{" STD_ISS STD_AUD STD_NONCE "\"nbf\":1700000020," CLAIMS_TAIL, K_RSA, SIGN, LY_OK, NULL},
    {"nbf not a number", H_RSA, "{" STD_ISS STD_AUD STD_NONCE "\"nbf\":null," CLAIMS_TAIL, K_RSA,
     SIGN, BAD, "malformed token times"},
    {"nonce wrong", H_RSA, "{" STD_ISS STD_AUD "\"nonce\":\"n-0S6_WzA2Mk\"," CLAIMS_TAIL, K_RSA,
     SIGN, BAD, "nonce mismatch"},
    {"nonce a prefix", H_RSA, "{" STD_ISS STD_AUD "\"nonce\":\"n-0S6\"," CLAIMS_TAIL, K_RSA, SIGN,
     BAD, "nonce mismatch"},
    {"nonce missing", H_RSA, "{" STD_ISS STD_AUD CLAIMS_TAIL, K_RSA, SIGN, BAD, "nonce mismatch"},
};

static void test_rows(void **state)
{
    struct fixture *f = *state;
    struct ly_idtoken_claims c;
    const char *why;
    char desc[160];
    size_t i;

    for (i = 0; i < sizeof(token_rows) / sizeof(token_rows[0]); i++) {
        char *tok = make_token(f, token_rows[i].hdr, token_rows[i].claims, token_rows[i].s,
                               token_rows[i].how);
        int r = verify(f, tok, &expect, &c, &why);
        snprintf(desc, sizeof(desc), "%s (got %d, %s)", token_rows[i].desc, r, why ? why : "-");
        CHECK(desc, r == token_rows[i].want);
        if (token_rows[i].want == BAD)
            CHECK(desc, why != NULL && strcmp(why, token_rows[i].why) == 0);
    }
}

static void test_expired_leeway(void **state)
{
    struct fixture *f = *state;
    struct ly_idtoken_expect e = expect;
    struct ly_idtoken_claims c;
    const char *why;
    char *tok = make_token(f, H_ED,
                           "{" STD_ISS STD_AUD STD_NONCE
                           "\"sub\":\"u-1\",\"exp\":1699999990,\"iat\":1699999000}",
                           K_ED, SIGN);

    e.leeway = 0;
    assert_int_equal(verify(f, tok, &e, &c, &why), LY_E_INVALID_TOKEN);
    assert_string_equal(why, "token expired");
    e.leeway = 30;
    assert_int_equal(verify(f, tok, &e, &c, &why), LY_OK);
    /* exp == now is already expired (RFC 7519 §4.1.4: "on or after") */
    e.leeway = 10;
    assert_int_equal(verify(f, tok, &e, &c, &why), LY_E_INVALID_TOKEN);
}

static void test_email_verified(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *claims;
        bool verified;
    } rows[] = {
        {"{" STD_ISS STD_AUD STD_NONCE "\"sub\":\"u-1\",\"exp\":1700000600,\"iat\":1700000000,"
         "\"email\":\"a@b.test\",\"email_verified\":false}",
         false},
        {"{" STD_ISS STD_AUD STD_NONCE "\"sub\":\"u-1\",\"exp\":1700000600,\"iat\":1700000000,"
         "\"email\":\"a@b.test\"}",
         false},
        {"{" STD_ISS STD_AUD STD_NONCE "\"sub\":\"u-1\",\"exp\":1700000600,\"iat\":1700000000,"
         "\"email\":\"a@b.test\",\"email_verified\":\"true\"}",
         false},
        {"{" STD_ISS STD_AUD STD_NONCE "\"sub\":\"u-1\",\"exp\":1700000600,\"iat\":1700000000,"
         "\"email\":\"a@b.test\",\"email_verified\":1}",
         false},
        {GOOD, true},
    };
    struct ly_idtoken_claims c;
    const char *why;
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *tok = make_token(f, H_RSA, rows[i].claims, K_RSA, SIGN);
        assert_int_equal(verify(f, tok, &expect, &c, &why), LY_OK);
        CHECK(rows[i].claims, c.email_verified == rows[i].verified);
        assert_string_equal(c.email, rows[i].verified ? "ann@acme.test" : "a@b.test");
    }
    /* no email at all */
    char *tok = make_token(f, H_RSA,
                           "{" STD_ISS STD_AUD STD_NONCE
                           "\"sub\":\"u-1\",\"exp\":1700000600,\"iat\":1700000000}",
                           K_RSA, SIGN);
    assert_int_equal(verify(f, tok, &expect, &c, &why), LY_OK);
    assert_null(c.email);
    assert_false(c.email_verified);
}

static void test_malformed(void **state)
{
    struct fixture *f = *state;
    struct ly_idtoken_claims c;
    const char *why;
    char *good = make_token(f, H_RSA, GOOD, K_RSA, SIGN), *t, *big;
    size_t n = strlen(good), i;

    assert_int_equal(verify(f, good, &expect, &c, &why), LY_OK);
    /* oversize: the cap comes first, whatever follows */
    big = malloc(16386);
    memset(big, 'A', 16385);
    big[16385] = '\0';
    memcpy(big, good, n);
    assert_int_equal(verify(f, big, &expect, &c, &why), LY_E_INVALID_TOKEN);
    assert_string_equal(why, "token too large");
    free(big);
    /* bad base64url: padding, the standard alphabet, a space */
    t = ly_arena_printf(&f->arena, "%s=", good);
    assert_int_equal(verify(f, t, &expect, &c, &why), LY_E_INVALID_TOKEN);
    t = ly_arena_strdup(&f->arena, good);
    for (i = 0; i < n && t[i] != '-' && t[i] != '_'; i++)
        ;
    if (i < n) {
        t[i] = t[i] == '-' ? '+' : '/';
        assert_int_equal(verify(f, t, &expect, &c, &why), LY_E_INVALID_TOKEN);
    }
    t = ly_arena_strdup(&f->arena, good);
    t[3] = ' ';
    assert_int_equal(verify(f, t, &expect, &c, &why), LY_E_INVALID_TOKEN);
    /* two parts, four parts, empty */
    t = ly_arena_strdup(&f->arena, good);
    *strrchr(t, '.') = '\0';
    assert_int_equal(verify(f, t, &expect, &c, &why), LY_E_INVALID_TOKEN);
    t = ly_arena_printf(&f->arena, "%s.AAAA", good);
    assert_int_equal(verify(f, t, &expect, &c, &why), LY_E_INVALID_TOKEN);
    assert_int_equal(verify(f, "", &expect, &c, &why), LY_E_INVALID_TOKEN);
    assert_int_equal(verify(f, "..", &expect, &c, &why), LY_E_INVALID_TOKEN);
    /* no nonce expected: refused rather than skipped */
    struct ly_idtoken_expect e = expect;
    e.nonce = NULL;
    assert_int_equal(verify(f, good, &e, &c, &why), LY_E_INVALID_TOKEN);
    /* an empty key set: every kid is unknown */
    struct ly_jwks *empty = NULL;
    assert_int_equal(ly_jwks_parse("{\"keys\":[]}", 11, &empty, &why), LY_OK);
    assert_int_equal(ly_jwks_count(empty), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(ly_idtoken_verify(empty, good, n, &expect, &f->arena, &c, &why),
                     LY_IDTOKEN_UNKNOWN_KID);
    ly_jwks_free(empty);
}

/* ---- JWK Sets --------------------------------------------------------------------- */

static void test_jwks(void **state)
{
    static const char *const bad[] = {
        "not json",
        "",
        "[]",
        "{}",
        "{\"keys\":{}}",
        "{\"keys\":\"x\"}",
        "{\"keys\":[],\"keys\":[]}",
        "{\"keys\":[]} trailing",
    };
    static const char *const skipped[] = {
        /* a P-256 point that is not on the curve */
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k\","
        "\"x\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
        "\"y\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
        /* x too short */
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k\",\"x\":\"AAAA\"}]}",
        /* X25519 is for key agreement */
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"X25519\",\"kid\":\"k\","
        "\"x\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
        /* RSA with a tiny modulus, and with e even */
        "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
        /* padded base64url */
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k\","
        "\"x\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]}",
        /* kid a number */
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":1,"
        "\"x\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
        /* alg of another kind */
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k\",\"alg\":\"ES256\","
        "\"x\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}",
    };
    struct ly_jwks *ks = NULL;
    const char *why;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        CHECK(bad[i], ly_jwks_parse(bad[i], strlen(bad[i]), &ks, &why) == LY_E_VALIDATION);
        CHECK(bad[i], ks == NULL && why != NULL);
    }
    for (i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++) {
        CHECK(skipped[i], ly_jwks_parse(skipped[i], strlen(skipped[i]), &ks, &why) == LY_OK);
        CHECK(skipped[i], ly_jwks_count(ks) == 0);
        ly_jwks_free(ks);
        ks = NULL;
    }
    /* a valid Ed25519 key (RFC 8037 Appendix A.2) */
    static const char ok[] = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k\","
                             "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";
    assert_int_equal(ly_jwks_parse(ok, strlen(ok), &ks, &why), LY_OK);
    assert_int_equal(ly_jwks_count(ks), 1);
    ly_jwks_free(ks);
    ly_jwks_free(NULL);
    assert_int_equal(ly_jwks_count(NULL), 0);
}

/* ---- discovery -------------------------------------------------------------------- */

static void test_discovery(void **state)
{
    struct fixture *f = *state;
    static const char good[] =
        "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"" ISS "/auth\","
        "\"token_endpoint\":\"" ISS "/token\",\"jwks_uri\":\"http://127.0.0.1:8081/certs\","
        "\"response_types_supported\":[\"code\"],\"mtls_endpoint_aliases\":{\"token_endpoint\":"
        "\"https://mtls.idp.test/token\"}}";
    static const struct {
        const char *desc, *json;
    } bad[] = {
        {"issuer mismatch", "{\"issuer\":\"https://idp.test/realms/other\","
                            "\"authorization_endpoint\":\"https://a.test/a\",\"token_endpoint\":"
                            "\"https://a.test/t\",\"jwks_uri\":\"https://a.test/k\"}"},
        {"issuer missing", "{\"authorization_endpoint\":\"https://a.test/a\",\"token_endpoint\":"
                           "\"https://a.test/t\",\"jwks_uri\":\"https://a.test/k\"}"},
        {"no jwks_uri", "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"https://a.test/a\","
                        "\"token_endpoint\":\"https://a.test/t\"}"},
        {"no token_endpoint", "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":"
                              "\"https://a.test/a\",\"jwks_uri\":\"https://a.test/k\"}"},
        {"endpoint a number", "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":1,"
                              "\"token_endpoint\":\"https://a.test/t\",\"jwks_uri\":"
                              "\"https://a.test/k\"}"},
        {"ftp endpoint",
         "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"https://a.test/a\","
         "\"token_endpoint\":\"ftp://a.test/t\",\"jwks_uri\":\"https://a.test/k\"}"},
        {"javascript endpoint",
         "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"javascript:alert(1)\","
         "\"token_endpoint\":\"https://a.test/t\",\"jwks_uri\":\"https://a.test/k\"}"},
        {"relative endpoint", "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"/auth\","
                              "\"token_endpoint\":\"https://a.test/t\",\"jwks_uri\":"
                              "\"https://a.test/k\"}"},
        {"no host", "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"https:///a\","
                    "\"token_endpoint\":\"https://a.test/t\",\"jwks_uri\":\"https://a.test/k\"}"},
        {"user info", "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"https://a.test/a\","
                      "\"token_endpoint\":\"https://u:p@a.test/t\",\"jwks_uri\":"
                      "\"https://a.test/k\"}"},
        {"space in URL",
         "{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"https://a.test/a b\","
         "\"token_endpoint\":\"https://a.test/t\",\"jwks_uri\":"
         "\"https://a.test/k\"}"},
        {"duplicate issuer",
         "{\"issuer\":\"https://evil.test\",\"issuer\":\"" ISS "\",\"authorization_endpoint\":"
         "\"https://a.test/a\",\"token_endpoint\":\"https://a.test/t\",\"jwks_uri\":"
         "\"https://a.test/k\"}"},
        {"an array", "[]"},
        {"garbage", "<html>"},
    };
    struct ly_oidc_discovery d, sentinel;
    const char *why;
    size_t i;

    assert_int_equal(ly_oidc_discovery_parse(good, strlen(good), ISS, &f->arena, &d, &why), LY_OK);
    assert_string_equal(d.issuer, ISS);
    assert_string_equal(d.authorization_endpoint, ISS "/auth");
    assert_string_equal(d.token_endpoint, ISS "/token");
    assert_string_equal(d.jwks_uri, "http://127.0.0.1:8081/certs");
    memset(&sentinel, 0x5A, sizeof(sentinel));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        d = sentinel;
        why = NULL;
        CHECK(bad[i].desc, ly_oidc_discovery_parse(bad[i].json, strlen(bad[i].json), ISS, &f->arena,
                                                   &d, &why) == LY_E_VALIDATION);
        CHECK(bad[i].desc, why != NULL && memcmp(&d, &sentinel, sizeof(d)) == 0);
    }
}

/* ---- PKCE ------------------------------------------------------------------------- */

static void test_pkce(void **state)
{
    char out[44] = "untouched";

    (void)state;
    /* RFC 7636 Appendix B */
    assert_int_equal(ly_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", out), LY_OK);
    assert_string_equal(out, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    memcpy(out, "untouched", 10);
    assert_int_equal(ly_pkce_challenge("too-short", out), LY_E_VALIDATION);
    assert_int_equal(ly_pkce_challenge("dBjftJeZ4CVP+mB92K27uhbUJU1p1r_wW1gFWFOEjXk", out),
                     LY_E_VALIDATION);
    assert_int_equal(ly_pkce_challenge(NULL, out), LY_E_VALIDATION);
    assert_string_equal(out, "untouched");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_each_alg), cmocka_unit_test(test_rows),
        cmocka_unit_test(test_expired_leeway), cmocka_unit_test(test_email_verified),
        cmocka_unit_test(test_malformed),      cmocka_unit_test(test_jwks),
        cmocka_unit_test(test_discovery),      cmocka_unit_test(test_pkce),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
