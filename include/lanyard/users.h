/*
 * users: the store of users (SPEC §5.10). SQL for the users table lives here.
 */
#ifndef LY_USERS_H
#define LY_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/page.h"

struct ly_db;
struct json_object;

struct ly_user {
    const char *id;
    const char *email;
    const char *display_name; /* NULL when unset */
    const char *password_hash;
    bool platform_admin;
    bool disabled;
    int64_t created_at, updated_at;
};

/*
 * Insert a user (id generated, email already normalised, password_hash a
 * PHC string). LY_E_CONFLICT when the e-mail is taken. *out filled on success.
 */
int ly_users_insert(struct ly_db *db, struct ly_arena *a, const char *email,
                    const char *display_name, const char *password_hash, bool platform_admin,
                    int64_t now, struct ly_user *out);

/* By id or by (normalised) e-mail. LY_E_NOT_FOUND when there is none. */
int ly_users_get(struct ly_db *db, struct ly_arena *a, const char *id, struct ly_user *out);
int ly_users_get_by_email(struct ly_db *db, struct ly_arena *a, const char *email,
                          struct ly_user *out);

/* A page of users ordered by e-mail, after page->after. *more is set when more follow. */
int ly_users_list(struct ly_db *db, struct ly_arena *a, const struct ly_page *page,
                  struct ly_user **out, size_t *n, bool *more);

/*
 * Change the fields given (NULL / negative means unchanged: display_name
 * "" clears it; disabled and platform_admin are -1, 0 or 1).
 */
int ly_users_update(struct ly_db *db, struct ly_arena *a, const char *id, const char *display_name,
                    const char *password_hash, int disabled, int platform_admin, int64_t now);

/* Disable or enable a user (in the caller's unit of work); disabling ends all their sessions. */
int ly_users_set_disabled(struct ly_db *db, struct ly_arena *a, const char *id, bool disabled,
                          int64_t now);

int ly_users_delete(struct ly_db *db, struct ly_arena *a, const char *id);

/*
 * SPEC §5.15: the organization whose SSO made user id (*org_id NULL when
 * none: a user made with a password), and the marking of a user so made.
 */
int ly_users_sso_org(struct ly_db *db, struct ly_arena *a, const char *id, const char **org_id);
int ly_users_set_sso_org(struct ly_db *db, struct ly_arena *a, const char *id, const char *org_id);

/*
 * Number of platform administrators, disabled ones included (bootstrap
 * refuses when there is one). With lock, the administrators' guard (the
 * settings row 'platform_admins') is written first, and their rows stay
 * locked (FOR UPDATE) until the transaction ends: concurrent callers
 * conflict on one server and on Galera (doc/decisions.md, "Galera").
 */
int ly_users_count_admins(struct ly_db *db, struct ly_arena *a, int64_t *n, bool lock);

/*
 * Number of platform administrators who are not disabled (the ones that can
 * act), other than except_id (NULL: none excepted). A change that takes
 * away except_id's right needs another one to stay: the last active
 * administrator may be neither disabled, demoted nor deleted, and a
 * disabled one does not count (doc/decisions.md). lock as for
 * ly_users_count_admins.
 */
int ly_users_count_active_admins(struct ly_db *db, struct ly_arena *a, const char *except_id,
                                 int64_t *n, bool lock);

/* The user object of SPEC §5.10. */
struct json_object *ly_user_to_json(const struct ly_user *u);

#endif
