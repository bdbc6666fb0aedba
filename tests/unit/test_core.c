/*
 * Unit tests of the core helpers: arena, str, validate, times, errors, log.
 */
#include "build-config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "check.h"
#include "lanyard/arena.h"
#include "lanyard/civil.h"
#include "lanyard/err.h"
#include "lanyard/json.h"
#include "lanyard/log.h"
#include "lanyard/password.h"
#include "lanyard/slots.h"
#include "lanyard/str.h"
#include "lanyard/validate.h"

static int deferred_calls;

static void count_call(void *p)
{
    /* The defer list runs newest first: each call sees the one pushed before it. */
    int *order = p;
    *order = ++deferred_calls;
}

static void test_arena(void **state)
{
    (void)state;
    struct ly_arena a;
    ly_arena_init(&a, 1024);
    char *big = ly_arena_alloc(&a, 100000);
    memset(big, 'x', 100000);
    for (int i = 0; i < 1000; i++) {
        unsigned char *p = ly_arena_alloc(&a, (size_t)i % 97 + 1);
        CHECK("16-byte alignment", ((uintptr_t)p & 15) == 0);
        memset(p, 0xAB, (size_t)i % 97 + 1);
    }
    char *s = ly_arena_strndup(&a, "hello world", 5);
    CHECK("strndup copies n bytes", strcmp(s, "hello") == 0);
    CHECK("printf", strcmp(ly_arena_printf(&a, "%d-%s", 42, "x"), "42-x") == 0);
    int first = 0, second = 0;
    ly_arena_defer(&a, count_call, &first);
    ly_arena_defer(&a, count_call, &second);
    ly_arena_defer(&a, count_call, NULL); /* NULL is never called */
    deferred_calls = 0;
    ly_arena_reset(&a);
    CHECK("defers run at reset", deferred_calls == 2);
    CHECK("newest first", second == 1 && first == 2);
    CHECK("usable after reset", strcmp(ly_arena_strdup(&a, "again"), "again") == 0);
    char *z = ly_arena_zalloc(&a, 64);
    for (int i = 0; i < 64; i++)
        CHECK("zalloc zeroes", z[i] == 0);
    ly_arena_release(&a);
}

