/*
 * test_seal: AES-256-GCM sealed secrets and the secrets key file (src/crypto/seal.c).
 */
#include "build-config.h"
#include "banned.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "check.h"
#include "lanyard/arena.h"
#include "lanyard/codec.h"
#include "lanyard/err.h"
#include "lanyard/seal.h"

struct fixture {
    char dir[64];
    struct ly_arena arena;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/lanyard-test-seal-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    ly_arena_init(&f->arena, 4096);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    ly_arena_release(&f->arena);
    rmdir(f->dir);
    free(f);
    return 0;
}

static const struct ly_seal_key key1 = {{1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                         12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                         23, 24, 25, 26, 27, 28, 29, 30, 31, 32}};

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    static const char secret[] = "s3cr3t-client-secret-value";
    char *sealed = NULL, *sealed2 = NULL, *plain = NULL;
    size_t n = 0;

    assert_int_equal(ly_seal(&key1, "org-1", secret, strlen(secret), &f->arena, &sealed), LY_OK);
    assert_non_null(sealed);
    assert_memory_equal(sealed, "v1.", 3);
    assert_int_equal(strlen(sealed), 3 + ly_base64url_encoded_len(12 + strlen(secret) + 16));
    assert_null(strstr(sealed, "s3cr3t"));
    assert_int_equal(ly_seal_open(&key1, "org-1", sealed, &f->arena, &plain, &n), LY_OK);
    assert_int_equal(n, strlen(secret));
    assert_string_equal(plain, secret);
    /* a fresh nonce each time: the same secret never seals the same way twice */
    assert_int_equal(ly_seal(&key1, "org-1", secret, strlen(secret), &f->arena, &sealed2), LY_OK);
    assert_string_not_equal(sealed, sealed2);
    /* the empty secret */
    assert_int_equal(ly_seal(&key1, "org-1", "", 0, &f->arena, &sealed), LY_OK);
    assert_int_equal(ly_seal_open(&key1, "org-1", sealed, &f->arena, &plain, &n), LY_OK);
    assert_int_equal(n, 0);
    assert_string_equal(plain, "");
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    struct ly_seal_key key2 = key1;
    char *sealed = NULL, *t, *plain = (char *)"untouched";
    size_t n = 77, len, i;

    key2.k[31] ^= 0x80;
    assert_int_equal(ly_seal(&key1, "org-1", "secret", 6, &f->arena, &sealed), LY_OK);
    len = strlen(sealed);
    assert_int_equal(ly_seal_open(&key2, "org-1", sealed, &f->arena, &plain, &n), LY_E_CRYPTO);
    assert_int_equal(ly_seal_open(&key1, "org-2", sealed, &f->arena, &plain, &n), LY_E_CRYPTO);
    assert_int_equal(ly_seal_open(&key1, "", sealed, &f->arena, &plain, &n), LY_E_CRYPTO);
    /* every character of the body changed in turn: nonce, ciphertext and tag are all covered */
    for (i = 3; i < len - 1; i++) {
        t = ly_arena_strdup(&f->arena, sealed);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        CHECK("flipped", ly_seal_open(&key1, "org-1", t, &f->arena, &plain, &n) == LY_E_CRYPTO);
    }
    /* truncated at every length */
    for (i = 0; i < len; i++) {
        t = ly_arena_strndup(&f->arena, sealed, i);
        CHECK("truncated", ly_seal_open(&key1, "org-1", t, &f->arena, &plain, &n) == LY_E_CRYPTO);
    }
    t = ly_arena_strdup(&f->arena, sealed);
    t[1] = '2';
    assert_int_equal(ly_seal_open(&key1, "org-1", t, &f->arena, &plain, &n), LY_E_CRYPTO);
    assert_int_equal(ly_seal_open(&key1, "org-1", sealed + 3, &f->arena, &plain, &n), LY_E_CRYPTO);
    t = ly_arena_printf(&f->arena, "%s=", sealed);
    assert_int_equal(ly_seal_open(&key1, "org-1", t, &f->arena, &plain, &n), LY_E_CRYPTO);
    t = ly_arena_printf(&f->arena, "%sAAAA", sealed);
    assert_int_equal(ly_seal_open(&key1, "org-1", t, &f->arena, &plain, &n), LY_E_CRYPTO);
    assert_int_equal(ly_seal_open(&key1, "org-1", "v1.", &f->arena, &plain, &n), LY_E_CRYPTO);
    assert_string_equal(plain, "untouched");
    assert_int_equal(n, 77);
}

