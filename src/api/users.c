#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/auth.h"
#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/orgs.h"
#include "lanyard/page.h"
#include "lanyard/password.h"
#include "lanyard/sessions.h"
#include "lanyard/users.h"
#include "lanyard/validate.h"

/*
 * The user {id} of the path, visible to the caller: themself, or anyone for
 * a platform administrator. Anyone else gets 404 (SPEC §5.10), answered here.
 */
static int visible_user(struct ly_request *req, struct ly_response *resp, struct ly_user *u,
                        bool *is_admin)
{
    struct ly_principal *p = (struct ly_principal *)req->principal;
    int r = LY_E_NOT_FOUND;
    if (p->type == LY_PRINCIPAL_USER && (r = ly_auth_load_user(req, p)) == LY_OK) {
        if (p->platform_admin || strcmp(p->id, req->params[0]) == 0)
            r = ly_users_get(req->ctx->db, req->arena, req->params[0], u);
        else
            r = LY_E_NOT_FOUND;
    }
    if (r == LY_E_NOT_FOUND)
        ly_response_problem(req, resp, r, "no such user", NULL);
    else if (r == LY_OK)
        *is_admin = p->platform_admin;
    return r;
}

static int hash_password(struct ly_request *req, const char *pw, const char **phc)
{
    char buf[LY_PHC_MAX_LEN];
    int r = ly_password_hash(&req->ctx->scrypt, pw, strlen(pw), buf);
    if (r == LY_OK)
        *phc = ly_arena_strdup(req->arena, buf);
    return r;
}

/*
 * Create a user from the request body checked against fields (POST /users
 * and the self sign-up), and answer 201 with the user and its Location.
 */
static int create_user(struct ly_request *req, struct ly_response *resp,
                       const struct ly_json_field *fields, size_t n_fields)
{
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
    int r = hash_password(req, pw, &phc);
    if (r != LY_OK)
        return r;
    struct ly_user u;
    r = ly_users_insert(req->ctx->db, req->arena, email, dn && dn[0] ? dn : NULL, phc,
                        ly_json_get_bool(req->json, "platform_admin", false), req->now, &u);
    if (r == LY_E_CONFLICT) {
        ly_response_problem(req, resp, r, "a user with this e-mail already exists", NULL);
        return LY_OK;
    }
    if (r != LY_OK)
        return r;
    ly_response_json(req, resp, 201, ly_user_to_json(&u));
    ly_response_location(req, resp, ly_arena_printf(req->arena, "/api/org/v1/users/%s", u.id));
    return LY_OK;
}

int ly_api_users_create(struct ly_request *req, struct ly_response *resp)
{
    static const struct ly_json_field fields[] = {
        {"email", LY_JSON_STRING, true},
        {"password", LY_JSON_STRING, true},
        {"display_name", LY_JSON_STRING | LY_JSON_NULL, false},
        {"platform_admin", LY_JSON_BOOL, false}};
    return create_user(req, resp, fields, 4);
}

/* SPEC §5.2: self sign-up, only when accounts.self_signup; never an administrator. */
int ly_api_signup(struct ly_request *req, struct ly_response *resp)
{
    static const struct ly_json_field fields[] = {
        {"email", LY_JSON_STRING, true},
        {"password", LY_JSON_STRING, true},
        {"display_name", LY_JSON_STRING | LY_JSON_NULL, false}};
    if (!req->ctx->cfg->accounts.self_signup) {
        ly_response_problem(req, resp, LY_E_NOT_FOUND, "no such endpoint", NULL);
        return LY_OK;
    }
    return create_user(req, resp, fields, 3);
}

int ly_api_users_list(struct ly_request *req, struct ly_response *resp)
{
    struct ly_page page;
    int r = ly_page_from_query(req, resp, "users", &page);
    if (r != LY_OK)
        return resp->status ? LY_OK : r;
    struct ly_user *users = NULL;
    size_t n = 0;
    bool more = false;
    if ((r = ly_users_list(req->ctx->db, req->arena, &page, &users, &n, &more)) != LY_OK)
        return r;
    struct json_object *o = json_object_new_object();
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, ly_user_to_json(&users[i]));
    json_object_object_add(o, "items", items);
    const char *next = more ? ly_page_token(req, "users", users[n - 1].email) : NULL;
    json_object_object_add(o, "next_page_token", ly_json_str_or_null(next));
    ly_response_json(req, resp, 200, o);
    return LY_OK;
}

