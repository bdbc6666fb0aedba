#include "build-config.h"
#include "banned.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lanyard/err.h"
#include "lanyard/orgs.h"
#include "lanyard/policy.h"

/*
 * SPEC §5.9 as a table: one row per kind of caller, one column per action
 * (in enum ly_org_action order). A allow, D deny (403), H hide (404).
 */
#define U LY_PRINCIPAL_USER
#define S LY_PRINCIPAL_SERVICE_ACCOUNT

struct policy_case {
    const char *desc;
    enum ly_principal_type type;
    bool platform_admin;
    enum ly_role role;
    bool users_create_orgs;
    const char *want; /* LY_ACT_COUNT letters */
};

/*
 * Columns: create, view, list members, update, delete, set member, manage
 * owner, remove, leave, view service accounts, manage service accounts and keys,
 * view SSO, manage SSO.
 */
static const struct policy_case cases[] = {
    /* users, with users_create_orgs: true (the default) */
    {"owner", U, false, LY_ROLE_OWNER, true, "AAAAAAAAAAAAA"},
    {"admin", U, false, LY_ROLE_ADMIN, true, "AAAADADAAAAAD"},
    {"member", U, false, LY_ROLE_MEMBER, true, "AAADDDDDAADDD"},
    {"non-member", U, false, LY_ROLE_NONE, true, "AHHHHHHHHHHHH"},
    /* platform administrators: everything an owner may, everywhere */
    {"platform admin, not a member", U, true, LY_ROLE_NONE, true, "AAAAAAAAAAAAA"},
    {"platform admin who is a member", U, true, LY_ROLE_MEMBER, true, "AAAAAAAAAAAAA"},
    {"platform admin, users_create_orgs off", U, true, LY_ROLE_NONE, false, "AAAAAAAAAAAAA"},
    /* accounts.users_create_orgs: false only changes creation */
    {"owner, users_create_orgs off", U, false, LY_ROLE_OWNER, false, "DAAAAAAAAAAAA"},
    {"member, users_create_orgs off", U, false, LY_ROLE_MEMBER, false, "DAADDDDDAADDD"},
    {"non-member, users_create_orgs off", U, false, LY_ROLE_NONE, false, "DHHHHHHHHHHHH"},
    /* service accounts: their own organization with their role, never owner, never create */
    {"service account, admin", S, false, LY_ROLE_ADMIN, true, "DAAADADADAAAD"},
    {"service account, member", S, false, LY_ROLE_MEMBER, true, "DAADDDDDDADDD"},
    {"service account, another organization", S, false, LY_ROLE_NONE, true, "DHHHHHHHHHHHH"},
    {"service account claiming owner counts as admin", S, false, LY_ROLE_OWNER, true,
     "DAAADADADAAAD"},
    {"service account claiming platform admin gains nothing", S, true, LY_ROLE_NONE, true,
     "DHHHHHHHHHHHH"},
    {"service account admin, platform flag ignored", S, true, LY_ROLE_ADMIN, true, "DAAADADADAAAD"},
};

static enum ly_decision letter(char c)
{
    return c == 'A' ? LY_ALLOW : c == 'H' ? LY_HIDE : LY_DENY;
}

static const char *decision_name(enum ly_decision d)
{
    return d == LY_ALLOW ? "allow" : d == LY_HIDE ? "hide" : "deny";
}

static void test_policy_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct policy_case *c = &cases[i];
        assert_int_equal(strlen(c->want), LY_ACT_COUNT);
        struct ly_actor actor = {
            .type = c->type,
            .platform_admin = c->platform_admin,
            .role = c->role,
            .users_create_orgs = c->users_create_orgs,
        };
        for (int act = 0; act < LY_ACT_COUNT; act++) {
            enum ly_decision want = letter(c->want[act]);
            enum ly_decision got = ly_policy_decide(&actor, (enum ly_org_action)act);
            if (got != want)
                fail_msg("case \"%s\", action %d: want %s, got %s", c->desc, act,
                         decision_name(want), decision_name(got));
        }
    }
}

/* Whatever the caller, an organization it cannot see is never answered with 403. */
static void test_policy_never_forbids_the_unseen(void **state)
{
    (void)state;
    const enum ly_principal_type types[] = {U, S};
    for (size_t t = 0; t < 2; t++) {
        struct ly_actor actor = {.type = types[t], .role = LY_ROLE_NONE, .users_create_orgs = true};
        for (int act = LY_ACT_ORG_VIEW; act < LY_ACT_COUNT; act++)
            assert_int_equal(ly_policy_decide(&actor, (enum ly_org_action)act), LY_HIDE);
    }
}

static void test_policy_err(void **state)
{
    (void)state;
    assert_int_equal(ly_policy_err(LY_ALLOW), LY_OK);
    assert_int_equal(ly_policy_err(LY_DENY), LY_E_FORBIDDEN);
    assert_int_equal(ly_policy_err(LY_HIDE), LY_E_NOT_FOUND);
    assert_int_equal(ly_err_status(ly_policy_err(LY_DENY)), 403);
    assert_int_equal(ly_err_status(ly_policy_err(LY_HIDE)), 404);
}

static void test_role_names(void **state)
{
    (void)state;
    const struct {
        const char *s;
        enum ly_role role;
    } rows[] = {
        {"owner", LY_ROLE_OWNER}, {"admin", LY_ROLE_ADMIN}, {"member", LY_ROLE_MEMBER},
        {"Owner", LY_ROLE_NONE},  {"", LY_ROLE_NONE},       {"owners", LY_ROLE_NONE},
        {"none", LY_ROLE_NONE},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (ly_role_parse(rows[i].s) != rows[i].role)
            fail_msg("ly_role_parse(\"%s\")", rows[i].s);
        if (rows[i].role != LY_ROLE_NONE)
            assert_string_equal(ly_role_name(rows[i].role), rows[i].s);
    }
    assert_int_equal(ly_role_parse(NULL), LY_ROLE_NONE);
    assert_null(ly_role_name(LY_ROLE_NONE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_table),
        cmocka_unit_test(test_policy_never_forbids_the_unseen),
        cmocka_unit_test(test_policy_err),
        cmocka_unit_test(test_role_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
