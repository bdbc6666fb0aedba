#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/accounts.h"
#include "lanyard/apikeys.h"
#include "lanyard/codec.h"
#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/json.h"
#include "lanyard/validate.h"

/*
 * SPEC §5.11: the keys of a service account (…/service-accounts/{sa}/keys),
 * a user's personal keys (/me/keys) and every key acting in an
 * organization (/orgs/{org}/keys). The dispatcher has decided who may; the
 * handlers here find the key under its owner, so a key id of another owner
 * is 404 like an unknown one.
 */

#define GRACE_DEFAULT (24 * 3600)
#define GRACE_MAX     (30 * 24 * 3600)

static const char display_name_rule[] = "must be at most 200 characters, without control "
                                        "characters";
static const char description_rule[] = "must be at most 1000 characters, without control "
                                       "characters";
static const char resource_rule[] = "must be 1 to 255 characters of A-Z, a-z, 0-9 and ._:/-";
static const char duration_rule[] = "must be a duration such as \"90s\", \"15m\", \"12h\", "
                                    "\"30d\", or whole seconds";

static const char *key_path(struct ly_call *c, const struct ly_api_key *k)
{
    if (k->owner_type == LY_PRINCIPAL_USER)
        return ly_arena_printf(c->req->arena, "/api/org/v1/me/keys/%s", k->id);
    return ly_arena_printf(c->req->arena, "/api/org/v1/orgs/%s/service-accounts/%s/keys/%s",
                           k->org_name, k->owner_name, k->id);
}

/* The key object of SPEC §5.11; secret and token only for a key just made. */
static struct json_object *key_json(struct ly_call *c, const struct ly_api_key *k,
                                    const struct ly_api_key_made *made)
{
    bool user = k->owner_type == LY_PRINCIPAL_USER;
    struct json_object *owner = json_object_new_object();
    json_object_object_add(owner, "type",
                           json_object_new_string(user ? "user" : "service_account"));
    json_object_object_add(owner, "id", json_object_new_string(k->owner_id));
    json_object_object_add(
        owner, "identifier",
        json_object_new_string(user ? k->owner_name
                                    : ly_api_account_identifier(c, k->owner_name, k->org_name)));
    struct json_object *j = json_object_new_object();
    json_object_object_add(j, "id", json_object_new_string(k->id));
    json_object_object_add(j, "kind", json_object_new_string("ApiKey"));
    json_object_object_add(j, "display_name", ly_json_str_or_null(k->display_name));
    json_object_object_add(j, "description", ly_json_str_or_null(k->description));
    json_object_object_add(j, "owner", owner);
    json_object_object_add(j, "org", json_object_new_string(k->org_name));
    json_object_object_add(j, "role", ly_json_str_or_null(user ? ly_role_name(k->role) : NULL));
    json_object_object_add(j, "resource", ly_json_str_or_null(k->resource));
    json_object_object_add(j, "created_at", ly_json_time(k->created_at));
    json_object_object_add(j, "expires_at", ly_json_time(k->expires_at));
    json_object_object_add(j, "last_used_at", ly_json_time(k->last_used_at));
    if (made != NULL) {
        json_object_object_add(j, "secret", json_object_new_string(made->secret));
        json_object_object_add(j, "token", json_object_new_string(made->token));
    }
    return j;
}

/*
 * A duration member (a string as in SPEC §2, or whole seconds): LY_OK with
 * *out, 1 when absent, or an error added to errs.
 */
static int duration_field(struct json_object *body, const char *field, int64_t *out,
                          struct ly_field_errors *errs)
{
    if (!ly_json_has(body, field))
        return 1;
    const char *s = ly_json_get_string(body, field);
    int64_t v = ly_json_get_int(body, field, -1);
    if (s != NULL && ly_duration_parse(s, strlen(s), &v) != 0)
        v = -1;
    if (v < 0) {
        ly_field_errors_add(errs, field, duration_rule);
        return LY_E_VALIDATION;
    }
    *out = v;
    return LY_OK;
}

