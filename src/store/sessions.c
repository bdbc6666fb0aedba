#include "build-config.h"
#include "banned.h"

#include "lanyard/sessions.h"

#include <string.h>

#include "lanyard/accounts.h"
#include "lanyard/civil.h"
#include "lanyard/db.h"
#include "lanyard/str.h"
#include "lanyard/err.h"
#include "lanyard/validate.h"

#define H(h) LY_DB_B((h), LY_SHA256_LEN)

int ly_sessions_create(struct ly_db *db, struct ly_arena *a, const char *user_id, const char *kind,
                       const char *ip, const char *user_agent, int64_t now, const char **id)
{
    const char *sid = ly_id_generate(a, "ses-", 20);
    /*
     * Both are the client's to choose (the address through a trusted
     * proxy's X-Forwarded-For, or whatever the web server put in
     * REMOTE_ADDR): keep what the columns take, so that no User-Agent can
     * make the insert, and with it the sign-in, fail.
     */
    struct ly_db_value p[] = {LY_DB_S(sid),
                              LY_DB_S(user_id),
                              LY_DB_S(kind),
                              LY_DB_T(now),
                              LY_DB_T(now),
                              LY_DB_S(ly_utf8_clean(a, ip, LY_SESSION_IP_MAX)),
                              LY_DB_S(ly_utf8_clean(a, user_agent, LY_SESSION_USER_AGENT_MAX))};
    int r = ly_db_exec(db, a,
                       "INSERT INTO sessions (id, user_id, kind, created_at, refreshed_at, ip,"
                       " user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       p, 7, NULL);
    if (r == LY_OK)
        *id = sid;
    return r;
}

int ly_sessions_touch(struct ly_db *db, struct ly_arena *a, const char *session_id, int64_t now)
{
    struct ly_db_value p[] = {LY_DB_T(now), LY_DB_S(session_id)};
    return ly_db_exec(db, a, "UPDATE sessions SET refreshed_at = ? WHERE id = ?", p, 2, NULL);
}

int ly_sessions_revoke(struct ly_db *db, struct ly_arena *a, const char *session_id, int64_t now)
{
    struct ly_db_value p[] = {LY_DB_T(now), LY_DB_S(session_id)};
    int r = ly_db_exec(db, a,
                       "UPDATE sessions SET revoked_at = ?"
                       " WHERE id = ? AND revoked_at IS NULL",
                       p, 2, NULL);
    if (r != LY_OK)
        return r;
    return ly_db_exec(db, a, "DELETE FROM access_tokens WHERE session_id = ?", p + 1, 1, NULL);
}

int ly_sessions_revoke_own(struct ly_db *db, struct ly_arena *a, const char *user_id,
                           const char *session_id, int64_t now)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_T(now), LY_DB_S(session_id), LY_DB_S(user_id)};
    int r = ly_db_exec(db, a,
                       "UPDATE sessions SET revoked_at = ?"
                       " WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
                       p, 3, &res);
    if (r != LY_OK)
        return r;
    if (res.affected != 1)
        return LY_E_NOT_FOUND;
    return ly_db_exec(db, a, "DELETE FROM access_tokens WHERE session_id = ?", p + 1, 1, NULL);
}

const char *ly_sessions_page_key(struct ly_arena *a, const struct ly_session *s)
{
    return ly_arena_printf(a, "%lld:%s", (long long)s->created_at, s->id);
}

