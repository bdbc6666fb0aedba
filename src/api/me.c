#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/accounts.h"
#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/orgs.h"
#include "lanyard/users.h"

static struct json_object *credential_json(const struct ly_principal *p)
{
    struct json_object *c = json_object_new_object();
    if (p->cred == LY_CRED_API_KEY || p->cred == LY_CRED_BASIC) {
        json_object_object_add(c, "type", json_object_new_string("api_key"));
        json_object_object_add(c, "key_id", ly_json_str_or_null(p->key_id));
    } else {
        json_object_object_add(c, "type", json_object_new_string("access_token"));
        json_object_object_add(c, "format",
                               json_object_new_string(p->cred == LY_CRED_JWT ? "jwt" : "opaque"));
        if (p->type == LY_PRINCIPAL_USER)
            json_object_object_add(c, "session_id", ly_json_str_or_null(p->session_id));
        else
            json_object_object_add(c, "key_id", ly_json_str_or_null(p->key_id));
    }
    json_object_object_add(c, "expires_at", ly_json_time(p->expires_at));
    /* SPEC §5.8: key credentials and the tokens exchanged with them say their scope. */
    if (p->key_id != NULL)
        json_object_object_add(c, "resource", ly_json_str_or_null(p->resource));
    return c;
}

/*
 * The caller's identity: the one the credential's lookup fetched (SPEC §5.8,
 * /me in one statement), or else one query for it.
 */
static int me_user(struct ly_call *c, const struct ly_principal *p)
{
    struct ly_request *req = c->req;
    struct ly_identity who = {0};
    if (p->identity != NULL) {
        who = *p->identity;
    } else {
        /* LY_E_NOT_FOUND leaves who.user NULL: the user is gone. */
        int r = ly_orgs_identity(req->ctx->db, req->arena, p->subject, &who);
        if (r != LY_OK && r != LY_E_NOT_FOUND)
            return r;
    }
    const struct ly_user *u = who.user;
    if (u == NULL || u->disabled)
        return LY_E_INVALID_TOKEN;
    struct json_object *o = json_object_new_object();
    struct json_object *user = json_object_new_object();
    json_object_object_add(user, "id", json_object_new_string(u->id));
    json_object_object_add(user, "email", json_object_new_string(u->email));
    json_object_object_add(user, "display_name", ly_json_str_or_null(u->display_name));
    /* A personal key never carries platform-administrator rights (SPEC §4): it says so. */
    json_object_object_add(
        user, "platform_admin",
        json_object_new_boolean(u->platform_admin && !ly_principal_is_personal_key(p)));
    json_object_object_add(user, "created_at", ly_json_time(u->created_at));
    struct json_object *list = json_object_new_array();
    for (size_t i = 0; i < who.n_orgs; i++) {
        const struct ly_org_membership *om = &who.orgs[i];
        /* SPEC §5.8: a personal key shows only its organization, with its effective role. */
        bool key = ly_principal_is_personal_key(p);
        if (key && strcmp(om->name, p->org_name) != 0)
            continue;
        struct json_object *m = json_object_new_object();
        json_object_object_add(m, "name", json_object_new_string(om->name));
        json_object_object_add(m, "display_name", ly_json_str_or_null(om->display_name));
        json_object_object_add(m, "role",
                               json_object_new_string(ly_role_name(key ? p->role : om->role)));
        json_object_array_add(list, m);
    }
    json_object_object_add(o, "type", json_object_new_string("user"));
    json_object_object_add(o, "user", user);
    json_object_object_add(o, "organizations", list);
    json_object_object_add(o, "credential", credential_json(p));
    ly_response_json(req, c->resp, 200, o);
    return LY_OK;
}

static int me_service_account(struct ly_call *c, const struct ly_principal *p)
{
    struct ly_request *req = c->req;
    struct ly_service_account got;
    const struct ly_service_account *a = p->identity != NULL ? p->identity->account : NULL;
    if (p->identity == NULL) {
        int r = ly_accounts_get(req->ctx->db, req->arena, p->subject, &got);
        if (r != LY_OK && r != LY_E_NOT_FOUND)
            return r;
        a = r == LY_OK ? &got : NULL;
    }
    /* A token names its organization: an account made again elsewhere is not the same. */
    if (a == NULL || (p->org_name != NULL && strcmp(p->org_name, a->org_name) != 0))
        return LY_E_INVALID_TOKEN;
    struct json_object *sa = ly_api_account_json(c, a);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("service_account"));
    json_object_object_add(o, "service_account", sa);
    json_object_object_add(o, "credential", credential_json(p));
    ly_response_json(req, c->resp, 200, o);
    return LY_OK;
}

/* SPEC §5.8: at most two indexed queries; one when the credential's lookup brought the identity. */
int ly_api_me(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    const struct ly_principal *p = c->who;
    int r = p->type == LY_PRINCIPAL_USER ? me_user(c, p) : me_service_account(c, p);
    if (r == LY_E_INVALID_TOKEN) {
        struct ly_auth_failure fail = {LY_SCHEME_BEARER,
                                       "the account no longer exists or is disabled"};
        ly_auth_challenge(req, resp, r, &fail);
        return LY_OK;
    }
    return r;
}
