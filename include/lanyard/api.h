/*
 * api: the application of SPEC §5. The route table (src/api/api.c) says
 * for every endpoint its method and path, the credential it needs, the
 * organization action it decides on its {org} parameter, whether a
 * resource-scoped credential may call it, its body kind and its handler;
 * the dispatcher there answers 404, 405, 413, 415 and malformed bodies,
 * authenticates, decides, opens the request's one unit of work, runs the
 * handler and commits, or rolls everything back when the answer is an
 * error. A handler therefore only does its endpoint's own work.
 */
#ifndef LY_API_H
#define LY_API_H

#include <stdbool.h>
#include <stdint.h>

#include "lanyard/auth.h"
#include "lanyard/http.h"
#include "lanyard/orgs.h"
#include "lanyard/page.h"
#include "lanyard/policy.h"

struct lanyard_ctx;
struct json_object;

/* One call of a handler: the request, its answer, and what the dispatcher established. */
struct ly_call {
    struct ly_request *req;
    struct ly_response *resp;
    struct lanyard_ctx *ctx;
    struct ly_principal *who; /* NULL on routes without a credential (or none sent) */
    struct ly_actor actor;    /* the caller as the policy sees it (role set in org) */
    struct ly_org org;        /* routes with an {org}: the one named, visible to the caller */
    /*
     * Commit the unit although the answer is an error: it records what must
     * stay (a session revoked because its refresh token came back).
     */
    bool keep;
    /*
     * Set by a handler whose change can be recognised afterwards: when the
     * COMMIT loses its connection (the outcome unknown), api.c runs it in a
     * unit of its own on a new connection; *there true means the change was
     * committed and the handler's answer is sent after all, instead of a 503
     * whose retry would meet the change as done (a spent refresh token).
     */
    int (*witness)(struct ly_call *c, bool *there);
    const void *witness_arg;
    /*
     * The id of the unit's first audit event (0: none yet). Without a
     * witness of its own, a unit that recorded one is witnessed by it: the
     * event and the change commit together or not at all.
     */
    uint64_t event_id;
    /*
     * The unit recorded a change that can revoke or narrow a credential
     * (ly_api_audit of such an action): once it commits, api.c bumps the
     * host's revocation generation (lanyard/metrics.h), never before.
     */
    bool revokes;
};

typedef int (*ly_handler_fn)(struct ly_call *c);

/*
 * Answer one request end to end (everything but the FastCGI I/O): the
 * ly_fcgi_app handle of the worker. init_err and body_too_large as there.
 */
void ly_api_handle(struct ly_request *req, struct ly_response *resp, int init_err,
                   bool body_too_large);

/* The worker's tick (ly_fcgi_app): housekeeping in a unit of its own. */
void ly_api_tick(struct lanyard_ctx *ctx, bool idle);

/*
 * Lists (SPEC §3). ly_list_page reads page_size and page_token for the list
 * named list ("users", "members:<org id>") and answers the 400 itself;
 * ly_list_answer answers {"items", "next_page_token"}, the token made from
 * last_key when more is set. Both return LY_OK or an error.
 */
int ly_list_page(struct ly_call *c, const char *list, struct ly_page *out);
int ly_list_answer(struct ly_call *c, const char *list, struct json_object *items, bool more,
                   const char *last_key);

/*
 * A text member of a request body (display_name, description): its value,
 * or NULL when absent, null or "" (all three mean none). One that breaks
 * SPEC §3 (more than max characters, control characters) adds rule to errs.
 */
const char *ly_api_text_field(struct json_object *body, const char *field, size_t max,
                              const char *rule, struct ly_field_errors *errs);

/* A validation failure answered (400 validation_failed with errs); returns LY_E_VALIDATION. */
int ly_api_invalid(struct ly_call *c, const char *detail, const struct ly_field_errors *errs);

/* A problem answered (SPEC §3); returns err. */
int ly_api_fail(struct ly_call *c, int err, const char *detail);

/*
 * SPEC §5.12: record an event of this call in its unit of work (so it
 * stands or falls with the change). The actor is the caller (c->who; an
 * "anonymous" actor when there is none) unless actor_type is given; ip,
 * user agent and request id come from the request. org_id and org_name may
 * be NULL (no organization). ly_api_audit_user records it once for each
 * organization of user_id, or once with none.
 */
struct ly_audit_target {
    const char *type; /* "user", "organization", "service_account", "api_key", "session", … */
    const char *id;
};
int ly_api_audit(struct ly_call *c, const char *action, const char *org_id, const char *org_name,
                 struct ly_audit_target target, bool success);
int ly_api_audit_user(struct ly_call *c, const char *action, const char *user_id,
                      const char *actor_type, const char *actor_id, struct ly_audit_target target,
                      bool success);

/*
 * SPEC §6 metrics. ly_api_route_names: the route table's rows as metrics
 * name them (and their index, ly_api_route_index, is the row). ly_api_metrics_start claims this
 * process's slot the first time a worker process handles or ticks; ly_api_metrics answers GET
 * /api/metrics to server.metrics_from and 404 to anyone else.
 */
struct ly_metrics_names;
const struct ly_metrics_names *ly_api_route_names(void);
void ly_api_metrics_start(struct lanyard_ctx *ctx);
int ly_api_metrics(struct ly_call *c);

