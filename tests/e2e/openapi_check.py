"""Every response the end-to-end suite gets, checked against doc/openapi.json
(issue 20): the status must be documented for the path and method, and the
body must match the response's schema (JSON Schema 2020-12). Paths outside
/api and /.well-known (console files, /device) are out of scope. Validators
are compiled once per schema, so the check is cheap."""

import json
import os
import re
import urllib.parse

import jsonschema

SPEC_PATH = os.path.join(os.environ.get("LANYARD_SRCDIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                         "doc", "openapi.json")

with open(SPEC_PATH, encoding="utf-8") as _f:
    SPEC = json.load(_f)

_VALIDATORS = {}
_ROUTES = []
for _p, _item in SPEC["paths"].items():
    _rx = re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(_p)) + "$")
    _ROUTES.append((_rx, _p, _item))


def _deref(node):
    while isinstance(node, dict) and "$ref" in node:
        ptr = node["$ref"].lstrip("#/").split("/")
        node = SPEC
        for part in ptr:
            node = node[part]
    return node


def _validator(path, method, status, ctype, schema):
    key = (path, method, status, ctype)
    v = _VALIDATORS.get(key)
    if v is None:
        # The refs are pointers into the description itself.
        v = jsonschema.Draft202012Validator(schema, resolver=jsonschema.RefResolver("", SPEC))
        _VALIDATORS[key] = v
    return v


def check(method, url, status, headers, body):
    """None when the response is documented, else a message saying why not."""
    path = urllib.parse.urlsplit(url).path
    if not (path.startswith("/api/") or path.startswith("/.well-known/")):
        return None
    # What the web server answers itself (a 400 for %00 before any FastCGI) is not Lanyard's:
    # every answer of Lanyard carries X-Request-Id (SPEC §3).
    if "x-request-id" not in headers:
        return None
    method = method.lower()
    item = None
    for rx, p, it in _ROUTES:
        if rx.match(path):
            item = (p, it)
            break
    if item is None or method not in item[1]:
        # No such endpoint (404) or method (405) must still answer a documented problem.
        op = {"responses": {"404": {"$ref": "#/components/responses/NotFound"},
                            "405": {"$ref": "#/components/responses/MethodNotAllowed"},
                            "400": {"$ref": "#/components/responses/BadRequest"},
                            "413": {"$ref": "#/components/responses/TooLarge"},
                            "500": {"$ref": "#/components/responses/Internal"},
                            "503": {"$ref": "#/components/responses/Unavailable"}}}
        if item is not None:
            # A 405 of an OAuth path is in that path's own form.
            any_op = next(v for k, v in item[1].items() if k != "parameters")
            op["responses"]["405"] = any_op["responses"]["405"]
        p = item[0] if item else "(no such path)"
    else:
        p, op = item[0], item[1][method]
    if method == "head":
        return None
    resp = op["responses"].get(str(status))
    if resp is None:
        return "%s %s: status %d is not documented for %s %s" % (method.upper(), path, status, method, p)
    resp = _deref(resp)
    content = resp.get("content")
    if not content:
        if body:
            return "%s %s: status %d documents no body, got %r" % (method.upper(), path, status, body[:200])
        return None
    ctype = (headers.get("content-type") or "").split(";")[0].strip()
    if ctype not in content:
        return "%s %s: status %d Content-Type %r, documented %s" % (method.upper(), path, status, ctype,
                                                                     sorted(content))
    if not ctype.endswith("json"):
        return None
    try:
        doc = json.loads(body)
    except ValueError as e:
        return "%s %s: status %d body is not JSON (%s)" % (method.upper(), path, status, e)
    v = _validator(p, method, status, ctype, content[ctype]["schema"])
    errs = sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errs:
        e = errs[0]
        return "%s %s: status %d body does not match %s: %s at %s" % (
            method.upper(), path, status, content[ctype]["schema"].get("$ref", "schema"), e.message[:300],
            "/".join(str(x) for x in e.absolute_path) or "(root)")
    return None
