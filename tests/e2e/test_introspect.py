"""POST /api/auth/v1/introspect (RFC 7662, SPEC §5.6), through every front
end in both token modes: every token kind active and inactive (expired,
revoked, spent), the exact field sets, the caller rules (a platform
administrator; an admin service account for its own organization's service
accounts only), form and JSON bodies.

Decisions beyond SPEC (doc/decisions.md, "Check and introspection"): exp and
iat are NumericDate integers, exp omitted for a key without expiry, a key's
iat is its created_at; a JWT is active only while its session (or its key and
account) still stands; a personal key is inactive to a service-account caller
(it is no service account's); "org" names the organization of every
credential bound to one (a personal key's too); a non-qualifying caller is
403 unauthorized_client, no credential 401 invalid_client with a challenge."""

import hashlib
import time

import pytest

from test_foundation import assert_common_headers, media_type
from test_key_auth import (RESOURCE, World, assert_oauth_error, basic_value, bearer, exchange,
                           new_user, personal_key, signin)

# the API's logic, the same through every front end (conftest.py, "neutral")
pytestmark = pytest.mark.neutral

INTROSPECT = "/api/auth/v1/introspect"
ACCESS_FIELDS = {"active", "token_type", "sub", "principal_type", "iss", "exp", "iat",
                 "client_id", "aud"}
KEY_FIELDS = {"active", "token_type", "sub", "principal_type", "iss", "exp", "iat", "client_id",
              "org", "key_id"}


def introspect(http, token, headers=None, how="form", **extra):
    data = dict(extra, token=token) if token is not None else dict(extra)
    if how == "json":
        return http.post(INTROSPECT, json=data, headers=headers or {})
    return http.post(INTROSPECT, data=data, headers=headers or {})


def answer(r):
    assert r.status_code == 200, "want 200, got %d: %s" % (r.status_code, r.text[:500])
    assert media_type(r) == "application/json", r.headers.get("Content-Type")
    assert_common_headers(r, INTROSPECT)
    return r.json()


def assert_inactive(r):
    assert answer(r) == {"active": False}, r.text[:500]


def assert_active(r, fields, **want):
    body = answer(r)
    assert body.get("active") is True, body
    assert set(body) == fields, "fields: %s, want %s" % (sorted(body), sorted(fields))
    for k, v in want.items():
        assert body[k] == v, (k, body)
    for k in ("exp", "iat"):
        if k in body:
            assert isinstance(body[k], int) and not isinstance(body[k], bool), body
    if "exp" in body:
        assert body["iat"] <= time.time() + 5 and body["exp"] > time.time(), body
    assert isinstance(body["iss"], str) and body["iss"], body
    return body


def sa_token(http, key):
    r = exchange(http, key, "basic")
    assert r.status_code == 200, r.text[:300]
    return r.json()["access_token"]


def sha(token):
    return hashlib.sha256(token.encode()).hexdigest()


def sql(stack, statement):
    return stack.mariadb.sql("USE lanyard; " + statement)


class IWorld(World):
    """World plus an admin service account with a key (the SA caller), a
    scoped key, a member user signed in, and another organization."""

    def __init__(self, stack, http):
        super().__init__(stack, http)
        self.admin_sa, self.admin_key = self.sa_with_key(role="admin")
        self.scoped_sa, self.scoped = self.sa_with_key(resource=RESOURCE)
        self.user = new_user(http, self.admin_h, "member")
        self.outsider, self.other, self.other_key = self.other_org()


@pytest.fixture
def iw(stack, http):
    return IWorld(stack, http)


# --- every token kind, active, with its exact fields ------------------------------------

@pytest.mark.parametrize("how", ["form", "json"])
def test_user_access_and_refresh_tokens(http, iw, how):
    t = iw.user.tokens
    a = assert_active(introspect(http, t["access_token"], iw.admin_h, how),
                      ACCESS_FIELDS | {"sid"}, token_type="access_token", sub=iw.user.id,
                      principal_type="user", client_id="lanyard", sid=t["session_id"])
    assert a["exp"] - a["iat"] == t["expires_in"], a
    r = assert_active(introspect(http, t["refresh_token"], iw.admin_h, how, token_type_hint="x"),
                      {"active", "token_type", "sub", "principal_type", "iss", "exp", "iat",
                       "client_id", "sid"}, token_type="refresh_token", sub=iw.user.id,
                      principal_type="user", client_id="lanyard", sid=t["session_id"],
                      iss=a["iss"])
    assert r["exp"] - r["iat"] == t["refresh_expires_in"], r


