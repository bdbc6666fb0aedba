#include "build-config.h"
#include "banned.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "lanyard/codec.h"

/* In table loops: a failure names the case it came from. */

/* RFC 4648 §10 test vectors, plus binary cases that use every alphabet position. */
struct enc_case {
    const char *desc;
    const char *in;
    size_t inlen;
    const char *b64;
    const char *b64url;
    const char *b32;
};

static const struct enc_case enc_cases[] = {
    {"empty", "", 0, "", "", ""},
    {"f", "f", 1, "Zg==", "Zg", "MY"},
    {"fo", "fo", 2, "Zm8=", "Zm8", "MZXQ"},
    {"foo", "foo", 3, "Zm9v", "Zm9v", "MZXW6"},
    {"foob", "foob", 4, "Zm9vYg==", "Zm9vYg", "MZXW6YQ"},
    {"fooba", "fooba", 5, "Zm9vYmE=", "Zm9vYmE", "MZXW6YTB"},
    {"foobar", "foobar", 6, "Zm9vYmFy", "Zm9vYmFy", "MZXW6YTBOI"},
    {"62/63 positions", "\xfb\xff\xbf", 3, "+/+/", "-_-_", "7P736"},
    {"zero bytes", "\0\0\0\0", 4, "AAAAAA==", "AAAAAA", "AAAAAAA"},
    {"high bytes", "\xff\xfe\xfd", 3, "//79", "__79", "777P2"},
};

static void test_encode(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(enc_cases) / sizeof(enc_cases[0]); i++) {
        const struct enc_case *c = &enc_cases[i];
        char out[64];
        unsigned char dec[64];
        size_t n, declen = 999;

        CHECK(c->desc, ly_base64_encoded_len(c->inlen) == strlen(c->b64));
        n = ly_base64_encode(c->in, c->inlen, out);
        CHECK(c->desc, n == strlen(c->b64) && strcmp(out, c->b64) == 0);

        CHECK(c->desc, ly_base64url_encoded_len(c->inlen) == strlen(c->b64url));
        n = ly_base64url_encode(c->in, c->inlen, out);
        CHECK(c->desc, n == strlen(c->b64url) && strcmp(out, c->b64url) == 0);

        n = ly_base32_encode(c->in, c->inlen, out);
        CHECK(c->desc, n == strlen(c->b32) && strcmp(out, c->b32) == 0);
        CHECK(c->desc, ly_base32_is_alphabet(out, n));

        CHECK(c->desc, ly_base64_decode(c->b64, strlen(c->b64), dec, sizeof(dec), &declen) == 0);
        CHECK(c->desc, declen == c->inlen && memcmp(dec, c->in, c->inlen) == 0);
        declen = 999;
        CHECK(c->desc,
              ly_base64url_decode(c->b64url, strlen(c->b64url), dec, sizeof(dec), &declen) == 0);
        CHECK(c->desc, declen == c->inlen && memcmp(dec, c->in, c->inlen) == 0);
    }
}

struct bad_case {
    const char *desc;
    const char *in;
};

/* Each of these must be refused: one value, one spelling (RFC 4648 §3.5, RFC 7515 §2). */
static const struct bad_case bad_b64[] = {
    {"missing padding", "Zg"},
    {"one pad only", "Zg="},
    {"three pads", "Z==="},
    {"all pads", "===="},
    {"pad in the middle", "Zg==Zm8="},
    {"non-zero trailing bits (1 byte)", "Zh=="},
    {"non-zero trailing bits (2 bytes)", "Zm9="},
    {"url alphabet '-'", "-_-_"},
    {"space", "Zm9 v"},
    {"newline", "Zm9v\nZm9v"},
    {"length not a multiple of 4", "Zm9vY"},
    {"NUL inside", "Zm\0v"},
    {"high byte", "Zm9\xc3"},
};

static const struct bad_case bad_b64url[] = {
    {"padding", "Zg=="},
    {"single pad", "Zm8="},
    {"'+'", "+/+/"},
    {"'/'", "ab/c"},
    {"one leftover char", "Zm9vY"},
    {"non-zero trailing bits (1 byte)", "Zh"},
    {"non-zero trailing bits (2 bytes)", "Zm9"},
    {"space", "Zm 9v"},
    {"dot", "Zm.v"},
};

static void test_decode_rejects(void **state)
{
    size_t i;
    unsigned char out[64];
    size_t outlen = 12345;
    (void)state;

    for (i = 0; i < sizeof(bad_b64) / sizeof(bad_b64[0]); i++) {
        /* NUL-containing cases: use the literal's full length */
        size_t len = strlen(bad_b64[i].in);
        if (strcmp(bad_b64[i].desc, "NUL inside") == 0)
            len = 4;
        CHECK(bad_b64[i].desc,
              ly_base64_decode(bad_b64[i].in, len, out, sizeof(out), &outlen) == -1);
        CHECK(bad_b64[i].desc, outlen == 12345);
    }
    for (i = 0; i < sizeof(bad_b64url) / sizeof(bad_b64url[0]); i++) {
        CHECK(bad_b64url[i].desc, ly_base64url_decode(bad_b64url[i].in, strlen(bad_b64url[i].in),
                                                      out, sizeof(out), &outlen) == -1);
        CHECK(bad_b64url[i].desc, outlen == 12345);
    }
}