static void test_str_to_u64(void **state)
{
    (void)state;
    static const struct {
        const char *desc, *in;
        uint64_t max;
        int rc;
        uint64_t want;
    } cases[] = {
        {"zero", "0", 10, 0, 0},
        {"max itself", "100", 100, 0, 100},
        {"above max", "101", 100, -1, 0},
        {"empty", "", 100, -1, 0},
        {"sign", "+1", 100, -1, 0},
        {"minus", "-1", 100, -1, 0},
        {"space", " 1", 100, -1, 0},
        {"junk after", "12a", 100, -1, 0},
        {"uint64 max", "18446744073709551615", UINT64_MAX, 0, UINT64_MAX},
        {"overflow", "18446744073709551616", UINT64_MAX, -1, 0},
        {"too long", "000000000000000000001", UINT64_MAX, -1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 7;
        int rc = ly_str_to_u64(ly_str_from(cases[i].in), cases[i].max, &v);
        CHECK(cases[i].desc, rc == cases[i].rc);
        CHECK(cases[i].desc, rc != 0 ? v == 7 : v == cases[i].want);
    }
}

static void test_str_from_u64(void **state)
{
    (void)state;
    static const struct {
        const char *desc;
        uint64_t v;
        const char *want;
    } cases[] = {
        {"zero", 0, "0"},
        {"one digit", 7, "7"},
        {"a power of ten", 1000, "1000"},
        {"uint64 max", UINT64_MAX, "18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[LY_U64_DEC_MAX + 1];
        memset(out, 'x', sizeof(out));
        size_t n = ly_str_from_u64(cases[i].v, out);
        CHECK(cases[i].desc, n == strlen(cases[i].want));
        CHECK(cases[i].desc, memcmp(out, cases[i].want, n) == 0);
        CHECK(cases[i].desc, n == LY_U64_DEC_MAX || out[n] == 'x'); /* no NUL written */
    }
}

static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *desc, *in;
        size_t max;
        bool ok;
    } cases[] = {
        {"ascii", "Hello", 200, true},
        {"empty", "", 200, true},
        {"two-byte", "J\xc3\xbcrgen", 200, true},
        {"emoji counts one", "\xf0\x9f\x98\x80", 1, true},
        {"over the limit", "abc", 2, false},
        {"newline", "a\nb", 200, false},
        {"tab", "a\tb", 200, false},
        {"DEL", "a\x7f", 200, false},
        {"C1 control", "\xc2\x85", 200, false},
        {"overlong slash", "\xc0\xaf", 200, false},
        {"surrogate", "\xed\xa0\x80", 200, false},
        {"truncated", "\xe2\x82", 200, false},
        {"bad continuation", "\xe2\x28\xa1", 200, false},
        {"beyond U+10FFFF", "\xf4\x90\x80\x80", 200, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(cases[i].desc,
              ly_str_is_clean_utf8(ly_str_from(cases[i].in), cases[i].max) == cases[i].ok);
}

/* Client text made storable: ill-formed UTF-8 to U+FFFD, controls to spaces, cut whole. */
static void test_utf8_clean(void **state)
{
    (void)state;
#define FFFD "\xef\xbf\xbd"
    static const struct {
        const char *desc, *in;
        size_t max;
        const char *want;
    } cases[] = {
        {"ascii", "Mozilla/5.0 (X11; Linux x86_64)", 255, "Mozilla/5.0 (X11; Linux x86_64)"},
        {"empty", "", 255, ""},
        {"valid multi-byte kept", "J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x98\x80", 255,
         "J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"cut ascii", "abcdef", 3, "abc"},
        {"max 0", "abc", 0, ""},
        {"cut before a 2-byte character", "a\xc3\xa9", 2, "a"},
        {"2-byte character fits", "a\xc3\xa9", 3, "a\xc3\xa9"},
        {"cut before a 3-byte character", "ab\xe2\x82\xac", 4, "ab"},
        {"cut before a 4-byte character", "x\xf0\x9f\x98\x80", 4, "x"},
        {"4-byte character fits", "x\xf0\x9f\x98\x80", 5, "x\xf0\x9f\x98\x80"},
        {"overlong 2-byte", "\xc0\xaf", 255, FFFD FFFD},
        {"overlong 3-byte", "\xe0\x80\xaf", 255, FFFD FFFD FFFD},
        {"overlong 4-byte", "\xf0\x80\x80\xaf", 255, FFFD FFFD FFFD FFFD},
        {"surrogate", "\xed\xa0\x80", 255, FFFD FFFD FFFD},
        {"last before surrogates", "\xed\x9f\xbf", 255, "\xed\x9f\xbf"},
        {"past U+10FFFF", "\xf4\x90\x80\x80", 255, FFFD FFFD FFFD FFFD},
        {"U+10FFFF itself", "\xf4\x8f\xbf\xbf", 255, "\xf4\x8f\xbf\xbf"},
        {"F5 lead", "\xf5\x80\x80\x80", 255, FFFD FFFD FFFD FFFD},
        {"FF", "a\xffz", 255, "a" FFFD "z"},
        {"stray continuation", "a\x80z", 255, "a" FFFD "z"},
        {"truncated at the end: one U+FFFD", "ab\xe2\x82", 255, "ab" FFFD},
        {"truncated 4-byte then ascii", "\xf0\x9f\x98Z", 255, FFFD "Z"},
        {"bad continuation", "\xe2\x28\xa1", 255, FFFD "(" FFFD},
        {"cut mid-character as a proxy would", "abc\xe2\x82", 4, "abc"},
        {"tab, CR, LF", "a\tb\r\n", 255, "a b  "},
        {"ESC and DEL", "\x1b[0m\x7f", 255, " [0m "},
        {"C1 control", "a\xc2\x85z", 255, "a z"},
        {"U+00A0 is not a control", "a\xc2\xa0z", 255, "a\xc2\xa0z"},
        {"U+FFFD that does not fit is dropped", "ab\xff", 4, "ab"},
        {"U+FFFD that fits", "ab\xff", 5, "ab" FFFD},
    };
#undef FFFD
    struct ly_arena a;
    ly_arena_init(&a, 4096);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *out = ly_utf8_clean(&a, cases[i].in, cases[i].max);
        CHECK(cases[i].desc, out != NULL && strcmp(out, cases[i].want) == 0);
    }
    CHECK("NULL", ly_utf8_clean(&a, NULL, 255) == NULL);

    /* A User-Agent cut at 255 bytes: 254 ASCII bytes and a 2-byte character. */
    char ua[300];
    memset(ua, 'a', 254);
    memcpy(ua + 254, "\xc3\xa9zzz", 6);
    CHECK("cut at 255 keeps 254", strlen(ly_utf8_clean(&a, ua, 255)) == 254);
    memset(ua, 'a', 299);
    ua[299] = '\0';
    CHECK("long ASCII cut to 255", strlen(ly_utf8_clean(&a, ua, 255)) == 255);

    /* Any bytes at all: the result is clean UTF-8 within max, and clean input is kept whole. */
    uint32_t seed = 12345;
    for (int round = 0; round < 20000; round++) {
        char in[64];
        size_t n = (size_t)round % 63;
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            unsigned char b = (unsigned char)(seed >> 16);
            in[k] = (char)(b == 0 ? 0x80 : (round & 1) ? (b | 0x80) : b);
        }
        in[n] = '\0';
        size_t max = (size_t)(round % 70);
        const char *out = ly_utf8_clean(&a, in, max);
        if (strlen(out) > max || !ly_str_is_clean_utf8(ly_str_from(out), SIZE_MAX))
            fail_msg("round %d: not clean or too long", round);
        if (strlen(in) <= max && ly_str_is_clean_utf8(ly_str_from(in), SIZE_MAX) &&
            strcmp(out, in) != 0)
            fail_msg("round %d: clean input changed", round);
        if (round % 1000 == 0)
            ly_arena_reset(&a);
    }
    ly_arena_release(&a);
}

static void test_names(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"a", false},
        {"ab", true},
        {"a-b", true},
        {"-ab", false},
        {"ab-", false},
        {"Ab", false},
        {"a_b", false},
        {"a.b", false},
        {"a b", false},
        {"0a", true},
        {"a--b", true},
        {"\xc3\xa4"
         "b",
         false},
        {"", false},
        {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk", true},   /* 63 */
        {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl", false}, /* 64 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(cases[i].in, ly_name_is_valid(cases[i].in) == cases[i].ok);
}

/* SPEC §4: a key's resource, 1–255 of [A-Za-z0-9._:/-]. */
static void test_resources(void **state)
{
    (void)state;
    char longest[257];
    memset(longest, 'r', 256);
    longest[255] = '\0';
    CHECK("255 characters", ly_resource_is_valid(longest));
    longest[255] = 'r';
    longest[256] = '\0';
    CHECK("256 characters", !ly_resource_is_valid(longest));
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"env-z3q9rd.aws.us-east-1", true},
        {"my-company/sentinel-repo", true},
        {"A:b/C_d", true},
        {"urn:x:y", true},
        {"a", true},
        {"", false},
        {"a b", false},
        {"a\tb", false},
        {"a?b", false},
        {"a%2Fb", false},
        {"\xc3\xa4", false},
        {"a\\b", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(cases[i].in, ly_resource_is_valid(cases[i].in) == cases[i].ok);
}

static void test_emails(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want; /* want NULL: refused */
    } cases[] = {
        {"Ada@Example.COM", "ada@example.com"},
        {"a@b.c", "a@b.c"},
        {"a@b", NULL},
        {"@b.c", NULL},
        {"a@@b.c", NULL},
        {"a@b@c.d", NULL},
        {"a b@c.d", NULL},
        {"a@.c", NULL},
        {"a@c.", NULL},
        {"a\n@c.d", NULL},
        {"", NULL},
    };
    struct ly_arena a;
    ly_arena_init(&a, 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *out = NULL;
        bool ok = ly_email_normalize(&a, cases[i].in, &out);
        CHECK(cases[i].in, ok == (cases[i].want != NULL));
        if (ok)
            CHECK(cases[i].in, strcmp(out, cases[i].want) == 0);
    }
    char long_local[300];
    memset(long_local, 'a', sizeof(long_local));
    memcpy(long_local + 250, "@b.co", 6);
    const char *out = NULL;
    CHECK("255 characters", !ly_email_normalize(&a, long_local, &out));
    ly_arena_release(&a);
}

static void test_domains(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want; /* want NULL: refused */
    } cases[] = {
        {"Example.COM", "example.com"},
        {"a.b", "a.b"},
        {"x-y.example.co.uk", "x-y.example.co.uk"},
        {"xn--bcher-kva.example", "xn--bcher-kva.example"},
        {"example", NULL}, /* one label */
        {"-a.com", NULL},  /* leading hyphen */
        {"a-.com", NULL},  /* trailing hyphen */
        {"a..com", NULL},  /* empty label */
        {".a.com", NULL},
        {"a.com.", NULL}, /* the root dot is not written */
        {"a_b.com", NULL},
        {"a b.com", NULL},
        {"b\xc3\xbc"
         "cher.de",
         NULL}, /* IDNs are claimed in their A-label form */
        {"a.com/x", NULL},
        {"", NULL},
    };
    struct ly_arena a;
    ly_arena_init(&a, 1024);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *out = NULL;
        bool ok = ly_domain_normalize(&a, cases[i].in, &out);
        CHECK(cases[i].in, ok == (cases[i].want != NULL));
        if (ok)
            CHECK(cases[i].in, strcmp(out, cases[i].want) == 0);
    }
    char label[70], name[300];
    memset(label, 'a', 63);
    memcpy(label + 63, ".com", 5);
    const char *out = NULL;
    CHECK("63-character label", ly_domain_normalize(&a, label, &out));
    memset(label, 'a', 64);
    memcpy(label + 64, ".com", 5);
    CHECK("64-character label", !ly_domain_normalize(&a, label, &out));
    /* 254 characters: labels of 9 and dots */
    for (size_t i = 0; i < 254; i++)
        name[i] = i % 10 == 9 ? '.' : 'a';
    name[254] = '\0';
    CHECK("254 characters", !ly_domain_normalize(&a, name, &out));
    name[252] = 'a';
    name[253] = '\0';
    CHECK("253 characters", ly_domain_normalize(&a, name, &out));
    ly_arena_release(&a);
}

