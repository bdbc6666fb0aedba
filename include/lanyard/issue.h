/*
 * issue: minting access tokens (SPEC §4): a user session's access token in
 * the configured format with its single-use refresh token (§5.2), and a
 * service account's access token exchanged for an API key (§5.3).
 */
#ifndef LY_ISSUE_H
#define LY_ISSUE_H

#include "lanyard/auth.h"
#include "lanyard/http.h"

struct json_object;

/*
 * Make an access token and a refresh token for session_id of user_id,
 * storing what must be stored (the refresh token's hash; the opaque access
 * token's hash). Call inside the caller's transaction, and answer *out (the
 * token response object, owned by the request arena) only after the commit.
 */
int ly_issue_user_tokens(struct ly_request *req, const char *user_id, const char *session_id,
                         struct json_object **out);

/*
 * SPEC §5.3 client_credentials: an access token for the service account p
 * authenticated with an API key, in the configured format, living
 * access_ttl but never beyond the key. *out is {access_token, token_type,
 * expires_in}, owned by the request arena.
 */
int ly_issue_account_token(struct ly_request *req, const struct ly_principal *p,
                           struct json_object **out);

/* Answer a token response with Cache-Control: no-store. */
void ly_issue_respond(struct ly_request *req, struct ly_response *resp, struct json_object *tokens);

/* SPEC §5.14: the console's refresh token travels in this cookie, never in page script's reach. */
#define LY_REFRESH_COOKIE "lanyard_refresh"

/*
 * Answer a token response for the console (SPEC §5.14): the refresh token
 * moves from the body into Set-Cookie: lanyard_refresh (HttpOnly,
 * SameSite=Strict, Path=/api/auth/v1/, Max-Age=refresh_ttl, Secure when
 * server.public_url is https), with Cache-Control: no-store.
 */
void ly_issue_respond_cookie(struct ly_request *req, struct ly_response *resp,
                             struct json_object *tokens);

/*
 * Only the Set-Cookie of ly_issue_respond_cookie, for an answer that is not
 * the token response (the SSO callback's redirect, SPEC §5.15).
 */
void ly_issue_set_cookie(struct ly_request *req, struct ly_response *resp,
                         struct json_object *tokens);

/* Set-Cookie that makes the browser drop lanyard_refresh (Max-Age=0, the same Path and flags). */
void ly_issue_clear_cookie(struct ly_request *req, struct ly_response *resp);

#endif
