#!/usr/bin/env python3
"""Instruction counts of one in-process request per credential kind (issue 17).

    bench/callgrind.py [--builddir build] [-n 200] [--kinds a,b,...] [--keep]

Builds nothing. Starts one private MariaDB the way the end-to-end harness
does (tests/e2e/harness/mariadb.py, imported), migrates it and seeds an
organization, a user who is its admin and a service account's API key, all
through lanyardctl and in-process requests of bench/check_inproc (sign-in,
membership, key creation: the service's own code). Then it runs each kind
under `valgrind --tool=callgrind`; check_inproc zeroes the statistics after
its warm-up request and dumps them after its last measured one
(valgrind/callgrind.h), so that only the N measured requests count, calls
included (not the start-up, the warm-up or the minting of tokens). It
prints a Markdown table: Ir per request and the top functions by inclusive
and by self Ir. The details (self cost by object, watched functions, call counts) go to
bench/results/callgrind-<UTC time>.md. Everything it starts is stopped by PID.
See bench/README.md.
"""

import argparse
import collections
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys

sys.dont_write_bytecode = True  # nothing written to the source tree

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import provenance  # noqa: E402 (bench/provenance.py)

from harness.lanyard import Build, write_secret  # noqa: E402
from harness.lanyard import config_yaml as harness_config_yaml  # noqa: E402
from harness.mariadb import MariaDB  # noqa: E402
from harness.proc import StartError  # noqa: E402

ORG = "bench"
ADMIN_EMAIL = "admin@example.com"
USER_EMAIL = "bench-user@example.com"
CHECK = "/api/auth/v1/check"
ALGS = ("HS256", "RS256", "ES256", "EdDSA")
ENTRY = "measured_request"

# config name -> (tokens.mode, algorithm, security.auth_cache_ttl)
CONFIGS = {alg.lower(): ("jwt", alg, "0s") for alg in ALGS}
CONFIGS.update({"eddsa-ttl10": ("jwt", "EdDSA", "10s"), "opaque": ("opaque", "EdDSA", "0s"),
                "opaque-ttl10": ("opaque", "EdDSA", "10s")})

# (kind, config, URI, credential: None, "<config>.tok" (one token, seen before),
# "<config>.cold" (a fresh token per request), or "apikey"), in table order
KINDS = []
for _alg in ALGS:
    KINDS += [("check JWT %s, cached" % _alg, _alg.lower(), CHECK, _alg.lower() + ".tok"),
              ("check JWT %s, cold" % _alg, _alg.lower(), CHECK, _alg.lower() + ".cold")]
KINDS += [
    ("check opaque, ttl 0", "opaque", CHECK, "opaque.tok"),
    ("check opaque, ttl 10s", "opaque-ttl10", CHECK, "opaque.tok"),
    ("check API key, ttl 0", "eddsa", CHECK, "apikey"),
    ("check API key, ttl 10s", "eddsa-ttl10", CHECK, "apikey"),
    ("check?org=O&role=admin, JWT EdDSA", "eddsa", CHECK + "?org=%s&role=admin" % ORG,
     "eddsa.tok"),
    ("me, JWT EdDSA", "eddsa", "/api/org/v1/me", "eddsa.tok"),
    ("me, opaque", "opaque", "/api/org/v1/me", "opaque.tok"),
    ("me, API key", "eddsa", "/api/org/v1/me", "apikey"),
    ("health", "eddsa", "/api/health", None),
]

# Functions whose inclusive cost and call count the details report always shows.
WATCH = ["ly_request_init", "ly_api_handle", "ly_auth_request", "ly_jwt_verify", "ly_jwt_sign",
         "write_response", "ly_log_request", "ly_api_tick", "ly_arena_reset",
         "malloc", "free", "calloc", "realloc", "json_tokener_new", "json_tokener_parse_ex",
         "json_object_new_object", "json_object_to_json_string_ext", "EVP_MD_CTX_new",
         "EVP_MD_fetch", "EVP_DigestVerifyInit", "EVP_DigestVerify", "EVP_DigestSign",
         "EVP_PKEY_CTX_new_from_pkey", "HMAC", "EVP_Q_mac", "SHA256", "EVP_Digest",
         "mysql_stmt_execute", "mysql_stmt_fetch", "mysql_stmt_bind_param", "mysql_stmt_reset",
         "mysql_stmt_store_result", "mysql_stmt_free_result", "mysql_ping", "mysql_query",
         "mysql_real_query", "mysql_autocommit", "mysql_commit", "snprintf", "vfprintf",
         "__vfprintf_internal", "fprintf", "fwrite", "fflush", "write", "clock_gettime",
         "__clock_gettime", "localtime_r", "gmtime_r", "strftime"]


