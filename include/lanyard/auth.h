/*
 * auth: the authentication layer (SPEC §4). One dispatcher turns credential
 * bytes and the time into a principal, for every kind of credential: JWT
 * and opaque access tokens, refresh tokens (for revocation and
 * introspection), API-key Bearer tokens and Basic KEYID:secret. The kinds
 * are rows of one table (src/auth/auth.c), each with how it is recognised
 * and the function that verifies it; the API layer's dispatcher, check,
 * introspection, revocation and the token exchange all call the same entry
 * points. ly_auth_request is the only code that reads Authorization.
 *
 * The lookups a credential needs go through struct ly_auth_store, whose
 * default (ly_auth_db_store) is the store of src/store/; unit tests give
 * their own. struct ly_auth is the worker's state of the layer: the place
 * for the bounded cache of verified credentials (security.auth_cache_ttl)
 * and for the API keys' last-used buffer that the serve loop's tick flushes.
 */
#ifndef LY_AUTH_H
#define LY_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "lanyard/accounts.h"
#include "lanyard/apikeys.h"
#include "lanyard/arena.h"
#include "lanyard/config.h"
#include "lanyard/http.h"
#include "lanyard/jwt.h"
#include "lanyard/orgs.h"
#include "lanyard/sessions.h"
#include "lanyard/str.h"
#include "lanyard/users.h"

struct ly_db;

enum ly_cred_kind {
    LY_CRED_JWT = 0, /* a JWT access token, Bearer */
    LY_CRED_OPAQUE,  /* lya_…, Bearer */
    LY_CRED_REFRESH, /* lyr_…: never on Authorization, only given as a token */
    LY_CRED_API_KEY, /* <prefix>_<KEYID>_<secret>, Bearer */
    LY_CRED_BASIC,   /* Basic base64(KEYID:secret): an API key */
};
#define LY_CRED_BIT(k)      (1u << (k))
#define LY_CREDS_ACCESS     (LY_CRED_BIT(LY_CRED_JWT) | LY_CRED_BIT(LY_CRED_OPAQUE))
#define LY_CREDS_API_KEY    (LY_CRED_BIT(LY_CRED_API_KEY) | LY_CRED_BIT(LY_CRED_BASIC))
#define LY_CREDS_ON_REQUEST (LY_CREDS_ACCESS | LY_CREDS_API_KEY)
#define LY_CREDS_ANY        (LY_CREDS_ON_REQUEST | LY_CRED_BIT(LY_CRED_REFRESH))
/*
 * Not a kind, a wish in accept: that the credential's lookup also fetch
 * the caller's identity (ly_principal.identity), for /me in one statement.
 */
#define LY_AUTH_IDENTITY (1u << 16)

/* Who is calling, typed (SPEC §4). Strings live in the arena given to the layer. */
struct ly_principal {
    enum ly_principal_type type; /* user or service account */
    const char *subject;         /* u-… or sa-… */
    bool platform_admin;         /* users by access token; never through an API key */
    const char *org_id;          /* service accounts: theirs; API keys: the key's; else NULL */
    const char *org_name;
    /*
     * Effective role in org_id: a service account's own; a personal key's
     * the weaker of the key's and its user's current one; LY_ROLE_NONE for
     * user access tokens, which act by their memberships.
     */
    enum ly_role role;
    enum ly_cred_kind cred;
    const char *key_id;     /* API keys and the tokens exchanged with them */
    const char *session_id; /* users' access and refresh tokens */
    const char *resource;   /* the resource a scoped key is bound to; NULL unscoped */
    int64_t expires_at;     /* of the credential; -1 never */
    bool complete;          /* platform_admin / org / role known (ly_auth_complete) */
    /*
     * With LY_AUTH_IDENTITY, what /me shows, when the lookup that verified
     * the credential fetched it: opaque tokens and API keys not answered
     * from the cache. NULL otherwise (the handler then looks it up).
     */
    const struct ly_identity *identity;
};

