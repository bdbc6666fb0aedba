/*
 * orgs: the store of organizations and memberships (SPEC §5.9). SQL lives
 * here and nowhere else for these tables.
 *
 * The last-owner rule is decided by the database, not the worker: every
 * change that could take away an owner first locks the organization's owner
 * rows (SELECT … FOR UPDATE) inside the caller's unit of work, so two concurrent
 * demotions or removals of the last two owners are serialised and the second
 * sees that it would leave none (LY_E_CONFLICT).
 */
#ifndef LY_ORGS_H
#define LY_ORGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/page.h"

struct ly_db;
struct ly_db_result;
struct ly_service_account;
struct ly_user;

enum ly_role { LY_ROLE_NONE = 0, LY_ROLE_MEMBER = 1, LY_ROLE_ADMIN = 2, LY_ROLE_OWNER = 3 };

struct ly_org {
    const char *id;
    const char *name;
    const char *display_name; /* NULL when unset */
    int64_t created_at, updated_at;
    int64_t member_count;
};

struct ly_org_membership {
    const char *name;
    const char *display_name;
    enum ly_role role;
};

/* One member of an organization, as listed by GET …/members. */
struct ly_member {
    const char *user_id;
    const char *email;
    const char *display_name; /* NULL when unset */
    enum ly_role role;
    int64_t added_at;
};

const char *ly_role_name(enum ly_role role); /* "owner", "admin", "member" */
enum ly_role ly_role_parse(const char *s);   /* LY_ROLE_NONE when unknown */

/*
 * Who a caller is, as /me shows it (SPEC §5.8): a user with the
 * organizations they belong to, or a service account. The credential's own
 * lookup can fetch it in the same statement (ly_access_identity,
 * ly_api_keys_identity), so that /me costs one.
 */
struct ly_identity {
    const struct ly_user *user;           /* users; NULL for a service account */
    const struct ly_org_membership *orgs; /* a user's, by name; a personal key's: its own */
    size_t n_orgs;
    const struct ly_service_account *account; /* service accounts; NULL for a user */
};

/*
 * The columns ly_orgs_read_identity reads, for the aliases of users (u),
 * of their memberships (m) and of those organizations (o), given as string
 * literals: one row per membership, or one with o's columns NULL.
 */
#define LY_ORGS_IDENTITY_COLS(u, m, o)                                                             \
    u ".id, " u ".email, " u ".display_name, " u ".platform_admin, " u ".disabled, " u             \
      ".created_at, " u ".updated_at, " o ".name, " o ".display_name, " m ".role"
#define LY_ORGS_IDENTITY_N_COLS 10

/*
 * The user and their memberships from every row of res, whose columns from
 * col on are LY_ORGS_IDENTITY_COLS: out->user stays NULL when the user's id
 * is (a service account's row), and a row without an organization adds none.
 * The memberships come out by name whatever the rows' order.
 */
void ly_orgs_read_identity(const struct ly_db_result *res, size_t col, struct ly_arena *a,
                           struct ly_identity *out);

/*
 * The user user_id (password_hash not read) and the organizations they
 * belong to with their role, ordered by name, in one query (for /me).
 * LY_E_NOT_FOUND when there is no such user. Everything in a.
 */
int ly_orgs_identity(struct ly_db *db, struct ly_arena *a, const char *user_id,
                     struct ly_identity *out);

/*
 * Create organization name (display_name may be NULL) with owner_user_id as
 * its owner, inside the caller's unit of work (db.h). LY_E_CONFLICT when the name is taken. *out
 * (may be NULL) is filled on success, strings in a.
 */
int ly_orgs_create(struct ly_db *db, struct ly_arena *a, const char *name, const char *display_name,
                   const char *owner_user_id, int64_t now, struct ly_org *out);