static void test_decode_bounds(void **state)
{
    unsigned char out[8];
    size_t outlen = 0;
    (void)state;

    /* "foobar" needs 6 bytes */
    assert_int_equal(ly_base64_decode("Zm9vYmFy", 8, out, 5, &outlen), -1);
    assert_int_equal(ly_base64url_decode("Zm9vYmFy", 8, out, 5, &outlen), -1);
    assert_int_equal(ly_base64_decode("Zm9vYmFy", 8, out, 6, &outlen), 0);
    assert_int_equal(outlen, 6);
    /* only len bytes are read: the rest of the buffer may be junk */
    assert_int_equal(ly_base64url_decode("Zm9vYmFy!!!!", 8, out, 6, &outlen), 0);
    assert_memory_equal(out, "foobar", 6);
    assert_int_equal(ly_base64_decode("Zm9v====", 4, out, 3, &outlen), 0);
    assert_int_equal(outlen, 3);
}

/* Every length from 0 to 64 bytes round-trips through both alphabets. */
static void test_round_trip(void **state)
{
    unsigned char in[64], out[64];
    char text[100];
    size_t n, i, outlen;
    (void)state;

    for (i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (n = 0; n <= sizeof(in); n++) {
        size_t tl = ly_base64_encode(in, n, text);
        assert_int_equal(ly_base64_decode(text, tl, out, sizeof(out), &outlen), 0);
        assert_int_equal(outlen, n);
        assert_memory_equal(out, in, n);
        tl = ly_base64url_encode(in, n, text);
        assert_int_equal(ly_base64url_decode(text, tl, out, sizeof(out), &outlen), 0);
        assert_int_equal(outlen, n);
        assert_memory_equal(out, in, n);
    }
}

struct b62_case {
    const char *desc;
    uint32_t value;
    size_t width;
    const char *want;
};

static const struct b62_case b62_cases[] = {
    {"zero", 0, 6, "000000"},
    {"nine", 9, 6, "000009"},
    {"ten is A", 10, 6, "00000A"},
    {"35 is Z", 35, 6, "00000Z"},
    {"36 is a", 36, 6, "00000a"},
    {"61 is z", 61, 6, "00000z"},
    {"62 carries", 62, 6, "000010"},
    {"UINT32_MAX", UINT32_MAX, 6, "4gfFC3"},
    {"check value of 123456789", 0xCBF43926u, 6, "3jZRME"},
    {"width 1", 61, 1, "z"},
};

static void test_base62(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(b62_cases) / sizeof(b62_cases[0]); i++) {
        char out[16];
        ly_base62_encode_u32(b62_cases[i].value, out, b62_cases[i].width);
        CHECK(b62_cases[i].desc, strcmp(out, b62_cases[i].want) == 0);
        CHECK(b62_cases[i].desc, ly_base62_is_alphabet(out, strlen(out)));
    }
    assert_true(ly_base62_is_alphabet("09AZaz", 6));
    assert_false(ly_base62_is_alphabet("ab-c", 4));
    assert_false(ly_base62_is_alphabet("ab_c", 4));
    assert_false(ly_base62_is_alphabet("ab\0c", 4));
    assert_true(ly_base62_is_alphabet("", 0));
}

static void test_base32_alphabet(void **state)
{
    (void)state;
    assert_true(ly_base32_is_alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 32));
    assert_false(ly_base32_is_alphabet("QWJ3MXZT5RBN2AK1", 16)); /* '1' */
    assert_false(ly_base32_is_alphabet("QWJ3MXZT5RBN2AK8", 16)); /* '8' */
    assert_false(ly_base32_is_alphabet("qwj3", 4));              /* lower case */
    assert_false(ly_base32_is_alphabet("QWJ=", 4));
}

struct crc_case {
    const char *desc;
    const char *in;
    uint32_t want;
};

static const struct crc_case crc_cases[] = {
    {"CRC-32/ISO-HDLC check value", "123456789", 0xCBF43926u},
    {"empty", "", 0x00000000u},
    {"a", "a", 0xE8B7BE43u},
    {"quick brown fox", "The quick brown fox jumps over the lazy dog", 0x414FA339u},
};

static void test_crc32(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(crc_cases) / sizeof(crc_cases[0]); i++) {
        CHECK(crc_cases[i].desc,
              ly_crc32(crc_cases[i].in, strlen(crc_cases[i].in)) == crc_cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_decode_bounds), cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_base62),        cmocka_unit_test(test_base32_alphabet),
        cmocka_unit_test(test_crc32),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