int ly_sessions_list(struct ly_db *db, struct ly_arena *a, const char *user_id, int64_t now,
                     int64_t refresh_ttl, const struct ly_page *page, struct ly_session **out,
                     size_t *n, bool *more)
{
    /* Keyset on (created_at, id), newest first: sessions made meanwhile never shift a page. */
    int64_t before_t = LY_TIME_MAX;
    const char *before_id = "";
    if (page->after != NULL) {
        const char *colon = strchr(page->after, ':');
        uint64_t t = 0;
        if (colon == NULL ||
            ly_str_to_u64((struct ly_str){page->after, (size_t)(colon - page->after)}, LY_TIME_MAX,
                          &t) != 0)
            return LY_E_INVALID_REQUEST;
        before_t = (int64_t)t;
        before_id = colon + 1;
    }
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(user_id),   LY_DB_T(now - refresh_ttl),
                              LY_DB_T(before_t),  LY_DB_T(before_t),
                              LY_DB_S(before_id), LY_DB_I((int64_t)page->size + 1)};
    int r = ly_db_exec(db, a,
                       "SELECT id, created_at, refreshed_at, ip, user_agent FROM sessions"
                       " WHERE user_id = ? AND revoked_at IS NULL AND refreshed_at > ?"
                       " AND (created_at < ? OR (created_at = ? AND id < ?))"
                       " ORDER BY created_at DESC, id DESC LIMIT ?",
                       p, 6, &res);
    if (r != LY_OK)
        return r;
    size_t count = res.n_rows > page->size ? page->size : res.n_rows;
    struct ly_session *list = ly_arena_zalloc(a, sizeof(*list) * (count + 1));
    for (size_t i = 0; i < count; i++) {
        list[i].id = ly_db_str(&res, i, 0);
        list[i].created_at = ly_db_int(&res, i, 1, 0);
        list[i].last_used_at = ly_db_int(&res, i, 2, 0);
        list[i].expires_at = list[i].last_used_at + refresh_ttl;
        list[i].ip = ly_db_str(&res, i, 3);
        list[i].user_agent = ly_db_str(&res, i, 4);
    }
    *out = list;
    *n = count;
    *more = res.n_rows > page->size;
    return LY_OK;
}

int ly_sessions_revoke_user(struct ly_db *db, struct ly_arena *a, const char *user_id,
                            const char *except_session, int64_t now)
{
    const char *except = except_session ? except_session : "";
    struct ly_db_value p[] = {LY_DB_T(now), LY_DB_S(user_id), LY_DB_S(except)};
    int r = ly_db_exec(db, a,
                       "UPDATE sessions SET revoked_at = ?"
                       " WHERE user_id = ? AND revoked_at IS NULL AND id <> ?",
                       p, 3, NULL);
    if (r != LY_OK)
        return r;
    return ly_db_exec(db, a,
                      "DELETE FROM access_tokens WHERE user_id = ? AND session_id IS NOT NULL"
                      " AND session_id <> ?",
                      p + 1, 2, NULL);
}

int ly_sessions_is_live(struct ly_db *db, struct ly_arena *a, const char *session_id, bool *live)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(session_id)};
    int r = ly_db_exec(db, a,
                       "SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id"
                       " WHERE s.id = ? AND s.revoked_at IS NULL AND u.disabled = 0",
                       p, 1, &res);
    if (r == LY_OK)
        *live = res.n_rows == 1;
    return r;
}

int ly_refresh_insert(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                      const char *session_id, int64_t now, int64_t expires_at)
{
    struct ly_db_value p[] = {H(hash), LY_DB_S(session_id), LY_DB_T(now), LY_DB_T(expires_at)};
    return ly_db_exec(db, a,
                      "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at)"
                      " VALUES (?, ?, ?, ?)",
                      p, 4, NULL);
}

/*
 * The lock guards a single-row rule (a refresh token is spent once), and the
 * spending writes that same row (used_at from NULL to a time, a real
 * change): on Galera two spendings on two nodes write one row and one is
 * refused at certification, so no guard counter is needed
 * (doc/decisions.md, "Galera").
 */
int ly_refresh_lookup(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                      bool lock, struct ly_refresh *out)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {H(hash)};
    int r = lock ? ly_db_exec(db, a,
                              "SELECT t.session_id, s.user_id, t.expires_at,"
                              " t.used_at IS NOT NULL, s.revoked_at IS NOT NULL, u.disabled"
                              " FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id"
                              " JOIN users u ON u.id = s.user_id WHERE t.token_hash = ? FOR UPDATE",
                              p, 1, &res)
                 : ly_db_exec(db, a,
                              "SELECT t.session_id, s.user_id, t.expires_at,"
                              " t.used_at IS NOT NULL, s.revoked_at IS NOT NULL, u.disabled"
                              " FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id"
                              " JOIN users u ON u.id = s.user_id WHERE t.token_hash = ?",
                              p, 1, &res);
    if (r != LY_OK)
        return r;
    if (res.n_rows != 1)
        return LY_E_NOT_FOUND;
    out->session_id = ly_db_str(&res, 0, 0);
    out->user_id = ly_db_str(&res, 0, 1);
    out->expires_at = ly_db_int(&res, 0, 2, 0);
    out->spent = ly_db_int(&res, 0, 3, 1) != 0;
    out->session_revoked = ly_db_int(&res, 0, 4, 1) != 0;
    out->user_disabled = ly_db_int(&res, 0, 5, 1) != 0;
    return LY_OK;
}

