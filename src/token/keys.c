#include "build-config.h"
#include "banned.h"
#include "lanyard/jwt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "internal.h"
#include "lanyard/codec.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"
#include "lanyard/mem.h"
#include "lanyard/rand.h"

#define KEY_FILE_MAX     65536 /* a 16384-bit RSA PEM is under 13 KiB */
#define HS256_MIN_LEN    32    /* RFC 7518 §3.2: a key at least as long as the hash output */
#define HS256_GEN_LEN    48
#define HS256_KID_LEN    22 /* 132 bits of the digest: unique, and says nothing of the secret */
#define RSA_MIN_BITS     2048
#define RSA_GEN_BITS     3072
#define P256_COORD_LEN   32
#define ED25519_LEN      32
#define HS256_KID_DOMAIN "lanyard/jwt/hs256-kid/v1"

static const struct {
    enum ly_jwt_alg alg;
    const char *name;
} alg_names[] = {
    {LY_ALG_HS256, "HS256"},
    {LY_ALG_RS256, "RS256"},
    {LY_ALG_ES256, "ES256"},
    {LY_ALG_EDDSA, "EdDSA"},
};

const char *ly_jwt_alg_str(enum ly_jwt_alg alg)
{
    size_t i;

    for (i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++)
        if (alg_names[i].alg == alg)
            return alg_names[i].name;
    return "?";
}

int ly_jwt_alg_parse(const char *s, enum ly_jwt_alg *out)
{
    size_t i;

    if (s == NULL)
        return -1;
    for (i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
        if (strcmp(s, alg_names[i].name) == 0) {
            *out = alg_names[i].alg;
            return 0;
        }
    }
    return -1;
}

/*
 * Read a whole small file. On success *buf (NUL-terminated, heap), *len and
 * *mode are set. Secrets pass through here: the caller wipes the buffer.
 */
static int read_small_file(const char *path, unsigned char **buf, size_t *len, mode_t *mode)
{
    int fd = -1, r = -1;
    struct stat st;
    unsigned char *b = NULL;
    size_t got = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        goto out;
    if (fstat(fd, &st) != 0)
        goto out;
    if (!S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
        errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        goto out;
    }
    b = ly_xmalloc(KEY_FILE_MAX + 1);
    for (;;) {
        ssize_t n = read(fd, b + got, KEY_FILE_MAX + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > KEY_FILE_MAX) {
            errno = EFBIG;
            goto out;
        }
    }
    b[got] = '\0';
    *buf = b;
    *len = got;
    *mode = st.st_mode;
    b = NULL;
    r = 0;
out:
    if (b != NULL)
        ly_free_secret(b, KEY_FILE_MAX + 1);
    if (fd >= 0)
        close(fd);
    return r;
}

/* What the other bits of mode let every user do with the file. */
static const char *exposure(mode_t mode)
{
    if ((mode & S_IROTH) && (mode & S_IWOTH))
        return "readable and writable";
    return (mode & S_IROTH) ? "readable" : "writable";
}

/* base64url of a big number's unsigned big-endian bytes, padded to width if width > 0 */
static char *bn_param_b64url(const EVP_PKEY *pkey, const char *name, int width)
{
    BIGNUM *bn = NULL;
    unsigned char *bin = NULL;
    char *s = NULL;
    int n;

    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
        goto out;
    n = width > 0 ? width : BN_num_bytes(bn);
    if (n <= 0 || n > 2048)
        goto out;
    bin = ly_xmalloc((size_t)n);
    if (BN_bn2binpad(bn, bin, n) != n)
        goto out;
    s = ly_xmalloc(ly_base64url_encoded_len((size_t)n) + 1);
    ly_base64url_encode(bin, (size_t)n, s);
out:
    free(bin);
    BN_free(bn);
    return s;
}

