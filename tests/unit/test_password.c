#include "build-config.h"
#include "banned.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "check.h"
#include "lanyard/err.h"
#include "lanyard/password.h"

/* Small N keeps the suite fast; the format and the code path are the same. */
static const struct ly_scrypt_params fast = {1024, 8, 1};

#define PW "correct horse battery staple"

/* RFC 7914 §12, third vector: "pleaseletmein", "SodiumChloride", N=16384, r=8, p=1, dkLen=64 */
#define RFC7914_PHC                                                                                \
    "$scrypt$ln=14,r=8,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046/"                             \
    "2o+7qQT44+qbVD9lRdofLVQylVYT8"                                                                \
    "Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw"

static void test_round_trip(void **state)
{
    char phc[LY_PHC_MAX_LEN], phc2[LY_PHC_MAX_LEN];
    struct ly_scrypt_params got = {0};
    const char *salt, *hash;
    (void)state;

    assert_int_equal(ly_password_hash(&fast, PW, strlen(PW), phc), LY_OK);
    assert_int_equal(strncmp(phc, "$scrypt$ln=10,r=8,p=1$", 22), 0);
    salt = phc + 22;
    hash = strchr(salt, '$');
    assert_non_null(hash);
    assert_int_equal(hash - salt, 22);      /* 16 bytes, unpadded */
    assert_int_equal(strlen(hash + 1), 43); /* 32 bytes, unpadded */
    assert_null(strchr(salt, '='));         /* PHC: unpadded */

    assert_true(ly_password_verify(&fast, phc, PW, strlen(PW)));
    assert_false(ly_password_verify(&fast, phc, "correct horse battery stapl", strlen(PW) - 1));
    assert_false(ly_password_verify(&fast, phc, "Correct horse battery staple", strlen(PW)));
    assert_false(ly_password_verify(&fast, phc, "", 0));

    assert_int_equal(ly_password_parse_params(phc, &got), 0);
    assert_true(got.n == 1024 && got.r == 8 && got.p == 1);

    /* a fresh salt each time */
    assert_int_equal(ly_password_hash(&fast, PW, strlen(PW), phc2), LY_OK);
    assert_string_not_equal(phc, phc2);
    assert_true(ly_password_verify(&fast, phc2, PW, strlen(PW)));
}

static void test_empty_and_binary_password(void **state)
{
    char phc[LY_PHC_MAX_LEN];
    (void)state;

    assert_int_equal(ly_password_hash(&fast, "", 0, phc), LY_OK);
    assert_true(ly_password_verify(&fast, phc, "", 0));
    assert_false(ly_password_verify(&fast, phc, "x", 1));
    /* the length counts, not the NUL */
    assert_int_equal(ly_password_hash(&fast, "a\0b", 3, phc), LY_OK);
    assert_true(ly_password_verify(&fast, phc, "a\0b", 3));
    assert_false(ly_password_verify(&fast, phc, "a", 1));
}

static void test_rfc7914_vector(void **state)
{
    static const unsigned char want[64] = {
        0x70, 0x23, 0xbd, 0xcb, 0x3a, 0xfd, 0x73, 0x48, 0x46, 0x1c, 0x06, 0xcd, 0x81,
        0xfd, 0x38, 0xeb, 0xfd, 0xa8, 0xfb, 0xba, 0x90, 0x4f, 0x8e, 0x3e, 0xa9, 0xb5,
        0x43, 0xf6, 0x54, 0x5d, 0xa1, 0xf2, 0xd5, 0x43, 0x29, 0x55, 0x61, 0x3f, 0x0f,
        0xcf, 0x62, 0xd4, 0x97, 0x05, 0x24, 0x2a, 0x9a, 0xf9, 0xe6, 0x1e, 0x85, 0xdc,
        0x0d, 0x65, 0x1e, 0x40, 0xdf, 0xcf, 0x01, 0x7b, 0x45, 0x57, 0x58, 0x87,
    };
    unsigned char got[64];
    char pass[] = "pleaseletmein", salt[] = "SodiumChloride";
    uint64_t n = 16384;
    uint32_t r = 8, p = 1;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM params[] = {
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_PASSWORD, pass, 13),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SALT, salt, 14),
        OSSL_PARAM_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
        OSSL_PARAM_END,
    };
    (void)state;

    /* the KDF itself, then the same vector through the PHC path */
    assert_non_null(ctx);
    assert_int_equal(EVP_KDF_derive(ctx, got, sizeof(got), params), 1);
    assert_memory_equal(got, want, sizeof(want));
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);

    assert_true(ly_password_verify(&fast, RFC7914_PHC, "pleaseletmein", 13));
    assert_false(ly_password_verify(&fast, RFC7914_PHC, "pleaseletmeio", 13));
}

/* SPEC §2 defaults: N=32768, r=8 needs 32 MiB, more than a careless maxmem would allow */
static void test_spec_defaults(void **state)
{
    static const struct ly_scrypt_params spec = {32768, 8, 1};
    char phc[LY_PHC_MAX_LEN];
    (void)state;

    assert_int_equal(ly_password_hash(&spec, PW, strlen(PW), phc), LY_OK);
    assert_int_equal(strncmp(phc, "$scrypt$ln=15,r=8,p=1$", 22), 0);
    assert_true(ly_password_verify(&fast, phc, PW, strlen(PW)));
    assert_false(ly_password_verify(&spec, NULL, PW, strlen(PW)));
}

