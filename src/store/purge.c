#include "build-config.h"
#include "banned.h"

#include "lanyard/purge.h"

#include "lanyard/err.h"
#include "lanyard/throttle.h"

/*
 * One table's statements. The database layer caches a prepared statement by
 * the address of its SQL, so each is a literal, built from the table's
 * condition (? is the cutoff, bound once, or twice for sessions) and the
 * indexed column a batch goes along, oldest first, so that a batch reads no
 * more rows than it deletes (indexes of schema 001, 002, 005, 007).
 */
struct table {
    const char *name;
    const char *delete_sql;
    const char *count_sql;
};

#define TABLE(name, where, order)                                                                  \
    {                                                                                              \
        name, "DELETE FROM " name " WHERE " where " ORDER BY " order " LIMIT ?",                   \
            "SELECT COUNT(*) FROM " name " WHERE " where                                           \
    }

/* A session that is not revoked ended when it was last refreshed more than
 * refresh_ttl ago; the NOT EXISTS keeps it while a token issued under a
 * longer refresh_ttl (the setting lowered since) is still valid. */
static const struct table tables[LY_PURGE_N] = {
    [LY_PURGE_REFRESH_TOKENS] = TABLE("refresh_tokens", "expires_at <= ?", "expires_at"),
    [LY_PURGE_ACCESS_TOKENS] = TABLE("access_tokens", "expires_at <= ?", "expires_at"),
    [LY_PURGE_SESSIONS] = TABLE("sessions",
                                "revoked_at IS NULL AND refreshed_at <= ? AND NOT EXISTS (SELECT 1"
                                " FROM refresh_tokens r WHERE r.session_id = sessions.id"
                                " AND r.expires_at > ?)",
                                "refreshed_at"),
    [LY_PURGE_DEVICE_CODES] = TABLE("device_codes", "expires_at <= ?", "expires_at"),
    [LY_PURGE_THROTTLE] = TABLE("signin_throttle", "window_start <= ?", "window_start"),
    [LY_PURGE_API_KEYS] = TABLE("api_keys", "expires_at <= ?", "expires_at"),
    [LY_PURGE_SSO_STATES] = TABLE("sso_states", "expires_at <= ?", "expires_at"),
};

/* Revoked sessions are ended at once: nothing can be refreshed from them. */
static const struct table revoked = TABLE("sessions", "revoked_at <= ?", "revoked_at");

const char *ly_purge_table_name(enum ly_purge_table t)
{
    return (unsigned)t < LY_PURGE_N ? tables[t].name : NULL;
}

int64_t ly_purge_cutoff(enum ly_purge_table t, const struct ly_purge_policy *p, int64_t now)
{
    switch (t) {
    case LY_PURGE_SESSIONS:
        return now - p->refresh_ttl;
    case LY_PURGE_DEVICE_CODES:
        return now - LY_PURGE_DEVICE_GRACE;
    case LY_PURGE_THROTTLE:
        return now - p->throttle_window;
    case LY_PURGE_API_KEYS:
        return now - LY_PURGE_KEY_GRACE;
    default:
        return now;
    }
}

/* The parameters of tables[t].where: the cutoff, and now for sessions' tokens. */
static size_t bind(enum ly_purge_table t, const struct ly_purge_policy *p, int64_t now,
                   struct ly_db_value out[2])
{
    out[0] = LY_DB_T(ly_purge_cutoff(t, p, now));
    out[1] = LY_DB_T(now);
    return t == LY_PURGE_SESSIONS ? 2 : 1;
}

static int delete_where(struct ly_db *db, struct ly_arena *a, const char *sql,
                        struct ly_db_value *params, size_t n, unsigned limit, uint64_t *removed)
{
    struct ly_db_result res;
    params[n] = LY_DB_I(limit);
    int r = ly_db_exec(db, a, sql, params, n + 1, &res);
    if (r == LY_OK)
        *removed = res.affected;
    return r;
}

int ly_purge_batch(struct ly_db *db, struct ly_arena *a, enum ly_purge_table t,
                   const struct ly_purge_policy *p, int64_t now, unsigned limit, uint64_t *removed)
{
    if ((unsigned)t >= LY_PURGE_N || limit == 0)
        return LY_E_INTERNAL;
    uint64_t n = 0, more = 0;
    int r;
    if (t == LY_PURGE_THROTTLE)
        return ly_throttle_purge(db, a, now, p->throttle_window, limit, removed);
    struct ly_db_value params[3];
    if (t == LY_PURGE_SESSIONS) {
        params[0] = LY_DB_T(now);
        r = delete_where(db, a, revoked.delete_sql, params, 1, limit, &n);
        if (r != LY_OK || n >= limit)
            goto out;
    }
    size_t np = bind(t, p, now, params);
    r = delete_where(db, a, tables[t].delete_sql, params, np, limit - (unsigned)n, &more);
    n += more;
out:
    if (r == LY_OK)
        *removed = n;
    return r;
}

static int count_where(struct ly_db *db, struct ly_arena *a, const char *sql,
                       const struct ly_db_value *params, size_t n, uint64_t *count)
{
    struct ly_db_result res;
    int r = ly_db_exec(db, a, sql, params, n, &res);
    if (r == LY_OK)
        *count = (uint64_t)ly_db_int(&res, 0, 0, 0);
    return r;
}

int ly_purge_count(struct ly_db *db, struct ly_arena *a, enum ly_purge_table t,
                   const struct ly_purge_policy *p, int64_t now, uint64_t *count)
{
    if ((unsigned)t >= LY_PURGE_N)
        return LY_E_INTERNAL;
    uint64_t n = 0, more = 0;
    int r = LY_OK;
    if (t == LY_PURGE_SESSIONS) {
        struct ly_db_value v = LY_DB_T(now);
        r = count_where(db, a, revoked.count_sql, &v, 1, &n);
    }
    struct ly_db_value params[2];
    size_t np = bind(t, p, now, params);
    if (r == LY_OK)
        r = count_where(db, a, tables[t].count_sql, params, np, &more);
    if (r == LY_OK)
        *count = n + more;
    return r;
}
