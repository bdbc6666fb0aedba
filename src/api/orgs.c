#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <json-c/json.h>

#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/json.h"
#include "lanyard/orgs.h"
#include "lanyard/validate.h"

#define ORGS_PATH "/api/org/v1/orgs/"

static const char name_rule[] = "must be 2 to 63 characters: lower-case letters, digits and "
                                "hyphens, starting and ending with a letter or digit";
static const char display_name_rule[] = "must be at most 200 characters, without control "
                                        "characters";

/* SPEC §5.9: the organization object, exactly these fields. */
static struct json_object *org_to_json(const struct ly_org *o)
{
    struct json_object *j = json_object_new_object();
    json_object_object_add(j, "id", json_object_new_string(o->id));
    json_object_object_add(j, "name", json_object_new_string(o->name));
    json_object_object_add(j, "display_name", ly_json_str_or_null(o->display_name));
    json_object_object_add(j, "created_at", ly_json_time(o->created_at));
    json_object_object_add(j, "updated_at", ly_json_time(o->updated_at));
    json_object_object_add(j, "member_count", json_object_new_int64(o->member_count));
    return j;
}

/* What an organization's events name (SPEC §5.12). */
static struct ly_audit_target org_target(const struct ly_org *o)
{
    return (struct ly_audit_target){"organization", o->id};
}

/* display_name as given; null and "" both mean none (as for users). */
static const char *display_name_of(struct json_object *body, struct ly_field_errors *errs)
{
    return ly_api_text_field(body, "display_name", LY_DISPLAY_NAME_MAX, display_name_rule, errs);
}

int ly_api_orgs_create(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    static const struct ly_json_field fields[] = {
        {"name", LY_JSON_STRING, true},
        {"display_name", LY_JSON_STRING | LY_JSON_NULL, false},
    };
    /* SPEC §4: a credential never mints what is stronger than itself, a key no organization. */
    if (c->who->org_id != NULL || ly_policy_decide(&c->actor, LY_ACT_ORG_CREATE) != LY_ALLOW) {
        ly_response_problem(req, resp, LY_E_FORBIDDEN,
                            c->who->type == LY_PRINCIPAL_USER && c->who->org_id == NULL
                                ? "creating organizations is reserved to platform administrators"
                                : "a service account or an API key cannot create organizations",
                            NULL);
        return LY_E_FORBIDDEN;
    }
    struct ly_field_errors errs = {.n = 0};
    ly_json_check_fields(req->json, fields, sizeof(fields) / sizeof(fields[0]), &errs);
    const char *name = ly_json_get_string(req->json, "name");
    if (name != NULL && !ly_name_is_valid(name))
        ly_field_errors_add(&errs, "name", name_rule);
    const char *display_name = display_name_of(req->json, &errs);
    if (errs.n > 0) {
        ly_response_problem(req, resp, LY_E_VALIDATION, "the organization is not valid", &errs);
        return LY_E_VALIDATION;
    }
    struct ly_org org;
    int r = ly_orgs_create(req->ctx->db, req->arena, name, display_name, c->who->subject, req->now,
                           &org);
    if (r == LY_E_CONFLICT) {
        ly_response_problem(req, resp, r, "an organization with this name exists", NULL);
        return r;
    }
    if (r == LY_OK)
        r = ly_api_audit(c, "org.created", org.id, org.name, org_target(&org), true);
    if (r != LY_OK)
        return r;
    ly_response_json(req, resp, 201, org_to_json(&org));
    ly_response_location(req, resp, ly_arena_printf(req->arena, ORGS_PATH "%s", org.name));
    return LY_OK;
}

int ly_api_orgs_list(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_page page;
    int r = ly_list_page(c, "orgs", &page);
    if (r != LY_OK)
        return r;
    /*
     * SPEC §5.9: the caller's organizations; a platform administrator's are
     * all of them; a credential bound to one organization sees that one.
     */
    const struct ly_principal *p = c->who;
    enum ly_orgs_scope scope = LY_ORGS_OF_USER;
    const char *who = p->subject;
    if (p->org_id != NULL) {
        scope = LY_ORGS_WITH_ID;
        who = p->org_id;
    } else if (c->actor.platform_admin) {
        scope = LY_ORGS_ALL;
    }
    struct ly_org *orgs = NULL;
    size_t n = 0;
    bool more = false;
    if ((r = ly_orgs_list(req->ctx->db, req->arena, scope, who, &page, &orgs, &n, &more)) != LY_OK)
        return r;
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, org_to_json(&orgs[i]));
    return ly_list_answer(c, "orgs", items, more, n > 0 ? orgs[n - 1].name : NULL);
}

int ly_api_orgs_get(struct ly_call *c)
{
    ly_response_json(c->req, c->resp, 200, org_to_json(&c->org));
    return LY_OK;
}

int ly_api_orgs_update(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    static const struct ly_json_field fields[] = {
        {"display_name", LY_JSON_STRING | LY_JSON_NULL, true},
    };
    /* The dispatcher decided who may first: one who may not see it learns nothing from a 400. */
    struct ly_org org = c->org;
    int r;
    struct ly_field_errors errs = {.n = 0};
    ly_json_check_fields(req->json, fields, sizeof(fields) / sizeof(fields[0]), &errs);
    const char *display_name = display_name_of(req->json, &errs);
    if (errs.n > 0) {
        ly_response_problem(req, resp, LY_E_VALIDATION, "the change is not valid", &errs);
        return LY_E_VALIDATION;
    }
    struct ly_db *db = req->ctx->db;
    if ((r = ly_orgs_update(db, req->arena, org.id, display_name, req->now)) != LY_OK)
        return r;
    r = ly_orgs_get(db, req->arena, org.name, NULL, &org, NULL);
    if (r == LY_E_NOT_FOUND) {
        ly_response_problem(req, resp, r, "no such organization", NULL);
        return r;
    }
    if (r == LY_OK)
        r = ly_api_audit(c, "org.updated", org.id, org.name, org_target(&org), true);
    if (r != LY_OK)
        return r;
    ly_response_json(req, resp, 200, org_to_json(&org));
    return LY_OK;
}

int ly_api_orgs_delete(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    int r = ly_orgs_delete(req->ctx->db, req->arena, c->org.id);
    if (r == LY_E_NOT_FOUND) {
        ly_response_problem(req, resp, r, "no such organization", NULL);
        return r;
    }
    /* The event keeps the name: the platform trail finds it after the row is gone (SPEC §5.12). */
    if (r == LY_OK)
        r = ly_api_audit(c, "org.deleted", c->org.id, c->org.name, org_target(&c->org), true);
    if (r != LY_OK)
        return r;
    ly_response_empty(resp, 204);
    return LY_OK;
}
