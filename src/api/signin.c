#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "lanyard/auth.h"
#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"
#include "lanyard/issue.h"
#include "lanyard/password.h"
#include "lanyard/sessions.h"
#include "lanyard/throttle.h"
#include "lanyard/token.h"
#include "lanyard/users.h"
#include "lanyard/validate.h"

/*
 * The one answer to every failed sign-in, whatever failed (SPEC §5.2). RFC
 * 9110 §15.5.2 wants a challenge on every 401: the API's scheme is Bearer.
 */
static void signin_refused(struct ly_request *req, struct ly_response *resp)
{
    ly_response_problem(req, resp, LY_E_UNAUTHENTICATED, "invalid e-mail or password", NULL);
    ly_response_header(resp, "WWW-Authenticate", "Bearer realm=\"lanyard\"");
}

int ly_api_signin(struct ly_request *req, struct ly_response *resp)
{
    static const struct ly_json_field fields[] = {{"email", LY_JSON_STRING, true},
                                                  {"password", LY_JSON_STRING, true}};
    struct lanyard_ctx *ctx = req->ctx;
    const struct ly_config *cfg = ctx->cfg;
    struct ly_field_errors errs = {.n = 0};
    if (ly_json_check_fields(req->json, fields, 2, &errs) != LY_OK) {
        ly_response_invalid(req, resp, &errs);
        return LY_OK;
    }
    const char *email = NULL;
    const char *pw = ly_json_get_string(req->json, "password");
    bool email_ok = ly_email_normalize(req->arena, ly_json_get_string(req->json, "email"), &email);

    int r;
    int64_t retry_after = 0;
    if (email_ok) {
        /* Counted before scrypt, so concurrent guesses cannot all slip under the limit. */
        r = ly_throttle_reserve(ctx->db, req->arena, ly_throttle_account(email),
                                cfg->security.signin_max_failures, cfg->security.signin_window,
                                req->now, &retry_after);
        if (r == LY_E_RATE_LIMITED) {
            ly_response_header(resp, "Retry-After",
                               ly_arena_printf(req->arena, "%lld",
                                               (long long)(retry_after > 0 ? retry_after : 1)));
            ly_response_problem(req, resp, LY_E_RATE_LIMITED,
                                "too many failed sign-ins; try again later", NULL);
            return LY_OK;
        }
        if (r != LY_OK)
            return r;
    }
    struct ly_user u;
    bool have_user = false;
    if (email_ok) {
        r = ly_users_get_by_email(ctx->db, req->arena, email, &u);
        if (r != LY_OK && r != LY_E_NOT_FOUND)
            return r;
        have_user = r == LY_OK;
    }
    /* An unknown e-mail costs the same scrypt work as a wrong password. */
    bool ok = ly_password_verify(&ctx->scrypt, have_user ? u.password_hash : NULL, pw, strlen(pw));
    if (!ok || !have_user || u.disabled) {
        signin_refused(req, resp);
        return LY_OK;
    }

    const char *sid = NULL;
    struct json_object *tokens = NULL;
    if ((r = ly_db_begin(ctx->db)) != LY_OK)
        return r;
    if ((r = ly_throttle_clear(ctx->db, req->arena, ly_throttle_account(email))) != LY_OK ||
        (r = ly_sessions_create(ctx->db, req->arena, u.id, "signin", req->client_ip,
                                req->user_agent, req->now, &sid)) != LY_OK ||
        (r = ly_issue_user_tokens(req, u.id, sid, &tokens)) != LY_OK ||
        (r = ly_db_commit(ctx->db)) != LY_OK) {
        ly_db_rollback(ctx->db);
        return r;
    }
    resp->principal = u.id;
    ly_issue_respond(req, resp, tokens);
    return LY_OK;
}

int ly_api_signout(struct ly_request *req, struct ly_response *resp)
{
    static const struct ly_json_field fields[] = {{"refresh_token", LY_JSON_STRING, false}};
    struct lanyard_ctx *ctx = req->ctx;
    struct ly_field_errors errs = {.n = 0};
    if (ly_json_check_fields(req->json, fields, 1, &errs) != LY_OK) {
        ly_response_invalid(req, resp, &errs);
        return LY_OK;
    }
    const struct ly_principal *p = req->principal;
    const char *rt = ly_json_get_string(req->json, "refresh_token");
    if (p != NULL && p->type != LY_PRINCIPAL_USER) {
        ly_response_problem(req, resp, LY_E_FORBIDDEN, "only users have sessions", NULL);
        return LY_OK;
    }
    if (p == NULL && rt == NULL) {
        struct ly_auth_failure fail = {LY_SCHEME_NONE,
                                       "an access token or a refresh_token is required"};
        ly_auth_challenge(req, resp, LY_E_UNAUTHENTICATED, &fail);
        return LY_OK;
    }
    int r;
    if ((r = ly_db_begin(ctx->db)) != LY_OK)
        return r;
    if (p != NULL &&
        (r = ly_sessions_revoke(ctx->db, req->arena, p->session_id, req->now)) != LY_OK)
        goto out;
    if (rt != NULL && ly_token_is_well_formed(LY_REFRESH_PREFIX, ly_str_from(rt))) {
        unsigned char hash[LY_SHA256_LEN];
        struct ly_refresh ref;
        ly_sha256(rt, strlen(rt), hash);
        r = ly_refresh_lookup(ctx->db, req->arena, hash, false, &ref);
        /* With an access token, only a session of the same user may be ended this way. */
        if (r == LY_OK && (p == NULL || strcmp(ref.user_id, p->id) == 0))
            r = ly_sessions_revoke(ctx->db, req->arena, ref.session_id, req->now);
        else if (r == LY_E_NOT_FOUND || r == LY_OK)
            r = LY_OK; /* RFC 7009 §2.2 spirit: an unknown token is not an error */
        if (r != LY_OK)
            goto out;
    }
    if ((r = ly_db_commit(ctx->db)) != LY_OK)
        goto out;
    ly_response_empty(resp, 204);
out:
    ly_db_rollback(ctx->db);
    return r;
}
