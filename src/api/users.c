#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/guard.h"
#include "lanyard/config.h"
#include "lanyard/apikeys.h"
#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/orgs.h"
#include "lanyard/password.h"
#include "lanyard/sessions.h"
#include "lanyard/users.h"
#include "lanyard/validate.h"

/*
 * The user {id} of the path, visible to the caller: themself, or anyone for
 * a platform administrator. Anyone else gets 404 (SPEC §5.10), answered here.
 */
static int visible_user(struct ly_call *c, struct ly_user *u, bool *is_admin)
{
    const struct ly_principal *p = c->who;
    struct ly_request *req = c->req;
    /* A key acts in one organization only: it never reaches the user records (SPEC §4). */
    bool user = p->type == LY_PRINCIPAL_USER && p->org_id == NULL;
    int r = LY_E_NOT_FOUND;
    if (user && (p->platform_admin || strcmp(p->subject, req->params[0]) == 0))
        r = ly_users_get(req->ctx->db, req->arena, req->params[0], u);
    if (r == LY_E_NOT_FOUND)
        ly_response_problem(req, c->resp, r, "no such user", NULL);
    else if (r == LY_OK)
        *is_admin = user && p->platform_admin;
    return r;
}

/* What a user's events name (SPEC §5.12). */
static struct ly_audit_target user_target(const struct ly_user *u)
{
    return (struct ly_audit_target){"user", u->id};
}

/* Hash a new password, within the host's scrypt budget (security.scrypt_concurrency). */
static int hash_password(struct ly_call *c, const char *pw, const char **phc)
{
    struct ly_guard g;
    int r = ly_guard_begin(c, NULL, &g);
    if (r != LY_OK)
        return r;
    char buf[LY_PHC_MAX_LEN];
    r = ly_password_hash(&c->ctx->scrypt, pw, strlen(pw), buf);
    ly_guard_end(&g);
    if (r == LY_OK)
        *phc = ly_arena_strdup(c->req->arena, buf);
    return r;
}

/*
 * Create a user from the request body checked against fields (POST /users
 * and the self sign-up), and answer 201 with the user and its Location.
 */
static int create_user(struct ly_call *c, const struct ly_json_field *fields, size_t n_fields)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    struct ly_field_errors errs = {.n = 0};
    if (ly_json_check_fields(req->json, fields, n_fields, &errs) != LY_OK) {
        ly_response_invalid(req, resp, &errs);
        return LY_OK;
    }
    const char *email = NULL, *phc = NULL;
    const char *pw = ly_json_get_string(req->json, "password");
    const char *dn = ly_json_get_string(req->json, "display_name");
    if (!ly_email_normalize(req->arena, ly_json_get_string(req->json, "email"), &email))
        ly_field_errors_add(&errs, "email", "is not a valid e-mail address");
    const char *problem = ly_password_problem(pw, req->ctx->cfg->security.password_min_length);
    if (problem != NULL)
        ly_field_errors_add(&errs, "password", problem);
    if (dn != NULL && !ly_text_is_valid(dn, LY_DISPLAY_NAME_MAX))
        ly_field_errors_add(&errs, "display_name", "must be at most 200 characters of text");
    if (errs.n > 0) {
        ly_response_invalid(req, resp, &errs);
        return LY_OK;
    }
    int r = hash_password(c, pw, &phc);
    if (r != LY_OK)
        return r;
    struct ly_user u;
    r = ly_users_insert(req->ctx->db, req->arena, email, dn && dn[0] ? dn : NULL, phc,
                        ly_json_get_bool(req->json, "platform_admin", false), req->now, &u);
    if (r == LY_E_CONFLICT) {
        ly_response_problem(req, resp, r, "a user with this e-mail already exists", NULL);
        return LY_OK;
    }
    /* A self sign-up is the new user's own act; an administrator's is theirs (c->who). */
    const char *actor = c->who == NULL ? "user" : NULL;
    if (r == LY_OK)
        r = ly_api_audit_user(c, "user.created", u.id, actor, actor ? u.id : NULL, user_target(&u),
                              true);
    if (r != LY_OK)
        return r;
    ly_response_json(req, resp, 201, ly_user_to_json(&u));
    ly_response_location(req, resp, ly_arena_printf(req->arena, "/api/org/v1/users/%s", u.id));
    return LY_OK;
}

