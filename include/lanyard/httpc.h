/*
 * httpc: the outbound HTTP client (libcurl), for the worker's SSO calls to
 * an organization's identity provider and for lanyard-login.
 *
 * Every request is bounded: TLS verification on (peer and host), a connect
 * and a total timeout, a cap on the response body, no redirect followed
 * (a 3xx is answered to the caller as it came), and only http(s). Plain
 * http is refused unless the caller allows it (the SSO rules allow it only
 * to a loopback address, SPEC §5.15).
 */
#ifndef LY_HTTPC_H
#define LY_HTTPC_H

#include <stdbool.h>
#include <stddef.h>

#include "lanyard/arena.h"

struct ly_httpc; /* one per process: holds the curl handle (connection reuse) */

struct ly_httpc_opts {
    long connect_timeout_ms; /* default 5000 */
    long total_timeout_ms;   /* default 10000 */
    size_t max_body;         /* default 1 MiB; a longer answer fails with LY_E_TOO_LARGE */
    const char *ca_file;     /* NULL: the system's trust store */
    bool allow_http;         /* false: https only; true: http also (any host) */
    const char *user_agent;  /* NULL: "lanyard" */
};

struct ly_httpc_req {
    const char *method; /* "GET" or "POST" */
    const char *url;
    const char *content_type; /* POST: e.g. "application/x-www-form-urlencoded" */
    const char *body;         /* POST body (NUL-terminated), or NULL */
    const char *basic_user;   /* non-NULL: Authorization: Basic (RFC 6749 §2.3.1 encoding) */
    const char *basic_pass;
    const char *bearer; /* non-NULL: Authorization: Bearer */
};

struct ly_httpc_resp {
    long status;
    char *content_type; /* in the arena; "" when absent */
    char *location;     /* in the arena; "" when absent */
    char *body;         /* in the arena, NUL-terminated */
    size_t body_len;
};

int ly_httpc_new(const struct ly_httpc_opts *opts, struct ly_httpc **out);
void ly_httpc_free(struct ly_httpc *c);

/*
 * Perform req. Returns LY_OK and fills *resp (any HTTP status is LY_OK), or
 * LY_E_UNAVAILABLE (could not connect, timeout, TLS failure), LY_E_TOO_LARGE,
 * LY_E_INVALID_REQUEST (a URL with another scheme, or http when not allowed);
 * err gets a one-line reason without credentials. *resp untouched on failure.
 */
int ly_httpc_do(struct ly_httpc *c, const struct ly_httpc_req *req, struct ly_arena *a,
                struct ly_httpc_resp *resp, char *err, size_t errlen);

/* true if url is http://127.x.x.x, http://[::1] or http://localhost (any port/path). */
bool ly_httpc_is_loopback_http(const char *url);

/* application/x-www-form-urlencoded encoding of s, in a. */
char *ly_httpc_form_escape(struct ly_arena *a, const char *s);

#endif
