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
#include "lanyard/str.h"
#include "lanyard/token.h"

static struct ly_str view(const char *s)
{
    return (struct ly_str){s, strlen(s)};
}

/*
 * The SPEC §4 checksum, written again here without the code under test:
 * CRC-32/ISO-HDLC bit by bit (reflected polynomial 0xEDB88320, initial value
 * and final XOR 0xFFFFFFFF, as zlib's crc32), then base62 with the alphabet
 * 0-9A-Za-z, most significant digit first, left-padded with '0' to 6 digits.
 * test_reference_checksum checks both against the known vectors below.
 */
static uint32_t ref_crc32(const char *text, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= (unsigned char)text[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

static const char b62_digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void ref_base62(uint32_t v, char out[7])
{
    for (int i = 5; i >= 0; i--) {
        out[i] = b62_digits[v % 62];
        v /= 62;
    }
    out[6] = '\0';
}

static void expected_crc(const char *text, size_t n, char out[7])
{
    ref_base62(ref_crc32(text, n), out);
}

/*
 * Known vectors, computed outside this project with Python 3:
 *
 *   import zlib
 *   B = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
 *   def b62(n):
 *       s = ""
 *       for _ in range(6):
 *           n, d = divmod(n, 62)
 *           s = B[d] + s
 *       return s
 *   crc = zlib.crc32(text.encode()); print(hex(crc), b62(crc))
 *
 * "123456789" -> 0xCBF43926 is also the published check value of
 * CRC-32/ISO-HDLC. The last three tokens were picked (by counting up their
 * last digits) for checksums with one and two leading zeros and one near
 * the top of the range.
 */
struct crc_vector {
    const char *text;
    uint32_t crc;
    const char *checksum;
};

static const struct crc_vector crc_vectors[] = {
    {"", 0x00000000u, "000000"},
    {"123456789", 0xCBF43926u, "3jZRME"},
    {"lya_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0xF2169EEAu, "4QrvZK"},
    {"lyr_0000000000000000000000000000000000000000000", 0x7F0C1AECu, "2KFYSK"},
    {"lya_ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ", 0xE50F5B42u, "4C4mxO"},
    {"lyr_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg", 0xADC3233Fu, "3BI4tT"},
    {"lyk_QWJ3MXZT5RBN2AKE_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0x3BB68398u, "15nWMS"},
    {"acme_QWJ3MXZT5RBN2AKE_7Hq2Lm9Xc4Vb8Nz1Rt6Yw3Ks5Pd0Gf2Jh4Ua9Ee1Oi7", 0x49C24243u, "1LkHsh"},
    {"lya_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa00000003", 0x1493C215u, "0NMXWH"},
    {"lya_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa00000046", 0x0095F39Eu, "00fEVi"},
    {"lya_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa00058350", 0xFFFF7E2Cu, "4gf6Y0"},
};

#define N_CRC_VECTORS (sizeof(crc_vectors) / sizeof(crc_vectors[0]))

/* base62 of chosen values (Python's b62 above): padding, carries, the largest u32 */
static const struct {
    uint32_t value;
    const char *digits;
} b62_vectors[] = {
    {0u, "000000"},         {1u, "000001"},         {61u, "00000z"},
    {62u, "000010"},        {3843u, "0000zz"},      {3844u, "000100"},
    {916132831u, "0zzzzz"}, {916132832u, "100000"}, {4294967295u, "4gfFC3"},
};

/* The reference above reproduces the vectors, so it may judge the code. */
static void test_reference_checksum(void **state)
{
    char out[7];
    (void)state;

    for (size_t i = 0; i < N_CRC_VECTORS; i++) {
        const struct crc_vector *v = &crc_vectors[i];
        CHECK(v->text, ref_crc32(v->text, strlen(v->text)) == v->crc);
        ref_base62(v->crc, out);
        CHECK(v->text, strcmp(out, v->checksum) == 0);
    }
    for (size_t i = 0; i < sizeof(b62_vectors) / sizeof(b62_vectors[0]); i++) {
        ref_base62(b62_vectors[i].value, out);
        CHECK(b62_vectors[i].digits, strcmp(out, b62_vectors[i].digits) == 0);
    }
}

/* The codec's CRC-32 and base62, which the token code uses, give the same vectors. */
static void test_codec_checksum_vectors(void **state)
{
    char out[7];
    (void)state;

    for (size_t i = 0; i < N_CRC_VECTORS; i++) {
        const struct crc_vector *v = &crc_vectors[i];
        CHECK(v->text, ly_crc32(v->text, strlen(v->text)) == v->crc);
        ly_base62_encode_u32(v->crc, out, 6);
        CHECK(v->text, strcmp(out, v->checksum) == 0);
    }
    for (size_t i = 0; i < sizeof(b62_vectors) / sizeof(b62_vectors[0]); i++) {
        ly_base62_encode_u32(b62_vectors[i].value, out, 6);
        CHECK(b62_vectors[i].digits, strcmp(out, b62_vectors[i].digits) == 0);
    }
}

static void test_opaque_format(void **state)
{
    static const char *const prefixes[] = {LY_ACCESS_PREFIX, LY_REFRESH_PREFIX};
    size_t i;
    (void)state;

    for (i = 0; i < 2; i++) {
        char tok[LY_TOKEN_MAX_LEN], other[LY_TOKEN_MAX_LEN], crc[7];
        ly_token_generate(prefixes[i], tok);
        CHECK(prefixes[i], strlen(tok) == 4 + 43 + 6);
        CHECK(prefixes[i], strncmp(tok, prefixes[i], 3) == 0 && tok[3] == '_');
        CHECK(prefixes[i], ly_base62_is_alphabet(tok + 4, 49));
        expected_crc(tok, 4 + 43, crc);
        CHECK(prefixes[i], memcmp(tok + 47, crc, 6) == 0);
        CHECK(prefixes[i], ly_token_is_well_formed(prefixes[i], view(tok)));
        /* an access token is not a refresh token */
        CHECK(prefixes[i], !ly_token_is_well_formed(prefixes[1 - i], view(tok)));
        ly_token_generate(prefixes[i], other);
        CHECK(prefixes[i], strcmp(tok, other) != 0);
    }
}

/*
 * Whole tokens made of the vectors: text + its known checksum is accepted;
 * the same text with a checksum one digit off, or another vector's, is not.
 */
static void test_known_tokens(void **state)
{
    (void)state;

    for (size_t i = 0; i < N_CRC_VECTORS; i++) {
        const struct crc_vector *v = &crc_vectors[i];
        const struct crc_vector *other = &crc_vectors[(i + 1) % N_CRC_VECTORS];
        char tok[LY_TOKEN_MAX_LEN], off[LY_TOKEN_MAX_LEN], swapped[LY_TOKEN_MAX_LEN];
        size_t n = strlen(v->text);
        const char *sep = strchr(v->text, '_');
        char prefix[8];
        struct ly_str kid, secret;

        if (sep == NULL || (size_t)(sep - v->text) >= sizeof(prefix))
            continue; /* "" and "123456789" are not tokens */
        memcpy(prefix, v->text, (size_t)(sep - v->text));
        prefix[sep - v->text] = '\0';
        snprintf(tok, sizeof(tok), "%s%s", v->text, v->checksum);
        snprintf(off, sizeof(off), "%s", tok);
        off[n + 5] = b62_digits[(strchr(b62_digits, off[n + 5]) - b62_digits + 1) % 62];
        snprintf(swapped, sizeof(swapped), "%s%s", v->text, other->checksum);

        if (n == 4 + LY_TOKEN_RANDOM_LEN) { /* lya_ / lyr_ */
            CHECK(v->text, ly_token_is_well_formed(prefix, view(tok)));
            CHECK(v->text, !ly_token_is_well_formed(prefix, view(off)));
            CHECK(v->text, !ly_token_is_well_formed(prefix, view(swapped)));
        } else { /* an API key token */
            CHECK(v->text, ly_apikey_parse(prefix, view(tok), &kid, &secret));
            CHECK(v->text, kid.len == LY_KEY_ID_LEN && secret.len == LY_TOKEN_SECRET_LEN);
            CHECK(v->text, memcmp(secret.ptr + LY_TOKEN_RANDOM_LEN, v->checksum, 6) == 0);
            CHECK(v->text, ly_apikey_check_pair(prefix, kid, secret));
            CHECK(v->text, !ly_apikey_parse(prefix, view(off), &kid, &secret));
            CHECK(v->text, !ly_apikey_parse(prefix, view(swapped), &kid, &secret));
        }
    }
}

struct mangle {
    const char *desc;
    int kind; /* 0 truncate by one, 1 extra char, 2 flip a random char, 3 flip a crc char, 4 bad
                 char, 5 wrong separator, 6 uppercase prefix, 7 empty */
};

static const struct mangle mangles[] = {
    {"truncated", 0},
    {"extra character", 1},
    {"mistyped character", 2},
    {"mistyped checksum", 3},
    {"non-base62 byte", 4},
    {"wrong separator", 5},
    {"prefix in upper case", 6},
    {"empty", 7},
};

static void mangle_token(char *t, int kind)
{
    size_t n = strlen(t);

    switch (kind) {
    case 0:
        t[n - 1] = '\0';
        break;
    case 1:
        t[n] = 'x';
        t[n + 1] = '\0';
        break;
    case 2:
        t[10] = t[10] == 'b' ? 'c' : 'b';
        break;
    case 3:
        t[n - 1] = t[n - 1] == '0' ? '1' : '0';
        break;
    case 4:
        t[20] = '-';
        break;
    case 5:
        t[3] = '-';
        break;
    case 6:
        t[0] = 'L';
        break;
    default:
        t[0] = '\0';
        break;
    }
}

static void test_opaque_refused(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(mangles) / sizeof(mangles[0]); i++) {
        char tok[LY_TOKEN_MAX_LEN + 2];
        ly_token_generate("lya", tok);
        mangle_token(tok, mangles[i].kind);
        CHECK(mangles[i].desc, !ly_token_is_well_formed("lya", view(tok)));
    }
    /* only the view's bytes count: a good token followed by junk in memory is fine */
    {
        char tok[LY_TOKEN_MAX_LEN + 8];
        ly_token_generate("lyr", tok);
        memcpy(tok + strlen(tok), "junk", 5);
        assert_true(ly_token_is_well_formed("lyr", (struct ly_str){tok, 53}));
        assert_false(ly_token_is_well_formed("lyr", (struct ly_str){tok, 52}));
    }
}

static void test_apikey_format(void **state)
{
    char id[LY_KEY_ID_LEN + 1], tok[LY_TOKEN_MAX_LEN], crc[7];
    struct ly_str kid = {0}, secret = {0};
    (void)state;

    ly_apikey_generate("lyk", id, tok);
    assert_int_equal(strlen(id), 16);
    assert_true(ly_base32_is_alphabet(id, 16));
    assert_int_equal(strlen(tok), 3 + 1 + 16 + 1 + 49);
    assert_memory_equal(tok, "lyk_", 4);
    assert_memory_equal(tok + 4, id, 16);
    assert_int_equal(tok[20], '_');
    expected_crc(tok, strlen(tok) - 6, crc);
    assert_memory_equal(tok + strlen(tok) - 6, crc, 6);

    assert_true(ly_apikey_parse("lyk", view(tok), &kid, &secret));
    assert_int_equal(kid.len, 16);
    assert_memory_equal(kid.ptr, id, 16);
    assert_int_equal(secret.len, 49);
    assert_ptr_equal(secret.ptr, tok + 21);
    /* the Basic form: KEYID and the whole 49-character secret */
    assert_true(ly_apikey_check_pair("lyk", kid, secret));
    /* another deployment's prefix is not ours */
    assert_false(ly_apikey_parse("abc", view(tok), &kid, &secret));
    assert_false(ly_apikey_check_pair("abc", kid, secret));
}

static void test_apikey_custom_prefix(void **state)
{
    char id[LY_KEY_ID_LEN + 1], tok[LY_TOKEN_MAX_LEN];
    struct ly_str kid, secret;
    (void)state;

    ly_apikey_generate("acme", id, tok);
    assert_int_equal(strlen(tok), 4 + 1 + 16 + 1 + 49);
    assert_true(ly_apikey_parse("acme", view(tok), &kid, &secret));
    assert_true(ly_apikey_check_pair("acme", kid, secret));
    assert_false(ly_apikey_parse("lyk", view(tok), &kid, &secret));
}

static void test_apikey_refused(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof(mangles) / sizeof(mangles[0]); i++) {
        char id[LY_KEY_ID_LEN + 1], tok[LY_TOKEN_MAX_LEN + 2];
        struct ly_str kid = {"unchanged", 9}, secret = {"unchanged", 9};
        ly_apikey_generate("lyk", id, tok);
        mangle_token(tok, mangles[i].kind);
        CHECK(mangles[i].desc, !ly_apikey_parse("lyk", view(tok), &kid, &secret));
        CHECK(mangles[i].desc, kid.len == 9 && secret.len == 9);
    }
    /* a key id outside A-Z2-7 (lower case), even with a checksum that matches */
    {
        char tok[LY_TOKEN_MAX_LEN], crc[7];
        struct ly_str kid, secret;
        snprintf(tok, sizeof(tok), "lyk_qwj3mxzt5rbn2ake_%s",
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        expected_crc(tok, strlen(tok), crc);
        snprintf(tok + strlen(tok), sizeof(tok) - strlen(tok), "%s", crc);
        assert_false(ly_apikey_parse("lyk", view(tok), &kid, &secret));
        tok[4] = 'Q'; /* mixed case still refused, and the crc no longer matches anyway */
        assert_false(ly_apikey_parse("lyk", view(tok), &kid, &secret));
    }
}

struct pair_case {
    const char *desc;
    const char *id;
    const char *secret; /* NULL: use the generated one */
    bool want;
};

static void test_apikey_pair(void **state)
{
    char id[LY_KEY_ID_LEN + 1], tok[LY_TOKEN_MAX_LEN], sec[LY_TOKEN_SECRET_LEN + 2];
    char other_id[LY_KEY_ID_LEN + 1], other[LY_TOKEN_MAX_LEN];
    (void)state;

    ly_apikey_generate("lyk", id, tok);
    ly_apikey_generate("lyk", other_id, other);
    memcpy(sec, tok + 21, LY_TOKEN_SECRET_LEN + 1);
    {
        char cut[LY_TOKEN_SECRET_LEN], flip[LY_TOKEN_SECRET_LEN + 1];
        memcpy(cut, sec, LY_TOKEN_SECRET_LEN - 1);
        cut[LY_TOKEN_SECRET_LEN - 1] = '\0';
        memcpy(flip, sec, sizeof(flip));
        flip[0] = flip[0] == 'a' ? 'b' : 'a';
        {
            const struct pair_case cases[] = {
                {"the generated pair", id, sec, true},
                {"secret of another key", id, other + 21, false},
                {"id of another key", other_id, sec, false},
                {"truncated secret", id, cut, false},
                {"mistyped secret", id, flip, false},
                {"lower-case id", "qwj3mxzt5rbn2ake", sec, false},
                {"short id", "QWJ3MXZT5RBN2AK", sec, false},
                {"whole token as secret", id, tok, false},
            };
            size_t i;
            for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                CHECK(cases[i].desc, ly_apikey_check_pair("lyk", view(cases[i].id),
                                                          view(cases[i].secret)) == cases[i].want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_checksum),   cmocka_unit_test(test_codec_checksum_vectors),
        cmocka_unit_test(test_opaque_format),        cmocka_unit_test(test_known_tokens),
        cmocka_unit_test(test_opaque_refused),       cmocka_unit_test(test_apikey_format),
        cmocka_unit_test(test_apikey_custom_prefix), cmocka_unit_test(test_apikey_refused),
        cmocka_unit_test(test_apikey_pair),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
