/*
 * jwt_floor: the JWT floor. Per request, the signature of the bearer token
 * in Authorization is verified with OpenSSL EVP (the key loaded once, the
 * digest context made once), then the fixed answer of bench/floor.c: what a
 * check of a JWT cannot go below. It decodes no claims and checks no exp:
 * only the signature, the one piece of work a JWT check cannot skip. A
 * token whose signature fails answers 401 (wrk counts it as an error).
 *
 * Environment (bench/run.py sets it): BENCH_JWT_ALG (HS256, RS256, ES256 or
 * EdDSA) and BENCH_JWT_KEY (the key file lanyardctl keygen wrote: the
 * HS256 secret's text, or a PEM private key).
 */
#include "build-config.h"
#include "banned.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "floor.h"
#include "lanyard/codec.h"

#define KEY_MAX   16384
#define TOKEN_MAX 8192

enum alg { HS256, RS256, ES256, EDDSA };

static enum alg alg;
static EVP_PKEY *pkey;
static EVP_MD_CTX *mdctx;
static unsigned char secret[KEY_MAX];
static size_t secret_len;

int floor_init(void)
{
    const char *a = getenv("BENCH_JWT_ALG"), *path = getenv("BENCH_JWT_KEY");
    FILE *f;

    if (a == NULL || path == NULL) {
        fprintf(stderr, "jwt_floor: BENCH_JWT_ALG and BENCH_JWT_KEY must be set\n");
        return -1;
    }
    if (strcmp(a, "HS256") == 0)
        alg = HS256;
    else if (strcmp(a, "RS256") == 0)
        alg = RS256;
    else if (strcmp(a, "ES256") == 0)
        alg = ES256;
    else if (strcmp(a, "EdDSA") == 0)
        alg = EDDSA;
    else {
        fprintf(stderr, "jwt_floor: unknown BENCH_JWT_ALG '%s'\n", a);
        return -1;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "jwt_floor: cannot open %s\n", path);
        return -1;
    }
    if (alg == HS256) {
        /* as src/token/keys.c: the file's bytes are the secret, without the final newline */
        secret_len = fread(secret, 1, sizeof(secret), f);
        while (secret_len > 0 && (secret[secret_len - 1] == '\n' || secret[secret_len - 1] == '\r'))
            secret_len--;
    } else {
        pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    }
    fclose(f);
    mdctx = EVP_MD_CTX_new();
    if ((alg == HS256 ? secret_len == 0 : pkey == NULL) || mdctx == NULL) {
        fprintf(stderr, "jwt_floor: cannot load the %s key in %s\n", a, path);
        return -1;
    }
    return 0;
}

/* ES256's JWS signature is r || s (RFC 7518 §3.4); EVP wants DER */
static int es256_der(const unsigned char *raw, unsigned char *der, size_t dermax, size_t *derlen)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    int n = -1;
    unsigned char *p = der;
    if (sig != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(sig, r, s) == 1) {
        r = s = NULL; /* owned by sig now */
        n = i2d_ECDSA_SIG(sig, NULL);
        if (n > 0 && (size_t)n <= dermax)
            n = i2d_ECDSA_SIG(sig, &p);
        else
            n = -1;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    if (n <= 0)
        return -1;
    *derlen = (size_t)n;
    return 0;
}

int floor_handle(FCGX_Request *req)
{
    const char *h = FCGX_GetParam("HTTP_AUTHORIZATION", req->envp);
    unsigned char sig[512], der[80], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    const char *tok, *dot;
    size_t siglen = 0;
    size_t signed_len, derlen = 0;

    const char *uri = FCGX_GetParam("REQUEST_URI", req->envp);

    if (uri != NULL && strcmp(uri, "/.ready") == 0)
        return 200; /* bench/run.py's readiness probe, which has no token */
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
        return 401;
    tok = h + 7;
    dot = strrchr(tok, '.');
    if (dot == NULL || strlen(tok) > TOKEN_MAX)
        return 401;
    signed_len = (size_t)(dot - tok);
    if (ly_base64url_decode(dot + 1, strlen(dot + 1), sig, sizeof(sig), &siglen) != 0 ||
        siglen == 0)
        return 401;
    switch (alg) {
    case HS256:
        if (HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)tok, signed_len, mac,
                 &maclen) == NULL ||
            (size_t)maclen != siglen || CRYPTO_memcmp(mac, sig, maclen) != 0)
            return 401;
        return 200;
    case ES256:
        if (siglen != 64 || es256_der(sig, der, sizeof(der), &derlen) != 0)
            return 401;
        break;
    default:
        break;
    }
    if (EVP_DigestVerifyInit(mdctx, NULL, alg == EDDSA ? NULL : EVP_sha256(), NULL, pkey) != 1)
        return 500;
    int ok = EVP_DigestVerify(mdctx, alg == ES256 ? der : sig, alg == ES256 ? derlen : siglen,
                              (const unsigned char *)tok, signed_len);
    EVP_MD_CTX_reset(mdctx);
    return ok == 1 ? 200 : 401;
}
