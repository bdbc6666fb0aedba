#include "build-config.h"
#include "banned.h"

#include "lanyard/http.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "lanyard/config.h"
#include "lanyard/err.h"

void ly_response_header(struct ly_response *resp, const char *name, const char *value)
{
    /* Replace a header set before: the last decision wins. */
    for (size_t i = 0; i < resp->n_headers; i++) {
        if (strcmp(resp->headers[i].name, name) == 0) {
            resp->headers[i].value = value;
            return;
        }
    }
    if (resp->n_headers < LY_MAX_RESPONSE_HEADERS) {
        resp->headers[resp->n_headers].name = name;
        resp->headers[resp->n_headers].value = value;
        resp->n_headers++;
    }
}

void ly_response_json(struct ly_request *req, struct ly_response *resp, int status,
                      struct json_object *obj)
{
    ly_json_own(req->arena, obj);
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = ly_json_to_string(req->arena, obj, &resp->body_len);
}

void ly_response_empty(struct ly_response *resp, int status)
{
    resp->status = status;
    resp->content_type = NULL;
    resp->body = NULL;
    resp->body_len = 0;
}

void ly_response_problem(struct ly_request *req, struct ly_response *resp, int err,
                         const char *detail, const struct ly_field_errors *errs)
{
    int status = ly_err_status(err);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("about:blank"));
    json_object_object_add(o, "title", json_object_new_string(ly_http_reason(status)));
    json_object_object_add(o, "status", json_object_new_int(status));
    json_object_object_add(o, "detail", json_object_new_string(detail ? detail : ly_err_str(err)));
    json_object_object_add(o, "code", json_object_new_string(ly_err_code(err)));
    if (errs != NULL && errs->n > 0) {
        struct json_object *arr = json_object_new_array();
        for (size_t i = 0; i < errs->n; i++) {
            struct json_object *e = json_object_new_object();
            json_object_object_add(e, "field", json_object_new_string(errs->items[i].field));
            json_object_object_add(e, "message", json_object_new_string(errs->items[i].message));
            json_object_array_add(arr, e);
        }
        json_object_object_add(o, "errors", arr);
    }
    ly_response_json(req, resp, status, o);
    resp->content_type = "application/problem+json";
    if ((status == 429 || status == 503) && !ly_response_has_header(resp, "Retry-After"))
        ly_response_header(resp, "Retry-After", "5");
}

void ly_response_invalid(struct ly_request *req, struct ly_response *resp,
                         const struct ly_field_errors *errs)
{
    ly_response_problem(req, resp, LY_E_VALIDATION, "the request body is not valid", errs);
}

void ly_response_oauth_error(struct ly_request *req, struct ly_response *resp, int status,
                             const char *error, const char *description)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(error));
    if (description != NULL)
        json_object_object_add(o, "error_description", json_object_new_string(description));
    ly_response_json(req, resp, status, o);
    resp->no_store = true;
    if ((status == 429 || status == 503) && !ly_response_has_header(resp, "Retry-After"))
        ly_response_header(resp, "Retry-After", "5");
}

void ly_response_location(struct ly_request *req, struct ly_response *resp, const char *path)
{
    ly_response_header(resp, "Location",
                       ly_arena_printf(req->arena, "%s%s", req->cfg->server.public_url, path));
}

bool ly_response_has_header(const struct ly_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        if (strcmp(resp->headers[i].name, name) == 0)
            return true;
    return false;
}
