#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/json.h"
#include "lanyard/orgs.h"
#include "lanyard/users.h"
#include "lanyard/validate.h"

/* SPEC §5.9: {user: {id, email, display_name}, role, added_at}. */
static struct json_object *member_to_json(const struct ly_member *m)
{
    struct json_object *u = json_object_new_object();
    json_object_object_add(u, "id", json_object_new_string(m->user_id));
    json_object_object_add(u, "email", json_object_new_string(m->email));
    json_object_object_add(u, "display_name", ly_json_str_or_null(m->display_name));
    struct json_object *j = json_object_new_object();
    json_object_object_add(j, "user", u);
    json_object_object_add(j, "role", json_object_new_string(ly_role_name(m->role)));
    json_object_object_add(j, "added_at", ly_json_time(m->added_at));
    return j;
}

/* Keyset lists are per organization: a token of one cannot be replayed on another. */
static const char *members_list_name(struct ly_request *req, const struct ly_org *org)
{
    return ly_arena_printf(req->arena, "members:%s", org->id);
}

/*
 * The user a {user} path segment names: an e-mail (compared lower-cased)
 * when it has an '@', else a user id. LY_E_NOT_FOUND when there is none.
 */
static int resolve_user(struct ly_request *req, const char *ref, struct ly_user *out)
{
    struct ly_db *db = req->ctx->db;
    if (strchr(ref, '@') != NULL) {
        const char *email = NULL;
        if (!ly_email_normalize(req->arena, ref, &email))
            return LY_E_NOT_FOUND;
        return ly_users_get_by_email(db, req->arena, email, out);
    }
    return ly_users_get(db, req->arena, ref, out);
}

int ly_api_members_list(struct ly_call *c)
{
    struct ly_request *req = c->req;
    const struct ly_org *org = &c->org;
    const char *list = members_list_name(req, org);
    struct ly_page page;
    int r = ly_list_page(c, list, &page);
    if (r != LY_OK)
        return r;
    struct ly_member *members = NULL;
    size_t n = 0;
    bool more = false;
    r = ly_members_list(req->ctx->db, req->arena, org->id, &page, &members, &n, &more);
    if (r != LY_OK)
        return r;
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, member_to_json(&members[i]));
    return ly_list_answer(c, list, items, more, n > 0 ? members[n - 1].email : NULL);
}

/* The answers of the store's refusals, shared by PUT and DELETE. */
static int member_problem(struct ly_request *req, struct ly_response *resp, int r)
{
    if (r == LY_E_FORBIDDEN)
        ly_response_problem(req, resp, r, "only an owner grants or takes the owner role", NULL);
    else if (r == LY_E_CONFLICT)
        ly_response_problem(req, resp, r, "an organization must keep at least one owner", NULL);
    else if (r == LY_E_NOT_FOUND)
        ly_response_problem(req, resp, r, "no such member", NULL);
    return r;
}

int ly_api_members_put(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    static const struct ly_json_field fields[] = {
        {"role", LY_JSON_STRING, true},
    };
    const struct ly_org *org = &c->org;
    int r;
    struct ly_field_errors errs = {.n = 0};
    ly_json_check_fields(req->json, fields, sizeof(fields) / sizeof(fields[0]), &errs);
    const char *role_s = ly_json_get_string(req->json, "role");
    enum ly_role role = ly_role_parse(role_s);
    if (role_s != NULL && role == LY_ROLE_NONE)
        ly_field_errors_add(&errs, "role", "must be owner, admin or member");
    if (errs.n > 0) {
        ly_response_problem(req, resp, LY_E_VALIDATION, "the membership is not valid", &errs);
        return LY_E_VALIDATION;
    }
    /*
     * Granting owner needs an owner, whoever the target: said before the
     * target is looked up, so the answer tells nothing about which e-mails
     * exist. Whether owner is involved otherwise depends on the target's
     * current role, which the store reads under its lock.
     */
    bool may_manage_owners = ly_policy_decide(&c->actor, LY_ACT_OWNER_MANAGE) == LY_ALLOW;
    if (role == LY_ROLE_OWNER && !may_manage_owners)
        return member_problem(req, resp, LY_E_FORBIDDEN);
    struct ly_user user;
    r = resolve_user(req, req->params[1], &user);
    if (r == LY_E_NOT_FOUND) {
        ly_response_problem(req, resp, r, "no such user", NULL);
        return r;
    }
    if (r != LY_OK)
        return r;
    bool added = false;
    struct ly_member m;
    r = ly_members_set(req->ctx->db, req->arena, org->id, user.id, role, may_manage_owners,
                       req->now, &added, &m);
    if (r == LY_E_FORBIDDEN || r == LY_E_CONFLICT || r == LY_E_NOT_FOUND)
        return member_problem(req, resp, r);
    /* A role set to what it was is recorded too: the event is the decision, made and kept. */
    if (r == LY_OK)
        r = ly_api_audit(c, added ? "member.added" : "member.updated", org->id, org->name,
                         (struct ly_audit_target){"member", user.id}, true);
    if (r != LY_OK)
        return r;
    m.email = user.email;
    m.display_name = user.display_name;
    ly_response_json(req, resp, added ? 201 : 200, member_to_json(&m));
    if (added)
        ly_response_location(
            req, resp,
            ly_arena_printf(req->arena, "/api/org/v1/orgs/%s/members/%s", org->name, user.id));
    return LY_OK;
}

int ly_api_members_delete(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    int r;
    struct ly_user user;
    int found = resolve_user(req, req->params[1], &user);
    if (found != LY_OK && found != LY_E_NOT_FOUND)
        return found;
    /* Leaving is one's own right; removing someone else needs org admin+ (SPEC §5.9). */
    bool self = found == LY_OK && c->who->type == LY_PRINCIPAL_USER &&
                strcmp(user.id, c->who->subject) == 0;
    enum ly_decision d =
        ly_policy_decide(&c->actor, self ? LY_ACT_MEMBER_LEAVE : LY_ACT_MEMBER_REMOVE);
    if (d != LY_ALLOW) {
        ly_response_problem(req, resp, ly_policy_err(d),
                            "your role in this organization does not allow this", NULL);
        return ly_policy_err(d);
    }
    if (found == LY_E_NOT_FOUND)
        return member_problem(req, resp, LY_E_NOT_FOUND);
    bool may_manage_owners = self || ly_policy_decide(&c->actor, LY_ACT_OWNER_MANAGE) == LY_ALLOW;
    r = ly_members_remove(req->ctx->db, req->arena, c->org.id, user.id, may_manage_owners);
    if (r == LY_E_FORBIDDEN || r == LY_E_CONFLICT || r == LY_E_NOT_FOUND)
        return member_problem(req, resp, r);
    if (r == LY_OK)
        r = ly_api_audit(c, "member.removed", c->org.id, c->org.name,
                         (struct ly_audit_target){"member", user.id}, true);
    if (r != LY_OK)
        return r;
    ly_response_empty(resp, 204);
    return LY_OK;
}
