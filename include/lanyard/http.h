/*
 * http: the request and response of one FastCGI exchange, independent of
 * libfcgi (only src/http/fcgi.c knows it), so the router and the handlers
 * can be driven from unit tests.
 */
#ifndef LY_HTTP_H
#define LY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/json.h"
#include "lanyard/str.h"

struct lanyard_ctx;
struct json_object;
struct ly_config;

#define LY_REQUEST_ID_MAX  128
#define LY_MAX_PATH_PARAMS 4
#define LY_MAX_HEADER_LEN  8192 /* a header value longer than this is a 400 */

/* The CGI parameters read on every request: request.c's table, in its order. */
#define LY_REQUEST_ENV_SLOTS 11
#define LY_ENV_AUTHORIZATION 10

struct ly_request {
    struct lanyard_ctx *ctx; /* the application's, never looked into by http/ */
    const struct ly_config *cfg;
    struct ly_arena *arena;
    char *const *env; /* the CGI/FastCGI parameters, NAME=value */
    /* The values of the names ly_request_env knows, filled by ly_request_init (request.c). */
    const char *env_slot[LY_REQUEST_ENV_SLOTS];
    bool env_indexed;
    const char *method;
    const char *raw_path;     /* REQUEST_URI up to '?', as received */
    struct ly_str query;      /* after '?', raw */
    const char *content_type; /* NULL when absent */
    struct ly_str body;
    uint64_t content_length;
    const char *client_ip; /* REMOTE_ADDR, or X-Forwarded-For from a trusted proxy */
    const char *user_agent;
    char request_id[LY_REQUEST_ID_MAX + 1];
    int64_t now;      /* the clock, read once per request (seconds) */
    int64_t start_us; /* monotonic microseconds at the start */
    /*
     * FastCGI role AUTHORIZER (spec §6.3): set by src/http/fcgi.c from the
     * begin-request record alone, never from a parameter, so no responder
     * request can ask for the authorizer's answer. ly_request_init clears it.
     */
    bool authorizer;

    /* Filled by the dispatcher of the API layer. */
    const char *params[LY_MAX_PATH_PARAMS]; /* decoded {…} segments */
    size_t n_params;
    struct json_object *json; /* parsed body for JSON routes */
    bool form;                /* the body is application/x-www-form-urlencoded */
};

#define LY_MAX_RESPONSE_HEADERS 12

struct ly_response {
    int status;
    const char *content_type; /* NULL: no body */
    const char *body;
    size_t body_len;
    struct {
        const char *name;
        const char *value;
    } headers[LY_MAX_RESPONSE_HEADERS];
    size_t n_headers;
    bool no_store;         /* Cache-Control: no-store */
    const char *principal; /* for the log line */
};

struct ly_cidr;
/* true when ip (text, IPv4 or IPv6) lies in one of the n CIDRs of list. */
bool ly_addr_in_cidrs(const struct ly_cidr *list, size_t n, const char *ip);

/* A CGI parameter by name ("HTTP_X_REQUEST_ID"), or NULL. */
const char *ly_request_env(const struct ly_request *req, const char *name);

/*
 * Fill the request from env (borrowed for the request's lifetime): method,
 * path, query, content type, client address (honouring
 * server.trusted_proxies), request id, clock; allocations go to arena.
 * Returns LY_OK, or LY_E_INVALID_REQUEST for headers no client should send
 * (the response is still answered with a request id). Authorization is not
 * judged here: the authentication layer answers its own 401s.
 */
int ly_request_init(struct ly_request *req, const struct ly_config *cfg, struct ly_arena *arena,
                    char *const *env);

/* Query parameter by name, percent-decoded into the arena. 0 found, 1 absent, LY_E_INVALID_REQUEST.
 */
int ly_request_query(struct ly_request *req, const char *name, const char **out);

/* A form field of an x-www-form-urlencoded body. Same returns as ly_request_query. */
int ly_form_get(struct ly_arena *a, struct ly_str form, const char *name, const char **out);

/*
 * The value of the cookie name in a Cookie header (RFC 6265 §5.4:
 * "a=b; c=d"), copied into the arena as sent (cookies are not
 * percent-decoded). Pairs are split at ';' and trimmed of spaces and tabs;
 * a pair without '=' and other cookies' values are skipped unjudged (other
 * applications of the host set them). 0 found, 1 absent,
 * LY_E_INVALID_REQUEST when name is sent more than once (ambiguous: a
 * cookie of another path or of a parent domain has the same name) or its
 * value has a byte outside RFC 6265's cookie-octet (quotes included). The
 * header's length is bounded by the request (LY_MAX_HEADER_LEN).
 */
int ly_cookie_get(struct ly_arena *a, struct ly_str header, const char *name, const char **out);

/* ly_cookie_get on the request's Cookie header (HTTP_COOKIE); absent header: 1. */
int ly_request_cookie(struct ly_request *req, const char *name, const char **out);

/*
 * Percent-decode s into the arena. '+' is a space when plus_is_space. NUL
 * bytes and malformed escapes are refused (-1).
 */
int ly_percent_decode(struct ly_arena *a, struct ly_str s, bool plus_is_space, const char **out,
                      size_t *outlen);

/* Set a header (replacing one of the same name). name and value are borrowed. */
void ly_response_header(struct ly_response *resp, const char *name, const char *value);
/*
 * The FastCGI header block of resp (Status, Content-Type and -Length,
 * X-Request-Id, the fixed and the set headers, the empty line) into buf:
 * its length, at most cap - 1. A piece that does not fit is left out whole.
 */
size_t ly_response_head(const struct ly_request *req, const struct ly_response *resp, char *buf,
                        size_t cap);

bool ly_response_has_header(const struct ly_response *resp, const char *name);

/* A JSON answer: status and obj (serialised, then released). */
void ly_response_json(struct ly_request *req, struct ly_response *resp, int status,
                      struct json_object *obj);

/* A JSON answer already written: status and the len bytes of body, which must outlive it. */
void ly_response_json_text(struct ly_response *resp, int status, const char *body, size_t len);

/* An empty answer (204 and friends). */
void ly_response_empty(struct ly_response *resp, int status);

/*
 * An application/problem+json answer for err (SPEC §3). detail is shown to
 * the client: never a secret, SQL, file path or stack. errs may be NULL.
 * Adds Retry-After for 429/503 (retry_after seconds, at least 1).
 */
void ly_response_problem(struct ly_request *req, struct ly_response *resp, int err,
                         const char *detail, const struct ly_field_errors *errs);

/* 400 validation_failed with errs, for a body whose fields break the rules. */
void ly_response_invalid(struct ly_request *req, struct ly_response *resp,
                         const struct ly_field_errors *errs);

/* RFC 6749 §5.2 error answer for the OAuth endpoints. */
void ly_response_oauth_error(struct ly_request *req, struct ly_response *resp, int status,
                             const char *error, const char *description);

/* "Location: <public_url><path>" */
void ly_response_location(struct ly_request *req, struct ly_response *resp, const char *path);

#endif
