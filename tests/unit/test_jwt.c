#include "build-config.h"
#include "banned.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <json.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "check.h"
#include "lanyard/arena.h"
#include "lanyard/codec.h"
#include "lanyard/config.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"
#include "lanyard/jwt.h"
#include "lanyard/str.h"
#include "../../src/token/internal.h"

#define NOW  1700000000
#define ISS  "https://issuer.test"
#define AUD  "lanyard"
#define NALG 4

/* Keys generated once for the whole file: two per algorithm (current and previous). */
struct fixture {
    char dir[64];
    char cur[NALG][128];
    char prev[NALG][128];
    struct ly_keyset *ks[NALG]; /* cur, with prev as previous */
    struct ly_keyset *only_cur[NALG];
    struct ly_keyset *only_prev[NALG];
    struct ly_arena arena;
};

static const enum ly_jwt_alg algs[NALG] = {LY_ALG_HS256, LY_ALG_RS256, LY_ALG_ES256, LY_ALG_EDDSA};
static const char *const alg_names[NALG] = {"HS256", "RS256", "ES256", "EdDSA"};

static struct ly_keyset *load(enum ly_jwt_alg alg, const char *key, const char *prev)
{
    struct ly_config cfg;
    char *prevs[1];
    char err[256] = "";
    struct ly_keyset *ks = NULL;

    memset(&cfg, 0, sizeof(cfg));
    cfg.tokens.jwt.algorithm = alg;
    cfg.tokens.jwt.key_file = (char *)key;
    if (prev != NULL) {
        prevs[0] = (char *)prev;
        cfg.tokens.jwt.previous_key_files = prevs;
        cfg.tokens.jwt.n_previous_key_files = 1;
    }
    if (ly_keyset_load(&cfg, &ks, err, sizeof(err)) != LY_OK)
        fail_msg("loading %s: %s", key, err);
    return ks;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[256];
    size_t i;

    snprintf(f->dir, sizeof(f->dir), "/tmp/lanyard-test-jwt-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    for (i = 0; i < NALG; i++) {
        snprintf(f->cur[i], sizeof(f->cur[i]), "%s/%s-cur.key", f->dir, alg_names[i]);
        snprintf(f->prev[i], sizeof(f->prev[i]), "%s/%s-prev.key", f->dir, alg_names[i]);
        if (ly_key_generate(algs[i], f->cur[i], err, sizeof(err)) != LY_OK ||
            ly_key_generate(algs[i], f->prev[i], err, sizeof(err)) != LY_OK) {
            fprintf(stderr, "keygen %s: %s\n", alg_names[i], err);
            return -1;
        }
        f->ks[i] = load(algs[i], f->cur[i], f->prev[i]);
        f->only_cur[i] = load(algs[i], f->cur[i], NULL);
        f->only_prev[i] = load(algs[i], f->prev[i], NULL);
    }
    ly_arena_init(&f->arena, 4096);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    size_t i;

    for (i = 0; i < NALG; i++) {
        ly_keyset_free(f->ks[i]);
        ly_keyset_free(f->only_cur[i]);
        ly_keyset_free(f->only_prev[i]);
        unlink(f->cur[i]);
        unlink(f->prev[i]);
    }
    ly_arena_release(&f->arena);
    rmdir(f->dir);
    free(f);
    return 0;
}

static struct ly_jwt_claims good_claims(void)
{
    struct ly_jwt_claims c = {
        .iss = ISS,
        .sub = "u-abcdefghijkl",
        .aud = AUD,
        .jti = "jti-1",
        .client_id = "lanyard",
        .sid = "sess-1",
        .org = NULL,
        .principal_type = LY_PRINCIPAL_USER,
        .exp = NOW + 900,
        .iat = NOW,
        .nbf = NOW,
    };
    return c;
}

static const struct ly_jwt_expect expect = {ISS, AUD, NOW, 30};

static struct ly_str view(const char *s)
{
    return (struct ly_str){s, strlen(s)};
}

static void test_alg_parse(void **state)
{
    enum ly_jwt_alg a = LY_ALG_RS256;
    size_t i;
    (void)state;

    for (i = 0; i < NALG; i++) {
        assert_int_equal(ly_jwt_alg_parse(alg_names[i], &a), 0);
        assert_int_equal(a, algs[i]);
    }
    assert_int_equal(ly_jwt_alg_parse("none", &a), -1);
    assert_int_equal(ly_jwt_alg_parse("eddsa", &a), -1);
    assert_int_equal(ly_jwt_alg_parse("HS512", &a), -1);
    assert_int_equal(a, LY_ALG_EDDSA);
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    size_t i;

    for (i = 0; i < NALG; i++) {
        struct ly_jwt_claims c = good_claims(), got;
        const char *why = NULL;
        char *tok = NULL;
        const char *dot;
        unsigned char hdr[256];
        size_t hlen;
        char want_hdr[256];

        memset(&got, 0, sizeof(got));
        CHECK(alg_names[i], ly_jwt_sign(f->ks[i], &c, &f->arena, &tok) == LY_OK);
        CHECK(alg_names[i], ly_jwt_looks_like(view(tok)));
        CHECK(alg_names[i],
              ly_jwt_verify(f->ks[i], view(tok), &expect, &f->arena, &got, &why) == LY_OK);
        CHECK(alg_names[i], strcmp(got.iss, ISS) == 0 && strcmp(got.aud, AUD) == 0);
        CHECK(alg_names[i], strcmp(got.sub, c.sub) == 0 && strcmp(got.jti, c.jti) == 0);
        CHECK(alg_names[i], strcmp(got.client_id, "lanyard") == 0 && got.org == NULL);
        CHECK(alg_names[i], got.sid != NULL && strcmp(got.sid, "sess-1") == 0);
        CHECK(alg_names[i], got.principal_type == LY_PRINCIPAL_USER);
        CHECK(alg_names[i], got.exp == NOW + 900 && got.iat == NOW && got.nbf == NOW);

        /* the header is exactly {"alg","typ":"at+jwt","kid"} */
        dot = strchr(tok, '.');
        CHECK(alg_names[i],
              ly_base64url_decode(tok, (size_t)(dot - tok), hdr, sizeof(hdr) - 1, &hlen) == 0);
        hdr[hlen] = '\0';
        snprintf(want_hdr, sizeof(want_hdr), "{\"alg\":\"%s\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
                 alg_names[i], ly_keyset_current_kid(f->ks[i]));
        CHECK(alg_names[i], strcmp((char *)hdr, want_hdr) == 0);

        /* a service-account token */
        c.principal_type = LY_PRINCIPAL_SERVICE_ACCOUNT;
        c.sub = "sa-abcdefghijkl";
        c.client_id = "QWJ3MXZT5RBN2AKE";
        c.sid = NULL;
        c.org = "acme";
        CHECK(alg_names[i], ly_jwt_sign(f->ks[i], &c, &f->arena, &tok) == LY_OK);
        CHECK(alg_names[i],
              ly_jwt_verify(f->ks[i], view(tok), &expect, &f->arena, &got, &why) == LY_OK);
        CHECK(alg_names[i], got.principal_type == LY_PRINCIPAL_SERVICE_ACCOUNT);
        CHECK(alg_names[i], got.sid == NULL && got.org != NULL && strcmp(got.org, "acme") == 0);
    }
    ly_arena_reset(&f->arena);
}

