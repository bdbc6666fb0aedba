// Calls to the Lanyard API and the access token's life (SPEC §5.14).
//
// The access token lives only in this module's variables: never in
// localStorage, sessionStorage or a cookie, so a page reload forgets it and
// recovers by one refresh through the HttpOnly refresh cookie, which no
// script can read (the server sets it on sign-in with refresh_cookie: true,
// Path=/api/auth/v1/).

let access = null;      // the bearer token, or null when signed out
let expiresAt = 0;      // Date.now() ms at which it expires
let timer = null;       // the background refresh
let inflight = null;    // one refresh at a time: a second one would present a spent cookie
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.body = body;
  }
}

export function onSignedOut(fn) { listeners.add(fn); }
export function signedIn() { return access !== null; }
export function tokenExpiresAt() { return expiresAt; }

function detailOf(status, body, fallback) {
  if (body && typeof body === "object") {
    // problem+json (§3) or the OAuth form (RFC 6749 §5.2) of the /api/auth/v1 endpoints
    if (body.detail) {
      const errs = Array.isArray(body.errors)
        ? body.errors.map((e) => e.field + ": " + e.message).join("; ") : "";
      return errs ? body.detail + " (" + errs + ")" : body.detail;
    }
    if (body.error_description) return body.error_description;
    if (body.error) return body.error;
  }
  return fallback || "HTTP " + status;
}

async function readBody(r) {
  const text = await r.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch { return text; }
}

// A hint, not a secret: "this browser signed in and may hold the cookie", so a
// page load with no session does not send a refresh that can only fail.
const HINT = "lanyard.session";
export function mayHaveSession() { return localStorage.getItem(HINT) === "1"; }

function accept(tok) {
  localStorage.setItem(HINT, "1");
  access = tok.access_token;
  const ttl = Math.max(1, Number(tok.expires_in) || 60);
  expiresAt = Date.now() + ttl * 1000;
  // Refresh ahead of expiry: at 80 % of the lifetime, at most a minute early,
  // so a 15-minute token is renewed after 14 minutes and a 20-second one after 16 s.
  const ahead = Math.min(60, ttl * 0.2);
  clearTimeout(timer);
  timer = setTimeout(() => { refresh().catch(() => {}); }, (ttl - ahead) * 1000);
}

// Leaving for an organization's identity provider (SPEC §5.15): its callback
// comes back with the refresh cookie only, so the page it lands on must try
// the one refresh a reload tries.
export function expectSession() { localStorage.setItem(HINT, "1"); }

function forget() {
  localStorage.removeItem(HINT);
  access = null;
  expiresAt = 0;
  clearTimeout(timer);
  timer = null;
}

async function post(path, body, headers) {
  return fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: Object.assign({ "Content-Type": "application/json" }, headers || {}),
    body: JSON.stringify(body),
  });
}

export async function signIn(email, password) {
  const r = await post("/api/auth/v1/signin", { email, password, refresh_cookie: true });
  const body = await readBody(r);
  if (!r.ok) throw new ApiError(r.status, detailOf(r.status, body), body);
  accept(body);
}

// Which organization's single sign-on takes this e-mail (SPEC §5.15): its
// {org, start_url}, or null when none does (404). No token: it is asked
// before signing in.
export async function ssoDiscover(email) {
  const r = await fetch("/api/auth/v1/sso/discover?email=" + encodeURIComponent(email), { credentials: "same-origin" });
  const body = await readBody(r);
  if (r.status === 404) return null;
  if (!r.ok) throw new ApiError(r.status, detailOf(r.status, body), body);
  return body;
}

// The refresh by cookie: a JSON POST (which a cross-site form cannot send),
// without a refresh_token field; the server rotates the cookie.
export function refresh() {
  if (inflight) return inflight;
  inflight = (async () => {
    try {
      // Tabs share the cookie: two refreshing at once would present one cookie
      // twice, which the server takes for theft and ends the session. A lock
      // across this origin's tabs makes the second wait and send the rotated one.
      const send = () => post("/api/auth/v1/token", { grant_type: "refresh_token" });
      const r = navigator.locks ? await navigator.locks.request("lanyard-refresh", send)
                                : await send();
      const body = await readBody(r);
      if (!r.ok) {
        const was = access !== null;
        forget();
        if (was) listeners.forEach((fn) => fn());
        throw new ApiError(r.status, detailOf(r.status, body), body);
      }
      accept(body);
      return true;
    } finally {
      inflight = null;
    }
  })();
  return inflight;
}

export async function signOut() {
  const headers = access ? { Authorization: "Bearer " + access } : {};
  try {
    const r = await post("/api/auth/v1/signout", {}, headers);
    if (!r.ok && r.status !== 401) {
      const body = await readBody(r);
      throw new ApiError(r.status, detailOf(r.status, body), body);
    }
  } finally {
    forget();
  }
}

// One API call with the access token; a 401 (the token expired while the
// tab slept, or was revoked) gets one refresh and one retry.
export async function api(method, path, body, retried) {
  if (!access && !retried) {
    await refresh();
  }
  const init = { method, credentials: "same-origin", headers: { Authorization: "Bearer " + access } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  if (r.status === 401 && !retried) {
    await refresh();
    return api(method, path, body, true);
  }
  const data = await readBody(r);
  if (!r.ok) throw new ApiError(r.status, detailOf(r.status, data), data);
  return data;
}

// The refresh after the tab was asleep longer than the token lived.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && access && Date.now() > expiresAt - 5000) {
    refresh().catch(() => {});
  }
});
