#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/gate.h"
#include "lanyard/log.h"
#include "lanyard/validate.h"

/*
 * SPEC §5.7: GET /api/auth/v1/check, the platform's hot path. The route
 * needs no credential of the dispatcher: this handler authenticates itself,
 * so it decides every statement made and every 401/403. Its budget
 * (doc/design.md): a JWT without org= touches no database; an opaque token
 * or an API key costs its one lookup; org= adds at most one statement.
 * Nothing is written (a key's last use is only noted, for the tick).
 */

struct check_query {
    const char *org;      /* NULL: not asked */
    enum ly_role want;    /* with org: at least this role (member when role= is absent) */
    const char *resource; /* NULL: none named */
};

/*
 * org, role and resource as given (NULL: absent), checked; *detail says
 * what is wrong. The route takes them from its query string, the FastCGI
 * authorizer from parameters its web server sets.
 */
static int parse_query(const char *org, const char *role, const char *resource,
                       struct check_query *q, const char **detail)
{
    if (org != NULL && !ly_name_is_valid(org)) {
        *detail = "org must be an organization name";
        return LY_E_INVALID_REQUEST;
    }
    enum ly_role want = LY_ROLE_MEMBER;
    if (role != NULL) {
        want = ly_role_parse(role);
        if (want == LY_ROLE_NONE) {
            *detail = "role must be member, admin or owner";
            return LY_E_INVALID_REQUEST;
        }
        if (org == NULL) {
            *detail = "role needs org";
            return LY_E_INVALID_REQUEST;
        }
    }
    if (resource != NULL && !ly_resource_is_valid(resource)) {
        *detail = "resource must be 1 to 255 characters of A-Z, a-z, 0-9 and ._:/-";
        return LY_E_INVALID_REQUEST;
    }
    q->org = org;
    q->want = want;
    q->resource = resource;
    return LY_OK;
}

/* org=, role= and resource=, each at most once and well formed; answers the 400 itself. */
static int read_query(struct ly_call *c, struct check_query *q)
{
    const char *org = NULL, *role = NULL, *resource = NULL;
    int qo = ly_request_query(c->req, "org", &org);
    int qr = ly_request_query(c->req, "role", &role);
    int qs = ly_request_query(c->req, "resource", &resource);
    if (qo < 0 || qr < 0 || qs < 0)
        return ly_api_fail(c, LY_E_INVALID_REQUEST, "the query string is malformed");
    const char *detail = NULL;
    int r = parse_query(qo == 0 ? org : NULL, qr == 0 ? role : NULL, qs == 0 ? resource : NULL, q,
                        &detail);
    return r == LY_OK ? LY_OK : ly_api_fail(c, r, detail);
}

/* 401 with the challenge, as the dispatcher answers a credential refused (SPEC §3). */
static int refuse(struct ly_call *c, int err, const struct ly_auth_failure *fail)
{
    ly_auth_challenge(c->req, c->resp, err, fail);
    return err;
}

static int refuse_gone(struct ly_call *c)
{
    struct ly_auth_failure fail = {LY_SCHEME_BEARER, "the account is disabled or no longer exists"};
    return refuse(c, LY_E_INVALID_TOKEN, &fail);
}

static int forbid(struct ly_call *c)
{
    return ly_api_fail(c, LY_E_FORBIDDEN, "the caller is not in that organization with that role");
}

/* A user's access token (JWT or opaque) and org=: the one membership statement. */
static int check_user_org(struct ly_call *c, const struct ly_principal *p,
                          const struct check_query *q)
{
    struct ly_gate_user g;
    int r = ly_gate_user(c->ctx->db, c->req->arena, p->subject, q->org, &g);
    if (r == LY_E_NOT_FOUND)
        return refuse_gone(c);
    if (r != LY_OK)
        return r;
    /* An opaque token's lookup already refused a disabled user and read platform_admin. */
    bool admin = p->complete ? p->platform_admin : g.platform_admin;
    if (!p->complete && g.disabled)
        return refuse_gone(c);
    return ly_gate_org_passes(g.org_exists, admin, g.role, q->want) ? LY_OK : forbid(c);
}

/*
 * A credential bound to one organization (a service account's token or
 * key, a personal key) and org=: it belongs to its own organization only,
 * with its own (effective) role. Keys and opaque tokens come with both
 * from their lookup, so they cost nothing more; a service account's JWT
 * names its organization, and one statement reads the account's role (a
 * JWT naming another organization is refused without it).
 */
static int check_bound_org(struct ly_call *c, struct ly_principal *p, const struct check_query *q)
{
    if (strcmp(p->org_name, q->org) != 0)
        return forbid(c);
    if (!p->complete) {
        struct ly_gate_account g;
        int r = ly_gate_account(c->ctx->db, c->req->arena, p->subject, &g);
        /* One deleted and made again under the same name is another account. */
        if (r == LY_E_NOT_FOUND || (r == LY_OK && strcmp(g.org_name, p->org_name) != 0))
            return refuse_gone(c);
        if (r != LY_OK)
            return r;
        p->org_id = g.org_id;
        p->role = g.role;
    }
    return ly_gate_org_passes(true, false, p->role, q->want) ? LY_OK : forbid(c);
}

