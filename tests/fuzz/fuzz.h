/*
 * fuzz: what every tests/fuzz/fuzz_<parser>.c shares (STYLE 18). A target
 * defines LLVMFuzzerTestOneInput; libFuzzer drives it (build.sh), or
 * standalone.c replays a corpus through it (make check).
 *
 * FUZZ_CHECK stays active in every build, unlike assert(): a broken
 * invariant aborts, which both libFuzzer and the replay report.
 */
#ifndef LY_FUZZ_H
#define LY_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lanyard/config.h"
#include "lanyard/str.h"

/* One input; returns 0. Called once per input, in any order. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/*
 * The worker state of tests/fuzz/ctx.c for mode, built once per process:
 * a hand-made config, an EdDSA keyset in JWT mode, and a database handle
 * whose socket does not exist (every call is LY_E_UNAVAILABLE at once).
 * The caller gives it a fresh arena per input (ly_arena_init/_release).
 */
struct lanyard_ctx;
struct lanyard_ctx *fuzz_ctx(enum ly_token_mode mode);

/*
 * The same in JWT mode against a live database (fuzz_live, tests/fuzz/live.sh):
 * MariaDB at the unix socket, password the lanyard account's (both borrowed).
 */
struct lanyard_ctx *fuzz_ctx_live(const char *socket, const char *password);

/*
 * The invariants every answer keeps (fuzz_request, fuzz_live): a status in
 * 200..599 and never 500 (an unhandled path); a body comes with
 * application/json or application/problem+json and is one JSON value; 503
 * has Retry-After, 405 has Allow, 401 outside the OAuth endpoints and
 * sign-in has WWW-Authenticate; no header value holds CR or LF; the request
 * id is 1-128 token characters. A broken one aborts.
 */
struct ly_request;
struct ly_response;
void fuzz_check_response(const struct ly_request *req, const struct ly_response *resp);

/*
 * ly_request_init on env, then the body as handle_one() (src/http/fcgi.c)
 * reads it from rest: *too_large past server.max_body, LY_E_INVALID_REQUEST
 * when rest is shorter than CONTENT_LENGTH. Returns init's error for
 * ly_api_handle.
 */
int fuzz_request_start(struct lanyard_ctx *ctx, struct ly_request *req, char **env,
                       struct ly_str rest, bool *too_large);

/* A user's JWT signed with ctx's key, valid at now, in a (for @JWT@ in inputs). */
struct ly_arena;
char *fuzz_fresh_jwt(struct lanyard_ctx *ctx, struct ly_arena *a, int64_t now);

#endif
