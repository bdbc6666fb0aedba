/*
 * apikeys: the store of API keys (SPEC §4, §5.11): a service account's keys
 * and users' personal keys, each acting in one organization, maybe scoped
 * to one resource. SQL for the api_keys table lives here. The secret is
 * kept only as its SHA-256; the token is made and shown once, by
 * ly_api_keys_create, and never stored.
 */
#ifndef LY_APIKEYS_H
#define LY_APIKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/config.h"
#include "lanyard/hash.h"
#include "lanyard/jwt.h"
#include "lanyard/orgs.h"
#include "lanyard/page.h"
#include "lanyard/token.h"

struct ly_db;

#define LY_RESOURCE_MAX 255

/* One key as stored, with what its readers need of its owner and organization. */
struct ly_api_key {
    const char *id; /* 16 characters of A–Z2–7 */
    const char *org_id;
    const char *org_name;
    enum ly_principal_type owner_type; /* a service account's key, or a user's personal key */
    const char *owner_id;              /* sa-… or u-… */
    const char *owner_name;            /* the account's name, or the user's e-mail */
    enum ly_role role;                 /* personal keys: the key's own; service accounts': NONE */
    const char *resource;              /* NULL: unscoped */
    const char *display_name;
    const char *description;
    int64_t created_at;
    int64_t expires_at;   /* -1: never */
    int64_t last_used_at; /* -1: never */
    int64_t lifetime;     /* seconds it was made to live; -1: no expiry */
    /* Filled by ly_api_keys_get only (authentication): */
    unsigned char secret_hash[LY_SHA256_LEN];
    enum ly_role owner_role; /* the account's role, or the user's in org (NONE: not a member) */
    bool owner_disabled;     /* a personal key's user is disabled */
    bool owner_exists;
};

/*
 * The key key_id with its owner and organization, in one indexed round
 * trip (the authentication layer's lookup). LY_E_NOT_FOUND.
 */
int ly_api_keys_get(struct ly_db *db, struct ly_arena *a, const char *key_id,
                    struct ly_api_key *out);

/*
 * ly_api_keys_get for a key whose owner is known to be of kind owner (the
 * check's lookup of a key seen before): only that owner's tables, and only
 * what authentication reads. The organization's name, the owner's name,
 * the names, created_at and lifetime are not read (NULL, 0 and -1): the
 * caller knows the name from the key's first lookup. LY_E_NOT_FOUND too
 * when the key's owner is of the other kind.
 */
int ly_api_keys_get_owned(struct ly_db *db, struct ly_arena *a, const char *key_id,
                          enum ly_principal_type owner, struct ly_api_key *out);

/*
 * ly_api_keys_get with the owner's identity (for /me) in the same
 * statement: the user with the key's organization only, or the account.
 */
int ly_api_keys_identity(struct ly_db *db, struct ly_arena *a, const char *key_id,
                         struct ly_api_key *out, struct ly_identity *who);

/* ly_api_keys_identity with only the tables of an owner of kind owner (as _get_owned). */
int ly_api_keys_identity_owned(struct ly_db *db, struct ly_arena *a, const char *key_id,
                               enum ly_principal_type owner, struct ly_api_key *out,
                               struct ly_identity *who);

/* The key key_id if it is owner_id's (sa-… or u-…). LY_E_NOT_FOUND otherwise. */
int ly_api_keys_find(struct ly_db *db, struct ly_arena *a, const char *owner_id, const char *key_id,
                     struct ly_api_key *out);

/* The key key_id if it acts in org_id. LY_E_NOT_FOUND otherwise. */
int ly_api_keys_find_in_org(struct ly_db *db, struct ly_arena *a, const char *org_id,
                            const char *key_id, struct ly_api_key *out);

enum ly_keys_scope {
    LY_KEYS_OF_OWNER, /* every key of the account or user `who`, expired ones too */
    LY_KEYS_IN_ORG,   /* the unexpired keys acting in organization `who` */
};

/* A page of keys ordered by id, after page->after (an id). */
int ly_api_keys_list(struct ly_db *db, struct ly_arena *a, enum ly_keys_scope scope,
                     const char *who, int64_t now, const struct ly_page *page,
                     struct ly_api_key **out, size_t *n, bool *more);

/*
 * SPEC §5.11: when a key made now expires. Exactly one of ttl (has_ttl)
 * and expires_at (has_expires_at; expires_null for an explicit null) may
 * be given; neither gives api_keys.default_ttl. *expires_at is -1 for no
 * expiry. Returns LY_OK, or LY_E_VALIDATION with *why (static) and the
 * outputs untouched.
 */
int ly_api_keys_expiry(const struct ly_config *cfg, int64_t now, bool has_ttl, int64_t ttl,
                       bool has_expires_at, bool expires_null, int64_t expires_at, int64_t *out,
                       const char **why);

/* The expiry of a key rotated now from one made to live lifetime (-1: none), capped by max_ttl. */
int64_t ly_api_keys_rotated_expiry(const struct ly_config *cfg, int64_t now, int64_t lifetime);

/* What a new key is; owner_type says whether owner_id is a service account or a user. */
struct ly_api_key_new {
    enum ly_principal_type owner_type;
    const char *owner_id;
    const char *org_id;
    enum ly_role role; /* personal keys: admin or member; service accounts': NONE */
    const char *resource;
    const char *display_name;
    const char *description;
    int64_t expires_at; /* -1: never */
};

/* A key just made: the stored key, and its token and secret, shown once. */
struct ly_api_key_made {
    struct ly_api_key key;
    char token[LY_TOKEN_MAX_LEN];
    const char *secret; /* the last 49 characters of token */
};

/*
 * Make a key: a new id and a secret from the OS CSPRNG, stored as the
 * secret's SHA-256, inside the caller's unit of work. The owner's row is
 * locked first and its unexpired keys counted under that lock, so of
 * concurrent creations exactly max (api_keys.max_per_account) succeed; the
 * rest get LY_E_CONFLICT. With over_limit (a rotation) the count is not
 * enforced. LY_E_NOT_FOUND when the owner is gone.
 */
int ly_api_keys_create(struct ly_db *db, struct ly_arena *a, const struct ly_config *cfg,
                       const struct ly_api_key_new *k, bool over_limit, int64_t now,
                       struct ly_api_key_made *out);

/* Change display name and description (set_ flags as in accounts.h). */
int ly_api_keys_update(struct ly_db *db, struct ly_arena *a, const char *id, bool set_display_name,
                       const char *display_name, bool set_description, const char *description);

/* Bring a key's expiry forward to expires_at if it is later (rotation's grace). */
int ly_api_keys_expire_by(struct ly_db *db, struct ly_arena *a, const char *id, int64_t expires_at);

/* Delete a key (and the tokens exchanged with it). LY_E_NOT_FOUND when it is gone. */
int ly_api_keys_delete(struct ly_db *db, struct ly_arena *a, const char *id);

/*
 * Delete every personal key of user_id (a user disabled: enabling them again
 * must not bring the keys back).
 */
int ly_api_keys_delete_of_user(struct ly_db *db, struct ly_arena *a, const char *user_id);

/* Record that key id was used in the minute that starts at minute (never moves it back). */
int ly_api_keys_touch(struct ly_db *db, struct ly_arena *a, const char *id, int64_t minute);

#endif