@pytest.mark.parametrize("how", ["form", "json"])
def test_service_account_token_and_keys(http, iw, how):
    sa, org = iw.sa["id"], iw.org
    tok = sa_token(http, iw.key)
    assert_active(introspect(http, tok, iw.admin_h, how), ACCESS_FIELDS | {"org", "key_id"},
                  token_type="access_token", sub=sa, principal_type="service_account",
                  client_id=iw.key.id, key_id=iw.key.id, org=org)
    assert_active(introspect(http, iw.key.token, iw.admin_h, how), KEY_FIELDS,
                  token_type="api_key", sub=sa, principal_type="service_account",
                  client_id=iw.key.id, key_id=iw.key.id, org=org)
    # scoped: + resource, on the key and on its token
    s = iw.scoped_sa["id"]
    assert_active(introspect(http, iw.scoped.token, iw.admin_h, how), KEY_FIELDS | {"resource"},
                  sub=s, resource=RESOURCE, key_id=iw.scoped.id)
    assert_active(introspect(http, sa_token(http, iw.scoped), iw.admin_h, how),
                  ACCESS_FIELDS | {"org", "key_id", "resource"}, sub=s, resource=RESOURCE)


def test_personal_key(http, iw):
    pk = personal_key(http, iw.owner, iw.org, role="admin")
    assert_active(introspect(http, pk.token, iw.admin_h), KEY_FIELDS, token_type="api_key",
                  sub=iw.owner.id, principal_type="user", key_id=pk.id, client_id=pk.id,
                  org=iw.org)


def test_garbage_and_missing(http, iw):
    for tok in ("garbage", "a.b.c", "lya_" + "A" * 49, "lyr_" + "A" * 49,
                iw.key.token[:-1] + ("y" if iw.key.token.endswith("x") else "x"), ""):
        assert_inactive(introspect(http, tok, iw.admin_h))
    assert_oauth_error(introspect(http, None, iw.admin_h), 400, "invalid_request", INTROSPECT)
    assert_oauth_error(http.post(INTROSPECT, json={"token": 5}, headers=iw.admin_h), 400,
                       "invalid_request", INTROSPECT)


# --- inactive: expired, revoked, spent ---------------------------------------------------

def test_spent_refresh_token(http, iw):
    old = iw.user.tokens["refresh_token"]
    r = http.post("/api/auth/v1/token", data={"grant_type": "refresh_token", "refresh_token": old})
    assert r.status_code == 200, r.text[:300]
    assert_inactive(introspect(http, old, iw.admin_h))
    new = r.json()
    assert_active(introspect(http, new["refresh_token"], iw.admin_h),
                  {"active", "token_type", "sub", "principal_type", "iss", "exp", "iat",
                   "client_id", "sid"}, sid=iw.user.tokens["session_id"])
    # introspecting a spent token is not its reuse: the session lives on
    assert_active(introspect(http, new["access_token"], iw.admin_h), ACCESS_FIELDS | {"sid"})


def test_signed_out_session(http, iw):
    """Signed out: its refresh and access tokens are inactive, a JWT too
    (introspection asks whether the session stands, whatever check_revocation)."""
    t = iw.user.tokens
    r = http.post("/api/auth/v1/signout", json={}, headers=bearer(t["access_token"]))
    assert r.status_code == 204, r.text[:300]
    assert_inactive(introspect(http, t["refresh_token"], iw.admin_h))
    assert_inactive(introspect(http, t["access_token"], iw.admin_h))


def test_revoked_key_and_its_token(http, iw):
    sa, key = iw.sa_with_key()
    tok = sa_token(http, key)
    assert_active(introspect(http, tok, iw.admin_h), ACCESS_FIELDS | {"org", "key_id"})
    r = http.post("/api/auth/v1/revoke", data={"token": key.token}, headers=iw.owner.h)
    assert r.status_code == 200, r.text[:300]
    assert_inactive(introspect(http, key.token, iw.admin_h))
    assert_inactive(introspect(http, tok, iw.admin_h))


def test_expired(stack, http, iw):
    """Expiry moved into the past in the database: a key, its opaque token, a
    refresh token, an opaque access token (a JWT's exp is signed: not movable)."""
    past = "'2001-01-01 00:00:00'"
    sa, key = iw.sa_with_key()
    tok = sa_token(http, key)
    sql(stack, "UPDATE api_keys SET expires_at = %s WHERE id = '%s'" % (past, key.id))
    assert_inactive(introspect(http, key.token, iw.admin_h))
    assert_inactive(introspect(http, tok, iw.admin_h))  # the key's expiry ends its tokens
    u = signin(http, iw.user.email)
    sql(stack, "UPDATE refresh_tokens SET expires_at = %s WHERE token_hash = UNHEX('%s')"
        % (past, sha(u["refresh_token"])))
    assert_inactive(introspect(http, u["refresh_token"], iw.admin_h))
    if stack.mode == "opaque":
        sql(stack, "UPDATE access_tokens SET expires_at = %s WHERE token_hash = UNHEX('%s')"
            % (past, sha(u["access_token"])))
        assert_inactive(introspect(http, u["access_token"], iw.admin_h))