int ly_api_users_get(struct ly_request *req, struct ly_response *resp)
{
    struct ly_user u;
    bool admin = false;
    int r = visible_user(req, resp, &u, &admin);
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

int ly_api_users_update(struct ly_request *req, struct ly_response *resp)
{
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
    int r = visible_user(req, resp, &u, &admin);
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
    /* A user changing their own password proves they know the current one. */
    if (pw != NULL && !admin &&
        (current == NULL ||
         !ly_password_verify(&ctx->scrypt, u.password_hash, current, strlen(current)))) {
        ly_response_problem(req, resp, LY_E_FORBIDDEN, "current_password is not correct", NULL);
        return LY_OK;
    }
    const char *phc = NULL;
    if (pw != NULL && (r = hash_password(req, pw, &phc)) != LY_OK)
        return r;

    if ((r = ly_db_begin(ctx->db)) != LY_OK)
        return r;
    if ((disabled == 1 || padmin == 0) && (r = keep_one_admin(req, &u)) != LY_OK) {
        if (r == LY_E_CONFLICT)
            ly_response_problem(req, resp, r, "the last platform administrator must stay", NULL);
        goto out;
    }
    if ((r = ly_users_update(ctx->db, req->arena, u.id, dn_given ? (dn ? dn : "") : NULL, phc,
                             disabled, padmin, req->now)) != LY_OK)
        goto out;
    /*
     * SPEC §5.10: a new password ends the user's other sessions (the caller's
     * own stays when they changed their own password); disabling ends all.
     */
    if (disabled == 1 || phc != NULL) {
        const struct ly_principal *p = req->principal;
        const char *keep = disabled != 1 && strcmp(p->id, u.id) == 0 ? p->session_id : NULL;
        if ((r = ly_sessions_revoke_user(ctx->db, req->arena, u.id, keep, req->now)) != LY_OK)
            goto out;
    }
    if ((r = ly_users_get(ctx->db, req->arena, u.id, &u)) != LY_OK ||
        (r = ly_db_commit(ctx->db)) != LY_OK)
        goto out;
    ly_response_json(req, resp, 200, ly_user_to_json(&u));
out:
    ly_db_rollback(ctx->db);
    return resp->status ? LY_OK : r;
}

int ly_api_users_delete(struct ly_request *req, struct ly_response *resp)
{
    struct lanyard_ctx *ctx = req->ctx;
    struct ly_user u;
    int r = ly_users_get(ctx->db, req->arena, req->params[0], &u);
    if (r == LY_E_NOT_FOUND) {
        ly_response_problem(req, resp, r, "no such user", NULL);
        return LY_OK;
    }
    if (r != LY_OK)
        return r;
    if ((r = ly_db_begin(ctx->db)) != LY_OK)
        return r;
    r = ly_orgs_check_not_last_owner(ctx->db, req->arena, u.id);
    if (r == LY_E_CONFLICT) {
        ly_response_problem(req, resp, r, "the user is the last owner of an organization", NULL);
        goto out;
    }
    if (r != LY_OK)
        goto out;
    if ((r = keep_one_admin(req, &u)) != LY_OK) {
        if (r == LY_E_CONFLICT)
            ly_response_problem(req, resp, r, "the last platform administrator must stay", NULL);
        goto out;
    }
    /* Sessions, tokens and memberships go with the row (ON DELETE CASCADE). */
    if ((r = ly_users_delete(ctx->db, req->arena, u.id)) != LY_OK ||
        (r = ly_db_commit(ctx->db)) != LY_OK)
        goto out;
    ly_response_empty(resp, 204);
out:
    ly_db_rollback(ctx->db);
    return resp->status ? LY_OK : r;
}
