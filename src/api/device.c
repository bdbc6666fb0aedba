#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/devices.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"
#include "lanyard/sso.h"
#include "lanyard/throttle.h"
#include "lanyard/token.h"
#include "lanyard/validate.h"

/* Tries at a user code not in use; with 20^8 codes, a second try is already rare. */
#define USER_CODE_TRIES 5

/* SPEC §5.4: POST /api/auth/v1/device (RFC 8628 §3.1, §3.2). */
int ly_api_device(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct lanyard_ctx *ctx = c->ctx;
    /*
     * client_id is accepted and ignored (every CLI is the public client
     * "lanyard"). Both must be strings given once, like every OAuth parameter.
     */
    static const char *const accepted[] = {"client_id", "org"};
    const char *vals[2] = {NULL, NULL};
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        if (ly_api_oauth_param(req, accepted[i], &vals[i]) < 0) {
            ly_response_oauth_error(
                req, c->resp, 400, "invalid_request",
                ly_arena_printf(req->arena, "%s must be given once, as a string", accepted[i]));
            return LY_OK;
        }
    }
    /*
     * SPEC §5.15: with org, the approval page is reached through that
     * organization's SSO. An organization without SSO (or none of that
     * name) leaves the plain approval page, where people sign in with a
     * password: the login still works, and the answer says nothing about
     * which organizations exist (doc/decisions.md).
     */
    const char *org = NULL;
    if (vals[1] != NULL && ly_name_is_valid(vals[1])) {
        struct ly_sso s;
        int q = ly_sso_get_by_org_name(ctx->db, req->arena, vals[1], &s);
        if (q == LY_OK)
            org = vals[1];
        else if (q != LY_E_NOT_FOUND)
            return q;
    }
    char device_code[LY_TOKEN_MAX_LEN];
    unsigned char hash[LY_SHA256_LEN];
    char user_code[LY_USER_CODE_LEN + 1];
    ly_token_generate(LY_DEVICE_PREFIX, device_code);
    ly_sha256(device_code, strlen(device_code), hash);
    int r = LY_E_CONFLICT;
    for (int i = 0; i < USER_CODE_TRIES && r == LY_E_CONFLICT; i++) {
        ly_device_user_code_generate(user_code);
        r = ly_devices_create(ctx->db, req->arena, hash, user_code, req->now,
                              req->now + LY_DEVICE_TTL);
    }
    if (r != LY_OK)
        return r == LY_E_CONFLICT ? LY_E_UNAVAILABLE : r;

    char shown[LY_USER_CODE_SHOWN_LEN + 1];
    ly_device_user_code_format(user_code, shown);
    const char *uri = ly_arena_printf(req->arena, "%s/device", ctx->cfg->server.public_url);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "device_code", json_object_new_string(device_code));
    json_object_object_add(o, "user_code", json_object_new_string(shown));
    json_object_object_add(o, "verification_uri", json_object_new_string(uri));
    /* The code's letters and hyphen need no percent-encoding in a query. */
    const char *complete = ly_arena_printf(req->arena, "%s?user_code=%s", uri, shown);
    if (org != NULL)
        complete = ly_arena_printf(
            req->arena, "%s/api/auth/v1/sso/%s/start?return_to=%%2Fdevice%%3Fuser_code%%3D%s",
            ctx->cfg->server.public_url, org, shown);
    json_object_object_add(o, "verification_uri_complete", json_object_new_string(complete));
    json_object_object_add(o, "expires_in", json_object_new_int(LY_DEVICE_TTL));
    json_object_object_add(o, "interval", json_object_new_int(LY_DEVICE_INTERVAL));
    ly_response_json(req, c->resp, 200, o);
    c->resp->no_store = true;
    return LY_OK;
}

/* 429 with the window's Retry-After: this user guessed too many codes. */
static int guessing_limited(struct ly_call *c, int64_t retry_after)
{
    ly_response_header(
        c->resp, "Retry-After",
        ly_arena_printf(c->req->arena, "%lld", (long long)(retry_after > 0 ? retry_after : 1)));
    return ly_api_fail(c, LY_E_RATE_LIMITED, "too many unknown user codes; try again later");
}

/*
 * An approval that found no pending code: counted for the user (an
 * autonomous statement: it stands though the answer rolls the unit back),
 * and answered 404, or 429 once the user is past the limit.
 */
static int no_such_code(struct ly_call *c)
{
    const struct ly_config *cfg = c->ctx->cfg;
    int64_t retry_after = 0;
    int r = ly_throttle_reserve(c->ctx->db, c->req->arena, ly_throttle_device(c->who->subject),
                                cfg->security.signin_max_failures, cfg->security.signin_window,
                                c->req->now, &retry_after);
    if (r == LY_E_RATE_LIMITED)
        return guessing_limited(c, retry_after);
    if (r != LY_OK)
        return r;
    return ly_api_fail(c, LY_E_NOT_FOUND, "no pending device login has that code");
}

/* SPEC §5.4: POST /api/auth/v1/device/approve {user_code, approve}. */
int ly_api_device_approve(struct ly_call *c)
{
    static const struct ly_json_field fields[] = {{"user_code", LY_JSON_STRING, true},
                                                  {"approve", LY_JSON_BOOL, true}};
    struct ly_request *req = c->req;
    struct lanyard_ctx *ctx = c->ctx;
    const struct ly_config *cfg = ctx->cfg;
    struct ly_field_errors errs = {.n = 0};
    if (ly_json_check_fields(req->json, fields, 2, &errs) != LY_OK)
        return ly_api_invalid(c, "the body does not match the approval", &errs);
    bool approve = ly_json_get_bool(req->json, "approve", false);
    const char *uid = c->who->subject;

    /*
     * SPEC §5.4: guessing is throttled per user like sign-in (the same
     * limit and window). Only misses are counted, so approving many real
     * codes never locks anyone out; once past the limit every approval
     * waits for the window, a right code too.
     */
    int64_t retry_after = 0;
    int r = ly_throttle_peek(ctx->db, req->arena, ly_throttle_device(uid),
                             cfg->security.signin_max_failures, cfg->security.signin_window,
                             req->now, &retry_after);
    if (r == LY_E_RATE_LIMITED)
        return guessing_limited(c, retry_after);
    if (r != LY_OK)
        return r;

    char code[LY_USER_CODE_LEN + 1];
    struct ly_device d;
    if (!ly_device_user_code_normalize(ly_json_get_string(req->json, "user_code"), code))
        return no_such_code(c);
    r = ly_devices_get_by_user_code(ctx->db, req->arena, code, &d);
    if (r == LY_E_NOT_FOUND ||
        (r == LY_OK && (d.status != LY_DEVICE_PENDING || d.expires_at <= req->now)))
        return no_such_code(c);
    if (r != LY_OK)
        return r;
    /* Decided in the database: of two racing approvals of one code, one finds it pending. */
    bool decided = false;
    if ((r = ly_devices_decide(ctx->db, req->arena, code, uid, approve, req->now, &decided)) !=
        LY_OK)
        return r;
    if (!decided)
        return ly_api_fail(c, LY_E_NOT_FOUND, "no pending device login has that code");
    struct ly_audit_target target = {"device_code", code};
    if ((r = ly_api_audit_user(c, approve ? "device.approved" : "device.denied", uid, NULL, NULL,
                               target, true)) != LY_OK)
        return r;
    ly_response_empty(c->resp, 204);
    return LY_OK;
}
