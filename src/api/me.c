#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <json-c/json.h>

#include "lanyard/auth.h"
#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/orgs.h"
#include "lanyard/users.h"

static struct json_object *credential_json(const struct ly_principal *p)
{
    struct json_object *c = json_object_new_object();
    if (p->cred == LY_CRED_API_KEY) {
        json_object_object_add(c, "type", json_object_new_string("api_key"));
        json_object_object_add(c, "key_id", ly_json_str_or_null(p->key_id));
    } else {
        json_object_object_add(c, "type", json_object_new_string("access_token"));
        json_object_object_add(c, "format", json_object_new_string(p->jwt ? "jwt" : "opaque"));
        if (p->type == LY_PRINCIPAL_USER)
            json_object_object_add(c, "session_id", ly_json_str_or_null(p->session_id));
        else
            json_object_object_add(c, "key_id", ly_json_str_or_null(p->key_id));
    }
    json_object_object_add(c, "expires_at", ly_json_time(p->expires_at));
    return c;
}

static int me_user(struct ly_request *req, struct ly_response *resp, const struct ly_principal *p)
{
    struct ly_user u;
    struct ly_org_membership *orgs = NULL;
    size_t n = 0;
    int r = ly_orgs_identity(req->ctx->db, req->arena, p->id, &u, &orgs, &n);
    if (r == LY_E_NOT_FOUND || (r == LY_OK && u.disabled))
        return LY_E_INVALID_TOKEN;
    if (r != LY_OK)
        return r;
    struct json_object *o = json_object_new_object();
    struct json_object *user = json_object_new_object();
    json_object_object_add(user, "id", json_object_new_string(u.id));
    json_object_object_add(user, "email", json_object_new_string(u.email));
    json_object_object_add(user, "display_name", ly_json_str_or_null(u.display_name));
    json_object_object_add(user, "platform_admin", json_object_new_boolean(u.platform_admin));
    json_object_object_add(user, "created_at", ly_json_time(u.created_at));
    struct json_object *list = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        struct json_object *m = json_object_new_object();
        json_object_object_add(m, "name", json_object_new_string(orgs[i].name));
        json_object_object_add(m, "display_name", ly_json_str_or_null(orgs[i].display_name));
        json_object_object_add(m, "role", json_object_new_string(ly_role_name(orgs[i].role)));
        json_object_array_add(list, m);
    }
    json_object_object_add(o, "type", json_object_new_string("user"));
    json_object_object_add(o, "user", user);
    json_object_object_add(o, "organizations", list);
    json_object_object_add(o, "credential", credential_json(p));
    ly_response_json(req, resp, 200, o);
    return LY_OK;
}

static int me_service_account(struct ly_request *req, struct ly_response *resp,
                              const struct ly_principal *p)
{
    struct ly_db_result res;
    struct ly_db_value params[] = {LY_DB_S(p->id)};
    int r = ly_db_exec(req->ctx->db, req->arena,
                       "SELECT s.id, s.name, o.name, s.role, s.display_name, s.description,"
                       " s.created_at FROM service_accounts s"
                       " JOIN organizations o ON o.id = s.org_id WHERE s.id = ?",
                       params, 1, &res);
    if (r != LY_OK)
        return r;
    if (res.n_rows != 1)
        return LY_E_INVALID_TOKEN;
    const char *name = ly_db_str(&res, 0, 1), *org = ly_db_str(&res, 0, 2);
    struct json_object *sa = json_object_new_object();
    json_object_object_add(sa, "id", json_object_new_string(ly_db_str(&res, 0, 0)));
    json_object_object_add(sa, "name", json_object_new_string(name));
    json_object_object_add(
        sa, "identifier",
        json_object_new_string(ly_arena_printf(req->arena, "%s@%s.%s", name, org,
                                               req->ctx->cfg->accounts.service_account_domain)));
    json_object_object_add(sa, "organization", json_object_new_string(org));
    json_object_object_add(sa, "role", json_object_new_string(ly_db_str(&res, 0, 3)));
    json_object_object_add(sa, "display_name", ly_json_str_or_null(ly_db_str(&res, 0, 4)));
    json_object_object_add(sa, "description", ly_json_str_or_null(ly_db_str(&res, 0, 5)));
    json_object_object_add(sa, "created_at", ly_json_time(ly_db_int(&res, 0, 6, 0)));
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("service_account"));
    json_object_object_add(o, "service_account", sa);
    json_object_object_add(o, "credential", credential_json(p));
    ly_response_json(req, resp, 200, o);
    return LY_OK;
}

/* SPEC §5.8: at most two indexed queries. */
int ly_api_me(struct ly_request *req, struct ly_response *resp)
{
    const struct ly_principal *p = req->principal;
    int r = p->type == LY_PRINCIPAL_USER ? me_user(req, resp, p) : me_service_account(req, resp, p);
    if (r == LY_E_INVALID_TOKEN) {
        struct ly_auth_failure fail = {LY_SCHEME_BEARER,
                                       "the account no longer exists or is disabled"};
        ly_auth_challenge(req, resp, r, &fail);
        return LY_OK;
    }
    return r;
}
