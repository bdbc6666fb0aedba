#include "build-config.h"
#include "banned.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "lanyard/arena.h"
#include "lanyard/err.h"
#include "lanyard/httpc.h"

/* Which URLs count as plain http to this machine (SPEC §5.15, lanyard-login's --url). */
struct loop_case {
    const char *url;
    bool loopback;
};

static const struct loop_case loop_cases[] = {
    {"http://127.0.0.1", true},
    {"http://127.0.0.1/", true},
    {"http://127.0.0.1:8080/api/health?x=1", true},
    {"http://127.9.9.9", true},
    {"http://127.255.255.255:1", true},
    {"http://[::1]", true},
    {"http://[::1]:8080/x", true},
    {"http://localhost", true},
    {"http://LOCALHOST:80/", true},
    {"HTTP://127.0.0.1/", true},
    {"http://127.0.0.1?q", true},
    {"http://127.0.0.1#frag", true},

    {"http://127.0.0.1.evil.com", false},
    {"http://127.0.0.1.evil.com/", false},
    {"http://localhost.evil.com", false},
    {"http://localhost.", false},
    {"http://evil.com/127.0.0.1", false},
    {"http://user@127.0.0.1", false},
    {"http://user:pw@127.0.0.1/", false},
    {"http://127.0.0.1@evil.com/", false},
    {"http://127.0.0.1:80@evil.com/", false},
    {"http://127.0.0.1\\@evil.com/", false},
    {"http://[::1]@evil.com/", false},
    {"https://127.0.0.1", false},
    {"https://localhost/", false},
    {"ftp://127.0.0.1/", false},
    {"127.0.0.1", false},
    {"//127.0.0.1", false},
    {"http://0x7f.1", false},
    {"http://0x7f000001/", false},
    {"http://2130706433/", false},
    {"http://0177.0.0.1/", false},
    {"http://127.0.0.01/", false},
    {"http://127.0.0.256/", false},
    {"http://127.0.0/", false},
    {"http://127.0.0.1.", false},
    {"http://127.1/", false},
    {"http://[::2]/", false},
    {"http://[::ffff:127.0.0.1]/", false},
    {"http://[::1", false},
    {"http://127.0.0.1:/", false},
    {"http://127.0.0.1:0/", false},
    {"http://127.0.0.1:65536/", false},
    {"http://127.0.0.1:80a/", false},
    {"http://%31%32%37.0.0.1/", false},
    {"http://127.0.0.1 .evil.com/", false},
    {"http://", false},
    {"", false},
};

static void test_loopback(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(loop_cases) / sizeof(loop_cases[0]); i++)
        CHECK(loop_cases[i].url,
              ly_httpc_is_loopback_http(loop_cases[i].url) == loop_cases[i].loopback);
    CHECK("NULL", !ly_httpc_is_loopback_http(NULL));
}

struct esc_case {
    const char *in;
    const char *out;
};

static const struct esc_case esc_cases[] = {
    /* RFC 6749 Appendix B */
    {" %&+\xc2\xa3\xe2\x82\xac", "+%25%26%2B%C2%A3%E2%82%AC"},
    {"", ""},
    {"s6BhdRkqt3", "s6BhdRkqt3"},
    {"AZaz09-._*", "AZaz09-._*"},
    {"user:pass", "user%3Apass"},
    {"a=b&c=d", "a%3Db%26c%3Dd"},
    {"~/?#[]@!$'()\",;", "%7E%2F%3F%23%5B%5D%40%21%24%27%28%29%22%2C%3B"},
    {"\x01\x7f\xff", "%01%7F%FF"},
    {"urn:ietf:params:oauth:grant-type:device_code",
     "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"},
};

static void test_form_escape(void **state)
{
    struct ly_arena a;
    (void)state;

    ly_arena_init(&a, 1024);
    for (size_t i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
        const char *got = ly_httpc_form_escape(&a, esc_cases[i].in);
        CHECK(esc_cases[i].out, strcmp(got, esc_cases[i].out) == 0);
    }
    ly_arena_release(&a);
}

/*
 * Refusals that need no network: the scheme rules come before any
 * connection (unit tests stay pure; test_login.py makes real round trips).
 */
static void test_refusals(void **state)
{
    struct ly_httpc *c = NULL;
    struct ly_httpc_opts o = {0};
    struct ly_httpc_resp resp = {.status = -1};
    struct ly_arena a;
    char err[256];
    (void)state;

    ly_arena_init(&a, 1024);
    assert_int_equal(ly_httpc_new(&o, &c), 0);

    struct ly_httpc_req http = {.method = "GET", .url = "http://127.0.0.1:1/x?code=SECRET"};
    assert_int_equal(ly_httpc_do(c, &http, &a, &resp, err, sizeof(err)), LY_E_INVALID_REQUEST);
    CHECK("no query in the error", strstr(err, "SECRET") == NULL);
    CHECK("resp untouched", resp.status == -1);

    struct ly_httpc_req ftp = {.method = "GET", .url = "ftp://127.0.0.1/x"};
    assert_int_equal(ly_httpc_do(c, &ftp, &a, &resp, err, sizeof(err)), LY_E_INVALID_REQUEST);

    struct ly_httpc_req userinfo = {.method = "GET", .url = "https://u:hunter2@127.0.0.1:1/"};
    assert_int_equal(ly_httpc_do(c, &userinfo, &a, &resp, err, sizeof(err)), LY_E_INVALID_REQUEST);
    CHECK("no password in the error", strstr(err, "hunter2") == NULL);

    struct ly_httpc_req put = {.method = "PUT", .url = "https://127.0.0.1:1/"};
    assert_int_equal(ly_httpc_do(c, &put, &a, &resp, err, sizeof(err)), LY_E_INVALID_REQUEST);
    CHECK("resp untouched", resp.status == -1);
    ly_httpc_free(c);
    ly_httpc_free(NULL);
    ly_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_form_escape),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
