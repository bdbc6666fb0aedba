#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"
#include "lanyard/issue.h"
#include "lanyard/sessions.h"
#include "lanyard/token.h"

/*
 * A parameter of an OAuth request, from the form or the JSON body.
 * 0 found, 1 absent, LY_E_INVALID_REQUEST when repeated or not a string.
 */
static int oauth_param(struct ly_request *req, const char *name, const char **out)
{
    if (req->form)
        return ly_form_get(req->arena, req->body, name, out);
    if (!ly_json_has(req->json, name))
        return 1;
    const char *s = ly_json_get_string(req->json, name);
    if (s == NULL)
        return LY_E_INVALID_REQUEST;
    *out = s;
    return 0;
}

static int grant_error(struct ly_request *req, struct ly_response *resp, const char *error,
                       const char *why)
{
    ly_response_oauth_error(req, resp, 400, error, why);
    return LY_OK;
}

static int refresh_grant(struct ly_request *req, struct ly_response *resp)
{
    struct lanyard_ctx *ctx = req->ctx;
    const char *rt = NULL;
    int q = oauth_param(req, "refresh_token", &rt);
    if (q != 0)
        return grant_error(req, resp, "invalid_request", "refresh_token is required");
    if (!ly_token_is_well_formed(LY_REFRESH_PREFIX, ly_str_from(rt)))
        return grant_error(req, resp, "invalid_grant", "the refresh token is not valid");

    unsigned char hash[LY_SHA256_LEN];
    ly_sha256(rt, strlen(rt), hash);
    struct ly_refresh ref;
    struct json_object *tokens = NULL;
    int r = ly_db_begin(ctx->db);
    if (r != LY_OK)
        return r;
    r = ly_refresh_lookup(ctx->db, req->arena, hash, true, &ref);
    if (r == LY_E_NOT_FOUND) {
        ly_db_rollback(ctx->db);
        return grant_error(req, resp, "invalid_grant", "the refresh token is not valid");
    }
    if (r != LY_OK)
        goto out;
    bool reused = ref.spent;
    if (!reused && !ref.session_revoked && !ref.user_disabled && ref.expires_at > req->now) {
        r = ly_refresh_spend(ctx->db, req->arena, hash, req->now);
        reused = r == LY_E_CONFLICT;
        if (r != LY_OK && !reused)
            goto out;
    }
    if (reused) {
        /* SPEC §5.3: a spent refresh token presented again is theft: end the whole session. */
        if ((r = ly_sessions_revoke(ctx->db, req->arena, ref.session_id, req->now)) != LY_OK ||
            (r = ly_db_commit(ctx->db)) != LY_OK)
            goto out;
        ly_log_warn(&ctx->log, "refresh token reused: session %s revoked", ref.session_id);
        return grant_error(req, resp, "invalid_grant", "the refresh token was already used");
    }
    if (ref.session_revoked || ref.user_disabled || ref.expires_at <= req->now) {
        ly_db_rollback(ctx->db);
        return grant_error(req, resp, "invalid_grant", "the refresh token is not valid");
    }
    struct ly_db_value p[] = {LY_DB_T(req->now), LY_DB_S(ref.session_id)};
    if ((r = ly_db_exec(ctx->db, req->arena, "UPDATE sessions SET refreshed_at = ? WHERE id = ?", p,
                        2, NULL)) != LY_OK ||
        (r = ly_issue_user_tokens(req, ref.user_id, ref.session_id, &tokens)) != LY_OK ||
        (r = ly_db_commit(ctx->db)) != LY_OK)
        goto out;
    resp->principal = ref.user_id;
    ly_issue_respond(req, resp, tokens);
out:
    ly_db_rollback(ctx->db);
    return r;
}

/* SPEC §5.3: POST /api/auth/v1/token. */
int ly_api_token(struct ly_request *req, struct ly_response *resp)
{
    const char *grant = NULL;
    int q = oauth_param(req, "grant_type", &grant);
    if (q < 0)
        return grant_error(req, resp, "invalid_request",
                           "grant_type must be given once, as a string");
    if (q == 1)
        return grant_error(req, resp, "invalid_request", "grant_type is required");
    if (strcmp(grant, "refresh_token") == 0)
        return refresh_grant(req, resp);
    return grant_error(req, resp, "unsupported_grant_type",
                       "this server does not support that grant_type");
}