static void test_return_to(void **state)
{
    (void)state;
    CHECK("the console", ly_return_to_is_valid("/console/"));
    CHECK("a query", ly_return_to_is_valid("/device?user_code=BCDF-GHJK"));
    CHECK("root", ly_return_to_is_valid("/"));
    CHECK("empty", !ly_return_to_is_valid(""));
    CHECK("relative", !ly_return_to_is_valid("console/"));
    CHECK("another origin", !ly_return_to_is_valid("https://evil.example/"));
    CHECK("scheme-relative", !ly_return_to_is_valid("//evil.example/"));
    CHECK("backslash", !ly_return_to_is_valid("/\\evil.example/"));
    CHECK("inner backslash", !ly_return_to_is_valid("/a\\b"));
    CHECK("CR LF", !ly_return_to_is_valid("/a\r\nSet-Cookie: x=y"));
    CHECK("space", !ly_return_to_is_valid("/a b"));
    CHECK("fragment", !ly_return_to_is_valid("/console/#x"));
    CHECK("non-ASCII", !ly_return_to_is_valid("/\xc3\xa4"));
    char longest[LY_RETURN_TO_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    longest[0] = '/';
    longest[LY_RETURN_TO_MAX] = '\0';
    CHECK("1024 characters", ly_return_to_is_valid(longest));
    longest[LY_RETURN_TO_MAX] = 'a';
    longest[LY_RETURN_TO_MAX + 1] = '\0';
    CHECK("1025 characters", !ly_return_to_is_valid(longest));
}

static void test_passwords_policy(void **state)
{
    (void)state;
    CHECK("long enough", ly_password_problem("twelve chars", 12) == NULL);
    CHECK("too short", ly_password_problem("eleven char", 12) != NULL);
    CHECK("characters, not bytes", ly_password_problem("\xc3\xa4\xc3\xa4\xc3\xa4", 4) != NULL);
    CHECK("control characters", ly_password_problem("twelve\nchars", 5) != NULL);
}

static void test_ids(void **state)
{
    (void)state;
    struct ly_arena a;
    ly_arena_init(&a, 1024);
    const char *x = ly_id_generate(&a, "u-", 12), *y = ly_id_generate(&a, "u-", 12);
    CHECK("length", strlen(x) == 14);
    CHECK("prefix", strncmp(x, "u-", 2) == 0);
    for (size_t i = 2; i < 14; i++)
        CHECK("lower-case base32", (x[i] >= 'a' && x[i] <= 'z') || (x[i] >= '2' && x[i] <= '7'));
    CHECK("random", strcmp(x, y) != 0);
    ly_arena_release(&a);
}

static void test_times(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        int64_t want;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0, 0},
        {"2026-11-22T10:00:00Z", 0, 1795341600},
        {"2026-11-22T10:00:00.123Z", 0, 1795341600},
        {"2026-11-22T12:00:00+02:00", 0, 1795341600},
        {"2026-11-22t10:00:00z", 0, 1795341600},
        {"2024-02-29T00:00:00Z", 0, 1709164800},
        {"2023-02-29T00:00:00Z", -1, 0},
        {"2026-13-01T00:00:00Z", -1, 0},
        {"2026-11-22 10:00:00Z", -1, 0},
        {"2026-11-22T10:00:00", -1, 0},
        {"2026-11-22T10:00:00Zjunk", -1, 0},
        {"", -1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t t = -5;
        int rc = ly_time_parse(cases[i].in, &t);
        CHECK(cases[i].in, rc == cases[i].rc);
        CHECK(cases[i].in, rc == 0 ? t == cases[i].want : t == -5);
    }
    char buf[32];
    ly_time_format(1795341600, buf);
    CHECK("format", strcmp(buf, "2026-11-22T10:00:00Z") == 0);
}

