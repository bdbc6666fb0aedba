#include "build-config.h"
#include "banned.h"
#include "lanyard/password.h"

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "lanyard/codec.h"
#include "lanyard/ct.h"
#include "lanyard/err.h"
#include "lanyard/rand.h"
#include "lanyard/str.h"

#define SALT_LEN     16
#define HASH_LEN     32
#define MIN_SALT_LEN 8
#define MAX_SALT_LEN 64
#define MIN_HASH_LEN 16
#define MAX_HASH_LEN 64
#define MAX_LN       30
#define MAX_R        64
#define MAX_P        16
#define B64_LEN(n)   (((n) + 2) / 3 * 4) /* padded, as ly_base64_encoded_len() */
/*
 * A PHC string comes from our own database, but a corrupted or planted row
 * must not make one sign-in allocate gigabytes: refuse parameters whose
 * scrypt working set (128 * r * (N + p + 2) bytes, RFC 7914 §5 plus the
 * B array) exceeds this.
 */
#define MAX_SCRYPT_MEM ((uint64_t)1 << 30)

/* Verified against this when the user is unknown, so the work is the same. */
#define DUMMY_SALT "lanyard-dummy-salt"

static bool params_are_sane(const struct ly_scrypt_params *pp)
{
    if (pp->n < 2 || (pp->n & (pp->n - 1)) != 0 || pp->n > ((uint64_t)1 << MAX_LN))
        return false;
    if (pp->r < 1 || pp->r > MAX_R || pp->p < 1 || pp->p > MAX_P)
        return false;
    return (uint64_t)128 * pp->r * (pp->n + pp->p + 2) <= MAX_SCRYPT_MEM;
}

/* scrypt(pw, salt) into out[outlen]; 0 / -1. */
static int derive(const struct ly_scrypt_params *pp, const char *pw, size_t pwlen,
                  const unsigned char *salt, size_t saltlen, unsigned char *out, size_t outlen)
{
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[7];
    uint64_t n = pp->n;
    uint32_t r = pp->r, p = pp->p;
    /* room for V and B with a margin; the default would also do, but say it (N=32768,r=8: 32 MiB)
     */
    uint64_t maxmem = (uint64_t)128 * r * (n + p + 2) + ((uint64_t)1 << 20);
    static const char empty = '\0';
    int r_ = -1;

    kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    if (kdf == NULL)
        goto out;
    kctx = EVP_KDF_CTX_new(kdf);
    if (kctx == NULL)
        goto out;
    /* an empty password is legal for the KDF; OSSL_PARAM wants a non-NULL pointer */
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
                                                  (void *)(pwlen > 0 ? pw : &empty), pwlen);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
    params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
    params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
    params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
    params[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
    params[6] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, out, outlen, params) != 1)
        goto out;
    r_ = 0;
out:
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return r_;
}

static unsigned log2_u64(uint64_t n)
{
    unsigned l = 0;

    while (n > 1) {
        n >>= 1;
        l++;
    }
    return l;
}

/* PHC uses standard base64 without padding: encode padded and drop the '='. */
static size_t b64_nopad_encode(const unsigned char *in, size_t n, char *out)
{
    size_t len = ly_base64_encode(in, n, out);

    while (len > 0 && out[len - 1] == '=')
        out[--len] = '\0';
    return len;
}

/* Decode unpadded standard base64 strictly (canonical, no '=' of its own). */
static int b64_nopad_decode(const char *in, size_t len, unsigned char *out, size_t outmax,
                            size_t *outlen)
{
    char buf[4 * ((MAX_HASH_LEN + 2) / 3) + 4];

    if (len > sizeof(buf) - 4 || len % 4 == 1 || memchr(in, '=', len) != NULL)
        return -1;
    memcpy(buf, in, len);
    while (len % 4 != 0)
        buf[len++] = '=';
    return ly_base64_decode(buf, len, out, outmax, outlen);
}

/* Parse a decimal without sign or leading zero, up to max; advances *s. 0 / -1. */
static int parse_uint(const char **s, uint64_t max, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;

    if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > max)
            return -1;
    }
    *s = p;
    *out = v;
    return 0;
}

static int expect_lit(const char **s, const char *lit)
{
    size_t n = strlen(lit);

    if (strncmp(*s, lit, n) != 0)
        return -1;
    *s += n;
    return 0;
}

struct phc {
    struct ly_scrypt_params params;
    unsigned char salt[MAX_SALT_LEN];
    size_t saltlen;
    unsigned char hash[MAX_HASH_LEN];
    size_t hashlen;
};

/*
 * Parse "$scrypt$ln=L,r=R,p=P$SALT$HASH" exactly: parameters in that order,
 * no extras, canonical base64.
 */
