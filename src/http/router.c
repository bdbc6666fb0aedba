#include "build-config.h"
#include "banned.h"

#include "lanyard/router.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/api.h"
#include "lanyard/auth.h"
#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"

#define ORGS "/api/org/v1/orgs"

/* SPEC §5. Order matters only for readability: patterns never overlap. */
static const struct ly_route routes[] = {
    {"GET", "/api/health", LY_AUTH_NONE, LY_BODY_NONE, ly_api_health},
    {"GET", "/.well-known/jwks.json", LY_AUTH_NONE, LY_BODY_NONE, ly_api_jwks},

    {"POST", "/api/auth/v1/signin", LY_AUTH_NONE, LY_BODY_JSON, ly_api_signin},
    {"POST", "/api/auth/v1/signup", LY_AUTH_NONE, LY_BODY_JSON, ly_api_signup},
    {"POST", "/api/auth/v1/signout", LY_AUTH_OPTIONAL, LY_BODY_JSON, ly_api_signout},
    {"POST", "/api/auth/v1/token", LY_AUTH_NONE, LY_BODY_OAUTH, ly_api_token},

    {"GET", "/api/org/v1/me", LY_AUTH_ANY, LY_BODY_NONE, ly_api_me},

    {"POST", ORGS, LY_AUTH_ANY, LY_BODY_JSON, ly_api_orgs_create},
    {"GET", ORGS, LY_AUTH_ANY, LY_BODY_NONE, ly_api_orgs_list},
    {"GET", ORGS "/{}", LY_AUTH_ANY, LY_BODY_NONE, ly_api_orgs_get},
    {"PATCH", ORGS "/{}", LY_AUTH_ANY, LY_BODY_JSON, ly_api_orgs_update},
    {"DELETE", ORGS "/{}", LY_AUTH_ANY, LY_BODY_NONE, ly_api_orgs_delete},
    {"GET", ORGS "/{}/members", LY_AUTH_ANY, LY_BODY_NONE, ly_api_members_list},
    {"PUT", ORGS "/{}/members/{}", LY_AUTH_ANY, LY_BODY_JSON, ly_api_members_put},
    {"DELETE", ORGS "/{}/members/{}", LY_AUTH_ANY, LY_BODY_NONE, ly_api_members_delete},

    {"POST", "/api/org/v1/users", LY_AUTH_ADMIN, LY_BODY_JSON, ly_api_users_create},
    {"GET", "/api/org/v1/users", LY_AUTH_ADMIN, LY_BODY_NONE, ly_api_users_list},
    {"GET", "/api/org/v1/users/{}", LY_AUTH_ANY, LY_BODY_NONE, ly_api_users_get},
    {"PATCH", "/api/org/v1/users/{}", LY_AUTH_ANY, LY_BODY_JSON, ly_api_users_update},
    {"DELETE", "/api/org/v1/users/{}", LY_AUTH_ADMIN, LY_BODY_NONE, ly_api_users_delete},
};

#define MAX_SEGMENTS 10
#define MAX_ATTEMPTS 3 /* of a handler whose transaction a deadlock ended */

/* Split the raw path at '/' and decode each segment. -1 on a malformed escape. */
static int split_path(struct ly_arena *a, const char *raw, const char **segs, size_t *n)
{
    size_t count = 0;
    const char *p = raw;
    if (*p != '/')
        return -1;
    while (*p == '/') {
        const char *start = p + 1;
        const char *end = strchr(start, '/');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (count == MAX_SEGMENTS) {
            *n = MAX_SEGMENTS + 1; /* longer than any route: 404 */
            return 0;
        }
        if (ly_percent_decode(a, (struct ly_str){start, len}, false, &segs[count], NULL) != 0)
            return -1;
        count++;
        p = start + len;
    }
    *n = count;
    return 0;
}

static bool pattern_match(const char *pattern, const char **segs, size_t n, const char **params,
                          size_t *n_params)
{
    size_t i = 0, np = 0;
    const char *p = pattern;
    while (*p == '/') {
        const char *start = p + 1;
        const char *end = strchr(start, '/');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (i >= n)
            return false;
        if (len == 2 && start[0] == '{' && start[1] == '}') {
            if (segs[i][0] == '\0' || np == LY_MAX_PATH_PARAMS)
                return false;
            params[np++] = segs[i];
        } else if (strlen(segs[i]) != len || memcmp(segs[i], start, len) != 0) {
            return false;
        }
        i++;
        p = start + len;
    }
    if (i != n)
        return false;
    *n_params = np;
    return true;
}