int ly_refresh_spend(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                     int64_t now)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_T(now), H(hash)};
    int r = ly_db_exec(db, a,
                       "UPDATE refresh_tokens SET used_at = ?"
                       " WHERE token_hash = ? AND used_at IS NULL",
                       p, 2, &res);
    if (r != LY_OK)
        return r;
    /* Someone spent it between our lookup and now: the caller treats it as reuse. */
    return res.affected == 1 ? LY_OK : LY_E_CONFLICT;
}

int ly_access_insert(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                     const struct ly_access_owner *owner, int64_t now, int64_t expires_at)
{
    struct ly_db_value p[] = {H(hash),
                              LY_DB_S(owner->session_id),
                              LY_DB_S(owner->user_id),
                              LY_DB_S(owner->account_id),
                              LY_DB_S(owner->key_id),
                              LY_DB_T(now),
                              LY_DB_T(expires_at)};
    return ly_db_exec(db, a,
                      "INSERT INTO access_tokens (token_hash, session_id, user_id,"
                      " service_account_id, api_key_id, created_at, expires_at)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?)",
                      p, 7, NULL);
}

int ly_access_delete(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN])
{
    struct ly_db_value p[] = {H(hash)};
    return ly_db_exec(db, a, "DELETE FROM access_tokens WHERE token_hash = ?", p, 1, NULL);
}

/*
 * The columns row_to_access reads, FROM and WHERE of an opaque token's
 * lookup. One indexed lookup by primary key; the joins follow primary keys
 * too. A user token needs an enabled user; a service account's, a key that
 * has not expired (a rotation's grace ends it). The session is not joined:
 * every way a session ends deletes its access tokens in the same unit of
 * work (ly_sessions_revoke, _revoke_own and _revoke_user above; a deleted
 * session, user, account or key takes them by foreign key), and the join
 * cost mariadbd about a tenth of the statement (doc/decisions.md, "The
 * opaque token's lookup without its session").
 */
#define ACCESS_COLS                                                                                \
    "t.user_id, t.session_id, t.service_account_id, t.api_key_id, t.expires_at, u.platform_admin," \
    " sa.org_id, o.name, sa.role, k.resource"
#define ACCESS_N_COLS 10
#define ACCESS_FROM                                                                                \
    " FROM access_tokens t"                                                                        \
    " LEFT JOIN users u ON u.id = t.user_id"                                                       \
    " LEFT JOIN service_accounts sa ON sa.id = t.service_account_id"                               \
    " LEFT JOIN organizations o ON o.id = sa.org_id"                                               \
    " LEFT JOIN api_keys k ON k.id = t.api_key_id"
#define ACCESS_WHERE                                                                               \
    " WHERE t.token_hash = ? AND t.expires_at > ?"                                                 \
    " AND (t.user_id IS NULL OR u.disabled = 0)"                                                   \
    " AND (t.api_key_id IS NULL OR k.expires_at IS NULL OR k.expires_at > ?)"

static void row_to_access(const struct ly_db_result *res, struct ly_access *out)
{
    out->user_id = ly_db_str(res, 0, 0);
    out->session_id = ly_db_str(res, 0, 1);
    out->service_account_id = ly_db_str(res, 0, 2);
    out->api_key_id = ly_db_str(res, 0, 3);
    out->expires_at = ly_db_int(res, 0, 4, 0);
    out->platform_admin = ly_db_int(res, 0, 5, 0) != 0;
    out->org_id = ly_db_str(res, 0, 6);
    out->org_name = ly_db_str(res, 0, 7);
    out->role = ly_role_parse(ly_db_str(res, 0, 8));
    out->resource = ly_db_str(res, 0, 9);
}

/*
 * The same lookups for a token known to be a signed-in user's (no account,
 * no key): only the user's tables are joined, which spares mariadbd the
 * three NULL-keyed joins (8–9 µs per lookup, doc/decisions.md). Any other
 * token is not found by them.
 */
#define USER_ACCESS_COLS                                                                           \
    "t.user_id, t.session_id, NULL, NULL, t.expires_at, u.platform_admin, NULL, NULL, NULL, NULL"
