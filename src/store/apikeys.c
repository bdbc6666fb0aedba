#include "build-config.h"
#include "banned.h"

#include "lanyard/apikeys.h"

#include <string.h>

#include "lanyard/accounts.h"
#include "lanyard/db.h"
#include "lanyard/err.h"

#define MIN_AHEAD 60 /* SPEC §5.11: an expiry less than a minute ahead is refused */

/*
 * The columns row_to_key reads, in its order: k is api_keys, o its
 * organization, s and u its owner (one of them NULL).
 */
#define KEY_COLS_NAMED(owner_name)                                                                 \
    "k.id, k.org_id, o.name, k.service_account_id, k.user_id, " owner_name ","                     \
    " k.role, k.resource, k.display_name, k.description, k.created_at, k.expires_at,"              \
    " k.last_used_at, k.lifetime"
#define KEY_COLS     KEY_COLS_NAMED("COALESCE(s.name, u.email)")
#define KEY_ORG_FROM " FROM api_keys k JOIN organizations o ON o.id = k.org_id"
#define KEY_FROM                                                                                   \
    KEY_ORG_FROM                                                                                   \
    " LEFT JOIN service_accounts s ON s.id = k.service_account_id"                                 \
    " LEFT JOIN users u ON u.id = k.user_id"
#define N_KEY_COLS 14

static int64_t time_or_never(const struct ly_db_result *res, size_t row, size_t col)
{
    return ly_db_cell(res, row, col)->kind == LY_DB_NULL ? -1 : ly_db_int(res, row, col, 0);
}

static void row_to_key(const struct ly_db_result *res, size_t row, struct ly_api_key *k)
{
    memset(k, 0, sizeof(*k));
    k->id = ly_db_str(res, row, 0);
    k->org_id = ly_db_str(res, row, 1);
    k->org_name = ly_db_str(res, row, 2);
    const char *sa = ly_db_str(res, row, 3);
    k->owner_type = sa != NULL ? LY_PRINCIPAL_SERVICE_ACCOUNT : LY_PRINCIPAL_USER;
    k->owner_id = sa != NULL ? sa : ly_db_str(res, row, 4);
    k->owner_name = ly_db_str(res, row, 5);
    k->role = ly_role_parse(ly_db_str(res, row, 6));
    k->resource = ly_db_str(res, row, 7);
    k->display_name = ly_db_str(res, row, 8);
    k->description = ly_db_str(res, row, 9);
    k->created_at = ly_db_int(res, row, 10, 0);
    k->expires_at = time_or_never(res, row, 11);
    k->last_used_at = time_or_never(res, row, 12);
    k->lifetime = ly_db_cell(res, row, 13)->kind == LY_DB_NULL ? -1 : ly_db_int(res, row, 13, 0);
}

/*
 * What authentication reads besides KEY_COLS, and its joins: SPEC §4, one
 * round trip by primary key that also yields the owner, its role and state;
 * every join follows a primary key.
 */
#define AUTH_COLS   ", k.secret_hash, COALESCE(s.role, m.role), u.disabled, COALESCE(s.id, u.id)"
#define AUTH_N_COLS (N_KEY_COLS + 4)
#define AUTH_FROM                                                                                  \
    KEY_FROM " LEFT JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.user_id"

/*
 * What authentication reads after a key's columns, from column col on: its
 * secret's hash, then its owner's role, state and id. LY_E_NOT_FOUND when
 * the statement found no row.
 */
static int read_auth_tail(const struct ly_db_result *res, size_t col, struct ly_api_key *k)
{
    const struct ly_db_value *h = res->n_rows == 1 ? ly_db_cell(res, 0, col) : NULL;
    if (h == NULL)
        return LY_E_NOT_FOUND;
    if (h->kind != LY_DB_BLOB || h->len != LY_SHA256_LEN)
        return LY_E_INTERNAL;
    memcpy(k->secret_hash, h->s, LY_SHA256_LEN);
    k->owner_role = ly_role_parse(ly_db_str(res, 0, col + 1));
    k->owner_disabled = ly_db_int(res, 0, col + 2, 0) != 0;
    k->owner_exists = ly_db_str(res, 0, col + 3) != NULL;
    return LY_OK;
}