/* What a creation body says, checked (SPEC §5.11). */
struct key_body {
    const char *display_name;
    const char *description;
    const char *resource;
    int64_t expires_at; /* -1: never */
};

static void read_key_body(struct ly_call *c, struct key_body *kb, struct ly_field_errors *errs)
{
    struct json_object *body = c->req->json;
    kb->display_name =
        ly_api_text_field(body, "display_name", LY_DISPLAY_NAME_MAX, display_name_rule, errs);
    kb->description =
        ly_api_text_field(body, "description", LY_DESCRIPTION_MAX, description_rule, errs);
    kb->resource = ly_json_get_string(body, "resource");
    if (kb->resource != NULL && !ly_resource_is_valid(kb->resource)) {
        ly_field_errors_add(errs, "resource", resource_rule);
        kb->resource = NULL;
    }
    int64_t ttl = 0, at = 0;
    int t = duration_field(body, "ttl", &ttl, errs);
    bool has_at = ly_json_has(body, "expires_at");
    bool at_null = has_at && ly_json_is_null(body, "expires_at");
    const char *at_s = ly_json_get_string(body, "expires_at");
    if (at_s != NULL && ly_time_parse(at_s, &at) != 0) {
        ly_field_errors_add(errs, "expires_at", "must be an RFC 3339 time");
        return;
    }
    if (t < 0 || (has_at && !at_null && at_s == NULL))
        return; /* the wrong type is reported by ly_json_check_fields */
    const char *why = NULL;
    if (ly_api_keys_expiry(c->ctx->cfg, c->req->now, t == LY_OK, ttl, has_at, at_null, at,
                           &kb->expires_at, &why) != LY_OK)
        ly_field_errors_add(errs, t == LY_OK && !has_at ? "ttl" : "expires_at", why);
}

/* An event about key k, in the organization it acts in (SPEC §5.12: its id, never its token). */
static int record_key(struct ly_call *c, const char *action, const struct ly_api_key *k)
{
    return ly_api_audit(c, action, k->org_id, k->org_name,
                        (struct ly_audit_target){"api_key", k->id}, true);
}

/*
 * Make the key nk and answer it, 201, with its secret, this once. A
 * rotation (rotated: the old key) is recorded as api_key.rotated of the
 * old key and api_key.created of the new one, which the request id ties.
 */
static int make_key(struct ly_call *c, const struct ly_api_key_new *nk, bool over_limit,
                    const struct ly_api_key *rotated)
{
    struct ly_request *req = c->req;
    struct ly_api_key_made *m = ly_arena_zalloc(req->arena, sizeof(*m));
    int r = ly_api_keys_create(c->ctx->db, req->arena, c->ctx->cfg, nk, over_limit, req->now, m);
    if (r == LY_E_CONFLICT)
        return ly_api_fail(c, r, "the owner already has api_keys.max_per_account unexpired keys");
    if (r == LY_E_NOT_FOUND)
        return ly_api_fail(c, r, "the key's owner no longer exists");
    if (r == LY_OK && rotated != NULL)
        r = record_key(c, "api_key.rotated", rotated);
    if (r == LY_OK)
        r = record_key(c, "api_key.created", &m->key);
    if (r != LY_OK)
        return r;
    c->resp->no_store = true;
    ly_response_json(req, c->resp, 201, key_json(c, &m->key, m));
    ly_response_location(req, c->resp, key_path(c, &m->key));
    return LY_OK;
}

static const struct ly_json_field create_fields[] = {
    {"display_name", LY_JSON_STRING | LY_JSON_NULL, false},
    {"description", LY_JSON_STRING | LY_JSON_NULL, false},
    {"expires_at", LY_JSON_STRING | LY_JSON_NULL, false},
    {"ttl", LY_JSON_STRING | LY_JSON_INT, false},
    {"resource", LY_JSON_STRING | LY_JSON_NULL, false},
    /* personal keys only: */
    {"org", LY_JSON_STRING, true},
    {"role", LY_JSON_STRING, false},
};
#define N_SA_CREATE_FIELDS 5

