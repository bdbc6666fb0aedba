#include "build-config.h"
#include "banned.h"

#include "lanyard/users.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/apikeys.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/json.h"
#include "lanyard/sessions.h"
#include "lanyard/validate.h"

#define USER_COLS                                                                                  \
    "id, email, display_name, password_hash, platform_admin, disabled, created_at, updated_at"

static void row_to_user(const struct ly_db_result *r, size_t row, struct ly_user *u)
{
    u->id = ly_db_str(r, row, 0);
    u->email = ly_db_str(r, row, 1);
    u->display_name = ly_db_str(r, row, 2);
    u->password_hash = ly_db_str(r, row, 3);
    u->platform_admin = ly_db_int(r, row, 4, 0) != 0;
    u->disabled = ly_db_int(r, row, 5, 0) != 0;
    u->created_at = ly_db_int(r, row, 6, 0);
    u->updated_at = ly_db_int(r, row, 7, 0);
}

int ly_users_insert(struct ly_db *db, struct ly_arena *a, const char *email,
                    const char *display_name, const char *password_hash, bool platform_admin,
                    int64_t now, struct ly_user *out)
{
    const char *id = ly_id_generate(a, "u-", 12);
    struct ly_db_value p[] = {LY_DB_S(id),
                              LY_DB_S(email),
                              LY_DB_S(display_name),
                              LY_DB_S(password_hash),
                              LY_DB_I(platform_admin ? 1 : 0),
                              LY_DB_T(now),
                              LY_DB_T(now)};
    int r = ly_db_exec(db, a,
                       "INSERT INTO users (id, email, display_name, password_hash, platform_admin,"
                       " disabled, created_at, updated_at)"
                       " VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                       p, 7, NULL);
    if (r != LY_OK)
        return r;
    if (out != NULL) {
        out->id = id;
        out->email = email;
        out->display_name = display_name;
        out->password_hash = password_hash;
        out->platform_admin = platform_admin;
        out->disabled = false;
        out->created_at = now;
        out->updated_at = now;
    }
    return LY_OK;
}

/* The one row that sql (a lookup by a unique key) finds for key. */
static int get_one(struct ly_db *db, struct ly_arena *a, const char *sql, const char *key,
                   struct ly_user *out)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(key)};
    int r = ly_db_exec(db, a, sql, p, 1, &res);
    if (r != LY_OK)
        return r;
    if (res.n_rows != 1)
        return LY_E_NOT_FOUND;
    row_to_user(&res, 0, out);
    return LY_OK;
}

int ly_users_get(struct ly_db *db, struct ly_arena *a, const char *id, struct ly_user *out)
{
    return get_one(db, a, "SELECT " USER_COLS " FROM users WHERE id = ?", id, out);
}

int ly_users_get_by_email(struct ly_db *db, struct ly_arena *a, const char *email,
                          struct ly_user *out)
{
    return get_one(db, a, "SELECT " USER_COLS " FROM users WHERE email = ?", email, out);
}

int ly_users_list(struct ly_db *db, struct ly_arena *a, const struct ly_page *page,
                  struct ly_user **out, size_t *n, bool *more)
{
    struct ly_db_result res;
    /* One row more than asked tells whether another page follows. */
    struct ly_db_value p[] = {LY_DB_S(page->after ? page->after : ""), LY_DB_I(page->size + 1)};
    int r =
        ly_db_exec(db, a, "SELECT " USER_COLS " FROM users WHERE email > ? ORDER BY email LIMIT ?",
                   p, 2, &res);
    if (r != LY_OK)
        return r;
    size_t count = res.n_rows > page->size ? page->size : res.n_rows;
    struct ly_user *users = ly_arena_alloc(a, sizeof(*users) * (count + 1));
    for (size_t i = 0; i < count; i++)
        row_to_user(&res, i, &users[i]);
    *out = users;
    *n = count;
    *more = res.n_rows > page->size;
    return LY_OK;
}

int ly_users_update(struct ly_db *db, struct ly_arena *a, const char *id, const char *display_name,
                    const char *password_hash, int disabled, int platform_admin, int64_t now)
{
    /* One statement: every field keeps its value unless a new one is given. */
    const char *dn = display_name != NULL && display_name[0] != '\0' ? display_name : NULL;
    struct ly_db_value p[] = {LY_DB_I(display_name != NULL),
                              LY_DB_S(dn),
                              LY_DB_S(password_hash),
                              LY_DB_I(disabled),
                              LY_DB_I(disabled),
                              LY_DB_I(platform_admin),
                              LY_DB_I(platform_admin),
                              LY_DB_T(now),
                              LY_DB_S(id)};
    return ly_db_exec(db, a,
                      "UPDATE users SET display_name = IF(?, ?, display_name),"
                      " password_hash = COALESCE(?, password_hash),"
                      " disabled = IF(? < 0, disabled, ?),"
                      " platform_admin = IF(? < 0, platform_admin, ?),"
                      " updated_at = ? WHERE id = ?",
                      p, 9, NULL);
}

