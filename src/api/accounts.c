#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "lanyard/accounts.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/json.h"
#include "lanyard/validate.h"

static const char name_rule[] = "must be 2 to 63 characters: lower-case letters, digits and "
                                "hyphens, starting and ending with a letter or digit";
static const char display_name_rule[] = "must be at most 200 characters, without control "
                                        "characters";
static const char description_rule[] = "must be at most 1000 characters, without control "
                                       "characters";
static const char role_rule[] = "must be \"admin\" or \"member\"";

/* SPEC §5.8: the service-account object, exactly these fields. */
void ly_api_account_write(struct ly_call *c, struct ly_json_writer *w, const char *key,
                          const struct ly_service_account *a)
{
    ly_json_write_open(w, key, '{');
    ly_json_write_str(w, "id", a->id);
    ly_json_write_str(w, "name", a->name);
    ly_json_write_str(w, "identifier", ly_api_account_identifier(c, a->name, a->org_name));
    ly_json_write_str(w, "organization", a->org_name);
    ly_json_write_str(w, "role", ly_role_name(a->role));
    ly_json_write_str(w, "display_name", a->display_name);
    ly_json_write_str(w, "description", a->description);
    ly_json_write_time(w, "created_at", a->created_at);
    ly_json_write_close(w, '}');
}

/*
 * Written once (above) and read back, so that the object has one
 * definition; json-c reads back whatever the writer writes of C strings.
 */
struct json_object *ly_api_account_json(struct ly_call *c, const struct ly_service_account *a)
{
    struct ly_json_writer w;
    ly_json_writer_init(&w, c->req->arena, 512);
    ly_api_account_write(c, &w, NULL, a);
    struct json_object *o = json_tokener_parse(ly_json_writer_text(&w, NULL));
    if (o == NULL)
        abort();
    return o;
}

const char *ly_api_account_identifier(struct ly_call *c, const char *name, const char *org)
{
    return ly_arena_printf(c->req->arena, "%s@%s.%s", name, org,
                           c->ctx->cfg->accounts.service_account_domain);
}

int ly_api_account_of_path(struct ly_call *c, struct ly_service_account *out)
{
    int r = ly_accounts_find(c->ctx->db, c->req->arena, c->org.id, c->req->params[1], out);
    if (r == LY_E_NOT_FOUND)
        return ly_api_fail(c, r, "no such service account");
    return r;
}

/* What a service account's events name (SPEC §5.12). */
static struct ly_audit_target account_target(const struct ly_service_account *a)
{
    return (struct ly_audit_target){"service_account", a->id};
}

/* role in the body: admin or member; absent gives fallback. Adds to errs otherwise. */
static enum ly_role role_of(struct json_object *body, enum ly_role fallback,
                            struct ly_field_errors *errs)
{
    if (!ly_json_has(body, "role"))
        return fallback;
    enum ly_role role = ly_role_parse(ly_json_get_string(body, "role"));
    if (role != LY_ROLE_ADMIN && role != LY_ROLE_MEMBER) {
        ly_field_errors_add(errs, "role", role_rule);
        return LY_ROLE_NONE;
    }
    return role;
}

int ly_api_accounts_create(struct ly_call *c)
{
    struct ly_request *req = c->req;
    static const struct ly_json_field fields[] = {
        {"name", LY_JSON_STRING, true},
        {"display_name", LY_JSON_STRING | LY_JSON_NULL, false},
        {"description", LY_JSON_STRING | LY_JSON_NULL, false},
        {"role", LY_JSON_STRING, false},
    };
    struct ly_field_errors errs = {.n = 0};
    ly_json_check_fields(req->json, fields, sizeof(fields) / sizeof(fields[0]), &errs);
    const char *name = ly_json_get_string(req->json, "name");
    if (name != NULL && !ly_name_is_valid(name))
        ly_field_errors_add(&errs, "name", name_rule);
    const char *dn =
        ly_api_text_field(req->json, "display_name", LY_DISPLAY_NAME_MAX, display_name_rule, &errs);
    const char *desc =
        ly_api_text_field(req->json, "description", LY_DESCRIPTION_MAX, description_rule, &errs);
    enum ly_role role = role_of(req->json, LY_ROLE_MEMBER, &errs);
    if (errs.n > 0)
        return ly_api_invalid(c, "the service account is not valid", &errs);
    struct ly_service_account a;
    int r = ly_accounts_create(c->ctx->db, req->arena, c->org.id, c->org.name, name, dn, desc, role,
                               req->now, &a);
    if (r == LY_E_CONFLICT)
        return ly_api_fail(c, r, "a service account with this name exists in the organization");
    if (r == LY_E_NOT_FOUND)
        return ly_api_fail(c, r, "no such organization");
    if (r == LY_OK)
        r = ly_api_audit(c, "service_account.created", c->org.id, c->org.name, account_target(&a),
                         true);
    if (r != LY_OK)
        return r;
    ly_response_json(req, c->resp, 201, ly_api_account_json(c, &a));
    ly_response_location(req, c->resp,
                         ly_arena_printf(req->arena, "/api/org/v1/orgs/%s/service-accounts/%s",
                                         c->org.name, a.name));
    return LY_OK;
}