static void test_kids(void **state)
{
    struct fixture *f = *state;
    size_t i;

    for (i = 0; i < NALG; i++) {
        const char *a = ly_keyset_current_kid(f->only_cur[i]);
        const char *b = ly_keyset_current_kid(f->only_prev[i]);
        CHECK(alg_names[i], strcmp(a, ly_keyset_current_kid(f->ks[i])) == 0);
        CHECK(alg_names[i], strcmp(a, b) != 0);
        /* base64url only; 43 characters for thumbprints (RFC 7638), 22 for HS256 */
        CHECK(alg_names[i], strlen(a) == (algs[i] == LY_ALG_HS256 ? 22u : 43u));
        CHECK(alg_names[i], strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789-_") == strlen(a));
    }
}

/* Rotation: a token signed with the previous key verifies while that key is listed. */
static void test_previous_key(void **state)
{
    struct fixture *f = *state;
    size_t i;

    for (i = 0; i < NALG; i++) {
        struct ly_jwt_claims c = good_claims(), got;
        const char *why = NULL;
        char *tok = NULL;

        CHECK(alg_names[i], ly_jwt_sign(f->only_prev[i], &c, &f->arena, &tok) == LY_OK);
        CHECK(alg_names[i],
              ly_jwt_verify(f->ks[i], view(tok), &expect, &f->arena, &got, &why) == LY_OK);
        CHECK(alg_names[i], ly_jwt_verify(f->only_cur[i], view(tok), &expect, &f->arena, &got,
                                          &why) == LY_E_INVALID_TOKEN);
        CHECK(alg_names[i], strcmp(why, "unknown signing key") == 0);
    }
    ly_arena_reset(&f->arena);
}

/* previous_key_files may hold a public PEM */
static void test_previous_public_pem(void **state)
{
    struct fixture *f = *state;
    char pub[160];
    size_t i;

    for (i = 1; i < NALG; i++) {
        struct ly_jwt_claims c = good_claims(), got;
        const char *why = NULL;
        char *tok = NULL;
        FILE *in, *out;
        EVP_PKEY *pk;
        struct ly_keyset *ks;

        snprintf(pub, sizeof(pub), "%s/%s-prev.pub", f->dir, alg_names[i]);
        in = fopen(f->prev[i], "r");
        assert_non_null(in);
        pk = PEM_read_PrivateKey(in, NULL, NULL, NULL);
        fclose(in);
        assert_non_null(pk);
        out = fopen(pub, "w");
        assert_non_null(out);
        assert_int_equal(PEM_write_PUBKEY(out, pk), 1);
        fclose(out);
        EVP_PKEY_free(pk);

        ks = load(algs[i], f->cur[i], pub);
        CHECK(alg_names[i], ly_jwt_sign(f->only_prev[i], &c, &f->arena, &tok) == LY_OK);
        CHECK(alg_names[i], ly_jwt_verify(ks, view(tok), &expect, &f->arena, &got, &why) == LY_OK);
        ly_keyset_free(ks);
        unlink(pub);
    }
    ly_arena_reset(&f->arena);
}

static void test_jwks(void **state)
{
    struct fixture *f = *state;
    static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "k"};
    size_t i, j, m;

    assert_null(ly_keyset_jwks(f->ks[0])); /* HS256: nothing public */
    for (i = 1; i < NALG; i++) {
        json_object *root = json_tokener_parse(ly_keyset_jwks(f->ks[i])), *keys = NULL;
        CHECK(alg_names[i], root != NULL);
        CHECK(alg_names[i], json_object_object_get_ex(root, "keys", &keys));
        CHECK(alg_names[i], json_object_array_length(keys) == 2);
        for (j = 0; j < 2; j++) {
            json_object *k = json_object_array_get_idx(keys, j), *v = NULL;
            const char *want_kid =
                j == 0 ? ly_keyset_current_kid(f->ks[i]) : ly_keyset_current_kid(f->only_prev[i]);
            CHECK(alg_names[i], json_object_object_get_ex(k, "kid", &v) &&
                                    strcmp(json_object_get_string(v), want_kid) == 0);
            CHECK(alg_names[i], json_object_object_get_ex(k, "alg", &v) &&
                                    strcmp(json_object_get_string(v), alg_names[i]) == 0);
            CHECK(alg_names[i], json_object_object_get_ex(k, "use", &v) &&
                                    strcmp(json_object_get_string(v), "sig") == 0);
            CHECK(alg_names[i], json_object_object_get_ex(k, "kty", &v));
            for (m = 0; m < sizeof(private_members) / sizeof(private_members[0]); m++)
                CHECK(alg_names[i], !json_object_object_get_ex(k, private_members[m], NULL));
        }
        json_object_put(root);
    }
}

