"""The web console (SPEC §5.14) in a real browser: headless Chromium driven
by selenium, through lighttpd and through Apache, on a stack with
`access_ttl: 20s` so that the background refresh happens during the run.

One browser for the module, reused by every test; screenshots of every page
go to LANYARD_BUILDDIR/tests/e2e/screenshots. axe-core (tests/e2e/axe,
pinned by its lockfile, `npm ci` there) is injected by the test only."""

import json
import os
import shutil
import time

import pytest
import requests

from conftest import TIMEOUT, wait_for
from harness import npm
from harness.stack import unique, unique_email
from test_hardening import HardStack, hard  # noqa: F401 - the module-scoped stack factory
from test_sso import provider_trouble

from selenium import webdriver  # noqa: E402 (python3-selenium: run-all.sh installs it; never a skip)
from selenium.common.exceptions import NoAlertPresentException, TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

AXE_SUBPATH = os.path.join("node_modules", "axe-core", "axe.min.js")
PASSWORD = "correct horse battery staple"
ACCESS_TTL = 20
FRONTENDS = ["lighttpd", "apache"]


def axe_script(builddir):
    """axe-core, pinned by tests/e2e/axe/package-lock.json (harness/npm.py)."""
    try:
        return npm.pinned(builddir, "axe", AXE_SUBPATH)
    except npm.NpmError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module", params=FRONTENDS)
def site(request, hard):  # noqa: F811
    frontend = request.param
    s = hard("console", frontend, "jwt",
             edits=[("  mode: jwt\n", "  mode: jwt\n  access_ttl: %ds\n" % ACCESS_TTL)])
    return s


@pytest.fixture(scope="module")
def browser(request):
    chrome = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if not chrome or not driver:
        pytest.fail("chromium and chromium-driver are needed (tests/run-all.sh installs them)",
                    pytrace=False)
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
              "--disable-gpu", "--no-first-run"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    from selenium.webdriver.chrome.service import Service
    b = webdriver.Chrome(service=Service(driver), options=opts)
    b.set_page_load_timeout(30)
    yield b
    b.quit()


SHOTS = os.path.join(os.environ.get("LANYARD_BUILDDIR", os.getcwd()), "tests", "e2e", "screenshots")


# --- helpers ------------------------------------------------------------------