/*
 * SPEC §5.11 rotation: a new key like the old one, the old one's expiry
 * brought to now + grace at the latest. Allowed at max_per_account.
 */
static int rotate(struct ly_call *c, const struct ly_api_key *old)
{
    struct ly_request *req = c->req;
    static const struct ly_json_field fields[] = {{"grace", LY_JSON_STRING | LY_JSON_INT, false}};
    struct ly_field_errors errs = {.n = 0};
    ly_json_check_fields(req->json, fields, 1, &errs);
    int64_t grace = GRACE_DEFAULT;
    if (duration_field(req->json, "grace", &grace, &errs) == LY_OK && grace > GRACE_MAX)
        ly_field_errors_add(&errs, "grace", "must be at most 30d");
    if (errs.n > 0)
        return ly_api_invalid(c, "the rotation is not valid", &errs);
    if (old->expires_at >= 0 && old->expires_at <= req->now)
        return ly_api_fail(c, LY_E_CONFLICT, "the key has expired: make a new one");
    int r = ly_api_keys_expire_by(c->ctx->db, req->arena, old->id, req->now + grace);
    if (r != LY_OK)
        return r;
    struct ly_api_key_new nk = {
        .owner_type = old->owner_type,
        .owner_id = old->owner_id,
        .org_id = old->org_id,
        .role = old->role,
        .resource = old->resource,
        .display_name = old->display_name,
        .description = old->description,
        .expires_at = ly_api_keys_rotated_expiry(c->ctx->cfg, req->now, old->lifetime),
    };
    return make_key(c, &nk, true, old);
}

static int update(struct ly_call *c, const struct ly_api_key *k)
{
    struct ly_request *req = c->req;
    static const struct ly_json_field fields[] = {
        {"display_name", LY_JSON_STRING | LY_JSON_NULL, false},
        {"description", LY_JSON_STRING | LY_JSON_NULL, false},
    };
    struct ly_field_errors errs = {.n = 0};
    ly_json_check_fields(req->json, fields, 2, &errs);
    const char *dn =
        ly_api_text_field(req->json, "display_name", LY_DISPLAY_NAME_MAX, display_name_rule, &errs);
    const char *desc =
        ly_api_text_field(req->json, "description", LY_DESCRIPTION_MAX, description_rule, &errs);
    if (errs.n > 0)
        return ly_api_invalid(c, "the change is not valid", &errs);
    struct ly_db *db = c->ctx->db;
    int r = ly_api_keys_update(db, req->arena, k->id, ly_json_has(req->json, "display_name"), dn,
                               ly_json_has(req->json, "description"), desc);
    struct ly_api_key now;
    if (r == LY_OK)
        r = ly_api_keys_find(db, req->arena, k->owner_id, k->id, &now);
    if (r == LY_E_NOT_FOUND)
        return ly_api_fail(c, r, "no such key");
    if (r == LY_OK)
        r = record_key(c, "api_key.updated", &now);
    if (r != LY_OK)
        return r;
    ly_response_json(req, c->resp, 200, key_json(c, &now, NULL));
    return LY_OK;
}

static int delete_key(struct ly_call *c, const struct ly_api_key *k)
{
    /* Opaque tokens exchanged with it go with the row (ON DELETE CASCADE). */
    int r = ly_api_keys_delete(c->ctx->db, c->req->arena, k->id);
    if (r == LY_E_NOT_FOUND)
        return ly_api_fail(c, r, "no such key");
    if (r == LY_OK)
        r = record_key(c, "api_key.deleted", k);
    if (r != LY_OK)
        return r;
    ly_response_empty(c->resp, 204);
    return LY_OK;
}

