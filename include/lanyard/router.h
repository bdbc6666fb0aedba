/*
 * router: the one static table of {method, path pattern, credential needed,
 * body kind, handler} (src/http/router.c). The router answers 404, 405 with
 * Allow, 413, 415 and malformed bodies, and authenticates the caller before
 * the handler runs, so a handler cannot forget to.
 */
#ifndef LY_ROUTER_H
#define LY_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "lanyard/http.h"

enum ly_auth_need {
    LY_AUTH_NONE,     /* no credential looked at */
    LY_AUTH_OPTIONAL, /* authenticated when an Authorization header is sent */
    LY_AUTH_ANY,      /* any valid credential */
    LY_AUTH_USER,     /* a user's access token (a service account: 403) */
    LY_AUTH_ADMIN,    /* a platform administrator */
};

enum ly_body_kind {
    LY_BODY_NONE,  /* a body is ignored */
    LY_BODY_JSON,  /* application/json, parsed into req->json */
    LY_BODY_OAUTH, /* form or JSON; every error in the RFC 6749 §5.2 form */
};

/*
 * A handler fills resp and returns LY_OK, or returns an error code and
 * leaves resp alone; the router then answers that error in the route's form.
 */
typedef int (*ly_handler_fn)(struct ly_request *req, struct ly_response *resp);

struct ly_route {
    const char *method;
    const char *pattern; /* segments; "{}" matches one segment, decoded into req->params */
    enum ly_auth_need auth;
    enum ly_body_kind body;
    ly_handler_fn handler;
};

/*
 * Match method and decoded path segments against the table. Returns the
 * route, or NULL with *allow set to a comma list of the path's methods
 * (NULL when no route has this path: 404). params receives the {} segments.
 */
const struct ly_route *ly_router_match(struct ly_arena *a, const char *method, const char *raw_path,
                                       const char **params, size_t *n_params, const char **allow,
                                       bool *bad_path);

/* Answer one request end to end (everything but the FastCGI I/O). */
void ly_router_handle(struct ly_request *req, struct ly_response *resp, bool body_too_large);

/*
 * The media type check of SPEC §3: 0 JSON ("application/json", charset
 * absent or utf-8), 1 form ("application/x-www-form-urlencoded"), -1 other.
 */
int ly_media_type_classify(const char *content_type);

#endif
