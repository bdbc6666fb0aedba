#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "lanyard/audit.h"
#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/metrics.h"
#include "lanyard/pagetoken.h"
#include "lanyard/purge.h"
#include "lanyard/router.h"
#include "lanyard/validate.h"

/* What a route needs of its caller's credential. */
enum need {
    NONE,     /* no credential looked at */
    OPTIONAL, /* authenticated when an Authorization header is sent */
    ANY,      /* any valid credential */
    USER,     /* a user's access token (a service account, or a key: 403) */
    ADMIN,    /* a platform administrator */
};

enum body {
    NO_BODY, /* a body is ignored */
    JSON,    /* application/json, parsed into req->json */
    OAUTH,   /* form or JSON; every error in the RFC 6749 §5.2 form */
};

#define NO_ORG (-1)

/* Route flags. */
#define SCOPED 1u /* a resource-scoped credential may call it (SPEC §4) */
#define VETTED 2u /* the handler's own query vets the caller: no completing lookup first */
/*
 * Makes, rotates or deletes credentials (a password is one): never by a
 * personal key, which would otherwise mint itself something stronger (SPEC §4).
 */
#define MINTS 4u
/* A GET that writes (SPEC §5.15's redirects): it runs in a unit of work like any other write. */
#define WRITES 8u
/* The handler shows the caller's identity, which the credential's lookup fetches. */
#define IDENTITY 16u

struct route {
    struct ly_route_key key; /* first: what the matcher reads */
    enum need need;
    int org; /* enum ly_org_action decided on {org} = params[0], or NO_ORG */
    unsigned flags;
    enum body body;
    ly_handler_fn handler;
};

#define ORGS    "/api/org/v1/orgs"
#define USERS   "/api/org/v1/users"
#define SAS     ORGS "/{}/service-accounts"
#define SA_KEYS SAS "/{}/keys"
#define MY_KEYS "/api/org/v1/me/keys"

/*
 * SPEC §5. Patterns never overlap, so order decides no match; but the
 * matcher tries the routes in order, so the three that other services call
 * on every request come first (issue 17), and the rest are in the order of
 * reading. Who may set which role, and who may remove whom, depends on the
 * target member: the members handlers decide that on top of the action here.
 */
