/*
 * seal: AES-256-GCM (NIST SP 800-38D) over the few secrets Lanyard must
 * read back, under the key of security.secrets_key_file.
 *
 * A random 96-bit nonce per seal: with one key sealing a handful of client
 * secrets, the 2^32 seals SP 800-38D §8.3 allows under random nonces are
 * far away. The additional data binds a sealed value to its row.
 */
#include "build-config.h"
#include "banned.h"
#include "lanyard/seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "lanyard/codec.h"
#include "lanyard/config.h"
#include "lanyard/err.h"
#include "lanyard/mem.h"
#include "lanyard/rand.h"

#define PREFIX      "v1."
#define PREFIX_LEN  3
#define NONCE_LEN   12
#define TAG_LEN     16
#define SEAL_MAX    65536 /* a client secret is tens of bytes; bounds the work on a forged value */
#define KEYFILE_MAX 128   /* 32 bytes, or their base64 and a newline */
#define B64_LEN     44    /* padded base64 of 32 bytes */

/* ---- the key file ----------------------------------------------------------------- */

/*
 * The base64 of 32 bytes in any of the four spellings (standard or
 * url-safe alphabet, padded or not) into out. 0 / -1.
 */
static int key_from_base64(const char *s, size_t len, unsigned char out[LY_SEAL_KEY_LEN])
{
    char std[B64_LEN];
    size_t i, got = 0;
    int r = -1;

    if (len == B64_LEN - 1 || len == B64_LEN) {
        for (i = 0; i < len; i++)
            std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
        if (len == B64_LEN - 1)
            std[len] = '=';
        r = ly_base64_decode(std, B64_LEN, out, LY_SEAL_KEY_LEN, &got) == 0 &&
                    got == LY_SEAL_KEY_LEN
                ? 0
                : -1;
    }
    OPENSSL_cleanse(std, sizeof(std));
    return r;
}

int ly_seal_key_load(const char *path, struct ly_seal_key *out, char *err, size_t errlen)
{
    struct ly_seal_key k;
    char *buf = NULL, why[128];
    const char *who;
    size_t len = 0, tlen;
    mode_t mode = 0;
    int r = LY_E_CONFIG;

    if (path == NULL || path[0] == '\0') {
        snprintf(err, errlen, "security.secrets_key_file: no key file given");
        return LY_E_CONFIG;
    }
    if (ly_config_read_secret(path, KEYFILE_MAX, &buf, &len, &mode, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "security.secrets_key_file: cannot read \"%s\": %s", path, why);
        return LY_E_CONFIG;
    }
    /*
     * Whoever reads this key reads every sealed secret, and whoever writes it
     * chooses it. The rule of the JWT signing key (doc/decisions.md): the
     * other bits must be clear; the group stays the operator's, because
     * under mod_fcgid the workers run as www-data (0640 root:www-data).
     */
    who = ly_config_file_exposure(mode);
    if (who != NULL) {
        snprintf(err, errlen,
                 "security.secrets_key_file: \"%s\" is %s by all users (mode %04o); chmod it to "
                 "600, or to 640 for a group such as www-data",
                 path, who, (unsigned)(mode & 07777));
        goto out;
    }
    /* 32 raw bytes are taken as they are, newline bytes included: no base64 is 32 long */
    if (len == LY_SEAL_KEY_LEN) {
        memcpy(k.k, buf, LY_SEAL_KEY_LEN);
    } else {
        tlen = len;
        if (tlen > 0 && buf[tlen - 1] == '\n')
            tlen--;
        if (tlen > 0 && buf[tlen - 1] == '\r')
            tlen--;
        if (key_from_base64(buf, tlen, k.k) != 0) {
            snprintf(err, errlen,
                     "security.secrets_key_file: \"%s\" holds neither 32 bytes nor their base64 "
                     "(make one with: head -c 32 /dev/urandom | base64)",
                     path);
            goto out;
        }
    }
    *out = k;
    r = LY_OK;
out:
    OPENSSL_cleanse(&k, sizeof(k));
    ly_free_secret(buf, len + 1);
    return r;
}

