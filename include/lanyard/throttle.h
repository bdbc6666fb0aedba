/*
 * throttle: sign-in failures per account, kept in the database so that all
 * workers agree (SPEC §5.2). Accounts are keyed by the SHA-256 of the
 * lower-cased e-mail, so unknown addresses are throttled exactly like known
 * ones (no enumeration through 429s) and are not stored in clear.
 */
#ifndef LY_THROTTLE_H
#define LY_THROTTLE_H

#include <stdint.h>

#include "lanyard/arena.h"

struct ly_db;

/*
 * LY_OK when email may try now; LY_E_RATE_LIMITED with *retry_after (>= 1)
 * when max failures fell within the window that is still open.
 */
int ly_throttle_check(struct ly_db *db, struct ly_arena *a, const char *email, unsigned max,
                      int64_t window, int64_t now, int64_t *retry_after);

/* Count one failure (a new window starts when the old one has passed). */
int ly_throttle_fail(struct ly_db *db, struct ly_arena *a, const char *email, int64_t window,
                     int64_t now);

/* Forget the failures of email (after a successful sign-in). */
int ly_throttle_clear(struct ly_db *db, struct ly_arena *a, const char *email);

#endif
