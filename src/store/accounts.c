#include "build-config.h"
#include "banned.h"

#include "lanyard/accounts.h"

#include <string.h>

#include "lanyard/db.h"
#include "lanyard/err.h"

int ly_accounts_get(struct ly_db *db, struct ly_arena *a, const char *id,
                    struct ly_service_account *out)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(id)};
    int r = ly_db_exec(db, a,
                       "SELECT s.id, s.org_id, o.name, s.name, s.role, s.display_name,"
                       " s.description, s.created_at FROM service_accounts s"
                       " JOIN organizations o ON o.id = s.org_id WHERE s.id = ?",
                       p, 1, &res);
    if (r != LY_OK)
        return r;
    if (res.n_rows != 1)
        return LY_E_NOT_FOUND;
    out->id = ly_db_str(&res, 0, 0);
    out->org_id = ly_db_str(&res, 0, 1);
    out->org_name = ly_db_str(&res, 0, 2);
    out->name = ly_db_str(&res, 0, 3);
    out->role = ly_role_parse(ly_db_str(&res, 0, 4));
    out->display_name = ly_db_str(&res, 0, 5);
    out->description = ly_db_str(&res, 0, 6);
    out->created_at = ly_db_int(&res, 0, 7, 0);
    return LY_OK;
}

int ly_api_keys_get(struct ly_db *db, struct ly_arena *a, const char *key_id,
                    struct ly_api_key *out)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(key_id)};
    int r = ly_db_exec(db, a,
                       "SELECT k.id, k.secret_hash, k.expires_at,"
                       " s.id, s.org_id, o.name, s.role FROM api_keys k"
                       " JOIN service_accounts s ON s.id = k.service_account_id"
                       " JOIN organizations o ON o.id = s.org_id WHERE k.id = ?",
                       p, 1, &res);
    if (r != LY_OK)
        return r;
    const struct ly_db_value *h = res.n_rows == 1 ? ly_db_cell(&res, 0, 1) : NULL;
    if (h == NULL)
        return LY_E_NOT_FOUND;
    if (h->kind != LY_DB_BLOB || h->len != LY_SHA256_LEN)
        return LY_E_INTERNAL;
    out->id = ly_db_str(&res, 0, 0);
    memcpy(out->secret_hash, h->s, LY_SHA256_LEN);
    out->expires_at = ly_db_cell(&res, 0, 2)->kind == LY_DB_NULL ? -1 : ly_db_int(&res, 0, 2, 0);
    out->service_account_id = ly_db_str(&res, 0, 3);
    out->org_id = ly_db_str(&res, 0, 4);
    out->org_name = ly_db_str(&res, 0, 5);
    out->role = ly_role_parse(ly_db_str(&res, 0, 6));
    out->resource = NULL; /* scoped keys arrive with the keys API (SPEC §4) */
    return LY_OK;
}
