#include "build-config.h"
#include "banned.h"

#include "lanyard/http.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "lanyard/config.h"
#include "lanyard/err.h"
#include "lanyard/str.h"

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
    size_t len = 0;
    const char *body = ly_json_to_string(req->arena, obj, &len);
    ly_response_json_text(resp, status, body, len);
}

void ly_response_json_text(struct ly_response *resp, int status, const char *body, size_t len)
{
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = body;
    resp->body_len = len;
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

/*
 * The pieces of a header block: each is appended whole or not at all, as the
 * snprintf-per-line block it replaces did, so a block that would overflow
 * loses the piece that does not fit and nothing else.
 */
struct head {
    char *buf;
    size_t cap, n, start;
    bool over;
};

static void head_begin(struct head *h)
{
    h->start = h->n;
    h->over = false;
}

static void head_put(struct head *h, const char *s, size_t k)
{
    if (h->over || k >= h->cap - h->n) {
        h->over = true;
        return;
    }
    memcpy(h->buf + h->n, s, k);
    h->n += k;
}

#define HEAD_LIT(h, s) head_put(h, s, sizeof(s) - 1)

static void head_str(struct head *h, const char *s)
{
    head_put(h, s, strlen(s));
}

static void head_uint(struct head *h, unsigned long long v)
{
    char tmp[LY_U64_DEC_MAX];
    head_put(h, tmp, ly_str_from_u64(v, tmp));
}

static void head_end(struct head *h)
{
    /* the piece needs room for a NUL after it, as snprintf's did */
    if (h->over || h->n >= h->cap)
        h->n = h->start;
}

size_t ly_response_head(const struct ly_request *req, const struct ly_response *resp, char *buf,
                        size_t cap)
{
    struct head h = {buf, cap, 0, 0, false};
    if (cap == 0)
        return 0;
    head_begin(&h);
    HEAD_LIT(&h, "Status: ");
    if (resp->status < 0) {
        HEAD_LIT(&h, "-");
        head_uint(&h, 0ULL - (unsigned long long)(long long)resp->status);
    } else {
        head_uint(&h, (unsigned long long)resp->status);
    }
    HEAD_LIT(&h, " ");
    head_str(&h, ly_http_reason(resp->status));
    HEAD_LIT(&h, "\r\n");
    head_end(&h);
    if (resp->content_type != NULL) {
        head_begin(&h);
        HEAD_LIT(&h, "Content-Type: ");
        head_str(&h, resp->content_type);
        HEAD_LIT(&h, "\r\nContent-Length: ");
        head_uint(&h, (unsigned long long)resp->body_len);
        HEAD_LIT(&h, "\r\n");
        head_end(&h);
    }
    head_begin(&h);
    HEAD_LIT(&h, "X-Request-Id: ");
    head_str(&h, req->request_id);
    HEAD_LIT(&h, "\r\nX-Content-Type-Options: nosniff\r\n");
    head_end(&h);
    if (resp->no_store) {
        head_begin(&h);
        HEAD_LIT(&h, "Cache-Control: no-store\r\n");
        head_end(&h);
    }
    for (size_t i = 0; i < resp->n_headers; i++) {
        head_begin(&h);
        head_str(&h, resp->headers[i].name);
        HEAD_LIT(&h, ": ");
        head_str(&h, resp->headers[i].value);
        HEAD_LIT(&h, "\r\n");
        head_end(&h);
    }
    head_begin(&h);
    HEAD_LIT(&h, "\r\n");
    head_end(&h);
    return h.n;
}