/* clang-format off */
static const struct route routes[] = {
    /* method   path                          credential  {org} action         flags          body     handler */
    /* The check authenticates itself: it alone decides its statements (doc/design.md). */
    {{"GET",    "/api/auth/v1/check"},        NONE,     NO_ORG,              SCOPED | VETTED, NO_BODY, ly_api_check},
    {{"GET",    "/api/health"},               NONE,     NO_ORG,              SCOPED,          NO_BODY, ly_api_health},
    {{"GET",    "/api/org/v1/me"},            ANY,      NO_ORG,              SCOPED | VETTED | IDENTITY, NO_BODY, ly_api_me},

    {{"GET",    "/.well-known/jwks.json"},    NONE,     NO_ORG,              SCOPED,          NO_BODY, ly_api_jwks},
    /* SPEC §6: the handler answers 404 to addresses outside server.metrics_from. */
    {{"GET",    "/api/metrics"},              NONE,     NO_ORG,              SCOPED,          NO_BODY, ly_api_metrics},
    {{"GET",    "/api/openapi.json"},         NONE,     NO_ORG,              0,               NO_BODY, ly_api_openapi},

    {{"POST",   "/api/auth/v1/signin"},       NONE,     NO_ORG,              0,               JSON,    ly_api_signin},
    {{"POST",   "/api/auth/v1/signup"},       NONE,     NO_ORG,              0,               JSON,    ly_api_signup},
    {{"POST",   "/api/auth/v1/signout"},      OPTIONAL, NO_ORG,              VETTED,          JSON,    ly_api_signout},
    {{"POST",   "/api/auth/v1/token"},        NONE,     NO_ORG,              SCOPED,          OAUTH,   ly_api_token},
    {{"POST",   "/api/auth/v1/revoke"},       OPTIONAL, NO_ORG,              SCOPED,          OAUTH,   ly_api_revoke},
    {{"POST",   "/api/auth/v1/introspect"},   OPTIONAL, NO_ORG,              0,               OAUTH,   ly_api_introspect},
    {{"POST",   "/api/auth/v1/device"},       NONE,     NO_ORG,              0,               OAUTH,   ly_api_device},
    {{"POST",   "/api/auth/v1/device/approve"}, USER,   NO_ORG,              0,               JSON,    ly_api_device_approve},

    {{"GET",    "/api/auth/v1/sso/discover"}, NONE,     NO_ORG,              0,               NO_BODY, ly_api_sso_discover},
    {{"GET",    "/api/auth/v1/sso/{}/start"}, NONE,     NO_ORG,              WRITES,          NO_BODY, ly_api_sso_start},
    {{"GET",    "/api/auth/v1/sso/callback"}, NONE,     NO_ORG,              WRITES,          NO_BODY, ly_api_sso_callback},

    {{"POST",   ORGS},                        ANY,      NO_ORG,              0,               JSON,    ly_api_orgs_create},
    {{"GET",    ORGS},                        ANY,      NO_ORG,              0,               NO_BODY, ly_api_orgs_list},
    {{"GET",    ORGS "/{}"},                  ANY,      LY_ACT_ORG_VIEW,     0,               NO_BODY, ly_api_orgs_get},
    {{"PATCH",  ORGS "/{}"},                  ANY,      LY_ACT_ORG_UPDATE,   0,               JSON,    ly_api_orgs_update},
    {{"DELETE", ORGS "/{}"},                  ANY,      LY_ACT_ORG_DELETE,   0,               NO_BODY, ly_api_orgs_delete},
    {{"GET",    ORGS "/{}/members"},          ANY,      LY_ACT_MEMBERS_LIST, 0,               NO_BODY, ly_api_members_list},
    {{"PUT",    ORGS "/{}/members/{}"},       ANY,      LY_ACT_MEMBER_SET,   0,               JSON,    ly_api_members_put},
    {{"DELETE", ORGS "/{}/members/{}"},       ANY,      LY_ACT_ORG_VIEW,     0,               NO_BODY, ly_api_members_delete},

    {{"PUT",    ORGS "/{}/sso"},              ANY,      LY_ACT_SSO_MANAGE,   MINTS,           JSON,    ly_api_sso_put},
    {{"GET",    ORGS "/{}/sso"},              ANY,      LY_ACT_SSO_VIEW,     0,               NO_BODY, ly_api_sso_get},
    {{"DELETE", ORGS "/{}/sso"},              ANY,      LY_ACT_SSO_MANAGE,   MINTS,           NO_BODY, ly_api_sso_delete},

    {{"POST",   SAS},                         ANY,      LY_ACT_KEYS_MANAGE,  MINTS,           JSON,    ly_api_accounts_create},
    {{"GET",    SAS},                         ANY,      LY_ACT_ACCOUNTS_VIEW, 0,              NO_BODY, ly_api_accounts_list},
    {{"GET",    SAS "/{}"},                   ANY,      LY_ACT_ACCOUNTS_VIEW, 0,              NO_BODY, ly_api_accounts_get},
    {{"PATCH",  SAS "/{}"},                   ANY,      LY_ACT_KEYS_MANAGE,  0,               JSON,    ly_api_accounts_update},
    {{"DELETE", SAS "/{}"},                   ANY,      LY_ACT_KEYS_MANAGE,  MINTS,           NO_BODY, ly_api_accounts_delete},
    {{"POST",   SA_KEYS},                     ANY,      LY_ACT_KEYS_MANAGE,  MINTS,           JSON,    ly_api_sa_keys_create},
    {{"GET",    SA_KEYS},                     ANY,      LY_ACT_KEYS_MANAGE,  0,               NO_BODY, ly_api_sa_keys_list},
    {{"GET",    SA_KEYS "/{}"},               ANY,      LY_ACT_KEYS_MANAGE,  0,               NO_BODY, ly_api_sa_keys_get},
    {{"PATCH",  SA_KEYS "/{}"},               ANY,      LY_ACT_KEYS_MANAGE,  0,               JSON,    ly_api_sa_keys_update},
    {{"DELETE", SA_KEYS "/{}"},               ANY,      LY_ACT_KEYS_MANAGE,  MINTS,           NO_BODY, ly_api_sa_keys_delete},
    {{"POST",   SA_KEYS "/{}/rotate"},        ANY,      LY_ACT_KEYS_MANAGE,  MINTS,           JSON,    ly_api_sa_keys_rotate},
    {{"GET",    ORGS "/{}/keys"},             ANY,      LY_ACT_KEYS_MANAGE,  0,               NO_BODY, ly_api_org_keys_list},
    {{"DELETE", ORGS "/{}/keys/{}"},          ANY,      LY_ACT_KEYS_MANAGE,  MINTS,           NO_BODY, ly_api_org_keys_delete},
    /* SPEC §5.12: an organization's trail is for its admins, as its keys are. */
    {{"GET",    ORGS "/{}/audit-events"},     ANY,      LY_ACT_KEYS_MANAGE,  0,               NO_BODY, ly_api_audit_org_list},
    {{"GET",    "/api/org/v1/audit-events"},  ADMIN,    NO_ORG,              0,               NO_BODY, ly_api_audit_list},

    {{"POST",   MY_KEYS},                     USER,     NO_ORG,              0,               JSON,    ly_api_me_keys_create},
    {{"GET",    MY_KEYS},                     USER,     NO_ORG,              0,               NO_BODY, ly_api_me_keys_list},
    {{"GET",    MY_KEYS "/{}"},               USER,     NO_ORG,              0,               NO_BODY, ly_api_me_keys_get},
    {{"PATCH",  MY_KEYS "/{}"},               USER,     NO_ORG,              0,               JSON,    ly_api_me_keys_update},
    {{"DELETE", MY_KEYS "/{}"},               USER,     NO_ORG,              0,               NO_BODY, ly_api_me_keys_delete},
    {{"POST",   MY_KEYS "/{}/rotate"},        USER,     NO_ORG,              0,               JSON,    ly_api_me_keys_rotate},

    {{"GET",    "/api/org/v1/me/sessions"},   USER,     NO_ORG,              0,               NO_BODY, ly_api_me_sessions_list},
    {{"DELETE", "/api/org/v1/me/sessions/{}"}, USER,    NO_ORG,              0,               NO_BODY, ly_api_me_sessions_delete},

    {{"POST",   USERS},                       ADMIN,    NO_ORG,              0,               JSON,    ly_api_users_create},
    {{"GET",    USERS},                       ADMIN,    NO_ORG,              0,               NO_BODY, ly_api_users_list},
    {{"GET",    USERS "/{}"},                 ANY,      NO_ORG,              0,               NO_BODY, ly_api_users_get},
    {{"PATCH",  USERS "/{}"},                 ANY,      NO_ORG,              MINTS,           JSON,    ly_api_users_update},
    {{"DELETE", USERS "/{}"},                 ADMIN,    NO_ORG,              0,               NO_BODY, ly_api_users_delete},
};
/* clang-format on */

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))
_Static_assert(N_ROUTES < LY_METRICS_ROUTES, "metrics need a row per route and one for none");

