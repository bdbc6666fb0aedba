#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/apikeys.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/gate.h"
#include "lanyard/hash.h"
#include "lanyard/jwt.h"
#include "lanyard/sessions.h"

/*
 * SPEC §5.6: POST /api/auth/v1/introspect (RFC 7662). Not a hot path: it
 * asks the database whatever makes its answer exact (a JWT's session or
 * key still live, the issue time of stored tokens).
 */

/* Whom an introspection caller may be answered about. */
enum scope {
    ALL,        /* a platform administrator: every token */
    OWN_ORG_SA, /* an admin service account: its organization's service accounts' tokens */
};

/*
 * SPEC §5.6: a platform administrator, or a service account whose role is
 * admin (by its key or a token exchanged with one). A personal key never
 * carries platform rights, and a member service account or another user
 * is not a caller here.
 */
static bool caller_scope(const struct ly_principal *p, enum scope *out)
{
    if (p->type == LY_PRINCIPAL_USER && p->key_id == NULL && p->platform_admin) {
        *out = ALL;
        return true;
    }
    if (p->type == LY_PRINCIPAL_SERVICE_ACCOUNT && p->role == LY_ROLE_ADMIN && p->org_id != NULL) {
        *out = OWN_ORG_SA;
        return true;
    }
    return false;
}

/*
 * A JWT is answered active only while Lanyard would still honour it with
 * revocation checked: its session live (the user enabled), or the key it
 * was exchanged with standing, and the account there; *iat from its claims.
 */
static int jwt_live(struct ly_call *c, struct ly_str token, struct ly_principal *t, bool *live,
                    int64_t *iat)
{
    struct lanyard_ctx *ctx = c->ctx;
    struct ly_arena *a = c->req->arena;
    const struct ly_config *cfg = ctx->cfg;
    struct ly_jwt_expect expect = {cfg->tokens.issuer, cfg->tokens.audience, c->req->now,
                                   cfg->tokens.leeway};
    struct ly_jwt_claims cl;
    const char *why = NULL;
    *live = false;
    /* ly_auth_token verified it a moment ago: this only reads its iat again. */
    if (ly_jwt_verify(ctx->auth.keys, token, &expect, a, &cl, &why) != LY_OK)
        return LY_OK;
    int r;
    if (t->type == LY_PRINCIPAL_USER) {
        bool ok = false;
        if ((r = ly_sessions_is_live(ctx->db, a, t->session_id, &ok)) != LY_OK)
            return r;
        if (!ok)
            return LY_OK;
    } else {
        struct ly_api_key k;
        r = ly_api_keys_get(ctx->db, a, t->key_id, &k);
        if (r == LY_E_NOT_FOUND)
            return LY_OK;
        if (r != LY_OK)
            return r;
        if (k.owner_type != LY_PRINCIPAL_SERVICE_ACCOUNT || strcmp(k.owner_id, t->subject) != 0 ||
            (k.expires_at >= 0 && k.expires_at <= c->req->now))
            return LY_OK;
        r = ly_auth_complete(&ctx->auth, a, t);
        if (r == LY_E_INVALID_TOKEN)
            return LY_OK;
        if (r != LY_OK)
            return r;
    }
    *iat = cl.iat;
    *live = true;
    return LY_OK;
}

/* When a stored credential was made; *live false when it went meanwhile. */
static int stored_iat(struct ly_call *c, struct ly_str token, const struct ly_principal *t,
                      bool *live, int64_t *iat)
{
    struct ly_arena *a = c->req->arena;
    int r;
    if (t->cred == LY_CRED_API_KEY) {
        struct ly_api_key k;
        r = ly_api_keys_get(c->ctx->db, a, t->key_id, &k);
        if (r == LY_OK)
            *iat = k.created_at;
    } else {
        unsigned char hash[LY_SHA256_LEN];
        ly_sha256(token.ptr, token.len, hash);
        r = ly_gate_issued_at(c->ctx->db, a, t->cred == LY_CRED_REFRESH, hash, iat);
    }
    *live = r == LY_OK;
    return r == LY_E_NOT_FOUND ? LY_OK : r;
}

static int inactive(struct ly_call *c)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "active", json_object_new_boolean(0));
    ly_response_json(c->req, c->resp, 200, o);
    return LY_OK;
}

