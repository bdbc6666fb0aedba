#include "build-config.h"
#include "banned.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lanyard/purge.h"

/* SPEC §6 bounded storage: when a row of each table has ended (include/lanyard/purge.h). */
static void test_cutoffs(void **state)
{
    (void)state;
    const struct ly_purge_policy p = {.refresh_ttl = 30 * 86400, .throttle_window = 900};
    const int64_t now = 1800000000;
    assert_int_equal(ly_purge_cutoff(LY_PURGE_REFRESH_TOKENS, &p, now), now);
    assert_int_equal(ly_purge_cutoff(LY_PURGE_ACCESS_TOKENS, &p, now), now);
    assert_int_equal(ly_purge_cutoff(LY_PURGE_SESSIONS, &p, now), now - 30 * 86400);
    assert_int_equal(ly_purge_cutoff(LY_PURGE_DEVICE_CODES, &p, now), now - 3600);
    assert_int_equal(ly_purge_cutoff(LY_PURGE_THROTTLE, &p, now), now - 900);
    assert_int_equal(ly_purge_cutoff(LY_PURGE_API_KEYS, &p, now), now - 30 * 86400);
    assert_int_equal(ly_purge_cutoff(LY_PURGE_SSO_STATES, &p, now), now);
}

/* The names lanyardctl purge prints, in its order: tokens before the sessions they name. */
static void test_names(void **state)
{
    (void)state;
    static const char *const want[LY_PURGE_N] = {"refresh_tokens", "access_tokens",   "sessions",
                                                 "device_codes",   "signin_throttle", "api_keys",
                                                 "sso_states"};
    for (int t = 0; t < LY_PURGE_N; t++)
        assert_string_equal(ly_purge_table_name((enum ly_purge_table)t), want[t]);
    assert_null(ly_purge_table_name(LY_PURGE_N));
    assert_null(ly_purge_table_name((enum ly_purge_table) - 1));
}

/* Arguments out of range are refused before any statement runs (no database needed). */
static void test_refusals(void **state)
{
    (void)state;
    const struct ly_purge_policy p = {.refresh_ttl = 60, .throttle_window = 60};
    uint64_t n = 7;
    assert_int_not_equal(ly_purge_batch(NULL, NULL, LY_PURGE_N, &p, 0, 10, &n), 0);
    assert_int_not_equal(ly_purge_batch(NULL, NULL, LY_PURGE_SESSIONS, &p, 0, 0, &n), 0);
    assert_int_not_equal(ly_purge_count(NULL, NULL, LY_PURGE_N, &p, 0, &n), 0);
    assert_int_equal(n, 7); /* outputs untouched on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cutoffs),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
