#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/json.h"
#include "lanyard/sessions.h"

/* SPEC §5.13: the caller's live sessions, newest first. */
int ly_api_me_sessions_list(struct ly_call *c)
{
    struct ly_request *req = c->req;
    const char *list = ly_arena_printf(req->arena, "sessions:%s", c->who->subject);
    struct ly_page page;
    int r = ly_list_page(c, list, &page);
    if (r != LY_OK)
        return r;
    struct ly_session *items = NULL;
    size_t n = 0;
    bool more = false;
    r = ly_sessions_list(c->ctx->db, req->arena, c->who->subject, req->now,
                         c->ctx->cfg->tokens.refresh_ttl, &page, &items, &n, &more);
    if (r != LY_OK)
        return r;
    struct json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        const struct ly_session *s = &items[i];
        struct json_object *j = json_object_new_object();
        json_object_object_add(j, "id", json_object_new_string(s->id));
        json_object_object_add(j, "created_at", ly_json_time(s->created_at));
        json_object_object_add(j, "last_used_at", ly_json_time(s->last_used_at));
        json_object_object_add(j, "expires_at", ly_json_time(s->expires_at));
        json_object_object_add(j, "ip", ly_json_str_or_null(s->ip));
        json_object_object_add(j, "user_agent", ly_json_str_or_null(s->user_agent));
        json_object_object_add(j, "current",
                               json_object_new_boolean(c->who->session_id != NULL &&
                                                       strcmp(c->who->session_id, s->id) == 0));
        json_object_array_add(arr, j);
    }
    return ly_list_answer(c, list, arr, more,
                          n > 0 ? ly_sessions_page_key(req->arena, &items[n - 1]) : NULL);
}

/* SPEC §5.13: end one of the caller's sessions as sign-out does; another's is not there. */
int ly_api_me_sessions_delete(struct ly_call *c)
{
    struct ly_request *req = c->req;
    const char *id = req->params[0];
    int r = ly_sessions_revoke_own(c->ctx->db, req->arena, c->who->subject, id, req->now);
    if (r == LY_E_NOT_FOUND)
        return ly_api_fail(c, r, "no such session");
    if (r != LY_OK)
        return r;
    r = ly_api_audit_user(c, "session.revoked", c->who->subject, NULL, NULL,
                          (struct ly_audit_target){"session", id}, true);
    if (r != LY_OK)
        return r;
    ly_response_empty(c->resp, 204);
    return LY_OK;
}