static int row_to_auth_key(const struct ly_db_result *res, struct ly_api_key *out)
{
    struct ly_api_key k;
    memset(&k, 0, sizeof(k));
    if (res->n_rows == 1)
        row_to_key(res, 0, &k);
    int r = read_auth_tail(res, N_KEY_COLS, &k);
    if (r == LY_OK)
        *out = k;
    return r;
}

int ly_api_keys_get(struct ly_db *db, struct ly_arena *a, const char *key_id,
                    struct ly_api_key *out)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(key_id)};
    int r = ly_db_exec(db, a, "SELECT " KEY_COLS AUTH_COLS AUTH_FROM " WHERE k.id = ?", p, 1, &res);
    return r != LY_OK ? r : row_to_auth_key(&res, out);
}

/*
 * The same row when the key's owner is known to be of one kind: only that
 * owner's tables are joined (mariadbd spends a few microseconds per joined
 * table, NULL-keyed ones too; doc/performance.md). A key of the other kind
 * is not found (the owner's join is an inner one), so a wrong hint costs a
 * second lookup, never a wrong row.
 */
#define SA_AUTH_COLS   KEY_COLS_NAMED("s.name") ", k.secret_hash, s.role, NULL, s.id"
#define USER_AUTH_COLS KEY_COLS_NAMED("u.email") ", k.secret_hash, m.role, u.disabled, u.id"
#define SA_AUTH_FROM                                                                               \
    KEY_ORG_FROM " JOIN service_accounts s ON s.id = k.service_account_id WHERE k.id = ?"
#define USER_AUTH_FROM                                                                             \
    KEY_ORG_FROM " JOIN users u ON u.id = k.user_id"                                               \
                 " LEFT JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.user_id"       \
                 " WHERE k.id = ?"

/*
 * The check's own row of a key seen before: what authentication reads of
 * it and no more (12 columns, not 18: Connector/C's work grows with each),
 * and neither the organization's join nor its name, which the caller's
 * hint holds (an organization's name never changes, and its keys go with
 * it; src/auth/auth.c).
 */
#define OWNED_COLS                                                                                 \
    "SELECT k.id, k.org_id, k.service_account_id, k.user_id, k.role, k.resource, k.expires_at,"    \
    " k.last_used_at, k.secret_hash"
#define SA_OWNED_SELECT                                                                            \
    OWNED_COLS ", s.role, NULL, s.id FROM api_keys k"                                              \
               " JOIN service_accounts s ON s.id = k.service_account_id WHERE k.id = ?"
#define USER_OWNED_SELECT                                                                          \
    OWNED_COLS ", m.role, u.disabled, u.id FROM api_keys k JOIN users u ON u.id = k.user_id"       \
               " LEFT JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.user_id"         \
               " WHERE k.id = ?"
#define OWNED_HASH 8 /* the column of k.secret_hash */

static int row_to_owned_key(const struct ly_db_result *res, struct ly_api_key *out)
{
    struct ly_api_key k;
    memset(&k, 0, sizeof(k));
    if (res->n_rows == 1) {
        k.id = ly_db_str(res, 0, 0);
        k.org_id = ly_db_str(res, 0, 1);
        const char *sa = ly_db_str(res, 0, 2);
        k.owner_type = sa != NULL ? LY_PRINCIPAL_SERVICE_ACCOUNT : LY_PRINCIPAL_USER;
        k.owner_id = sa != NULL ? sa : ly_db_str(res, 0, 3);
        k.role = ly_role_parse(ly_db_str(res, 0, 4));
        k.resource = ly_db_str(res, 0, 5);
        k.expires_at = time_or_never(res, 0, 6);
        k.last_used_at = time_or_never(res, 0, 7);
        k.lifetime = -1;
    }
    int r = read_auth_tail(res, OWNED_HASH, &k);
    if (r == LY_OK)
        *out = k;
    return r;
}

