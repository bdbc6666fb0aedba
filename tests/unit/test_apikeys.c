/*
 * Unit tests of the lifetime rules of API keys (SPEC §5.11): the pure
 * functions of src/store/apikeys.c that decide when a key made or rotated
 * now expires. The store's SQL is exercised end to end (tests/e2e).
 */
#include "build-config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "lanyard/apikeys.h"
#include "lanyard/config.h"
#include "lanyard/err.h"

#define NOW 1900000000
#define DAY 86400

static void test_expiry(void **state)
{
    (void)state;
    struct ly_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.api_keys.default_ttl = 365 * DAY;
    cfg.api_keys.max_ttl = 730 * DAY;
    static const struct {
        const char *desc;
        bool allow_no_expiry, has_ttl;
        int64_t ttl;
        bool has_at, at_null;
        int64_t at;
        int want;
        int64_t expires; /* when LY_OK; -1 never */
    } cases[] = {
        {"neither: default_ttl", false, false, 0, false, false, 0, LY_OK, NOW + 365 * DAY},
        {"ttl", false, true, 3600, false, false, 0, LY_OK, NOW + 3600},
        {"ttl of exactly a minute", false, true, 60, false, false, 0, LY_OK, NOW + 60},
        {"ttl under a minute", false, true, 59, false, false, 0, LY_E_VALIDATION, 0},
        {"ttl of max_ttl", false, true, 730 * DAY, false, false, 0, LY_OK, NOW + 730 * DAY},
        {"ttl past max_ttl", false, true, 730 * DAY + 1, false, false, 0, LY_E_VALIDATION, 0},
        {"expires_at", false, false, 0, true, false, NOW + 7 * DAY, LY_OK, NOW + 7 * DAY},
        {"expires_at in the past", false, false, 0, true, false, NOW - 1, LY_E_VALIDATION, 0},
        {"expires_at 59 s ahead", false, false, 0, true, false, NOW + 59, LY_E_VALIDATION, 0},
        {"expires_at past max_ttl", false, false, 0, true, false, NOW + 731 * DAY, LY_E_VALIDATION,
         0},
        {"both", false, true, 3600, true, false, NOW + 3600, LY_E_VALIDATION, 0},
        {"null, not allowed", false, false, 0, true, true, 0, LY_E_VALIDATION, 0},
        {"null, allowed", true, false, 0, true, true, 0, LY_OK, -1},
        {"allowed, but ttl still bounded", true, true, 731 * DAY, false, false, 0, LY_E_VALIDATION,
         0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cfg.api_keys.allow_no_expiry = cases[i].allow_no_expiry;
        int64_t out = 12345;
        const char *why = NULL;
        int r = ly_api_keys_expiry(&cfg, NOW, cases[i].has_ttl, cases[i].ttl, cases[i].has_at,
                                   cases[i].at_null, cases[i].at, &out, &why);
        CHECK(cases[i].desc, r == cases[i].want);
        if (r == LY_OK)
            CHECK(cases[i].desc, out == cases[i].expires);
        else
            CHECK(cases[i].desc, out == 12345 && why != NULL && why[0] != '\0');
    }
}

static void test_rotated_expiry(void **state)
{
    (void)state;
    struct ly_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.api_keys.max_ttl = 730 * DAY;
    CHECK("the old key's lifetime again",
          ly_api_keys_rotated_expiry(&cfg, NOW, 90 * DAY) == NOW + 90 * DAY);
    CHECK("capped by max_ttl as it is now",
          ly_api_keys_rotated_expiry(&cfg, NOW, 3650 * DAY) == NOW + 730 * DAY);
    CHECK("no expiry stays none", ly_api_keys_rotated_expiry(&cfg, NOW, -1) == -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_rotated_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
