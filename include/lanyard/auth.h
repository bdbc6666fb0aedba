/*
 * auth: the one place that turns an Authorization header into a principal
 * (SPEC §4), or into a precise RFC 6750 / Basic 401.
 */
#ifndef LY_AUTH_H
#define LY_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "lanyard/http.h"
#include "lanyard/jwt.h"

enum ly_cred_type { LY_CRED_ACCESS_TOKEN = 0, LY_CRED_API_KEY = 1 };

struct ly_principal {
    enum ly_principal_type type;
    const char *id; /* u-… or sa-… */
    enum ly_cred_type cred;
    bool jwt;               /* an access token in JWT format */
    const char *session_id; /* users */
    const char *key_id;     /* API keys and the tokens exchanged with them */
    const char *org_name;   /* service accounts: their organization's name */
    const char *org_id;     /* service accounts */
    const char *role;       /* service accounts: "admin" or "member" */
    int64_t expires_at;     /* of the credential; -1 none */
    bool admin_known;       /* platform_admin was looked up */
    bool platform_admin;
};

enum ly_auth_scheme { LY_SCHEME_NONE = 0, LY_SCHEME_BEARER, LY_SCHEME_BASIC, LY_SCHEME_OTHER };

struct ly_auth_failure {
    enum ly_auth_scheme scheme; /* what the client sent */
    const char *why;            /* static, for error_description; never token material */
};

/*
 * Authenticate the request's Authorization header. Returns LY_OK with *out
 * (in the request arena); LY_E_UNAUTHENTICATED when no credential was sent;
 * LY_E_INVALID_TOKEN when one was sent and refused (fail says how);
 * LY_E_UNAVAILABLE when the database is needed and down.
 */
int ly_auth_authenticate(struct ly_request *req, const struct ly_principal **out,
                         struct ly_auth_failure *fail);

/*
 * Make sure p->platform_admin is known for a user (one indexed lookup, at
 * most once per request); a user disabled or deleted since the token was
 * issued makes this LY_E_INVALID_TOKEN.
 */
int ly_auth_load_user(struct ly_request *req, struct ly_principal *p);

/* Set WWW-Authenticate and a problem answer for an authentication failure. */
void ly_auth_challenge(struct ly_request *req, struct ly_response *resp, int err,
                       const struct ly_auth_failure *fail);

#endif