def say(msg=""):
    print(msg, file=sys.stderr, flush=True)


# --- set-up ---------------------------------------------------------------------

def config_yaml(db_socket, password_file, mode, alg, key_file, cache_ttl):
    """The harness's one config generator, with the algorithm, the cache's ttl and
    access tokens that outlive the run (2 h) set."""
    text = harness_config_yaml(public_url="http://127.0.0.1:8080", db_socket=db_socket,
                               password_file=password_file, mode=mode, key_file=key_file)
    for old, new in (("    algorithm: EdDSA\n", "    algorithm: %s\n" % alg),
                     ("\nsecurity:\n", "\nsecurity:\n  auth_cache_ttl: %s\n" % cache_ttl),
                     ("\ntokens:\n", "\ntokens:\n  access_ttl: 2h\n")):
        if old not in text:
            raise RuntimeError("harness config_yaml changed: %r not found" % old)
        text = text.replace(old, new, 1)
    return text


class Run:
    def __init__(self, a):
        self.a = a
        self.build = Build(a.builddir, SRCDIR)
        self.inproc = os.path.join(a.builddir, "bench", "check_inproc")
        self.work = a.workdir
        self.mariadb = None
        self.configs = {}

    def path(self, name):
        return os.path.join(self.work, name)

    def inproc_request(self, config, method, uri, bearer=None, body=None, expect=(200,)):
        """One in-process request through bench/check_inproc; the JSON body answered."""
        argv = [self.inproc, "--config", self.configs[config], "request", method, uri]
        if bearer is not None:
            write_secret(self.path("bearer.tmp"), bearer)
            argv += ["--bearer-file", self.path("bearer.tmp")]
        if body is not None:
            write_secret(self.path("body.tmp"), json.dumps(body))
            argv += ["--body-file", self.path("body.tmp")]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=120)
        for tmp in ("bearer.tmp", "body.tmp"):
            if os.path.exists(self.path(tmp)):
                os.unlink(self.path(tmp))
        lines = r.stdout.split("\n", 1)
        status = int(lines[0]) if r.returncode == 0 and lines[0].isdigit() else -1
        if status not in expect:
            raise RuntimeError("%s %s: %s %s %s" % (method, uri, status, r.stdout[:300],
                                                    r.stderr[-500:]))
        text = lines[1].strip() if len(lines) > 1 else ""
        return json.loads(text) if text else None

    def start(self):
        a = self.a
        missing = self.build.missing() + [p for p in [self.inproc] if not os.access(p, os.X_OK)]
        if missing:
            raise SystemExit("callgrind: not built: %s (make -C %s)" % (", ".join(missing),
                                                                        a.builddir))
        if not shutil.which("valgrind"):
            raise SystemExit("callgrind: valgrind not found (Debian: apt-get install valgrind)")
        os.makedirs(self.work, exist_ok=True)
        self.mariadb = MariaDB(self.path("mariadb"))
        say("callgrind: MariaDB in %s" % self.mariadb.datadir)
        os.makedirs(self.mariadb.workdir, exist_ok=True)
        self.mariadb.install()
        self.mariadb.start()
        pw = self.path("db-password")
        if os.path.exists(pw):
            os.unlink(pw)
        self.mariadb.create_app_database(pw, fresh=True)
        for alg in ALGS:
            key = self.path("jwt-%s.pem" % alg.lower())
            if os.path.exists(key):
                os.unlink(key)
            self.build.ctl_ok(None, "keygen", "--alg", alg, "--out", key)
        for name, (mode, alg, ttl) in CONFIGS.items():
            path = self.path("%s.yaml" % name)
            with open(path, "w") as f:
                f.write(config_yaml(self.mariadb.socket, pw, mode, alg,
                                    self.path("jwt-%s.pem" % alg.lower()), ttl))
            self.configs[name] = path
        self.seed()

    def seed(self):
        """lanyardctl: schema, the administrator (owner of ORG), the user; then in-process:
        the user made ORG's admin, a service account and its key, every sign-in."""
        ctl = self.configs["eddsa"]
        self.build.ctl_ok(ctl, "migrate")
        admin_pw, user_pw = os.urandom(12).hex(), os.urandom(12).hex()
        write_secret(self.path("admin-password"), admin_pw)
        write_secret(self.path("user-password"), user_pw)
        self.build.ctl_ok(ctl, "bootstrap", "--email", ADMIN_EMAIL, "--password-file",
                          self.path("admin-password"), "--org", ORG)
        self.build.ctl_ok(ctl, "user", "create", "--email", USER_EMAIL, "--password-file",
                          self.path("user-password"))
        admin = self.inproc_request("eddsa", "POST", "/api/auth/v1/signin",
                                    body={"email": ADMIN_EMAIL, "password": admin_pw})
        at = admin["access_token"]
        self.inproc_request("eddsa", "PUT", "/api/org/v1/orgs/%s/members/%s" % (ORG, USER_EMAIL),
                            at, {"role": "admin"}, expect=(200, 201))
        self.inproc_request("eddsa", "POST", "/api/org/v1/orgs/%s/service-accounts" % ORG, at,
                            {"name": "bench"}, expect=(201,))
        key = self.inproc_request("eddsa", "POST",
                                  "/api/org/v1/orgs/%s/service-accounts/bench/keys" % ORG, at,
                                  {"display_name": "bench"}, expect=(201,))
        write_secret(self.path("apikey"), key["token"])
        for name in [alg.lower() for alg in ALGS] + ["opaque"]:
            t = self.inproc_request(name, "POST", "/api/auth/v1/signin",
                                    body={"email": USER_EMAIL, "password": user_pw})
            write_secret(self.path(name + ".tok"), t["access_token"])
            if name != "opaque":
                r = subprocess.run([self.inproc, "--config", self.configs[name], "mint",
                                    "--like-file", self.path(name + ".tok"),
                                    "-n", str(self.a.n + 1)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   timeout=300)
                if r.returncode != 0:
                    raise RuntimeError("mint %s: %s" % (name, r.stderr))
                write_secret(self.path(name + ".cold"), r.stdout.strip())
        say("callgrind: seeded org %s, user %s (admin of it), a service account's key, "
            "and %d tokens per JWT algorithm" % (ORG, USER_EMAIL, self.a.n + 2))

    def stop(self):
        if self.mariadb is not None:
            self.mariadb.stop()
            self.mariadb = None

    # --- one kind ----------------------------------------------------------------

    def measure(self, kind):
        name, config, uri, cred = kind
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        out = self.path("callgrind.out.%s" % slug)
        for old in os.listdir(self.work):  # an earlier run's dumps
            if old.startswith(os.path.basename(out)):
                os.unlink(self.path(old))
        argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                "--log-file=" + self.path("valgrind.%s.log" % slug),
                self.inproc, "--config", self.configs[config], "run", uri, "-n", str(self.a.n)]
        if cred is not None:
            argv += ["--bearer-file", self.path(cred)]
        with open(self.path("stderr.%s.log" % slug), "w") as err:  # the request log lines
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=err, text=True,
                               timeout=1800)
        if r.returncode != 0:
            raise RuntimeError("%s: check_inproc failed (%d): %s; see %s" % (
                name, r.returncode, r.stdout.strip(), self.path("stderr.%s.log" % slug)))
        m = re.search(r"status (\d+) same (\d+)", r.stdout)
        prof = parse_callgrind(measured_dump(out))
        calls = prof["fn_calls"].get("bench_request", 0)
        if calls != self.a.n:
            raise RuntimeError("%s: bench_request was entered %d times, not %d" % (
                name, calls, self.a.n))
        prof.update(kind=name, uri=uri, config=config, status=int(m.group(1)) if m else 0,
                    out=out)
        return prof