void ly_seal_key_wipe(struct ly_seal_key *k)
{
    if (k != NULL)
        OPENSSL_cleanse(k->k, sizeof(k->k));
}

/* ---- seal and open ---------------------------------------------------------------- */

/*
 * One AES-256-GCM pass: encrypt (enc 1) n bytes of in into out, writing the
 * tag, or decrypt (enc 0) and check the tag. 0 / -1.
 */
static int gcm(int enc, const struct ly_seal_key *key, const unsigned char nonce[NONCE_LEN],
               const char *aad, const unsigned char *in, size_t n, unsigned char *out,
               unsigned char tag[TAG_LEN])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    size_t aadlen = aad != NULL ? strlen(aad) : 0;
    int len = 0, r = -1;

    if (ctx == NULL || n > SEAL_MAX || aadlen > SEAL_MAX ||
        EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key->k, nonce, enc) != 1)
        goto out;
    if (aadlen > 0 &&
        EVP_CipherUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)aadlen) != 1)
        goto out;
    if (n > 0 && EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
        goto out;
    /* decrypting, this is where a wrong key, aad or any flipped bit fails */
    if (EVP_CipherFinal_ex(ctx, out + len, &len) != 1)
        goto out;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
        goto out;
    r = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    return r;
}

int ly_seal(const struct ly_seal_key *key, const char *aad, const void *plain, size_t n,
            struct ly_arena *a, char **out)
{
    unsigned char *raw = NULL;
    size_t rawlen = NONCE_LEN + n + TAG_LEN;
    char *text;
    int r = LY_E_CRYPTO;

    if (key == NULL || (plain == NULL && n > 0) || n > SEAL_MAX)
        return LY_E_CRYPTO;
    raw = ly_xmalloc(rawlen);
    ly_rand_bytes(raw, NONCE_LEN);
    if (gcm(1, key, raw, aad, plain, n, raw + NONCE_LEN, raw + NONCE_LEN + n) != 0)
        goto out;
    text = ly_arena_alloc(a, PREFIX_LEN + ly_base64url_encoded_len(rawlen) + 1);
    memcpy(text, PREFIX, PREFIX_LEN);
    ly_base64url_encode(raw, rawlen, text + PREFIX_LEN);
    *out = text;
    r = LY_OK;
out:
    free(raw);
    return r;
}

int ly_seal_open(const struct ly_seal_key *key, const char *aad, const char *sealed,
                 struct ly_arena *a, char **out, size_t *outlen)
{
    unsigned char *raw = NULL;
    char *plain = NULL;
    size_t len, max, rawlen = 0, n;
    int r = LY_E_CRYPTO;

    if (key == NULL || sealed == NULL || strncmp(sealed, PREFIX, PREFIX_LEN) != 0)
        return LY_E_CRYPTO;
    len = strlen(sealed + PREFIX_LEN);
    max = len / 4 * 3 + 3;
    if (max > NONCE_LEN + SEAL_MAX + TAG_LEN + 3)
        return LY_E_CRYPTO;
    raw = ly_xmalloc(max);
    if (ly_base64url_decode(sealed + PREFIX_LEN, len, raw, max, &rawlen) != 0 ||
        rawlen < NONCE_LEN + TAG_LEN)
        goto out;
    n = rawlen - NONCE_LEN - TAG_LEN;
    plain = ly_arena_alloc(a, n + 1);
    if (gcm(0, key, raw, aad, raw + NONCE_LEN, n, (unsigned char *)plain, raw + NONCE_LEN + n) !=
        0) {
        /* what was decrypted before the tag failed is not to be seen */
        OPENSSL_cleanse(plain, n + 1);
        goto out;
    }
    plain[n] = '\0';
    *out = plain;
    *outlen = n;
    r = LY_OK;
out:
    free(raw);
    return r;
}
