#include "build-config.h"
#include "banned.h"

#include "lanyard/orgs.h"

#include <stdlib.h>
#include <string.h>

#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/users.h"
#include "lanyard/validate.h"

#define ORG_ID_LEN 12 /* "org-" + 12 base32 */

/* The columns row_to_org reads, in its order; o is organizations. */
#define ORG_COLS                                                                                   \
    "o.id, o.name, o.display_name, o.created_at, o.updated_at,"                                    \
    " (SELECT COUNT(*) FROM memberships c WHERE c.org_id = o.id)"

/*
 * Read (and lock) the owner rows of an organization. It comes right after
 * ly_orgs_guard in every transaction that could take an owner away, so it
 * counts the owners the transaction before left: a locking read reads the
 * newest committed rows, where a plain one would read the unit's snapshot,
 * which may predate the wait for the organization's row.
 */
static const char lock_owners_sql[] =
    "SELECT user_id FROM memberships WHERE org_id = ? AND role = 'owner' FOR UPDATE";

int ly_orgs_guard(struct ly_db *db, struct ly_arena *a, const char *org_id)
{
    /*
     * guard + 1, never a no-op: an UPDATE that changes nothing writes no
     * row, so on Galera it is in no write set and two transactions on two
     * nodes would both certify (doc/decisions.md, "Galera"). On one server
     * it is also the row lock that queues them, taken first by everyone, so
     * they wait instead of deadlocking.
     */
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(org_id)};
    int r =
        ly_db_exec(db, a, "UPDATE organizations SET guard = guard + 1 WHERE id = ?", p, 1, &res);
    if (r != LY_OK)
        return r;
    return res.affected == 1 ? LY_OK : LY_E_NOT_FOUND;
}

const char *ly_role_name(enum ly_role role)
{
    switch (role) {
    case LY_ROLE_OWNER:
        return "owner";
    case LY_ROLE_ADMIN:
        return "admin";
    case LY_ROLE_MEMBER:
        return "member";
    case LY_ROLE_NONE:
        break;
    }
    return NULL;
}

enum ly_role ly_role_parse(const char *s)
{
    if (s == NULL)
        return LY_ROLE_NONE;
    if (strcmp(s, "owner") == 0)
        return LY_ROLE_OWNER;
    if (strcmp(s, "admin") == 0)
        return LY_ROLE_ADMIN;
    if (strcmp(s, "member") == 0)
        return LY_ROLE_MEMBER;
    return LY_ROLE_NONE;
}

static void row_to_org(const struct ly_db_result *r, size_t row, struct ly_org *o)
{
    o->id = ly_db_str(r, row, 0);
    o->name = ly_db_str(r, row, 1);
    o->display_name = ly_db_str(r, row, 2);
    o->created_at = ly_db_int(r, row, 3, 0);
    o->updated_at = ly_db_int(r, row, 4, 0);
    o->member_count = ly_db_int(r, row, 5, 0);
}

static int by_name(const void *x, const void *y)
{
    const struct ly_org_membership *a = x, *b = y;
    return strcmp(a->name, b->name);
}

void ly_orgs_read_identity(const struct ly_db_result *res, size_t col, struct ly_arena *a,
                           struct ly_identity *out)
{
    memset(out, 0, sizeof(*out));
    if (res->n_rows == 0 || ly_db_str(res, 0, col) == NULL)
        return;
    struct ly_user *u = ly_arena_zalloc(a, sizeof(*u));
    u->id = ly_db_str(res, 0, col);
    u->email = ly_db_str(res, 0, col + 1);
    u->display_name = ly_db_str(res, 0, col + 2);
    u->platform_admin = ly_db_int(res, 0, col + 3, 0) != 0;
    u->disabled = ly_db_int(res, 0, col + 4, 1) != 0;
    u->created_at = ly_db_int(res, 0, col + 5, 0);
    u->updated_at = ly_db_int(res, 0, col + 6, 0);
    struct ly_org_membership *list = ly_arena_zalloc(a, sizeof(*list) * res->n_rows);
    size_t count = 0;
    for (size_t i = 0; i < res->n_rows; i++) {
        if (ly_db_str(res, i, col + 7) == NULL)
            continue; /* the one row of a user without organizations */
        list[count].name = ly_db_str(res, i, col + 7);
        list[count].display_name = ly_db_str(res, i, col + 8);
        list[count].role = ly_role_parse(ly_db_str(res, i, col + 9));
        count++;
    }
    /*
     * By name, sorted here rather than by ORDER BY, which costs mariadbd a
     * temporary table and a filesort per /me (about 7 µs of its CPU, a
     * sixth of the statement). Names are [a-z0-9-] (ly_name_is_valid), so
     * strcmp's order is utf8mb4_bin's.
     */
    qsort(list, count, sizeof(*list), by_name);
    out->user = u;
    out->orgs = list;
    out->n_orgs = count;
}

