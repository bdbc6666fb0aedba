#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/apikeys.h"
#include "lanyard/ctx.h"
#include "lanyard/devices.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"
#include "lanyard/issue.h"
#include "lanyard/sessions.h"
#include "lanyard/token.h"
#include "lanyard/users.h"

/*
 * A parameter of an OAuth request, from the form or the JSON body.
 * 0 found, 1 absent, LY_E_INVALID_REQUEST when repeated or not a string.
 */
int ly_api_oauth_param(struct ly_request *req, const char *name, const char **out)
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

/*
 * Whether the rotation whose COMMIT lost its connection happened: its new
 * refresh token is stored (witness_arg: that token's hash). Then the new
 * pair the worker holds is the answer; a 503 would send the client back with
 * the spent token, and the reuse rule would end the session.
 */
static int refresh_witness(struct ly_call *c, bool *there)
{
    struct ly_refresh ref;
    int r = ly_refresh_lookup(c->ctx->db, c->req->arena, c->witness_arg, true, &ref);
    if (r != LY_OK && r != LY_E_NOT_FOUND)
        return r;
    *there = r == LY_OK;
    return LY_OK;
}

/* The witness of the new pair in tokens, for run() (nothing when it has no refresh token). */
static void witness_refresh(struct ly_call *c, struct json_object *tokens)
{
    struct json_object *rt;
    if (!json_object_object_get_ex(tokens, "refresh_token", &rt))
        return;
    unsigned char *hash = ly_arena_alloc(c->req->arena, LY_SHA256_LEN);
    ly_sha256(json_object_get_string(rt), (size_t)json_object_get_string_len(rt), hash);
    c->witness = refresh_witness;
    c->witness_arg = hash;
}

/* The refresh of rt (SPEC §5.3), answered in the console's form when it came as the cookie. */
static int refresh_with(struct ly_call *c, const char *rt, bool by_cookie)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    struct lanyard_ctx *ctx = req->ctx;
    if (!ly_token_is_well_formed(LY_REFRESH_PREFIX, ly_str_from(rt)))
        return grant_error(req, resp, "invalid_grant", "the refresh token is not valid");

    unsigned char hash[LY_SHA256_LEN];
    ly_sha256(rt, strlen(rt), hash);
    struct ly_refresh ref;
    struct json_object *tokens = NULL;
    int r = ly_refresh_lookup(ctx->db, req->arena, hash, true, &ref);
    if (r == LY_E_NOT_FOUND)
        return grant_error(req, resp, "invalid_grant", "the refresh token is not valid");
    if (r != LY_OK)
        return r;
    bool reused = ref.spent;
    if (!reused && !ref.session_revoked && !ref.user_disabled && ref.expires_at > req->now) {
        r = ly_refresh_spend(ctx->db, req->arena, hash, req->now);
        reused = r == LY_E_CONFLICT;
        if (r != LY_OK && !reused)
            return r;
    }
    if (reused) {
        /* SPEC §5.3: a spent refresh token presented again is theft: end the whole session. */
        if ((r = ly_sessions_revoke(ctx->db, req->arena, ref.session_id, req->now)) != LY_OK)
            return r;
        ly_log_warn(&ctx->log, "refresh token reused: session %s revoked", ref.session_id);
        /*
         * SPEC §5.12, with the revocation it records (one event for both): a
         * refused credential authenticates nobody, so the actor is anonymous.
         */
        r = ly_api_audit_user(c, "session.refresh_reused", ref.user_id, "anonymous", NULL,
                              (struct ly_audit_target){"session", ref.session_id}, false);
        if (r != LY_OK)
            return r;
        c->keep = true; /* the revocation stands, though the answer is an error */
        return grant_error(req, resp, "invalid_grant", "the refresh token was already used");
    }
    if (ref.session_revoked || ref.user_disabled || ref.expires_at <= req->now)
        return grant_error(req, resp, "invalid_grant", "the refresh token is not valid");
    if ((r = ly_sessions_touch(ctx->db, req->arena, ref.session_id, req->now)) != LY_OK ||
        (r = ly_issue_user_tokens(req, ref.user_id, ref.session_id, &tokens)) != LY_OK)
        return r;
    witness_refresh(c, tokens);
    resp->principal = ref.user_id;
    if (by_cookie)
        ly_issue_respond_cookie(req, resp, tokens);
    else
        ly_issue_respond(req, resp, tokens);
    return LY_OK;
}

