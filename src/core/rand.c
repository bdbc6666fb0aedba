#include "build-config.h"
#include "banned.h"

#include "lanyard/rand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

void ly_rand_bytes(void *buf, size_t n)
{
    if (n > 0 && RAND_bytes(buf, (int)n) != 1) {
        fprintf(stderr, "lanyard: the CSPRNG failed\n");
        abort();
    }
}

void ly_rand_from_alphabet(char *out, size_t n, const char *alphabet)
{
    size_t k = strlen(alphabet);
    /* Reject bytes at or above the largest multiple of k: no modulo bias. */
    unsigned limit = 256 - (256 % (unsigned)k);
    unsigned char buf[64];
    size_t have = 0, pos = 0;
    for (size_t i = 0; i < n;) {
        if (pos == have) {
            ly_rand_bytes(buf, sizeof(buf));
            have = sizeof(buf);
            pos = 0;
        }
        unsigned char b = buf[pos++];
        if (b < limit)
            out[i++] = alphabet[b % k];
    }
    out[n] = '\0';
    OPENSSL_cleanse(buf, sizeof(buf));
}

void ly_rand_base32_lower(char *out, size_t n)
{
    ly_rand_from_alphabet(out, n, "abcdefghijklmnopqrstuvwxyz234567");
}

void ly_rand_base32_upper(char *out, size_t n)
{
    ly_rand_from_alphabet(out, n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
}

void ly_rand_base62(char *out, size_t n)
{
    ly_rand_from_alphabet(out, n, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
}
