#include "build-config.h"
#include "banned.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lanyard/gate.h"
#include "lanyard/validate.h"

/* SPEC §4: R passes a key scoped to S when R equals S or starts with S followed by '/'. */
static const struct resource_case {
    const char *desc;
    const char *scope;    /* NULL: unscoped */
    const char *resource; /* NULL: none named */
    bool want;
} resource_cases[] = {
    {"unscoped, none named", NULL, NULL, true},
    {"unscoped, any named", NULL, "my-company/sentinel-repo", true},
    {"scoped, none named", "env-z3q9rd.aws.us-east-1", NULL, false},
    {"scoped, equal", "env-z3q9rd.aws.us-east-1", "env-z3q9rd.aws.us-east-1", true},
    {"scoped, below", "my-company/sentinel-repo", "my-company/sentinel-repo/objects/1", true},
    {"scoped, one level below", "my-company/sentinel-repo", "my-company/sentinel-repo/x", true},
    {"scoped, below with a trailing slash", "a", "a/", true},
    {"scoped, longer name, no slash", "my-company/sentinel-repo", "my-company/sentinel-repo2",
     false},
    {"scoped, dot is no separator", "env-z3q9rd.aws", "env-z3q9rd.aws.us-east-1", false},
    {"scoped, colon is no separator", "a", "a:b", false},
    {"scoped, a parent", "my-company/sentinel-repo", "my-company", false},
    {"scoped, a parent with slash", "my-company/sentinel-repo", "my-company/", false},
    {"scoped, another", "my-company/sentinel-repo", "other/sentinel-repo", false},
    {"scoped, a prefix of the scope", "abc", "ab", false},
    {"scoped, case differs", "Repo", "repo", false},
    {"scoped, empty named", "a", "", false},
    {"scope ending in slash, its child", "a/", "a//b", true},
    {"scope ending in slash, one slash", "a/", "a/b", false},
};

static void test_resource_covers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(resource_cases) / sizeof(resource_cases[0]); i++) {
        const struct resource_case *c = &resource_cases[i];
        bool got = ly_resource_covers(c->scope, c->resource);
        if (got != c->want)
            fail_msg("case \"%s\": want %d, got %d", c->desc, c->want, got);
    }
}

/* SPEC §5.7's org=/role= rule. */
static const struct org_case {
    const char *desc;
    bool exists, admin;
    enum ly_role have, want;
    bool pass;
} org_cases[] = {
    {"member asks member", true, false, LY_ROLE_MEMBER, LY_ROLE_MEMBER, true},
    {"member asks admin", true, false, LY_ROLE_MEMBER, LY_ROLE_ADMIN, false},
    {"admin asks member", true, false, LY_ROLE_ADMIN, LY_ROLE_MEMBER, true},
    {"admin asks admin", true, false, LY_ROLE_ADMIN, LY_ROLE_ADMIN, true},
    {"admin asks owner", true, false, LY_ROLE_ADMIN, LY_ROLE_OWNER, false},
    {"owner asks owner", true, false, LY_ROLE_OWNER, LY_ROLE_OWNER, true},
    {"non-member", true, false, LY_ROLE_NONE, LY_ROLE_MEMBER, false},
    {"platform admin, not a member", true, true, LY_ROLE_NONE, LY_ROLE_MEMBER, true},
    {"platform admin asks owner", true, true, LY_ROLE_NONE, LY_ROLE_OWNER, true},
    {"platform admin, no such org", false, true, LY_ROLE_NONE, LY_ROLE_MEMBER, false},
    {"no such org", false, false, LY_ROLE_NONE, LY_ROLE_MEMBER, false},
    {"no such org, a stale role", false, false, LY_ROLE_OWNER, LY_ROLE_MEMBER, false},
};

static void test_org_passes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(org_cases) / sizeof(org_cases[0]); i++) {
        const struct org_case *c = &org_cases[i];
        bool got = ly_gate_org_passes(c->exists, c->admin, c->have, c->want);
        if (got != c->pass)
            fail_msg("case \"%s\": want %d, got %d", c->desc, c->pass, got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resource_covers),
        cmocka_unit_test(test_org_passes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
