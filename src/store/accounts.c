#include "build-config.h"
#include "banned.h"

#include "lanyard/accounts.h"

#include <string.h>

#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/orgs.h"
#include "lanyard/validate.h"

#define ACCOUNT_ID_LEN 12 /* "sa-" + 12 base32 */

/* The columns of every query here; s is service_accounts, o organizations. */
#define ACCOUNT_COLS LY_ACCOUNT_COLS("s", "o")

void ly_accounts_read(const struct ly_db_result *res, size_t row, size_t col,
                      struct ly_service_account *out)
{
    out->id = ly_db_str(res, row, col);
    out->org_id = ly_db_str(res, row, col + 1);
    out->org_name = ly_db_str(res, row, col + 2);
    out->name = ly_db_str(res, row, col + 3);
    out->role = ly_role_parse(ly_db_str(res, row, col + 4));
    out->display_name = ly_db_str(res, row, col + 5);
    out->description = ly_db_str(res, row, col + 6);
    out->created_at = ly_db_int(res, row, col + 7, 0);
}

/* The one account sql (selecting ACCOUNT_COLS) finds; LY_E_NOT_FOUND when none. */
static int one_account(struct ly_db *db, struct ly_arena *a, const char *sql,
                       const struct ly_db_value *p, size_t n, struct ly_service_account *out)
{
    struct ly_db_result res;
    int r = ly_db_exec_one(db, a, sql, p, n, &res);
    if (r == LY_OK)
        ly_accounts_read(&res, 0, 0, out);
    return r;
}

int ly_accounts_get(struct ly_db *db, struct ly_arena *a, const char *id,
                    struct ly_service_account *out)
{
    struct ly_db_value p[] = {LY_DB_S(id)};
    return one_account(db, a,
                       "SELECT " ACCOUNT_COLS " FROM service_accounts s"
                       " JOIN organizations o ON o.id = s.org_id WHERE s.id = ?",
                       p, 1, out);
}

int ly_accounts_find(struct ly_db *db, struct ly_arena *a, const char *org_id, const char *ref,
                     struct ly_service_account *out)
{
    struct ly_db_value p[] = {LY_DB_S(org_id), LY_DB_S(ref), LY_DB_S(ref), LY_DB_S(ref)};
    /*
     * A name may look like an id ("sa-…" is a valid name): the account with
     * that id wins, as ids are what clients hold on to.
     */
    return one_account(db, a,
                       "SELECT " ACCOUNT_COLS " FROM service_accounts s"
                       " JOIN organizations o ON o.id = s.org_id"
                       " WHERE s.org_id = ? AND (s.id = ? OR s.name = ?)"
                       " ORDER BY s.id = ? DESC LIMIT 1",
                       p, 4, out);
}

int ly_accounts_create(struct ly_db *db, struct ly_arena *a, const char *org_id,
                       const char *org_name, const char *name, const char *display_name,
                       const char *description, enum ly_role role, int64_t now,
                       struct ly_service_account *out)
{
    const char *role_name = ly_role_name(role);
    if (role != LY_ROLE_ADMIN && role != LY_ROLE_MEMBER)
        return LY_E_VALIDATION;
    /*
     * Write the organization's guard, so that its deletion waits or has
     * happened (a clean 404), and on Galera the deletion and this creation,
     * which both write the organization's row, cannot both certify. A shared
     * lock did the first on one server only: it is in no write set.
     */
    int r = ly_orgs_guard(db, a, org_id);
    if (r != LY_OK)
        return r;
    const char *id = ly_id_generate(a, "sa-", ACCOUNT_ID_LEN);
    struct ly_db_value p[] = {LY_DB_S(id),           LY_DB_S(org_id),      LY_DB_S(name),
                              LY_DB_S(display_name), LY_DB_S(description), LY_DB_S(role_name),
                              LY_DB_T(now),          LY_DB_T(now)};
    r = ly_db_exec(db, a,
                   "INSERT INTO service_accounts (id, org_id, name, display_name, description,"
                   " role, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   p, 8, NULL);
    if (r != LY_OK)
        return r;
    out->id = id;
    out->org_id = ly_arena_strdup(a, org_id);
    out->org_name = ly_arena_strdup(a, org_name);
    out->name = ly_arena_strdup(a, name);
    out->role = role;
    out->display_name = display_name ? ly_arena_strdup(a, display_name) : NULL;
    out->description = description ? ly_arena_strdup(a, description) : NULL;
    out->created_at = now;
    return LY_OK;
}

int ly_accounts_list(struct ly_db *db, struct ly_arena *a, const char *org_id,
                     const struct ly_page *page, struct ly_service_account **out, size_t *n,
                     bool *more)
{
    /* Keyset on the name, unique in the organization: concurrent inserts never shift a page. */
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(org_id), LY_DB_S(page->after ? page->after : ""),
                              LY_DB_I((int64_t)page->size + 1)};
    int r = ly_db_exec(db, a,
                       "SELECT " ACCOUNT_COLS " FROM service_accounts s"
                       " JOIN organizations o ON o.id = s.org_id"
                       " WHERE s.org_id = ? AND s.name > ? ORDER BY s.name LIMIT ?",
                       p, 3, &res);
    if (r != LY_OK)
        return r;
    size_t count = res.n_rows > page->size ? page->size : res.n_rows;
    struct ly_service_account *list = ly_arena_zalloc(a, sizeof(*list) * (count + 1));
    for (size_t i = 0; i < count; i++)
        ly_accounts_read(&res, i, 0, &list[i]);
    *out = list;
    *n = count;
    *more = res.n_rows > page->size;
    return LY_OK;
}

int ly_accounts_update(struct ly_db *db, struct ly_arena *a, const char *id,
                       const struct ly_account_change *ch, int64_t now)
{
    const char *role = ch->role == LY_ROLE_NONE ? NULL : ly_role_name(ch->role);
    struct ly_db_value p[] = {LY_DB_I(ch->set_display_name),
                              LY_DB_S(ch->display_name),
                              LY_DB_I(ch->set_description),
                              LY_DB_S(ch->description),
                              LY_DB_S(role),
                              LY_DB_T(now),
                              LY_DB_S(id)};
    return ly_db_exec(db, a,
                      "UPDATE service_accounts SET display_name = IF(?, ?, display_name),"
                      " description = IF(?, ?, description), role = COALESCE(?, role),"
                      " updated_at = ? WHERE id = ?",
                      p, 7, NULL);
}

int ly_accounts_delete(struct ly_db *db, struct ly_arena *a, const char *id)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(id)};
    int r = ly_db_exec(db, a, "DELETE FROM service_accounts WHERE id = ?", p, 1, &res);
    if (r != LY_OK)
        return r;
    return res.affected == 1 ? LY_OK : LY_E_NOT_FOUND;
}