int ly_api_keys_get_owned(struct ly_db *db, struct ly_arena *a, const char *key_id,
                          enum ly_principal_type owner, struct ly_api_key *out)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(key_id)};
    const char *sql = owner == LY_PRINCIPAL_SERVICE_ACCOUNT ? SA_OWNED_SELECT : USER_OWNED_SELECT;
    int r = ly_db_exec(db, a, sql, p, 1, &res);
    return r != LY_OK ? r : row_to_owned_key(&res, out);
}

int ly_api_keys_identity(struct ly_db *db, struct ly_arena *a, const char *key_id,
                         struct ly_api_key *out, struct ly_identity *who)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(key_id)};
    /* The same row, with the owner's columns that /me shows (no more joins). */
    int r = ly_db_exec(db, a,
                       "SELECT " KEY_COLS AUTH_COLS
                       ", " LY_ORGS_IDENTITY_COLS("u", "m", "o") ", " LY_ACCOUNT_COLS("s", "o")
                           AUTH_FROM " WHERE k.id = ?",
                       p, 1, &res);
    if (r == LY_OK)
        r = row_to_auth_key(&res, out);
    if (r != LY_OK)
        return r;
    struct ly_identity id;
    ly_orgs_read_identity(&res, AUTH_N_COLS, a, &id);
    if (out->owner_type == LY_PRINCIPAL_SERVICE_ACCOUNT && out->owner_exists) {
        struct ly_service_account *sa = ly_arena_zalloc(a, sizeof(*sa));
        ly_accounts_read(&res, 0, AUTH_N_COLS + LY_ORGS_IDENTITY_N_COLS, sa);
        id.account = sa;
    }
    *who = id;
    return LY_OK;
}

/*
 * ly_api_keys_identity for a key whose owner is known to be of kind owner:
 * only that owner's tables, as ly_api_keys_get_owned, and after the key's
 * columns only what /me shows of that kind (the account's, or the user's
 * with the key's organization).
 */
int ly_api_keys_identity_owned(struct ly_db *db, struct ly_arena *a, const char *key_id,
                               enum ly_principal_type owner, struct ly_api_key *out,
                               struct ly_identity *who)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(key_id)};
    bool account = owner == LY_PRINCIPAL_SERVICE_ACCOUNT;
    int r = ly_db_exec(db, a,
                       account ? "SELECT " SA_AUTH_COLS ", " LY_ACCOUNT_COLS("s", "o") SA_AUTH_FROM
                               : "SELECT " USER_AUTH_COLS ", " LY_ORGS_IDENTITY_COLS("u", "m", "o")
                                     USER_AUTH_FROM,
                       p, 1, &res);
    if (r == LY_OK)
        r = row_to_auth_key(&res, out);
    if (r != LY_OK)
        return r;
    struct ly_identity id = {0};
    if (account) {
        struct ly_service_account *sa = ly_arena_zalloc(a, sizeof(*sa));
        ly_accounts_read(&res, 0, AUTH_N_COLS, sa);
        id.account = sa;
    } else {
        ly_orgs_read_identity(&res, AUTH_N_COLS, a, &id);
    }
    *who = id;
    return LY_OK;
}

/* The one key sql (selecting KEY_COLS) finds; LY_E_NOT_FOUND when none. */
static int one_key(struct ly_db *db, struct ly_arena *a, const char *sql,
                   const struct ly_db_value *p, size_t n, struct ly_api_key *out)
{
    struct ly_db_result res;
    int r = ly_db_exec_one(db, a, sql, p, n, &res);
    if (r == LY_OK)
        row_to_key(&res, 0, out);
    return r;
}

int ly_api_keys_find(struct ly_db *db, struct ly_arena *a, const char *owner_id, const char *key_id,
                     struct ly_api_key *out)
{
    struct ly_db_value p[] = {LY_DB_S(key_id), LY_DB_S(owner_id), LY_DB_S(owner_id)};
    return one_key(db, a,
                   "SELECT " KEY_COLS KEY_FROM
                   " WHERE k.id = ? AND (k.service_account_id = ? OR k.user_id = ?)",
                   p, 3, out);
}