/* The public members of a JWK (RFC 7517/7518/8037), each base64url. */
struct jwk_pub {
    const char *kty;
    const char *crv; /* EC and OKP */
    char *n, *e;     /* RSA */
    char *x, *y;     /* EC: x and y; OKP: x */
};

static void jwk_pub_release(struct jwk_pub *j)
{
    free(j->n);
    free(j->e);
    free(j->x);
    free(j->y);
    memset(j, 0, sizeof(*j));
}

/*
 * Check that pkey is the kind of key alg needs, and take out its public
 * members. Returns 0 or -1 with a reason in *why.
 */
static int jwk_pub_from_pkey(enum ly_jwt_alg alg, EVP_PKEY *pkey, struct jwk_pub *out,
                             const char **why)
{
    struct jwk_pub j = {0};
    char group[64];
    unsigned char raw[ED25519_LEN];
    size_t rawlen = sizeof(raw);
    int r = -1;

    switch (alg) {
    case LY_ALG_RS256:
        if (!EVP_PKEY_is_a(pkey, "RSA")) {
            *why = "not an RSA key";
            goto out;
        }
        if (EVP_PKEY_get_bits(pkey) < RSA_MIN_BITS) {
            *why = "RSA key shorter than 2048 bits";
            goto out;
        }
        j.kty = "RSA";
        j.n = bn_param_b64url(pkey, OSSL_PKEY_PARAM_RSA_N, 0);
        j.e = bn_param_b64url(pkey, OSSL_PKEY_PARAM_RSA_E, 0);
        if (j.n == NULL || j.e == NULL) {
            *why = "cannot read the RSA public key";
            goto out;
        }
        break;
    case LY_ALG_ES256:
        if (!EVP_PKEY_is_a(pkey, "EC") ||
            EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) != 1 ||
            (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
            *why = "not a P-256 EC key";
            goto out;
        }
        j.kty = "EC";
        j.crv = "P-256";
        j.x = bn_param_b64url(pkey, OSSL_PKEY_PARAM_EC_PUB_X, P256_COORD_LEN);
        j.y = bn_param_b64url(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, P256_COORD_LEN);
        if (j.x == NULL || j.y == NULL) {
            *why = "cannot read the EC public key";
            goto out;
        }
        break;
    case LY_ALG_EDDSA:
        if (!EVP_PKEY_is_a(pkey, "ED25519") ||
            EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1 || rawlen != ED25519_LEN) {
            *why = "not an Ed25519 key";
            goto out;
        }
        j.kty = "OKP";
        j.crv = "Ed25519";
        j.x = ly_xmalloc(ly_base64url_encoded_len(rawlen) + 1);
        ly_base64url_encode(raw, rawlen, j.x);
        break;
    default:
        *why = "not a public-key algorithm";
        goto out;
    }
    *out = j;
    memset(&j, 0, sizeof(j));
    r = 0;
out:
    jwk_pub_release(&j);
    return r;
}

/*
 * RFC 7638 §3.2: the SHA-256 of the required members only, in lexicographic
 * order, no whitespace. The values are base64url or fixed names, which need
 * no JSON escaping, so the text is written directly.
 */