/* Write n bytes into dir/name with mode; returns the path (in the arena). */
static const char *write_key(struct fixture *f, const char *name, const void *p, size_t n,
                             mode_t mode)
{
    char *path = ly_arena_printf(&f->arena, "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void test_key_file(void **state)
{
    struct fixture *f = *state;
    struct ly_seal_key k;
    unsigned char raw[32];
    char b64[64], err[512];
    const char *path;
    size_t i, len;
    static const struct {
        const char *desc;
        int want;
        const char *text; /* NULL: the raw 32 bytes */
        mode_t mode;
    } rows[] = {
        {"raw 32 bytes", LY_OK, NULL, 0600},
        {"raw, group-readable (0640 root:www-data)", LY_OK, NULL, 0640},
        {"raw, readable by all", LY_E_CONFIG, NULL, 0644},
        {"raw, writable by all", LY_E_CONFIG, NULL, 0602},
        {"base64, padded, newline", LY_OK, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n", 0400},
        {"base64, padded, CRLF", LY_OK, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\r\n", 0600},
        {"base64, unpadded", LY_OK, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA", 0600},
        {"base64, two newlines", LY_E_CONFIG, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n\n",
         0600},
        {"base64 of 31 bytes", LY_E_CONFIG, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHw==\n", 0600},
        {"base64 of 33 bytes", LY_E_CONFIG, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAh\n", 0600},
        {"31 raw bytes", LY_E_CONFIG, "0123456789012345678901234567890", 0600},
        {"33 raw bytes", LY_E_CONFIG, "012345678901234567890123456789012", 0600},
        {"empty", LY_E_CONFIG, "", 0600},
        {"base64, bad character", LY_E_CONFIG, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eH*A=\n",
         0600},
    };

    memcpy(raw, key1.k, 32);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const void *p = rows[i].text != NULL ? (const void *)rows[i].text : raw;
        len = rows[i].text != NULL ? strlen(rows[i].text) : sizeof(raw);
        path = write_key(f, "key", p, len, rows[i].mode);
        memset(&k, 0xEE, sizeof(k));
        err[0] = '\0';
        int r = ly_seal_key_load(path, &k, err, sizeof(err));
        char desc[600];
        snprintf(desc, sizeof(desc), "%s (%d: %s)", rows[i].desc, r, err);
        CHECK(desc, r == rows[i].want);
        if (r == LY_OK) {
            CHECK(desc, memcmp(k.k, key1.k, 32) == 0);
        } else {
            CHECK(desc, strstr(err, path) != NULL && strchr(err, '\n') == NULL);
            CHECK(desc, strstr(err, "AQID") == NULL); /* never the contents */
            for (size_t j = 0; j < sizeof(k.k); j++)
                CHECK(desc, k.k[j] == 0xEE);
        }
        unlink(path);
    }
    /* url-safe alphabet: a key whose base64 has '+' and '/' */
    memset(raw, 0xFB, sizeof(raw));
    ly_base64_encode(raw, sizeof(raw), b64);
    assert_non_null(strchr(b64, '+'));
    for (i = 0; b64[i] != '\0'; i++)
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    path = write_key(f, "key", b64, strlen(b64), 0600);
    assert_int_equal(ly_seal_key_load(path, &k, err, sizeof(err)), LY_OK);
    assert_memory_equal(k.k, raw, 32);
    ly_seal_key_wipe(&k);
    for (i = 0; i < sizeof(k.k); i++)
        assert_int_equal(k.k[i], 0);
    unlink(path);
    /* missing file, no path, a directory */
    path = ly_arena_printf(&f->arena, "%s/absent", f->dir);
    assert_int_equal(ly_seal_key_load(path, &k, err, sizeof(err)), LY_E_CONFIG);
    assert_non_null(strstr(err, path));
    assert_int_equal(ly_seal_key_load("", &k, err, sizeof(err)), LY_E_CONFIG);
    assert_int_equal(ly_seal_key_load(f->dir, &k, err, sizeof(err)), LY_E_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_key_file),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
