#include "build-config.h"
#include "banned.h"

#include "lanyard/policy.h"

#include "lanyard/err.h"

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
    case LY_ACT_ACCOUNTS_VIEW:
        return LY_ALLOW;
    case LY_ACT_ORG_UPDATE:
    case LY_ACT_MEMBER_SET:
    case LY_ACT_MEMBER_REMOVE:
    case LY_ACT_KEYS_MANAGE:
    case LY_ACT_SSO_VIEW:
        return role >= LY_ROLE_ADMIN ? LY_ALLOW : LY_DENY;
    case LY_ACT_ORG_DELETE:
    case LY_ACT_OWNER_MANAGE:
    case LY_ACT_SSO_MANAGE:
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