int ly_users_delete(struct ly_db *db, struct ly_arena *a, const char *id)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(id)};
    int r = ly_db_exec(db, a, "DELETE FROM users WHERE id = ?", p, 1, &res);
    if (r != LY_OK)
        return r;
    return res.affected == 1 ? LY_OK : LY_E_NOT_FOUND;
}

int ly_users_sso_org(struct ly_db *db, struct ly_arena *a, const char *id, const char **org_id)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(id)};
    int r = ly_db_exec_one(db, a, "SELECT sso_org_id FROM users WHERE id = ?", p, 1, &res);
    if (r == LY_OK)
        *org_id = ly_db_str(&res, 0, 0);
    return r;
}

int ly_users_set_sso_org(struct ly_db *db, struct ly_arena *a, const char *id, const char *org_id)
{
    struct ly_db_value p[] = {LY_DB_S(org_id), LY_DB_S(id)};
    return ly_db_exec(db, a, "UPDATE users SET sso_org_id = ? WHERE id = ?", p, 2, NULL);
}

/*
 * Write the guard of the settings row 'platform_admins' (schema/006): the
 * first statement of every transaction that counts administrators to keep
 * one (or to make the first). Two such transactions that then write
 * different users' rows conflict on this one: on one server they queue on
 * its lock, and on Galera, where the locking read of the administrators
 * holds on its own node only, one is refused at certification and run
 * again. guard + 1, never a no-op, which would be in no write set.
 */
static int guard_admins(struct ly_db *db, struct ly_arena *a)
{
    struct ly_db_result res;
    int r =
        ly_db_exec(db, a, "UPDATE settings SET guard = guard + 1 WHERE name = 'platform_admins'",
                   NULL, 0, &res);
    if (r != LY_OK)
        return r;
    /* The row comes with the schema: without it the rule would not hold, so nothing goes. */
    return res.affected == 1 ? LY_OK : LY_E_INTERNAL;
}

int ly_users_count_admins(struct ly_db *db, struct ly_arena *a, int64_t *n, bool lock)
{
    struct ly_db_result res;
    int r = lock ? guard_admins(db, a) : LY_OK;
    if (r != LY_OK)
        return r;
    r = lock ? ly_db_exec(db, a, "SELECT COUNT(*) FROM users WHERE platform_admin = 1 FOR UPDATE",
                          NULL, 0, &res)
             : ly_db_exec(db, a, "SELECT COUNT(*) FROM users WHERE platform_admin = 1", NULL, 0,
                          &res);
    if (r != LY_OK)
        return r;
    *n = ly_db_int(&res, 0, 0, 0);
    return LY_OK;
}

int ly_users_count_active_admins(struct ly_db *db, struct ly_arena *a, const char *except_id,
                                 int64_t *n, bool lock)
{
    /*
     * With lock, the administrators' guard first (guard_admins); then every
     * administrator row is read, and locked, disabled ones and except_id's
     * too, and counted here: no row is left unlocked by a filter, and the
     * locking read reads the newest rows, so the second of two transactions
     * that each take one of the last two active administrators away counts
     * what the first left. Administrators are few.
     */
    static const char list_sql[] = "SELECT id, disabled FROM users WHERE platform_admin = 1";
    static const char lock_sql[] =
        "SELECT id, disabled FROM users WHERE platform_admin = 1 FOR UPDATE";
    struct ly_db_result res;
    int r = lock ? guard_admins(db, a) : LY_OK;
    if (r != LY_OK)
        return r;
    r = ly_db_exec(db, a, lock ? lock_sql : list_sql, NULL, 0, &res);
    if (r != LY_OK)
        return r;
    int64_t count = 0;
    for (size_t i = 0; i < res.n_rows; i++) {
        const char *id = ly_db_str(&res, i, 0);
        bool other = except_id == NULL || id == NULL || strcmp(id, except_id) != 0;
        if (other && ly_db_int(&res, i, 1, 1) == 0)
            count++;
    }
    *n = count;
    return LY_OK;
}

struct json_object *ly_user_to_json(const struct ly_user *u)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(u->id));
    json_object_object_add(o, "email", json_object_new_string(u->email));
    json_object_object_add(o, "display_name", ly_json_str_or_null(u->display_name));
    json_object_object_add(o, "platform_admin", json_object_new_boolean(u->platform_admin));
    json_object_object_add(o, "disabled", json_object_new_boolean(u->disabled));
    json_object_object_add(o, "created_at", ly_json_time(u->created_at));
    json_object_object_add(o, "updated_at", ly_json_time(u->updated_at));
    return o;
}

int ly_users_set_disabled(struct ly_db *db, struct ly_arena *a, const char *id, bool disabled,
                          int64_t now)
{
    int r = ly_users_update(db, a, id, NULL, NULL, disabled ? 1 : 0, -1, now);
    /* SPEC §5.2: disabling a user ends all their sessions, and their personal keys. */
    if (r == LY_OK && disabled)
        r = ly_sessions_revoke_user(db, a, id, NULL, now);
    if (r == LY_OK && disabled)
        r = ly_api_keys_delete_of_user(db, a, id);
    return r;
}