/* Calendar arithmetic over the whole of years 1..9999 (SPEC §3: no 2038 limit). */
static void test_civil(void **state)
{
    (void)state;
    static const struct {
        const char *desc;
        int64_t t;
        struct ly_civil c;
    } cases[] = {
        {"epoch", 0, {1970, 1, 1, 0, 0, 0}},
        {"just before the epoch", -1, {1969, 12, 31, 23, 59, 59}},
        {"last second of int32", 2147483647, {2038, 1, 19, 3, 14, 7}},
        {"first second past int32", 2147483648LL, {2038, 1, 19, 3, 14, 8}},
        {"2100 is not a leap year", 4107542399LL, {2100, 2, 28, 23, 59, 59}},
        {"2100-03-01", 4107542400LL, {2100, 3, 1, 0, 0, 0}},
        {"2000 is a leap year (400)", 951825600, {2000, 2, 29, 12, 0, 0}},
        {"2024 is a leap year (4)", 1709164800, {2024, 2, 29, 0, 0, 0}},
        {"2400 is a leap year", 13574563200LL, {2400, 2, 29, 0, 0, 0}},
        {"1900 is not a leap year", -2203891200LL, {1900, 3, 1, 0, 0, 0}},
        {"1600 ends", -11644473601LL, {1600, 12, 31, 23, 59, 59}},
        {"the SPEC example", 1795341600, {2026, 11, 22, 10, 0, 0}},
        {"the first second", LY_TIME_MIN, {1, 1, 1, 0, 0, 0}},
        {"the last second", LY_TIME_MAX, {9999, 12, 31, 23, 59, 59}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ly_civil c;
        int64_t t = 0;
        CHECK(cases[i].desc, ly_time_to_civil(cases[i].t, &c) == 0);
        CHECK(cases[i].desc, memcmp(&c, &cases[i].c, sizeof(c)) == 0);
        CHECK(cases[i].desc, ly_civil_to_time(&cases[i].c, &t) == 0 && t == cases[i].t);
    }

    static const struct {
        const char *desc;
        struct ly_civil c;
    } bad[] = {
        {"2023-02-29", {2023, 2, 29, 0, 0, 0}},
        {"2100-02-29", {2100, 2, 29, 0, 0, 0}},
        {"1900-02-29", {1900, 2, 29, 0, 0, 0}},
        {"April 31", {2026, 4, 31, 0, 0, 0}},
        {"month 13", {2026, 13, 1, 0, 0, 0}},
        {"month 0", {2026, 0, 1, 0, 0, 0}},
        {"day 0", {2026, 1, 0, 0, 0, 0}},
        {"year 0", {0, 12, 31, 23, 59, 59}},
        {"year 10000", {10000, 1, 1, 0, 0, 0}},
        {"hour 24", {2026, 1, 1, 24, 0, 0}},
        {"minute 60", {2026, 1, 1, 0, 60, 0}},
        {"leap second", {2016, 12, 31, 23, 59, 60}},
        {"negative second", {2026, 1, 1, 0, 0, -1}},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t t = -5;
        CHECK(bad[i].desc, ly_civil_to_time(&bad[i].c, &t) == -1 && t == -5);
    }
    struct ly_civil c = {1, 2, 3, 4, 5, 6};
    CHECK("before year 1", ly_time_to_civil(LY_TIME_MIN - 1, &c) == -1 && c.year == 1);
    CHECK("after year 9999", ly_time_to_civil(LY_TIME_MAX + 1, &c) == -1 && c.year == 1);
    CHECK("far out",
          ly_time_to_civil(INT64_MAX, &c) == -1 && ly_time_to_civil(INT64_MIN, &c) == -1);

    /* Every day of the range, at a time that moves through the day: each maps back to itself
     * and follows the day before it. */
    struct ly_civil prev;
    CHECK("first day", ly_time_to_civil(LY_TIME_MIN, &prev) == 0);
    int64_t days = 1;
    for (int64_t day = LY_TIME_MIN + 86400; day <= LY_TIME_MAX; day += 86400, days++) {
        int64_t t = day + (days * 7919) % 86400, back = 0;
        if (ly_time_to_civil(t, &c) != 0 || ly_civil_to_time(&c, &back) != 0 || back != t)
            fail_msg("round trip of %lld", (long long)t);
        bool next = (c.year == prev.year && c.month == prev.month && c.day == prev.day + 1) ||
                    (c.year == prev.year && c.month == prev.month + 1 && c.day == 1) ||
                    (c.year == prev.year + 1 && c.month == 1 && c.day == 1 && prev.month == 12 &&
                     prev.day == 31);
        if (!next)
            fail_msg("%04d-%02d-%02d does not follow %04d-%02d-%02d", c.year, c.month, c.day,
                     prev.year, prev.month, prev.day);
        prev = c;
    }
    CHECK("3652059 days in years 1..9999", days == 3652059);
    CHECK("the last day", prev.year == 9999 && prev.month == 12 && prev.day == 31);

    /* RFC 3339 answers past 2038 and up to the end of year 9999. */
    static const struct {
        int64_t t;
        const char *want;
    } fmt[] = {
        {2147483648LL, "2038-01-19T03:14:08Z"}, {4107542400LL, "2100-03-01T00:00:00Z"},
        {LY_TIME_MAX, "9999-12-31T23:59:59Z"},  {LY_TIME_MAX + 1, "9999-12-31T23:59:59Z"},
        {INT64_MAX, "9999-12-31T23:59:59Z"},
    };
    for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
        char buf[32];
        int64_t back = 0;
        ly_time_format(fmt[i].t, buf);
        CHECK(fmt[i].want, strcmp(buf, fmt[i].want) == 0);
        CHECK(fmt[i].want, ly_time_parse(buf, &back) == 0 &&
                               back == (fmt[i].t > LY_TIME_MAX ? LY_TIME_MAX : fmt[i].t));
    }
    char first[32];
    ly_time_format(LY_TIME_MIN - 1, first);
    CHECK("before year 1: its first second", strcmp(first, "0001-01-01T00:00:00Z") == 0);

    /* Written digit by digit, the same text as printf's over the whole range. */
    for (int64_t t = LY_TIME_MIN; t <= LY_TIME_MAX; t += 86400LL * 37 + 3917) {
        struct ly_civil tc;
        char got[32], want[32];
        ly_time_to_civil(t, &tc);
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02dZ", tc.year, tc.month, tc.day,
                 tc.hour, tc.minute, tc.second);
        ly_time_format(t, got);
        if (strcmp(got, want) != 0)
            fail_msg("%lld: %s, not %s", (long long)t, got, want);
    }
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        int err, status;
        const char *code;
    } cases[] = {
        {LY_E_INVALID_REQUEST, 400, "invalid_request"},
        {LY_E_INVALID_JSON, 400, "invalid_json"},
        {LY_E_VALIDATION, 400, "validation_failed"},
        {LY_E_MEDIA_TYPE, 415, "unsupported_media_type"},
        {LY_E_TOO_LARGE, 413, "payload_too_large"},
        {LY_E_UNAUTHENTICATED, 401, "unauthenticated"},
        {LY_E_INVALID_TOKEN, 401, "invalid_token"},
        {LY_E_FORBIDDEN, 403, "forbidden"},
        {LY_E_NOT_FOUND, 404, "not_found"},
        {LY_E_METHOD, 405, "method_not_allowed"},
        {LY_E_CONFLICT, 409, "conflict"},
        {LY_E_RATE_LIMITED, 429, "rate_limited"},
        {LY_E_UNAVAILABLE, 503, "unavailable"},
        {LY_E_INTERNAL, 500, "internal"},
        {LY_E_CRYPTO, 500, "internal"},
        {LY_E_RETRY, 503, "unavailable"},
        {-999, 500, "internal"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK(cases[i].code, ly_err_status(cases[i].err) == cases[i].status);
        CHECK(cases[i].code, strcmp(ly_err_code(cases[i].err), cases[i].code) == 0);
        CHECK(cases[i].code, strcmp(ly_err_title(cases[i].err), "Unknown") != 0);
    }
}

