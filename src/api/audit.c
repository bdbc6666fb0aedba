#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/audit.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/json.h"
#include "lanyard/validate.h"

/*
 * SPEC §5.12: the two lists of audit events, an organization's own trail
 * and the platform's. The events are written by the handlers of the
 * changes they record (ly_api_audit), in the change's unit of work.
 */

/* SPEC §5.12's actions: ?action= names one of them (a typo is a 400, not an empty list). */
static const char *const actions[] = {
    "signin.succeeded",
    "signin.failed",
    "session.refresh_reused",
    "org.created",
    "org.updated",
    "org.deleted",
    "member.added",
    "member.updated",
    "member.removed",
    "service_account.created",
    "service_account.updated",
    "service_account.deleted",
    "api_key.created",
    "api_key.updated",
    "api_key.deleted",
    "api_key.rotated",
    "session.revoked",
    "sso.updated",
    "sso.deleted",
    "device.approved",
    "device.denied",
    "user.created",
    "user.updated",
    "user.deleted",
};

static bool action_is_known(const char *s)
{
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strcmp(s, actions[i]) == 0)
            return true;
    return false;
}

/* {type, id}, either of which may be null. */
static struct json_object *pair_json(const char *type, const char *id)
{
    struct json_object *j = json_object_new_object();
    json_object_object_add(j, "type", ly_json_str_or_null(type));
    json_object_object_add(j, "id", ly_json_str_or_null(id));
    return j;
}

/* The event object of SPEC §5.12, exactly these fields. */
static struct json_object *event_json(const struct ly_audit_event *e)
{
    struct json_object *j = json_object_new_object();
    json_object_object_add(j, "id", json_object_new_string(e->id));
    json_object_object_add(j, "time", ly_json_time(e->time));
    json_object_object_add(j, "org", ly_json_str_or_null(e->org_name));
    json_object_object_add(j, "actor", pair_json(e->actor_type, e->actor_id));
    json_object_object_add(j, "action", json_object_new_string(e->action));
    json_object_object_add(j, "target", pair_json(e->target_type, e->target_id));
    json_object_object_add(j, "ip", ly_json_str_or_null(e->ip));
    json_object_object_add(j, "user_agent", ly_json_str_or_null(e->user_agent));
    json_object_object_add(j, "request_id", ly_json_str_or_null(e->request_id));
    json_object_object_add(j, "outcome",
                           json_object_new_string(e->success ? "success" : "failure"));
    return j;
}

/*
 * A query parameter that must pass check when given: LY_OK with *out (NULL
 * when absent), or the 400 answered.
 */
static int query_param(struct ly_call *c, const char *name, bool (*check)(const char *),
                       const char *rule, const char **out)
{
    const char *s = NULL;
    int q = ly_request_query(c->req, name, &s);
    if (q < 0)
        return ly_api_fail(c, LY_E_INVALID_REQUEST, "the query string is malformed");
    if (q == 0 && !check(s)) {
        struct ly_field_errors errs = {.n = 0};
        ly_field_errors_add(&errs, name, rule);
        return ly_api_invalid(c, "the filter is not valid", &errs);
    }
    *out = q == 0 ? s : NULL;
    return LY_OK;
}

static bool name_is_valid(const char *s)
{
    return ly_name_is_valid(s);
}

/*
 * One page of the events f selects, newest first. The list's name (which
 * its page tokens are bound to) holds the filters, so a token is not
 * carried over to another list.
 */
static int answer_list(struct ly_call *c, const char *list, struct ly_audit_filter *f)
{
    struct ly_request *req = c->req;
    int r =
        query_param(c, "action", action_is_known, "must be an action of SPEC §5.12", &f->action);
    if (r != LY_OK)
        return r;
    list = ly_arena_printf(req->arena, "%s:%s", list, f->action ? f->action : "");
    struct ly_page page;
    if ((r = ly_list_page(c, list, &page)) != LY_OK)
        return r;
    struct ly_audit_event *events = NULL;
    size_t n = 0;
    bool more = false;
    r = ly_audit_list(c->ctx->db, req->arena, f, &page, &events, &n, &more);
    if (r == LY_E_INVALID_REQUEST)
        return ly_api_fail(c, r, "the page_token is not valid for this list");
    if (r != LY_OK)
        return r;
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, event_json(&events[i]));
    return ly_list_answer(c, list, items, more, n > 0 ? events[n - 1].id : NULL);
}

/* GET /api/org/v1/orgs/{org}/audit-events: this organization's events (org admin+). */
int ly_api_audit_org_list(struct ly_call *c)
{
    struct ly_audit_filter f = {.org_id = c->org.id};
    return answer_list(c, ly_arena_printf(c->req->arena, "audit:%s", c->org.id), &f);
}

/*
 * GET /api/org/v1/audit-events: every event (platform administrators);
 * ?org=NAME by name, so an organization deleted since is found too.
 */
int ly_api_audit_list(struct ly_call *c)
{
    struct ly_audit_filter f = {0};
    int r = query_param(c, "org", name_is_valid, "must be an organization name", &f.org_name);
    if (r != LY_OK)
        return r;
    return answer_list(
        c, ly_arena_printf(c->req->arena, "audit-all:%s", f.org_name ? f.org_name : ""), &f);
}