# --- callgrind's output format ------------------------------------------------------

def measured_dump(out):
    """The dump check_inproc asked for after its last measured request
    (CALLGRIND_DUMP_STATS_AT), zeroed after the warm-up."""
    d, base = os.path.split(out)
    for name in sorted(os.listdir(d)):
        if name.startswith(base) and name != base:
            with open(os.path.join(d, name), errors="replace") as f:
                head = f.read(4096)
            if "trigger: client request: measured" in head.lower():
                return os.path.join(d, name)
    raise RuntimeError("%s: no dump of the measured requests: was bench/check_inproc built "
                       "without valgrind/callgrind.h (Debian: valgrind)?" % out)


def parse_callgrind(path):
    """Self and inclusive Ir per function (name, object), call counts, totals.

    A cost line after `calls=` is the inclusive cost of that call: it counts to
    the caller's inclusive cost, not to its self cost. Names are compressed as
    `(id) name` on first use and `(id)` after it."""
    names = {"fn": {}, "ob": {}, "fl": {}}
    self_ir = collections.Counter()
    call_ir = collections.Counter()   # cost of calls made by a function (its inclusive - self)
    calls_in = collections.Counter()  # times a function was called (within the measured region)
    edges = collections.Counter()     # (caller, callee) names: Ir of those calls
    ob = fn = None
    cob = cfn = None
    pending_call = False
    total = 0

    def name(kind, text):
        m = re.match(r"\((\d+)\)(?: (.*))?$", text)
        if not m:
            return text
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
        return names[kind].get(m.group(1), text)

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                ir = int(parts[1]) if len(parts) > 1 else 0
                if pending_call:
                    call_ir[(fn, ob)] += ir
                    edges[(fn, cfn)] += ir
                    pending_call = False
                else:
                    self_ir[(fn, ob)] += ir
                continue
            key, _, val = line.partition("=")
            if key == "ob":
                ob = os.path.basename(name("ob", val))
                cob = None
            elif key == "fn":
                fn = name("fn", val)
                cob = None
            elif key in ("fl", "fi", "fe"):
                name("fl", val)
            elif key in ("cfi", "cfl"):
                name("fl", val)
            elif key == "cob":
                cob = os.path.basename(name("ob", val))
            elif key == "cfn":
                cfn = name("fn", val)
            elif key == "calls":
                calls_in[(cfn, cob or ob)] += int(val.split()[0])
                pending_call = True
            elif line.startswith("summary:"):
                total = int(line.split()[1])
    incl = collections.Counter()
    for k in set(self_ir) | set(call_ir):
        incl[k] = self_ir[k] + call_ir[k]
    by_object = collections.Counter()
    for (fname, oname), ir in self_ir.items():
        by_object[os.path.basename(oname or "?")] += ir
    fn_calls = collections.Counter()
    for (fname, _o), n in calls_in.items():
        fn_calls[fname] += n
    return {"total": total or sum(self_ir.values()), "self": self_ir, "incl": incl,
            "by_object": by_object, "fn_calls": fn_calls, "edges": edges}


