/*
 * sso: the store of single sign-on per organization (SPEC §5.15): an
 * organization's OpenID Connect provider, the e-mail domains it speaks for,
 * and the sign-ins under way (state). SQL for org_sso, sso_domains and
 * sso_states lives here; what the rows mean is the API layer's (src/api/sso.c).
 */
#ifndef LY_SSO_H
#define LY_SSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/hash.h"
#include "lanyard/orgs.h"

struct ly_db;

#define LY_SSO_MAX_DOMAINS 20
#define LY_SSO_STATE_TTL   600 /* seconds: a sign-in under way lives 10 minutes */
#define LY_SSO_ISSUER_MAX  512
#define LY_SSO_URL_MAX     2048
#define LY_SSO_CLIENT_MAX  255

struct ly_sso {
    const char *org_id;
    const char *org_name; /* read only: filled by the getters */
    const char *issuer;
    const char *client_id;
    const char *client_secret_sealed;
    const char *authorization_endpoint;
    const char *token_endpoint;
    const char *jwks_uri;
    enum ly_role default_role; /* member or admin */
    const char **domains;      /* lower-cased, in name order */
    size_t n_domains;
    int64_t created_at, updated_at;
};

/*
 * Set the organization's provider and its domains (replacing any), in the
 * caller's unit of work. LY_E_CONFLICT when a domain is another
 * organization's; *created tells a first configuration from a change.
 */
int ly_sso_put(struct ly_db *db, struct ly_arena *a, const struct ly_sso *s, int64_t now,
               bool *created);

/* The provider of org_id, with its domains. LY_E_NOT_FOUND when none. */
int ly_sso_get(struct ly_db *db, struct ly_arena *a, const char *org_id, struct ly_sso *out);

/* Remove it (its domains with it). LY_E_NOT_FOUND when there was none. */
int ly_sso_delete(struct ly_db *db, struct ly_arena *a, const char *org_id);

/* The name of the organization whose domains hold domain. LY_E_NOT_FOUND when none. */
int ly_sso_find_domain(struct ly_db *db, struct ly_arena *a, const char *domain,
                       const char **org_name);

/* The provider of the organization named name. LY_E_NOT_FOUND when no such org or no SSO. */
int ly_sso_get_by_org_name(struct ly_db *db, struct ly_arena *a, const char *name,
                           struct ly_sso *out);

struct ly_sso_state {
    const char *org_id;
    unsigned char binding_hash[LY_SHA256_LEN];
    const char *return_to;
    int64_t expires_at;
};

/* Record a sign-in under way: its state's hash, for org_id, bound to the browser. */
int ly_sso_state_create(struct ly_db *db, struct ly_arena *a,
                        const unsigned char state_hash[LY_SHA256_LEN],
                        const struct ly_sso_state *st, int64_t now);

/*
 * Take the state of state_hash: it is deleted, in the caller's unit of
 * work, whatever comes next (single use). LY_E_NOT_FOUND when unknown,
 * taken before, or expired at now (an expired one is deleted too).
 */
int ly_sso_state_take(struct ly_db *db, struct ly_arena *a,
                      const unsigned char state_hash[LY_SHA256_LEN], int64_t now,
                      struct ly_sso_state *out);

#endif
