"""The OpenID Connect provider of the end-to-end tests (harness/glewlwyd.py),
on its own: no Lanyard. A real Glewlwyd is started, a client and two users
are added, and the authorization code flow (PKCE S256, state, nonce,
client_secret_basic) is run by hand the way a relying party runs it; then key
rotation (RS256, ES256, EdDSA) and the forwarder's tamper modes."""

import base64
import hashlib
import json
import os
import secrets
import urllib.parse

import pytest

from harness import glewlwyd as hg

CLIENT_ID = "lanyard-test"
CLIENT_SECRET = "s3cret-" + secrets.token_hex(8)
REDIRECT_URI = "http://127.0.0.1:9/api/sso/callback"
USERS = {  # username: (password, email, email_verified)
    "alice": ("pw-alice-" + secrets.token_hex(4), "alice@example.org", True),
    "bob": ("pw-bob-" + secrets.token_hex(4), "bob@example.org", False),
}


@pytest.fixture(scope="module")
def op(request):
    if not hg.available():
        pytest.fail("glewlwyd is not installed (apt-get install glewlwyd)", pytrace=False)
    builddir = request.config.getoption("--builddir")
    base = os.environ.get("LANYARD_E2E_WORKDIR") or os.path.join(
        os.path.abspath(builddir), "tests", "e2e", ".work")
    provider = hg.Glewlwyd(os.path.join(base, "glewlwyd-selftest")).start()
    request.addfinalizer(provider.stop)
    provider.add_client(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)
    for name, (pw, email, verified) in USERS.items():
        provider.add_user(name, pw, email, email_verified=verified)
    return provider


@pytest.fixture
def transparent(op):
    op.proxy.tamper = None
    yield op
    op.proxy.tamper = None


# --- a relying party by hand ---------------------------------------------------

def discovery(op):
    r = hg.request("GET", op.discovery_url)
    assert r.status == 200, r.body
    return r.json()


def start_flow(op, scope="openid email profile"):
    """The authorization URL a relying party builds, and what it keeps."""
    verifier = hg.b64url(secrets.token_bytes(32))
    flow = {"verifier": verifier, "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16)}
    q = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
         "scope": scope, "state": flow["state"], "nonce": flow["nonce"],
         "code_challenge": hg.b64url(hashlib.sha256(verifier.encode()).digest()),
         "code_challenge_method": "S256"}
    flow["url"] = discovery(op)["authorization_endpoint"] + "?" + urllib.parse.urlencode(q)
    return flow


def callback_params(location):
    u = urllib.parse.urlsplit(location)
    assert "%s://%s%s" % (u.scheme, u.netloc, u.path) == REDIRECT_URI, location
    return {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}


def exchange(op, code, verifier, secret=CLIENT_SECRET):
    basic = base64.b64encode(("%s:%s" % (CLIENT_ID, secret)).encode()).decode()
    body = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": REDIRECT_URI, "code_verifier": verifier})
    return hg.request("POST", discovery(op)["token_endpoint"], body,
                      {"Authorization": "Basic " + basic,
                       "Content-Type": "application/x-www-form-urlencoded"})


def id_token_for(op, username, scope="openid email profile", password=None):
    flow = start_flow(op, scope)
    params = callback_params(op.authorize(flow["url"], username,
                                          password or USERS[username][0]))
    assert params.get("state") == flow["state"]
    assert params.get("code"), params
    r = exchange(op, params["code"], flow["verifier"])
    assert r.status == 200, r.body
    return r.json()["id_token"], flow


