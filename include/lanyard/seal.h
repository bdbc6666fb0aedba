/*
 * seal: authenticated encryption of the few secrets Lanyard must read back
 * (an organization's SSO client secret), with AES-256-GCM under the 32-byte
 * key of security.secrets_key_file.
 *
 * A sealed value is text: "v1." + base64url(nonce[12] || ciphertext || tag[16]),
 * so it fits a VARCHAR column. The additional data binds it to its row (the
 * organization's id), so a sealed secret copied to another row does not open.
 */
#ifndef LY_SEAL_H
#define LY_SEAL_H

#include <stddef.h>

#include "lanyard/arena.h"

#define LY_SEAL_KEY_LEN 32

struct ly_seal_key {
    unsigned char k[LY_SEAL_KEY_LEN];
};

/*
 * Load the key file: exactly 32 raw bytes, or their base64 (standard or
 * url-safe, with or without padding, one trailing newline allowed). The file
 * must not be readable or writable by all users (mode & 0006); the group is
 * the operator's, as for the JWT signing key (doc/decisions.md: 0640
 * root:www-data under mod_fcgid). LY_OK, or LY_E_CONFIG with a one-line
 * message naming the file (never its contents).
 */
int ly_seal_key_load(const char *path, struct ly_seal_key *out, char *err, size_t errlen);
void ly_seal_key_wipe(struct ly_seal_key *k);

/* Seal n bytes of plain under key, bound to aad. *out in a. LY_OK or LY_E_CRYPTO. */
int ly_seal(const struct ly_seal_key *key, const char *aad, const void *plain, size_t n,
            struct ly_arena *a, char **out);

/*
 * Open a sealed text. LY_OK and *out (NUL-terminated, in a; *outlen its
 * length), or LY_E_CRYPTO when it is malformed, was sealed under another
 * key, or bound to another aad. Outputs untouched on failure.
 */
int ly_seal_open(const struct ly_seal_key *key, const char *aad, const char *sealed,
                 struct ly_arena *a, char **out, size_t *outlen);

#endif