/* The lookups the layer makes; signatures are the store's own. */
struct ly_auth_store {
    int (*access)(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                  int64_t now, struct ly_access *out);
    int (*refresh)(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                   bool lock, struct ly_refresh *out);
    int (*api_key)(struct ly_db *db, struct ly_arena *a, const char *key_id,
                   struct ly_api_key *out);
    /* The two above with the identity (NULL: the layer uses those and leaves it unset). */
    int (*access_identity)(struct ly_db *db, struct ly_arena *a,
                           const unsigned char hash[LY_SHA256_LEN], int64_t now,
                           struct ly_access *out, struct ly_identity *who);
    int (*api_key_identity)(struct ly_db *db, struct ly_arena *a, const char *key_id,
                            struct ly_api_key *out, struct ly_identity *who);
    /* access and access_identity for a signed-in user's token (NULL: those are used). */
    int (*access_user)(struct ly_db *db, struct ly_arena *a,
                       const unsigned char hash[LY_SHA256_LEN], int64_t now, struct ly_access *out);
    int (*access_identity_user)(struct ly_db *db, struct ly_arena *a,
                                const unsigned char hash[LY_SHA256_LEN], int64_t now,
                                struct ly_access *out, struct ly_identity *who);
    /* api_key for a key whose owner is known to be of one kind (NULL: api_key is used). */
    int (*api_key_owned)(struct ly_db *db, struct ly_arena *a, const char *key_id,
                         enum ly_principal_type owner, struct ly_api_key *out);
    /* api_key_identity for such a key (NULL: api_key_identity is used). */
    int (*api_key_identity_owned)(struct ly_db *db, struct ly_arena *a, const char *key_id,
                                  enum ly_principal_type owner, struct ly_api_key *out,
                                  struct ly_identity *who);
    int (*session_live)(struct ly_db *db, struct ly_arena *a, const char *session_id, bool *live);
    int (*user)(struct ly_db *db, struct ly_arena *a, const char *id, struct ly_user *out);
    int (*account)(struct ly_db *db, struct ly_arena *a, const char *id,
                   struct ly_service_account *out);
    int (*key_touch)(struct ly_db *db, struct ly_arena *a, const char *id, int64_t minute);
};

extern const struct ly_auth_store ly_auth_db_store;

/*
 * SPEC §5.11: last_used_at without a write per request. A key's first use
 * in a minute that the database does not show yet is noted here; the
 * serve loop's tick writes the notes (ly_auth_flush_uses) at most once a
 * minute while busy, and at once when idle.
 */
#define LY_KEY_USES_MAX 256
struct ly_key_uses {
    struct ly_key_use {
        char id[LY_KEY_ID_LEN + 1];
        int64_t minute;
    } e[LY_KEY_USES_MAX];
    size_t n;
    int64_t next_flush;
};

/*
 * What this worker found of the credentials it looked up that never
 * changes, so that their next lookup joins only the tables they need
 * (issue 17): the kind of owner of each API key and its organization's id
 * and name (a key's owner and organization are fixed when it is made, an
 * organization's name never changes; ly_api_keys_get_owned), and which opaque tokens are a
 * signed-in user's (ly_access_lookup_user). Direct-mapped, by KEYID and by
 * the token's SHA-256 (both random). A hint chooses the statement, never
 * the answer: the statement for one kind finds no row for another, and a
 * missing or wrong hint costs the full lookup.
 */
#define LY_HINT_KEYS     512
#define LY_HINT_TOKENS   1024
#define LY_HINT_ORG_ID   16 /* organizations.id, CHAR(16) */
#define LY_HINT_ORG_NAME 63 /* organizations.name, VARCHAR(63) */
struct ly_owner_hints {
    struct ly_key_owner {
        char id[LY_KEY_ID_LEN];
        unsigned char kind; /* 0: none; else 1 + enum ly_principal_type */
        /* the key's organization, fixed when the key is made, and its name, which never changes */
        char org_id[LY_HINT_ORG_ID];
        char org_name[LY_HINT_ORG_NAME + 1];
    } keys[LY_HINT_KEYS];
    uint64_t user_tokens[LY_HINT_TOKENS]; /* a user token's hash, its first 8 bytes; 0: none */
};

/* The slot of the hints' keys[] where KEYID id goes (FNV-1a; its LY_KEY_ID_LEN bytes). */
static inline size_t ly_auth_key_hint_slot(const char *id)
{
    uint32_t x = 2166136261u;
    for (size_t i = 0; i < LY_KEY_ID_LEN; i++)
        x = (x ^ (unsigned char)id[i]) * 16777619u;
    return x % LY_HINT_KEYS;
}

/*
 * The worker's cache of verified credentials, keyed by the SHA-256 of the
 * credential: JWT access tokens whose signature and claims were verified
 * (until exp, whatever security.auth_cache_ttl says), and with
 * auth_cache_ttl > 0 the principal an opaque token or an API key resolved
 * to, and a JWT's session liveness under check_revocation (for at most
 * that long, never past the credential's expiry). A fixed number of slots,
 * set-associative with least-recently-used eviction in each set: it never
 * grows. The slots are opaque outside src/auth/cache.c.
 */