static int phc_parse(const char *s, struct phc *out)
{
    struct phc ph;
    uint64_t ln, r, p;
    const char *end;

    if (s == NULL || strnlen(s, LY_PHC_MAX_LEN) >= LY_PHC_MAX_LEN)
        return -1;
    if (expect_lit(&s, "$scrypt$ln=") != 0 || parse_uint(&s, MAX_LN, &ln) != 0 ||
        expect_lit(&s, ",r=") != 0 || parse_uint(&s, MAX_R, &r) != 0 ||
        expect_lit(&s, ",p=") != 0 || parse_uint(&s, MAX_P, &p) != 0 || expect_lit(&s, "$") != 0)
        return -1;
    ph.params.n = (uint64_t)1 << ln;
    ph.params.r = (unsigned)r;
    ph.params.p = (unsigned)p;
    if (!params_are_sane(&ph.params))
        return -1;
    end = strchr(s, '$');
    if (end == NULL)
        return -1;
    if (b64_nopad_decode(s, (size_t)(end - s), ph.salt, sizeof(ph.salt), &ph.saltlen) != 0 ||
        ph.saltlen < MIN_SALT_LEN)
        return -1;
    s = end + 1;
    if (b64_nopad_decode(s, strlen(s), ph.hash, sizeof(ph.hash), &ph.hashlen) != 0 ||
        ph.hashlen < MIN_HASH_LEN)
        return -1;
    *out = ph;
    return 0;
}

int ly_password_hash(const struct ly_scrypt_params *params, const char *pw, size_t pwlen,
                     char out[LY_PHC_MAX_LEN])
{
    unsigned char salt[SALT_LEN];
    unsigned char hash[HASH_LEN];
    char salt64[B64_LEN(SALT_LEN) + 1];
    char hash64[B64_LEN(HASH_LEN) + 1];
    char buf[LY_PHC_MAX_LEN];
    int n, r = LY_E_CRYPTO;

    /* SPEC §4 and RFC 7914: the cap keeps a huge password from being a cheap DoS lever */
    if (pwlen > LY_PASSWORD_MAX_LEN || (pw == NULL && pwlen > 0)) {
        r = LY_E_VALIDATION;
        goto out;
    }
    if (!params_are_sane(params))
        goto out;
    ly_rand_bytes(salt, sizeof(salt));
    if (derive(params, pw, pwlen, salt, sizeof(salt), hash, sizeof(hash)) != 0)
        goto out;
    b64_nopad_encode(salt, sizeof(salt), salt64);
    b64_nopad_encode(hash, sizeof(hash), hash64);
    n = snprintf(buf, sizeof(buf), "$scrypt$ln=%u,r=%u,p=%u$%s$%s", log2_u64(params->n), params->r,
                 params->p, salt64, hash64);
    if (n < 0 || (size_t)n >= sizeof(buf))
        goto out;
    memcpy(out, buf, (size_t)n + 1);
    r = LY_OK;
out:
    OPENSSL_cleanse(hash, sizeof(hash));
    OPENSSL_cleanse(hash64, sizeof(hash64));
    OPENSSL_cleanse(buf, sizeof(buf));
    return r;
}

bool ly_password_verify(const struct ly_scrypt_params *params, const char *phc, const char *pw,
                        size_t pwlen)
{
    struct phc ph;
    unsigned char got[MAX_HASH_LEN];
    bool ok = false;

    if (pwlen > LY_PASSWORD_MAX_LEN || (pw == NULL && pwlen > 0))
        return false;
    /*
     * No such user, or one without a password (made by SSO, SPEC §5.15):
     * spend what a real verification costs, then say no, so that the time
     * tells neither apart from a wrong password.
     */
    if (phc == NULL || phc_parse(phc, &ph) != 0) {
        if (params != NULL && params_are_sane(params))
            (void)derive(params, pw, pwlen, (const unsigned char *)DUMMY_SALT,
                         sizeof(DUMMY_SALT) - 1, got, HASH_LEN);
        OPENSSL_cleanse(got, sizeof(got));
        return false;
    }
    if (derive(&ph.params, pw, pwlen, ph.salt, ph.saltlen, got, ph.hashlen) == 0)
        ok = ly_ct_equal(got, ph.hash, ph.hashlen);
    OPENSSL_cleanse(got, sizeof(got));
    OPENSSL_cleanse(&ph, sizeof(ph));
    return ok;
}

int ly_password_parse_params(const char *phc, struct ly_scrypt_params *out)
{
    struct phc ph;

    if (phc_parse(phc, &ph) != 0)
        return -1;
    *out = ph.params;
    return 0;
}

const char *ly_password_problem(const char *pw, size_t min_chars)
{
    size_t n = strlen(pw);
    if (n > LY_PASSWORD_MAX_LEN)
        return "is too long";
    if (!ly_str_is_clean_utf8(ly_str_from(pw), LY_PASSWORD_MAX_LEN))
        return "must be UTF-8 text without control characters";
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)pw[i] & 0xC0) != 0x80)
            chars++;
    if (chars < min_chars)
        return "is too short";
    return NULL;
}