/* ---- hand-made tokens ------------------------------------------------------------ */

/* "KID" in the template becomes the keyset's current kid */
static char *subst_kid(const char *tmpl, const char *kid)
{
    static char buf[1024];
    const char *p = strstr(tmpl, "KID");

    if (p == NULL)
        snprintf(buf, sizeof(buf), "%s", tmpl);
    else
        snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - tmpl), tmpl, kid, p + 3);
    return buf;
}

/* b64url(header) "." b64url(payload) "." b64url(sig by ks's current key) */
static void make_token(const struct ly_keyset *ks, const char *header, const char *payload,
                       char *out, size_t outmax)
{
    char *h = subst_kid(header, ly_keyset_current_kid(ks));
    unsigned char sig[2048];
    size_t n, siglen = 0;

    assert_true(ly_base64url_encoded_len(strlen(h)) + ly_base64url_encoded_len(strlen(payload)) +
                    400 <
                outmax);
    n = ly_base64url_encode(h, strlen(h), out);
    out[n++] = '.';
    n += ly_base64url_encode(payload, strlen(payload), out + n);
    assert_int_equal(ly_jws_sign(ks->alg, &ks->keys[0], out, n, sig, sizeof(sig), &siglen), 0);
    out[n++] = '.';
    ly_base64url_encode(sig, siglen, out + n);
}

#define HDR_OK "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"KID\"}"
#define PAYLOAD(iss, aud, exp, nbf)                                                                \
    "{\"iss\":\"" iss "\",\"sub\":\"u-abc\",\"aud\":" aud ",\"exp\":" exp                          \
    ",\"iat\":1700000000,\"nbf\":" nbf ",\"jti\":\"j1\",\"client_id\":\"lanyard\","                \
    "\"principal_type\":\"user\",\"sid\":\"s1\"}"
#define PL_OK PAYLOAD(ISS, "\"" AUD "\"", "1700000900", "1700000000")

enum mutation {
    M_NONE,
    M_PAYLOAD,     /* change one payload character after signing */
    M_SIG,         /* change one signature character */
    M_PAD_PAYLOAD, /* append '=' to the payload part */
    M_PLUS_SIG,    /* a '+' in the signature */
    M_SLASH_SIG,   /* a '/' in the signature */
    M_NO_SIG,      /* "h.p." */
    M_NO_DOT,      /* "h.p" */
    M_EXTRA_DOT,   /* "h.p.s.x" */
};

struct verify_case {
    const char *desc;
    const char *header;
    const char *payload;
    enum mutation mut;
    const char *why; /* NULL: must verify */
};