int ly_orgs_identity(struct ly_db *db, struct ly_arena *a, const char *user_id,
                     struct ly_identity *out)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(user_id)};
    /*
     * SPEC §6: /me costs at most two indexed queries, and an opaque token's
     * lookup is already one; so the user and their organizations come in one.
     */
    int r =
        ly_db_exec(db, a,
                   "SELECT " LY_ORGS_IDENTITY_COLS(
                       "u", "m", "o") " FROM users u LEFT JOIN memberships m ON m.user_id = u.id"
                                      " LEFT JOIN organizations o ON o.id = m.org_id"
                                      " WHERE u.id = ?",
                   p, 1, &res);
    if (r != LY_OK)
        return r;
    if (res.n_rows == 0)
        return LY_E_NOT_FOUND;
    ly_orgs_read_identity(&res, 0, a, out);
    return LY_OK;
}

int ly_orgs_create(struct ly_db *db, struct ly_arena *a, const char *name, const char *display_name,
                   const char *owner_user_id, int64_t now, struct ly_org *out)
{
    const char *id = ly_id_generate(a, "org-", ORG_ID_LEN);
    struct ly_db_value po[] = {LY_DB_S(id), LY_DB_S(name), LY_DB_S(display_name), LY_DB_T(now),
                               LY_DB_T(now)};
    int r = ly_db_exec(db, a,
                       "INSERT INTO organizations (id, name, display_name, created_at, updated_at)"
                       " VALUES (?, ?, ?, ?, ?)",
                       po, 5, NULL);
    if (r != LY_OK)
        return r;
    struct ly_db_value pm[] = {LY_DB_S(id), LY_DB_S(owner_user_id), LY_DB_T(now)};
    r = ly_db_exec(db, a,
                   "INSERT INTO memberships (org_id, user_id, role, added_at)"
                   " VALUES (?, ?, 'owner', ?)",
                   pm, 3, NULL);
    if (r != LY_OK)
        return r;
    if (out != NULL) {
        out->id = id;
        out->name = ly_arena_strdup(a, name);
        out->display_name = display_name ? ly_arena_strdup(a, display_name) : NULL;
        out->created_at = now;
        out->updated_at = now;
        out->member_count = 1;
    }
    return LY_OK;
}

