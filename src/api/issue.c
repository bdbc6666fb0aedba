#include "build-config.h"
#include "banned.h"

#include "lanyard/issue.h"

#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"
#include "lanyard/jwt.h"
#include "lanyard/rand.h"
#include "lanyard/sessions.h"
#include "lanyard/token.h"

/*
 * An access token in the configured format (SPEC §4): a JWT of claims c
 * (jti, iss, aud, iat and nbf filled in here), or an opaque token stored for
 * owner. Its expiry is c->exp either way.
 */
static int mint_access(struct ly_request *req, struct ly_jwt_claims *c,
                       const struct ly_access_owner *owner, const char **out)
{
    const struct ly_config *cfg = req->ctx->cfg;
    char jti[23]; /* lives as long as c points at it */
    if (cfg->tokens.mode == LY_TOKENS_JWT) {
        ly_rand_base62(jti, 22);
        c->iss = cfg->tokens.issuer;
        c->aud = cfg->tokens.audience;
        c->jti = jti;
        c->iat = req->now;
        c->nbf = req->now;
        char *jwt = NULL;
        int r = ly_jwt_sign(req->ctx->keys, c, req->arena, &jwt);
        if (r == LY_OK)
            *out = jwt;
        return r;
    }
    char *tok = ly_arena_alloc(req->arena, LY_TOKEN_MAX_LEN);
    unsigned char hash[LY_SHA256_LEN];
    ly_token_generate(LY_ACCESS_PREFIX, tok);
    ly_sha256(tok, strlen(tok), hash);
    int r = ly_access_insert(req->ctx->db, req->arena, hash, owner, req->now, c->exp);
    if (r == LY_OK)
        *out = tok;
    return r;
}

int ly_issue_user_tokens(struct ly_request *req, const char *user_id, const char *session_id,
                         struct json_object **out)
{
    const struct ly_config *cfg = req->ctx->cfg;
    const char *access = NULL;
    char *refresh = ly_arena_alloc(req->arena, LY_TOKEN_MAX_LEN);
    unsigned char hash[LY_SHA256_LEN];
    struct ly_jwt_claims c = {
        .sub = user_id,
        .client_id = "lanyard",
        .sid = session_id,
        .principal_type = LY_PRINCIPAL_USER,
        .exp = req->now + cfg->tokens.access_ttl,
    };
    struct ly_access_owner owner = {.session_id = session_id, .user_id = user_id};
    int r = mint_access(req, &c, &owner, &access);
    if (r != LY_OK)
        return r;
    ly_token_generate(LY_REFRESH_PREFIX, refresh);
    ly_sha256(refresh, strlen(refresh), hash);
    r = ly_refresh_insert(req->ctx->db, req->arena, hash, session_id, req->now,
                          req->now + cfg->tokens.refresh_ttl);
    if (r != LY_OK)
        return r;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "access_token", json_object_new_string(access));
    json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
    json_object_object_add(o, "expires_in", json_object_new_int64(cfg->tokens.access_ttl));
    json_object_object_add(o, "refresh_token", json_object_new_string(refresh));
    json_object_object_add(o, "refresh_expires_in", json_object_new_int64(cfg->tokens.refresh_ttl));
    json_object_object_add(o, "session_id", json_object_new_string(session_id));
    *out = ly_json_own(req->arena, o);
    return LY_OK;
}

int ly_issue_account_token(struct ly_request *req, const struct ly_principal *p,
                           struct json_object **out)
{
    const struct ly_config *cfg = req->ctx->cfg;
    /* SPEC §5.3: access_ttl, never beyond the key's own expiry. */
    int64_t exp = req->now + cfg->tokens.access_ttl;
    if (p->expires_at >= 0 && p->expires_at < exp)
        exp = p->expires_at;
    struct ly_jwt_claims c = {
        .sub = p->subject,
        .client_id = p->key_id,
        .org = p->org_name,
        .resource = p->resource,
        .principal_type = LY_PRINCIPAL_SERVICE_ACCOUNT,
        .exp = exp,
    };
    struct ly_access_owner owner = {.account_id = p->subject, .key_id = p->key_id};
    const char *access = NULL;
    int r = mint_access(req, &c, &owner, &access);
    if (r != LY_OK)
        return r;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "access_token", json_object_new_string(access));
    json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
    json_object_object_add(o, "expires_in", json_object_new_int64(exp - req->now));
    *out = ly_json_own(req->arena, o);
    return LY_OK;
}

void ly_issue_respond(struct ly_request *req, struct ly_response *resp, struct json_object *tokens)
{
    /* The arena already owns tokens: take a reference for the response's own put. */
    ly_response_json(req, resp, 200, json_object_get(tokens));
    resp->no_store = true;
}

/*
 * The one shape of the cookie, set or cleared: a browser replaces or drops
 * a cookie only when name, Path and domain match the ones it holds. No
 * Domain attribute: host-only, so a sibling host never receives it.
 */
static void set_refresh_cookie(struct ly_request *req, struct ly_response *resp, const char *value,
                               int64_t max_age)
{
    const char *url = req->cfg->server.public_url;
    bool secure = strncmp(url, "https://", 8) == 0; /* config: lower-case scheme only */
    ly_response_header(resp, "Set-Cookie",
                       ly_arena_printf(req->arena,
                                       "%s=%s; Path=/api/auth/v1/; HttpOnly; SameSite=Strict; "
                                       "Max-Age=%lld%s",
                                       LY_REFRESH_COOKIE, value, (long long)max_age,
                                       secure ? "; Secure" : ""));
}

void ly_issue_respond_cookie(struct ly_request *req, struct ly_response *resp,
                             struct json_object *tokens)
{
    ly_issue_set_cookie(req, resp, tokens);
    /* The cookie's text is in the arena: the token may leave the body now. */
    json_object_object_del(tokens, "refresh_token");
    ly_issue_respond(req, resp, tokens);
}

void ly_issue_set_cookie(struct ly_request *req, struct ly_response *resp,
                         struct json_object *tokens)
{
    struct json_object *rt = NULL;
    if (json_object_object_get_ex(tokens, "refresh_token", &rt))
        set_refresh_cookie(req, resp, json_object_get_string(rt), req->cfg->tokens.refresh_ttl);
}

void ly_issue_clear_cookie(struct ly_request *req, struct ly_response *resp)
{
    set_refresh_cookie(req, resp, "", 0);
}
