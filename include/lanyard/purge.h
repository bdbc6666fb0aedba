/*
 * purge: bounded storage (SPEC §6). The rows of expired or ended
 * credentials are deleted a small batch at a time, each batch by an indexed
 * condition so that it holds few locks for a short time; the caller (the
 * API layer's idle tick, lanyardctl purge) owns the unit of work and
 * commits each batch on its own. Audit events are never purged.
 *
 * What "ended" means per table, as of now (never the database's clock):
 *   refresh_tokens  expired. A spent token of a live session stays until it
 *                   expires: presenting it again is how reuse is detected.
 *   access_tokens   expired (opaque mode).
 *   sessions        revoked, or not refreshed within tokens.refresh_ttl and
 *                   with no unexpired refresh token (those of a revoked
 *                   session go with it, by the foreign key).
 *   device_codes    expired more than LY_PURGE_DEVICE_GRACE ago: a poll just
 *                   after expiry still finds its row and gets expired_token.
 *   signin_throttle whose window ended (ly_throttle_purge).
 *   api_keys        expired more than LY_PURGE_KEY_GRACE ago, with their
 *                   last use; their opaque access tokens go with them.
 *   sso_states      expired.
 */
#ifndef LY_PURGE_H
#define LY_PURGE_H

#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/db.h"

#define LY_PURGE_DEVICE_GRACE 3600         /* 1 h */
#define LY_PURGE_KEY_GRACE    (30 * 86400) /* 30 d */

/* In the order a full purge goes: tokens before the sessions they name. */
enum ly_purge_table {
    LY_PURGE_REFRESH_TOKENS = 0,
    LY_PURGE_ACCESS_TOKENS,
    LY_PURGE_SESSIONS,
    LY_PURGE_DEVICE_CODES,
    LY_PURGE_THROTTLE,
    LY_PURGE_API_KEYS,
    LY_PURGE_SSO_STATES,
    LY_PURGE_N
};

/* What the conditions depend on in the configuration. */
struct ly_purge_policy {
    int64_t refresh_ttl;     /* tokens.refresh_ttl */
    int64_t throttle_window; /* security.signin_window: the longest throttle window */
};

/* The table's name, as printed by lanyardctl purge; NULL out of range. */
const char *ly_purge_table_name(enum ly_purge_table t);

/*
 * The time at or before which a row of t has ended: a row is purged when its
 * time column (expiry, window start, last refresh) is <= the cutoff. Pure.
 */
int64_t ly_purge_cutoff(enum ly_purge_table t, const struct ly_purge_policy *p, int64_t now);

/*
 * Delete at most limit (>= 1) ended rows of t; *removed is how many. Rows
 * removed by a foreign key's cascade are not counted.
 */
int ly_purge_batch(struct ly_db *db, struct ly_arena *a, enum ly_purge_table t,
                   const struct ly_purge_policy *p, int64_t now, unsigned limit, uint64_t *removed);

/* The number of ended rows of t, deleting nothing (a dry run). */
int ly_purge_count(struct ly_db *db, struct ly_arena *a, enum ly_purge_table t,
                   const struct ly_purge_policy *p, int64_t now, uint64_t *count);

#endif
