/*
 * fuzz_jwt: access token verification (ly_jwt_verify) against keysets
 * generated once per process (EdDSA, ES256, HS256).
 *
 * The first byte picks the algorithm (bits 2-3) and the mode (bits 0-1):
 *   0  the rest is a token as received;
 *   1  the rest is "HEADER\nPAYLOAD\nSIGNATURE", each part base64url-encoded
 *      here; "@KID@" in HEADER becomes the key's kid, so the signature check
 *      is reached; a SIGNATURE of "@SIG@" is replaced by a real one, so the
 *      claims checks are reached too;
 *   2  the rest is lines of claims, signed with ly_jwt_sign.
 * Invariants: in mode 0, and in mode 1 without "@SIG@", nothing verifies;
 * a failure returns LY_E_INVALID_TOKEN with a static reason and leaves the
 * output alone; a success has claims that meet the expectations; what
 * ly_jwt_sign makes, ly_jwt_verify accepts with the same claims.
 */
#include "build-config.h"
#include "banned.h"

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "lanyard/arena.h"
#include "lanyard/codec.h"
#include "lanyard/config.h"
#include "lanyard/err.h"
#include "lanyard/jwt.h"
#include "lanyard/mem.h"
#include "lanyard/str.h"
#include "../../src/token/internal.h"

#include "fuzz.h"

#define NOW    1700000000
#define ISSUER "https://issuer.test"
#define AUD    "lanyard"
#define NALG   3

static const enum ly_jwt_alg algs[NALG] = {LY_ALG_EDDSA, LY_ALG_ES256, LY_ALG_HS256};
static struct ly_keyset *keysets[NALG];
static const struct ly_jwt_expect expect = {ISSUER, AUD, NOW, 30};

static struct ly_keyset *keyset(size_t i)
{
    char dir[] = "/tmp/lanyard-fuzz-jwt-XXXXXX", path[64], err[256] = "";
    struct ly_config cfg;

    if (keysets[i] != NULL)
        return keysets[i];
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/key", dir);
    memset(&cfg, 0, sizeof(cfg));
    cfg.tokens.jwt.algorithm = algs[i];
    cfg.tokens.jwt.key_file = path;
    if (ly_key_generate(algs[i], path, err, sizeof(err)) != LY_OK ||
        ly_keyset_load(&cfg, &keysets[i], err, sizeof(err)) != LY_OK) {
        fprintf(stderr, "fuzz_jwt: %s\n", err);
        abort();
    }
    unlink(path);
    rmdir(dir);
    return keysets[i];
}

static void fill_sentinel(struct ly_jwt_claims *c)
{
    memset(c, 0xA5, sizeof(*c));
}

static bool is_sentinel(const struct ly_jwt_claims *c)
{
    struct ly_jwt_claims s;
    fill_sentinel(&s);
    return memcmp(c, &s, sizeof(s)) == 0;
}

/* Verify token; returns the result after checking the invariants of either outcome. */
static int verify(const struct ly_keyset *ks, struct ly_arena *a, struct ly_str token,
                  struct ly_jwt_claims *c)
{
    const char *why = NULL;

    fill_sentinel(c);
    int r = ly_jwt_verify(ks, token, &expect, a, c, &why);
    if (r != LY_OK) {
        FUZZ_CHECK(r == LY_E_INVALID_TOKEN);
        FUZZ_CHECK(why != NULL && strlen(why) > 0 && strlen(why) < 64);
        /* the reason is a static text, never a piece of the token */
        FUZZ_CHECK(!(why >= token.ptr && why < token.ptr + token.len));
        FUZZ_CHECK(is_sentinel(c));
        return r;
    }
    FUZZ_CHECK(c->iss != NULL && strcmp(c->iss, ISSUER) == 0);
    FUZZ_CHECK(c->aud != NULL && strcmp(c->aud, AUD) == 0);
    FUZZ_CHECK(c->sub != NULL && c->jti != NULL && c->client_id != NULL);
    FUZZ_CHECK(c->principal_type == LY_PRINCIPAL_USER ||
               c->principal_type == LY_PRINCIPAL_SERVICE_ACCOUNT);
    FUZZ_CHECK(c->exp + expect.leeway > NOW && c->nbf - expect.leeway <= NOW);
    FUZZ_CHECK(c->exp >= 0 && c->iat >= 0 && c->nbf >= 0);
    return r;
}

/* Append the base64url of the n bytes at p to out at *o. */
static void put_part(char *out, size_t *o, const void *p, size_t n)
{
    *o += ly_base64url_encode(p, n, out + *o);
}