const struct ly_metrics_names *ly_api_route_names(void)
{
    static const char *method[N_ROUTES], *pattern[N_ROUTES];
    static struct ly_metrics_names names = {method, pattern, 0};
    if (names.n == 0) {
        for (size_t i = 0; i < N_ROUTES; i++) {
            method[i] = routes[i].key.method;
            pattern[i] = routes[i].key.pattern;
        }
        names.n = N_ROUTES;
    }
    return &names;
}

#define MAX_ATTEMPTS 3 /* of a handler whose transaction a deadlock ended */

/* The RFC 6749 §5.2 form of an error, for the OAuth endpoints. */
static void oauth_error(struct ly_request *req, struct ly_response *resp, int err, const char *why)
{
    int status = ly_err_status(err);
    const char *error = "invalid_request";
    if (err == LY_E_UNAVAILABLE || err == LY_E_RETRY)
        error = "temporarily_unavailable";
    else if (err == LY_E_INTERNAL || err == LY_E_CRYPTO || err == LY_E_IO)
        error = "server_error";
    else if (err == LY_E_UNAUTHENTICATED || err == LY_E_INVALID_TOKEN)
        error = "invalid_client";
    else if (err == LY_E_FORBIDDEN)
        error = "unauthorized_client";
    else if (err == LY_E_RATE_LIMITED)
        error = "slow_down";
    ly_response_oauth_error(req, resp, status, error, why ? why : ly_err_str(err));
}

/* An error in the form of the route (NULL: no route matched). */
static void answer_error(struct ly_request *req, struct ly_response *resp,
                         const struct route *route, int err, const char *detail)
{
    if (route != NULL && route->body == OAUTH)
        oauth_error(req, resp, err, detail);
    else
        ly_response_problem(req, resp, err, detail, NULL);
}