# --- the report ---------------------------------------------------------------------

def short(fn):
    return fn.split("'")[0] if fn else "?"


def top_inclusive(prof, k):
    """The k functions of most inclusive Ir below the measured entry (not the
    entry, bench_request, nor the callers around them), leaving out wrappers:
    a function that spends 90 % or more of its inclusive Ir in one callee is
    shown as that callee, so that a chain of calls takes one place, not five."""
    entry = max((ir for (fn, _o), ir in prof["incl"].items() if fn == ENTRY), default=0)
    biggest_call = collections.Counter()
    for (caller, _callee), ir in prof["edges"].items():
        biggest_call[caller] = max(biggest_call[caller], ir)
    rows = [(ir, fn, o) for (fn, o), ir in prof["incl"].items()
            if fn not in (ENTRY, "bench_request") and ir < entry
            and biggest_call[fn] < 0.9 * ir]
    rows.sort(reverse=True)
    return rows[:k]


def top_self(prof, k):
    rows = sorted(((ir, fn, o) for (fn, o), ir in prof["self"].items()), reverse=True)
    return rows[:k]


def pct(part, whole):
    return 100.0 * part / whole if whole else 0.0


def table(results, n, base=None):
    """base: {kind: Ir per request} of an earlier run (--baseline), for a column of
    the change against it."""
    cols = ["kind", "request", "Ir per request"] + (["vs baseline"] if base else []) + [
        "top 5 functions by inclusive Ir (share of the request; wrappers folded)",
        "top 5 by self Ir"]
    lines = ["| " + " | ".join(cols) + " |",
             "|---|---|---:|" + ("---:|" if base else "") + "---|---|"]
    for p in results:
        total = p["total"]
        delta = ""
        if base:
            old = base.get(p["kind"])
            delta = ("%+.1f%% | " % (pct(total / n - old, old))) if old else "– | "
        tops = ", ".join("`%s` %.0f%%" % (label(fn, o), pct(ir, total))
                         for ir, fn, o in top_inclusive(p, 5))
        selfs = ", ".join("`%s` %.0f%%" % (label(fn, o), pct(ir, total))
                          for ir, fn, o in top_self(p, 5))
        lines.append("| %s | `GET %s` | %s | %s%s | %s |" % (
            p["kind"], p["uri"], "{:,}".format(round(total / n)), delta, tops, selfs))
    return lines


