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
#include "lanyard/guard.h"
#include "lanyard/hash.h"
#include "lanyard/issue.h"
#include "lanyard/metrics.h"
#include "lanyard/password.h"
#include "lanyard/sessions.h"
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

/*
 * SPEC §5.12: a refused sign-in (wrong password, disabled user, throttled)
 * is recorded, and the event stands although the answer is 401 or 429
 * (c->keep). Nothing else of the unit is written by then: the throttle's
 * counts are autonomous statements. The actor is anonymous, since nobody
 * was authenticated; the target is the account tried, once for each of its
 * organizations; for an e-mail that is no account the target has no id and
 * the event no organization (the e-mail is not recorded: people type their
 * password into it).
 */
static int record_refused(struct ly_call *c, const struct ly_user *u)
{
    int r = u != NULL ? ly_api_audit_user(c, "signin.failed", u->id, "anonymous", NULL,
                                          (struct ly_audit_target){"user", u->id}, false)
                      : ly_api_audit(c, "signin.failed", NULL, NULL,
                                     (struct ly_audit_target){"user", NULL}, false);
    if (r == LY_OK)
        c->keep = true;
    return r;
}

/* A sign-in refused by the throttle (429, already answered): the account tried, if any. */
static int record_throttled(struct ly_call *c, const char *email)
{
    struct ly_user u;
    int r = LY_E_NOT_FOUND;
    if (email != NULL)
        r = ly_users_get_by_email(c->ctx->db, c->req->arena, email, &u);
    if (r != LY_OK && r != LY_E_NOT_FOUND)
        return r;
    return record_refused(c, r == LY_OK ? &u : NULL);
}

static int signin(struct ly_call *c)
{
    static const struct ly_json_field fields[] = {{"email", LY_JSON_STRING, true},
                                                  {"password", LY_JSON_STRING, true},
                                                  {"refresh_cookie", LY_JSON_BOOL, false}};
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    struct lanyard_ctx *ctx = req->ctx;
    struct ly_field_errors errs = {.n = 0};
    if (ly_json_check_fields(req->json, fields, 3, &errs) != LY_OK) {
        ly_response_invalid(req, resp, &errs);
        return LY_OK;
    }
    const char *email = NULL;
    const char *pw = ly_json_get_string(req->json, "password");
    bool email_ok = ly_email_normalize(req->arena, ly_json_get_string(req->json, "email"), &email);

    /* The attempt is counted before scrypt runs; an address that is not an e-mail is no account. */
    struct ly_guard g;
    int r = ly_guard_begin(c, email_ok ? email : NULL, &g);
    if (r == LY_E_RATE_LIMITED) {
        int ar = record_throttled(c, email_ok ? email : NULL);
        return ar != LY_OK ? ar : r;
    }
    if (r != LY_OK)
        return r;
    struct ly_user u;
    bool have_user = false;
    if (email_ok) {
        r = ly_users_get_by_email(ctx->db, req->arena, email, &u);
        if (r != LY_OK && r != LY_E_NOT_FOUND) {
            ly_guard_end(&g);
            return r;
        }
        have_user = r == LY_OK;
    }
    /* An unknown e-mail costs the same scrypt work as a wrong password. */
    bool ok = ly_password_verify(&ctx->scrypt, have_user ? u.password_hash : NULL, pw, strlen(pw));
    ly_guard_end(&g);
    if (!ok || !have_user || u.disabled) {
        if ((r = ly_guard_failed(c, &g)) != LY_OK ||
            (r = record_refused(c, have_user ? &u : NULL)) != LY_OK)
            return r;
        signin_refused(req, resp);
        return LY_OK;
    }
    const char *sid = NULL;
    struct json_object *tokens = NULL;
    if ((r = ly_guard_passed(c, &g)) != LY_OK ||
        (r = ly_sessions_create(ctx->db, req->arena, u.id, "signin", req->client_ip,
                                req->user_agent, req->now, &sid)) != LY_OK ||
        (r = ly_issue_user_tokens(req, u.id, sid, &tokens)) != LY_OK ||
        (r = ly_api_audit_user(c, "signin.succeeded", u.id, "user", u.id,
                               (struct ly_audit_target){"session", sid}, true)) != LY_OK)
        return r;
    resp->principal = u.id;
    /* SPEC §5.14: the console asks for the refresh token in an HttpOnly cookie. */
    if (ly_json_get_bool(req->json, "refresh_cookie", false))
        ly_issue_respond_cookie(req, resp, tokens);
    else
        ly_issue_respond(req, resp, tokens);
    return LY_OK;
}