static const struct verify_case verify_cases[] = {
    {"valid", HDR_OK, PL_OK, M_NONE, NULL},
    {"alg none", "{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"KID\"}", PL_OK, M_NONE,
     "unexpected algorithm"},
    {"alg none without signature", "{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"KID\"}", PL_OK,
     M_NO_SIG, "unexpected algorithm"},
    {"alg of another family", "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"KID\"}", PL_OK,
     M_NONE, "unexpected algorithm"},
    {"alg in other case", "{\"alg\":\"eddsa\",\"typ\":\"at+jwt\",\"kid\":\"KID\"}", PL_OK, M_NONE,
     "unexpected algorithm"},
    {"alg missing", "{\"typ\":\"at+jwt\",\"kid\":\"KID\"}", PL_OK, M_NONE, "unexpected algorithm"},
    {"alg not a string", "{\"alg\":1,\"typ\":\"at+jwt\",\"kid\":\"KID\"}", PL_OK, M_NONE,
     "unexpected algorithm"},
    {"duplicate alg", "{\"alg\":\"none\",\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"KID\"}",
     PL_OK, M_NONE, "malformed token"},
    {"typ JWT", "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"KID\"}", PL_OK, M_NONE,
     "wrong token type"},
    {"typ missing", "{\"alg\":\"EdDSA\",\"kid\":\"KID\"}", PL_OK, M_NONE, "wrong token type"},
    {"typ application/at+jwt", "{\"alg\":\"EdDSA\",\"typ\":\"application/at+jwt\",\"kid\":\"KID\"}",
     PL_OK, M_NONE, "wrong token type"},
    {"unknown kid", "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"nope\"}", PL_OK, M_NONE,
     "unknown signing key"},
    {"kid missing", "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\"}", PL_OK, M_NONE, "unknown signing key"},
    {"crit header", "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"KID\",\"crit\":[\"exp\"]}",
     PL_OK, M_NONE, "unsupported token header"},
    {"jku header", "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"KID\",\"jku\":\"https://x\"}",
     PL_OK, M_NONE, "unsupported token header"},
    {"jwk header", "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"KID\",\"jwk\":{}}", PL_OK,
     M_NONE, "unsupported token header"},
    {"x5u header", "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"KID\",\"x5u\":\"https://x\"}",
     PL_OK, M_NONE, "unsupported token header"},
    {"header not an object", "[\"EdDSA\"]", PL_OK, M_NONE, "malformed token"},
    {"header not JSON", "alg=EdDSA", PL_OK, M_NONE, "malformed token"},
    {"header with trailing bytes", HDR_OK " x", PL_OK, M_NONE, "malformed token"},
    {"tampered payload", HDR_OK, PL_OK, M_PAYLOAD, "signature mismatch"},
    {"tampered signature", HDR_OK, PL_OK, M_SIG, "signature mismatch"},
    {"padded payload", HDR_OK, PL_OK, M_PAD_PAYLOAD, "signature mismatch"},
    {"'+' in signature", HDR_OK, PL_OK, M_PLUS_SIG, "malformed token"},
    {"'/' in signature", HDR_OK, PL_OK, M_SLASH_SIG, "malformed token"},
    {"empty signature", HDR_OK, PL_OK, M_NO_SIG, "malformed token"},
    {"two parts", HDR_OK, PL_OK, M_NO_DOT, "malformed token"},
    {"four parts", HDR_OK, PL_OK, M_EXTRA_DOT, "malformed token"},
    {"payload not an object", HDR_OK, "[1,2]", M_NONE, "malformed token claims"},
    {"payload a string", HDR_OK, "\"sub\"", M_NONE, "malformed token claims"},
    {"payload with trailing bytes", HDR_OK, PL_OK "{}", M_NONE, "malformed token claims"},
    {"duplicate sub", HDR_OK,
     "{\"sub\":\"u-admin\",\"iss\":\"" ISS "\",\"sub\":\"u-abc\",\"aud\":\"lanyard\","
     "\"exp\":1700000900,\"iat\":1700000000,\"nbf\":1700000000,\"jti\":\"j1\","
     "\"client_id\":\"lanyard\",\"principal_type\":\"user\"}",
     M_NONE, "malformed token claims"},
    {"expired", HDR_OK, PAYLOAD(ISS, "\"" AUD "\"", "1699999960", "1699999000"), M_NONE,
     "token expired"},
    {"expired exactly at leeway", HDR_OK, PAYLOAD(ISS, "\"" AUD "\"", "1699999970", "1699999000"),
     M_NONE, "token expired"},
    {"expired within leeway", HDR_OK, PAYLOAD(ISS, "\"" AUD "\"", "1699999980", "1699999000"),
     M_NONE, NULL},
    {"nbf in the future", HDR_OK, PAYLOAD(ISS, "\"" AUD "\"", "1700000900", "1700000031"), M_NONE,
     "token not yet valid"},
    {"nbf within leeway", HDR_OK, PAYLOAD(ISS, "\"" AUD "\"", "1700000900", "1700000030"), M_NONE,
     NULL},
    {"wrong iss", HDR_OK, PAYLOAD("https://evil.test", "\"" AUD "\"", "1700000900", "1700000000"),
     M_NONE, "wrong issuer"},
    {"iss with suffix", HDR_OK,
     PAYLOAD("https://issuer.test/", "\"" AUD "\"", "1700000900", "1700000000"), M_NONE,
     "wrong issuer"},
    {"wrong aud", HDR_OK, PAYLOAD(ISS, "\"other\"", "1700000900", "1700000000"), M_NONE,
     "wrong audience"},
    {"aud array with ours", HDR_OK,
     PAYLOAD(ISS, "[\"other\",\"" AUD "\"]", "1700000900", "1700000000"), M_NONE, NULL},
    {"aud array without ours", HDR_OK, PAYLOAD(ISS, "[\"other\"]", "1700000900", "1700000000"),
     M_NONE, "wrong audience"},
    {"aud a number", HDR_OK, PAYLOAD(ISS, "7", "1700000900", "1700000000"), M_NONE,
     "wrong audience"},
    {"exp a string", HDR_OK, PAYLOAD(ISS, "\"" AUD "\"", "\"1700000900\"", "1700000000"), M_NONE,
     "malformed token claims"},
    {"exp a fraction", HDR_OK, PAYLOAD(ISS, "\"" AUD "\"", "1700000900.5", "1700000000"), M_NONE,
     "malformed token claims"},
    {"exp huge", HDR_OK, PAYLOAD(ISS, "\"" AUD "\"", "99999999999999999999", "1700000000"), M_NONE,
     "malformed token claims"},
    {"nbf negative", HDR_OK, PAYLOAD(ISS, "\"" AUD "\"", "1700000900", "-1"), M_NONE,
     "malformed token claims"},
    {"sub missing", HDR_OK,
     "{\"iss\":\"" ISS "\",\"aud\":\"lanyard\",\"exp\":1700000900,\"iat\":1700000000,"
     "\"nbf\":1700000000,\"jti\":\"j1\",\"client_id\":\"lanyard\",\"principal_type\":\"user\"}",
     M_NONE, "malformed token claims"},
    {"sub with NUL", HDR_OK,
     "{\"iss\":\"" ISS "\",\"sub\":\"u-a\\u0000b\",\"aud\":\"lanyard\",\"exp\":1700000900,"
     "\"iat\":1700000000,\"nbf\":1700000000,\"jti\":\"j1\",\"client_id\":\"lanyard\","
     "\"principal_type\":\"user\"}",
     M_NONE, "malformed token claims"},
    /* the strict RFC 8259 check of request bodies, and more: correctly signed, yet refused */
    {"NaN in the payload", HDR_OK,
     "{\"iss\":\"" ISS "\",\"sub\":\"u-abc\",\"aud\":\"lanyard\",\"exp\":1700000900,"
     "\"iat\":1700000000,\"nbf\":1700000000,\"jti\":\"j1\",\"client_id\":\"lanyard\","
     "\"principal_type\":\"user\",\"x\":NaN}",
     M_NONE, "malformed token claims"},
    {"Infinity in the payload", HDR_OK,
     "{\"iss\":\"" ISS "\",\"sub\":\"u-abc\",\"aud\":\"lanyard\",\"exp\":1700000900,"
     "\"iat\":1700000000,\"nbf\":1700000000,\"jti\":\"j1\",\"client_id\":\"lanyard\","
     "\"principal_type\":\"user\",\"x\":[-Infinity]}",
     M_NONE, "malformed token claims"},
    {"NUL inside a key", HDR_OK,
     "{\"iss\":\"" ISS "\",\"sub\\u0000x\":\"u-admin\",\"aud\":\"lanyard\","
     "\"exp\":1700000900,\"iat\":1700000000,\"nbf\":1700000000,\"jti\":\"j1\","
     "\"client_id\":\"lanyard\",\"principal_type\":\"user\"}",
     M_NONE, "malformed token claims"},
    {"NUL in a string no claim reads", HDR_OK,
     "{\"iss\":\"" ISS "\",\"sub\":\"u-abc\",\"aud\":\"lanyard\",\"exp\":1700000900,"
     "\"iat\":1700000000,\"nbf\":1700000000,\"jti\":\"j1\",\"client_id\":\"lanyard\","
     "\"principal_type\":\"user\",\"x\":\"a\\u0000b\"}",
     M_NONE, "malformed token claims"},
    {"single-quoted member", HDR_OK,
     "{\"iss\":\"" ISS "\",\"sub\":\"u-abc\",\"aud\":\"lanyard\",\"exp\":1700000900,"
     "\"iat\":1700000000,\"nbf\":1700000000,\"jti\":\"j1\",\"client_id\":\"lanyard\","
     "\"principal_type\":\"user\",'x':'single'}",
     M_NONE, "malformed token claims"},
    {"single-quoted value", HDR_OK,
     "{\"iss\":\"" ISS "\",\"sub\":'u-abc',\"aud\":\"lanyard\",\"exp\":1700000900,"
     "\"iat\":1700000000,\"nbf\":1700000000,\"jti\":\"j1\",\"client_id\":\"lanyard\","
     "\"principal_type\":\"user\"}",
     M_NONE, "malformed token claims"},
    {"duplicate key, escaped", HDR_OK,
     "{\"iss\":\"" ISS "\",\"sub\":\"u-abc\",\"\\u0073ub\":\"u-admin\",\"aud\":\"lanyard\","
     "\"exp\":1700000900,\"iat\":1700000000,\"nbf\":1700000000,\"jti\":\"j1\","
     "\"client_id\":\"lanyard\",\"principal_type\":\"user\"}",
     M_NONE, "malformed token claims"},
    {"duplicate key, nested", HDR_OK,
     "{\"iss\":\"" ISS "\",\"sub\":\"u-abc\",\"aud\":\"lanyard\",\"exp\":1700000900,"
     "\"iat\":1700000000,\"nbf\":1700000000,\"jti\":\"j1\",\"client_id\":\"lanyard\","
     "\"principal_type\":\"user\",\"x\":{\"a\":1,\"a\":2}}",
     M_NONE, "malformed token claims"},
    {"trailing garbage after the payload", HDR_OK, PL_OK "x", M_NONE, "malformed token claims"},
    {"NaN in the header", "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"KID\",\"x\":NaN}", PL_OK,
     M_NONE, "malformed token"},
    {"single quotes in the header", "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",'kid':\"KID\"}", PL_OK,
     M_NONE, "malformed token"},
    {"NUL inside a header key",
     "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"KID\",\"crit\\u0000\":1}", PL_OK, M_NONE,
     "malformed token"},
    {"NUL in the kid", "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"KID\\u0000x\"}", PL_OK,
     M_NONE, "malformed token"},
    {"principal_type unknown", HDR_OK,
     "{\"iss\":\"" ISS "\",\"sub\":\"u-a\",\"aud\":\"lanyard\",\"exp\":1700000900,"
     "\"iat\":1700000000,\"nbf\":1700000000,\"jti\":\"j1\",\"client_id\":\"lanyard\","
     "\"principal_type\":\"admin\"}",
     M_NONE, "malformed token claims"},
};