def verify_signature(token, jwks):
    """True when the JWS verifies with the JWKS key its kid names; False when
    it does not; None when python3-cryptography is missing."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    except ImportError:
        return None
    header, _, sig = hg.jwt_parts(token)
    keys = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
    if not keys:
        return False
    k = keys[0]
    signed = token.rsplit(".", 1)[0].encode("ascii")

    def num(s):
        return int.from_bytes(hg.b64url_decode(s), "big")
    try:
        if header["alg"] == "RS256":
            rsa.RSAPublicNumbers(num(k["e"]), num(k["n"])).public_key().verify(
                sig, signed, padding.PKCS1v15(), hashes.SHA256())
        elif header["alg"] == "ES256":
            pub = ec.EllipticCurvePublicNumbers(num(k["x"]), num(k["y"]),
                                                ec.SECP256R1()).public_key()
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                       int.from_bytes(sig[32:], "big"))
            pub.verify(der, signed, ec.ECDSA(hashes.SHA256()))
        elif header["alg"] == "EdDSA":
            ed25519.Ed25519PublicKey.from_public_bytes(hg.b64url_decode(k["x"])).verify(
                sig, signed)
        else:
            raise AssertionError("unexpected alg %s" % header["alg"])
    except InvalidSignature:
        return False
    return True


def have_cryptography():
    import importlib.util
    return importlib.util.find_spec("cryptography") is not None


# --- tests -----------------------------------------------------------------------

def test_discovery_points_through_the_proxy(transparent):
    op = transparent
    doc = discovery(op)
    assert doc["issuer"] == op.issuer
    assert op.issuer.startswith(op.proxy.url + "/")
    for ep in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        assert doc[ep].startswith(op.proxy.url + "/"), (ep, doc[ep])
    assert "S256" in doc["code_challenge_methods_supported"]
    assert "client_secret_basic" in doc["token_endpoint_auth_methods_supported"]
    assert "code" in doc["response_types_supported"]
    assert {"email", "email_verified"} <= set(doc["claims_supported"])
    assert op.kid in [k["kid"] for k in op.jwks(doc["jwks_uri"])["keys"]]
    assert ("GET", "/api/oidc/.well-known/openid-configuration", 200) in op.proxy.requests


@pytest.mark.parametrize("username", sorted(USERS))
def test_code_flow_id_token(transparent, username):
    op = transparent
    token, flow = id_token_for(op, username)
    header, claims, _ = hg.jwt_parts(token)
    _, email, verified = USERS[username]
    assert claims["iss"] == op.issuer
    assert claims["aud"] == CLIENT_ID or CLIENT_ID in claims["aud"]
    assert claims["nonce"] == flow["nonce"]
    assert claims["email"] == email
    assert claims["email_verified"] is verified  # a JSON boolean, not "1"/"0"
    assert claims["sub"]
    assert header["kid"] == op.kid
    if have_cryptography():
        assert verify_signature(token, op.jwks()) is True


def test_pkce_verifier_is_checked(transparent):
    op = transparent
    flow = start_flow(op)
    params = callback_params(op.authorize(flow["url"], "alice", USERS["alice"][0]))
    r = exchange(op, params["code"], hg.b64url(secrets.token_bytes(32)))
    assert r.status != 200, r.body
    assert "id_token" not in r.body.decode("utf-8", "replace")


def test_wrong_client_secret_is_refused(transparent):
    op = transparent
    flow = start_flow(op)
    params = callback_params(op.authorize(flow["url"], "alice", USERS["alice"][0]))
    r = exchange(op, params["code"], flow["verifier"], secret="not-the-secret")
    assert r.status in (400, 401, 403), (r.status, r.body)


def test_wrong_password_is_refused(transparent):
    op = transparent
    with pytest.raises(hg.GlewlwydError):
        op.authorize(start_flow(op)["url"], "alice", "not-the-password")


def test_unknown_redirect_uri_is_refused(transparent):
    op = transparent
    url = start_flow(op)["url"].replace(urllib.parse.quote(REDIRECT_URI, safe=""),
                                        urllib.parse.quote("http://127.0.0.1:9/evil", safe=""))
    try:
        loc = op.authorize(url, "alice", USERS["alice"][0])
    except hg.GlewlwydError:
        return  # refused outright
    assert "code=" not in loc, loc


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_rotate_key(transparent, alg):
    op = transparent
    old = op.kid
    kid = op.rotate_key(alg)
    assert kid != old and op.kid == kid
    kids = [k["kid"] for k in op.jwks()["keys"]]
    assert kid in kids and old in kids  # the old key stays listed
    token, _ = id_token_for(op, "alice")
    header, claims, _ = hg.jwt_parts(token)
    assert header["kid"] == kid
    assert header["alg"] == alg
    assert claims["email_verified"] is True
    if have_cryptography():
        assert verify_signature(token, op.jwks()) is True


def test_rotate_key_can_drop_old_keys(transparent):
    op = transparent
    old = op.kid
    kid = op.rotate_key("RS256", keep_old=False)
    assert [k["kid"] for k in op.jwks()["keys"]] == [kid]
    assert old != kid


def test_tamper_modes(transparent):
    op = transparent
    # payload: one character of the email changes, the rest is as signed
    op.proxy.tamper = "payload"
    before = op.proxy.tampered
    token, flow = id_token_for(op, "alice")
    assert op.proxy.tampered == before + 1
    header, claims, _ = hg.jwt_parts(token)
    assert claims["email"] != USERS["alice"][1]
    assert claims["email"][1:] == USERS["alice"][1][1:]
    assert claims["iss"] == op.issuer and claims["nonce"] == flow["nonce"]
    assert header["kid"] == op.kid
    if have_cryptography():
        assert verify_signature(token, op.jwks()) is False

    # kid: a kid the JWKS does not list
    op.proxy.tamper = "kid"
    token, _ = id_token_for(op, "alice")
    header, claims, _ = hg.jwt_parts(token)
    assert header["kid"] != op.kid
    assert header["kid"] not in [k["kid"] for k in op.jwks()["keys"]]
    assert claims["email"] == USERS["alice"][1]

    # None: transparent again
    op.proxy.tamper = None
    token, _ = id_token_for(op, "alice")
    header, claims, _ = hg.jwt_parts(token)
    assert header["kid"] == op.kid and claims["email"] == USERS["alice"][1]
    if have_cryptography():
        assert verify_signature(token, op.jwks()) is True

    with pytest.raises(ValueError):
        op.proxy.tamper = "bogus"


def test_tamper_leaves_other_responses_alone(transparent):
    op = transparent
    op.proxy.tamper = "payload"
    assert discovery(op)["issuer"] == op.issuer
    assert op.kid in [k["kid"] for k in op.jwks()["keys"]]
    assert json.loads(json.dumps(op.jwks()))  # JWKS untouched


def test_set_email_verified(transparent):
    op = transparent
    pw = "pw-carol-" + secrets.token_hex(4)
    op.add_user("carol", pw, "carol@example.org", email_verified=False)
    assert hg.jwt_parts(id_token_for(op, "carol", password=pw)[0])[1]["email_verified"] is False
    op.set_email_verified("carol", True)
    assert hg.jwt_parts(id_token_for(op, "carol", password=pw)[0])[1]["email_verified"] is True


def test_admin_signs_in_again_when_its_session_is_refused(transparent):
    op = transparent
    op._admin_cookie = "stale"
    assert op.admin("GET", "/user/alice")["email"] == USERS["alice"][1]
    assert op._admin_cookie != "stale"


def test_tamper_issuer(transparent):
    op = transparent
    op.proxy.tamper = "issuer"
    assert discovery(op)["issuer"] == op.issuer + "/other"
    token, _ = id_token_for(op, "alice")  # token responses untouched in this mode
    assert hg.jwt_parts(token)[1]["iss"] == op.issuer
    op.proxy.tamper = None
    assert discovery(op)["issuer"] == op.issuer