int ly_api_users_create(struct ly_call *c)
{
    static const struct ly_json_field fields[] = {
        {"email", LY_JSON_STRING, true},
        {"password", LY_JSON_STRING, true},
        {"display_name", LY_JSON_STRING | LY_JSON_NULL, false},
        {"platform_admin", LY_JSON_BOOL, false}};
    return create_user(c, fields, 4);
}

/* SPEC §5.2: self sign-up, only when accounts.self_signup; never an administrator. */
int ly_api_signup(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    static const struct ly_json_field fields[] = {
        {"email", LY_JSON_STRING, true},
        {"password", LY_JSON_STRING, true},
        {"display_name", LY_JSON_STRING | LY_JSON_NULL, false}};
    if (!req->ctx->cfg->accounts.self_signup) {
        ly_response_problem(req, resp, LY_E_NOT_FOUND, "no such endpoint", NULL);
        return LY_OK;
    }
    return create_user(c, fields, 3);
}

int ly_api_users_list(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_page page;
    int r = ly_list_page(c, "users", &page);
    if (r != LY_OK)
        return r;
    struct ly_user *users = NULL;
    size_t n = 0;
    bool more = false;
    if ((r = ly_users_list(req->ctx->db, req->arena, &page, &users, &n, &more)) != LY_OK)
        return r;
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, ly_user_to_json(&users[i]));
    return ly_list_answer(c, "users", items, more, n > 0 ? users[n - 1].email : NULL);
}

int ly_api_users_get(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    struct ly_user u;
    bool admin = false;
    int r = visible_user(c, &u, &admin);
    if (r != LY_OK)
        return r;
    ly_response_json(req, resp, 200, ly_user_to_json(&u));
    return LY_OK;
}

/*
 * 409 if taking away u's administrator right would leave the platform
 * without another enabled one (a disabled administrator cannot be the one
 * that stays).
 */
static int keep_one_admin(struct ly_request *req, const struct ly_user *u)
{
    if (!u->platform_admin)
        return LY_OK;
    int64_t others = 0;
    int r = ly_users_count_active_admins(req->ctx->db, req->arena, u->id, &others, true);
    if (r != LY_OK)
        return r;
    return others < 1 ? LY_E_CONFLICT : LY_OK;
}

