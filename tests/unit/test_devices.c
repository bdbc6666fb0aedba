#include "build-config.h"
#include "banned.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lanyard/devices.h"

#include "check.h"

/* SPEC §5.4: user codes, as typed, matched without regard to case or hyphen. */
struct norm_case {
    const char *desc;
    const char *typed;
    const char *want; /* NULL: refused */
};

static const struct norm_case norm_cases[] = {
    {"shown form", "BCDF-GHJK", "BCDFGHJK"},
    {"without the hyphen", "BCDFGHJK", "BCDFGHJK"},
    {"lower case", "bcdf-ghjk", "BCDFGHJK"},
    {"mixed case, no hyphen", "bCdFgHjK", "BCDFGHJK"},
    {"hyphens anywhere", "-B-C-D-F--G-H-J-K-", "BCDFGHJK"},
    {"last letters of the alphabet", "VWXZ-VWXZ", "VWXZVWXZ"},
    {"a vowel is no code letter", "BCDF-GHJA", NULL},
    {"Y is no code letter", "BCDF-GHJY", NULL},
    {"a digit", "BCDF-GHJ1", NULL},
    {"a space", "BCDF GHJK", NULL},
    {"seven letters", "BCDF-GHJ", NULL},
    {"nine letters", "BCDF-GHJKL", NULL},
    {"empty", "", NULL},
    {"hyphens only", "---------", NULL},
    {"a non-ASCII letter", "BCDF-GHJ\xc3\x9f", NULL},
};

static void test_user_code_normalize(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
        const struct norm_case *t = &norm_cases[i];
        char out[LY_USER_CODE_LEN + 1] = "untouch";
        bool ok = ly_device_user_code_normalize(t->typed, out);
        CHECK(t->desc, ok == (t->want != NULL));
        if (t->want != NULL)
            CHECK(t->desc, strcmp(out, t->want) == 0);
        else
            CHECK(t->desc, strcmp(out, "untouch") == 0); /* outputs untouched on failure */
    }
    char out[LY_USER_CODE_LEN + 1];
    assert_false(ly_device_user_code_normalize(NULL, out));
}

static void test_user_code_alphabet(void **state)
{
    (void)state;
    /* 20 consonants, no vowel or Y, no look-alike digit (RFC 8628 §6.1). */
    assert_int_equal(strlen(LY_USER_CODE_ALPHABET), 20);
    for (const char *p = LY_USER_CODE_ALPHABET; *p; p++) {
        assert_true(*p >= 'B' && *p <= 'Z');
        assert_null(strchr("AEIOUY", *p));
        assert_ptr_equal(strchr(LY_USER_CODE_ALPHABET, *p), p); /* no letter twice */
    }
    /* Generated codes: 8 letters of the alphabet, each letter seen over many codes. */
    unsigned seen[26] = {0};
    for (int i = 0; i < 500; i++) {
        char code[LY_USER_CODE_LEN + 1];
        ly_device_user_code_generate(code);
        assert_int_equal(strlen(code), LY_USER_CODE_LEN);
        for (int j = 0; j < LY_USER_CODE_LEN; j++) {
            assert_non_null(strchr(LY_USER_CODE_ALPHABET, code[j]));
            seen[code[j] - 'A']++;
        }
        char back[LY_USER_CODE_LEN + 1];
        assert_true(ly_device_user_code_normalize(code, back));
        assert_string_equal(back, code);
    }
    for (const char *p = LY_USER_CODE_ALPHABET; *p; p++)
        CHECK("every letter of the alphabet is drawn", seen[*p - 'A'] > 0);
}

static void test_user_code_format(void **state)
{
    (void)state;
    char shown[LY_USER_CODE_SHOWN_LEN + 1];
    ly_device_user_code_format("BCDFGHJK", shown);
    assert_string_equal(shown, "BCDF-GHJK");
    char back[LY_USER_CODE_LEN + 1];
    assert_true(ly_device_user_code_normalize(shown, back));
    assert_string_equal(back, "BCDFGHJK");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_code_normalize),
        cmocka_unit_test(test_user_code_alphabet),
        cmocka_unit_test(test_user_code_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
