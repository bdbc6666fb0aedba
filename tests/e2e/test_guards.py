"""The guards of doc/decisions.md ("Galera"), seen from the database.

On a Galera cluster a rule over several rows holds only if every
transaction that could break it writes one row they all share (its guard:
`guard = guard + 1`), because locking reads are node-local and not in the
write set. One server cannot show the race itself, but it can show the
write: each guarded change adds exactly one to the right row's guard, and a
change the rule refuses (409) adds nothing, because its unit is rolled
back. A guard write lost in a refactoring shows here, long before a cluster
lets two demotions of the last two owners through.
"""

import urllib.parse

import pytest

from conftest import need_private
from harness.stack import unique
from test_foundation import assert_problem
from test_hardening import ORGS, USERS, admin_headers, bearer, new_user, patch, signin

# the API's logic, the same through every front end (conftest.py, "neutral")
pytestmark = pytest.mark.neutral

ME_KEYS = "/api/org/v1/me/keys"


def one(stack, sql):
    rows = stack.mariadb.sql("USE lanyard; " + sql)
    assert len(rows) == 1, (sql, rows)
    return int(rows[0][0])


def org_guard(stack, org):
    return one(stack, "SELECT guard FROM organizations WHERE name = '%s'" % org)


def user_guard(stack, user_id):
    return one(stack, "SELECT guard FROM users WHERE id = '%s'" % user_id)


def admins_guard(stack):
    return one(stack, "SELECT guard FROM settings WHERE name = 'platform_admins'")


def member_path(org, who):
    return "%s/%s/members/%s" % (ORGS, org, urllib.parse.quote(who, "@"))


def new_org(http, headers):
    org = unique("org")
    r = http.post(ORGS, json={"name": org}, headers=headers)
    assert r.status_code == 201, r.text[:300]
    return org


def test_owner_changes_write_the_organizations_guard(stack, http):
    """Every change of an organization's members writes its guard once;
    the last owner's refused leaving writes nothing."""
    need_private(stack)
    admin = admin_headers(http, stack)
    a, b, c = (new_user(http, admin) for _ in range(3))
    ha = bearer(signin(http, a["email"])["access_token"])
    org = new_org(http, ha)
    assert org_guard(stack, org) == 0
    steps = [
        ("PUT", b["id"], {"role": "owner"}, 201),   # added as a second owner
        ("PUT", c["id"], {"role": "member"}, 201),  # an addition
        ("PUT", b["id"], {"role": "admin"}, 200),   # an owner demoted
        ("PUT", b["id"], {"role": "admin"}, 200),   # no change of role: guarded all the same
        ("DELETE", c["id"], None, 204),             # a removal
    ]
    for n, (method, who, body, status) in enumerate(steps, start=1):
        r = http.request(method, member_path(org, who), json=body, headers=ha)
        assert r.status_code == status, (method, body, r.status_code, r.text[:300])
        assert org_guard(stack, org) == n, (method, body)
    # a is the last owner: leaving and demoting oneself are 409, and roll back.
    assert_problem(http.delete(member_path(org, a["id"]), headers=ha), 409, "conflict")
    r = http.request("PUT", member_path(org, a["id"]), json={"role": "member"}, headers=ha)
    assert_problem(r, 409, "conflict")
    assert org_guard(stack, org) == len(steps)
    # A service account added to the organization writes it too.
    r = http.post("%s/%s/service-accounts" % (ORGS, org), json={"name": unique("svc")},
                  headers=ha)
    assert r.status_code == 201, r.text[:300]
    assert org_guard(stack, org) == len(steps) + 1