int ly_orgs_check_not_last_owner(struct ly_db *db, struct ly_arena *a, const char *user_id)
{
    /*
     * First the guard of every organization user_id owns, in id order (the
     * order of every other transaction that takes several), before any
     * membership row is locked: the order of ly_members_set and _remove.
     * Which organizations those are comes from a plain read, which may be a
     * little old; the locking read below is not, and an organization it
     * finds that was not guarded sends the whole unit round again.
     */
    struct ly_db_result mine;
    struct ly_db_value p[] = {LY_DB_S(user_id)};
    int r = ly_db_exec(db, a,
                       "SELECT org_id FROM memberships WHERE user_id = ? AND role = 'owner'"
                       " ORDER BY org_id",
                       p, 1, &mine);
    if (r != LY_OK)
        return r;
    for (size_t i = 0; i < mine.n_rows; i++) {
        r = ly_orgs_guard(db, a, ly_db_str(&mine, i, 0));
        if (r == LY_E_NOT_FOUND)
            continue; /* deleted meanwhile: no owner to keep */
        if (r != LY_OK)
            return r;
    }
    /* Every owner row of every organization user_id owns, grouped by organization. */
    struct ly_db_result res;
    r = ly_db_exec(db, a,
                   "SELECT m.org_id FROM memberships mine"
                   " JOIN memberships m ON m.org_id = mine.org_id AND m.role = 'owner'"
                   " WHERE mine.user_id = ? AND mine.role = 'owner'"
                   " ORDER BY m.org_id FOR UPDATE",
                   p, 1, &res);
    if (r != LY_OK)
        return r;
    size_t guarded = 0; /* both lists are in org_id order */
    for (size_t i = 0; i < res.n_rows;) {
        const char *org = ly_db_str(&res, i, 0);
        while (guarded < mine.n_rows && strcmp(ly_db_str(&mine, guarded, 0), org) < 0)
            guarded++;
        if (guarded == mine.n_rows || strcmp(ly_db_str(&mine, guarded, 0), org) != 0)
            return LY_E_RETRY; /* made an owner after the plain read: not guarded */
        size_t owners = 0;
        while (i < res.n_rows && strcmp(ly_db_str(&res, i, 0), org) == 0) {
            owners++;
            i++;
        }
        if (owners < 2)
            return LY_E_CONFLICT;
    }
    return LY_OK;
}

int ly_orgs_get(struct ly_db *db, struct ly_arena *a, const char *name, const char *user_id,
                struct ly_org *out, enum ly_role *role)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(user_id), LY_DB_S(name)};
    /* A NULL user_id matches no membership: the role comes back NULL. */
    int r = ly_db_exec(db, a,
                       "SELECT " ORG_COLS ", (SELECT m.role FROM memberships m"
                       " WHERE m.org_id = o.id AND m.user_id = ?)"
                       " FROM organizations o WHERE o.name = ?",
                       p, 2, &res);
    if (r != LY_OK)
        return r;
    if (res.n_rows != 1)
        return LY_E_NOT_FOUND;
    row_to_org(&res, 0, out);
    if (role != NULL)
        *role = ly_role_parse(ly_db_str(&res, 0, 6));
    return LY_OK;
}

int ly_orgs_list(struct ly_db *db, struct ly_arena *a, enum ly_orgs_scope scope, const char *who,
                 const struct ly_page *page, struct ly_org **out, size_t *n, bool *more)
{
    /* Keyset pagination on the unique name: rows inserted meanwhile never shift a page. */
    const char *after = page->after ? page->after : "";
    int64_t limit = (int64_t)page->size + 1; /* one more tells whether a next page exists */
    struct ly_db_result res;
    int r;
    if (scope == LY_ORGS_ALL) {
        struct ly_db_value p[] = {LY_DB_S(after), LY_DB_I(limit)};
        r = ly_db_exec(db, a,
                       "SELECT " ORG_COLS " FROM organizations o"
                       " WHERE o.name > ? ORDER BY o.name LIMIT ?",
                       p, 2, &res);
    } else if (scope == LY_ORGS_OF_USER) {
        struct ly_db_value p[] = {LY_DB_S(who), LY_DB_S(after), LY_DB_I(limit)};
        r = ly_db_exec(db, a,
                       "SELECT " ORG_COLS " FROM memberships m"
                       " JOIN organizations o ON o.id = m.org_id"
                       " WHERE m.user_id = ? AND o.name > ? ORDER BY o.name LIMIT ?",
                       p, 3, &res);
    } else {
        struct ly_db_value p[] = {LY_DB_S(who), LY_DB_S(after), LY_DB_I(limit)};
        r = ly_db_exec(db, a,
                       "SELECT " ORG_COLS " FROM organizations o"
                       " WHERE o.id = ? AND o.name > ? ORDER BY o.name LIMIT ?",
                       p, 3, &res);
    }
    if (r != LY_OK)
        return r;
    size_t count = res.n_rows > page->size ? page->size : res.n_rows;
    struct ly_org *list = ly_arena_zalloc(a, sizeof(*list) * (count + 1));
    for (size_t i = 0; i < count; i++)
        row_to_org(&res, i, &list[i]);
    *out = list;
    *n = count;
    *more = res.n_rows > page->size;
    return LY_OK;
}