/* The RFC 7662 §2.2 answer with SPEC §5.6's exact fields for an active token. */
static int active(struct ly_call *c, const struct ly_principal *t, int64_t iat)
{
    const struct ly_config *cfg = c->ctx->cfg;
    bool access = t->cred == LY_CRED_JWT || t->cred == LY_CRED_OPAQUE;
    bool key = t->cred == LY_CRED_API_KEY;
    const char *type = access ? "access_token" : key ? "api_key" : "refresh_token";
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "active", json_object_new_boolean(1));
    json_object_object_add(o, "token_type", json_object_new_string(type));
    json_object_object_add(o, "sub", json_object_new_string(t->subject));
    json_object_object_add(
        o, "principal_type",
        json_object_new_string(t->type == LY_PRINCIPAL_USER ? "user" : "service_account"));
    json_object_object_add(o, "iss", json_object_new_string(cfg->tokens.issuer));
    /* A key without expiry has no exp (RFC 7662 §2.2: the member is optional). */
    if (t->expires_at >= 0)
        json_object_object_add(o, "exp", json_object_new_int64(t->expires_at));
    json_object_object_add(o, "iat", json_object_new_int64(iat));
    /* A user's tokens are Lanyard's own client's; a key and its tokens are the key's. */
    json_object_object_add(o, "client_id",
                           json_object_new_string(t->key_id != NULL ? t->key_id : "lanyard"));
    if (access)
        json_object_object_add(o, "aud", json_object_new_string(cfg->tokens.audience));
    if (t->session_id != NULL)
        json_object_object_add(o, "sid", json_object_new_string(t->session_id));
    /* Every credential bound to one organization names it: a personal key too. */
    if (t->org_name != NULL)
        json_object_object_add(o, "org", json_object_new_string(t->org_name));
    if (t->key_id != NULL)
        json_object_object_add(o, "key_id", json_object_new_string(t->key_id));
    if (t->resource != NULL)
        json_object_object_add(o, "resource", json_object_new_string(t->resource));
    ly_response_json(c->req, c->resp, 200, o);
    return LY_OK;
}

int ly_api_introspect(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct lanyard_ctx *ctx = c->ctx;
    /* The caller: the credential the dispatcher verified, or a key given as client fields. */
    struct ly_principal key;
    const struct ly_principal *caller = c->who;
    int r = ly_api_oauth_client(c, caller != NULL, &key);
    if (r == LY_E_INVALID_REQUEST || r == LY_E_INVALID_TOKEN)
        return LY_OK;
    if (r == LY_OK)
        caller = &key;
    else if (r != 1)
        return r;
    if (caller == NULL) {
        ly_response_oauth_error(req, c->resp, 401, "invalid_client", "a credential is required");
        struct ly_auth_failure fail = {LY_SCHEME_NONE, "a credential is required"};
        ly_auth_challenge_header(req, c->resp, LY_E_UNAUTHENTICATED, &fail);
        return LY_OK;
    }
    enum scope scope = ALL;
    if (!caller_scope(caller, &scope)) {
        ly_response_oauth_error(req, c->resp, 403, "unauthorized_client",
                                "a platform administrator or an admin service account is required");
        return LY_OK;
    }
    const char *token = NULL, *hint = NULL;
    if (ly_api_oauth_param(req, "token", &token) != 0) {
        ly_response_oauth_error(req, c->resp, 400, "invalid_request", "token is required, once");
        return LY_OK;
    }
    /* RFC 7662 §2.1: the hint may be ignored; every kind is recognised by its form. */
    if (ly_api_oauth_param(req, "token_type_hint", &hint) < 0) {
        ly_response_oauth_error(req, c->resp, 400, "invalid_request",
                                "token_type_hint is not a string");
        return LY_OK;
    }
    struct ly_str tok = ly_str_from(token);
    struct ly_principal t;
    struct ly_auth_failure fail;
    r = ly_auth_token(&ctx->auth, req->arena, req->now, tok,
                      LY_CREDS_ANY & ~LY_CRED_BIT(LY_CRED_BASIC), &t, &fail);
    if (r == LY_E_INVALID_TOKEN)
        return inactive(c);
    if (r != LY_OK)
        return r;
    bool live = false;
    int64_t iat = 0;
    r = t.cred == LY_CRED_JWT ? jwt_live(c, tok, &t, &live, &iat)
                              : stored_iat(c, tok, &t, &live, &iat);
    if (r != LY_OK)
        return r;
    /*
     * An admin service account learns only of its own organization's
     * service accounts: a user's token, a personal key, or another
     * organization's credential is inactive to it (decisions.md).
     */
    if (scope == OWN_ORG_SA && (t.type != LY_PRINCIPAL_SERVICE_ACCOUNT || t.org_id == NULL ||
                                strcmp(t.org_id, caller->org_id) != 0))
        live = false;
    return live ? active(c, &t, iat) : inactive(c);
}