/*
 * Write org_id's guard (guard + 1), inside the caller's unit of work: the
 * first statement of every transaction that checks a rule over the
 * organization's rows (it keeps an owner; nothing is added to it while it
 * is deleted). Such transactions then conflict on this row, on one server
 * (its lock) and on Galera (its write set; doc/decisions.md, "Galera").
 * LY_E_NOT_FOUND when there is no such organization.
 */
int ly_orgs_guard(struct ly_db *db, struct ly_arena *a, const char *org_id);

/*
 * Whether removing user_id from every organization would leave one of them
 * without an owner: LY_E_CONFLICT if so, LY_OK if not. Writes the guard of
 * every organization user_id owns and locks their owner rows (FOR UPDATE):
 * call inside the transaction that removes the user. LY_E_RETRY when the
 * user became an owner meanwhile (the unit is to be run again).
 */
int ly_orgs_check_not_last_owner(struct ly_db *db, struct ly_arena *a, const char *user_id);

/*
 * The organization called name, with its member count, and (when user_id is
 * not NULL) that user's role in it (LY_ROLE_NONE if not a member) in *role.
 * One indexed query. LY_E_NOT_FOUND when there is no such organization;
 * outputs untouched on failure. role may be NULL.
 */
int ly_orgs_get(struct ly_db *db, struct ly_arena *a, const char *name, const char *user_id,
                struct ly_org *out, enum ly_role *role);

/* Which organizations ly_orgs_list returns. */
enum ly_orgs_scope {
    LY_ORGS_ALL,     /* every organization (platform administrators) */
    LY_ORGS_OF_USER, /* those the user `who` is a member of */
    LY_ORGS_WITH_ID, /* the one whose id is `who` (a service account's own) */
};

/*
 * A page of organizations ordered by name, after page->after (a name). *more
 * is set when more follow. *out in a; outputs untouched on failure.
 */
int ly_orgs_list(struct ly_db *db, struct ly_arena *a, enum ly_orgs_scope scope, const char *who,
                 const struct ly_page *page, struct ly_org **out, size_t *n, bool *more);

/*
 * Set display_name (NULL clears it) and updated_at of organization org_id.
 * An organization deleted meanwhile is not an error here: read it again
 * (ly_orgs_get) to answer.
 */
int ly_orgs_update(struct ly_db *db, struct ly_arena *a, const char *org_id,
                   const char *display_name, int64_t now);

/*
 * Delete organization org_id with one statement: the foreign keys take its
 * memberships, service accounts, their keys and tokens with it, so every
 * credential of the organization stops working at once. LY_E_NOT_FOUND when
 * it is already gone.
 */
int ly_orgs_delete(struct ly_db *db, struct ly_arena *a, const char *org_id);

/*
 * A page of the members of org_id ordered by e-mail, after page->after (an
 * e-mail). *more is set when more follow. *out in a.
 */
int ly_members_list(struct ly_db *db, struct ly_arena *a, const char *org_id,
                    const struct ly_page *page, struct ly_member **out, size_t *n, bool *more);

/*
 * Give user_id the role in org_id, adding the membership if there is none,
 * inside the caller's unit of work, first locking the owner rows. The target's current
 * role is read under that lock: when it or the new role is owner and
 * may_manage_owners is false, LY_E_FORBIDDEN; demoting the last owner,
 * LY_E_CONFLICT. On success *added tells an addition from a change and *out
 * (may be NULL) holds the membership (user fields left NULL).
 */
int ly_members_set(struct ly_db *db, struct ly_arena *a, const char *org_id, const char *user_id,
                   enum ly_role role, bool may_manage_owners, int64_t now, bool *added,
                   struct ly_member *out);

/*
 * Remove user_id from org_id, inside the caller's unit of work, first
 * locking the owner rows. LY_E_NOT_FOUND when not a member; LY_E_FORBIDDEN when the member is
 * an owner and may_manage_owners is false; LY_E_CONFLICT when it is the last
 * owner.
 */
int ly_members_remove(struct ly_db *db, struct ly_arena *a, const char *org_id, const char *user_id,
                      bool may_manage_owners);

#endif
