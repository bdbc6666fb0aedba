/*
 * password: scrypt (OpenSSL EVP_KDF "SCRYPT") stored as PHC strings
 * "$scrypt$ln=15,r=8,p=1$<salt b64>$<hash b64>" (unpadded standard base64).
 */
#ifndef LY_PASSWORD_H
#define LY_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LY_PASSWORD_MAX_LEN 1024 /* bytes; longer passwords are refused before hashing */
#define LY_PHC_MAX_LEN      256

struct ly_scrypt_params {
    uint64_t n; /* a power of two >= 2 */
    unsigned r;
    unsigned p;
};

/*
 * Hash pw with a fresh 16-byte salt. Writes a NUL-terminated PHC string into
 * out (LY_PHC_MAX_LEN bytes). Returns LY_OK or LY_E_CRYPTO (out untouched).
 */
int ly_password_hash(const struct ly_scrypt_params *params, const char *pw, size_t pwlen,
                     char out[LY_PHC_MAX_LEN]);

/*
 * true if pw matches the PHC string phc (constant-time comparison of the
 * derived key). A malformed phc is false. phc NULL means "no such user": the
 * same work is done against a dummy hash with params, and false is returned,
 * so that an unknown e-mail costs what a wrong password costs.
 */
bool ly_password_verify(const struct ly_scrypt_params *params, const char *phc, const char *pw,
                        size_t pwlen) __attribute__((warn_unused_result));

/* Parse the parameters of a PHC string (for tests and rehash decisions). 0 / -1. */
int ly_password_parse_params(const char *phc, struct ly_scrypt_params *out);

/*
 * NULL if pw is an acceptable new password: UTF-8 text without control
 * characters, at least min_chars characters, at most LY_PASSWORD_MAX_LEN
 * bytes. Otherwise a message for the client (without the password).
 */
const char *ly_password_problem(const char *pw, size_t min_chars);

#endif