/* Host-wide slots: n are there to take, the next waits and fails, a given one is taken again. */
static void test_slots(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof(name), "test/%ld", (long)getpid());
    int fds[3] = {-1, -1, -1}, extra = -1;
    for (int i = 0; i < 3; i++)
        CHECK("take", ly_slot_take(name, 3, 0, &fds[i]) == LY_OK && fds[i] >= 0);
    CHECK("all taken, no wait", ly_slot_take(name, 3, 0, &extra) == LY_E_UNAVAILABLE);
    CHECK("all taken, a short wait", ly_slot_take(name, 3, 20, &extra) == LY_E_UNAVAILABLE);
    char other[64];
    snprintf(other, sizeof(other), "test/%ld/other", (long)getpid());
    CHECK("another set is apart", ly_slot_take(other, 1, 0, &extra) == LY_OK);
    ly_slot_give(extra);
    ly_slot_give(fds[1]);
    int again = -1;
    CHECK("a given slot is free again", ly_slot_take(name, 3, 0, &again) == LY_OK);
    ly_slot_give(again);
    ly_slot_give(fds[0]);
    ly_slot_give(fds[2]);
    char long_name[200];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    CHECK("a name too long for an address", ly_slot_take(long_name, 1, 0, &again) == LY_E_IO);
}