static int jwk_thumbprint(const struct jwk_pub *j, char kid[LY_KID_MAX])
{
    char *text = NULL;
    size_t cap;
    int n, r = -1;
    unsigned char d[LY_SHA256_LEN];

    cap = 64 + (j->n ? strlen(j->n) : 0) + (j->e ? strlen(j->e) : 0) + (j->x ? strlen(j->x) : 0) +
          (j->y ? strlen(j->y) : 0);
    text = ly_xmalloc(cap);
    if (strcmp(j->kty, "RSA") == 0)
        n = snprintf(text, cap, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", j->e, j->n);
    else if (strcmp(j->kty, "EC") == 0)
        n = snprintf(text, cap, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", j->crv,
                     j->x, j->y);
    else
        n = snprintf(text, cap, "{\"crv\":\"%s\",\"kty\":\"OKP\",\"x\":\"%s\"}", j->crv, j->x);
    if (n < 0 || (size_t)n >= cap)
        goto out;
    ly_sha256(text, (size_t)n, d);
    ly_base64url_encode(d, sizeof(d), kid);
    r = 0;
out:
    free(text);
    return r;
}

/*
 * HS256 kid: a digest of the secret under a domain label, cut to 22
 * characters. Nothing about the secret can be learnt from it, and the label
 * keeps it from equalling any other hash of the same bytes.
 */
static void hs256_kid(const unsigned char *secret, size_t len, char kid[LY_KID_MAX])
{
    unsigned char d[LY_SHA256_LEN];
    char full[LY_KID_MAX];

    ly_hmac_sha256(HS256_KID_DOMAIN, sizeof(HS256_KID_DOMAIN) - 1, secret, len, d);
    ly_base64url_encode(d, sizeof(d), full);
    memcpy(kid, full, HS256_KID_LEN);
    kid[HS256_KID_LEN] = '\0';
    OPENSSL_cleanse(d, sizeof(d));
}

/* An encrypted key would make OpenSSL prompt on the terminal; refuse instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static void key_release(struct ly_jwt_key *k)
{
    EVP_PKEY_free(k->pkey);
    if (k->secret != NULL)
        ly_free_secret(k->secret, k->secret_len);
    memset(k, 0, sizeof(*k));
}

static void json_add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

/*
 * Load one key file into *out. signing: it must be a private key (or, for
 * HS256, any secret); otherwise a public PEM also does. pub (may be NULL)
 * receives the JWK members for the JWKS.
 */
static int key_load(enum ly_jwt_alg alg, const char *key, const char *path, bool signing,
                    struct ly_jwt_key *out, struct jwk_pub *pub, char *err, size_t errlen)
{
    struct ly_jwt_key k = {0};
    struct jwk_pub j = {0};
    unsigned char *buf = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    const char *why = NULL;
    mode_t mode = 0;
    int r = LY_E_CONFIG;

    if (path == NULL || path[0] == '\0') {
        snprintf(err, errlen, "%s: no key file given", key);
        goto out;
    }
    if (read_small_file(path, &buf, &len, &mode) != 0) {
        snprintf(err, errlen, "%s: cannot read \"%s\": %s", key, path, strerror(errno));
        goto out;
    }
    /*
     * Whoever can read the signing key can sign tokens, and whoever can write
     * it can choose it. The group bits stay the operator's (0640 root:www-data
     * for mod_fcgid); the other bits must be clear. doc/decisions.md.
     */
    if (signing && (mode & (S_IROTH | S_IWOTH)) != 0) {
        snprintf(err, errlen,
                 "%s: \"%s\" is %s by all users (mode %04o); chmod it to 600, or to 640 for a "
                 "group such as www-data",
                 key, path, exposure(mode), (unsigned)(mode & 07777));
        goto out;
    }
    if (alg == LY_ALG_HS256) {
        size_t slen = len;
        if (slen > 0 && buf[slen - 1] == '\n')
            slen--;
        if (slen > 0 && buf[slen - 1] == '\r')
            slen--;
        if (slen < HS256_MIN_LEN) {
            snprintf(err, errlen, "%s: \"%s\" holds fewer than %d bytes", key, path, HS256_MIN_LEN);
            goto out;
        }
        k.secret = ly_xmalloc(slen);
        memcpy(k.secret, buf, slen);
        k.secret_len = slen;
        hs256_kid(k.secret, k.secret_len, k.kid);
    } else {
        bio = BIO_new_mem_buf(buf, (int)len);
        if (bio == NULL) {
            snprintf(err, errlen, "%s: out of memory reading \"%s\"", key, path);
            goto out;
        }
        k.pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
        if (k.pkey == NULL && !signing) {
            ERR_clear_error();
            (void)BIO_reset(bio);
            k.pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
        }
        ERR_clear_error();
        if (k.pkey == NULL) {
            snprintf(err, errlen, "%s: \"%s\" is not an unencrypted PEM %s key", key, path,
                     signing ? "private" : "private or public");
            goto out;
        }
        if (jwk_pub_from_pkey(alg, k.pkey, &j, &why) != 0) {
            snprintf(err, errlen, "%s: \"%s\": %s, but the algorithm is %s", key, path, why,
                     ly_jwt_alg_str(alg));
            goto out;
        }
        if (jwk_thumbprint(&j, k.kid) != 0) {
            snprintf(err, errlen, "%s: \"%s\": cannot compute the key id", key, path);
            goto out;
        }
    }
    k.can_sign = signing;
    *out = k;
    memset(&k, 0, sizeof(k));
    if (pub != NULL) {
        *pub = j;
        memset(&j, 0, sizeof(j));
    }
    r = LY_OK;
out:
    BIO_free(bio);
    if (buf != NULL)
        ly_free_secret(buf, KEY_FILE_MAX + 1);
    key_release(&k);
    jwk_pub_release(&j);
    return r;
}

/* One JWKS entry: the public members plus kid, alg and use (RFC 7517 §4). */
static json_object *jwk_entry(const struct jwk_pub *j, const char *kid, enum ly_jwt_alg alg)
{
    json_object *o = json_object_new_object();

    json_add_str(o, "kty", j->kty);
    if (j->crv != NULL)
        json_add_str(o, "crv", j->crv);
    if (j->n != NULL)
        json_add_str(o, "n", j->n);
    if (j->e != NULL)
        json_add_str(o, "e", j->e);
    if (j->x != NULL)
        json_add_str(o, "x", j->x);
    if (j->y != NULL)
        json_add_str(o, "y", j->y);
    json_add_str(o, "kid", kid);
    json_add_str(o, "alg", ly_jwt_alg_str(alg));
    json_add_str(o, "use", "sig");
    return o;
}

int ly_keyset_load(const struct ly_config *cfg, struct ly_keyset **out, char *err, size_t errlen)
{
    struct ly_keyset *ks = NULL;
    json_object *jwks = NULL, *arr = NULL;
    struct jwk_pub pub = {0};
    enum ly_jwt_alg alg = cfg->tokens.jwt.algorithm;
    size_t i, total = 1 + cfg->tokens.jwt.n_previous_key_files;
    int r = LY_E_CONFIG;

    if (errlen > 0)
        err[0] = '\0';
    if (alg != LY_ALG_HS256 && alg != LY_ALG_RS256 && alg != LY_ALG_ES256 && alg != LY_ALG_EDDSA) {
        snprintf(err, errlen, "tokens.jwt.algorithm: unknown algorithm");
        goto out;
    }
    ks = ly_xcalloc(1, sizeof(*ks));
    ks->alg = alg;
    ks->keys = ly_xcalloc(total, sizeof(*ks->keys));
    if (alg != LY_ALG_HS256) {
        jwks = json_object_new_object();
        arr = json_object_new_array();
        json_object_object_add(jwks, "keys", arr);
    }
    for (i = 0; i < total; i++) {
        struct ly_jwt_key k;
        const char *path =
            i == 0 ? cfg->tokens.jwt.key_file : cfg->tokens.jwt.previous_key_files[i - 1];
        const char *key = i == 0 ? "tokens.jwt.key_file" : "tokens.jwt.previous_key_files";

        r = key_load(alg, key, path, i == 0, &k, alg == LY_ALG_HS256 ? NULL : &pub, err, errlen);
        if (r != LY_OK)
            goto out;
        /* the same key listed twice (as current and previous) is kept once */
        if (ly_keyset_find(ks, k.kid, strlen(k.kid)) != NULL) {
            key_release(&k);
            jwk_pub_release(&pub);
            continue;
        }
        if (arr != NULL)
            json_object_array_add(arr, jwk_entry(&pub, k.kid, alg));
        jwk_pub_release(&pub);
        ks->keys[ks->n_keys++] = k;
    }
    if (jwks != NULL)
        ks->jwks = ly_xstrdup(json_object_to_json_string_ext(
            jwks, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    *out = ks;
    ks = NULL;
    r = LY_OK;
out:
    jwk_pub_release(&pub);
    json_object_put(jwks);
    ly_keyset_free(ks);
    return r;
}

void ly_keyset_free(struct ly_keyset *ks)
{
    size_t i;

    if (ks == NULL)
        return;
    for (i = 0; i < ks->n_keys; i++)
        key_release(&ks->keys[i]);
    free(ks->keys);
    free(ks->jwks);
    free(ks);
}

const char *ly_keyset_current_kid(const struct ly_keyset *ks)
{
    return ks->keys[0].kid;
}

const char *ly_keyset_jwks(const struct ly_keyset *ks)
{
    return ks->jwks;
}

const struct ly_jwt_key *ly_keyset_find(const struct ly_keyset *ks, const char *kid, size_t n)
{
    size_t i;

    for (i = 0; i < ks->n_keys; i++)
        if (strlen(ks->keys[i].kid) == n && memcmp(ks->keys[i].kid, kid, n) == 0)
            return &ks->keys[i];
    return NULL;
}

/* Write all n bytes to a new file path, 0600, never replacing one. */
static int write_new_file(const char *path, const void *p, size_t n, char *err, size_t errlen)
{
    const unsigned char *b = p;
    size_t done = 0;
    int fd, r = LY_E_IO;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create \"%s\": %s", path, strerror(errno));
        return LY_E_IO;
    }
    while (done < n) {
        ssize_t w = write(fd, b + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "cannot write \"%s\": %s", path, strerror(errno));
            goto out;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write \"%s\": %s", path, strerror(errno));
        goto out;
    }
    r = LY_OK;
out:
    if (close(fd) != 0 && r == LY_OK) {
        snprintf(err, errlen, "cannot write \"%s\": %s", path, strerror(errno));
        r = LY_E_IO;
    }
    if (r != LY_OK)
        unlink(path);
    return r;
}