static void mutate(char *t, enum mutation m)
{
    char *d1 = strchr(t, '.'), *d2 = strchr(d1 + 1, '.');
    size_t n = strlen(t);

    switch (m) {
    case M_NONE:
        break;
    case M_PAYLOAD:
        d1[5] = d1[5] == 'A' ? 'B' : 'A';
        break;
    case M_SIG:
        d2[5] = d2[5] == 'A' ? 'B' : 'A';
        break;
    case M_PAD_PAYLOAD:
        memmove(d2 + 1, d2, strlen(d2) + 1);
        *d2 = '=';
        break;
    case M_PLUS_SIG:
        d2[3] = '+';
        break;
    case M_SLASH_SIG:
        d2[3] = '/';
        break;
    case M_NO_SIG:
        d2[1] = '\0';
        break;
    case M_NO_DOT:
        *d2 = '\0';
        break;
    case M_EXTRA_DOT:
        memcpy(t + n, ".AA", 4);
        break;
    }
}

static void test_rejections(void **state)
{
    struct fixture *f = *state;
    const struct ly_keyset *ks = f->ks[3]; /* EdDSA */
    size_t i;

    for (i = 0; i < sizeof(verify_cases) / sizeof(verify_cases[0]); i++) {
        const struct verify_case *c = &verify_cases[i];
        char tok[4096];
        struct ly_jwt_claims got;
        const char *why = "unset";
        int r;

        memset(&got, 0x5a, sizeof(got));
        make_token(ks, c->header, c->payload, tok, sizeof(tok));
        mutate(tok, c->mut);
        r = ly_jwt_verify(ks, view(tok), &expect, &f->arena, &got, &why);
        if (c->why == NULL) {
            CHECK(c->desc, r == LY_OK);
            CHECK(c->desc, strcmp(why, "unset") == 0);
        } else {
            if (r != LY_E_INVALID_TOKEN || strcmp(why, c->why) != 0)
                fail_msg("case \"%s\": r=%d why=\"%s\", want \"%s\"", c->desc, r, why, c->why);
            /* outputs untouched on failure */
            {
                struct ly_jwt_claims untouched;
                memset(&untouched, 0x5a, sizeof(untouched));
                CHECK(c->desc, memcmp(&got, &untouched, sizeof(got)) == 0);
            }
        }
    }
    ly_arena_reset(&f->arena);
}

/*
 * RFC 8725 §2.1: an HS256 token whose MAC key is the RSA public key's PEM,
 * presented to an RS256 keyset, is refused because alg is not the configured one.
 */
