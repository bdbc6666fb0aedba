#include "build-config.h"
#include "banned.h"

#include "lanyard/auth.h"

#include <string.h>

#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"
#include "lanyard/jwt.h"
#include "lanyard/sessions.h"
#include "lanyard/str.h"
#include "lanyard/token.h"
#include "lanyard/users.h"

/* Longer Authorization values are refused before any decoding (STYLE 8). */
#define MAX_AUTHORIZATION (LY_JWT_MAX_LEN + 16)

static int refuse(struct ly_auth_failure *fail, enum ly_auth_scheme scheme, const char *why)
{
    fail->scheme = scheme;
    fail->why = why;
    return LY_E_INVALID_TOKEN;
}

static bool is_credential_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

static int from_jwt(struct ly_request *req, struct ly_str token, struct ly_principal *p,
                    struct ly_auth_failure *fail)
{
    const struct ly_config *cfg = req->ctx->cfg;
    struct ly_jwt_claims c;
    const char *why = NULL;
    struct ly_jwt_expect expect = {cfg->tokens.issuer, cfg->tokens.audience, req->now,
                                   cfg->tokens.leeway};
    if (req->ctx->keys == NULL)
        return refuse(fail, LY_SCHEME_BEARER, "JWT access tokens are not accepted");
    if (ly_jwt_verify(req->ctx->keys, token, &expect, req->arena, &c, &why) != LY_OK)
        return refuse(fail, LY_SCHEME_BEARER, why ? why : "invalid token");
    p->type = c.principal_type;
    p->id = c.sub;
    p->cred = LY_CRED_ACCESS_TOKEN;
    p->jwt = true;
    p->expires_at = c.exp;
    if (c.principal_type == LY_PRINCIPAL_USER) {
        if (c.sid == NULL)
            return refuse(fail, LY_SCHEME_BEARER, "invalid token");
        p->session_id = c.sid;
    } else {
        p->key_id = c.client_id;
        p->org_name = c.org;
    }
    /* SPEC §4: with check_revocation, one indexed lookup confirms the session is live. */
    if (cfg->tokens.jwt.check_revocation && p->type == LY_PRINCIPAL_USER) {
        bool live = false;
        int r = ly_sessions_is_live(req->ctx->db, req->arena, p->session_id, &live);
        if (r != LY_OK)
            return r;
        if (!live)
            return refuse(fail, LY_SCHEME_BEARER, "the session has ended");
    }
    return LY_OK;
}

static int from_opaque(struct ly_request *req, struct ly_str token, struct ly_principal *p,
                       struct ly_auth_failure *fail)
{
    if (!ly_token_is_well_formed(LY_ACCESS_PREFIX, token))
        return refuse(fail, LY_SCHEME_BEARER, "malformed token");
    unsigned char hash[LY_SHA256_LEN];
    ly_sha256(token.ptr, token.len, hash);
    struct ly_access acc;
    int r = ly_access_lookup(req->ctx->db, req->arena, hash, req->now, &acc);
    if (r == LY_E_NOT_FOUND)
        return refuse(fail, LY_SCHEME_BEARER, "the token is unknown, expired or revoked");
    if (r != LY_OK)
        return r;
    p->cred = LY_CRED_ACCESS_TOKEN;
    p->jwt = false;
    p->expires_at = acc.expires_at;
    if (acc.user_id != NULL) {
        p->type = LY_PRINCIPAL_USER;
        p->id = acc.user_id;
        p->session_id = acc.session_id;
    } else {
        p->type = LY_PRINCIPAL_SERVICE_ACCOUNT;
        p->id = acc.service_account_id;
        p->key_id = acc.api_key_id;
    }
    return LY_OK;
}

