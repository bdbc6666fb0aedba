/*
 * fuzz_request: one request end to end, as src/http/fcgi.c handle_one()
 * drives it (ly_request_init, the body rules, ly_api_handle), against a
 * worker in JWT mode whose database is down.
 *
 * The input is CGI parameters, one NAME=value per line, then an empty
 * line, then the body. "@JWT@" in a parameter becomes a JWT the worker's key
 * signed, valid now, so handlers behind authentication are reached.
 * Invariants: every answer has a status in 200..599 and never 500 (an
 * unhandled path); a body comes with application/json or
 * application/problem+json and is one JSON value; 503 has Retry-After, 405
 * has Allow, 401 outside the OAuth endpoints and sign-in has
 * WWW-Authenticate; no header
 * value holds CR or LF; the request id is 1-128 token characters.
 */
#include "build-config.h"
#include "banned.h"

#include <stdbool.h>
#include <string.h>

#include <json-c/json.h>

#include "lanyard/arena.h"
#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/http.h"
#include "lanyard/jwt.h"
#include "lanyard/api.h"
#include "lanyard/str.h"

#include "fuzz.h"

#define MAX_ENV 64

/* One parameter line as a C string (it ends at a NUL, as a CGI parameter does), @JWT@ replaced. */
static char *param(struct ly_arena *a, const char *s, size_t n, const char *jwt)
{
    const char *nul = memchr(s, '\0', n);
    if (nul != NULL)
        n = (size_t)(nul - s);
    const char *mark = memmem(s, n, "@JWT@", 5);
    if (mark == NULL)
        return ly_arena_strndup(a, s, n);
    return ly_arena_printf(a, "%.*s%s%.*s", (int)(mark - s), s, jwt,
                           (int)(n - (size_t)(mark - s) - 5), mark + 5);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lanyard_ctx *ctx = fuzz_ctx(LY_TOKENS_JWT);
    const char *p = (const char *)data, *end = p + size;
    char *env[MAX_ENV + 1];
    size_t n = 0;
    struct ly_request req;
    struct ly_response resp;

    ly_arena_init(&ctx->arena, 4096);
    /* the clock and an arena for the JWT, before the real parse */
    char *none[] = {NULL};
    ly_request_init(&req, ctx->cfg, &ctx->arena, none);
    const char *jwt = fuzz_fresh_jwt(ctx, req.arena, req.now);

    while (p < end && n < MAX_ENV) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (len == 0) {
            p++; /* the empty line: the body follows */
            break;
        }
        env[n++] = param(&ctx->arena, p, len, jwt);
        p += len + (nl != NULL);
    }
    env[n] = NULL;
    struct ly_str rest = {p, (size_t)(end - p)};

    /* as handle_one() in src/http/fcgi.c */
    memset(&resp, 0, sizeof(resp));
    bool too_large = false;
    int r = fuzz_request_start(ctx, &req, env, rest, &too_large);
    ly_api_handle(&req, &resp, r, too_large);
    fuzz_check_response(&req, &resp);
    if (getenv("FUZZ_VERBOSE") != NULL) /* for corpus work: what each input reached */
        fprintf(stderr, "%d %s %.*s\n", resp.status, req.raw_path, (int)resp.body_len,
                resp.body ? resp.body : "");
    FUZZ_CHECK(ctx->db == NULL || !ly_db_in_transaction(ctx->db));

    ly_arena_release(&ctx->arena);
    return 0;
}