int ly_api_keys_find_in_org(struct ly_db *db, struct ly_arena *a, const char *org_id,
                            const char *key_id, struct ly_api_key *out)
{
    struct ly_db_value p[] = {LY_DB_S(key_id), LY_DB_S(org_id)};
    return one_key(db, a, "SELECT " KEY_COLS KEY_FROM " WHERE k.id = ? AND k.org_id = ?", p, 2,
                   out);
}

int ly_api_keys_list(struct ly_db *db, struct ly_arena *a, enum ly_keys_scope scope,
                     const char *who, int64_t now, const struct ly_page *page,
                     struct ly_api_key **out, size_t *n, bool *more)
{
    /* Keyset on the id: keys made meanwhile never shift a page. */
    const char *after = page->after ? page->after : "";
    int64_t limit = (int64_t)page->size + 1;
    struct ly_db_result res;
    int r;
    if (scope == LY_KEYS_OF_OWNER) {
        struct ly_db_value p[] = {LY_DB_S(who), LY_DB_S(who), LY_DB_S(after), LY_DB_I(limit)};
        r = ly_db_exec(db, a,
                       "SELECT " KEY_COLS KEY_FROM
                       " WHERE (k.service_account_id = ? OR k.user_id = ?) AND k.id > ?"
                       " ORDER BY k.id LIMIT ?",
                       p, 4, &res);
    } else {
        struct ly_db_value p[] = {LY_DB_S(who), LY_DB_S(after), LY_DB_T(now), LY_DB_I(limit)};
        r = ly_db_exec(db, a,
                       "SELECT " KEY_COLS KEY_FROM " WHERE k.org_id = ? AND k.id > ?"
                       " AND (k.expires_at IS NULL OR k.expires_at > ?) ORDER BY k.id LIMIT ?",
                       p, 4, &res);
    }
    if (r != LY_OK)
        return r;
    size_t count = res.n_rows > page->size ? page->size : res.n_rows;
    struct ly_api_key *list = ly_arena_zalloc(a, sizeof(*list) * (count + 1));
    for (size_t i = 0; i < count; i++)
        row_to_key(&res, i, &list[i]);
    *out = list;
    *n = count;
    *more = res.n_rows > page->size;
    return LY_OK;
}

int ly_api_keys_expiry(const struct ly_config *cfg, int64_t now, bool has_ttl, int64_t ttl,
                       bool has_expires_at, bool expires_null, int64_t expires_at, int64_t *out,
                       const char **why)
{
    int64_t max = cfg->api_keys.max_ttl;
    if (has_ttl && has_expires_at) {
        *why = "give ttl or expires_at, not both";
        return LY_E_VALIDATION;
    }
    if (has_expires_at && expires_null) {
        if (!cfg->api_keys.allow_no_expiry) {
            *why = "keys without expiry are not allowed here (api_keys.allow_no_expiry)";
            return LY_E_VALIDATION;
        }
        *out = -1;
        return LY_OK;
    }
    int64_t ahead = has_ttl ? ttl : has_expires_at ? expires_at - now : cfg->api_keys.default_ttl;
    if (ahead < MIN_AHEAD) {
        *why = "the key must live at least a minute";
        return LY_E_VALIDATION;
    }
    if (ahead > max) {
        *why = "the key would outlive api_keys.max_ttl";
        return LY_E_VALIDATION;
    }
    *out = now + ahead;
    return LY_OK;
}

int64_t ly_api_keys_rotated_expiry(const struct ly_config *cfg, int64_t now, int64_t lifetime)
{
    if (lifetime < 0)
        return -1;
    return now + (lifetime < cfg->api_keys.max_ttl ? lifetime : cfg->api_keys.max_ttl);
}

