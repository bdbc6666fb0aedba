"""lanyardctl commands whose effect shows through HTTP (SPEC §1): bootstrap
with --org on an empty database, user create/disable/enable, key
create/revoke."""

import re

import pytest

from conftest import Client, need_private
from harness.lanyard import write_secret
from harness.stack import unique, unique_email
from test_auth import (CustomStack, PASSWORD, ME, assert_rejected_token, bearer, refresh,
                       signin)
from test_foundation import assert_oauth_error, assert_problem

SIGNIN = "/api/auth/v1/signin"
ORGS = "/api/org/v1/orgs"


@pytest.mark.stacks("lighttpd-jwt", "lighttpd-opaque")
def test_user_disable_and_enable_from_the_command_line(stack, http, tmp_path):
    need_private(stack)
    email = unique_email("ctl")
    pw = str(tmp_path / "pw")
    write_secret(pw, PASSWORD)
    r = stack.ctl("user", "create", "--email", email, "--password-file", pw)
    assert r.returncode == 0, r.stderr
    tok = signin(http, email)
    r = stack.ctl("user", "disable", email.upper())
    assert r.returncode == 0, r.stderr
    assert_problem(http.post(SIGNIN, json={"email": email, "password": PASSWORD}), 401,
                   "unauthenticated", SIGNIN)
    assert_oauth_error(refresh(http, tok["refresh_token"]), 400, "invalid_grant")
    if stack.mode == "opaque":
        assert_rejected_token(http.get(ME, headers=bearer(tok["access_token"])))
    r = stack.ctl("user", "enable", email)
    assert r.returncode == 0, r.stderr
    signin(http, email)
    r = stack.ctl("user", "disable", unique_email("nobody"))
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.stacks("lighttpd-jwt")
def test_bootstrap_with_org_on_an_empty_database(stack, tmp_path):
    """A second database in the same MariaDB: migrate, bootstrap --org, then the
    administrator owns the organization, seen through a worker on that database."""
    need_private(stack)
    env = stack.env
    dbname = "lanyard_bs_" + unique("x").split("-")[1]
    env.mariadb.create_app_database(env.db_password_file, name=dbname)
    email, org, pw = unique_email("first"), unique("acme"), str(tmp_path / "pw")
    write_secret(pw, PASSWORD)
    s = CustomStack(env, "jwt", "bootstrap", edits=[("  name: lanyard\n", "  name: %s\n" % dbname)])
    s._write_config(1)  # a config for lanyardctl before the front end exists
    ctl = lambda *a: env.build.ctl(s.config_path, *a)  # noqa: E731
    assert ctl("migrate").returncode == 0
    r = ctl("bootstrap", "--email", email, "--password-file", pw, "--org", "Not_A_Name")
    assert r.returncode == 1, r.stderr
    r = ctl("bootstrap", "--email", email, "--password-file", pw, "--org", org)
    assert r.returncode == 0, r.stderr
    r = ctl("bootstrap", "--email", unique_email("second"), "--password-file", pw)
    assert r.returncode == 1 and "already exists" in r.stderr, r.stderr
    s.start()
    try:
        http = Client(s.url)
        tok = bearer(signin(http, email)["access_token"])
        me = http.get(ME, headers=tok).json()
        assert me["user"]["platform_admin"] is True
        assert [(o["name"], o["role"]) for o in me["organizations"]] == [(org, "owner")]
        members = http.get("%s/%s/members" % (ORGS, org), headers=tok).json()["items"]
        assert [(m["user"]["email"], m["role"]) for m in members] == [(email, "owner")]
    finally:
        s.stop()
        env.mariadb.sql("DROP DATABASE `%s`" % dbname)


@pytest.mark.stacks("lighttpd-jwt", "lighttpd-opaque")
def test_key_create_and_revoke_from_the_command_line(stack, http):
    """SPEC §1: the token printed once, on stdout; it works at once through the
    API, with the given lifetime and scope; revoke ends it at once."""
    need_private(stack)
    admin = bearer(signin(http, stack.admin_email, stack.admin_password)["access_token"])
    org = unique("ctlkeys")
    assert http.post(ORGS, json={"name": org}, headers=admin).status_code == 201
    r = http.post("%s/%s/service-accounts" % (ORGS, org), json={"name": "etl"}, headers=admin)
    assert r.status_code == 201, r.text
    sa = r.json()

    r = stack.ctl("key", "create", "--org", org, "--service-account", "etl", "--ttl", "2h",
                  "--resource", "env-1.aws.us-east-1")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert r.stdout == token + "\n", "the token alone on stdout: %r" % r.stdout
    m = re.fullmatch(r"lyk_([A-Z2-7]{16})_([0-9A-Za-z]{49})", token)
    assert m, token
    key_id = m.group(1)
    me = http.get(ME, headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["service_account"]["id"] == sa["id"]
    cred = me.json()["credential"]
    assert cred["key_id"] == key_id and cred["resource"] == "env-1.aws.us-east-1"
    keys = http.get("%s/%s/service-accounts/etl/keys" % (ORGS, org), headers=admin).json()
    (key,) = [k for k in keys["items"] if k["id"] == key_id]
    assert "secret" not in key and "token" not in key
    # an id (sa-…) names the account as well as its name
    r = stack.ctl("key", "create", "--org", org, "--service-account", sa["id"])
    assert r.returncode == 0, r.stderr
    second = r.stdout.strip()

    for args in (["--org", unique("nope"), "--service-account", "etl"],
                 ["--org", org, "--service-account", "nobody"],
                 ["--org", org, "--service-account", "etl", "--ttl", "soon"],
                 ["--org", org, "--service-account", "etl", "--ttl", "9999d"],
                 ["--org", org, "--service-account", "etl", "--resource", "a b"]):
        r = stack.ctl("key", "create", *args)
        assert r.returncode == 1 and r.stdout == "", (args, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    for args in (["create", "--org", org], ["create", "--bogus", "x"], ["revoke"], []):
        r = stack.ctl("key", *args)
        assert r.returncode == 2, (args, r.stderr)

    r = stack.ctl("key", "revoke", key_id)
    assert r.returncode == 0, r.stderr
    assert_rejected_token(http.get(ME, headers=bearer(token)))
    assert http.get(ME, headers=bearer(second)).status_code == 200
    r = stack.ctl("key", "revoke", key_id)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = stack.ctl("key", "revoke", "not-a-key-id")
    assert r.returncode == 1, r.stderr