const struct ly_route *ly_router_match(struct ly_arena *a, const char *method, const char *raw_path,
                                       const char **params, size_t *n_params, const char **allow,
                                       bool *bad_path)
{
    const char *segs[MAX_SEGMENTS];
    size_t n = 0;
    *allow = NULL;
    *bad_path = false;
    if (split_path(a, raw_path, segs, &n) != 0) {
        *bad_path = true;
        return NULL;
    }
    if (n > MAX_SEGMENTS)
        return NULL;
    char allowed[64] = "";
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const char *tmp[LY_MAX_PATH_PARAMS];
        size_t np = 0;
        if (!pattern_match(routes[i].pattern, segs, n, tmp, &np))
            continue;
        if (strcmp(routes[i].method, method) == 0) {
            memcpy(params, tmp, sizeof(tmp[0]) * np);
            *n_params = np;
            return &routes[i];
        }
        size_t used = strlen(allowed);
        snprintf(allowed + used, sizeof(allowed) - used, "%s%s", used ? ", " : "",
                 routes[i].method);
    }
    if (allowed[0] != '\0')
        *allow = ly_arena_strdup(a, allowed);
    return NULL;
}

int ly_media_type_classify(const char *content_type)
{
    if (content_type == NULL)
        return -1;
    struct ly_str ct = ly_str_from(content_type);
    const char *semi = memchr(ct.ptr, ';', ct.len);
    struct ly_str type =
        ly_str_trim((struct ly_str){ct.ptr, semi ? (size_t)(semi - ct.ptr) : ct.len});
    int kind;
    if (ly_str_eq_nocase(type, "application/json"))
        kind = 0;
    else if (ly_str_eq_nocase(type, "application/x-www-form-urlencoded"))
        kind = 1;
    else
        return -1;
    /* RFC 8259 §8.1: JSON is UTF-8; a body declared in another charset is not ours to read. */
    while (semi != NULL) {
        const char *start = semi + 1;
        const char *end = ct.ptr + ct.len;
        semi = memchr(start, ';', (size_t)(end - start));
        struct ly_str param =
            ly_str_trim((struct ly_str){start, (size_t)((semi ? semi : end) - start)});
        const char *eq = memchr(param.ptr, '=', param.len);
        if (eq == NULL)
            return -1;
        struct ly_str name = ly_str_trim((struct ly_str){param.ptr, (size_t)(eq - param.ptr)});
        struct ly_str value =
            ly_str_trim((struct ly_str){eq + 1, param.len - (size_t)(eq - param.ptr) - 1});
        if (value.len >= 2 && value.ptr[0] == '"' && value.ptr[value.len - 1] == '"') {
            value.ptr++;
            value.len -= 2;
        }
        if (ly_str_eq_nocase(name, "charset") && !ly_str_eq_nocase(value, "utf-8"))
            return -1;
    }
    return kind;
}

static bool is_oauth_path(const char *path)
{
    return strcmp(path, "/api/auth/v1/token") == 0 || strcmp(path, "/api/auth/v1/device") == 0 ||
           strcmp(path, "/api/auth/v1/revoke") == 0 || strcmp(path, "/api/auth/v1/introspect") == 0;
}

/* The RFC 6749 §5.2 form of an error for the OAuth endpoints. */
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

static void answer_error(struct ly_request *req, struct ly_response *resp, bool oauth, int err,
                         const char *detail)
{
    if (oauth)
        oauth_error(req, resp, err, detail);
    else
        ly_response_problem(req, resp, err, detail, NULL);
}

static int read_body(struct ly_request *req, const struct ly_route *route, struct ly_response *resp,
                     bool oauth)
{
    if (route->body == LY_BODY_NONE)
        return LY_OK;
    if (req->body.len == 0 && req->content_type == NULL) {
        req->json = ly_json_own(req->arena, json_object_new_object());
        return LY_OK;
    }
    int kind = ly_media_type_classify(req->content_type);
    if (kind < 0 || (kind == 1 && route->body != LY_BODY_OAUTH)) {
        answer_error(req, resp, oauth, LY_E_MEDIA_TYPE,
                     route->body == LY_BODY_OAUTH
                         ? "the body must be application/x-www-form-urlencoded or application/json"
                         : "the body must be application/json (UTF-8)");
        return LY_E_MEDIA_TYPE;
    }
    if (kind == 1) {
        req->form = true;
        return LY_OK;
    }
    if (ly_json_parse(req->arena, req->body, &req->json) != LY_OK) {
        answer_error(req, resp, oauth, LY_E_INVALID_JSON, "the body is not valid JSON");
        return LY_E_INVALID_JSON;
    }
    if (!json_object_is_type(req->json, json_type_object)) {
        struct ly_field_errors errs = {.n = 0};
        ly_field_errors_add(&errs, "", "the body must be a JSON object");
        if (oauth)
            oauth_error(req, resp, LY_E_VALIDATION, "the body must be a JSON object");
        else
            ly_response_problem(req, resp, LY_E_VALIDATION, "the body must be a JSON object",
                                &errs);
        return LY_E_VALIDATION;
    }
    return LY_OK;
}