static void test_alg_swap(void **state)
{
    struct fixture *f = *state;
    const struct ly_keyset *rs = f->ks[1];
    char pem[4096], tok[4096];
    struct ly_jwt_key fake;
    unsigned char sig[64];
    size_t n, siglen;
    struct ly_jwt_claims got;
    const char *why = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *p;
    long plen;
    const char *h;
    (void)n;

    assert_int_equal(PEM_write_bio_PUBKEY(bio, rs->keys[0].pkey), 1);
    plen = BIO_get_mem_data(bio, &p);
    assert_true(plen > 0 && (size_t)plen < sizeof(pem));
    memcpy(pem, p, (size_t)plen);
    BIO_free(bio);

    memset(&fake, 0, sizeof(fake));
    fake.secret = (unsigned char *)pem;
    fake.secret_len = (size_t)plen;
    h = subst_kid("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"KID\"}",
                  ly_keyset_current_kid(rs));
    n = ly_base64url_encode(h, strlen(h), tok);
    tok[n++] = '.';
    n += ly_base64url_encode(PL_OK, strlen(PL_OK), tok + n);
    assert_int_equal(ly_jws_sign(LY_ALG_HS256, &fake, tok, n, sig, sizeof(sig), &siglen), 0);
    tok[n++] = '.';
    ly_base64url_encode(sig, siglen, tok + n);

    assert_int_equal(ly_jwt_verify(rs, view(tok), &expect, &f->arena, &got, &why),
                     LY_E_INVALID_TOKEN);
    assert_string_equal(why, "unexpected algorithm");
    /* and an RS256 token is not accepted by an HS256 keyset either */
    {
        struct ly_jwt_claims c = good_claims();
        char *rtok = NULL;
        assert_int_equal(ly_jwt_sign(rs, &c, &f->arena, &rtok), LY_OK);
        assert_int_equal(ly_jwt_verify(f->ks[0], view(rtok), &expect, &f->arena, &got, &why),
                         LY_E_INVALID_TOKEN);
        assert_string_equal(why, "unexpected algorithm");
    }
    ly_arena_reset(&f->arena);
}

/*
 * Issue 18: ECDSA is malleable, (r, n - s) verifies as (r, s) does. Every
 * ES256 token Lanyard signs has a low S (s <= n/2), and the same token with
 * S flipped to n - s is refused, so a token has one valid encoding.
 */
static void test_es256_low_s_only(void **state)
{
    static const char order_hex[] =
        "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";
    struct fixture *f = *state;
    BIGNUM *n = NULL, *half = NULL, *sv = NULL;
    int i;

    assert_true(BN_hex2bn(&n, order_hex) > 0);
    half = BN_dup(n);
    assert_non_null(half);
    assert_true(BN_rshift1(half, half) == 1);
    for (i = 0; i < 16; i++) { /* half of plain ECDSA signatures are high-S */
        struct ly_jwt_claims c = good_claims(), got;
        const char *why = NULL;
        char *tok = NULL, *flipped;
        const char *sig;
        unsigned char raw[64];
        size_t rawlen, toklen;

        CHECK("sign", ly_jwt_sign(f->ks[2], &c, &f->arena, &tok) == LY_OK);
        sig = strrchr(tok, '.') + 1;
        CHECK("sig", ly_base64url_decode(sig, strlen(sig), raw, sizeof(raw), &rawlen) == 0 &&
                         rawlen == 64);
        sv = BN_bin2bn(raw + 32, 32, sv);
        assert_non_null(sv);
        CHECK("low S", BN_cmp(sv, half) <= 0);
        CHECK("verifies",
              ly_jwt_verify(f->ks[2], view(tok), &expect, &f->arena, &got, &why) == LY_OK);
        assert_true(BN_sub(sv, n, sv) == 1);
        assert_true(BN_bn2binpad(sv, raw + 32, 32) == 32);
        toklen = (size_t)(sig - tok);
        flipped = ly_arena_alloc(&f->arena, toklen + ly_base64url_encoded_len(64) + 1);
        memcpy(flipped, tok, toklen);
        flipped[toklen + ly_base64url_encode(raw, 64, flipped + toklen)] = '\0';
        why = NULL;
        CHECK("high S refused",
              ly_jwt_verify(f->ks[2], view(flipped), &expect, &f->arena, &got, &why) != LY_OK);
        CHECK("why", why != NULL && strcmp(why, "signature mismatch") == 0);
    }
    BN_free(sv);
    BN_free(half);
    BN_free(n);
    ly_arena_reset(&f->arena);
}

static void test_oversize(void **state)
{
    struct fixture *f = *state;
    char *big = malloc(LY_JWT_MAX_LEN + 2);
    struct ly_jwt_claims got;
    const char *why = NULL;
    char *tok = NULL;
    struct ly_jwt_claims c = good_claims();
    size_t n;

    memset(big, 'A', LY_JWT_MAX_LEN + 1);
    big[100] = '.';
    big[200] = '.';
    big[LY_JWT_MAX_LEN + 1] = '\0';
    assert_int_equal(ly_jwt_verify(f->ks[3], view(big), &expect, &f->arena, &got, &why),
                     LY_E_INVALID_TOKEN);
    assert_string_equal(why, "token too large");

    /* a valid token padded past the cap is refused for its size alone */
    assert_int_equal(ly_jwt_sign(f->ks[3], &c, &f->arena, &tok), LY_OK);
    n = strlen(tok);
    memcpy(big, tok, n);
    assert_int_equal(
        ly_jwt_verify(f->ks[3], (struct ly_str){big, n}, &expect, &f->arena, &got, &why), LY_OK);
    assert_int_equal(ly_jwt_verify(f->ks[3], (struct ly_str){big, LY_JWT_MAX_LEN + 1}, &expect,
                                   &f->arena, &got, &why),
                     LY_E_INVALID_TOKEN);
    assert_string_equal(why, "token too large");
    assert_int_equal(
        ly_jwt_verify(f->ks[3], (struct ly_str){"", 0}, &expect, &f->arena, &got, &why),
        LY_E_INVALID_TOKEN);
    free(big);
    ly_arena_reset(&f->arena);
}