int ly_orgs_update(struct ly_db *db, struct ly_arena *a, const char *org_id,
                   const char *display_name, int64_t now)
{
    struct ly_db_value p[] = {LY_DB_S(display_name), LY_DB_T(now), LY_DB_S(org_id)};
    return ly_db_exec(db, a,
                      "UPDATE organizations SET display_name = ?, updated_at = ?"
                      " WHERE id = ?",
                      p, 3, NULL);
}

int ly_orgs_delete(struct ly_db *db, struct ly_arena *a, const char *org_id)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(org_id)};
    int r = ly_db_exec(db, a, "DELETE FROM organizations WHERE id = ?", p, 1, &res);
    if (r != LY_OK)
        return r;
    return res.affected == 1 ? LY_OK : LY_E_NOT_FOUND;
}

int ly_members_list(struct ly_db *db, struct ly_arena *a, const char *org_id,
                    const struct ly_page *page, struct ly_member **out, size_t *n, bool *more)
{
    /* Keyset on the unique e-mail, for the same reason as ly_orgs_list. */
    const char *after = page->after ? page->after : "";
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(org_id), LY_DB_S(after), LY_DB_I((int64_t)page->size + 1)};
    int r = ly_db_exec(db, a,
                       "SELECT u.id, u.email, u.display_name, m.role, m.added_at"
                       " FROM memberships m JOIN users u ON u.id = m.user_id"
                       " WHERE m.org_id = ? AND u.email > ? ORDER BY u.email LIMIT ?",
                       p, 3, &res);
    if (r != LY_OK)
        return r;
    size_t count = res.n_rows > page->size ? page->size : res.n_rows;
    struct ly_member *list = ly_arena_zalloc(a, sizeof(*list) * (count + 1));
    for (size_t i = 0; i < count; i++) {
        list[i].user_id = ly_db_str(&res, i, 0);
        list[i].email = ly_db_str(&res, i, 1);
        list[i].display_name = ly_db_str(&res, i, 2);
        list[i].role = ly_role_parse(ly_db_str(&res, i, 3));
        list[i].added_at = ly_db_int(&res, i, 4, 0);
    }
    *out = list;
    *n = count;
    *more = res.n_rows > page->size;
    return LY_OK;
}

/*
 * With the organization's guard taken (ly_orgs_guard), lock its owner rows
 * (see lock_owners_sql), then read and lock user_id's membership. *owners
 * is the number of owners, *cur the target's role (LY_ROLE_NONE when not a
 * member), *added_at its time.
 */
static int lock_membership(struct ly_db *db, struct ly_arena *a, const char *org_id,
                           const char *user_id, size_t *owners, enum ly_role *cur,
                           int64_t *added_at)
{
    struct ly_db_result res;
    struct ly_db_value po[] = {LY_DB_S(org_id)};
    int r = ly_db_exec(db, a, lock_owners_sql, po, 1, &res);
    if (r != LY_OK)
        return r;
    size_t n_owners = res.n_rows;
    struct ly_db_value pm[] = {LY_DB_S(org_id), LY_DB_S(user_id)};
    r = ly_db_exec(db, a,
                   "SELECT role, added_at FROM memberships"
                   " WHERE org_id = ? AND user_id = ? FOR UPDATE",
                   pm, 2, &res);
    if (r != LY_OK)
        return r;
    *owners = n_owners;
    *cur = res.n_rows == 1 ? ly_role_parse(ly_db_str(&res, 0, 0)) : LY_ROLE_NONE;
    *added_at = res.n_rows == 1 ? ly_db_int(&res, 0, 1, 0) : 0;
    return LY_OK;
}

