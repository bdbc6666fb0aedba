#include "build-config.h"
#include "banned.h"

#include "lanyard/rand.h"

#include <pthread.h>
#include <stdbool.h>
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

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

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
    ly_rand_from_alphabet(out, n, base62);
}

/*
 * Bytes for ly_rand_base62_public, drawn from RAND_bytes 512 at a time: one
 * RAND_bytes per about 20 request ids instead of one each (issue 17). A
 * forked child (the --listen parent forks its workers) must not hand out
 * what its parent or a sibling also holds, so the child empties its copy at
 * fork. Nothing secret is ever made from these bytes.
 */
static unsigned char pub_buf[512];
static size_t pub_pos = sizeof(pub_buf);
static bool pub_atfork;

static void pub_forget(void)
{
    OPENSSL_cleanse(pub_buf, sizeof(pub_buf));
    pub_pos = sizeof(pub_buf);
}

void ly_rand_base62_public(char *out, size_t n)
{
    /* 248 = 4 * 62: bytes at or above it are rejected, so no modulo bias. */
    const unsigned limit = 256 - (256 % 62);
    if (!pub_atfork) {
        if (pthread_atfork(NULL, NULL, pub_forget) != 0) {
            fprintf(stderr, "lanyard: pthread_atfork failed\n");
            abort();
        }
        pub_atfork = true;
    }
    for (size_t i = 0; i < n;) {
        if (pub_pos == sizeof(pub_buf)) {
            ly_rand_bytes(pub_buf, sizeof(pub_buf));
            pub_pos = 0;
        }
        unsigned char b = pub_buf[pub_pos++];
        if (b < limit)
            out[i++] = base62[b % 62];
    }
    out[n] = '\0';
}