int ly_key_generate(enum ly_jwt_alg alg, const char *path, char *err, size_t errlen)
{
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    char *pem = NULL;
    long pemlen;
    unsigned char raw[HS256_GEN_LEN];
    char text[(HS256_GEN_LEN + 2) / 3 * 4 + 2];
    size_t n;
    int r = LY_E_CRYPTO;

    if (errlen > 0)
        err[0] = '\0';
    if (alg == LY_ALG_HS256) {
        ly_rand_bytes(raw, sizeof(raw));
        n = ly_base64_encode(raw, sizeof(raw), text);
        text[n++] = '\n';
        r = write_new_file(path, text, n, err, errlen);
        goto out;
    }
    switch (alg) {
    case LY_ALG_RS256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)RSA_GEN_BITS);
        break;
    case LY_ALG_ES256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case LY_ALG_EDDSA:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    default:
        snprintf(err, errlen, "unknown algorithm");
        goto out;
    }
    if (pkey == NULL) {
        snprintf(err, errlen, "cannot generate a %s key", ly_jwt_alg_str(alg));
        goto out;
    }
    /* OpenSSL 3 writes "BEGIN PRIVATE KEY": unencrypted PKCS#8 */
    bio = BIO_new(BIO_s_secmem());
    if (bio == NULL || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
        snprintf(err, errlen, "cannot encode the %s key", ly_jwt_alg_str(alg));
        goto out;
    }
    pemlen = BIO_get_mem_data(bio, &pem);
    if (pemlen <= 0) {
        snprintf(err, errlen, "cannot encode the %s key", ly_jwt_alg_str(alg));
        goto out;
    }
    r = write_new_file(path, pem, (size_t)pemlen, err, errlen);
out:
    ERR_clear_error();
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(text, sizeof(text));
    return r;
}
