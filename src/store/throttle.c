#include "build-config.h"
#include "banned.h"

#include "lanyard/throttle.h"

#include <string.h>

#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"

/*
 * The row of a key: SHA-256 of "email\0<e-mail>", "addr\0<address>" or
 * "device\0<user id>". The column is still called email_hash (schema 001);
 * it holds any key's hash.
 */
static void key_hash(struct ly_arena *a, struct ly_throttle_key key,
                     unsigned char out[LY_SHA256_LEN])
{
    static const char *const kinds[] = {[LY_THROTTLE_ACCOUNT] = "email",
                                        [LY_THROTTLE_ADDRESS] = "addr",
                                        [LY_THROTTLE_DEVICE] = "device"};
    const char *kind = kinds[key.kind];
    const char *value = key.value ? key.value : "";
    size_t kl = strlen(kind) + 1, vl = strlen(value);
    char *buf = ly_arena_alloc(a, kl + vl);
    memcpy(buf, kind, kl); /* with its NUL: no kind name is a prefix of another's input */
    memcpy(buf + kl, value, vl);
    ly_sha256(buf, kl + vl, out);
}

/*
 * One statement counts the attempt and says which it was. A new row starts
 * a window at 1; an old row starts a new window at 1 when its window has
 * passed, else counts on (capped, so that a flood cannot overflow the INT).
 * The assignments run left to right, so window_start is tested before it
 * changes in both. LAST_INSERT_ID(expr) hands the row's new count back to
 * this connection as the statement's insert id, under the row lock the
 * statement holds: no other attempt can come between the write and the read.
 * On Galera the rule is a single row's too: two attempts on two nodes write
 * that one row (the count changes, but at the cap, long past any limit), so
 * one is refused at certification, and the server runs a refused
 * autocommit statement again (wsrep_retry_autocommit), which then counts
 * on from the other's count. No guard counter is needed (doc/decisions.md).
 */
static const char reserve_sql[] =
    "INSERT INTO signin_throttle (email_hash, window_start, failures)"
    " VALUES (?, ?, LAST_INSERT_ID(1)) ON DUPLICATE KEY UPDATE"
    " failures = LAST_INSERT_ID(IF(window_start <= ?, 1, LEAST(failures + 1, 2147483647))),"
    " window_start = IF(window_start <= ?, ?, window_start)";

int ly_throttle_reserve(struct ly_db *db, struct ly_arena *a, struct ly_throttle_key key,
                        unsigned max, int64_t window, int64_t now, int64_t *retry_after)
{
    unsigned char h[LY_SHA256_LEN];
    key_hash(a, key, h);
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_B(h, sizeof(h)), LY_DB_T(now), LY_DB_T(now - window),
                              LY_DB_T(now - window), LY_DB_T(now)};
    /* Counted at once and for good, whatever the request's unit does after (db.h). */
    int r = ly_db_exec_autonomous(db, a, reserve_sql, p, 5, &res);
    if (r != LY_OK)
        return r;
    uint64_t attempt = res.insert_id;
    if (attempt == 0)
        return LY_E_INTERNAL; /* cannot happen: LAST_INSERT_ID(expr) ran with expr >= 1 */
    if (attempt <= max)
        return LY_OK;
    /* Refused: only the Retry-After needs the window, so it may be read apart. */
    struct ly_db_value pk[] = {LY_DB_B(h, sizeof(h))};
    r = ly_db_exec(db, a, "SELECT window_start FROM signin_throttle WHERE email_hash = ?", pk, 1,
                   &res);
    if (r != LY_OK)
        return r;
    int64_t left = res.n_rows == 1 ? ly_db_int(&res, 0, 0, now) + window - now : 1;
    /* Another worker's clock may be ahead: never promise more than one window. */
    *retry_after = left < 1 ? 1 : left > window ? window : left;
    return LY_E_RATE_LIMITED;
}

int ly_throttle_peek(struct ly_db *db, struct ly_arena *a, struct ly_throttle_key key, unsigned max,
                     int64_t window, int64_t now, int64_t *retry_after)
{
    unsigned char h[LY_SHA256_LEN];
    key_hash(a, key, h);
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_B(h, sizeof(h))};
    int r =
        ly_db_exec(db, a, "SELECT failures, window_start FROM signin_throttle WHERE email_hash = ?",
                   p, 1, &res);
    if (r != LY_OK || res.n_rows == 0)
        return r;
    int64_t left = ly_db_int(&res, 0, 1, now) + window - now;
    if (ly_db_int(&res, 0, 0, 0) < (int64_t)max || left <= 0)
        return LY_OK;
    *retry_after = left > window ? window : left;
    return LY_E_RATE_LIMITED;
}

int ly_throttle_clear(struct ly_db *db, struct ly_arena *a, struct ly_throttle_key key)
{
    unsigned char h[LY_SHA256_LEN];
    key_hash(a, key, h);
    struct ly_db_value p[] = {LY_DB_B(h, sizeof(h))};
    return ly_db_exec(db, a, "DELETE FROM signin_throttle WHERE email_hash = ?", p, 1, NULL);
}

int ly_throttle_purge(struct ly_db *db, struct ly_arena *a, int64_t now, int64_t window,
                      unsigned limit, uint64_t *removed)
{
    struct ly_db_result res;
    /* Oldest first, along ix_signin_throttle_window (schema 002). */
    struct ly_db_value p[] = {LY_DB_T(now - window), LY_DB_I(limit)};
    int r = ly_db_exec(db, a,
                       "DELETE FROM signin_throttle WHERE window_start <= ?"
                       " ORDER BY window_start LIMIT ?",
                       p, 2, &res);
    if (r == LY_OK && removed != NULL)
        *removed = res.affected;
    return r;
}