static void test_looks_like(void **state)
{
    (void)state;
    assert_true(ly_jwt_looks_like(view("a.b.c")));
    assert_false(ly_jwt_looks_like(view("a.b")));
    assert_false(ly_jwt_looks_like(view("a.b.c.d")));
    assert_false(ly_jwt_looks_like(view("lya_abc")));
    assert_true(ly_jwt_looks_like(view("..")));
    assert_false(ly_jwt_looks_like(view("...")));
    assert_false(ly_jwt_looks_like(view("")));
    assert_true(ly_jwt_looks_like((struct ly_str){"a.b.c.d", 5})); /* the length, not the NUL */
    assert_false(ly_jwt_looks_like((struct ly_str){"a.b", 2}));
}

/* RFC 7515 Appendix A.1: the HS256 example, checked with the signature primitive. */
static void test_rfc7515_a1(void **state)
{
    static const char key64[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    static const char input[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQog"
        "Imh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    static const char sig64[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    unsigned char key[64], sig[32], mine[64];
    size_t keylen, siglen, minelen;
    struct ly_jwt_key k;
    (void)state;

    assert_int_equal(ly_base64url_decode(key64, strlen(key64), key, sizeof(key), &keylen), 0);
    assert_int_equal(ly_base64url_decode(sig64, strlen(sig64), sig, sizeof(sig), &siglen), 0);
    memset(&k, 0, sizeof(k));
    k.secret = key;
    k.secret_len = keylen;
    assert_true(ly_jws_verify(LY_ALG_HS256, &k, input, strlen(input), sig, siglen));
    assert_false(ly_jws_verify(LY_ALG_HS256, &k, input, strlen(input) - 1, sig, siglen));
    assert_int_equal(
        ly_jws_sign(LY_ALG_HS256, &k, input, strlen(input), mine, sizeof(mine), &minelen), 0);
    assert_int_equal(minelen, 32);
    assert_memory_equal(mine, sig, 32);
}

/*
 * RFC 8037 Appendix A: the Ed25519 key's thumbprint (A.3) is our kid, and
 * the signature of A.4 is reproduced (Ed25519 is deterministic).
 */
static void test_rfc8037(void **state)
{
    struct fixture *f = *state;
    static const char d64[] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    static const char input[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    static const char sig64[] =
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    unsigned char d[32], sig[64];
    char path[160], out64[100];
    size_t dlen, siglen;
    EVP_PKEY *pk;
    FILE *fp;
    struct ly_keyset *ks;

    assert_int_equal(ly_base64url_decode(d64, strlen(d64), d, sizeof(d), &dlen), 0);
    pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d, dlen);
    assert_non_null(pk);
    snprintf(path, sizeof(path), "%s/rfc8037.pem", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL), 1);
    fclose(fp);
    EVP_PKEY_free(pk);
    assert_int_equal(chmod(path, 0600), 0); /* a signing key others may read is refused */

    ks = load(LY_ALG_EDDSA, path, NULL);
    assert_string_equal(ly_keyset_current_kid(ks), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    assert_non_null(
        strstr(ly_keyset_jwks(ks), "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\""));
    assert_int_equal(
        ly_jws_sign(LY_ALG_EDDSA, &ks->keys[0], input, strlen(input), sig, sizeof(sig), &siglen),
        0);
    ly_base64url_encode(sig, siglen, out64);
    assert_string_equal(out64, sig64);
    assert_true(ly_jws_verify(LY_ALG_EDDSA, &ks->keys[0], input, strlen(input), sig, siglen));
    ly_keyset_free(ks);
    unlink(path);
}

struct load_case {
    const char *desc;
    enum ly_jwt_alg alg;
    int key;  /* index into cur[]; -1: missing file; -2: short HS256 secret */
    int prev; /* -1: none */
};

static void test_load_failures(void **state)
{
    struct fixture *f = *state;
    char shortkey[160], missing[160], err[256];
    const struct load_case cases[] = {
        {"RS256 config, EdDSA key", LY_ALG_RS256, 3, -1},
        {"ES256 config, RSA key", LY_ALG_ES256, 1, -1},
        {"EdDSA config, EC key", LY_ALG_EDDSA, 2, -1},
        {"missing file", LY_ALG_EDDSA, -1, -1},
        {"short HS256 secret", LY_ALG_HS256, -2, -1},
        {"previous key of another kind", LY_ALG_EDDSA, 3, 2},
    };
    size_t i;
    FILE *fp;

    snprintf(shortkey, sizeof(shortkey), "%s/short.key", f->dir);
    snprintf(missing, sizeof(missing), "%s/missing.key", f->dir);
    fp = fopen(shortkey, "w");
    fputs("0123456789abcdef0123456789abcde\n", fp); /* 31 bytes and a newline */
    fclose(fp);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ly_config cfg;
        struct ly_keyset *ks = (struct ly_keyset *)&cfg; /* any non-NULL marker */
        struct ly_keyset *const marker = ks;
        char *prevs[1];

        memset(&cfg, 0, sizeof(cfg));
        cfg.tokens.jwt.algorithm = cases[i].alg;
        cfg.tokens.jwt.key_file = cases[i].key >= 0    ? f->cur[cases[i].key]
                                  : cases[i].key == -1 ? missing
                                                       : shortkey;
        if (cases[i].prev >= 0) {
            prevs[0] = f->prev[cases[i].prev];
            cfg.tokens.jwt.previous_key_files = prevs;
            cfg.tokens.jwt.n_previous_key_files = 1;
        }
        err[0] = '\0';
        CHECK(cases[i].desc, ly_keyset_load(&cfg, &ks, err, sizeof(err)) == LY_E_CONFIG);
        CHECK(cases[i].desc, ks == marker);
        CHECK(cases[i].desc, strstr(err, "tokens.jwt.") == err);
    }
    /* the HS256 kid and messages never carry key material */
    unlink(shortkey);
}

/*
 * The signing key is refused when all users may read or write it; the group
 * bits are the operator's (0640 root:www-data for mod_fcgid). A previous key
 * is only warned about, by the config.
 */
static void test_key_file_mode(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *desc;
        enum ly_jwt_alg alg;
        mode_t mode;
        const char *what; /* NULL: loads */
    } cases[] = {
        {"EdDSA 0600", LY_ALG_EDDSA, 0600, NULL},
        {"EdDSA 0640", LY_ALG_EDDSA, 0640, NULL},
        {"EdDSA 0660", LY_ALG_EDDSA, 0660, NULL},
        {"EdDSA 0400", LY_ALG_EDDSA, 0400, NULL},
        {"EdDSA 0644", LY_ALG_EDDSA, 0644, "readable"},
        {"EdDSA 0604", LY_ALG_EDDSA, 0604, "readable"},
        {"EdDSA 0602", LY_ALG_EDDSA, 0602, "writable"},
        {"EdDSA 0666", LY_ALG_EDDSA, 0666, "readable and writable"},
        {"HS256 0640", LY_ALG_HS256, 0640, NULL},
        {"HS256 0644", LY_ALG_HS256, 0644, "readable"},
        {"RS256 0644", LY_ALG_RS256, 0644, "readable"},
        {"ES256 0640", LY_ALG_ES256, 0640, NULL},
    };
    char path[160], err[512], want[512];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *src = NULL;
        struct ly_config cfg;
        struct ly_keyset *ks = (struct ly_keyset *)&cfg; /* any non-NULL marker */
        struct ly_keyset *const marker = ks;
        FILE *in, *out;
        char buf[8192];
        size_t n;

        for (size_t j = 0; j < NALG; j++)
            if (algs[j] == cases[i].alg)
                src = f->cur[j];
        snprintf(path, sizeof(path), "%s/mode.key", f->dir);
        in = fopen(src, "rb");
        out = fopen(path, "wb");
        assert_non_null(in);
        assert_non_null(out);
        n = fread(buf, 1, sizeof(buf), in);
        assert_int_equal(fwrite(buf, 1, n, out), n);
        fclose(in);
        fclose(out);
        assert_int_equal(chmod(path, cases[i].mode), 0);

        memset(&cfg, 0, sizeof(cfg));
        cfg.tokens.jwt.algorithm = cases[i].alg;
        cfg.tokens.jwt.key_file = path;
        err[0] = '\0';
        if (cases[i].what == NULL) {
            if (ly_keyset_load(&cfg, &ks, err, sizeof(err)) != LY_OK)
                fail_msg("case \"%s\": %s", cases[i].desc, err);
            ly_keyset_free(ks);
        } else {
            snprintf(want, sizeof(want),
                     "tokens.jwt.key_file: \"%s\" is %s by all users (mode %04o); chmod it to "
                     "600, or to 640 for a group such as www-data",
                     path, cases[i].what, (unsigned)cases[i].mode);
            CHECK(cases[i].desc, ly_keyset_load(&cfg, &ks, err, sizeof(err)) == LY_E_CONFIG);
            CHECK(cases[i].desc, ks == marker);
            if (strcmp(err, want) != 0)
                fail_msg("case \"%s\":\n  want %s\n  got  %s", cases[i].desc, want, err);
        }
        unlink(path);
    }

    /* a previous key that all users may read still loads */
    {
        struct ly_config cfg;
        struct ly_keyset *ks = NULL;
        char *prevs[1] = {f->prev[3]};

        assert_int_equal(chmod(f->prev[3], 0644), 0);
        memset(&cfg, 0, sizeof(cfg));
        cfg.tokens.jwt.algorithm = LY_ALG_EDDSA;
        cfg.tokens.jwt.key_file = f->cur[3];
        cfg.tokens.jwt.previous_key_files = prevs;
        cfg.tokens.jwt.n_previous_key_files = 1;
        if (ly_keyset_load(&cfg, &ks, err, sizeof(err)) != LY_OK)
            fail_msg("world-readable previous key: %s", err);
        ly_keyset_free(ks);
        assert_int_equal(chmod(f->prev[3], 0600), 0);
    }
}