/*
 * The request line as a process writes it to stderr: fn runs in a child
 * whose stderr is a pipe; its text in buf, its pid in *pid.
 */
static void child_line(void (*fn)(void), char *buf, size_t n, pid_t *pid)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        dup2(fds[1], 2);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t k;
    while (got + 1 < n && (k = read(fds[0], buf + got, n - 1 - got)) > 0)
        got += (size_t)k;
    buf[got] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    *pid = child;
}

static void one_request_line(void)
{
    struct ly_log log;
    ly_log_init(&log, "lanyard");
    log.request_id = "rid1";
    ly_log_request(&log, "GET", "/api/health", 200, 42, NULL);
}

/* Each line names the process that wrote it, also in a child forked after the parent logged. */
static void test_log_line_pid(void **state)
{
    (void)state;
    char buf[1024], want[64];
    pid_t pid = 0;
    child_line(one_request_line, buf, sizeof(buf), &pid);
    snprintf(want, sizeof(want), " lanyard[%ld] info request_id=rid1: ", (long)pid);
    CHECK("the text line: time, program[pid], level, request id", strstr(buf, want) != NULL);
    CHECK("... then the request, on one line",
          strstr(buf, "method=GET path=/api/health status=200 us=42 principal=-\n") != NULL &&
              strchr(buf, '\n') == buf + strlen(buf) - 1);
    /* The parent logs (and keeps its pid); a child forked after must not print the parent's. */
    struct ly_log log;
    ly_log_init(&log, "lanyard");
    int saved = dup(2); /* the parent's own line goes nowhere */
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    ly_log_request(&log, "GET", "/", 200, 1, NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(null);
    child_line(one_request_line, buf, sizeof(buf), &pid);
    snprintf(want, sizeof(want), " lanyard[%ld] info", (long)pid);
    CHECK("a child forked after the parent logged prints its own pid", strstr(buf, want) != NULL);
    snprintf(want, sizeof(want), "[%ld]", (long)getpid());
    CHECK("... not its parent's", strstr(buf, want) == NULL);
}

/* A worker holding request lines: a, b held; an error writes them first; c; a fork; d at exit. */
static void held_lines(void)
{
    struct ly_log log;
    ly_log_init(&log, "lanyard");
    log.hold = true;
    ly_log_request(&log, "GET", "/a", 200, 1, NULL);
    ly_log_request(&log, "GET", "/b", 200, 1, NULL);
    if (write(2, "|", 1) != 1)
        _exit(1);
    ly_log_error(&log, "boom");
    ly_log_request(&log, "GET", "/c", 200, 1, NULL);
    pid_t p = fork();
    if (p == 0)
        exit(0); /* runs the exit flush: /c must not be held here as well */
    waitpid(p, NULL, 0);
    ly_log_request(&log, "GET", "/d", 200, 1, NULL);
    exit(0);
}

static size_t count_of(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(s, what); p != NULL; p = strstr(p + 1, what))
        n++;
    return n;
}