def load_baseline(path):
    """{kind: Ir per request} and the commit from an earlier run's .json."""
    with open(path) as f:
        data = json.load(f)
    return data["ir_per_request"], data.get("commit", "?")


# Where a request's instructions go, by the service's own functions (inclusive
# Ir; nested columns are parts of the one before them). The header block is
# write_response, inlined into bench_request: ly_response_head (its snprintf
# calls before hotpath's change). The request id is ly_rand_base62_public
# (ly_rand_base62 before it).
# ly_json_writer's functions (src/json/writer.c), by their own Ir: they are
# called one by one from the handler, and some call others.
WRITER = tuple("self:" + f for f in (
    "ly_json_writer_init", "ly_json_write_open", "ly_json_write_close", "ly_json_write_str",
    "ly_json_write_bool", "ly_json_write_time",
    "ly_json_writer_text", "writer_grow", "writer_put", "writer_put_c", "writer_put_escaped",
    "writer_member"))
CONCERNS = [
    ("set-up", ("ly_request_init",)),
    ("↳ request id", ("ly_rand_base62", "ly_rand_base62_public")),
    ("↳ CGI lookups", ("ly_request_env",)),
    ("route", ("ly_router_match",)),
    ("credential", ("ly_auth_request",)),
    ("↳ SHA-256", ("ly_sha256",)),
    ("↳ JWT verify", ("ly_jwt_verify",)),
    ("statements", ("ly_db_exec",)),
    ("JSON answer", ("ly_response_json",) + WRITER),
    ("log line", ("ly_log_request",)),
    ("header block", (("bench_request", "snprintf"), "ly_response_head")),
    ("arena reset", ("ly_arena_reset",)),
    ("tick", ("ly_api_tick",)),
]
MALLOC = ("malloc", "calloc", "realloc")
MALLOC_SELF = ("malloc", "_int_malloc", "calloc", "realloc", "_int_realloc", "free", "_int_free",
               "malloc_consolidate", "unlink_chunk.constprop.0", "tcache_init.part.0")


def incl_of(p, names):
    total = 0
    for nm in names:
        if isinstance(nm, tuple):
            total += p["edges"].get(nm, 0)
        elif nm.startswith("self:"):
            total += sum(ir for (fn, _o), ir in p["self"].items() if fn == nm[5:])
        else:
            total += sum(ir for (fn, _o), ir in p["incl"].items() if fn == nm)
    return total


