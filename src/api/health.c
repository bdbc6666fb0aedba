#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <string.h>

#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/jwt.h"

/*
 * SPEC §5.1: a round trip to MariaDB decides the answer, one of two texts
 * fixed at build time (the version comes from configure.ac and holds no
 * character JSON would escape).
 */
int ly_api_health(struct ly_call *c)
{
    static const char up_body[] =
        "{\"status\":\"ok\",\"database\":\"ok\",\"version\":\"" PACKAGE_VERSION "\"}";
    static const char down_body[] = "{\"status\":\"unavailable\",\"database\":\"unavailable\","
                                    "\"version\":\"" PACKAGE_VERSION "\"}";
    struct ly_response *resp = c->resp;
    bool up = ly_db_ping(c->req->ctx->db, c->req->arena) == LY_OK;
    if (up)
        ly_response_json_text(resp, 200, up_body, sizeof(up_body) - 1);
    else
        ly_response_json_text(resp, 503, down_body, sizeof(down_body) - 1);
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
    ly_response_json_text(resp, 200, jwks, strlen(jwks));
    ly_response_header(resp, "Cache-Control", "public, max-age=300");
    return LY_OK;
}

/* SPEC §6: the description, built into the binary: the same bytes every time, never re-serialised.
 */
int ly_api_openapi(struct ly_call *c)
{
    struct ly_response *resp = c->resp;
    ly_response_json_text(resp, 200, ly_openapi_json, ly_openapi_json_len);
    ly_response_header(resp, "Cache-Control", "public, max-age=300");
    return LY_OK;
}