static int read_body(struct ly_request *req, struct ly_response *resp, const struct route *route)
{
    if (route->body == NO_BODY)
        return LY_OK;
    if (req->body.len == 0 && req->content_type == NULL) {
        req->json = ly_json_own(req->arena, json_object_new_object());
        return LY_OK;
    }
    int kind = ly_media_type_classify(req->content_type);
    if (kind < 0 || (kind == 1 && route->body != OAUTH)) {
        answer_error(req, resp, route, LY_E_MEDIA_TYPE,
                     route->body == OAUTH
                         ? "the body must be application/x-www-form-urlencoded or application/json"
                         : "the body must be application/json (UTF-8)");
        return LY_E_MEDIA_TYPE;
    }
    if (kind == 1) {
        req->form = true;
        return LY_OK;
    }
    struct json_object *body = NULL;
    if (ly_json_parse(req->arena, req->body, &body) != LY_OK) {
        answer_error(req, resp, route, LY_E_INVALID_JSON, "the body is not valid JSON");
        return LY_E_INVALID_JSON;
    }
    /* Valid JSON that is not an object (null, [], "x") is a body of the wrong type. */
    if (!json_object_is_type(body, json_type_object)) {
        struct ly_field_errors errs = {.n = 0};
        ly_field_errors_add(&errs, "", "the body must be a JSON object");
        if (route->body == OAUTH)
            oauth_error(req, resp, LY_E_VALIDATION, "the body must be a JSON object");
        else
            ly_response_problem(req, resp, LY_E_VALIDATION, "the body must be a JSON object",
                                &errs);
        return LY_E_VALIDATION;
    }
    req->json = body;
    return LY_OK;
}

/* A 401 for an authentication error, or the lookup's own error, in the route's form. */
static int refuse_caller(struct ly_call *c, const struct route *route, int r,
                         const struct ly_auth_failure *fail)
{
    if (r == LY_E_UNAUTHENTICATED || r == LY_E_INVALID_TOKEN) {
        if (route->body == OAUTH) {
            oauth_error(c->req, c->resp, r, fail->why);
            ly_auth_challenge_header(c->req, c->resp, r, fail);
        } else
            ly_auth_challenge(c->req, c->resp, r, fail);
    } else {
        answer_error(c->req, c->resp, route, r, NULL);
    }
    return r;
}

static int deny(struct ly_call *c, const struct route *route, int err, const char *why)
{
    answer_error(c->req, c->resp, route, err, why);
    return err;
}

/* The credential, as the route needs it; c->who and c->actor are set on success. */
static int authenticate(struct ly_call *c, const struct route *route)
{
    struct lanyard_ctx *ctx = c->ctx;
    c->actor = (struct ly_actor){.type = LY_PRINCIPAL_USER,
                                 .platform_admin = false,
                                 .role = LY_ROLE_NONE,
                                 .users_create_orgs = ctx->cfg->accounts.users_create_orgs};
    if (route->need == NONE || (route->need == OPTIONAL && !ly_auth_request_has_credential(c->req)))
        return LY_OK;
    struct ly_principal *p = ly_arena_zalloc(c->req->arena, sizeof(*p));
    struct ly_auth_failure fail = {LY_SCHEME_NONE, NULL};
    unsigned accept = LY_CREDS_ON_REQUEST | ((route->flags & IDENTITY) ? LY_AUTH_IDENTITY : 0);
    int r = ly_auth_request(&ctx->auth, c->req, accept, p, &fail);
    if (r != LY_OK)
        return refuse_caller(c, route, r, &fail);
    c->who = p;
    c->resp->principal = p->subject;
    /* SPEC §4: a key bound to one resource reaches only the few endpoints about itself. */
    if (p->resource != NULL && (route->flags & SCOPED) == 0)
        return deny(c, route, LY_E_FORBIDDEN, "this credential is scoped to one resource");
    if ((route->need == USER || route->need == ADMIN) &&
        (p->type != LY_PRINCIPAL_USER || p->cred == LY_CRED_API_KEY || p->cred == LY_CRED_BASIC))
        return deny(c, route, LY_E_FORBIDDEN, "this endpoint is for users");
    /* SPEC §4: a credential never mints credentials, and a personal key none at all. */
    if ((route->flags & MINTS) != 0 && ly_principal_is_personal_key(p))
        return deny(c, route, LY_E_FORBIDDEN, "a personal key cannot make or change credentials");
    if ((route->flags & VETTED) == 0) {
        r = ly_auth_complete(&ctx->auth, c->req->arena, p);
        if (r != LY_OK) {
            fail = (struct ly_auth_failure){LY_SCHEME_BEARER,
                                            "the account is disabled or no longer exists"};
            return refuse_caller(c, route, r, &fail);
        }
    }
    if (route->need == ADMIN && !p->platform_admin)
        return deny(c, route, LY_E_FORBIDDEN, "a platform administrator is required");
    c->actor.type = p->type;
    c->actor.platform_admin = p->platform_admin;
    return LY_OK;
}

