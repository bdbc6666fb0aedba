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

/* Recompute the SPEC §4 checksum independently: CRC-32 of the text before it, base62, width 6. */
static void expected_crc(const char *text, size_t n, char out[7])
{
    ly_base62_encode_u32(ly_crc32(text, n), out, 6);
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

/* A known token: the checksum of "lya_" + 43 'a' computed by hand with zlib's crc32. */
static void test_known_checksum(void **state)
{
    char tok[64], crc[7];
    (void)state;

    snprintf(tok, sizeof(tok), "lya_%s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    expected_crc(tok, strlen(tok), crc);
    assert_string_equal(crc, "4QrvZK");
    snprintf(tok + strlen(tok), sizeof(tok) - strlen(tok), "%s", crc);
    assert_true(ly_token_is_well_formed("lya", view(tok)));
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
        cmocka_unit_test(test_opaque_format),        cmocka_unit_test(test_known_checksum),
        cmocka_unit_test(test_opaque_refused),       cmocka_unit_test(test_apikey_format),
        cmocka_unit_test(test_apikey_custom_prefix), cmocka_unit_test(test_apikey_refused),
        cmocka_unit_test(test_apikey_pair),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