class Console:
    def __init__(self, b, site):
        self.b, self.site, self.url = b, site, site.url + "/console/"

    def open(self, route=""):
        self.b.get(self.url + route)
        self.wait_idle()

    def go(self, route):
        self.b.execute_script("location.hash = arguments[0]", route)
        self.wait_idle()

    def wait_idle(self):
        WebDriverWait(self.b, TIMEOUT).until(
            lambda b: not b.find_elements(By.ID, "loading") and b.find_elements(By.CSS_SELECTOR, "main h1"))
        time.sleep(0.3)  # the page's first list fetches

    def h1(self):
        return self.b.find_element(By.CSS_SELECTOR, "main h1").text

    def wait_text(self, text, timeout=TIMEOUT):
        try:
            WebDriverWait(self.b, timeout).until(lambda b: text in b.find_element(By.TAG_NAME, "body").text)
        except TimeoutException:
            raise AssertionError("%r not on the page; %s" % (text, self.page_state()))

    def page_state(self):
        """What a failure message needs: the status line and every error shown
        (a long page hides them past its first 2000 characters), then the page."""
        shown = [e.text for e in self.b.find_elements(By.CSS_SELECTOR, "#status, [role=alert]")
                 if e.text.strip()]
        return "status and errors: %r; page says: %s" % (
            shown, self.b.find_element(By.TAG_NAME, "body").text[:2000])

    def fill(self, form_id, **values):
        # A page draws its forms after its fetches: a status line ("Organization x
        # created.") can show before the page it announces (seen under load in CI)
        for k, v in values.items():
            el = self.element("%s-%s" % (form_id, k))
            if el.tag_name == "select":
                el.find_element(By.CSS_SELECTOR, "option[value='%s']" % v).click()
            else:
                el.clear()
                el.send_keys(v)
        self.b.find_element(By.ID, form_id + "-submit").click()

    def element(self, el_id, timeout=TIMEOUT):
        try:
            return WebDriverWait(self.b, timeout).until(lambda b: b.find_element(By.ID, el_id))
        except TimeoutException:
            raise AssertionError("no #%s on the page; %s" % (el_id, self.page_state()))

    def click(self, label):
        """The button whose aria-label (or text) is label; confirms its dialog."""
        els = self.b.find_elements(By.CSS_SELECTOR, "button[aria-label='%s']" % label) or [
            e for e in self.b.find_elements(By.TAG_NAME, "button") if e.text == label]
        assert els, "no button %r on %s" % (label, self.h1())
        els[0].click()
        try:
            WebDriverWait(self.b, 1, ignored_exceptions=(NoAlertPresentException,)).until(
                lambda b: b.switch_to.alert).accept()
        except TimeoutException:
            pass

    def sign_in(self, email, password):
        self.open("#/signin")
        if self.h1() != "Sign in":
            self.sign_out()
            self.open("#/signin")
        self.fill("signin", email=email, password=password)
        self.wait_text("Who am I")
        self.wait_text(email)

    def sign_out(self):
        self.b.find_element(By.ID, "signout").click()
        self.wait_text("Signed out.")

    def shot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        self.b.save_screenshot(os.path.join(SHOTS, "%s-%s.png" % (self.site.frontend, name)))

    def quiet(self, allow=()):
        """No message in the browser console (CSP violations, script errors,
        failed loads all show there), but those holding one of allow: the
        answers a page expects, such as the 404 of an organization without
        single sign-on."""
        logs = [e for e in self.b.get_log("browser") if not any(a in e["message"] for a in allow)]
        assert logs == [], "browser console: %s" % json.dumps(logs, indent=1)[:3000]

    def axe(self):
        with open(axe_script(self.site.env.build.builddir)) as f:
            self.b.execute_script(f.read())
        res = self.b.execute_async_script(
            "const done = arguments[0]; axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))"
            ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e)}]))")
        bad = [v for v in res if v["impact"] in ("serious", "critical")]
        assert bad == [], "%s: accessibility violations %s" % (self.h1(), json.dumps(bad, indent=1))


@pytest.fixture
def c(browser, site):
    # every cookie: delete_all_cookies() leaves the refresh cookie, whose
    # Path=/api/auth/v1/ hides it from the console's page
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    con = Console(browser, site)
    con.open()
    browser.execute_script("localStorage.clear()")
    browser.get_log("browser")  # drop what an earlier test left
    return con


def api_user(site, admin_token, email=None, admin=False):
    email = email or unique_email("con")
    r = requests.post(site.url + "/api/org/v1/users", timeout=TIMEOUT,
                      headers={"Authorization": "Bearer " + admin_token},
                      json={"email": email, "password": PASSWORD, "platform_admin": admin})
    assert r.status_code == 201, r.text
    return r.json()


