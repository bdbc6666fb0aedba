// DOM helpers: elements built with createElement only (no innerHTML, so no
// API value is ever parsed as markup), forms with labels, paged tables.

import { api } from "./api.js";

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function status(msg) {
  const s = document.getElementById("status");
  s.textContent = msg;
}

// An error box: every API error is shown with its detail.
export function errorBox() {
  const el = h("p", { class: "error", role: "alert", hidden: true });
  return {
    el,
    show(e) { el.textContent = "Error: " + (e && e.detail ? e.detail : String(e && e.message || e)); el.hidden = false; },
    clear() { el.textContent = ""; el.hidden = true; },
  };
}

let uid = 0;

// fields: [{name, label, type?, required?, value?, options?: [[value, label]], hint?, autocomplete?}]
export function form(id, fields, submitLabel, onsubmit) {
  const err = errorBox();
  const inputs = {};
  const rows = fields.map((f) => {
    const fid = id + "-" + f.name;
    if (f.type === "username") {
      // the account a password form belongs to, for password managers; not shown
      return h("input", { id: fid, type: "text", autocomplete: "username", value: f.value, hidden: true, readonly: true });
    }
    let input;
    if (f.options) {
      input = h("select", { id: fid, name: f.name },
        f.options.map(([v, l]) => h("option", { value: v, selected: v === f.value }, l)));
    } else if (f.type === "textarea") {
      input = h("textarea", { id: fid, name: f.name, rows: 2 });
      input.value = f.value || "";
    } else {
      input = h("input", {
        id: fid, name: f.name, type: f.type || "text", required: f.required,
        autocomplete: f.autocomplete || "off", "aria-describedby": f.hint ? fid + "-hint" : null,
      });
      if (f.type === "checkbox") input.checked = !!f.value;
      else if (f.value !== undefined) input.value = f.value;
    }
    inputs[f.name] = input;
    const cls = f.type === "checkbox" ? "field check" : "field";
    return h("div", { class: cls },
      f.type === "checkbox" ? [input, h("label", { for: fid }, f.label)]
        : [h("label", { for: fid }, f.label), input],
      f.hint ? h("small", { id: fid + "-hint" }, f.hint) : null);
  });
  const button = h("button", { type: "submit", id: id + "-submit" }, submitLabel);
  const el = h("form", { id, novalidate: false }, rows, h("div", { class: "actions" }, button), err.el);
  el.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.clear();
    const values = {};
    for (const [k, i] of Object.entries(inputs)) values[k] = i.type === "checkbox" ? i.checked : i.value.trim();
    button.disabled = true;
    try {
      await onsubmit(values, el);
    } catch (e) {
      err.show(e);
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

// A button whose action's error appears next to it.
export function action(label, fn, attrs) {
  const err = errorBox();
  const b = h("button", Object.assign({ type: "button" }, attrs || {}), label);
  b.addEventListener("click", async () => {
    err.clear();
    b.disabled = true;
    try { await fn(); } catch (e) { err.show(e); } finally { b.disabled = false; }
  });
  return h("span", { class: "act" }, b, err.el);
}

// A Copy button for a read-only input's value: the clipboard API, or the
// selection and execCommand where the browser refuses it (plain http to a
// host other than loopback is not a secure context).
export function copyButton(input, value, id) {
  const copied = h("span", { role: "status" });
  const copy = h("button", { type: "button", id }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      input.select();
      document.execCommand("copy");
    }
    copied.textContent = "Copied.";
  });
  return [copy, copied];
}

export function confirmed(msg) { return window.confirm(msg); }

// A table filled page by page from a list endpoint ({items, next_page_token}).
// columns: [[header, item => cell]]
export function pagedTable(caption, path, columns, opts) {
  const o = opts || {};
  const err = errorBox();
  const tbody = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const empty = h("p", { hidden: true }, o.empty || "None yet.");
  const table = h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map(([t]) => h("th", { scope: "col" }, t)))),
    tbody);
  let next = null;
  async function load(reset) {
    err.clear();
    const sep = path.includes("?") ? "&" : "?";
    const url = path + sep + "page_size=" + (o.pageSize || 20) + (next && !reset ? "&page_token=" + encodeURIComponent(next) : "");
    try {
      const data = await api("GET", url);
      if (reset) tbody.replaceChildren();
      for (const item of data.items) {
        tbody.append(h("tr", {}, columns.map(([, f]) => h("td", {}, f(item)))));
      }
      next = data.next_page_token;
      more.hidden = !next;
      empty.hidden = tbody.children.length > 0;
    } catch (e) {
      err.show(e);
    }
  }
  more.addEventListener("click", () => load(false));
  const el = h("div", { class: "list" }, h("div", { class: "scroll" }, table), empty, more, err.el);
  load(true);
  return { el, reload: () => { next = null; return load(true); } };
}

export function when(t) {
  if (!t) return "—";
  return t.replace("T", " ").replace("Z", " UTC");
}

export function page(title, ...children) {
  const h1 = h("h1", { tabindex: -1 }, title);
  const main = document.getElementById("main");
  main.replaceChildren(h1, ...children.flat());
  document.title = title + " — Lanyard console";
  h1.focus();
  return main;
}

export function section(title, ...children) {
  return h("section", { "aria-label": title }, h("h2", {}, title), children);
}