static void test_null_phc_is_false(void **state)
{
    (void)state;
    assert_false(ly_password_verify(&fast, NULL, PW, strlen(PW)));
    assert_false(ly_password_verify(&fast, NULL, "", 0));
}

static void test_too_long(void **state)
{
    static char big[LY_PASSWORD_MAX_LEN + 2];
    char phc[LY_PHC_MAX_LEN] = "untouched";
    (void)state;

    memset(big, 'a', sizeof(big) - 1);
    assert_int_not_equal(ly_password_hash(&fast, big, LY_PASSWORD_MAX_LEN + 1, phc), LY_OK);
    assert_string_equal(phc, "untouched");
    assert_int_equal(ly_password_hash(&fast, big, LY_PASSWORD_MAX_LEN, phc), LY_OK);
    assert_true(ly_password_verify(&fast, phc, big, LY_PASSWORD_MAX_LEN));
    assert_false(ly_password_verify(&fast, phc, big, LY_PASSWORD_MAX_LEN + 1));
}

static void test_bad_params(void **state)
{
    static const struct ly_scrypt_params bad[] = {
        {0, 8, 1}, {1, 8, 1}, {1000, 8, 1}, {1024, 0, 1}, {1024, 8, 0},
    };
    char phc[LY_PHC_MAX_LEN] = "untouched";
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_not_equal(ly_password_hash(&bad[i], PW, strlen(PW), phc), LY_OK);
        assert_string_equal(phc, "untouched");
    }
}

struct bad_phc {
    const char *desc;
    const char *phc;
};

#define SALT "c2FsdHNhbHRzYWx0c2FsdA"                      /* "saltsaltsaltsalt" */
#define HASH "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg" /* 32 x 'x' */

static const struct bad_phc bad_phcs[] = {
    {"empty", ""},
    {"other algorithm", "$argon2id$v=19$m=65536,t=3,p=4$" SALT "$" HASH},
    {"no params", "$scrypt$" SALT "$" HASH},
    {"ln missing", "$scrypt$r=8,p=1$" SALT "$" HASH},
    {"params out of order", "$scrypt$r=8,ln=10,p=1$" SALT "$" HASH},
    {"extra param", "$scrypt$ln=10,r=8,p=1,x=1$" SALT "$" HASH},
    {"ln 0", "$scrypt$ln=0,r=8,p=1$" SALT "$" HASH},
    {"ln leading zero", "$scrypt$ln=010,r=8,p=1$" SALT "$" HASH},
    {"ln too large", "$scrypt$ln=40,r=8,p=1$" SALT "$" HASH},
    {"ln huge", "$scrypt$ln=99999999999999999999999,r=8,p=1$" SALT "$" HASH},
    {"r 0", "$scrypt$ln=10,r=0,p=1$" SALT "$" HASH},
    {"p 0", "$scrypt$ln=10,r=8,p=0$" SALT "$" HASH},
    {"negative r", "$scrypt$ln=10,r=-8,p=1$" SALT "$" HASH},
    {"memory over the cap", "$scrypt$ln=24,r=64,p=1$" SALT "$" HASH},
    {"no hash", "$scrypt$ln=10,r=8,p=1$" SALT},
    {"empty hash", "$scrypt$ln=10,r=8,p=1$" SALT "$"},
    {"padded salt", "$scrypt$ln=10,r=8,p=1$" SALT "==$" HASH},
    {"padded hash", "$scrypt$ln=10,r=8,p=1$" SALT "$" HASH "="},
    {"url alphabet", "$scrypt$ln=10,r=8,p=1$" SALT "$" HASH "_"},
    {"bad char", "$scrypt$ln=10,r=8,p=1$" SALT "$"
                 "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eH!"},
    {"non-canonical tail", "$scrypt$ln=10,r=8,p=1$" SALT "$"
                           "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh"},
    {"short salt", "$scrypt$ln=10,r=8,p=1$c2FsdA$" HASH},
    {"short hash", "$scrypt$ln=10,r=8,p=1$" SALT "$eHh4eA"},
    {"trailing field", "$scrypt$ln=10,r=8,p=1$" SALT "$" HASH "$x"},
    {"space", "$scrypt$ln=10, r=8,p=1$" SALT "$" HASH},
};

static void test_malformed_phc(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(bad_phcs) / sizeof(bad_phcs[0]); i++) {
        struct ly_scrypt_params got = {77, 77, 77};
        CHECK(bad_phcs[i].desc, !ly_password_verify(&fast, bad_phcs[i].phc, "x", 1));
        CHECK(bad_phcs[i].desc, ly_password_parse_params(bad_phcs[i].phc, &got) == -1);
        CHECK(bad_phcs[i].desc, got.n == 77 && got.r == 77 && got.p == 77);
    }
    /* the same fields well formed parse (the table above differs by one thing each) */
    {
        struct ly_scrypt_params got;
        assert_int_equal(ly_password_parse_params("$scrypt$ln=10,r=8,p=1$" SALT "$" HASH, &got), 0);
        assert_true(got.n == 1024 && got.r == 8 && got.p == 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),        cmocka_unit_test(test_empty_and_binary_password),
        cmocka_unit_test(test_rfc7914_vector),    cmocka_unit_test(test_spec_defaults),
        cmocka_unit_test(test_null_phc_is_false), cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_bad_params),        cmocka_unit_test(test_malformed_phc),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
