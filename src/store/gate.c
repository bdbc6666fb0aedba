#include "build-config.h"
#include "banned.h"

#include "lanyard/gate.h"

#include "lanyard/db.h"
#include "lanyard/err.h"

int ly_gate_user(struct ly_db *db, struct ly_arena *a, const char *user_id, const char *org_name,
                 struct ly_gate_user *out)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(org_name), LY_DB_S(user_id)};
    /*
     * SPEC §5.7: org= costs one statement. The user row gives what a JWT
     * does not carry (platform_admin, disabled); the organization comes by
     * its unique name whether or not the user belongs to it, so a platform
     * administrator's pass and everyone's 403 are told apart in one go.
     */
    int r = ly_db_exec_one(db, a,
                           "SELECT u.platform_admin, u.disabled, o.id, m.role"
                           " FROM users u"
                           " LEFT JOIN organizations o ON o.name = ?"
                           " LEFT JOIN memberships m ON m.org_id = o.id AND m.user_id = u.id"
                           " WHERE u.id = ?",
                           p, 2, &res);
    if (r != LY_OK)
        return r;
    out->platform_admin = ly_db_int(&res, 0, 0, 0) != 0;
    out->disabled = ly_db_int(&res, 0, 1, 1) != 0;
    out->org_exists = ly_db_str(&res, 0, 2) != NULL;
    out->role = ly_role_parse(ly_db_str(&res, 0, 3));
    return LY_OK;
}

int ly_gate_account(struct ly_db *db, struct ly_arena *a, const char *account_id,
                    struct ly_gate_account *out)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(account_id)};
    int r = ly_db_exec_one(db, a,
                           "SELECT sa.org_id, o.name, sa.role FROM service_accounts sa"
                           " JOIN organizations o ON o.id = sa.org_id WHERE sa.id = ?",
                           p, 1, &res);
    if (r != LY_OK)
        return r;
    out->org_id = ly_db_str(&res, 0, 0);
    out->org_name = ly_db_str(&res, 0, 1);
    out->role = ly_role_parse(ly_db_str(&res, 0, 2));
    return LY_OK;
}

bool ly_gate_org_passes(bool org_exists, bool platform_admin, enum ly_role have, enum ly_role want)
{
    if (!org_exists)
        return false;
    if (platform_admin)
        return true;
    return have != LY_ROLE_NONE && have >= want;
}

int ly_gate_issued_at(struct ly_db *db, struct ly_arena *a, bool refresh,
                      const unsigned char hash[LY_SHA256_LEN], int64_t *out)
{
    struct ly_db_value p[] = {LY_DB_B(hash, LY_SHA256_LEN)};
    struct ly_db_result res;
    int r = ly_db_exec_one(db, a,
                           refresh ? "SELECT created_at FROM refresh_tokens WHERE token_hash = ?"
                                   : "SELECT created_at FROM access_tokens WHERE token_hash = ?",
                           p, 1, &res);
    if (r != LY_OK)
        return r;
    *out = ly_db_int(&res, 0, 0, 0);
    return LY_OK;
}
