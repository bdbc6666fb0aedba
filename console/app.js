// The console's router and pages. Hash routes (#/orgs/NAME/...) so that a
// static file server needs no rewrite rules.

import { api, signIn, signOut, refresh, signedIn, onSignedOut, mayHaveSession, ssoDiscover, expectSession } from "./api.js";
import { h, form, action, confirmed, pagedTable, when, page, section, status, errorBox } from "./ui.js";
import { keyPanel } from "./keys.js";
import { ssoPanel } from "./sso.js";

const ORG = "/api/org/v1/orgs/";
const enc = encodeURIComponent;
let me = null;          // GET /me, refreshed on sign-in and on the Me page
let pending = null;     // the route asked for before signing in
let ssoError = null;    // why the last single sign-on failed, for the sign-in page
const RETURN = "lanyard.return"; // sessionStorage: the route to go on with after the provider (no secret)

const routes = [
  [/^\/$/, pageMe],
  [/^\/device$/, pageDevice],
  [/^\/orgs$/, pageOrgs],
  [/^\/orgs\/([^/]+)$/, pageOrg],
  [/^\/orgs\/([^/]+)\/service-accounts\/([^/]+)$/, pageServiceAccount],
  [/^\/account$/, pageAccount],
  [/^\/admin\/users$/, pageUsers],
];

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, q] = raw.split("?");
  return { path, query: new URLSearchParams(q || "") };
}

