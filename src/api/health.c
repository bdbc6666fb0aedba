#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/jwt.h"

/* SPEC §5.1: a round trip to MariaDB decides the answer. */
int ly_api_health(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    bool up = ly_db_ping(req->ctx->db) == LY_OK;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string(up ? "ok" : "unavailable"));
    json_object_object_add(o, "database", json_object_new_string(up ? "ok" : "unavailable"));
    json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
    ly_response_json(req, resp, up ? 200 : 503, o);
    resp->no_store = true;
    if (!up)
        ly_response_header(resp, "Retry-After", "5");
    return LY_OK;
}

/* SPEC §5.1: the public keys; none to publish in opaque mode or with HS256. */
int ly_api_jwks(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct ly_response *resp = c->resp;
    const char *jwks = req->ctx->keys ? ly_keyset_jwks(req->ctx->keys) : NULL;
    if (jwks == NULL) {
        ly_response_problem(req, resp, LY_E_NOT_FOUND, "no public keys are published", NULL);
        return LY_OK;
    }
    resp->status = 200;
    resp->content_type = "application/json";
    resp->body = jwks;
    resp->body_len = strlen(jwks);
    ly_response_header(resp, "Cache-Control", "public, max-age=300");
    return LY_OK;
}

/* SPEC §6: the description, built into the binary: the same bytes every time, never re-serialised.
 */
int ly_api_openapi(struct ly_call *c)
{
    struct ly_response *resp = c->resp;
    resp->status = 200;
    resp->content_type = "application/json";
    resp->body = ly_openapi_json;
    resp->body_len = ly_openapi_json_len;
    ly_response_header(resp, "Cache-Control", "public, max-age=300");
    return LY_OK;
}
