/*
 * throttle: sign-in attempts counted in the database, so that all workers
 * agree (SPEC §5.2), per key within a fixed window that starts at the first
 * attempt. A key is a kind and a string: the lower-cased e-mail of an
 * account, a client address, or the user id of one approving device codes
 * (SPEC §5.4). Rows are keyed by the SHA-256 of the kind's name, a NUL and
 * the string, so the kinds never collide, unknown accounts
 * are throttled exactly like known ones (no enumeration through 429s) and
 * nothing is stored in clear.
 *
 * Reserve, then act: an attempt is counted before the password is checked,
 * in one atomic statement, so of any number of concurrent attempts at most
 * max are let through per window, whatever the number of workers.
 */
#ifndef LY_THROTTLE_H
#define LY_THROTTLE_H

#include <stdint.h>

#include "lanyard/arena.h"

struct ly_db;

enum ly_throttle_kind {
    LY_THROTTLE_ACCOUNT, /* the normalised (lower-cased) e-mail */
    LY_THROTTLE_ADDRESS, /* the client address, as text (struct ly_request.client_ip) */
    LY_THROTTLE_DEVICE,  /* a user id: wrong user codes approved (SPEC §5.4) */
};

struct ly_throttle_key {
    enum ly_throttle_kind kind;
    const char *value;
};

static inline struct ly_throttle_key ly_throttle_account(const char *email)
{
    struct ly_throttle_key k = {LY_THROTTLE_ACCOUNT, email};
    return k;
}

static inline struct ly_throttle_key ly_throttle_address(const char *ip)
{
    struct ly_throttle_key k = {LY_THROTTLE_ADDRESS, ip};
    return k;
}

static inline struct ly_throttle_key ly_throttle_device(const char *user_id)
{
    struct ly_throttle_key k = {LY_THROTTLE_DEVICE, user_id};
    return k;
}

/*
 * Count one attempt for key. A window of `window` seconds starts with the
 * first attempt after the previous window ended. LY_OK when this attempt is
 * among the first max of its window; LY_E_RATE_LIMITED when it is not, with
 * *retry_after the seconds until the window ends (1..window). Other errors
 * come from ly_db_exec. Call it before the expensive check: the attempt is
 * counted by an autonomous statement (db.h), committed at once whatever the
 * caller's unit does after, and the row is locked only while it runs, so a
 * flood on one account queues no worker behind another's scrypt.
 */
int ly_throttle_reserve(struct ly_db *db, struct ly_arena *a, struct ly_throttle_key key,
                        unsigned max, int64_t window, int64_t now, int64_t *retry_after)
    __attribute__((warn_unused_result));

/*
 * Whether key has used up max attempts of a window still open, without
 * counting one: LY_E_RATE_LIMITED with *retry_after, or LY_OK. For a limit
 * that counts failures only (the client address), where being a few over
 * under concurrency is acceptable and a lock across scrypt is not.
 */
int ly_throttle_peek(struct ly_db *db, struct ly_arena *a, struct ly_throttle_key key, unsigned max,
                     int64_t window, int64_t now, int64_t *retry_after);

/* Forget the attempts of key (after a successful sign-in). */
int ly_throttle_clear(struct ly_db *db, struct ly_arena *a, struct ly_throttle_key key);

/*
 * Delete at most limit rows whose window ended by now, for a call when idle
 * (a small batch holds few locks). window must be the longest window any key
 * is reserved with: a row is never removed while its window may be open.
 * *removed (may be NULL) is the number of rows deleted.
 */
int ly_throttle_purge(struct ly_db *db, struct ly_arena *a, int64_t now, int64_t window,
                      unsigned limit, uint64_t *removed);

#endif