int ly_api_users_update(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    static const struct ly_json_field fields[] = {
        {"display_name", LY_JSON_STRING | LY_JSON_NULL, false},
        {"password", LY_JSON_STRING, false},
        {"current_password", LY_JSON_STRING, false},
        {"disabled", LY_JSON_BOOL, false},
        {"platform_admin", LY_JSON_BOOL, false}};
    struct lanyard_ctx *ctx = req->ctx;
    struct ly_field_errors errs = {.n = 0};
    struct ly_user u;
    bool admin = false;
    int r = visible_user(c, &u, &admin);
    if (r != LY_OK)
        return r;
    if (ly_json_check_fields(req->json, fields, 5, &errs) != LY_OK) {
        ly_response_invalid(req, resp, &errs);
        return LY_OK;
    }
    struct json_object *j = req->json;
    const char *pw = ly_json_get_string(j, "password");
    const char *current = ly_json_get_string(j, "current_password");
    const char *dn = ly_json_get_string(j, "display_name");
    bool dn_given = ly_json_has(j, "display_name");
    int disabled = ly_json_has(j, "disabled") ? ly_json_get_bool(j, "disabled", false) : -1;
    int padmin =
        ly_json_has(j, "platform_admin") ? ly_json_get_bool(j, "platform_admin", false) : -1;
    if (dn != NULL && !ly_text_is_valid(dn, LY_DISPLAY_NAME_MAX))
        ly_field_errors_add(&errs, "display_name", "must be at most 200 characters of text");
    const char *problem =
        pw ? ly_password_problem(pw, ctx->cfg->security.password_min_length) : NULL;
    if (problem != NULL)
        ly_field_errors_add(&errs, "password", problem);
    if (errs.n > 0) {
        ly_response_invalid(req, resp, &errs);
        return LY_OK;
    }
    if (!admin && (disabled >= 0 || padmin >= 0)) {
        ly_response_problem(req, resp, LY_E_FORBIDDEN,
                            "only a platform administrator may change disabled or platform_admin",
                            NULL);
        return LY_OK;
    }
    /*
     * A user changing their own password proves they know the current one;
     * each try counts against their sign-in throttle (SPEC §5.10), or the
     * endpoint would be an unlimited password oracle for a token's holder.
     */
    if (pw != NULL && !admin) {
        struct ly_guard g;
        if ((r = ly_guard_begin(c, u.email, &g)) != LY_OK)
            return r;
        bool right = current != NULL &&
                     ly_password_verify(&ctx->scrypt, u.password_hash, current, strlen(current));
        ly_guard_end(&g);
        if (!right) {
            if ((r = ly_guard_failed(c, &g)) != LY_OK)
                return r;
            ly_response_problem(req, resp, LY_E_FORBIDDEN, "current_password is not correct", NULL);
            return LY_OK;
        }
        if ((r = ly_guard_passed(c, &g)) != LY_OK)
            return r;
    }
    const char *phc = NULL;
    if (pw != NULL && (r = hash_password(c, pw, &phc)) != LY_OK)
        return r;
    if ((disabled == 1 || padmin == 0) && (r = keep_one_admin(req, &u)) != LY_OK) {
        if (r == LY_E_CONFLICT)
            ly_response_problem(req, resp, r, "the last platform administrator must stay", NULL);
        return r;
    }
    if ((r = ly_users_update(ctx->db, req->arena, u.id, dn_given ? (dn ? dn : "") : NULL, phc,
                             disabled, padmin, req->now)) != LY_OK)
        return r;
    /*
     * SPEC §5.10: a new password ends the user's other sessions (the caller's
     * own stays when they changed their own password); disabling ends all.
     */
    if (disabled == 1 || phc != NULL) {
        const struct ly_principal *p = c->who;
        const char *keep = disabled != 1 && strcmp(p->subject, u.id) == 0 ? p->session_id : NULL;
        if ((r = ly_sessions_revoke_user(ctx->db, req->arena, u.id, keep, req->now)) != LY_OK)
            return r;
    }
    /* ... and their personal keys, which enabling the user again must not bring back. */
    if (disabled == 1 && (r = ly_api_keys_delete_of_user(ctx->db, req->arena, u.id)) != LY_OK)
        return r;
    /* One event: the sessions and keys a disabling or a new password ends go with it. */
    if ((r = ly_users_get(ctx->db, req->arena, u.id, &u)) != LY_OK ||
        (r = ly_api_audit_user(c, "user.updated", u.id, NULL, NULL, user_target(&u), true)) !=
            LY_OK)
        return r;
    ly_response_json(req, resp, 200, ly_user_to_json(&u));
    return LY_OK;
}

int ly_api_users_delete(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    struct lanyard_ctx *ctx = req->ctx;
    struct ly_user u;
    int r = ly_users_get(ctx->db, req->arena, req->params[0], &u);
    if (r == LY_E_NOT_FOUND) {
        ly_response_problem(req, resp, r, "no such user", NULL);
        return LY_OK;
    }
    if (r != LY_OK)
        return r;
    r = ly_orgs_check_not_last_owner(ctx->db, req->arena, u.id);
    if (r == LY_E_CONFLICT)
        ly_response_problem(req, resp, r, "the user is the last owner of an organization", NULL);
    if (r != LY_OK)
        return r;
    if ((r = keep_one_admin(req, &u)) != LY_OK) {
        if (r == LY_E_CONFLICT)
            ly_response_problem(req, resp, r, "the last platform administrator must stay", NULL);
        return r;
    }
    /*
     * The event comes first, in the same unit: it is recorded once for each
     * of the user's organizations, whose memberships go with the row
     * (ON DELETE CASCADE, with sessions and tokens). A delete that fails
     * rolls it back.
     */
    if ((r = ly_api_audit_user(c, "user.deleted", u.id, NULL, NULL, user_target(&u), true)) !=
            LY_OK ||
        (r = ly_users_delete(ctx->db, req->arena, u.id)) != LY_OK)
        return r;
    ly_response_empty(resp, 204);
    return LY_OK;
}