#define USER_ACCESS_FROM " FROM access_tokens t JOIN users u ON u.id = t.user_id"
#define USER_ACCESS_WHERE                                                                          \
    " WHERE t.token_hash = ? AND t.expires_at > ? AND u.disabled = 0"                              \
    " AND t.service_account_id IS NULL AND t.api_key_id IS NULL"
#define IDENTITY_JOINS                                                                             \
    " LEFT JOIN memberships m ON m.user_id = t.user_id"                                            \
    " LEFT JOIN organizations mo ON mo.id = m.org_id"

/* Run one of the lookups (sql with 2 or 3 parameters: the hash and now once or twice). */
static int access_exec(struct ly_db *db, struct ly_arena *a, const char *sql, size_t n_params,
                       const unsigned char hash[LY_SHA256_LEN], int64_t now,
                       struct ly_db_result *res)
{
    struct ly_db_value p[] = {H(hash), LY_DB_T(now), LY_DB_T(now)};
    int r = ly_db_exec(db, a, sql, p, n_params, res);
    if (r == LY_OK && res->n_rows == 0)
        r = LY_E_NOT_FOUND;
    return r;
}

static int access_one(struct ly_db *db, struct ly_arena *a, const char *sql, size_t n_params,
                      const unsigned char hash[LY_SHA256_LEN], int64_t now, struct ly_access *out)
{
    struct ly_db_result res;
    int r = access_exec(db, a, sql, n_params, hash, now, &res);
    if (r == LY_OK && res.n_rows != 1)
        r = LY_E_NOT_FOUND;
    if (r == LY_OK)
        row_to_access(&res, out);
    return r;
}

int ly_access_lookup(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                     int64_t now, struct ly_access *out)
{
    return access_one(db, a, "SELECT " ACCESS_COLS ACCESS_FROM ACCESS_WHERE, 3, hash, now, out);
}

int ly_access_lookup_user(struct ly_db *db, struct ly_arena *a,
                          const unsigned char hash[LY_SHA256_LEN], int64_t now,
                          struct ly_access *out)
{
    return access_one(db, a, "SELECT " USER_ACCESS_COLS USER_ACCESS_FROM USER_ACCESS_WHERE, 2, hash,
                      now, out);
}

/* The identity of the caller whose token's row is res's (one row per membership of a user). */
static void read_identity(const struct ly_db_result *res, struct ly_arena *a, struct ly_access *out,
                          struct ly_identity *who)
{
    row_to_access(res, out);
    struct ly_identity id;
    ly_orgs_read_identity(res, ACCESS_N_COLS, a, &id);
    if (out->service_account_id != NULL) {
        struct ly_service_account *sa = ly_arena_zalloc(a, sizeof(*sa));
        ly_accounts_read(res, 0, ACCESS_N_COLS + LY_ORGS_IDENTITY_N_COLS, sa);
        id.account = sa;
    }
    *who = id;
}

int ly_access_identity(struct ly_db *db, struct ly_arena *a,
                       const unsigned char hash[LY_SHA256_LEN], int64_t now, struct ly_access *out,
                       struct ly_identity *who)
{
    struct ly_db_result res;
    /*
     * The lookup above, joined with what /me shows: a user's memberships
     * (one row each, by ix_memberships_user) or the account's columns.
     */
    int r = access_exec(db, a,
                        "SELECT " ACCESS_COLS
                        ", " LY_ORGS_IDENTITY_COLS("u", "m", "mo") ", " LY_ACCOUNT_COLS("sa", "o")
                            ACCESS_FROM IDENTITY_JOINS ACCESS_WHERE,
                        3, hash, now, &res);
    if (r == LY_OK)
        read_identity(&res, a, out, who);
    return r;
}

int ly_access_identity_user(struct ly_db *db, struct ly_arena *a,
                            const unsigned char hash[LY_SHA256_LEN], int64_t now,
                            struct ly_access *out, struct ly_identity *who)
{
    struct ly_db_result res;
    /* No account's columns: read_identity reads them only for an account's token. */
    int r = access_exec(db, a,
                        "SELECT " USER_ACCESS_COLS ", " LY_ORGS_IDENTITY_COLS("u", "m", "mo")
                            USER_ACCESS_FROM IDENTITY_JOINS USER_ACCESS_WHERE,
                        2, hash, now, &res);
    if (r == LY_OK)
        read_identity(&res, a, out, who);
    return r;
}