int ly_auth_authenticate(struct ly_request *req, const struct ly_principal **out,
                         struct ly_auth_failure *fail)
{
    const char *h = ly_request_env(req, "HTTP_AUTHORIZATION");
    fail->scheme = LY_SCHEME_NONE;
    fail->why = NULL;
    if (h == NULL || h[0] == '\0') {
        fail->why = "a credential is required";
        return LY_E_UNAUTHENTICATED;
    }
    struct ly_str v = ly_str_from(h);
    const char *sp = memchr(v.ptr, ' ', v.len);
    struct ly_str scheme = {v.ptr, sp ? (size_t)(sp - v.ptr) : v.len};
    enum ly_auth_scheme kind = ly_str_eq_nocase(scheme, "Bearer")  ? LY_SCHEME_BEARER
                               : ly_str_eq_nocase(scheme, "Basic") ? LY_SCHEME_BASIC
                                                                   : LY_SCHEME_OTHER;
    if (kind == LY_SCHEME_OTHER) {
        fail->scheme = LY_SCHEME_OTHER;
        fail->why = "unsupported authorization scheme";
        return LY_E_UNAUTHENTICATED;
    }
    if (v.len > MAX_AUTHORIZATION)
        return refuse(fail, kind, "the credential is too long");
    /* RFC 9110 §11.4: the scheme, one or more spaces, then the credential. */
    struct ly_str cred = {sp ? sp : v.ptr + v.len, sp ? v.len - scheme.len : 0};
    while (cred.len > 0 && cred.ptr[0] == ' ') {
        cred.ptr++;
        cred.len--;
    }
    if (cred.len == 0)
        return refuse(fail, kind, "the credential is empty");
    for (size_t i = 0; i < cred.len; i++)
        if (!is_credential_char((unsigned char)cred.ptr[i]))
            return refuse(fail, kind, "malformed credential");

    struct ly_principal *p = ly_arena_zalloc(req->arena, sizeof(*p));
    p->expires_at = -1;
    int r;
    if (kind == LY_SCHEME_BASIC) {
        /* API keys as Basic credentials arrive with service accounts (SPEC §4, item 3). */
        return refuse(fail, LY_SCHEME_BASIC, "invalid credentials");
    }
    if (ly_str_has_prefix(cred, LY_ACCESS_PREFIX "_"))
        r = from_opaque(req, cred, p, fail);
    else if (ly_jwt_looks_like(cred))
        r = from_jwt(req, cred, p, fail);
    else
        r = refuse(fail, LY_SCHEME_BEARER, "malformed token");
    if (r != LY_OK)
        return r;
    *out = p;
    return LY_OK;
}

int ly_auth_load_user(struct ly_request *req, struct ly_principal *p)
{
    if (p->admin_known)
        return LY_OK;
    if (p->type != LY_PRINCIPAL_USER) {
        p->platform_admin = false;
        p->admin_known = true;
        return LY_OK;
    }
    struct ly_user u;
    int r = ly_users_get(req->ctx->db, req->arena, p->id, &u);
    if (r == LY_E_NOT_FOUND || (r == LY_OK && u.disabled))
        return LY_E_INVALID_TOKEN;
    if (r != LY_OK)
        return r;
    p->platform_admin = u.platform_admin;
    p->admin_known = true;
    return LY_OK;
}

void ly_auth_challenge(struct ly_request *req, struct ly_response *resp, int err,
                       const struct ly_auth_failure *fail)
{
    const char *why = fail->why ? fail->why : "invalid credential";
    if (fail->scheme == LY_SCHEME_BASIC) {
        ly_response_problem(req, resp, LY_E_UNAUTHENTICATED, why, NULL);
        ly_response_header(resp, "WWW-Authenticate", "Basic realm=\"lanyard\"");
        return;
    }
    if (err == LY_E_INVALID_TOKEN) {
        /* RFC 6750 §3: the description is ours and static, never token material. */
        ly_response_problem(req, resp, LY_E_INVALID_TOKEN, why, NULL);
        ly_response_header(resp, "WWW-Authenticate",
                           ly_arena_printf(req->arena,
                                           "Bearer realm=\"lanyard\", error=\"invalid_token\", "
                                           "error_description=\"%s\"",
                                           why));
        return;
    }
    ly_response_problem(req, resp, LY_E_UNAUTHENTICATED, why, NULL);
    ly_response_header(resp, "WWW-Authenticate", "Bearer realm=\"lanyard\"");
}