/* §5.1 */
int ly_api_health(struct ly_call *c);
int ly_api_jwks(struct ly_call *c);

/* §6: doc/openapi.json, embedded at build time (src/api/local.mk) */
extern const char ly_openapi_json[];
extern const size_t ly_openapi_json_len;
int ly_api_openapi(struct ly_call *c);

/* §5.2, §5.3 */
int ly_api_signin(struct ly_call *c);
int ly_api_signup(struct ly_call *c);
int ly_api_signout(struct ly_call *c);
int ly_api_token(struct ly_call *c);

/*
 * A parameter of an OAuth request (form or JSON body): 0 found, 1 absent,
 * LY_E_INVALID_REQUEST when repeated or not a string.
 */
int ly_api_oauth_param(struct ly_request *req, const char *name, const char **out);

/* §5.4 */
int ly_api_device(struct ly_call *c);
int ly_api_device_approve(struct ly_call *c);

/* §5.8 */
int ly_api_me(struct ly_call *c);

/* §5.9 */
int ly_api_orgs_create(struct ly_call *c);
int ly_api_orgs_list(struct ly_call *c);
int ly_api_orgs_get(struct ly_call *c);
int ly_api_orgs_update(struct ly_call *c);
int ly_api_orgs_delete(struct ly_call *c);
int ly_api_members_list(struct ly_call *c);
int ly_api_members_put(struct ly_call *c);
int ly_api_members_delete(struct ly_call *c);

/* §5.11: service accounts */
struct ly_service_account;
/* <name>@<org>.<accounts.service_account_domain>, in the request arena. */
const char *ly_api_account_identifier(struct ly_call *c, const char *name, const char *org);
/* The service-account object of SPEC §5.8, written as member key (NULL: a value) of w. */
struct ly_json_writer;
void ly_api_account_write(struct ly_call *c, struct ly_json_writer *w, const char *key,
                          const struct ly_service_account *a);
/* The same object as a json-c tree (owned by the request), for answers built as trees. */
struct json_object *ly_api_account_json(struct ly_call *c, const struct ly_service_account *a);
/* The account params[1] names in c->org (by id or name); answers the 404 itself. */
int ly_api_account_of_path(struct ly_call *c, struct ly_service_account *out);
int ly_api_accounts_create(struct ly_call *c);
int ly_api_accounts_list(struct ly_call *c);
int ly_api_accounts_get(struct ly_call *c);
int ly_api_accounts_update(struct ly_call *c);
int ly_api_accounts_delete(struct ly_call *c);

/* §5.11: keys of a service account, of the caller (personal keys), of an organization */
int ly_api_sa_keys_create(struct ly_call *c);
int ly_api_sa_keys_list(struct ly_call *c);
int ly_api_sa_keys_get(struct ly_call *c);
int ly_api_sa_keys_update(struct ly_call *c);
int ly_api_sa_keys_delete(struct ly_call *c);
int ly_api_sa_keys_rotate(struct ly_call *c);
int ly_api_me_keys_create(struct ly_call *c);
int ly_api_me_keys_list(struct ly_call *c);
int ly_api_me_keys_get(struct ly_call *c);
int ly_api_me_keys_update(struct ly_call *c);
int ly_api_me_keys_delete(struct ly_call *c);
int ly_api_me_keys_rotate(struct ly_call *c);
int ly_api_org_keys_list(struct ly_call *c);
int ly_api_org_keys_delete(struct ly_call *c);

/* §5.13 */
int ly_api_me_sessions_list(struct ly_call *c);
int ly_api_me_sessions_delete(struct ly_call *c);

/* §5.5 */
int ly_api_revoke(struct ly_call *c);

/*
 * The client of an OAuth request (revocation, introspection): an API key
 * given as client_id and client_secret, or as Basic credentials (basic_sent:
 * the request carries Authorization, so the fields may not be used too).
 * LY_OK with *out; 1 when no fields were given; otherwise the answer is made
 * (invalid_request, or 401 invalid_client) and the error returned.
 */
int ly_api_oauth_client(struct ly_call *c, bool basic_sent, struct ly_principal *out);

/* §5.6, §5.7 */
int ly_api_introspect(struct ly_call *c);
int ly_api_check(struct ly_call *c);
/* §5.7 as a FastCGI authorizer (role AUTHORIZER): the check, asked by LANYARD_CHECK_* parameters */
int ly_api_authorize(struct ly_call *c);
/* §5.12: an organization's audit events (org admin+), every event (platform admin) */
int ly_api_audit_org_list(struct ly_call *c);
int ly_api_audit_list(struct ly_call *c);

/* §5.15 */
int ly_api_sso_put(struct ly_call *c);
int ly_api_sso_get(struct ly_call *c);
int ly_api_sso_delete(struct ly_call *c);
int ly_api_sso_discover(struct ly_call *c);
int ly_api_sso_start(struct ly_call *c);
int ly_api_sso_callback(struct ly_call *c);

/* §5.10 */
int ly_api_users_create(struct ly_call *c);
int ly_api_users_list(struct ly_call *c);
int ly_api_users_get(struct ly_call *c);
int ly_api_users_update(struct ly_call *c);
int ly_api_users_delete(struct ly_call *c);

#endif