/*
 * Write the owner's guard and count its unexpired keys. The write is what
 * makes max_per_account exact: a second creation for the same owner waits
 * on the row until the first commits, then counts its key; on Galera, where
 * a lock holds on its own node only, two creations on two nodes write the
 * same row and one is refused at certification (then run again, and
 * counts). A locking read of the owner's row was enough on one server, but
 * is in no write set, and the keys the two insert are different rows. The
 * count is a locking read too: a plain one would read the unit's snapshot,
 * which may predate the wait (REPEATABLE READ), and miss the key just
 * committed.
 */
/*
 * The guard's UPDATE matched no row: the owner was deleted meanwhile
 * (LY_E_NOT_FOUND), or, if its row is there, the unit was lost in the
 * UPDATE's lock wait without an error (ly_db_unit_lost; seen through two
 * Galera nodes in test_galera.py, about once in thirty runs).
 */
static int owner_gone(struct ly_db *db, struct ly_arena *a, const struct ly_api_key_new *k)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(k->owner_id)};
    int r = ly_db_exec(db, a,
                       k->owner_type == LY_PRINCIPAL_SERVICE_ACCOUNT
                           ? "SELECT 1 FROM service_accounts WHERE id = ?"
                           : "SELECT 1 FROM users WHERE id = ?",
                       p, 1, &res);
    if (r != LY_OK)
        return r;
    return res.n_rows == 0 ? LY_E_NOT_FOUND : ly_db_unit_lost(db, "api key creation's guard");
}

static int lock_and_count(struct ly_db *db, struct ly_arena *a, const struct ly_api_key_new *k,
                          int64_t now, int64_t *count)
{
    struct ly_db_result res;
    struct ly_db_value po[] = {LY_DB_S(k->owner_id)};
    int r = ly_db_exec(db, a,
                       k->owner_type == LY_PRINCIPAL_SERVICE_ACCOUNT
                           ? "UPDATE service_accounts SET guard = guard + 1 WHERE id = ?"
                           : "UPDATE users SET guard = guard + 1 WHERE id = ?",
                       po, 1, &res);
    if (r != LY_OK)
        return r;
    if (res.affected != 1)
        return owner_gone(db, a, k);
    struct ly_db_value pc[] = {LY_DB_S(k->owner_id), LY_DB_T(now)};
    r = ly_db_exec(db, a,
                   k->owner_type == LY_PRINCIPAL_SERVICE_ACCOUNT
                       ? "SELECT COUNT(*) FROM api_keys WHERE service_account_id = ?"
                         " AND (expires_at IS NULL OR expires_at > ?) LOCK IN SHARE MODE"
                       : "SELECT COUNT(*) FROM api_keys WHERE user_id = ?"
                         " AND (expires_at IS NULL OR expires_at > ?) LOCK IN SHARE MODE",
                   pc, 2, &res);
    if (r != LY_OK)
        return r;
    *count = res.n_rows == 1 ? ly_db_int(&res, 0, 0, 0) : 0;
    return LY_OK;
}