/*
 * Resolve the organization params[0] names for the caller and decide the
 * route's action: 404 when there is none or the caller may not see it (the
 * same answer either way, SPEC §3), 403 when it may see it but not do this.
 */
static int decide_org(struct ly_call *c, const struct route *route)
{
    const char *name = c->req->params[0];
    const struct ly_principal *p = c->who;
    /* A name that cannot exist is answered like one that does not, without a query. */
    if (!ly_name_is_valid(name))
        return deny(c, route, LY_E_NOT_FOUND, "no such organization");
    bool user = p->type == LY_PRINCIPAL_USER && p->org_id == NULL;
    enum ly_role role = LY_ROLE_NONE;
    int r = ly_orgs_get(c->ctx->db, c->req->arena, name, user ? p->subject : NULL, &c->org, &role);
    if (r == LY_E_NOT_FOUND)
        return deny(c, route, r, "no such organization");
    if (r != LY_OK)
        return deny(c, route, r, NULL);
    /*
     * A credential bound to one organization (a service account, a key)
     * acts there only, with its own role, matched by id: one deleted and
     * made again under the same name is another organization.
     */
    if (!user)
        role = strcmp(p->org_id, c->org.id) == 0 ? p->role : LY_ROLE_NONE;
    c->actor.role = role;
    enum ly_decision d = ly_policy_decide(&c->actor, (enum ly_org_action)route->org);
    if (d == LY_HIDE)
        return deny(c, route, LY_E_NOT_FOUND, "no such organization");
    if (d == LY_DENY)
        return deny(c, route, LY_E_FORBIDDEN, "your role in this organization does not allow this");
    return LY_OK;
}

#define WITNESS_TRIES    20  /* reads of a lost COMMIT's outcome, WITNESS_PAUSE_MS apart */
#define WITNESS_PAUSE_MS 250 /* so about 5 s: a database restart's usual length */

/*
 * Whether the change of a COMMIT that lost its connection is there. The
 * server may still be finishing that COMMIT, so the witness's read locks
 * what it reads and waits for it. A database that stays away longer than
 * the tries leaves the outcome unknown: false, and the answer is the 503.
 */
/* The witness of a unit that recorded an audit event (struct ly_call, event_id). */
static int event_witness(struct ly_call *c, bool *there)
{
    return ly_audit_exists(c->ctx->db, c->req->arena, c->event_id, c->req->request_id, there);
}

