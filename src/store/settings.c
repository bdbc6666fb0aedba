#include "build-config.h"
#include "banned.h"

#include "lanyard/settings.h"

#include <string.h>

#include "lanyard/db.h"
#include "lanyard/err.h"

int ly_settings_page_key(struct ly_db *db, struct ly_arena *a,
                         unsigned char key[LY_SETTINGS_PAGE_KEY_LEN])
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S("page_token_key")};
    int r = ly_db_exec(db, a, "SELECT value FROM settings WHERE name = ?", p, 1, &res);
    if (r != LY_OK)
        return r;
    const struct ly_db_value *v = res.n_rows == 1 ? ly_db_cell(&res, 0, 0) : NULL;
    if (v == NULL || v->kind != LY_DB_BLOB || v->len != LY_SETTINGS_PAGE_KEY_LEN)
        return LY_E_NOT_FOUND;
    memcpy(key, v->s, LY_SETTINGS_PAGE_KEY_LEN);
    return LY_OK;
}
