/*
 * orgs: the store of organizations and memberships (SPEC §5.9). SQL lives
 * here and nowhere else for these tables.
 */
#ifndef LY_ORGS_H
#define LY_ORGS_H

#include <stddef.h>
#include <stdint.h>

#include "lanyard/arena.h"

struct ly_db;

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

const char *ly_role_name(enum ly_role role); /* "owner", "admin", "member" */
enum ly_role ly_role_parse(const char *s);   /* LY_ROLE_NONE when unknown */

/*
 * The organizations user_id belongs to, with its role, ordered by name.
 * *out in a. LY_OK or a database error.
 */
int ly_orgs_of_user(struct ly_db *db, struct ly_arena *a, const char *user_id,
                    struct ly_org_membership **out, size_t *n);

/*
 * Create organization name (display_name may be NULL) with owner_user_id as
 * its owner, in one transaction. LY_E_CONFLICT when the name is taken.
 * *out (may be NULL) is filled on success, strings in a.
 */
int ly_orgs_create(struct ly_db *db, struct ly_arena *a, const char *name,
                   const char *display_name, const char *owner_user_id, int64_t now,
                   struct ly_org *out);

/*
 * Whether removing user_id from every organization would leave one of them
 * without an owner: LY_E_CONFLICT if so, LY_OK if not. Locks the owner rows
 * (FOR UPDATE): call inside the transaction that removes the user.
 */
int ly_orgs_check_not_last_owner(struct ly_db *db, struct ly_arena *a, const char *user_id);

#endif
