/*
 * issue: minting the tokens of a user session (SPEC §4, §5.2): an access
 * token in the configured format and a single-use refresh token.
 */
#ifndef LY_ISSUE_H
#define LY_ISSUE_H

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

/* Answer a token response with Cache-Control: no-store. */
void ly_issue_respond(struct ly_request *req, struct ly_response *resp, struct json_object *tokens);

#endif
