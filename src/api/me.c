#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include "lanyard/accounts.h"
#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/json.h"
#include "lanyard/orgs.h"
#include "lanyard/users.h"

static void write_credential(struct ly_json_writer *w, const struct ly_principal *p)
{
    ly_json_write_open(w, "credential", '{');
    if (p->cred == LY_CRED_API_KEY || p->cred == LY_CRED_BASIC) {
        ly_json_write_str(w, "type", "api_key");
        ly_json_write_str(w, "key_id", p->key_id);
    } else {
        ly_json_write_str(w, "type", "access_token");
        ly_json_write_str(w, "format", p->cred == LY_CRED_JWT ? "jwt" : "opaque");
        if (p->type == LY_PRINCIPAL_USER)
            ly_json_write_str(w, "session_id", p->session_id);
        else
            ly_json_write_str(w, "key_id", p->key_id);
    }
    ly_json_write_time(w, "expires_at", p->expires_at);
    /* SPEC §5.8: key credentials and the tokens exchanged with them say their scope. */
    if (p->key_id != NULL)
        ly_json_write_str(w, "resource", p->resource);
    ly_json_write_close(w, '}');
}

/* Written as text, not a json-c tree: /me is a hot path (doc/design.md, "The hot paths"). */
static void answer(struct ly_call *c, struct ly_json_writer *w)
{
    size_t len = 0;
    const char *body = ly_json_writer_text(w, &len);
    ly_response_json_text(c->resp, 200, body, len);
}

/*
 * The caller's identity: the one the credential's lookup fetched (SPEC §5.8,
 * /me in one statement), or else one query for it.
 */
static int me_user(struct ly_call *c, const struct ly_principal *p)
{
    struct ly_request *req = c->req;
    struct ly_identity who = {0};
    if (p->identity != NULL) {
        who = *p->identity;
    } else {
        /* LY_E_NOT_FOUND leaves who.user NULL: the user is gone. */
        int r = ly_orgs_identity(req->ctx->db, req->arena, p->subject, &who);
        if (r != LY_OK && r != LY_E_NOT_FOUND)
            return r;
    }
    const struct ly_user *u = who.user;
    if (u == NULL || u->disabled)
        return LY_E_INVALID_TOKEN;
    /* SPEC §5.8: a personal key shows only its organization, with its effective role. */
    bool key = ly_principal_is_personal_key(p);
    struct ly_json_writer w;
    ly_json_writer_init(&w, req->arena, 1024);
    ly_json_write_open(&w, NULL, '{');
    ly_json_write_str(&w, "type", "user");
    ly_json_write_open(&w, "user", '{');
    ly_json_write_str(&w, "id", u->id);
    ly_json_write_str(&w, "email", u->email);
    ly_json_write_str(&w, "display_name", u->display_name);
    /* A personal key never carries platform-administrator rights (SPEC §4): it says so. */
    ly_json_write_bool(&w, "platform_admin", u->platform_admin && !key);
    ly_json_write_time(&w, "created_at", u->created_at);
    ly_json_write_close(&w, '}');
    ly_json_write_open(&w, "organizations", '[');
    for (size_t i = 0; i < who.n_orgs; i++) {
        const struct ly_org_membership *om = &who.orgs[i];
        if (key && strcmp(om->name, p->org_name) != 0)
            continue;
        ly_json_write_open(&w, NULL, '{');
        ly_json_write_str(&w, "name", om->name);
        ly_json_write_str(&w, "display_name", om->display_name);
        ly_json_write_str(&w, "role", ly_role_name(key ? p->role : om->role));
        ly_json_write_close(&w, '}');
    }
    ly_json_write_close(&w, ']');
    write_credential(&w, p);
    ly_json_write_close(&w, '}');
    answer(c, &w);
    return LY_OK;
}

static int me_service_account(struct ly_call *c, const struct ly_principal *p)
{
    struct ly_request *req = c->req;
    struct ly_service_account got;
    const struct ly_service_account *a = p->identity != NULL ? p->identity->account : NULL;
    if (p->identity == NULL) {
        int r = ly_accounts_get(req->ctx->db, req->arena, p->subject, &got);
        if (r != LY_OK && r != LY_E_NOT_FOUND)
            return r;
        a = r == LY_OK ? &got : NULL;
    }
    /* A token names its organization: an account made again elsewhere is not the same. */
    if (a == NULL || (p->org_name != NULL && strcmp(p->org_name, a->org_name) != 0))
        return LY_E_INVALID_TOKEN;
    struct ly_json_writer w;
    ly_json_writer_init(&w, req->arena, 1024);
    ly_json_write_open(&w, NULL, '{');
    ly_json_write_str(&w, "type", "service_account");
    ly_api_account_write(c, &w, "service_account", a);
    write_credential(&w, p);
    ly_json_write_close(&w, '}');
    answer(c, &w);
    return LY_OK;
}

/* SPEC §5.8: at most two indexed queries; one when the credential's lookup brought the identity. */
int ly_api_me(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    const struct ly_principal *p = c->who;
    int r = p->type == LY_PRINCIPAL_USER ? me_user(c, p) : me_service_account(c, p);
    if (r == LY_E_INVALID_TOKEN) {
        struct ly_auth_failure fail = {LY_SCHEME_BEARER,
                                       "the account no longer exists or is disabled"};
        ly_auth_challenge(req, resp, r, &fail);
        return LY_OK;
    }
    return r;
}