/*
 * Write the user's guard too when a membership is added, so that the
 * user's deletion (which writes the user's row) and the addition cannot
 * both certify on two Galera nodes; on one server it is the lock that makes
 * the deletion wait, and one already done is a clean LY_E_NOT_FOUND rather
 * than a foreign-key failure. Taken last, after the organization's guard
 * and the membership rows, where the shared lock it replaces was taken:
 * the user's deletion takes the user's row and then its memberships, and
 * waits for no lock this transaction holds before it.
 */
static int guard_user(struct ly_db *db, struct ly_arena *a, const char *user_id)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(user_id)};
    int r = ly_db_exec(db, a, "UPDATE users SET guard = guard + 1 WHERE id = ?", p, 1, &res);
    if (r != LY_OK)
        return r;
    return res.affected == 1 ? LY_OK : LY_E_NOT_FOUND;
}

int ly_members_set(struct ly_db *db, struct ly_arena *a, const char *org_id, const char *user_id,
                   enum ly_role role, bool may_manage_owners, int64_t now, bool *added,
                   struct ly_member *out)
{
    const char *role_name = ly_role_name(role);
    if (role_name == NULL)
        return LY_E_VALIDATION;
    size_t owners = 0;
    enum ly_role cur = LY_ROLE_NONE;
    int64_t added_at = 0;
    int r;
    /* Also what keeps the organization's deletion from passing the new row. */
    if ((r = ly_orgs_guard(db, a, org_id)) != LY_OK)
        return r;
    if ((r = lock_membership(db, a, org_id, user_id, &owners, &cur, &added_at)) != LY_OK)
        return r;
    /* SPEC §5.9: only an owner grants or takes owner, decided on the row as locked now. */
    if ((cur == LY_ROLE_OWNER || role == LY_ROLE_OWNER) && !may_manage_owners) {
        return LY_E_FORBIDDEN;
    }
    if (cur == LY_ROLE_OWNER && role != LY_ROLE_OWNER && owners < 2) {
        return LY_E_CONFLICT;
    }
    if (cur == LY_ROLE_NONE) {
        if ((r = guard_user(db, a, user_id)) != LY_OK)
            return r;
        struct ly_db_value pi[] = {LY_DB_S(org_id), LY_DB_S(user_id), LY_DB_S(role_name),
                                   LY_DB_T(now)};
        r = ly_db_exec(db, a,
                       "INSERT INTO memberships (org_id, user_id, role, added_at)"
                       " VALUES (?, ?, ?, ?)",
                       pi, 4, NULL);
        added_at = now;
    } else if (cur != role) {
        struct ly_db_value pu[] = {LY_DB_S(role_name), LY_DB_S(org_id), LY_DB_S(user_id)};
        r = ly_db_exec(db, a, "UPDATE memberships SET role = ? WHERE org_id = ? AND user_id = ?",
                       pu, 3, NULL);
    }
    if (r != LY_OK)
        return r;
    *added = cur == LY_ROLE_NONE;
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
        out->user_id = user_id;
        out->role = role;
        out->added_at = added_at;
    }
    return LY_OK;
}

int ly_members_remove(struct ly_db *db, struct ly_arena *a, const char *org_id, const char *user_id,
                      bool may_manage_owners)
{
    size_t owners = 0;
    enum ly_role cur = LY_ROLE_NONE;
    int64_t added_at = 0;
    int r = ly_orgs_guard(db, a, org_id);
    if (r == LY_OK)
        r = lock_membership(db, a, org_id, user_id, &owners, &cur, &added_at);
    if (r != LY_OK)
        return r;
    if (cur == LY_ROLE_NONE)
        return LY_E_NOT_FOUND;
    if (cur == LY_ROLE_OWNER && !may_manage_owners)
        return LY_E_FORBIDDEN;
    if (cur == LY_ROLE_OWNER && owners < 2)
        return LY_E_CONFLICT;
    struct ly_db_value p[] = {LY_DB_S(org_id), LY_DB_S(user_id)};
    return ly_db_exec(db, a, "DELETE FROM memberships WHERE org_id = ? AND user_id = ?", p, 2,
                      NULL);
}