static bool witnessed(struct ly_call *c)
{
    struct ly_db *db = c->ctx->db;
    for (int i = 0; i < WITNESS_TRIES; i++) {
        bool there = false;
        int r = ly_db_begin(db);
        if (r == LY_OK && (r = c->witness(c, &there)) == LY_OK)
            r = ly_db_commit(db);
        else
            ly_db_rollback(db);
        if (r == LY_OK) {
            ly_log_info(&c->ctx->log, "a COMMIT lost its connection; the change is %s",
                        there ? "there: answered" : "not there: 503");
            return there;
        }
        if (r != LY_E_UNAVAILABLE && r != LY_E_RETRY)
            break;
        struct timespec ts = {0, WITNESS_PAUSE_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    ly_log_warn(&c->ctx->log, "a COMMIT lost its connection and its outcome stays unknown");
    return false;
}

/*
 * The handler in the request's one unit of work (GET routes only read, and
 * run without one, but for the few marked WRITES). Its answer decides: a
 * success commits, an error rolls everything back unless the handler kept
 * it; a deadlock runs it again.
 */
static int run(struct ly_call *c, const struct route *route)
{
    struct ly_db *db = c->ctx->db;
    bool unit = strcmp(route->key.method, "GET") != 0 || (route->flags & WRITES) != 0;
    int r;
    for (int attempt = 1;; attempt++) {
        c->revokes = false;
        if (unit && (r = ly_db_begin(db)) != LY_OK)
            return r;
        r = route->handler(c);
        if (unit) {
            bool ok = r == LY_OK && c->resp->status != 0 && c->resp->status < 400;
            if (ok || (c->keep && c->resp->status != 0)) {
                int cr = ly_db_commit(db);
                if (c->witness == NULL && c->event_id != 0)
                    c->witness = event_witness;
                if (cr != LY_OK && c->witness != NULL && ly_db_commit_outcome_unknown(db) &&
                    witnessed(c))
                    cr = LY_OK; /* it was committed: the answer stands */
                /* After the commit: a bump before it would let a worker cache the old state. */
                if (c->revokes && (cr == LY_OK || ly_db_commit_outcome_unknown(db)))
                    ly_metrics_generation_bump();
                if (cr != LY_OK) {
                    /* The answer promised a change that did not happen: it is not sent. */
                    bool no_store = c->resp->no_store;
                    memset(c->resp, 0, sizeof(*c->resp));
                    c->resp->no_store = no_store;
                    c->resp->principal = c->who ? c->who->subject : NULL;
                    r = cr;
                }
            } else {
                ly_db_rollback(db);
            }
        }
        /*
         * InnoDB ends one of two transactions that wait on each other; the
         * loser's work is rolled back, so running the handler again is safe.
         */
        if (r != LY_E_RETRY || c->resp->status != 0 || attempt == MAX_ATTEMPTS)
            return r;
        c->keep = false;
        c->witness = NULL;
        c->event_id = 0;
        ly_log_info(&c->ctx->log, "retrying after a deadlock (attempt %d)", attempt + 1);
    }
}

/*
 * The FastCGI authorizer role (doc/forward-auth.md): the check for another
 * service's request, so not a route; REQUEST_URI is that service's path.
 * It reads only, like the check, so it runs without a unit of work.
 */
static void authorize(struct ly_request *req, struct ly_response *resp, int init_err)
{
    resp->no_store = true;
    if (init_err != LY_OK) {
        ly_response_problem(req, resp, init_err, "the request is malformed", NULL);
        return;
    }
    struct ly_call c = {.req = req, .resp = resp, .ctx = req->ctx};
    int r = ly_api_authorize(&c);
    if (r != LY_OK && resp->status == 0)
        ly_response_problem(req, resp, r, NULL, NULL);
    if (resp->status == 0)
        ly_response_problem(req, resp, LY_E_INTERNAL, "the request could not be answered", NULL);
}

/* The answer of one request; *matched is its route, when one matched. */
static void handle(struct ly_request *req, struct ly_response *resp, int init_err,
                   bool body_too_large, const struct route **matched)
{
    /* Only the begin-request record's role leads here (src/http/fcgi.c), never a parameter. */
    if (req->authorizer) {
        authorize(req, resp, init_err);
        return;
    }
    const struct route *route = NULL;
    struct ly_route_match m = {0};
    if (req->raw_path != NULL && req->raw_path[0] == '/')
        ly_router_match(req->arena, routes, sizeof(routes) / sizeof(routes[0]), sizeof(routes[0]),
                        req->method, req->raw_path, req->params, &req->n_params, &m);
    /* Only a route of this path tells what an error looks like: a 405 of the token endpoint too. */
    const struct route *form = (const struct route *)(const void *)m.path;
    route = (const struct route *)(const void *)m.route;
    /* SPEC §3: every answer under /api/auth/v1/ carries no-store, and so does any unmatched one. */
    resp->no_store = form == NULL || strncmp(form->key.pattern, "/api/auth/v1/", 13) == 0;
    if (init_err != LY_OK) {
        answer_error(req, resp, form, init_err, "the request is malformed");
        return;
    }
    if (m.bad_path) {
        ly_response_problem(req, resp, LY_E_INVALID_REQUEST, "the request path is malformed", NULL);
        return;
    }
    if (route == NULL && form != NULL) {
        answer_error(req, resp, form, LY_E_METHOD, "the method is not allowed on this path");
        ly_response_header(resp, "Allow", m.allow);
        return;
    }
    if (route == NULL) {
        ly_response_problem(req, resp, LY_E_NOT_FOUND, "no such endpoint", NULL);
        return;
    }
    *matched = route;
    if (body_too_large) {
        answer_error(req, resp, route, LY_E_TOO_LARGE, "the request body is too large");
        return;
    }
    struct ly_call c = {.req = req, .resp = resp, .ctx = req->ctx};
    int r = read_body(req, resp, route);
    if (r == LY_OK)
        r = authenticate(&c, route);
    if (r == LY_OK && route->org != NO_ORG)
        r = decide_org(&c, route);
    if (r == LY_OK)
        r = run(&c, route);
    if (r != LY_OK && resp->status == 0)
        answer_error(req, resp, route, r, NULL);
    if (resp->status == 0)
        ly_response_problem(req, resp, LY_E_INTERNAL, "the request could not be answered", NULL);
}

/*
 * SPEC §6: every request counted by its route (the pattern, never the raw
 * path, so that the series stay few) and status class; check and me timed.
 */
static void count_request(const struct ly_request *req, const struct ly_response *resp,
                          const struct route *route)
{
    size_t row = route != NULL ? (size_t)(route - routes) : N_ROUTES;
    ly_metrics_request(row, resp->status);
    if (route == NULL || (route->handler != ly_api_check && route->handler != ly_api_me))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - req->start_us;
    ly_metrics_observe(route->handler == ly_api_check ? LY_H_CHECK : LY_H_ME, us);
}

void ly_api_handle(struct ly_request *req, struct ly_response *resp, int init_err,
                   bool body_too_large)
{
    ly_api_metrics_start(req->ctx);
    const struct route *route = NULL;
    handle(req, resp, init_err, body_too_large, &route);
    count_request(req, resp, route);
}

/*
 * Ended credentials (include/lanyard/purge.h) go a few at a time, at most
 * once a minute, when the worker is idle: one small batch per table, each in
 * its own unit, so that no batch holds locks for long (SPEC §6).
 */
#define PURGE_EVERY 60
#define PURGE_BATCH 100

/* One piece of housekeeping in a unit of its own; a failure is only logged (the next tick retries).
 */
static void housekeep(struct lanyard_ctx *ctx, const char *what, int r)
{
    if (r == LY_OK)
        r = ly_db_commit(ctx->db);
    if (r != LY_OK) {
        ly_db_rollback(ctx->db);
        ly_log_debug(&ctx->log, "%s: %s", what, ly_err_str(r));
    }
}

void ly_api_tick(struct lanyard_ctx *ctx, bool idle)
{
    /* A worker shows in the sums (its start counted) within a second, before its first request. */
    ly_api_metrics_start(ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec;
    if (ly_db_begin(ctx->db) == LY_OK)
        housekeep(ctx, "key last use", ly_auth_flush_uses(&ctx->auth, &ctx->arena, now, idle));
    if (!idle || now < ctx->next_purge)
        return;
    ctx->next_purge = now + PURGE_EVERY;
    struct ly_purge_policy p = {.refresh_ttl = ctx->cfg->tokens.refresh_ttl,
                                .throttle_window = ctx->cfg->security.signin_window};
    for (int t = 0; t < LY_PURGE_N; t++) {
        uint64_t removed = 0;
        if (ly_db_begin(ctx->db) == LY_OK)
            housekeep(ctx, ly_purge_table_name((enum ly_purge_table)t),
                      ly_purge_batch(ctx->db, &ctx->arena, (enum ly_purge_table)t, &p, now,
                                     PURGE_BATCH, &removed));
    }
}

int ly_list_page(struct ly_call *c, const char *list, struct ly_page *out)
{
    struct ly_request *req = c->req;
    const char *size_s = NULL, *token = NULL;
    int q1 = ly_request_query(req, "page_size", &size_s);
    int q2 = ly_request_query(req, "page_token", &token);
    if (q1 < 0 || q2 < 0) {
        ly_response_problem(req, c->resp, LY_E_INVALID_REQUEST, "the query string is malformed",
                            NULL);
        return LY_E_INVALID_REQUEST;
    }
    size_t size = 0;
    if (ly_page_size_parse(q1 == 0 ? size_s : NULL, &size) != LY_OK) {
        struct ly_field_errors errs = {.n = 0};
        ly_field_errors_add(&errs, "page_size", "must be an integer from 1 to 100");
        ly_response_problem(req, c->resp, LY_E_VALIDATION, "page_size is out of range", &errs);
        return LY_E_VALIDATION;
    }
    /* The key is needed to answer the next token too: a list without it is an error, not short. */
    const unsigned char *key = NULL;
    int r = ly_ctx_page_key(c->ctx, req->arena, &key);
    if (r != LY_OK)
        return r;
    const char *after = NULL;
    if (q2 == 0 && ly_page_token_read(req->arena, key, list, token, &after) != LY_OK) {
        ly_response_problem(req, c->resp, LY_E_INVALID_REQUEST,
                            "the page_token is not valid for this list", NULL);
        return LY_E_INVALID_REQUEST;
    }
    out->size = size;
    out->after = after;
    return LY_OK;
}

int ly_list_answer(struct ly_call *c, const char *list, struct json_object *items, bool more,
                   const char *last_key)
{
    const char *next = NULL;
    if (more && last_key != NULL) {
        const unsigned char *key = NULL;
        int r = ly_ctx_page_key(c->ctx, c->req->arena, &key);
        if (r != LY_OK) {
            json_object_put(items);
            return r;
        }
        next = ly_page_token_make(c->req->arena, key, list, last_key);
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "items", items);
    json_object_object_add(o, "next_page_token", ly_json_str_or_null(next));
    ly_response_json(c->req, c->resp, 200, o);
    return LY_OK;
}

const char *ly_api_text_field(struct json_object *body, const char *field, size_t max,
                              const char *rule, struct ly_field_errors *errs)
{
    const char *s = ly_json_get_string(body, field);
    if (s != NULL && !ly_text_is_valid(s, max)) {
        ly_field_errors_add(errs, field, rule);
        return NULL;
    }
    return s != NULL && s[0] != '\0' ? s : NULL;
}

int ly_api_invalid(struct ly_call *c, const char *detail, const struct ly_field_errors *errs)
{
    ly_response_problem(c->req, c->resp, LY_E_VALIDATION, detail, errs);
    return LY_E_VALIDATION;
}

int ly_api_fail(struct ly_call *c, int err, const char *detail)
{
    ly_response_problem(c->req, c->resp, err, detail, NULL);
    return err;
}

/*
 * The actions of SPEC §5.12 that cannot revoke or narrow a credential; every
 * other one (deletions, updates, removals, revocations, reuse) bumps the
 * host's revocation generation once its unit commits. A list of the harmless
 * ones, so that an action added later errs on the side of a bump.
 */
static bool action_revokes(const char *action)
{
    static const char *const harmless[] = {
        "signin.succeeded", "signin.failed",           "org.created",
        "member.added",     "service_account.created", "api_key.created",
        "device.approved",  "device.denied",           "user.created",
    };
    for (size_t i = 0; i < sizeof(harmless) / sizeof(harmless[0]); i++)
        if (strcmp(action, harmless[i]) == 0)
            return false;
    return true;
}

/* An event of this call, with everything but its organization filled in. */
static struct ly_audit_event audit_event(struct ly_call *c, const char *action,
                                         const char *actor_type, const char *actor_id,
                                         struct ly_audit_target target, bool success)
{
    const struct ly_principal *p = c->who;
    if (action_revokes(action)) /* a refused change too: reuse detection records one */
        c->revokes = true;
    if (actor_type == NULL && p != NULL) {
        actor_type = p->type == LY_PRINCIPAL_USER ? "user" : "service_account";
        actor_id = p->subject;
    }
    struct ly_audit_event e = {
        .time = c->req->now,
        .actor_type = actor_type != NULL ? actor_type : "anonymous",
        .actor_id = actor_id,
        .action = action,
        .target_type = target.type,
        .target_id = target.id,
        .ip = c->req->client_ip,
        .user_agent = c->req->user_agent,
        .request_id = c->req->request_id,
        .success = success,
    };
    return e;
}

int ly_api_audit(struct ly_call *c, const char *action, const char *org_id, const char *org_name,
                 struct ly_audit_target target, bool success)
{
    struct ly_audit_event e = audit_event(c, action, NULL, NULL, target, success);
    e.org_id = org_id;
    e.org_name = org_name;
    return ly_audit_insert(c->ctx->db, c->req->arena, &e, c->event_id ? NULL : &c->event_id);
}

int ly_api_audit_user(struct ly_call *c, const char *action, const char *user_id,
                      const char *actor_type, const char *actor_id, struct ly_audit_target target,
                      bool success)
{
    struct ly_audit_event e = audit_event(c, action, actor_type, actor_id, target, success);
    return ly_audit_insert_per_org(c->ctx->db, c->req->arena, &e, user_id,
                                   c->event_id ? NULL : &c->event_id);
}
