/*
 * policy: the one place that answers "may principal P do action A on
 * organization O" (SPEC §5.9), for users (by their role), service accounts
 * (in their own organization only, with their role, never as owner) and
 * platform administrators (everything an owner may, everywhere).
 *
 * The decision is a pure function of (kind, platform admin, role, action),
 * unit-tested over every combination; the API layer's dispatcher makes the
 * look-ups it needs and applies it to every route that names an {org}.
 */
#ifndef LY_POLICY_H
#define LY_POLICY_H

#include <stdbool.h>

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
    LY_ACT_ACCOUNTS_VIEW, /* list or get its service accounts (SPEC §5.11) */
    LY_ACT_KEYS_MANAGE,   /* change service accounts, make and see keys, revoke any key in it */
    LY_ACT_SSO_VIEW,      /* GET /orgs/{org}/sso (SPEC §5.15) */
    LY_ACT_SSO_MANAGE,    /* PUT or DELETE /orgs/{org}/sso: it decides who may sign in */
};
#define LY_ACT_COUNT (LY_ACT_SSO_MANAGE + 1)

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

#endif