def signin_api(site, email, password=PASSWORD):
    r = requests.post(site.url + "/api/auth/v1/signin", json={"email": email, "password": password},
                      timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def admin_token(site):
    return signin_api(site, site.admin_email, site.admin_password)["access_token"]


# An organization without single sign-on answers GET …/sso with 404 (SPEC §5.15):
# the console expects it, the browser logs it.
NO_SSO = "/sso - Failed to load resource: the server responded with a status of 404"


# --- tests ----------------------------------------------------------------------

def test_signin_me_signout_and_the_cookie(c):
    c.open("#/")
    assert c.h1() == "Sign in"
    c.axe()
    c.shot("signin")
    c.fill("signin", email=c.site.admin_email, password="wrong password")
    c.wait_text("Error: ")  # the API's detail, shown
    c.b.get_log("browser")  # the 401 of the wrong password is expected there
    c.sign_in(c.site.admin_email, c.site.admin_password)
    assert c.b.find_element(By.ID, "me-email").text == c.site.admin_email
    c.axe()
    c.shot("me")
    cookies = c.b.execute_script("return document.cookie")
    assert "lyr_" not in cookies and "lanyard_refresh" not in cookies, cookies
    assert not c.b.execute_script(
        "return Object.keys(localStorage).some(k => localStorage[k].includes('lyr_') ||"
        " localStorage[k].includes('.'))"), "a token in localStorage"
    c.quiet()
    c.sign_out()
    c.open("#/")  # a reload after sign-out: the cookie is gone, sign-in again
    assert c.h1() == "Sign in"
    c.quiet()


def test_organization_members_service_account_keys(c):
    site = c.site
    tok = admin_token(site)
    member = api_user(site, tok)
    c.sign_in(site.admin_email, site.admin_password)
    c.go("#/orgs")
    c.shot("orgs")
    c.axe()
    org = unique("con")
    c.fill("org-create", name=org, display_name="Console test")
    c.wait_text("Organization " + org)
    c.fill("member-add", email=member["email"], role="member")
    c.wait_text(member["email"] + " added as member.")
    sel = c.b.find_element(By.ID, "role-" + member["id"])
    sel.find_element(By.CSS_SELECTOR, "option[value='admin']").click()
    c.click("Change role of " + member["email"])
    c.wait_text("Role of %s is now admin." % member["email"])
    m = requests.get(site.url + "/api/org/v1/orgs/%s/members" % org, timeout=TIMEOUT,
                     headers={"Authorization": "Bearer " + tok}).json()["items"]
    assert {x["user"]["id"]: x["role"] for x in m}[member["id"]] == "admin", m
    c.fill("sa-create", name="etl", display_name="ETL", description="nightly", role="member")
    c.wait_text("Service account etl created.")
    c.axe()
    c.shot("org")
    c.b.find_element(By.LINK_TEXT, "etl").click()
    c.wait_text("Service account etl")
    c.wait_idle()
    c.fill("key-create", display_name="flink", description="for flink", ttl="30d")
    c.wait_text("Shown once")
    token = c.b.find_element(By.CSS_SELECTOR, "#secretbox input.secret").get_attribute("value")
    assert token.startswith("lyk_"), token
    dl = c.b.find_element(By.ID, "secret-download")
    assert dl.get_attribute("download").endswith(".env")
    c.b.find_element(By.ID, "secret-copy").click()
    # one key, one page: no "Load more" to offer (hidden means not displayed, whatever the CSS)
    assert not [b for b in c.b.find_elements(By.TAG_NAME, "button")
                if b.text == "Load more" and b.is_displayed()]
    c.axe()
    c.shot("service-account-key")
    me = requests.get(site.url + "/api/org/v1/me", headers={"Authorization": "Bearer " + token},
                      timeout=TIMEOUT)
    assert me.status_code == 200 and me.json()["type"] == "service_account", me.text
    key_id = me.json()["credential"]["key_id"]
    # the secret is shown once: another visit of the page does not have it
    c.go("#/orgs/%s" % org)
    c.go("#/orgs/%s/service-accounts/etl" % org)
    assert not c.b.find_elements(By.ID, "secretbox")
    c.wait_text(key_id)
    c.click("Rotate key " + key_id)
    c.wait_text("rotated; the new key is")
    new = c.b.find_element(By.CSS_SELECTOR, "#secretbox input.secret").get_attribute("value")
    assert new != token and new.startswith("lyk_")
    new_id = new.split("_")[1]
    assert requests.get(site.url + "/api/org/v1/me", headers={"Authorization": "Bearer " + new},
                        timeout=TIMEOUT).status_code == 200
    c.click("Delete key " + new_id)
    c.wait_text("Key %s deleted." % new_id)
    assert requests.get(site.url + "/api/org/v1/me", headers={"Authorization": "Bearer " + new},
                        timeout=TIMEOUT).status_code == 401
    c.go("#/orgs/" + org)
    c.fill("audit-filter", action="member.updated")
    c.wait_text("member.updated")
    c.shot("org-audit")
    c.quiet(allow=[NO_SSO])


def test_device_approval(c):
    site = c.site
    d = requests.post(site.url + "/api/auth/v1/device", timeout=TIMEOUT).json()
    c.sign_in(site.admin_email, site.admin_password)
    c.open("#/device?user_code=" + d["user_code"])
    assert c.b.find_element(By.ID, "device-user_code").get_attribute("value") == d["user_code"]
    c.axe()
    c.shot("device")
    c.b.find_element(By.ID, "device-submit").click()
    c.wait_text("Approved")
    r = requests.post(site.url + "/api/auth/v1/token", timeout=TIMEOUT, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": d["device_code"]})
    assert r.status_code == 200 and r.json()["access_token"] and r.json()["refresh_token"], r.text
    c.quiet()


def test_end_another_session(c):
    site = c.site
    u = api_user(site, admin_token(site))
    other = signin_api(site, u["email"])
    c.sign_in(u["email"], PASSWORD)
    c.go("#/account")
    c.wait_text("this session")
    c.axe()
    c.shot("account")
    c.b.find_element(By.CSS_SELECTOR, "button[data-session='%s']" % other["session_id"]).click()
    c.wait_text("Session ended.")
    r = requests.post(site.url + "/api/auth/v1/token", timeout=TIMEOUT,
                      data={"grant_type": "refresh_token", "refresh_token": other["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    c.quiet()


def test_admin_disables_a_user(c):
    site = c.site
    u = api_user(site, admin_token(site))
    c.sign_in(site.admin_email, site.admin_password)
    c.go("#/admin/users")
    label = "Disable " + u["email"]
    while not c.b.find_elements(By.CSS_SELECTOR, "button[aria-label='%s']" % label):
        more = [b for b in c.b.find_elements(By.TAG_NAME, "button") if b.text == "Load more"]
        assert more and more[0].is_displayed(), "user not listed"
        more[0].click()
        time.sleep(0.3)
    c.axe()
    c.shot("users")
    c.click(label)
    c.wait_text(u["email"] + " disabled")
    r = requests.post(site.url + "/api/auth/v1/signin", json={"email": u["email"], "password": PASSWORD},
                      timeout=TIMEOUT)
    assert r.status_code == 401, r.text
    c.quiet()


def test_token_refreshed_before_expiry_and_after_reload(c):
    site = c.site
    c.sign_in(site.admin_email, site.admin_password)
    t0 = c.b.execute_script("return performance.now()")
    first = c.b.find_element(By.ID, "me-expires").text
    # before the 20 s token expires, the page refreshes it in the background
    ok = wait_for(lambda: c.b.execute_script(
        "return performance.getEntriesByType('resource').filter(e => e.name.endsWith('/api/auth/v1/token')"
        " && e.startTime > arguments[0]).map(e => e.startTime)", t0), timeout=ACCESS_TTL, interval=0.5)
    assert ok, "no refresh within access_ttl"
    assert ok[0] - t0 < ACCESS_TTL * 1000, ok
    time.sleep(max(0, (t0 + ACCESS_TTL * 1000 - c.b.execute_script("return performance.now()")) / 1000) + 1)
    c.go("#/orgs")
    c.go("#/")
    c.wait_text("Who am I")
    second = c.b.find_element(By.ID, "me-expires").text
    assert second > first, (first, second)
    # a reload forgets the access token and recovers by one cookie refresh
    c.b.refresh()
    c.wait_idle()
    c.wait_text("Who am I")
    assert c.b.find_element(By.ID, "me-email").text == site.admin_email
    n = c.b.execute_script("return performance.getEntriesByType('resource').filter("
                           "e => e.name.endsWith('/api/auth/v1/token')).length")
    assert n == 1, n
    assert "lyr_" not in c.b.execute_script("return document.cookie")
    c.quiet()


def test_first_load_under_100_kb(site):
    total = 0
    for f in ("", "app.js", "api.js", "ui.js", "keys.js", "sso.js", "console.css", "favicon.svg"):
        r = requests.get(site.url + "/console/" + f, timeout=TIMEOUT)
        assert r.status_code == 200, (f, r.status_code)
        total += len(r.content)
    assert total < 100 * 1024, total


# --- single sign-on (SPEC §5.15) ---------------------------------------------------
# test_sso_signin_through_the_provider goes through a real provider (Glewlwyd,
# the session's idp); the others need the console and the API only.

def sso_org(site):
    """An organization (the platform administrator its first owner) with a
    user of each role: {"org", "owner", "admin", "member"}."""
    tok = admin_token(site)
    org = unique("sso")
    r = requests.post(site.url + "/api/org/v1/orgs", json={"name": org}, timeout=TIMEOUT,
                      headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 201, r.text
    out = {"org": org}
    for role in ("owner", "admin", "member"):
        u = api_user(site, tok)
        r = requests.put(site.url + "/api/org/v1/orgs/%s/members/%s" % (org, u["id"]), json={"role": role},
                         timeout=TIMEOUT, headers={"Authorization": "Bearer " + tok})
        assert r.status_code == 201, r.text
        out[role] = u
    return out


def test_sso_button_without_a_provider(c):
    site = c.site
    c.open("#/signin")
    c.b.find_element(By.ID, "signin-sso").click()  # no e-mail yet: asked for
    c.wait_text("Type your e-mail address first")
    assert c.b.switch_to.active_element.get_attribute("id") == "signin-email"
    domain = unique("nosso") + ".example"
    email = "someone@" + domain.upper()
    r = requests.get(site.url + "/api/auth/v1/sso/discover", params={"email": email}, timeout=TIMEOUT)
    assert r.status_code == 404, r.text
    c.b.find_element(By.ID, "signin-email").send_keys(email)
    c.b.find_element(By.ID, "signin-sso").click()
    c.wait_text("No single sign-on is set up for %s; sign in with your password." % domain)
    assert c.h1() == "Sign in" and "#/signin" in c.b.current_url
    assert "null" not in c.b.find_element(By.TAG_NAME, "main").text
    c.axe()
    c.shot("signin-sso-none")
    c.quiet(allow=["/api/auth/v1/sso/discover?email=" + requests.utils.quote(email, safe="")])
    # the password still signs in from the same page
    c.b.find_element(By.ID, "signin-email").clear()
    c.fill("signin", email=site.admin_email, password=site.admin_password)
    c.wait_text("Who am I")


def fake_discover(c, start_url):
    """The page's own fetch plays the discover answer (organization acme, start_url)."""
    c.b.execute_script("""
        const real = window.fetch, startUrl = arguments[0];
        window.fetch = (url, init) => String(url).startsWith("/api/auth/v1/sso/discover?")
          ? Promise.resolve(new Response(JSON.stringify({org: "acme", start_url: startUrl}),
              {status: 200, headers: {"Content-Type": "application/json"}}))
          : real(url, init);""", start_url)


def test_sso_return_with_only_the_refresh_cookie(c):
    """The browser side of an SSO sign-in started from a device approval: the
    button sends the device page's query as return_to, and the page the
    callback lands on, holding nothing but the refresh cookie, signs in by one
    cookie refresh. The server's discover answer is played by the page's own
    fetch (until a provider is in the harness); the cookie is a real one."""
    site = c.site
    u = api_user(site, admin_token(site))
    r = requests.post(site.url + "/api/auth/v1/signin", timeout=TIMEOUT,
                      json={"email": u["email"], "password": PASSWORD, "refresh_cookie": True})
    assert r.status_code == 200 and "refresh_token" not in r.json(), r.text
    cookie = r.cookies["lanyard_refresh"]
    d = requests.post(site.url + "/api/auth/v1/device", timeout=TIMEOUT).json()
    c.open("?user_code=" + d["user_code"])  # /device leads here
    assert c.h1() == "Sign in"
    fake_discover(c, "/console/favicon.svg?org=acme")
    c.b.find_element(By.ID, "signin-email").send_keys(u["email"])
    c.b.find_element(By.ID, "signin-sso").click()
    WebDriverWait(c.b, TIMEOUT).until(lambda b: "favicon.svg" in b.current_url)
    q = requests.utils.urlparse(c.b.current_url).query
    params = dict(p.split("=", 1) for p in q.split("&"))
    assert params["org"] == "acme", q
    return_to = requests.utils.unquote(params["return_to"])
    assert return_to == "/console/?user_code=" + d["user_code"], q
    # expected so far: the refresh the device link tried without a session
    # (400), the /favicon.ico of the plain page that played the provider (404)
    c.b.get_log("browser")
    # what the callback does: the session's refresh cookie, then a redirect to return_to
    c.b.add_cookie({"name": "lanyard_refresh", "value": cookie, "path": "/api/auth/v1/",
                    "httpOnly": True, "sameSite": "Strict"})
    c.b.get(site.url + return_to)
    c.wait_idle()
    assert c.h1() == "Approve a device login"
    assert c.b.find_element(By.ID, "device-user_code").get_attribute("value") == d["user_code"]
    n = c.b.execute_script("return performance.getEntriesByType('resource').filter("
                           "e => e.name.endsWith('/api/auth/v1/token')).length")
    assert n == 1, n
    c.b.find_element(By.ID, "device-submit").click()
    c.wait_text("Approved")
    r = requests.post(site.url + "/api/auth/v1/token", timeout=TIMEOUT, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": d["device_code"]})
    assert r.status_code == 200, r.text
    me = requests.get(site.url + "/api/org/v1/me", timeout=TIMEOUT,
                      headers={"Authorization": "Bearer " + r.json()["access_token"]}).json()
    assert me["user"]["email"] == u["email"], me
    # the plain page's /favicon.ico may be logged after the drain above (a loaded machine)
    c.quiet(allow=(site.url + "/favicon.ico - Failed to load resource",))


def test_sso_return_to_the_route_asked_for(c):
    """A route other than the device page (a fragment, which never reaches the
    server) waits in sessionStorage: return_to is the console's path, and the
    page the callback lands on goes on to the route."""
    site = c.site
    u = api_user(site, admin_token(site))
    r = requests.post(site.url + "/api/auth/v1/signin", timeout=TIMEOUT,
                      json={"email": u["email"], "password": PASSWORD, "refresh_cookie": True})
    assert r.status_code == 200, r.text
    c.open("#/account")
    assert c.h1() == "Sign in"
    fake_discover(c, "/console/favicon.svg")
    c.b.find_element(By.ID, "signin-email").send_keys(u["email"])
    c.b.find_element(By.ID, "signin-sso").click()
    WebDriverWait(c.b, TIMEOUT).until(lambda b: "favicon.svg" in b.current_url)
    q = requests.utils.urlparse(c.b.current_url).query
    assert q == "return_to=%2Fconsole%2F", q
    c.b.get_log("browser")  # the plain page's /favicon.ico (404)
    c.b.add_cookie({"name": "lanyard_refresh", "value": r.cookies["lanyard_refresh"], "path": "/api/auth/v1/",
                    "httpOnly": True, "sameSite": "Strict"})
    c.b.get(site.url + "/console/")
    c.wait_idle()
    c.wait_text("Your account")
    assert c.b.execute_script("return location.hash") == "#/account"
    assert c.b.execute_script("return sessionStorage.getItem('lanyard.return')") is None
    c.quiet()


SSO_CODES = ["invalid_state", "provider_error", "invalid_id_token", "email_not_verified",
             "domain_not_allowed", "access_denied", "account_exists", "server_error",
             "unavailable"]


def sso_button_to_provider(c, idp, email):
    """Type email on the sign-in page and press "Sign in with SSO": the path
    of the authorization request the browser then sends the provider."""
    seen = len(idp.proxy.requests)
    c.b.find_element(By.ID, "signin-email").send_keys(email)
    c.b.find_element(By.ID, "signin-sso").click()

    def sent_to_provider(_):
        return [p for (m, p, _st) in idp.proxy.requests[seen:]
                if m == "GET" and p.startswith("/api/oidc/auth?")]
    try:
        return WebDriverWait(c.b, TIMEOUT).until(sent_to_provider)[0]
    except TimeoutException:
        raise AssertionError("the browser did not reach the provider; at %s; %s\n%s" % (
            c.b.current_url, c.page_state(), provider_trouble(c.site, idp))) from None


def test_sso_signin_through_the_provider(c, idp):
    """An owner configures the provider in the console; a person of its domain
    signs in with the SSO button, the browser going to the real provider and
    back. The provider's own login page is the one step done through its API
    (idp.authorize, with the authorization URL the browser was sent to): its
    web pages are Glewlwyd's, not ours. Everything on Lanyard's side is the
    browser's: the start, the binding cookie, the callback, the console's
    start-up from the refresh cookie alone."""
    site = c.site
    o = sso_org(site)
    org = o["org"]
    client_id, secret = unique("console"), unique("secret")
    callback = site.url + "/api/auth/v1/sso/callback"
    idp.add_client(client_id, secret, callback)
    domain = unique("corp") + ".example"
    c.sign_in(o["owner"]["email"], PASSWORD)
    c.go("#/orgs/" + org)
    c.wait_text("Single sign-on is not configured")
    c.fill("sso", issuer=idp.issuer, client_id=client_id, client_secret=secret,
           email_domains=domain, default_role="member")
    try:
        c.wait_text("Single sign-on of %s saved." % org)
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, provider_trouble(site, idp))) from None
    assert c.b.find_element(By.ID, "sso-redirect").get_attribute("value") == callback
    assert secret not in c.b.find_element(By.TAG_NAME, "main").text
    c.axe()
    c.quiet(allow=[NO_SSO])
    username = unique("person")
    email = "%s@%s" % (username, domain)
    idp.add_user(username, "the provider's password", email)
    c.sign_out()
    c.open("#/signin")
    auth = sso_button_to_provider(c, idp, email)
    assert "client_id=" + client_id in auth and "code_challenge_method=S256" in auth, auth
    back = idp.authorize(idp.proxy.url + auth, username, "the provider's password")
    assert back.startswith(callback + "?"), back
    c.b.get(back)  # the provider's redirect, in the browser that holds the binding cookie
    c.wait_idle()
    c.wait_text("Who am I")
    c.wait_text(email)
    assert c.b.current_url.startswith(site.url + "/console/"), c.b.current_url
    assert "sso_error" not in c.b.current_url
    main = c.b.find_element(By.TAG_NAME, "main").text
    assert org in main, main
    c.axe()
    c.shot("sso-signed-in")
    # the page holds no token in its URL, and the refresh token is only the cookie
    assert "lyr_" not in c.b.current_url
    c.sign_out()
    # the same button for someone the provider has not verified: the console says why
    username = unique("unverified")
    idp.add_user(username, "the provider's password", "%s@%s" % (username, domain),
                 email_verified=False)
    c.open("#/signin")
    auth = sso_button_to_provider(c, idp, "%s@%s" % (username, domain))
    c.b.get(idp.authorize(idp.proxy.url + auth, username, "the provider's password"))
    c.wait_idle()
    text = c.b.find_element(By.ID, "sso-error").text
    assert text.startswith("Single sign-on failed: ") and "verified" in text, text


def test_sso_error_codes_shown_on_the_sign_in_page(c):
    seen = set()
    for code in SSO_CODES:
        c.open("#sso_error=" + code)
        assert c.h1() == "Sign in"
        text = c.b.find_element(By.ID, "sso-error").text
        assert text.startswith("Single sign-on failed: ") and "did not complete" not in text, (code, text)
        seen.add(text)
        assert c.b.execute_script("return location.hash") == "", c.b.current_url
    assert len(seen) == len(SSO_CODES), seen
    c.axe()
    c.shot("signin-sso-error")
    c.go("#/signin")  # shown once: the next visit has no message
    assert not c.b.find_elements(By.ID, "sso-error")
    c.quiet()


def test_sso_section_not_configured(c):
    site = c.site
    o = sso_org(site)
    org = o["org"]
    c.sign_in(o["owner"]["email"], PASSWORD)
    c.go("#/orgs/" + org)
    c.wait_text("Single sign-on is not configured")
    secret = c.b.find_element(By.ID, "sso-client_secret")
    assert secret.get_attribute("type") == "password" and secret.get_attribute("value") == ""
    assert secret.get_attribute("required") is not None
    assert c.b.find_element(By.ID, "sso-default_role").get_attribute("value") == "member"
    redirect = c.b.find_element(By.ID, "sso-redirect").get_attribute("value")
    assert redirect == site.url + "/api/auth/v1/sso/callback", redirect
    assert c.b.find_element(By.ID, "sso-redirect-copy").is_displayed()
    assert not c.b.find_elements(By.ID, "sso-delete")  # nothing to remove
    c.axe()
    c.b.execute_script("document.getElementById('sso-panel').scrollIntoView()")
    c.shot("org-sso-none")
    c.quiet(allow=[NO_SSO])
    # an admin of the organization sees it, read-only
    c.sign_out()
    c.sign_in(o["admin"]["email"], PASSWORD)
    c.go("#/orgs/" + org)
    c.wait_text("Single sign-on is not configured")
    c.wait_text("Only an owner of the organization or a platform administrator can change it.")
    assert not c.b.find_elements(By.ID, "sso") and c.b.find_elements(By.ID, "sso-redirect")
    assert not c.b.find_elements(By.ID, "sso-client_secret")
    c.axe()
    c.quiet(allow=[NO_SSO])
    # a member does not (GET …/sso is org admin+)
    c.sign_out()
    c.sign_in(o["member"]["email"], PASSWORD)
    c.go("#/orgs/" + org)
    c.wait_text("Service accounts")
    assert "Single sign-on" not in c.b.find_element(By.TAG_NAME, "main").text
    assert "null" not in c.b.find_element(By.TAG_NAME, "main").text
    assert not [e for e in c.b.get_log("browser") if "/sso - " in e["message"]]  # not even asked


def test_sso_save_with_an_unreachable_issuer_shows_the_detail(c):
    """PUT …/sso reads the issuer's discovery document at once: nothing
    listens on 127.0.0.1:9, so 400 validation_failed, its detail shown."""
    site = c.site
    o = sso_org(site)
    org = o["org"]
    c.sign_in(o["owner"]["email"], PASSWORD)
    c.go("#/orgs/" + org)
    c.wait_text("Single sign-on is not configured")
    c.fill("sso", issuer="http://127.0.0.1:9", client_id="lanyard-console-test",
           client_secret="not-a-real-secret", email_domains=unique("sso") + ".example " + unique("sso") + ".example",
           default_role="admin")
    c.wait_text("Error: ")
    shown = c.b.find_element(By.CSS_SELECTOR, "form#sso .error").text
    tok = signin_api(site, o["owner"]["email"])["access_token"]
    r = requests.put(site.url + "/api/org/v1/orgs/%s/sso" % org, timeout=TIMEOUT,
                     headers={"Authorization": "Bearer " + tok},
                     json={"issuer": "http://127.0.0.1:9", "client_id": "lanyard-console-test",
                           "client_secret": "not-a-real-secret", "email_domains": ["x-" + org + ".example"]})
    assert r.status_code == 400 and r.json()["code"] == "validation_failed", r.text
    assert r.json()["detail"] in shown, (shown, r.text)
    assert "not-a-real-secret" not in shown
    assert requests.get(site.url + "/api/org/v1/orgs/%s/sso" % org, timeout=TIMEOUT,
                        headers={"Authorization": "Bearer " + tok}).status_code == 404
    c.wait_text("Single sign-on is not configured")  # still
    c.axe()
    c.b.execute_script("document.getElementById('sso-panel').scrollIntoView()")
    c.shot("org-sso-error")
    c.quiet(allow=[NO_SSO, "/sso - Failed to load resource: the server responded with a status of 400"])