/*
 * End session_id of user_id and record session.revoked (SPEC §5.12), once
 * for each of the user's organizations, when it was live: a session ended
 * before (a JWT outlives its session without check_revocation) is not
 * ended twice in the trail. The actor is the caller, or with a refresh
 * token alone the user it belongs to: holding it is that user's proof.
 */
static int end_session(struct ly_call *c, const char *session_id, const char *user_id)
{
    struct ly_db *db = c->ctx->db;
    bool live = false;
    int r = ly_sessions_is_live(db, c->req->arena, session_id, &live);
    if (r == LY_OK)
        r = ly_sessions_revoke(db, c->req->arena, session_id, c->req->now);
    if (r != LY_OK || !live)
        return r;
    const char *actor = c->who != NULL ? NULL : "user";
    return ly_api_audit_user(c, "session.revoked", user_id, actor, actor ? user_id : NULL,
                             (struct ly_audit_target){"session", session_id}, true);
}

int ly_api_signout(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    static const struct ly_json_field fields[] = {{"refresh_token", LY_JSON_STRING, false}};
    struct lanyard_ctx *ctx = req->ctx;
    struct ly_field_errors errs = {.n = 0};
    if (ly_json_check_fields(req->json, fields, 1, &errs) != LY_OK) {
        ly_response_invalid(req, resp, &errs);
        return LY_OK;
    }
    const struct ly_principal *p = c->who;
    const char *rt = ly_json_get_string(req->json, "refresh_token");
    /*
     * SPEC §5.14: the console's cookie when no refresh_token is given, in
     * any body this route takes (an empty one too): ending a session is
     * nothing a forged request gains from, and SameSite=Strict keeps the
     * cookie from cross-site requests anyway. Once sent, it is cleared
     * whatever it held.
     */
    bool by_cookie = false;
    if (rt == NULL) {
        int q = ly_request_cookie(req, LY_REFRESH_COOKIE, &rt);
        if (q < 0) {
            ly_response_problem(req, resp, LY_E_INVALID_REQUEST,
                                "the lanyard_refresh cookie is malformed or sent more than once",
                                NULL);
            return LY_OK;
        }
        by_cookie = q == 0;
    }
    if (p != NULL && p->session_id == NULL) {
        ly_response_problem(req, resp, LY_E_FORBIDDEN, "only users' sessions are signed out", NULL);
        return LY_OK;
    }
    if (p == NULL && rt == NULL) {
        struct ly_auth_failure fail = {LY_SCHEME_NONE,
                                       "an access token or a refresh_token is required"};
        ly_auth_challenge(req, resp, LY_E_UNAUTHENTICATED, &fail);
        return LY_OK;
    }
    int r;
    if (p != NULL && (r = end_session(c, p->session_id, p->subject)) != LY_OK)
        return r;
    if (rt != NULL && ly_token_is_well_formed(LY_REFRESH_PREFIX, ly_str_from(rt))) {
        unsigned char hash[LY_SHA256_LEN];
        struct ly_refresh ref;
        ly_sha256(rt, strlen(rt), hash);
        r = ly_refresh_lookup(ctx->db, req->arena, hash, false, &ref);
        /* With an access token, only a session of the same user may be ended this way. */
        if (r == LY_OK && (p == NULL || strcmp(ref.user_id, p->subject) == 0)) {
            if (p == NULL || strcmp(ref.session_id, p->session_id) != 0)
                r = end_session(c, ref.session_id, ref.user_id);
        } else if (r == LY_E_NOT_FOUND || r == LY_OK)
            r = LY_OK; /* RFC 7009 §2.2 spirit: an unknown token is not an error */
        if (r != LY_OK)
            return r;
    }
    ly_response_empty(resp, 204);
    if (by_cookie)
        ly_issue_clear_cookie(req, resp);
    return LY_OK;
}

/* SPEC §6: sign-ins by outcome, read off the answer (every path of signin() ends in one). */
int ly_api_signin(struct ly_call *c)
{
    int r = signin(c);
    int status = c->resp->status;
    enum ly_metric m = LY_M_SIGNIN_ERROR;
    if (r == LY_OK && status == 200)
        m = LY_M_SIGNIN_SUCCESS;
    else if (status == 401)
        m = LY_M_SIGNIN_BAD_CREDENTIALS;
    else if (status == 429 || r == LY_E_RATE_LIMITED)
        m = LY_M_SIGNIN_THROTTLED;
    else if (status == 400 || status == 415)
        m = LY_M_SIGNIN_INVALID;
    ly_metrics_count(m);
    return r;
}
