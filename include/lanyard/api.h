/*
 * api: the endpoint handlers of SPEC §5, one file per resource in src/api/.
 * Each is a ly_handler_fn (router.h): the router has already matched the
 * route, checked the body's media type, parsed it, and authenticated the
 * caller as the route requires.
 */
#ifndef LY_API_H
#define LY_API_H

#include "lanyard/http.h"

/* §5.1 */
int ly_api_health(struct ly_request *req, struct ly_response *resp);
int ly_api_jwks(struct ly_request *req, struct ly_response *resp);

/* §5.2, §5.3 */
int ly_api_signin(struct ly_request *req, struct ly_response *resp);
int ly_api_signup(struct ly_request *req, struct ly_response *resp);
int ly_api_signout(struct ly_request *req, struct ly_response *resp);
int ly_api_token(struct ly_request *req, struct ly_response *resp);

/* §5.8 */
int ly_api_me(struct ly_request *req, struct ly_response *resp);

/* §5.9 */
int ly_api_orgs_create(struct ly_request *req, struct ly_response *resp);
int ly_api_orgs_list(struct ly_request *req, struct ly_response *resp);
int ly_api_orgs_get(struct ly_request *req, struct ly_response *resp);
int ly_api_orgs_update(struct ly_request *req, struct ly_response *resp);
int ly_api_orgs_delete(struct ly_request *req, struct ly_response *resp);
int ly_api_members_list(struct ly_request *req, struct ly_response *resp);
int ly_api_members_put(struct ly_request *req, struct ly_response *resp);
int ly_api_members_delete(struct ly_request *req, struct ly_response *resp);

/* §5.10 */
int ly_api_users_create(struct ly_request *req, struct ly_response *resp);
int ly_api_users_list(struct ly_request *req, struct ly_response *resp);
int ly_api_users_get(struct ly_request *req, struct ly_response *resp);
int ly_api_users_update(struct ly_request *req, struct ly_response *resp);
int ly_api_users_delete(struct ly_request *req, struct ly_response *resp);

#endif
