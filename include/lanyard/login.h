/*
 * login: the lanyard-login command-line client (SPEC §1): the device flow of
 * §5.4 against a Lanyard service, and the tokens it keeps (creds.h).
 */
#ifndef LY_LOGIN_H
#define LY_LOGIN_H

#include "lanyard/arena.h"

/* Exit statuses of lanyard-login (SPEC §1). */
#define LY_LOGIN_EXIT_OK    0
#define LY_LOGIN_EXIT_FAIL  1
#define LY_LOGIN_EXIT_USAGE 2

/*
 * Run lanyard-login with its command line; returns the exit status. Errors
 * go to stderr, one line each; stdout holds only what the command answers
 * (for `token`, the token alone).
 */
int ly_login_main(int argc, char **argv);

/*
 * url without trailing slashes, scheme and host lower-cased, in a; NULL when
 * it is not an absolute http(s) URL without userinfo, query or fragment.
 * Entries of the credentials file are keyed by it.
 */
char *ly_login_normalize_url(struct ly_arena *a, const char *url);

#endif
