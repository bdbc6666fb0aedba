/*
 * guard: what stands before every password check and hash (SPEC §5.2,
 * §5.10): a slot of the host's scrypt budget (security.scrypt_concurrency),
 * and for a check of an account's password, the sign-in throttle: the
 * attempt is reserved for the account before scrypt runs, so concurrent
 * attempts on several workers cannot pass the limit, and a client address
 * that fails too often is held back (security.signin_address_max_failures).
 */
#ifndef LY_GUARD_H
#define LY_GUARD_H

#include <stdbool.h>

#include "lanyard/api.h"

struct ly_guard {
    int slot;          /* the scrypt slot held, or -1 */
    const char *email; /* the account checked (lower-cased), or NULL */
};

/*
 * Take a scrypt slot and, when email is given, reserve this attempt on the
 * account's throttle (and check the address's). LY_OK, or an error with the
 * answer already in c->resp (429 with Retry-After, or 503 when the host is
 * saturated). Call ly_guard_end as soon as scrypt is done.
 */
int ly_guard_begin(struct ly_call *c, const char *email, struct ly_guard *g);
void ly_guard_end(struct ly_guard *g);

/* The password was wrong: count it for the client address too (autonomously, as the account). */
int ly_guard_failed(struct ly_call *c, const struct ly_guard *g);

/* The password was right: the account's failures are forgotten. */
int ly_guard_passed(struct ly_call *c, const struct ly_guard *g);

#endif
