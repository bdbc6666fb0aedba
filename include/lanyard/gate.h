/*
 * gate: the few purpose-built reads of the check endpoint (SPEC §5.7) and of
 * introspection (SPEC §5.6), and the check's organization rule as a pure
 * function. The check is the platform's hot path: each read here is one
 * indexed statement that returns only what the decision needs.
 */
#ifndef LY_GATE_H
#define LY_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/orgs.h"
#include "lanyard/hash.h"

struct ly_db;

/* What check?org= needs to know of a user (by access token) and one organization. */
struct ly_gate_user {
    bool platform_admin;
    bool disabled;
    bool org_exists;   /* an organization of that name exists */
    enum ly_role role; /* the user's role in it; LY_ROLE_NONE when not a member */
};

/*
 * The user user_id, and the organization called org_name with the user's
 * membership role there, in one statement (users by primary key, the
 * organization by its unique name, the membership by its primary key).
 * LY_E_NOT_FOUND when there is no such user; *out untouched on failure.
 */
int ly_gate_user(struct ly_db *db, struct ly_arena *a, const char *user_id, const char *org_name,
                 struct ly_gate_user *out);

/* What check?org= needs to know of a service account by JWT: its organization and role. */
struct ly_gate_account {
    const char *org_id;
    const char *org_name;
    enum ly_role role;
};

/*
 * The service account account_id's organization and role, in one statement
 * by primary key. LY_E_NOT_FOUND when it is gone; *out untouched on failure.
 */
int ly_gate_account(struct ly_db *db, struct ly_arena *a, const char *account_id,
                    struct ly_gate_account *out);

/*
 * SPEC §5.7: whether a caller with role `have` in an organization (and
 * platform_admin or not) passes check?org=…&role=want. An organization
 * that does not exist passes no one (a yes/no endpoint answers 403, not
 * 404); a platform administrator passes for any existing one, whatever
 * the role asked; everyone else needs at least `want`.
 */
bool ly_gate_org_passes(bool org_exists, bool platform_admin, enum ly_role have, enum ly_role want);

/*
 * When the opaque access token (refresh false) or refresh token (true)
 * stored under hash was made (introspection's "iat"), by primary key.
 * LY_E_NOT_FOUND when it is gone; *out untouched on failure. (An API key's
 * created_at comes with ly_api_keys_get.)
 */
int ly_gate_issued_at(struct ly_db *db, struct ly_arena *a, bool refresh,
                      const unsigned char hash[LY_SHA256_LEN], int64_t *out);

#endif
