/*
 * sessions: user sessions and the tokens that belong to them (SPEC §4,
 * §5.2, §5.3): refresh tokens (single use) and opaque access tokens, stored
 * as SHA-256 of the token text and looked up by that hash.
 */
#ifndef LY_SESSIONS_H
#define LY_SESSIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/hash.h"
#include "lanyard/orgs.h"
#include "lanyard/page.h"

struct ly_db;

/* Bytes kept of the client's address and User-Agent (sessions.ip, sessions.user_agent). */
#define LY_SESSION_IP_MAX         45
#define LY_SESSION_USER_AGENT_MAX 255

/*
 * Create a session (id "ses-" + 20 base32) for user_id. kind is "signin" or
 * "device". ip and user_agent (either may be NULL) are stored as
 * ly_utf8_clean makes them: valid UTF-8, no controls, cut to the column.
 */
int ly_sessions_create(struct ly_db *db, struct ly_arena *a, const char *user_id, const char *kind,
                       const char *ip, const char *user_agent, int64_t now, const char **id);

/* Record that the session was refreshed now. */
int ly_sessions_touch(struct ly_db *db, struct ly_arena *a, const char *session_id, int64_t now);

/* End a session: its refresh tokens stop working, its opaque access tokens are deleted. */
int ly_sessions_revoke(struct ly_db *db, struct ly_arena *a, const char *session_id, int64_t now);

/* End every session of user_id, but except_session (may be NULL). */
int ly_sessions_revoke_user(struct ly_db *db, struct ly_arena *a, const char *user_id,
                            const char *except_session, int64_t now);

/* true in *live if the session exists, is not revoked and its user is enabled. */
int ly_sessions_is_live(struct ly_db *db, struct ly_arena *a, const char *session_id, bool *live);

/* A session as the user sees it (SPEC §5.13). */
struct ly_session {
    const char *id;
    int64_t created_at;
    int64_t last_used_at; /* the sign-in or the last refresh */
    int64_t expires_at;   /* when its newest refresh token expires */
    const char *ip;
    const char *user_agent;
};

/*
 * A page of user_id's live sessions (not revoked, a refresh token not yet
 * expired: last use + refresh_ttl after now), newest first, after
 * page->after ("<created_at>:<id>", made by ly_sessions_page_key).
 */
int ly_sessions_list(struct ly_db *db, struct ly_arena *a, const char *user_id, int64_t now,
                     int64_t refresh_ttl, const struct ly_page *page, struct ly_session **out,
                     size_t *n, bool *more);

/* The page key of s, for the next page after it. */
const char *ly_sessions_page_key(struct ly_arena *a, const struct ly_session *s);

/*
 * End user_id's live session session_id as sign-out does. LY_E_NOT_FOUND
 * when it is not theirs, unknown, or already ended.
 */
int ly_sessions_revoke_own(struct ly_db *db, struct ly_arena *a, const char *user_id,
                           const char *session_id, int64_t now);

int ly_refresh_insert(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                      const char *session_id, int64_t now, int64_t expires_at);

struct ly_refresh {
    const char *session_id;
    const char *user_id;
    int64_t expires_at;
    bool spent; /* used before: presenting it again is theft (SPEC §5.3) */
    bool session_revoked;
    bool user_disabled;
};

/*
 * Find a refresh token by hash. With lock, the row is locked until the
 * transaction ends (the caller holds one), so two refreshes with the same
 * token cannot both succeed. LY_E_NOT_FOUND when unknown.
 */
int ly_refresh_lookup(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                      bool lock, struct ly_refresh *out);

/* Mark a refresh token spent. */
int ly_refresh_spend(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                     int64_t now);

/*
 * Whose an opaque access token is: a user's session (session_id, user_id),
 * or a service account that exchanged its key (account_id, key_id; SPEC
 * §5.3): it goes with the session or the key (ON DELETE CASCADE).
 */
struct ly_access_owner {
    const char *session_id;
    const char *user_id;
    const char *account_id;
    const char *key_id;
};

/* Store an opaque access token (its SHA-256) of owner. */
int ly_access_insert(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                     const struct ly_access_owner *owner, int64_t now, int64_t expires_at);

/* Forget one opaque access token (its revocation, RFC 7009). */
int ly_access_delete(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN]);

struct ly_access {
    const char *user_id;    /* users */
    const char *session_id; /* users */
    bool platform_admin;    /* users */
    const char *service_account_id;
    const char *api_key_id;
    const char *org_id; /* service accounts: their organization */
    const char *org_name;
    enum ly_role role;    /* service accounts: theirs */
    const char *resource; /* service accounts: the resource of the key exchanged */
    int64_t expires_at;
};

/*
 * Find a live opaque access token (not expired, session not revoked, user
 * enabled) in one indexed lookup, with what the caller's principal needs
 * (the user's platform_admin, or the account's organization and role).
 * LY_E_NOT_FOUND otherwise.
 */
int ly_access_lookup(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                     int64_t now, struct ly_access *out);

/*
 * ly_access_lookup for a token known to be a signed-in user's: only the
 * user's tables are joined. LY_E_NOT_FOUND too for any other token.
 */
int ly_access_lookup_user(struct ly_db *db, struct ly_arena *a,
                          const unsigned char hash[LY_SHA256_LEN], int64_t now,
                          struct ly_access *out);

/*
 * ly_access_lookup with the caller's identity (for /me) in the same
 * statement: the user and their memberships, or the service account.
 */
int ly_access_identity(struct ly_db *db, struct ly_arena *a,
                       const unsigned char hash[LY_SHA256_LEN], int64_t now, struct ly_access *out,
                       struct ly_identity *who);

/* ly_access_identity for a token known to be a signed-in user's (as ly_access_lookup_user). */
int ly_access_identity_user(struct ly_db *db, struct ly_arena *a,
                            const unsigned char hash[LY_SHA256_LEN], int64_t now,
                            struct ly_access *out, struct ly_identity *who);

#endif
