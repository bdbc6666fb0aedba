/*
 * accounts: the store of service accounts (SPEC §5.11). SQL for the
 * service_accounts table lives here. An account belongs to one
 * organization, has a name unique there and a role (admin or member); its
 * keys are in apikeys.h and go with it (ON DELETE CASCADE).
 */
#ifndef LY_ACCOUNTS_H
#define LY_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/orgs.h"
#include "lanyard/page.h"

struct ly_db;
struct ly_db_result;

struct ly_service_account {
    const char *id; /* sa-… */
    const char *org_id;
    const char *org_name;
    const char *name;
    enum ly_role role; /* LY_ROLE_ADMIN or LY_ROLE_MEMBER */
    const char *display_name;
    const char *description;
    int64_t created_at;
};

/*
 * The columns ly_accounts_read reads, for the aliases of service_accounts
 * (s) and of its organization (o), given as string literals.
 */
#define LY_ACCOUNT_COLS(s, o)                                                                      \
    s ".id, " s ".org_id, " o ".name, " s ".name, " s ".role, " s ".display_name, " s              \
      ".description, " s ".created_at"
#define LY_ACCOUNT_N_COLS 8

/* The account in row of res, whose columns from col on are LY_ACCOUNT_COLS. */
void ly_accounts_read(const struct ly_db_result *res, size_t row, size_t col,
                      struct ly_service_account *out);

/* The service account id with its organization. LY_E_NOT_FOUND when there is none. */
int ly_accounts_get(struct ly_db *db, struct ly_arena *a, const char *id,
                    struct ly_service_account *out);

/*
 * The account of org_id whose id, or else whose name, is ref (SPEC §5.11:
 * {sa} is either). LY_E_NOT_FOUND when there is none; *out untouched then.
 */
int ly_accounts_find(struct ly_db *db, struct ly_arena *a, const char *org_id, const char *ref,
                     struct ly_service_account *out);

/*
 * A new account name in org_id (org_name is copied into *out), in the
 * caller's unit of work. LY_E_CONFLICT when the name is taken there,
 * LY_E_NOT_FOUND when the organization is gone.
 */
int ly_accounts_create(struct ly_db *db, struct ly_arena *a, const char *org_id,
                       const char *org_name, const char *name, const char *display_name,
                       const char *description, enum ly_role role, int64_t now,
                       struct ly_service_account *out);

/* A page of org_id's accounts ordered by name, after page->after (a name). */
int ly_accounts_list(struct ly_db *db, struct ly_arena *a, const char *org_id,
                     const struct ly_page *page, struct ly_service_account **out, size_t *n,
                     bool *more);

/* What a PATCH changes: the set_ flags say which fields; role LY_ROLE_NONE keeps it. */
struct ly_account_change {
    bool set_display_name;
    const char *display_name; /* NULL clears */
    bool set_description;
    const char *description; /* NULL clears */
    enum ly_role role;
};

int ly_accounts_update(struct ly_db *db, struct ly_arena *a, const char *id,
                       const struct ly_account_change *ch, int64_t now);

/* Delete the account with its keys and tokens (one statement). LY_E_NOT_FOUND. */
int ly_accounts_delete(struct ly_db *db, struct ly_arena *a, const char *id);

#endif