static void test_keygen(void **state)
{
    struct fixture *f = *state;
    char err[256];
    struct stat st;
    size_t i;

    for (i = 0; i < NALG; i++) {
        CHECK(alg_names[i], stat(f->cur[i], &st) == 0);
        CHECK(alg_names[i], (st.st_mode & 0777) == 0600);
        /* O_EXCL: an existing key is never overwritten */
        CHECK(alg_names[i], ly_key_generate(algs[i], f->cur[i], err, sizeof(err)) == LY_E_IO);
        CHECK(alg_names[i], strstr(err, f->cur[i]) != NULL);
    }
    /* PKCS#8 PEM for the public-key algorithms */
    for (i = 1; i < NALG; i++) {
        FILE *fp = fopen(f->cur[i], "r");
        char line[64] = "";
        CHECK(alg_names[i], fp != NULL && fgets(line, sizeof(line), fp) != NULL);
        CHECK(alg_names[i], strcmp(line, "-----BEGIN PRIVATE KEY-----\n") == 0);
        fclose(fp);
    }
    /* HS256: 48 random bytes in base64 */
    {
        FILE *fp = fopen(f->cur[0], "r");
        char line[128] = "";
        unsigned char raw[64];
        size_t n;
        assert_non_null(fp);
        assert_non_null(fgets(line, sizeof(line), fp));
        fclose(fp);
        assert_int_equal(strlen(line), 65);
        assert_int_equal(ly_base64_decode(line, 64, raw, sizeof(raw), &n), 0);
        assert_int_equal(n, 48);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alg_parse),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_kids),
        cmocka_unit_test(test_previous_key),
        cmocka_unit_test(test_previous_public_pem),
        cmocka_unit_test(test_jwks),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_alg_swap),
        cmocka_unit_test(test_es256_low_s_only),
        cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_looks_like),
        cmocka_unit_test(test_rfc7515_a1),
        cmocka_unit_test(test_rfc8037),
        cmocka_unit_test(test_load_failures),
        cmocka_unit_test(test_key_file_mode),
        cmocka_unit_test(test_keygen),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
