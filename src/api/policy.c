#include "build-config.h"
#include "banned.h"

#include "lanyard/policy.h"

#include <string.h>

#include "lanyard/auth.h"
#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/validate.h"

enum ly_decision ly_policy_decide(const struct ly_actor *actor, enum ly_org_action action)
{
    bool sa = actor->type == LY_PRINCIPAL_SERVICE_ACCOUNT;
    bool platform_admin = !sa && actor->platform_admin;
    enum ly_role role = actor->role;
    /* SPEC §5.9: service accounts are admin or member, never owner. */
    if (sa && role > LY_ROLE_ADMIN)
        role = LY_ROLE_ADMIN;

    if (action == LY_ACT_ORG_CREATE) {
        if (sa)
            return LY_DENY;
        return platform_admin || actor->users_create_orgs ? LY_ALLOW : LY_DENY;
    }
    if (platform_admin)
        return LY_ALLOW;
    /* SPEC §3: an organization the caller does not belong to is not there (404, not 403). */
    if (role == LY_ROLE_NONE)
        return LY_HIDE;
    switch (action) {
    case LY_ACT_ORG_VIEW:
    case LY_ACT_MEMBERS_LIST:
        return LY_ALLOW;
    case LY_ACT_ORG_UPDATE:
    case LY_ACT_MEMBER_SET:
    case LY_ACT_MEMBER_REMOVE:
        return role >= LY_ROLE_ADMIN ? LY_ALLOW : LY_DENY;
    case LY_ACT_ORG_DELETE:
    case LY_ACT_OWNER_MANAGE:
        return role == LY_ROLE_OWNER ? LY_ALLOW : LY_DENY;
    case LY_ACT_MEMBER_LEAVE:
        /* A service account's membership is its existence: it is deleted, not left. */
        return sa ? LY_DENY : LY_ALLOW;
    case LY_ACT_ORG_CREATE:
        break;
    }
    return LY_DENY;
}

int ly_policy_err(enum ly_decision d)
{
    switch (d) {
    case LY_ALLOW:
        return LY_OK;
    case LY_HIDE:
        return LY_E_NOT_FOUND;
    case LY_DENY:
        break;
    }
    return LY_E_FORBIDDEN;
}

int ly_policy_actor(struct ly_request *req, struct ly_response *resp, struct ly_actor *out)
{
    /* The router authenticated the caller (LY_AUTH_ANY); the cast only fills in a lookup. */
    struct ly_principal *p = (struct ly_principal *)req->principal;
    if (p == NULL) {
        struct ly_auth_failure fail = {LY_SCHEME_NONE, NULL};
        ly_auth_challenge(req, resp, LY_E_UNAUTHENTICATED, &fail);
        return LY_E_UNAUTHENTICATED;
    }
    struct ly_actor a = {
        .type = p->type,
        .platform_admin = false,
        .role = LY_ROLE_NONE,
        .users_create_orgs = req->ctx->cfg->accounts.users_create_orgs,
    };
    if (p->type == LY_PRINCIPAL_USER) {
        int r = ly_auth_load_user(req, p);
        if (r == LY_E_INVALID_TOKEN) {
            struct ly_auth_failure fail = {LY_SCHEME_BEARER, "the user is disabled"};
            ly_auth_challenge(req, resp, r, &fail);
            return r;
        }
        if (r != LY_OK) {
            ly_response_problem(req, resp, r, NULL, NULL);
            return r;
        }
        a.platform_admin = p->platform_admin;
    }
    *out = a;
    return LY_OK;
}

static void answer_decision(struct ly_request *req, struct ly_response *resp, enum ly_decision d)
{
    if (d == LY_HIDE)
        ly_response_problem(req, resp, LY_E_NOT_FOUND, "no such organization", NULL);
    else
        ly_response_problem(req, resp, LY_E_FORBIDDEN,
                            "your role in this organization does not allow this", NULL);
}

int ly_policy_org(struct ly_request *req, struct ly_response *resp, const char *name,
                  enum ly_org_action action, struct ly_org *org, struct ly_actor *actor)
{
    struct ly_actor a;
    int r = ly_policy_actor(req, resp, &a);
    if (r != LY_OK)
        return r;
    /* A name that cannot exist is answered like one that does not, without a query. */
    if (!ly_name_is_valid(name)) {
        answer_decision(req, resp, LY_HIDE);
        return LY_E_NOT_FOUND;
    }
    const struct ly_principal *p = req->principal;
    bool user = p->type == LY_PRINCIPAL_USER;
    struct ly_org o;
    enum ly_role role = LY_ROLE_NONE;
    r = ly_orgs_get(req->ctx->db, req->arena, name, user ? p->id : NULL, &o, &role);
    if (r == LY_E_NOT_FOUND) {
        answer_decision(req, resp, LY_HIDE);
        return r;
    }
    if (r != LY_OK) {
        ly_response_problem(req, resp, r, NULL, NULL);
        return r;
    }
    /*
     * A service account belongs to the organization its credential names, by
     * id: one deleted and created again under the same name is another one.
     */
    if (!user)
        role = p->org_id != NULL && strcmp(p->org_id, o.id) == 0 ? ly_role_parse(p->role)
                                                                 : LY_ROLE_NONE;
    a.role = role;
    enum ly_decision d = ly_policy_decide(&a, action);
    if (d != LY_ALLOW) {
        answer_decision(req, resp, d);
        return ly_policy_err(d);
    }
    *org = o;
    *actor = a;
    return LY_OK;
}