static int authenticate(struct ly_request *req, const struct ly_route *route,
                        struct ly_response *resp, bool oauth)
{
    if (route->auth == LY_AUTH_NONE)
        return LY_OK;
    if (route->auth == LY_AUTH_OPTIONAL && ly_request_env(req, "HTTP_AUTHORIZATION") == NULL)
        return LY_OK;
    const struct ly_principal *p = NULL;
    struct ly_auth_failure fail = {0};
    int r = ly_auth_authenticate(req, &p, &fail);
    if (r != LY_OK) {
        if (r == LY_E_UNAVAILABLE || r == LY_E_RETRY || oauth)
            answer_error(req, resp, oauth, r, fail.why);
        else
            ly_auth_challenge(req, resp, r, &fail);
        return r;
    }
    req->principal = p;
    resp->principal = p->id;
    if (route->auth == LY_AUTH_USER || route->auth == LY_AUTH_ADMIN) {
        if (p->type != LY_PRINCIPAL_USER) {
            answer_error(req, resp, oauth, LY_E_FORBIDDEN, "this endpoint is for users");
            return LY_E_FORBIDDEN;
        }
    }
    if (route->auth == LY_AUTH_ADMIN) {
        r = ly_auth_load_user(req, (struct ly_principal *)p);
        if (r != LY_OK) {
            if (r == LY_E_INVALID_TOKEN)
                ly_auth_challenge(
                    req, resp, r,
                    &(struct ly_auth_failure){LY_SCHEME_BEARER, "the user is disabled"});
            else
                answer_error(req, resp, oauth, r, NULL);
            return r;
        }
        if (!p->platform_admin) {
            answer_error(req, resp, oauth, LY_E_FORBIDDEN, "a platform administrator is required");
            return LY_E_FORBIDDEN;
        }
    }
    return LY_OK;
}

void ly_router_handle(struct ly_request *req, struct ly_response *resp, bool body_too_large)
{
    bool oauth = is_oauth_path(req->raw_path);
    /* SPEC §3: every answer under /api/auth/v1/ carries Cache-Control: no-store. */
    if (strncmp(req->raw_path, "/api/auth/v1/", 13) == 0)
        resp->no_store = true;
    if (body_too_large) {
        answer_error(req, resp, oauth, LY_E_TOO_LARGE, "the request body is too large");
        return;
    }
    const char *allow = NULL;
    bool bad_path = false;
    const struct ly_route *route = ly_router_match(req->arena, req->method, req->raw_path,
                                                   req->params, &req->n_params, &allow, &bad_path);
    if (route == NULL) {
        if (bad_path) {
            ly_response_problem(req, resp, LY_E_INVALID_REQUEST, "the request path is malformed",
                                NULL);
        } else if (allow != NULL) {
            ly_response_problem(req, resp, LY_E_METHOD, "the method is not allowed on this path",
                                NULL);
            ly_response_header(resp, "Allow", allow);
        } else {
            ly_response_problem(req, resp, LY_E_NOT_FOUND, "no such endpoint", NULL);
        }
        return;
    }
    if (read_body(req, route, resp, oauth) != LY_OK)
        return;
    if (authenticate(req, route, resp, oauth) != LY_OK)
        return;
    int r;
    for (int attempt = 1;; attempt++) {
        r = route->handler(req, resp);
        /* A handler that failed inside a transaction must not leave it open. */
        if (req->ctx->db != NULL && ly_db_in_transaction(req->ctx->db))
            ly_db_rollback(req->ctx->db);
        /*
         * InnoDB ends one of two transactions that wait on each other; the
         * loser's work is rolled back, so running the handler again is safe.
         */
        if (r != LY_E_RETRY || resp->status != 0 || attempt == MAX_ATTEMPTS)
            break;
        ly_log_info(&req->ctx->log, "retrying after a deadlock (attempt %d)", attempt + 1);
    }
    if (r != LY_OK && resp->status == 0)
        answer_error(req, resp, oauth, r, NULL);
    if (resp->status == 0)
        ly_response_problem(req, resp, LY_E_INTERNAL, "the request could not be answered", NULL);
}