static void test_log_held_lines(void **state)
{
    (void)state;
    char buf[4096];
    pid_t pid = 0;
    child_line(held_lines, buf, sizeof(buf), &pid);
    const char *bar = strchr(buf, '|');
    const char *a = strstr(buf, "path=/a "), *b = strstr(buf, "path=/b ");
    const char *err = strstr(buf, "boom\n"), *c = strstr(buf, "path=/c "),
               *d = strstr(buf, "path=/d ");
    CHECK("held lines are not written as they are logged", bar == buf);
    CHECK("another level's line writes the held ones first, in order",
          a != NULL && b != NULL && err != NULL && a < b && b < err);
    CHECK("a line held at a fork is written once",
          c != NULL && err < c && count_of(buf, "path=/c ") == 1);
    CHECK("the exit writes what is held", d != NULL && c < d);
    CHECK("and no line twice", count_of(buf, "path=/a ") == 1 && count_of(buf, "\n") == 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_str_to_u64),
        cmocka_unit_test(test_str_from_u64),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_emails),
        cmocka_unit_test(test_passwords_policy),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_civil),
        cmocka_unit_test(test_utf8_clean),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_slots),
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_domains),
        cmocka_unit_test(test_return_to),
        cmocka_unit_test(test_log_line_pid),
        cmocka_unit_test(test_log_held_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
