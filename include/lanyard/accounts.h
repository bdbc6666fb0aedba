/*
 * accounts: the store of service accounts and API keys (SPEC §4, §5.11):
 * the reads the authentication layer and /me need. SQL for the
 * service_accounts and api_keys tables lives here.
 */
#ifndef LY_ACCOUNTS_H
#define LY_ACCOUNTS_H

#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/hash.h"
#include "lanyard/orgs.h"

struct ly_db;

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

/* The service account id with its organization. LY_E_NOT_FOUND when there is none. */
int ly_accounts_get(struct ly_db *db, struct ly_arena *a, const char *id,
                    struct ly_service_account *out);

/* An API key as the authentication layer checks it. */
struct ly_api_key {
    const char *id;                           /* the 16-character key id */
    unsigned char secret_hash[LY_SHA256_LEN]; /* SHA-256 of the 49-character secret */
    int64_t expires_at;                       /* -1: never */
    const char *service_account_id;
    const char *org_id;
    const char *org_name;
    enum ly_role role;    /* the account's */
    const char *resource; /* the resource it is scoped to; NULL unscoped */
};

/* The key key_id with its owner and organization, in one indexed lookup. LY_E_NOT_FOUND. */
int ly_api_keys_get(struct ly_db *db, struct ly_arena *a, const char *key_id,
                    struct ly_api_key *out);

#endif