static int refresh_grant(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    const char *rt = NULL;
    int q = ly_api_oauth_param(req, "refresh_token", &rt);
    /*
     * SPEC §5.14: without the parameter, the console's cookie, and only in
     * a JSON request: a cross-site form cannot send one (no CORS here), so
     * a forged request never spends the browser's token.
     */
    bool by_cookie = false;
    if (q == 1 && !req->form && req->content_type != NULL) {
        q = ly_request_cookie(req, LY_REFRESH_COOKIE, &rt);
        if (q < 0)
            return grant_error(req, resp, "invalid_request",
                               "the lanyard_refresh cookie is malformed or sent more than once");
        by_cookie = q == 0;
    }
    if (q != 0)
        return grant_error(req, resp, "invalid_request", "refresh_token is required");
    int r = refresh_with(c, rt, by_cookie);
    /* A cookie refused is dead: the browser may drop it (a new one was not made). */
    if (r == LY_OK && by_cookie && resp->status == 400)
        ly_issue_clear_cookie(req, resp);
    return r;
}

/* 401 invalid_client with the Basic challenge (SPEC §5.3). */
static int bad_client(struct ly_call *c, const char *why)
{
    ly_response_oauth_error(c->req, c->resp, 401, "invalid_client", why);
    ly_response_header(c->resp, "WWW-Authenticate", "Basic realm=\"lanyard\"");
    return LY_OK;
}

/*
 * The client of an OAuth request: an API key given as client_id and
 * client_secret, or as Basic credentials (which the caller looks at: only
 * one of the two may be used). LY_OK with *out; 1 when neither was given;
 * else the answer is made (invalid_request or invalid_client) and the
 * error returned.
 */
int ly_api_oauth_client(struct ly_call *c, bool basic_sent, struct ly_principal *out)
{
    struct ly_request *req = c->req;
    const char *id = NULL, *secret = NULL;
    int qi = ly_api_oauth_param(req, "client_id", &id);
    int qs = ly_api_oauth_param(req, "client_secret", &secret);
    if (qi < 0 || qs < 0 || (qi == 0) != (qs == 0) || (basic_sent && qi == 0)) {
        grant_error(req, c->resp, "invalid_request",
                    "give the key once: Basic credentials, or client_id and client_secret");
        return LY_E_INVALID_REQUEST;
    }
    if (qi == 1)
        return 1;
    struct ly_auth_failure fail = {LY_SCHEME_BASIC, NULL};
    int r = ly_auth_key_pair(&c->ctx->auth, req->arena, req->now, ly_str_from(id),
                             ly_str_from(secret), out, &fail);
    if (r == LY_E_INVALID_TOKEN) {
        bad_client(c, fail.why);
        return r;
    }
    return r;
}

static int client_credentials_grant(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_principal p;
    bool basic = ly_auth_request_has_credential(req);
    int r = ly_api_oauth_client(c, basic, &p);
    if (r == LY_E_INVALID_REQUEST || r == LY_E_INVALID_TOKEN)
        return LY_OK;
    if (r == 1 && !basic)
        return bad_client(c, "an API key is required (Basic, or client_id and client_secret)");
    if (r == 1) {
        struct ly_auth_failure fail = {LY_SCHEME_BASIC, NULL};
        r = ly_auth_request(&c->ctx->auth, req, LY_CRED_BIT(LY_CRED_BASIC), &p, &fail);
        if (r == LY_E_UNAUTHENTICATED || r == LY_E_INVALID_TOKEN)
            return bad_client(c, fail.why);
    }
    if (r != LY_OK)
        return r;
    /* A personal key acts as its user; only a service account is a client of this grant. */
    if (p.type != LY_PRINCIPAL_SERVICE_ACCOUNT) {
        ly_response_oauth_error(req, c->resp, 400, "unauthorized_client",
                                "a personal key cannot be exchanged for an access token");
        return LY_OK;
    }
    struct json_object *tokens = NULL;
    if ((r = ly_issue_account_token(req, &p, &tokens)) != LY_OK)
        return r;
    c->resp->principal = p.subject;
    ly_issue_respond(req, c->resp, tokens);
    return LY_OK;
}

/*
 * SPEC §5.4, RFC 8628 §3.4, §3.5: the device_code grant. The code's row is
 * locked for the whole poll, so polls of one code are taken one at a time
 * and each sees the interval and last poll the one before it left.
 */