/* Mode 1: build the token from its three parts. */
static void from_parts(const struct ly_keyset *ks, struct ly_arena *a, const char *in, size_t len)
{
    const char *nl1 = memchr(in, '\n', len);
    const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(in + len - nl1 - 1)) : NULL;
    if (nl2 == NULL)
        return;
    struct ly_str hdr = {in, (size_t)(nl1 - in)};
    struct ly_str pl = {nl1 + 1, (size_t)(nl2 - nl1 - 1)};
    struct ly_str sig = {nl2 + 1, (size_t)(in + len - nl2 - 1)};
    const char *kid = ly_keyset_current_kid(ks);

    /* the header with @KID@ replaced (once) */
    const char *mark = memmem(hdr.ptr, hdr.len, "@KID@", 5);
    size_t hlen = hdr.len + (mark ? strlen(kid) : 0);
    char *h = ly_arena_alloc(a, hlen + 1);
    if (mark != NULL) {
        size_t pre = (size_t)(mark - hdr.ptr);
        memcpy(h, hdr.ptr, pre);
        memcpy(h + pre, kid, strlen(kid));
        memcpy(h + pre + strlen(kid), mark + 5, hdr.len - pre - 5);
        hlen -= 5;
    } else {
        memcpy(h, hdr.ptr, hdr.len);
    }

    size_t cap = ly_base64url_encoded_len(hlen) + ly_base64url_encoded_len(pl.len) +
                 ly_base64url_encoded_len(sig.len > 512 ? sig.len : 512) + 3;
    char *tok = ly_arena_alloc(a, cap);
    size_t o = 0;
    put_part(tok, &o, h, hlen);
    tok[o++] = '.';
    put_part(tok, &o, pl.ptr, pl.len);
    bool real = sig.len == 5 && memcmp(sig.ptr, "@SIG@", 5) == 0;
    if (real) {
        unsigned char s[512];
        size_t slen = 0;
        FUZZ_CHECK(ly_jws_sign(ks->alg, &ks->keys[0], tok, o, s, sizeof(s), &slen) == 0);
        tok[o++] = '.';
        put_part(tok, &o, s, slen);
    } else {
        tok[o++] = '.';
        put_part(tok, &o, sig.ptr, sig.len);
    }
    struct ly_jwt_claims c;
    int r = verify(ks, a, (struct ly_str){tok, o}, &c);
    if (!real)
        FUZZ_CHECK(r != LY_OK); /* a signature made of input bytes never verifies */
}

/* Mode 2: claims from lines (sub, jti, client_id, sid, org, principal type), signed by us. */
static void sign_roundtrip(const struct ly_keyset *ks, struct ly_arena *a, const char *in,
                           size_t len)
{
    const char *f[5] = {"", "", "", "", ""};
    size_t nf = 0, i = 0;
    while (nf < 5 && i <= len) {
        const char *nl = memchr(in + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - in - i) : len - i;
        if (!ly_str_is_clean_utf8((struct ly_str){in + i, n}, 4096))
            return; /* claims come from validated data, never raw bytes */
        f[nf++] = ly_arena_strndup(a, in + i, n);
        i += n + 1;
    }
    struct ly_jwt_claims want = {
        .iss = ISSUER,
        .sub = f[0],
        .aud = AUD,
        .jti = f[1],
        .client_id = f[2],
        .sid = f[3][0] ? f[3] : NULL,
        .org = f[4][0] ? f[4] : NULL,
        .principal_type = len % 2 ? LY_PRINCIPAL_USER : LY_PRINCIPAL_SERVICE_ACCOUNT,
        .exp = NOW + 900,
        .iat = NOW,
        .nbf = NOW,
    };
    char *tok = NULL;
    FUZZ_CHECK(ly_jwt_sign(ks, &want, a, &tok) == LY_OK && tok != NULL);
    struct ly_jwt_claims got;
    FUZZ_CHECK(verify(ks, a, ly_str_from(tok), &got) == LY_OK);
    FUZZ_CHECK(strcmp(got.sub, want.sub) == 0 && strcmp(got.jti, want.jti) == 0);
    FUZZ_CHECK(strcmp(got.client_id, want.client_id) == 0);
    FUZZ_CHECK(want.sid ? got.sid && strcmp(got.sid, want.sid) == 0 : got.sid == NULL);
    FUZZ_CHECK(want.org ? got.org && strcmp(got.org, want.org) == 0 : got.org == NULL);
    FUZZ_CHECK(got.principal_type == want.principal_type && got.exp == want.exp &&
               got.iat == want.iat && got.nbf == want.nbf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ly_arena arena;

    if (size == 0)
        return 0;
    unsigned mode = data[0] & 3, alg = (data[0] >> 2) % NALG;
    const struct ly_keyset *ks = keyset(alg);
    struct ly_str rest = {(const char *)data + 1, size - 1};

    ly_arena_init(&arena, 4096);
    if (mode == 0 || mode == 3) {
        struct ly_jwt_claims c;
        FUZZ_CHECK(verify(ks, &arena, rest, &c) != LY_OK);
    } else if (mode == 1) {
        from_parts(ks, &arena, rest.ptr, rest.len);
    } else {
        sign_roundtrip(ks, &arena, rest.ptr, rest.len);
    }
    ly_arena_release(&arena);
    return 0;
}