int ly_api_keys_create(struct ly_db *db, struct ly_arena *a, const struct ly_config *cfg,
                       const struct ly_api_key_new *k, bool over_limit, int64_t now,
                       struct ly_api_key_made *out)
{
    int64_t count = 0;
    int r = lock_and_count(db, a, k, now, &count);
    if (r != LY_OK)
        return r;
    if (!over_limit && count >= (int64_t)cfg->api_keys.max_per_account)
        return LY_E_CONFLICT;
    char id[LY_KEY_ID_LEN + 1];
    struct ly_api_key_made m;
    memset(&m, 0, sizeof(m));
    ly_apikey_generate(cfg->api_keys.prefix, id, m.token);
    if (m.token[0] == '\0')
        return LY_E_INTERNAL;
    size_t len = strlen(m.token);
    m.secret = ly_arena_strdup(a, m.token + len - LY_TOKEN_SECRET_LEN);
    unsigned char hash[LY_SHA256_LEN];
    ly_sha256(m.secret, LY_TOKEN_SECRET_LEN, hash);
    bool sa = k->owner_type == LY_PRINCIPAL_SERVICE_ACCOUNT;
    const char *role = sa ? NULL : ly_role_name(k->role);
    int64_t lifetime = k->expires_at < 0 ? -1 : k->expires_at - now;
    struct ly_db_value p[] = {
        LY_DB_S(id),
        LY_DB_S(k->org_id),
        LY_DB_S(sa ? k->owner_id : NULL),
        LY_DB_S(sa ? NULL : k->owner_id),
        LY_DB_S(role),
        LY_DB_S(k->resource),
        LY_DB_B(hash, sizeof(hash)),
        LY_DB_S(k->display_name),
        LY_DB_S(k->description),
        LY_DB_T(now),
        LY_DB_T(now),
        k->expires_at < 0 ? LY_DB_NUL : LY_DB_T(k->expires_at),
        lifetime < 0 ? LY_DB_NUL : LY_DB_I(lifetime),
    };
    r = ly_db_exec(db, a,
                   "INSERT INTO api_keys (id, org_id, service_account_id, user_id, role, resource,"
                   " secret_hash, display_name, description, created_at, updated_at, expires_at,"
                   " lifetime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   p, 13, NULL);
    /* A personal key needs the membership (its foreign key): gone meanwhile is not found. */
    if (r != LY_OK)
        return r;
    /*
     * Read it back as every other answer shows a key: owner names and
     * organization joined. The unit inserted it: not finding it means the
     * unit was lost, as in owner_gone.
     */
    r = ly_api_keys_find(db, a, k->owner_id, id, &m.key);
    if (r == LY_E_NOT_FOUND)
        r = ly_db_unit_lost(db, "api key creation's read-back");
    if (r != LY_OK)
        return r;
    *out = m;
    return LY_OK;
}

int ly_api_keys_update(struct ly_db *db, struct ly_arena *a, const char *id, bool set_display_name,
                       const char *display_name, bool set_description, const char *description)
{
    struct ly_db_value p[] = {LY_DB_I(set_display_name), LY_DB_S(display_name),
                              LY_DB_I(set_description), LY_DB_S(description), LY_DB_S(id)};
    return ly_db_exec(db, a,
                      "UPDATE api_keys SET display_name = IF(?, ?, display_name),"
                      " description = IF(?, ?, description) WHERE id = ?",
                      p, 5, NULL);
}

int ly_api_keys_delete_of_user(struct ly_db *db, struct ly_arena *a, const char *user_id)
{
    struct ly_db_value p[] = {LY_DB_S(user_id)};
    return ly_db_exec(db, a, "DELETE FROM api_keys WHERE user_id = ?", p, 1, NULL);
}

/* Run sql, an UPDATE of one time column of key id taking (t, id, t). */
static int set_time(struct ly_db *db, struct ly_arena *a, const char *sql, const char *id,
                    int64_t t)
{
    struct ly_db_value p[] = {LY_DB_T(t), LY_DB_S(id), LY_DB_T(t)};
    return ly_db_exec(db, a, sql, p, 3, NULL);
}

int ly_api_keys_expire_by(struct ly_db *db, struct ly_arena *a, const char *id, int64_t expires_at)
{
    return set_time(db, a,
                    "UPDATE api_keys SET expires_at = ? WHERE id = ?"
                    " AND (expires_at IS NULL OR expires_at > ?)",
                    id, expires_at);
}

int ly_api_keys_delete(struct ly_db *db, struct ly_arena *a, const char *id)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(id)};
    int r = ly_db_exec(db, a, "DELETE FROM api_keys WHERE id = ?", p, 1, &res);
    if (r != LY_OK)
        return r;
    return res.affected == 1 ? LY_OK : LY_E_NOT_FOUND;
}

int ly_api_keys_touch(struct ly_db *db, struct ly_arena *a, const char *id, int64_t minute)
{
    return set_time(db, a,
                    "UPDATE api_keys SET last_used_at = ? WHERE id = ?"
                    " AND (last_used_at IS NULL OR last_used_at < ?)",
                    id, minute);
}