static int device_code_grant(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    struct lanyard_ctx *ctx = c->ctx;
    const char *code = NULL;
    if (ly_api_oauth_param(req, "device_code", &code) != 0)
        return grant_error(req, resp, "invalid_request", "device_code is required, once");
    if (!ly_token_is_well_formed(LY_DEVICE_PREFIX, ly_str_from(code)))
        return grant_error(req, resp, "invalid_grant", "the device code is not valid");
    unsigned char hash[LY_SHA256_LEN];
    ly_sha256(code, strlen(code), hash);
    struct ly_device d;
    int r = ly_devices_lock(ctx->db, req->arena, hash, &d);
    if (r == LY_E_NOT_FOUND || (r == LY_OK && d.status == LY_DEVICE_CONSUMED))
        return grant_error(req, resp, "invalid_grant", "the device code is not valid");
    if (r != LY_OK)
        return r;
    if (d.expires_at <= req->now)
        return grant_error(req, resp, "expired_token", "the device code has expired");
    if (d.status == LY_DEVICE_DENIED)
        return grant_error(req, resp, "access_denied", "the user denied this device login");
    if (d.status == LY_DEVICE_PENDING) {
        /* Sooner than the interval after the previous poll: the interval grows for good. */
        bool early = d.last_poll_at >= 0 && req->now - d.last_poll_at < d.poll_interval;
        int64_t interval = d.poll_interval + (early ? LY_DEVICE_SLOW_DOWN : 0);
        if ((r = ly_devices_polled(ctx->db, req->arena, hash, req->now, interval)) != LY_OK)
            return r;
        c->keep = true; /* the poll is recorded, though the answer is an error */
        if (early)
            return grant_error(req, resp, "slow_down",
                               ly_arena_printf(req->arena, "poll at most every %lld seconds",
                                               (long long)interval));
        return grant_error(req, resp, "authorization_pending", "the user has not decided yet");
    }
    /* A user disabled since approving gets no new session, as at sign-in (SPEC §5.2). */
    struct ly_user u;
    r = ly_users_get(ctx->db, req->arena, d.user_id, &u);
    if (r == LY_E_NOT_FOUND || (r == LY_OK && u.disabled))
        return grant_error(req, resp, "invalid_grant", "the device code is not valid");
    if (r != LY_OK)
        return r;
    /* Approved: the affected count of the one UPDATE says which poll gets the tokens. */
    bool won = false;
    if ((r = ly_devices_consume(ctx->db, req->arena, hash, req->now, &won)) != LY_OK)
        return r;
    if (!won)
        return grant_error(req, resp, "invalid_grant", "the device code is not valid");
    const char *sid = NULL;
    struct json_object *tokens = NULL;
    if ((r = ly_sessions_create(ctx->db, req->arena, d.user_id, "device", req->client_ip,
                                req->user_agent, req->now, &sid)) != LY_OK ||
        (r = ly_issue_user_tokens(req, d.user_id, sid, &tokens)) != LY_OK)
        return r;
    resp->principal = d.user_id;
    ly_issue_respond(req, resp, tokens);
    return LY_OK;
}

/* SPEC §5.3: POST /api/auth/v1/token. */
int ly_api_token(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    const char *grant = NULL;
    int q = ly_api_oauth_param(req, "grant_type", &grant);
    if (q < 0)
        return grant_error(req, resp, "invalid_request",
                           "grant_type must be given once, as a string");
    if (q == 1)
        return grant_error(req, resp, "invalid_request", "grant_type is required");
    if (strcmp(grant, "refresh_token") == 0)
        return refresh_grant(c);
    if (strcmp(grant, "client_credentials") == 0)
        return client_credentials_grant(c);
    if (strcmp(grant, "urn:ietf:params:oauth:grant-type:device_code") == 0)
        return device_code_grant(c);
    return grant_error(req, resp, "unsupported_grant_type",
                       "this server does not support that grant_type");
}

/*
 * SPEC §5.5: may caller revoke target? Its owner may, an org admin+ of the
 * organization it acts in, and a platform administrator; a credential
 * scoped to a resource only itself.
 */
static int may_revoke(struct ly_call *c, const struct ly_principal *caller,
                      struct ly_principal *target, bool *may)
{
    *may = false;
    /* SPEC §4: a personal key deletes no key but itself (a revoked key is a deleted one). */
    if (ly_principal_is_personal_key(caller) && target->cred == LY_CRED_API_KEY &&
        strcmp(target->key_id, caller->key_id) != 0)
        return LY_OK;
    if (caller->resource != NULL) {
        *may = target->key_id != NULL && caller->key_id != NULL &&
               strcmp(target->key_id, caller->key_id) == 0;
        return LY_OK;
    }
    if (caller->type == target->type && strcmp(caller->subject, target->subject) == 0) {
        *may = true;
        return LY_OK;
    }
    if (caller->platform_admin) {
        *may = true;
        return LY_OK;
    }
    /* Users' sessions belong to no organization: only their owner and platform admins. */
    if (target->type == LY_PRINCIPAL_USER && target->key_id == NULL)
        return LY_OK;
    int r = ly_auth_complete(&c->ctx->auth, c->req->arena, target);
    if (r == LY_E_INVALID_TOKEN)
        return LY_OK;
    if (r != LY_OK)
        return r;
    if (caller->org_id != NULL) {
        *may = strcmp(caller->org_id, target->org_id) == 0 && caller->role >= LY_ROLE_ADMIN;
        return LY_OK;
    }
    struct ly_org org;
    enum ly_role role = LY_ROLE_NONE;
    r = ly_orgs_get(c->ctx->db, c->req->arena, target->org_name, caller->subject, &org, &role);
    if (r == LY_E_NOT_FOUND)
        return LY_OK;
    if (r != LY_OK)
        return r;
    *may = strcmp(org.id, target->org_id) == 0 && role >= LY_ROLE_ADMIN;
    return LY_OK;
}