def test_deleting_a_user_writes_the_guard_of_each_organization_it_owns(stack, http):
    """A user's deletion writes the guard of every organization it owns, once,
    and none of the others; refused as a last owner, it writes nothing."""
    need_private(stack)
    admin = admin_headers(http, stack)
    u, v = new_user(http, admin), new_user(http, admin)
    hu = bearer(signin(http, u["email"])["access_token"])
    hv = bearer(signin(http, v["email"])["access_token"])
    shared, alone, member_only = new_org(http, hu), new_org(http, hu), new_org(http, hv)
    for org, by, role in ((shared, hu, "owner"), (member_only, hv, "member")):
        who = v["id"] if by is hu else u["id"]
        r = http.request("PUT", member_path(org, who), json={"role": role}, headers=by)
        assert r.status_code == 201, r.text[:300]
    before = {o: org_guard(stack, o) for o in (shared, alone, member_only)}
    assert before == {shared: 1, alone: 0, member_only: 1}, before
    # u is the last owner of `alone`: 409, and the unit (guards included) rolled back.
    assert_problem(http.delete("%s/%s" % (USERS, u["id"]), headers=admin), 409, "conflict")
    assert {o: org_guard(stack, o) for o in before} == before
    r = http.delete(member_path(alone, v["id"]), headers=hu)
    assert r.status_code == 404, r.text[:300]  # v is no member there: nothing to remove
    r = http.request("PUT", member_path(alone, v["id"]), json={"role": "owner"}, headers=hu)
    assert r.status_code == 201, r.text[:300]
    r = http.delete("%s/%s" % (USERS, u["id"]), headers=admin)
    assert r.status_code == 204, r.text[:300]
    # shared: +1, the deletion; alone: the new owner and the deletion (the 404 was rolled
    # back); member_only untouched, u merely a member there.
    assert org_guard(stack, shared) == 2
    assert org_guard(stack, alone) == 2
    assert org_guard(stack, member_only) == 1


def test_taking_an_administrator_away_writes_the_platform_admins_guard(stack, http):
    """Disabling or demoting a platform administrator writes the one
    platform_admins row; a change that cannot take one away does not."""
    need_private(stack)
    admin = admin_headers(http, stack)
    x = new_user(http, admin, platform_admin=True)
    y = new_user(http, admin)
    path = "%s/%s" % (USERS, x["id"])
    g = admins_guard(stack)
    r = patch(http, path, {"display_name": "no guard needed"}, admin)
    assert r.status_code == 200, r.text[:300]
    r = patch(http, "%s/%s" % (USERS, y["id"]), {"disabled": True}, admin)
    assert r.status_code == 200, r.text[:300]  # not an administrator: no rule to keep
    assert admins_guard(stack) == g
    r = patch(http, path, {"disabled": True}, admin)
    assert r.status_code == 200, r.text[:300]
    assert admins_guard(stack) == g + 1
    r = patch(http, path, {"disabled": False, "platform_admin": False}, admin)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["platform_admin"] is False
    assert admins_guard(stack) == g + 2


def test_key_creation_writes_its_owners_guard(stack, http):
    """max_per_account: a personal key writes its user's guard, a service
    account's key the account's, once per creation."""
    need_private(stack)
    admin = admin_headers(http, stack)
    u = new_user(http, admin)
    hu = bearer(signin(http, u["email"])["access_token"])
    org = new_org(http, hu)
    g = user_guard(stack, u["id"])
    for n in (1, 2):
        r = http.post(ME_KEYS, json={"org": org}, headers=hu)
        assert r.status_code == 201, r.text[:300]
        assert user_guard(stack, u["id"]) == g + n
    name = unique("svc")
    r = http.post("%s/%s/service-accounts" % (ORGS, org), json={"name": name}, headers=hu)
    assert r.status_code == 201, r.text[:300]
    sa = r.json()["id"]
    sa_guard = "SELECT guard FROM service_accounts WHERE id = '%s'" % sa
    assert one(stack, sa_guard) == 0
    r = http.post("%s/%s/service-accounts/%s/keys" % (ORGS, org, name), json={}, headers=hu)
    assert r.status_code == 201, r.text[:300]
    assert one(stack, sa_guard) == 1
