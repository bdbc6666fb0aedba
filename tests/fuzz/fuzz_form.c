/*
 * fuzz_form: percent-decoding and the a=b&c=d readers of the query string
 * and of x-www-form-urlencoded bodies (ly_percent_decode, ly_form_get,
 * ly_request_query).
 *
 * The input's first line is the name to look up; the rest is the query or
 * form text. Invariants: decoded output has no NUL, is NUL-terminated, is
 * no longer than its input and matches a reference decoder; malformed
 * escapes are refused exactly when the reference refuses them; the lookups
 * return 0, 1 or LY_E_INVALID_REQUEST, and a value found is no longer than
 * the text it came from. The rest is also read as a Cookie header
 * (ly_cookie_get): 0, 1 or LY_E_INVALID_REQUEST, and a value found is a
 * run of cookie-octets no longer than the header; the console's session
 * cookie (lanyard_refresh, SPEC §5.14) is looked up too. The rest is also
 * the body of a device-authorization (RFC 8628 §3.1) or introspection
 * (RFC 7662 §2.1) request, x-www-form-urlencoded, read as their handlers
 * read it (ly_api_oauth_param): the same answer as ly_form_get for every
 * parameter they take.
 */
#include "build-config.h"
#include "banned.h"

#include <stdbool.h>
#include <string.h>

#include "lanyard/api.h"
#include "lanyard/arena.h"
#include "lanyard/err.h"
#include "lanyard/http.h"
#include "lanyard/issue.h"
#include "lanyard/mem.h"
#include "lanyard/str.h"

#include "fuzz.h"

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reference decoder into out (room for len bytes); -1 where a decoder must refuse. */
static long ref_decode(const uint8_t *s, size_t len, bool plus, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        if (c == '%') {
            if (len - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                return -1;
            c = (uint8_t)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (c == 0)
            return -1;
        out[n++] = (char)c;
    }
    return (long)n;
}

static void check_decode(struct ly_arena *a, const uint8_t *s, size_t len, bool plus)
{
    const char *out = NULL;
    size_t outlen = (size_t)-1;
    char *want = ly_xmalloc(len + 1);
    long n = ref_decode(s, len, plus, want);
    int r = ly_percent_decode(a, (struct ly_str){(const char *)s, len}, plus, &out, &outlen);

    FUZZ_CHECK(r == 0 || r == -1);
    FUZZ_CHECK((r == 0) == (n >= 0));
    if (r == 0) {
        FUZZ_CHECK(out != NULL && outlen <= len && outlen == (size_t)n);
        FUZZ_CHECK(strlen(out) == outlen);
        FUZZ_CHECK(memcmp(out, want, outlen) == 0);
    } else {
        FUZZ_CHECK(out == NULL && outlen == (size_t)-1);
    }
    free(want);
}

static void check_lookup(int r, const char *v, size_t textlen)
{
    FUZZ_CHECK(r == 0 || r == 1 || r == LY_E_INVALID_REQUEST);
    if (r == 0)
        FUZZ_CHECK(v != NULL && strlen(v) <= textlen);
    else
        FUZZ_CHECK(v == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ly_arena arena;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t namelen = nl ? (size_t)(nl - data) : 0;
    struct ly_str text = nl ? (struct ly_str){(const char *)nl + 1, size - namelen - 1}
                            : (struct ly_str){(const char *)data, size};
    const char *v = NULL;

    ly_arena_init(&arena, 4096);
    check_decode(&arena, data, size, false);
    check_decode(&arena, data, size, true);

    /* A name is a C string: with a NUL in it, only the part before counts. */
    char *name = ly_arena_strndup(&arena, (const char *)data, namelen);
    int r = ly_form_get(&arena, text, name, &v);
    check_lookup(r, v, text.len);

    struct ly_request req;
    memset(&req, 0, sizeof(req));
    req.arena = &arena;
    req.query = text;
    v = NULL;
    int r2 = ly_request_query(&req, name, &v);
    check_lookup(r2, v, text.len);
    FUZZ_CHECK(r == r2); /* the query and the form are read alike */

    v = NULL;
    int r3 = ly_cookie_get(&arena, text, name, &v);
    check_lookup(r3, v, text.len);
    for (const char *p = r3 == 0 ? v : ""; *p != '\0'; p++)
        FUZZ_CHECK(*p > 0x20 && *p < 0x7f && *p != '"' && *p != ',' && *p != ';' && *p != '\\');

    v = NULL;
    int r4 = ly_cookie_get(&arena, text, LY_REFRESH_COOKIE, &v);
    check_lookup(r4, v, text.len);

    /* the device and introspection forms, as their handlers read them */
    static const char *const oauth[] = {"client_id",       "scope",      "token",
                                        "token_type_hint", "grant_type", "device_code",
                                        "client_secret"};
    req.form = true;
    req.body = text;
    for (size_t i = 0; i < sizeof(oauth) / sizeof(oauth[0]); i++) {
        const char *a = NULL, *b = NULL;
        int ra = ly_api_oauth_param(&req, oauth[i], &a);
        int rb = ly_form_get(&arena, text, oauth[i], &b);
        check_lookup(ra, a, text.len);
        FUZZ_CHECK(ra == rb && (ra != 0 || strcmp(a, b) == 0));
    }

    ly_arena_release(&arena);
    return 0;
}