int ly_api_accounts_list(struct ly_call *c)
{
    struct ly_request *req = c->req;
    const char *list = ly_arena_printf(req->arena, "accounts:%s", c->org.id);
    struct ly_page page;
    int r = ly_list_page(c, list, &page);
    if (r != LY_OK)
        return r;
    struct ly_service_account *items = NULL;
    size_t n = 0;
    bool more = false;
    r = ly_accounts_list(c->ctx->db, req->arena, c->org.id, &page, &items, &n, &more);
    if (r != LY_OK)
        return r;
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, ly_api_account_json(c, &items[i]));
    return ly_list_answer(c, list, arr, more, n > 0 ? items[n - 1].name : NULL);
}

int ly_api_accounts_get(struct ly_call *c)
{
    struct ly_service_account a;
    int r = ly_api_account_of_path(c, &a);
    if (r != LY_OK)
        return r;
    ly_response_json(c->req, c->resp, 200, ly_api_account_json(c, &a));
    return LY_OK;
}

int ly_api_accounts_update(struct ly_call *c)
{
    struct ly_request *req = c->req;
    static const struct ly_json_field fields[] = {
        {"display_name", LY_JSON_STRING | LY_JSON_NULL, false},
        {"description", LY_JSON_STRING | LY_JSON_NULL, false},
        {"role", LY_JSON_STRING, false},
    };
    struct ly_service_account a;
    int r = ly_api_account_of_path(c, &a);
    if (r != LY_OK)
        return r;
    struct ly_field_errors errs = {.n = 0};
    ly_json_check_fields(req->json, fields, sizeof(fields) / sizeof(fields[0]), &errs);
    struct ly_account_change ch = {
        .set_display_name = ly_json_has(req->json, "display_name"),
        .display_name = ly_api_text_field(req->json, "display_name", LY_DISPLAY_NAME_MAX,
                                          display_name_rule, &errs),
        .set_description = ly_json_has(req->json, "description"),
        .description = ly_api_text_field(req->json, "description", LY_DESCRIPTION_MAX,
                                         description_rule, &errs),
        .role = role_of(req->json, LY_ROLE_NONE, &errs),
    };
    if (errs.n > 0)
        return ly_api_invalid(c, "the change is not valid", &errs);
    struct ly_db *db = c->ctx->db;
    if ((r = ly_accounts_update(db, req->arena, a.id, &ch, req->now)) != LY_OK)
        return r;
    r = ly_accounts_get(db, req->arena, a.id, &a);
    if (r == LY_E_NOT_FOUND)
        return ly_api_fail(c, r, "no such service account");
    if (r == LY_OK)
        r = ly_api_audit(c, "service_account.updated", c->org.id, c->org.name, account_target(&a),
                         true);
    if (r != LY_OK)
        return r;
    ly_response_json(req, c->resp, 200, ly_api_account_json(c, &a));
    return LY_OK;
}

int ly_api_accounts_delete(struct ly_call *c)
{
    struct ly_service_account a;
    int r = ly_api_account_of_path(c, &a);
    if (r != LY_OK)
        return r;
    /* Its keys and the tokens exchanged with them go with the row (ON DELETE CASCADE). */
    r = ly_accounts_delete(c->ctx->db, c->req->arena, a.id);
    if (r == LY_E_NOT_FOUND)
        return ly_api_fail(c, r, "no such service account");
    /* One event: its keys, gone with it, are not recorded one by one. */
    if (r == LY_OK)
        r = ly_api_audit(c, "service_account.deleted", c->org.id, c->org.name, account_target(&a),
                         true);
    if (r != LY_OK)
        return r;
    ly_response_empty(c->resp, 204);
    return LY_OK;
}
