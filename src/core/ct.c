#include "build-config.h"
#include "banned.h"

#include "lanyard/ct.h"

#include <openssl/crypto.h>

bool ly_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}
