// An organization's single sign-on (SPEC §5.15): its OpenID Connect
// provider, shown to the organization's admins, set and removed by its owners
// and platform administrators. The client secret is write-only: the server
// never returns it, so the form never shows one and asks for it on every save.

import { api } from "./api.js";
import { h, form, action, confirmed, when, section, status, errorBox, copyButton } from "./ui.js";

// "a.example, b.example c.example" -> ["a.example", "b.example", "c.example"]
function domains(text) {
  return text.split(/[\s,]+/).filter((d) => d !== "");
}

// The callback the provider must know. Before a first save the server has not
// told it yet; it is this origin's callback path (the console and the API
// share one origin, SPEC §5.14), the same URL the server answers afterwards.
function callbackUrl(cfg) {
  return cfg ? cfg.redirect_uri : location.origin + "/api/auth/v1/sso/callback";
}

function redirectField(cfg) {
  const id = "sso-redirect";
  const out = h("input", { id, class: "copy-value", readonly: true, value: callbackUrl(cfg), "aria-describedby": id + "-hint" });
  const [copy, copied] = copyButton(out, out.value, id + "-copy");
  return h("div", { class: "field" },
    h("label", { for: id }, "Redirect URI to register at the provider"),
    h("div", { class: "inline" }, out, copy, copied),
    h("small", { id: id + "-hint" }, "The provider sends people back here after they sign in; register it for the client before saving."));
}

// canEdit: an owner or a platform administrator; an admin sees it read-only.
export function ssoPanel(org, base, canEdit) {
  const path = base + "/sso";
  const err = errorBox();
  const body = h("div", { id: "sso-panel" });

  function show(cfg) {
    const state = cfg
      ? h("dl", { id: "sso-config" },
        h("dt", {}, "Issuer"), h("dd", {}, h("code", {}, cfg.issuer)),
        h("dt", {}, "Client ID"), h("dd", {}, h("code", {}, cfg.client_id)),
        h("dt", {}, "E-mail domains"), h("dd", {}, (cfg.email_domains || []).join(", ")),
        h("dt", {}, "Role of new members"), h("dd", {}, cfg.default_role),
        h("dt", {}, "Updated"), h("dd", {}, when(cfg.updated_at)))
      : h("p", { id: "sso-state" }, "Single sign-on is not configured: the people of " + org + " sign in with a password.");
    const parts = [state, redirectField(cfg)];
    if (!canEdit) {
      parts.push(h("p", {}, "Only an owner of the organization or a platform administrator can change it."));
      body.replaceChildren(...parts);
      return;
    }
    parts.push(
      h("h3", {}, cfg ? "Change the provider" : "Set up a provider"),
      form("sso", [
        { name: "issuer", label: "Issuer", type: "url", required: true, value: cfg ? cfg.issuer : undefined,
          hint: "the provider's issuer URL, such as https://login.example.com/realms/acme (https, or http to a loopback address)" },
        { name: "client_id", label: "Client ID", required: true, value: cfg ? cfg.client_id : undefined },
        { name: "client_secret", label: "Client secret", type: "password", required: true, autocomplete: "new-password",
          hint: "needed on every save: Lanyard never shows it again" },
        { name: "email_domains", label: "E-mail domains", required: true, value: cfg ? cfg.email_domains.join(", ") : undefined,
          hint: "the domains whose people sign in through this provider, separated by commas or spaces" },
        { name: "default_role", label: "Role of new members", options: [["member", "member"], ["admin", "admin"]],
          value: cfg ? cfg.default_role : "member" },
      ], "Save single sign-on", async (v) => {
        const saved = await api("PUT", path, {
          issuer: v.issuer, client_id: v.client_id, client_secret: v.client_secret,
          email_domains: domains(v.email_domains), default_role: v.default_role,
        });
        status("Single sign-on of " + org + " saved.");
        show(saved);
      }));
    if (cfg) {
      parts.push(action("Remove single sign-on", async () => {
        if (!confirmed("Remove single sign-on from " + org + "? Its people can no longer sign in through " + cfg.issuer + ".")) return;
        await api("DELETE", path);
        status("Single sign-on of " + org + " removed.");
        show(null);
      }, { class: "danger", id: "sso-delete" }));
    }
    body.replaceChildren(...parts);
  }

  (async () => {
    let cfg = null;
    try {
      cfg = await api("GET", path);
    } catch (e) {
      if (e.status !== 404) { err.show(e); return; } // 404: none configured
    }
    show(cfg);
  })();
  return section("Single sign-on", err.el, body);
}