static int list(struct ly_call *c, enum ly_keys_scope scope, const char *who, const char *name)
{
    struct ly_request *req = c->req;
    const char *list_name = ly_arena_printf(req->arena, "%s:%s", name, who);
    struct ly_page page;
    int r = ly_list_page(c, list_name, &page);
    if (r != LY_OK)
        return r;
    struct ly_api_key *keys = NULL;
    size_t n = 0;
    bool more = false;
    r = ly_api_keys_list(c->ctx->db, req->arena, scope, who, req->now, &page, &keys, &n, &more);
    if (r != LY_OK)
        return r;
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, key_json(c, &keys[i], NULL));
    return ly_list_answer(c, list_name, items, more, n > 0 ? keys[n - 1].id : NULL);
}

/* The key id in the path, of this owner (or acting in this organization). */
static int find_key(struct ly_call *c, const char *owner_id, const char *org_id, const char *id,
                    struct ly_api_key *out)
{
    /* An id that cannot be one is answered like an unknown one, without a query. */
    int r = LY_E_NOT_FOUND;
    if (strlen(id) == LY_KEY_ID_LEN && ly_base32_is_alphabet(id, LY_KEY_ID_LEN))
        r = owner_id != NULL ? ly_api_keys_find(c->ctx->db, c->req->arena, owner_id, id, out)
                             : ly_api_keys_find_in_org(c->ctx->db, c->req->arena, org_id, id, out);
    if (r == LY_E_NOT_FOUND)
        return ly_api_fail(c, r, "no such key");
    return r;
}

/* --- a service account's keys: /orgs/{org}/service-accounts/{sa}/keys[/{key}] ------------ */

static int sa_key(struct ly_call *c, struct ly_api_key *out)
{
    struct ly_service_account sa;
    int r = ly_api_account_of_path(c, &sa);
    if (r != LY_OK)
        return r;
    return find_key(c, sa.id, NULL, c->req->params[2], out);
}

int ly_api_sa_keys_create(struct ly_call *c)
{
    struct ly_service_account sa;
    int r = ly_api_account_of_path(c, &sa);
    if (r != LY_OK)
        return r;
    struct ly_field_errors errs = {.n = 0};
    ly_json_check_fields(c->req->json, create_fields, N_SA_CREATE_FIELDS, &errs);
    struct key_body kb = {0};
    read_key_body(c, &kb, &errs);
    if (errs.n > 0)
        return ly_api_invalid(c, "the key is not valid", &errs);
    struct ly_api_key_new nk = {
        .owner_type = LY_PRINCIPAL_SERVICE_ACCOUNT,
        .owner_id = sa.id,
        .org_id = c->org.id,
        .role = LY_ROLE_NONE,
        .resource = kb.resource,
        .display_name = kb.display_name,
        .description = kb.description,
        .expires_at = kb.expires_at,
    };
    return make_key(c, &nk, false, NULL);
}

int ly_api_sa_keys_list(struct ly_call *c)
{
    struct ly_service_account sa;
    int r = ly_api_account_of_path(c, &sa);
    if (r != LY_OK)
        return r;
    return list(c, LY_KEYS_OF_OWNER, sa.id, "sa-keys");
}

int ly_api_sa_keys_get(struct ly_call *c)
{
    struct ly_api_key k;
    int r = sa_key(c, &k);
    if (r == LY_OK)
        ly_response_json(c->req, c->resp, 200, key_json(c, &k, NULL));
    return r;
}

int ly_api_sa_keys_update(struct ly_call *c)
{
    struct ly_api_key k;
    int r = sa_key(c, &k);
    return r == LY_OK ? update(c, &k) : r;
}

int ly_api_sa_keys_delete(struct ly_call *c)
{
    struct ly_api_key k;
    int r = sa_key(c, &k);
    return r == LY_OK ? delete_key(c, &k) : r;
}