/*
 * The check's decision (SPEC §5.7) on the request's credential for q: LY_OK
 * with *p the principal that passed, or the 401/403 answered. The route and
 * the FastCGI authorizer differ only in where q comes from and how the
 * identity is handed on.
 */
static int decide(struct ly_call *c, const struct check_query *q, struct ly_principal *p)
{
    struct ly_auth_failure fail = {LY_SCHEME_NONE, NULL};
    int r = ly_auth_request(&c->ctx->auth, c->req, LY_CREDS_ON_REQUEST, p, &fail);
    if (r == LY_E_UNAUTHENTICATED || r == LY_E_INVALID_TOKEN)
        return refuse(c, r, &fail);
    if (r != LY_OK)
        return r;
    c->resp->principal = p->subject;
    if (!ly_resource_covers(p->resource, q->resource))
        return ly_api_fail(c, LY_E_FORBIDDEN, "this credential is scoped to another resource");
    bool user_token = p->type == LY_PRINCIPAL_USER && p->key_id == NULL;
    if (q->org != NULL)
        return user_token ? check_user_org(c, p, q) : check_bound_org(c, p, q);
    return LY_OK;
}

/* How the identity leaves: the route's response headers, or the authorizer's variables. */
struct identity_names {
    const char *subject, *type, *org;
};

/* The 200 of a passed check: empty, with the subject, its type and the organization. */
static void answer_pass(struct ly_call *c, const struct check_query *q,
                        const struct ly_principal *p, const struct identity_names *n)
{
    ly_response_header(c->resp, n->subject, p->subject);
    ly_response_header(c->resp, n->type, p->type == LY_PRINCIPAL_USER ? "user" : "service_account");
    const char *org = q->org != NULL ? q->org : p->org_name;
    if (org != NULL)
        ly_response_header(c->resp, n->org, org);
    ly_response_empty(c->resp, 200);
}

int ly_api_check(struct ly_call *c)
{
    struct check_query q = {NULL, LY_ROLE_MEMBER, NULL};
    int r = read_query(c, &q);
    if (r != LY_OK)
        return r;
    struct ly_principal p;
    r = decide(c, &q, &p);
    if (r != LY_OK)
        return r;
    static const struct identity_names headers = {"X-Lanyard-Subject", "X-Lanyard-Principal-Type",
                                                  "X-Lanyard-Org"};
    answer_pass(c, &q, &p, &headers);
    return LY_OK;
}

/* A parameter the web server sets for the authorizer; empty counts as absent. */
static const char *authorizer_param(const struct ly_call *c, const char *name)
{
    const char *v = ly_request_env(c->req, name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/*
 * FastCGI authorizer (FastCGI §6.3, doc/forward-auth.md): the check for the
 * protected request the web server hands over, whatever its REQUEST_URI.
 * What is asked comes from LANYARD_CHECK_ORG/_ROLE/_RESOURCE, which only the
 * web server's configuration can set (a client's headers arrive as HTTP_*).
 * A 200 gives the identity as Variable-NAME headers, which the web server
 * turns into the variable NAME of the request it then serves; any other
 * answer reaches the client as it is.
 */
int ly_api_authorize(struct ly_call *c)
{
    struct check_query q = {NULL, LY_ROLE_MEMBER, NULL};
    const char *detail = NULL;
    int r = parse_query(authorizer_param(c, "LANYARD_CHECK_ORG"),
                        authorizer_param(c, "LANYARD_CHECK_ROLE"),
                        authorizer_param(c, "LANYARD_CHECK_RESOURCE"), &q, &detail);
    if (r != LY_OK) {
        /* The web server's configuration is wrong, not the client's request: fail closed. */
        ly_log_error(&c->ctx->log, "FastCGI authorizer: LANYARD_CHECK_*: %s", detail);
        return ly_api_fail(c, LY_E_INTERNAL, "the authorizer is misconfigured");
    }
    struct ly_principal p;
    r = decide(c, &q, &p);
    if (r != LY_OK)
        return r;
    static const struct identity_names variables = {"Variable-X_LANYARD_SUBJECT",
                                                    "Variable-X_LANYARD_PRINCIPAL_TYPE",
                                                    "Variable-X_LANYARD_ORG"};
    /* REMOTE_USER too: what CGI programs and lighttpd's access log (%u) read for the user. */
    ly_response_header(c->resp, "Variable-REMOTE_USER", p.subject);
    answer_pass(c, &q, &p, &variables);
    return LY_OK;
}
