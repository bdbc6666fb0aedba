// Keys of a service account (…/service-accounts/{sa}/keys) or one's own
// personal keys (/me/keys): create, list with expiry and last use, rotate,
// delete; the secret of a new key shown once, with a copy button and a
// .env download.

import { api } from "./api.js";
import { h, form, action, confirmed, pagedTable, when, section, status, copyButton } from "./ui.js";

const enc = encodeURIComponent;

export function secretBox(key) {
  const id = "secret-" + key.id;
  const out = h("input", { id, class: "secret", readonly: true, value: key.token, "aria-describedby": id + "-note" });
  const [copy, copied] = copyButton(out, key.token, "secret-copy");
  const env = "# Lanyard API key " + key.id + (key.display_name ? " (" + key.display_name + ")" : "") +
    ", expires " + (key.expires_at || "never") + "\n" +
    "LANYARD_API_KEY=" + key.token + "\nLANYARD_KEY_ID=" + key.id + "\nLANYARD_KEY_SECRET=" + key.secret + "\n";
  const url = URL.createObjectURL(new Blob([env], { type: "text/plain" }));
  const dl = h("a", { href: url, download: "lanyard-" + key.id + ".env", class: "button", id: "secret-download" }, "Download .env");
  return h("div", { class: "secretbox", id: "secretbox" },
    h("p", { id: id + "-note" }, h("strong", {}, "Shown once: "), "copy the key now. Lanyard keeps only its hash; it cannot show it again."),
    h("label", { for: id }, "Key ", h("code", {}, key.id)),
    h("div", { class: "inline" }, out, copy, dl, copied));
}

// orgs: null for a service account's keys; [[name, label]] for personal keys
export function keyPanel(path, orgs) {
  const shown = h("div", { "aria-live": "polite" });
  function reveal(k) {
    shown.replaceChildren(secretBox(k));
    shown.querySelector("input").focus();
  }
  const list = pagedTable("Keys", path, [
    ["Key id", (k) => h("code", {}, k.id)],
    ["Name", (k) => k.display_name || "—"],
    orgs ? ["Organization", (k) => k.org + " (" + k.role + ")"] : ["Description", (k) => k.description || "—"],
    ["Resource", (k) => k.resource || "any"],
    ["Created", (k) => when(k.created_at)],
    ["Expires", (k) => k.expires_at ? when(k.expires_at) : "never"],
    ["Last used", (k) => when(k.last_used_at)],
    ["", (k) => h("span", { class: "inline" },
      action("Rotate", async () => {
        if (!confirmed("Rotate key " + k.id + "? The old key keeps working for 24 hours.")) return;
        const n = await api("POST", path + "/" + enc(k.id) + "/rotate", {});
        status("Key " + k.id + " rotated; the new key is " + n.id + ".");
        reveal(n);
        await list.reload();
      }, { "aria-label": "Rotate key " + k.id, "data-key": k.id, class: "rotate" }),
      action("Delete", async () => {
        if (!confirmed("Delete key " + k.id + "? It stops working at once.")) return;
        await api("DELETE", path + "/" + enc(k.id));
        status("Key " + k.id + " deleted.");
        await list.reload();
      }, { class: "danger delete", "aria-label": "Delete key " + k.id, "data-key": k.id }))],
  ], { empty: "No key yet." });
  const fields = [
    { name: "display_name", label: "Display name" },
    { name: "description", label: "Description", type: "textarea" },
    { name: "ttl", label: "Lifetime", hint: "a duration such as 30d or 12h; empty for the server's default" },
    { name: "resource", label: "Resource", hint: "empty: the key is good for any resource" },
  ];
  if (orgs) {
    fields.unshift({ name: "org", label: "Organization", options: orgs, value: orgs[0][0] },
      { name: "role", label: "Role", options: [["member", "member"], ["admin", "admin"]], value: "member" });
  }
  const create = form(orgs ? "pkey-create" : "key-create", fields, "Create key", async (v, f) => {
    const body = {};
    for (const k of ["org", "role", "display_name", "description", "ttl", "resource"]) {
      if (v[k]) body[k] = v[k];
    }
    const k = await api("POST", path, body);
    f.reset();
    reveal(k);
    status("Key " + k.id + " created.");
    await list.reload();
  });
  return section(orgs ? "Personal keys" : "Keys", shown, list.el, h("h3", {}, "Create a key"), create);
}