// A failed single sign-on comes back as /console/#sso_error=CODE: its
// message for the sign-in page, and the fragment gone from the address (a
// load of the page, or only a change of its fragment when it was open).
function takeSsoError() {
  const failed = location.hash.match(/^#sso_error=([a-z_]+)$/);
  if (!failed) return;
  ssoError = SSO_ERRORS[failed[1]] || "the sign-in did not complete (" + failed[1] + ").";
  history.replaceState(null, "", location.pathname + location.search);
}

async function route() {
  takeSsoError();
  const { path, query } = parseHash();
  if (path === "/signin" || !signedIn()) {
    if (path !== "/signin") pending = location.hash || "#/";
    return pageSignIn();
  }
  for (const [re, fn] of routes) {
    const m = path.match(re);
    if (m) return fn(...m.slice(1).map(decodeURIComponent), query);
  }
  page("Not found", h("p", {}, "No page at ", h("code", {}, path), ". ", h("a", { href: "#/" }, "Back to the start.")));
}

function showNav() {
  document.getElementById("nav").hidden = !signedIn();
  document.getElementById("nav-admin").hidden = !(me && me.user && me.user.platform_admin);
}

async function loadMe() {
  me = await api("GET", "/api/org/v1/me");
  showNav();
  return me;
}

// --- sign-in --------------------------------------------------------------------

// The codes the SSO callback puts in /console/#sso_error=CODE (SPEC §5.15).
const SSO_ERRORS = {
  invalid_state: "the sign-in took too long or was started in another browser; try again.",
  provider_error: "the identity provider could not be reached or answered with an error.",
  invalid_id_token: "the identity provider's answer could not be verified.",
  email_not_verified: "the identity provider has not verified your e-mail address.",
  domain_not_allowed: "your e-mail address is not in a domain this organization's sign-on accepts.",
  access_denied: "the sign-in was cancelled or refused at the identity provider.",
  account_exists: "an account with your e-mail address already exists; sign in with its password.",
  server_error: "Lanyard could not finish the sign-in; try again later.",
  unavailable: "single sign-on is unavailable for the moment; try again shortly.",
};

// Where the provider sends the browser back: this page, with a device
// approval's code in the query (which start() turns back into its route, and
// which a server-built return_to uses too); any other route waits in
// sessionStorage, since a fragment never reaches the server.
function ssoReturnTo() {
  const want = pending && pending !== "#/signin" ? pending : "#/";
  const [path, q] = want.replace(/^#/, "").split("?");
  const code = path === "/device" && new URLSearchParams(q || "").get("user_code");
  if (code) return location.pathname + "?user_code=" + enc(code);
  if (want !== "#/") sessionStorage.setItem(RETURN, want);
  return location.pathname;
}

function ssoButton(emailInput) {
  const msg = h("p", { id: "sso-message", role: "alert", hidden: true });
  const say = (text, isError) => { msg.textContent = text; msg.className = isError ? "error" : ""; msg.hidden = false; };
  const b = h("button", { type: "button", id: "signin-sso", class: "secondary" }, "Sign in with SSO");
  b.addEventListener("click", async () => {
    msg.hidden = true;
    const email = emailInput.value.trim();
    if (!email || !email.includes("@")) {
      say("Type your e-mail address first: it tells which organization's sign-on to use.", true);
      emailInput.focus();
      return;
    }
    b.disabled = true;
    try {
      const d = await ssoDiscover(email);
      if (!d) {
        say("No single sign-on is set up for " + email.slice(email.lastIndexOf("@") + 1).toLowerCase() +
          "; sign in with your password.", false);
        return;
      }
      const url = new URL(d.start_url, location.href);
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("the server gave an unusable start_url");
      url.searchParams.set("return_to", ssoReturnTo());
      expectSession();
      location.assign(url.href);
    } catch (e) {
      say("Error: " + (e && e.detail ? e.detail : String(e && e.message || e)), true);
    } finally {
      b.disabled = false;
    }
  });
  return [b, msg];
}

function pageSignIn() {
  showNav();
  const failed = ssoError
    ? h("p", { id: "sso-error", class: "error", role: "alert" }, "Single sign-on failed: " + ssoError) : null;
  ssoError = null;
  const f = form("signin", [
    { name: "email", label: "E-mail", type: "email", required: true, autocomplete: "username" },
    { name: "password", label: "Password", type: "password", required: true, autocomplete: "current-password" },
  ], "Sign in", async (v) => {
    await signIn(v.email, v.password);
    await loadMe();
    const to = pending && pending !== "#/signin" ? pending : "#/";
    pending = null;
    if (location.hash === to) route(); else location.hash = to;
  });
  const [sso, msg] = ssoButton(f.querySelector("#signin-email"));
  f.querySelector(".actions").append(sso);
  f.append(msg);
  page("Sign in", failed ? [failed, f] : f);
}

// --- me -------------------------------------------------------------------------

async function pageMe() {
  const err = errorBox();
  page("Who am I", err.el);
  try { await loadMe(); } catch (e) { err.show(e); return; }
  const u = me.user || {};
  const c = me.credential || {};
  document.getElementById("main").append(
    section("User",
      h("dl", {},
        h("dt", {}, "E-mail"), h("dd", { id: "me-email" }, u.email),
        h("dt", {}, "Display name"), h("dd", {}, u.display_name || "—"),
        h("dt", {}, "User id"), h("dd", {}, h("code", {}, u.id)),
        h("dt", {}, "Platform administrator"), h("dd", {}, u.platform_admin ? "yes" : "no"),
        h("dt", {}, "Session"), h("dd", {}, h("code", {}, c.session_id || "—")),
        h("dt", {}, "Access token expires"), h("dd", { id: "me-expires" }, when(c.expires_at)))),
    section("Organizations",
      (me.organizations || []).length
        ? h("ul", {}, me.organizations.map((o) => h("li", {}, h("a", { href: "#/orgs/" + enc(o.name) }, o.name), " — ", o.role)))
        : h("p", {}, "You belong to no organization yet. ", h("a", { href: "#/orgs" }, "Create one."))));
}

// --- device approval (SPEC §5.4) ---------------------------------------------

function pageDevice(query) {
  const code = (query && query.get("user_code")) || new URLSearchParams(location.search).get("user_code") || "";
  const done = h("p", { id: "device-result", role: "status" });
  let decision = true;
  const f = form("device", [
    { name: "user_code", label: "Code shown by the command-line tool", value: code, required: true, autocomplete: "one-time-code", hint: "8 letters, such as BCDF-GHJK" },
  ], "Approve", async (v) => {
    await api("POST", "/api/auth/v1/device/approve", { user_code: v.user_code, approve: decision });
    done.textContent = decision ? "Approved: the tool is signed in as you." : "Denied: the tool gets no token.";
    decision = true;
  });
  const deny = h("button", { type: "submit", id: "device-deny", class: "secondary" }, "Deny");
  deny.addEventListener("click", () => { decision = false; });
  f.querySelector(".actions").append(deny);
  page("Approve a device login",
    h("p", {}, "A command-line tool asked to sign in as you. Approve only if you started it and the code matches."),
    f, done);
}

// --- organizations --------------------------------------------------------------

function pageOrgs() {
  const list = pagedTable("Your organizations", "/api/org/v1/orgs", [
    ["Name", (o) => h("a", { href: "#/orgs/" + enc(o.name) }, o.name)],
    ["Display name", (o) => o.display_name || "—"],
    ["Members", (o) => String(o.member_count)],
    ["Created", (o) => when(o.created_at)],
  ], { empty: "No organization yet." });
  page("Organizations",
    list.el,
    section("Create an organization",
      form("org-create", [
        { name: "name", label: "Name", required: true, hint: "2–63 lower-case letters, digits and hyphens" },
        { name: "display_name", label: "Display name" },
      ], "Create", async (v) => {
        const body = { name: v.name };
        if (v.display_name) body.display_name = v.display_name;
        await api("POST", "/api/org/v1/orgs", body);
        status("Organization " + v.name + " created.");
        location.hash = "#/orgs/" + enc(v.name);
      })));
}

function roleSelect(id, value, roles) {
  return h("select", { id, "aria-label": "Role" },
    (roles || ["member", "admin", "owner"]).map((r) => h("option", { value: r, selected: r === value }, r)));
}

async function pageOrg(name) {
  const base = ORG + enc(name);
  const err = errorBox();
  page("Organization " + name, err.el);
  let org;
  // /me for the caller's role here, fresh: an organization created a moment ago is in no older copy
  try { [org] = await Promise.all([api("GET", base), loadMe()]); } catch (e) { err.show(e); return; }
  const mine = (me.organizations || []).find((o) => o.name === name);
  const admin = !!(me.user && me.user.platform_admin);
  const role = mine ? mine.role : null;
  const main = document.getElementById("main");

  const info = h("dl", {},
    h("dt", {}, "Display name"), h("dd", {}, org.display_name || "—"),
    h("dt", {}, "Id"), h("dd", {}, h("code", {}, org.id)),
    h("dt", {}, "Members"), h("dd", {}, String(org.member_count)),
    h("dt", {}, "Created"), h("dd", {}, when(org.created_at)));

  const members = pagedTable("Members", base + "/members", [
    ["E-mail", (m) => m.user.email],
    ["Name", (m) => m.user.display_name || "—"],
    ["Role", (m) => {
      const sel = roleSelect("role-" + m.user.id, m.role);
      sel.setAttribute("aria-label", "Role of " + m.user.email);
      return h("span", { class: "inline" }, sel, action("Change role", async () => {
        await api("PUT", base + "/members/" + enc(m.user.id), { role: sel.value });
        status("Role of " + m.user.email + " is now " + sel.value + ".");
        await members.reload();
      }, { "aria-label": "Change role of " + m.user.email }));
    }],
    ["Added", (m) => when(m.added_at)],
    ["", (m) => action("Remove", async () => {
      if (!confirmed("Remove " + m.user.email + " from " + name + "?")) return;
      await api("DELETE", base + "/members/" + enc(m.user.id));
      status(m.user.email + " removed.");
      await members.reload();
    }, { class: "danger", "aria-label": "Remove " + m.user.email })],
  ]);

  const sas = pagedTable("Service accounts", base + "/service-accounts", [
    ["Name", (s) => h("a", { href: "#/orgs/" + enc(name) + "/service-accounts/" + enc(s.name) }, s.name)],
    ["Role", (s) => s.role],
    ["Display name", (s) => s.display_name || "—"],
    ["Identifier", (s) => h("code", {}, s.identifier)],
  ], { empty: "No service account yet." });

  const keys = pagedTable("Keys acting in this organization", base + "/keys", [
    ["Key id", (k) => h("code", {}, k.id)],
    ["Name", (k) => k.display_name || "—"],
    ["Owner", (k) => k.owner.identifier],
    ["Expires", (k) => when(k.expires_at)],
    ["Last used", (k) => when(k.last_used_at)],
    ["", (k) => action("Revoke", async () => {
      if (!confirmed("Revoke key " + k.id + "?")) return;
      await api("DELETE", base + "/keys/" + enc(k.id));
      status("Key " + k.id + " revoked.");
      await keys.reload();
    }, { class: "danger", "aria-label": "Revoke key " + k.id })],
  ], { empty: "No key." });

  const auditHolder = h("div");
  const filter = form("audit-filter", [
    { name: "action", label: "Action", hint: "such as member.added; empty for all" },
  ], "Filter", async (v) => showAudit(v.action));
  function showAudit(act) {
    const t = pagedTable("Audit events, newest first", base + "/audit-events" + (act ? "?action=" + enc(act) : ""), [
      ["Time", (e) => when(e.time)],
      ["Action", (e) => e.action],
      ["Actor", (e) => e.actor.type + " " + e.actor.id],
      ["Target", (e) => e.target ? e.target.type + " " + e.target.id : "—"],
      ["Outcome", (e) => e.outcome],
      ["Address", (e) => e.ip || "—"],
    ], { empty: "No event." });
    auditHolder.replaceChildren(t.el);
  }
  showAudit("");

  main.append(
    section("About", info,
      form("org-edit", [{ name: "display_name", label: "Display name", value: org.display_name || "" }], "Save", async (v) => {
        await api("PATCH", base, { display_name: v.display_name });
        status("Saved.");
      })),
    section("Members", members.el,
      h("h3", {}, "Add a member"),
      form("member-add", [
        { name: "email", label: "E-mail of an existing user", type: "email", required: true },
        { name: "role", label: "Role", options: [["member", "member"], ["admin", "admin"], ["owner", "owner"]], value: "member" },
      ], "Add", async (v, f) => {
        await api("PUT", base + "/members/" + enc(v.email), { role: v.role });
        status(v.email + " added as " + v.role + ".");
        f.reset();
        await members.reload();
      })),
    // GET …/sso is org admin+; changing it owner or platform administrator
    ...(admin || role === "owner" || role === "admin" ? [ssoPanel(name, base, admin || role === "owner")] : []),
    section("Service accounts", sas.el,
      h("h3", {}, "Create a service account"),
      form("sa-create", [
        { name: "name", label: "Name", required: true },
        { name: "display_name", label: "Display name" },
        { name: "description", label: "Description", type: "textarea" },
        { name: "role", label: "Role", options: [["member", "member"], ["admin", "admin"]], value: "member" },
      ], "Create", async (v, f) => {
        const body = { name: v.name, role: v.role };
        if (v.display_name) body.display_name = v.display_name;
        if (v.description) body.description = v.description;
        await api("POST", base + "/service-accounts", body);
        status("Service account " + v.name + " created.");
        f.reset();
        await sas.reload();
      })),
    section("Keys", keys.el),
    section("Audit events", filter, auditHolder),
    section("Danger zone", action("Delete organization", async () => {
      if (!confirmed("Delete " + name + "? Every service account and key of it stops working.")) return;
      await api("DELETE", base);
      status("Organization " + name + " deleted.");
      location.hash = "#/orgs";
    }, { class: "danger", id: "org-delete" })));
}

async function pageServiceAccount(org, sa) {
  const base = ORG + enc(org) + "/service-accounts/" + enc(sa);
  const err = errorBox();
  page("Service account " + sa, h("p", {}, h("a", { href: "#/orgs/" + enc(org) }, "← " + org)), err.el);
  let s;
  try { s = await api("GET", base); } catch (e) { err.show(e); return; }
  document.getElementById("main").append(
    section("About",
      h("dl", {},
        h("dt", {}, "Identifier"), h("dd", {}, h("code", {}, s.identifier)),
        h("dt", {}, "Id"), h("dd", {}, h("code", {}, s.id)),
        h("dt", {}, "Created"), h("dd", {}, when(s.created_at))),
      form("sa-edit", [
        { name: "display_name", label: "Display name", value: s.display_name || "" },
        { name: "description", label: "Description", type: "textarea", value: s.description || "" },
        { name: "role", label: "Role", options: [["member", "member"], ["admin", "admin"]], value: s.role },
      ], "Save", async (v) => {
        await api("PATCH", base, { display_name: v.display_name || null, description: v.description || null, role: v.role });
        status("Saved.");
      })),
    keyPanel(base + "/keys", null),
    section("Danger zone", action("Delete service account", async () => {
      if (!confirmed("Delete " + sa + "? Its keys stop working at once.")) return;
      await api("DELETE", base);
      status("Service account " + sa + " deleted.");
      location.hash = "#/orgs/" + enc(org);
    }, { class: "danger", id: "sa-delete" })));
}

// --- own account ----------------------------------------------------------------

async function pageAccount() {
  const err = errorBox();
  page("Your account", err.el);
  try { await loadMe(); } catch (e) { err.show(e); return; }
  const uid = me.user.id;
  const sessions = pagedTable("Your sessions, newest first", "/api/org/v1/me/sessions", [
    ["Started", (s) => when(s.created_at)],
    ["Last used", (s) => when(s.last_used_at)],
    ["Expires", (s) => when(s.expires_at)],
    ["From", (s) => (s.ip || "—") + " " + (s.user_agent || "")],
    ["", (s) => s.current ? h("strong", {}, "this session")
      : action("End", async () => {
        await api("DELETE", "/api/org/v1/me/sessions/" + enc(s.id));
        status("Session ended.");
        await sessions.reload();
      }, { "aria-label": "End session started " + when(s.created_at), "data-session": s.id })],
  ]);
  const orgs = (me.organizations || []).map((o) => [o.name, o.name]);
  document.getElementById("main").append(
    section("Profile",
      form("profile", [{ name: "display_name", label: "Display name", value: me.user.display_name || "" }], "Save", async (v) => {
        await api("PATCH", "/api/org/v1/users/" + enc(uid), { display_name: v.display_name || null });
        status("Saved.");
      })),
    section("Password",
      form("password", [
        { name: "username", type: "username", value: me.user.email },
        { name: "current_password", label: "Current password", type: "password", required: true, autocomplete: "current-password" },
        { name: "password", label: "New password", type: "password", required: true, autocomplete: "new-password" },
      ], "Change password", async (v, f) => {
        await api("PATCH", "/api/org/v1/users/" + enc(uid), { current_password: v.current_password, password: v.password });
        f.reset();
        status("Password changed; your other sessions have ended.");
        await sessions.reload();
      })),
    section("Sessions", sessions.el),
    orgs.length ? keyPanel("/api/org/v1/me/keys", orgs)
      : section("Personal keys", h("p", {}, "Personal keys act in an organization; join one first.")));
}

// --- platform administrator -----------------------------------------------------

function pageUsers() {
  const users = pagedTable("Users", "/api/org/v1/users", [
    ["E-mail", (u) => u.email],
    ["Name", (u) => u.display_name || "—"],
    ["Administrator", (u) => u.platform_admin ? "yes" : "no"],
    ["State", (u) => u.disabled ? "disabled" : "active"],
    ["", (u) => h("span", { class: "inline" },
      action(u.disabled ? "Enable" : "Disable", async () => {
        await api("PATCH", "/api/org/v1/users/" + enc(u.id), { disabled: !u.disabled });
        status(u.email + (u.disabled ? " enabled." : " disabled; their sessions have ended."));
        await users.reload();
      }, { "aria-label": (u.disabled ? "Enable " : "Disable ") + u.email }),
      action(u.platform_admin ? "Remove administrator" : "Make administrator", async () => {
        await api("PATCH", "/api/org/v1/users/" + enc(u.id), { platform_admin: !u.platform_admin });
        status(u.email + (u.platform_admin ? " is no longer" : " is now") + " a platform administrator.");
        await users.reload();
      }, { "aria-label": (u.platform_admin ? "Remove administrator " : "Make administrator ") + u.email }))],
  ]);
  page("Users",
    users.el,
    section("Create a user",
      form("user-create", [
        { name: "email", label: "E-mail", type: "email", required: true },
        { name: "password", label: "Password", type: "password", required: true, autocomplete: "new-password" },
        { name: "display_name", label: "Display name" },
        { name: "platform_admin", label: "Platform administrator", type: "checkbox" },
      ], "Create", async (v, f) => {
        const body = { email: v.email, password: v.password, platform_admin: v.platform_admin };
        if (v.display_name) body.display_name = v.display_name;
        await api("POST", "/api/org/v1/users", body);
        status("User " + v.email + " created.");
        f.reset();
        await users.reload();
      })));
}

// --- start ----------------------------------------------------------------------

document.getElementById("signout").addEventListener("click", async () => {
  try { await signOut(); } catch (e) { status("Sign-out: " + (e.detail || e.message)); }
  me = null;
  showNav();
  flash = "Signed out.";
  if (location.hash === "#/signin") { status(flash); flash = null; route(); } else location.hash = "#/signin";
});

onSignedOut(() => {
  me = null;
  status("Your session has ended; sign in again.");
  route();
});

// A message that outlives the route change it causes.
let flash = null;
window.addEventListener("hashchange", () => { status(flash || ""); flash = null; route(); });

async function start() {
  // /device?user_code=… arrives as /console/?user_code=… (or with #/device?user_code=…)
  const q = new URLSearchParams(location.search);
  if (q.get("user_code") && !location.hash) {
    history.replaceState(null, "", location.pathname + "#/device?user_code=" + enc(q.get("user_code")));
  }
  takeSsoError();
  // The route asked for before leaving for the provider (ssoReturnTo)
  const back = sessionStorage.getItem(RETURN);
  sessionStorage.removeItem(RETURN);
  if (back && !location.hash) history.replaceState(null, "", location.pathname + back);
  // A reload, or the return from the SSO callback with only the refresh
  // cookie: one refresh by the cookie recovers the session, if there is one.
  // A device approval link is tried even without the hint: the device flow of
  // an SSO organization signs in at the provider before it, never here.
  try {
    if (mayHaveSession() || q.get("user_code")) {
      await refresh();
      await loadMe();
    }
  } catch {
    // not signed in
  }
  route();
}

start();

