/*
 * fuzz_auth: the Authorization header through the authentication layer
 * (ly_auth_request, every kind a request may carry), in JWT and opaque token
 * mode, with a database that is down.
 *
 * The first byte holds flags: bit 0 opaque mode, bit 1 "@JWT@" in the value
 * becomes a JWT freshly signed with the worker's key, bit 2
 * tokens.jwt.check_revocation, bit 3 no Authorization header at all. The
 * rest (up to a NUL, as a CGI parameter ends there) is the header's value;
 * with bit 4 it is the decoded Basic credential instead (KEYID:secret, sent
 * as "Basic " and its base64), so mutations reach the pair's checks.
 * Invariants: LY_OK exactly for a Bearer credential that is the JWT we
 * signed (JWT mode, no revocation check); LY_E_UNAVAILABLE only when the
 * database was needed (a well-formed lya_ token or API key, Basic with a
 * well-formed KEYID:secret, or our JWT with the revocation check); otherwise LY_E_UNAUTHENTICATED
 * or LY_E_INVALID_TOKEN with a static reason and the right scheme; the challenge is a 401 with
 * WWW-Authenticate and a JSON problem body.
 */
#include "build-config.h"
#include "banned.h"

#include <stdbool.h>
#include <string.h>

#include <json-c/json.h>

#include "lanyard/arena.h"
#include "lanyard/auth.h"
#include "lanyard/codec.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/http.h"
#include "lanyard/jwt.h"
#include "lanyard/str.h"
#include "lanyard/token.h"

#include "fuzz.h"

#define HDR "HTTP_AUTHORIZATION="

/* The header value, with the first "@JWT@" replaced by jwt, as "HTTP_AUTHORIZATION=…". */
static char *header_line(struct ly_arena *a, const char *v, size_t n, const char *jwt)
{
    const char *mark = jwt ? memmem(v, n, "@JWT@", 5) : NULL;
    if (mark == NULL)
        return ly_arena_printf(a, HDR "%.*s", (int)n, v);
    return ly_arena_printf(a, HDR "%.*s%s%.*s", (int)(mark - v), v, jwt,
                           (int)(n - (size_t)(mark - v) - 5), mark + 5);
}

/* The credential after the scheme and its spaces (RFC 9110 §11.4), as auth.c reads it. */
static struct ly_str credential(const char *h, bool *bearer)
{
    const char *sp = strchr(h, ' ');
    struct ly_str scheme = {h, sp ? (size_t)(sp - h) : strlen(h)};
    *bearer = ly_str_eq_nocase(scheme, "Bearer");
    if (sp == NULL)
        return (struct ly_str){h + strlen(h), 0};
    while (*sp == ' ')
        sp++;
    return ly_str_from(sp);
}

/* A Basic credential that decodes to a well-formed KEYID:secret of ours. */
static bool basic_pair_ok(struct ly_str cred, const char *prefix)
{
    char buf[160];
    size_t n = 0;
    if (cred.len > 128 || ly_base64_decode(cred.ptr, cred.len, buf, sizeof(buf), &n) != 0)
        return false;
    const char *colon = memchr(buf, ':', n);
    if (colon == NULL)
        return false;
    struct ly_str id = {buf, (size_t)(colon - buf)};
    struct ly_str secret = {colon + 1, n - id.len - 1};
    return ly_apikey_check_pair(prefix, id, secret);
}

