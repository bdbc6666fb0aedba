/*
 * policy: the one place that answers "may principal P do action A on
 * organization O" (SPEC §5.9), for users (by their role), service accounts
 * (in their own organization only, with their role, never as owner) and
 * platform administrators (everything an owner may, everywhere).
 *
 * The decision itself is a pure function of (kind, platform admin, role,
 * action), unit-tested over every combination; ly_policy_org wraps it with
 * the database look-ups every organization endpoint needs.
 */
#ifndef LY_POLICY_H
#define LY_POLICY_H

#include <stdbool.h>

#include "lanyard/http.h"
#include "lanyard/jwt.h"
#include "lanyard/orgs.h"

enum ly_org_action {
    LY_ACT_ORG_CREATE,    /* POST /orgs (no organization yet) */
    LY_ACT_ORG_VIEW,      /* GET /orgs/{org} */
    LY_ACT_MEMBERS_LIST,  /* GET /orgs/{org}/members */
    LY_ACT_ORG_UPDATE,    /* PATCH /orgs/{org} */
    LY_ACT_ORG_DELETE,    /* DELETE /orgs/{org} */
    LY_ACT_MEMBER_SET,    /* add a member, or change a role when owner is not involved */
    LY_ACT_OWNER_MANAGE,  /* grant owner, or demote or remove an owner */
    LY_ACT_MEMBER_REMOVE, /* remove another member */
    LY_ACT_MEMBER_LEAVE,  /* remove oneself */
};
#define LY_ACT_COUNT (LY_ACT_MEMBER_LEAVE + 1)

enum ly_decision {
    LY_ALLOW = 0,
    LY_DENY, /* 403: the caller sees the organization but may not do this */
    LY_HIDE, /* 404: the caller may not even know the organization exists */
};

/* The caller as the policy sees it, relative to one organization. */
struct ly_actor {
    enum ly_principal_type type;
    bool platform_admin;    /* users only */
    enum ly_role role;      /* in the organization at hand; LY_ROLE_NONE outside it */
    bool users_create_orgs; /* accounts.users_create_orgs; read for LY_ACT_ORG_CREATE only */
};

/*
 * The decision for actor doing action. Pure: no I/O, no allocation. A
 * service account's role counts as at most admin, whatever it says.
 */
enum ly_decision ly_policy_decide(const struct ly_actor *actor, enum ly_org_action action);

/* LY_OK, LY_E_FORBIDDEN or LY_E_NOT_FOUND for a decision. */
int ly_policy_err(enum ly_decision d);

/*
 * The caller of req (authenticated by the router) as an actor outside any
 * organization: platform_admin is looked up for users. Returns LY_OK with
 * *out filled, or an error with the answer already in resp (a 401 with its
 * challenge when the user was disabled since the token was issued).
 */
int ly_policy_actor(struct ly_request *req, struct ly_response *resp, struct ly_actor *out);

/*
 * Resolve organization name (a path segment) for the caller of req and
 * decide action. Returns LY_OK with *org (strings in the request arena) and
 * *actor (role set to the caller's role in it). Otherwise the answer is
 * already in resp and the error returned: LY_E_NOT_FOUND when there is no
 * such organization or the caller may not see it (the same answer either
 * way, SPEC §3), LY_E_FORBIDDEN when it may see it but not do action, or a
 * database error. Outputs untouched on failure.
 */
int ly_policy_org(struct ly_request *req, struct ly_response *resp, const char *name,
                  enum ly_org_action action, struct ly_org *org, struct ly_actor *actor);

#endif