#define LY_AUTH_CACHE_WAYS 4
#define LY_AUTH_CACHE_SETS 256 /* 1,024 slots, about 600 KiB per worker */
struct ly_auth_cache;

struct ly_auth_cache *ly_auth_cache_new(void);
void ly_auth_cache_free(struct ly_auth_cache *c);
/* Slots holding a credential still usable at now (for tests and the bench). */
size_t ly_auth_cache_live(const struct ly_auth_cache *c, int64_t now);

/* The layer's state for one worker (borrowed pointers outlive it). */
struct ly_auth {
    const struct ly_config *cfg;
    const struct ly_keyset *keys; /* NULL in opaque mode */
    const struct ly_auth_store *store;
    struct ly_db *db;
    struct ly_key_uses *uses;     /* NULL: last use not recorded */
    struct ly_auth_cache *cache;  /* NULL: nothing cached */
    struct ly_owner_hints *hints; /* NULL: every lookup joins what any credential needs */
};

enum ly_auth_scheme { LY_SCHEME_NONE = 0, LY_SCHEME_BEARER, LY_SCHEME_BASIC, LY_SCHEME_OTHER };

struct ly_auth_failure {
    enum ly_auth_scheme scheme; /* what the client sent */
    const char *why;            /* static, for error_description; never token material */
};

/*
 * Turn the value of an Authorization header (NULL: none sent) into a
 * principal, accepting the kinds in the mask accept (LY_CRED_BIT…). Returns
 * LY_OK with *out; LY_E_UNAUTHENTICATED when no credential was sent (or an
 * unsupported scheme); LY_E_INVALID_TOKEN when one was sent and refused
 * (fail says how); LY_E_UNAVAILABLE / LY_E_RETRY / LY_E_INTERNAL when a
 * lookup failed. *out is untouched on failure.
 */
int ly_auth_credential(const struct ly_auth *auth, struct ly_arena *a, int64_t now,
                       const char *authorization, unsigned accept, struct ly_principal *out,
                       struct ly_auth_failure *fail);

/*
 * The same for a bare token (introspection, revocation: `token=…`), which
 * is recognised by its form among the kinds in accept.
 */
int ly_auth_token(const struct ly_auth *auth, struct ly_arena *a, int64_t now, struct ly_str token,
                  unsigned accept, struct ly_principal *out, struct ly_auth_failure *fail);

/*
 * An API key given as its two halves (client_id and client_secret of the
 * token endpoint), verified as Basic credentials are.
 */
int ly_auth_key_pair(const struct ly_auth *auth, struct ly_arena *a, int64_t now,
                     struct ly_str key_id, struct ly_str secret, struct ly_principal *out,
                     struct ly_auth_failure *fail);

/* ly_auth_credential on the request's Authorization header. */
int ly_auth_request(const struct ly_auth *auth, const struct ly_request *req, unsigned accept,
                    struct ly_principal *out, struct ly_auth_failure *fail);

/* true when the request carries an Authorization header at all. */
bool ly_auth_request_has_credential(const struct ly_request *req);

/*
 * Fill in what the credential did not carry, with one indexed lookup at
 * most once: for a user their platform_admin (a user disabled or deleted
 * since the token was issued: LY_E_INVALID_TOKEN); for a service account
 * by JWT its organization and role (deleted: LY_E_INVALID_TOKEN).
 */
int ly_auth_complete(const struct ly_auth *auth, struct ly_arena *a, struct ly_principal *p);

/*
 * Write the noted key uses (struct ly_key_uses), in the caller's unit of
 * work, when due: idle, a minute after the last write, or the notes full.
 */
int ly_auth_flush_uses(const struct ly_auth *auth, struct ly_arena *a, int64_t now, bool idle);

/* A personal key: a user acting through an API key, in one organization. */
static inline bool ly_principal_is_personal_key(const struct ly_principal *p)
{
    return p->type == LY_PRINCIPAL_USER && p->key_id != NULL;
}

/* Only the WWW-Authenticate header of ly_auth_challenge (for answers in another form). */
void ly_auth_challenge_header(struct ly_request *req, struct ly_response *resp, int err,
                              const struct ly_auth_failure *fail);

/* Set WWW-Authenticate and the problem answer (SPEC §3, RFC 6750) for an authentication error. */
void ly_auth_challenge(struct ly_request *req, struct ly_response *resp, int err,
                       const struct ly_auth_failure *fail);

#endif