/* SPEC §5.5: POST /api/auth/v1/revoke (RFC 7009). */
int ly_api_revoke(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct lanyard_ctx *ctx = c->ctx;
    const char *token = NULL;
    if (ly_api_oauth_param(req, "token", &token) != 0)
        return grant_error(req, c->resp, "invalid_request", "token is required, once");
    const char *hint = NULL;
    if (ly_api_oauth_param(req, "token_type_hint", &hint) < 0)
        return grant_error(req, c->resp, "invalid_request", "token_type_hint is not a string");
    /* The caller: the credential the dispatcher verified, or the key given as client fields. */
    struct ly_principal key;
    const struct ly_principal *caller = c->who;
    int r = ly_api_oauth_client(c, caller != NULL, &key);
    if (r == LY_E_INVALID_REQUEST || r == LY_E_INVALID_TOKEN)
        return LY_OK;
    if (r == LY_OK) {
        /* Only without a verified credential (client_key refuses both): it is the caller now. */
        struct ly_principal *k = ly_arena_zalloc(req->arena, sizeof(*k));
        *k = key;
        c->who = k;
        c->resp->principal = k->subject;
        caller = k;
    } else if (r != 1)
        return r;
    if (caller == NULL)
        return bad_client(c, "a credential is required");
    struct ly_principal target;
    struct ly_auth_failure fail;
    r = ly_auth_token(&ctx->auth, req->arena, req->now, ly_str_from(token),
                      LY_CREDS_ANY & ~LY_CRED_BIT(LY_CRED_BASIC), &target, &fail);
    /* RFC 7009 §2.2: an unknown, expired or already revoked token is answered 200 alike. */
    if (r == LY_E_INVALID_TOKEN) {
        ly_response_empty(c->resp, 200);
        return LY_OK;
    }
    if (r != LY_OK)
        return r;
    bool may = false;
    if ((r = may_revoke(c, caller, &target, &may)) != LY_OK)
        return r;
    if (!may) {
        ly_response_oauth_error(req, c->resp, 403, "unauthorized_client",
                                "this credential may not revoke that token");
        return LY_OK;
    }
    /*
     * SPEC §5.12: each revocation is recorded with what it ended (a key's
     * id, a session's id), never the token; the actor is the caller, a
     * client-fields key included (c->who).
     */
    if (target.cred == LY_CRED_API_KEY) {
        r = ly_api_keys_delete(ctx->db, req->arena, target.key_id);
        if (r == LY_OK)
            r = ly_api_audit(c, "api_key.deleted", target.org_id, target.org_name,
                             (struct ly_audit_target){"api_key", target.key_id}, true);
        else if (r == LY_E_NOT_FOUND)
            r = LY_OK;
    } else if (target.type == LY_PRINCIPAL_USER) {
        /* A refresh or access token of a session: the whole session ends. */
        r = ly_sessions_revoke(ctx->db, req->arena, target.session_id, req->now);
        if (r == LY_OK)
            r = ly_api_audit_user(c, "session.revoked", target.subject, NULL, NULL,
                                  (struct ly_audit_target){"session", target.session_id}, true);
    } else if (target.cred == LY_CRED_OPAQUE) {
        /* A service account's opaque token has no id: the event names the account. */
        unsigned char hash[LY_SHA256_LEN];
        ly_sha256(token, strlen(token), hash);
        r = ly_access_delete(ctx->db, req->arena, hash);
        if (r == LY_OK)
            r = ly_api_audit(c, "session.revoked", target.org_id, target.org_name,
                             (struct ly_audit_target){"service_account", target.subject}, true);
    }
    /* A service account's JWT cannot be recalled: its key can (doc/decisions.md). */
    if (r != LY_OK)
        return r;
    ly_response_empty(c->resp, 200);
    return LY_OK;
}