int ly_api_sa_keys_rotate(struct ly_call *c)
{
    struct ly_api_key k;
    int r = sa_key(c, &k);
    return r == LY_OK ? rotate(c, &k) : r;
}

/* --- personal keys: /me/keys[/{key}] ------------------------------------------------------ */

static int my_key(struct ly_call *c, struct ly_api_key *out)
{
    return find_key(c, c->who->subject, NULL, c->req->params[0], out);
}

int ly_api_me_keys_create(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_field_errors errs = {.n = 0};
    ly_json_check_fields(req->json, create_fields, sizeof(create_fields) / sizeof(create_fields[0]),
                         &errs);
    struct key_body kb = {0};
    read_key_body(c, &kb, &errs);
    enum ly_role role = LY_ROLE_MEMBER;
    if (ly_json_has(req->json, "role")) {
        role = ly_role_parse(ly_json_get_string(req->json, "role"));
        if (role != LY_ROLE_ADMIN && role != LY_ROLE_MEMBER)
            ly_field_errors_add(&errs, "role", "must be \"admin\" or \"member\"");
    }
    if (errs.n > 0)
        return ly_api_invalid(c, "the key is not valid", &errs);
    /* SPEC §5.11: an organization the caller belongs to, a role no stronger than theirs there. */
    const char *name = ly_json_get_string(req->json, "org");
    struct ly_org org;
    enum ly_role mine = LY_ROLE_NONE;
    int r = LY_E_NOT_FOUND;
    if (ly_name_is_valid(name))
        r = ly_orgs_get(c->ctx->db, req->arena, name, c->who->subject, &org, &mine);
    if (r == LY_OK && mine == LY_ROLE_NONE)
        r = LY_E_NOT_FOUND;
    if (r == LY_E_NOT_FOUND)
        return ly_api_fail(c, r, "no such organization");
    if (r != LY_OK)
        return r;
    if (role > mine)
        return ly_api_fail(c, LY_E_FORBIDDEN, "a key cannot have a role above yours");
    struct ly_api_key_new nk = {
        .owner_type = LY_PRINCIPAL_USER,
        .owner_id = c->who->subject,
        .org_id = org.id,
        .role = role,
        .resource = kb.resource,
        .display_name = kb.display_name,
        .description = kb.description,
        .expires_at = kb.expires_at,
    };
    return make_key(c, &nk, false, NULL);
}

int ly_api_me_keys_list(struct ly_call *c)
{
    return list(c, LY_KEYS_OF_OWNER, c->who->subject, "me-keys");
}

int ly_api_me_keys_get(struct ly_call *c)
{
    struct ly_api_key k;
    int r = my_key(c, &k);
    if (r == LY_OK)
        ly_response_json(c->req, c->resp, 200, key_json(c, &k, NULL));
    return r;
}

int ly_api_me_keys_update(struct ly_call *c)
{
    struct ly_api_key k;
    int r = my_key(c, &k);
    return r == LY_OK ? update(c, &k) : r;
}

int ly_api_me_keys_delete(struct ly_call *c)
{
    struct ly_api_key k;
    int r = my_key(c, &k);
    return r == LY_OK ? delete_key(c, &k) : r;
}

int ly_api_me_keys_rotate(struct ly_call *c)
{
    struct ly_api_key k;
    int r = my_key(c, &k);
    return r == LY_OK ? rotate(c, &k) : r;
}

/* --- every key acting in an organization: /orgs/{org}/keys[/{key}] ------------------------ */

int ly_api_org_keys_list(struct ly_call *c)
{
    return list(c, LY_KEYS_IN_ORG, c->org.id, "org-keys");
}

int ly_api_org_keys_delete(struct ly_call *c)
{
    struct ly_api_key k;
    int r = find_key(c, NULL, c->org.id, c->req->params[1], &k);
    return r == LY_OK ? delete_key(c, &k) : r;
}