def concern_table(results, n):
    head = ["kind", "Ir/req"] + [c for c, _ in CONCERNS] + ["malloc+free", "allocs/req"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for p in results:
        total = p["total"]
        cells = [p["kind"], "{:,}".format(round(total / n))]
        for _c, names in CONCERNS:
            ir = incl_of(p, names)
            cells.append("%.0f%%" % pct(ir, total) if ir else "–")
        m = sum(ir for (fn, _o), ir in p["self"].items() if fn in MALLOC_SELF)
        cells.append("%.1f%%" % pct(m, total))
        cells.append("%.0f" % (sum(p["fn_calls"].get(f, 0) for f in MALLOC) / n))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def label(fn, ob):
    """A function's name; an address without a symbol is named by its object."""
    fn = short(fn)
    if fn.startswith("0x"):
        return "%s (no symbol)" % (ob or "?")
    return fn


def details(results, n):
    lines = []
    for p in results:
        total = p["total"]
        lines += ["", "### %s (`GET %s`, config `%s`, status %d)" % (p["kind"], p["uri"],
                                                                    p["config"], p["status"]),
                  "", "Ir per request: %s. Self Ir by object: %s." % (
                      "{:,}".format(round(total / n)),
                      ", ".join("%s %.1f%%" % (o, pct(ir, total))
                                for o, ir in p["by_object"].most_common(8))),
                  "", "| function | inclusive Ir/req | share | self Ir/req | calls/req |",
                  "|---|---:|---:|---:|---:|"]
        entry = max((ir for (fn, _o), ir in p["incl"].items() if fn == ENTRY), default=0)
        shown = set((fn, o) for (fn, o), ir in p["incl"].items() if ir >= entry and fn != ENTRY)
        rows = sorted(((ir, fn, o) for (fn, o), ir in p["incl"].items()), reverse=True)[:30]
        selfs = sorted(((ir, fn, o) for (fn, o), ir in p["self"].items()), reverse=True)[:15]
        watch = [(p["incl"][(fn, o)], fn, o) for (fn, o) in p["incl"]
                 if short(fn) in WATCH]
        for ir, fn, o in rows + selfs + sorted(watch, reverse=True):
            if (fn, o) in shown:
                continue
            shown.add((fn, o))
            lines.append("| `%s` (%s) | %s | %.1f%% | %s | %s |" % (
                short(fn), os.path.basename(o or "?"), "{:,}".format(round(ir / n)),
                pct(ir, total), "{:,}".format(round(p["self"][(fn, o)] / n)),
                "%.2f" % (p["fn_calls"].get(fn, 0) / n)))
    return lines


cmd = provenance.cmd


def commit_of():
    return provenance.build_info(".")[0]


def context(a):
    commit, dirty, cflags = provenance.build_info(a.builddir)
    return ["- commit `%s`%s; build `%s`, CFLAGS `%s`; %s; %s" % (
                commit, dirty, os.path.relpath(a.builddir, SRCDIR), cflags,
                cmd(["valgrind", "--version"]), platform.release()),
            "- `valgrind --tool=callgrind`, statistics zeroed after one warm-up request and "
            "dumped after the last of %d measured requests per kind (check_inproc's "
            "`CALLGRIND_ZERO_STATS`/`CALLGRIND_DUMP_STATS_AT`); `log.level: info`; Ir = "
            "instructions executed in user space by the worker process (system calls, the "
            "kernel and mariadbd not counted)" % a.n]


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Instruction counts per credential kind "
                                             "(callgrind, in-process).")
    ap.add_argument("--builddir", default="build")
    ap.add_argument("--workdir", help="MariaDB, configs, tokens, callgrind files "
                                      "(default BUILDDIR/bench/.callgrind)")
    ap.add_argument("--results-dir", default=os.path.join(BENCH_DIR, "results"))
    ap.add_argument("-n", type=int, default=200, help="measured requests per kind (default 200)")
    ap.add_argument("--kinds", help="comma-separated substrings: run only the kinds matching one")
    ap.add_argument("--baseline", help="an earlier run's callgrind-<time>.json: a column of "
                                       "the change in Ir per request against it")
    a = ap.parse_args(argv)
    if a.n < 1 or a.n > 100000:
        ap.error("-n must be 1 to 100000")
    a.builddir = os.path.abspath(a.builddir)
    a.workdir = os.path.abspath(a.workdir or os.path.join(a.builddir, "bench", ".callgrind"))
    return a


def main(argv):
    a = parse_args(argv)
    kinds = KINDS
    if a.kinds:
        want = [w.strip().lower() for w in a.kinds.split(",") if w.strip()]
        kinds = [k for k in KINDS if any(w in k[0].lower() for w in want)]
        if not kinds:
            raise SystemExit("callgrind: no kind matches --kinds %s" % a.kinds)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    base, base_commit = load_baseline(a.baseline) if a.baseline else (None, None)

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)

    run = Run(a)
    results = []
    try:
        run.start()
        for kind in kinds:
            say("callgrind: %s" % kind[0])
            p = run.measure(kind)
            say("callgrind:   %s Ir per request" % "{:,}".format(round(p["total"] / a.n)))
            results.append(p)
    except StartError as e:
        say("callgrind: %s" % e)
        return 1
    finally:
        run.stop()
    head = ["# Lanyard instruction counts (callgrind), %s" % started, ""] + context(a)
    if base:
        head.append("- vs baseline: %s (commit `%s`)" % (os.path.basename(a.baseline),
                                                          base_commit))
    head.append("")
    text = "\n".join(head + table(results, a.n, base) + [
        "", "Where the instructions go: inclusive Ir of the service's own functions, as a share "
        "of the request (↳: part of the column before); malloc+free is the allocator's own "
        "Ir, allocs/req the calls to malloc, calloc and realloc.", ""] +
        concern_table(results, a.n)) + "\n"
    print(text)
    full = text + "\n## Details\n" + "\n".join(details(results, a.n)) + "\n"
    for d in (a.results_dir, os.path.join(a.builddir, "bench", "results")):
        try:
            os.makedirs(d, exist_ok=True)
            path = os.path.join(d, "callgrind-%s.md" % started.replace(":", ""))
            with open(path, "w") as f:
                f.write(full)
            with open(path[:-3] + ".json", "w") as f:  # for a later --baseline
                json.dump({"started": started, "commit": commit_of(), "n": a.n,
                           "ir_per_request": {p["kind"]: round(p["total"] / a.n)
                                              for p in results}}, f, indent=1)
            say("callgrind: details in %s (and .json, for --baseline)" % path)
            break
        except OSError:
            continue
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