static void check_challenge(struct ly_request *req, int r, const struct ly_auth_failure *fail)
{
    struct ly_response resp;
    memset(&resp, 0, sizeof(resp));
    ly_auth_challenge(req, &resp, r, fail);
    FUZZ_CHECK(resp.status == 401);
    FUZZ_CHECK(ly_response_has_header(&resp, "WWW-Authenticate"));
    FUZZ_CHECK(resp.body != NULL && resp.content_type != NULL &&
               strcmp(resp.content_type, "application/problem+json") == 0);
    struct json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *o = json_tokener_parse_ex(tok, resp.body, (int)resp.body_len);
    FUZZ_CHECK(o != NULL && json_object_is_type(o, json_type_object));
    json_object_put(o);
    json_tokener_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool opaque = data[0] & 1, sign = data[0] & 2, revocation = data[0] & 4, absent = data[0] & 8;
    struct lanyard_ctx *ctx = fuzz_ctx(opaque ? LY_TOKENS_OPAQUE : LY_TOKENS_JWT);
    const char *v = (const char *)data + 1;
    size_t n = size - 1;
    const char *nul = memchr(v, '\0', n);
    if (nul != NULL)
        n = (size_t)(nul - v);

    ly_arena_init(&ctx->arena, 4096);
    ctx->cfg->tokens.jwt.check_revocation = revocation;
    char *env[] = {(char *)"REQUEST_METHOD=GET", (char *)"REQUEST_URI=/api/org/v1/me", NULL, NULL};
    struct ly_request req;
    FUZZ_CHECK(ly_request_init(&req, ctx->cfg, &ctx->arena, env) == LY_OK);
    const char *jwt = sign && ctx->keys ? fuzz_fresh_jwt(ctx, req.arena, req.now) : NULL;
    if (data[0] & 16) {
        char *b = ly_arena_alloc(req.arena, 6 + ly_base64_encoded_len(n) + 1);
        memcpy(b, "Basic ", 6);
        size_t bl = ly_base64_encode(v, n, b + 6);
        b[6 + bl] = '\0';
        v = b;
        n = 6 + bl;
    }
    if (!absent)
        env[2] = header_line(req.arena, v, n, jwt);
    /* Authorization is the authentication layer's to judge, however long. */
    FUZZ_CHECK(ly_request_init(&req, ctx->cfg, &ctx->arena, env) == LY_OK);

    struct ly_principal sentinel = {.subject = "sentinel"};
    struct ly_principal pr = sentinel;
    const struct ly_principal *p = NULL;
    struct ly_auth_failure fail = {LY_SCHEME_OTHER, "sentinel"};
    int r = ly_auth_request(&ctx->auth, &req, LY_CREDS_ON_REQUEST, &pr, &fail);
    if (r == LY_OK)
        p = &pr;
    else
        FUZZ_CHECK(pr.subject == sentinel.subject); /* untouched on failure */
    const char *h = ly_request_env(&req, "HTTP_AUTHORIZATION");
    bool bearer = false;
    struct ly_str cred = h ? credential(h, &bearer) : (struct ly_str){"", 0};
    bool basic = h != NULL && !bearer && strncasecmp(h, "Basic ", 6) == 0;
    bool ours = h != NULL && bearer && jwt != NULL && ly_str_eq_cstr(cred, jwt);
    struct ly_str kid, secret;
    bool opaque_ok = h != NULL && bearer &&
                     (ly_token_is_well_formed(LY_ACCESS_PREFIX, cred) ||
                      ly_apikey_parse(ctx->cfg->api_keys.prefix, cred, &kid, &secret));
    bool basic_ok = basic && basic_pair_ok(cred, ctx->cfg->api_keys.prefix);

    switch (r) {
    case LY_OK:
        FUZZ_CHECK(ours && !revocation);
        FUZZ_CHECK(p != NULL && p->cred == LY_CRED_JWT && strcmp(p->subject, "u-fuzz") == 0 &&
                   strcmp(p->session_id, "s-fuzz") == 0);
        break;
    case LY_E_UNAVAILABLE:
        FUZZ_CHECK(opaque_ok || basic_ok || (ours && revocation));
        break;
    case LY_E_UNAUTHENTICATED:
        FUZZ_CHECK(!ours && !opaque_ok && !basic_ok && p == NULL);
        FUZZ_CHECK(fail.why != NULL);
        FUZZ_CHECK(fail.scheme == LY_SCHEME_NONE || fail.scheme == LY_SCHEME_OTHER);
        check_challenge(&req, r, &fail);
        break;
    case LY_E_INVALID_TOKEN:
        FUZZ_CHECK(!ours && !opaque_ok && !basic_ok && p == NULL);
        FUZZ_CHECK(fail.why != NULL && strlen(fail.why) < 80);
        FUZZ_CHECK(fail.scheme == LY_SCHEME_BEARER || fail.scheme == LY_SCHEME_BASIC);
        check_challenge(&req, r, &fail);
        break;
    default:
        FUZZ_CHECK(!"unexpected result");
    }
    ly_arena_release(&ctx->arena);
    return 0;
}