def test_disabled_user(http, iw):
    u = new_user(http, iw.admin_h, "todisable")
    r = http.request("PATCH", "/api/org/v1/users/" + u.id, json={"disabled": True},
                     headers=iw.admin_h)
    assert r.status_code == 200, r.text[:300]
    assert_inactive(introspect(http, u.tokens["access_token"], iw.admin_h))
    assert_inactive(introspect(http, u.tokens["refresh_token"], iw.admin_h))


# --- the caller rules (SPEC §5.6) --------------------------------------------------------

def sa_caller_ways(http, key):
    """An admin service account calls with its key (Basic, Bearer, client fields)
    or with a token it exchanged."""
    return [({"Authorization": basic_value(key.id, key.secret)}, {}),
            (key.bearer, {}),
            ({}, {"client_id": key.id, "client_secret": key.secret}),
            (bearer(sa_token(http, key)), {})]


def test_admin_service_account_sees_its_own_org_only(http, iw):
    own_tok = sa_token(http, iw.key)
    other_tok = sa_token(http, iw.other_key)
    pk = personal_key(http, iw.owner, iw.org, role="admin")
    for h, fields in sa_caller_ways(http, iw.admin_key):
        for how in ("form", "json"):
            assert_active(introspect(http, iw.key.token, h, how, **fields), KEY_FIELDS,
                          sub=iw.sa["id"], org=iw.org)
            assert_active(introspect(http, own_tok, h, how, **fields),
                          ACCESS_FIELDS | {"org", "key_id"}, sub=iw.sa["id"])
            assert_active(introspect(http, iw.admin_key.token, h, how, **fields), KEY_FIELDS,
                          sub=iw.admin_sa["id"])
            # another organization's service account, users' tokens, personal keys
            assert_inactive(introspect(http, iw.other_key.token, h, how, **fields))
            assert_inactive(introspect(http, other_tok, h, how, **fields))
            assert_inactive(introspect(http, iw.user.tokens["access_token"], h, how, **fields))
            assert_inactive(introspect(http, iw.user.tokens["refresh_token"], h, how, **fields))
            assert_inactive(introspect(http, pk.token, h, how, **fields))


def test_callers_refused(http, stack, iw):
    tok = iw.key.token
    # a member service account (key or token), a user who is no platform admin,
    # an org owner, a personal key (even an admin one of the platform administrator)
    admin = signin(http, stack.admin_email, stack.admin_password)
    for h in (iw.key.basic, iw.key.bearer, bearer(sa_token(http, iw.key)), iw.user.h,
              iw.owner.h, personal_key(http, iw.owner, iw.org, role="admin").bearer):
        assert_oauth_error(introspect(http, tok, h), 403, "unauthorized_client", INTROSPECT)
    assert_oauth_error(introspect(http, tok, {}, client_id=iw.key.id,
                                  client_secret=iw.key.secret), 403, "unauthorized_client",
                       INTROSPECT)
    # a scoped admin credential is refused by the dispatcher (SPEC §4)
    _, scoped_admin = iw.sa_with_key(role="admin", resource=RESOURCE)
    assert_oauth_error(introspect(http, tok, scoped_admin.bearer), 403, "unauthorized_client",
                       INTROSPECT)
    # no credential: 401 invalid_client with a challenge
    r = introspect(http, tok)
    assert_oauth_error(r, 401, "invalid_client", INTROSPECT)
    assert r.headers.get("WWW-Authenticate", "").startswith('Bearer realm="lanyard"'), r.headers
    # a refused credential: 401 invalid_client with the challenge of its scheme
    r = introspect(http, tok, bearer("garbage"))
    assert_oauth_error(r, 401, "invalid_client", INTROSPECT)
    assert 'error="invalid_token"' in r.headers.get("WWW-Authenticate", ""), r.headers
    r = introspect(http, tok, {"Authorization": basic_value(iw.key.id, "x" * 49)})
    assert_oauth_error(r, 401, "invalid_client", INTROSPECT)
    assert 'Basic realm="lanyard"' in r.headers.get("WWW-Authenticate", ""), r.headers
    r = introspect(http, tok, {}, client_id=iw.key.id, client_secret="x" * 49)
    assert_oauth_error(r, 401, "invalid_client", INTROSPECT)
    # both Basic and client fields: invalid_request
    assert_oauth_error(introspect(http, tok, iw.admin_key.basic, client_id=iw.admin_key.id,
                                  client_secret=iw.admin_key.secret), 400, "invalid_request",
                       INTROSPECT)
    # and the platform administrator does qualify
    assert_active(introspect(http, tok, bearer(admin["access_token"])), KEY_FIELDS)
