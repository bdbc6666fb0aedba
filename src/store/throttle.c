#include "build-config.h"
#include "banned.h"

#include "lanyard/throttle.h"

#include <string.h>

#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"

int ly_throttle_check(struct ly_db *db, struct ly_arena *a, const char *email, unsigned max,
                      int64_t window, int64_t now, int64_t *retry_after)
{
    unsigned char h[LY_SHA256_LEN];
    ly_sha256(email, strlen(email), h);
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_B(h, sizeof(h))};
    int r = ly_db_exec(db, a,
                       "SELECT failures, UNIX_TIMESTAMP(window_start) FROM signin_throttle"
                       " WHERE email_hash = ?",
                       p, 1, &res);
    if (r != LY_OK || res.n_rows == 0)
        return r;
    int64_t failures = ly_db_int(&res, 0, 0, 0);
    int64_t ends = ly_db_int(&res, 0, 1, 0) + window;
    if (failures >= (int64_t)max && ends > now) {
        *retry_after = ends - now;
        return LY_E_RATE_LIMITED;
    }
    return LY_OK;
}

int ly_throttle_fail(struct ly_db *db, struct ly_arena *a, const char *email, int64_t window,
                     int64_t now)
{
    unsigned char h[LY_SHA256_LEN];
    ly_sha256(email, strlen(email), h);
    /* One atomic statement, so concurrent failures on several workers all count. */
    struct ly_db_value p[] = {LY_DB_B(h, sizeof(h)), LY_DB_I(now), LY_DB_I(now - window),
                              LY_DB_I(now - window), LY_DB_I(now)};
    return ly_db_exec(db, a,
                      "INSERT INTO signin_throttle (email_hash, window_start, failures)"
                      " VALUES (?, FROM_UNIXTIME(?), 1) ON DUPLICATE KEY UPDATE"
                      " failures = IF(window_start <= FROM_UNIXTIME(?), 1, failures + 1),"
                      " window_start = IF(window_start <= FROM_UNIXTIME(?), FROM_UNIXTIME(?),"
                      " window_start)",
                      p, 5, NULL);
}

int ly_throttle_clear(struct ly_db *db, struct ly_arena *a, const char *email)
{
    unsigned char h[LY_SHA256_LEN];
    ly_sha256(email, strlen(email), h);
    struct ly_db_value p[] = {LY_DB_B(h, sizeof(h))};
    return ly_db_exec(db, a, "DELETE FROM signin_throttle WHERE email_hash = ?", p, 1, NULL);
}
