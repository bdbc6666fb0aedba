/*
 * Between auth.c and cache.c: the verified-credential cache's slots (see
 * struct ly_auth_cache in lanyard/auth.h). Not part of the layer's API.
 */
#ifndef LY_AUTH_INTERNAL_H
#define LY_AUTH_INTERNAL_H

#include <stdint.h>

#include "lanyard/auth.h"
#include "lanyard/hash.h"

/* What a slot remembers beyond the principal: all times are "usable while now < t". */
struct ly_auth_cached {
    int64_t valid_until; /* the credential's verification (JWT: exp; else min(now+ttl, expiry)) */
    int64_t live_until;  /* a JWT's check_revocation lookup; 0: not cached */
    int64_t last_used;   /* API keys: the last minute known noted or written */
    uint64_t generation; /* the host's revocation generation read before the lookups */
};

/*
 * The slot for hash (with kind), when it holds a credential usable at now:
 * *p gets the principal with its strings copied into a, *meta what the slot
 * remembers, and the slot's handle is returned for ly_auth_cache_update.
 * The full hash is compared in constant time. NULL on a miss. A slot
 * filled under another revocation generation than gen (a revocation on
 * this host since) is a miss too, but for a JWT, whose signature stays
 * verified: it is returned with meta->live_until 0, so that
 * check_revocation's lookup is made again. Counted in the metrics.
 */
void *ly_auth_cache_get(struct ly_auth_cache *c, enum ly_cred_kind kind,
                        const unsigned char hash[LY_SHA256_LEN], int64_t now, uint64_t gen,
                        struct ly_arena *a, struct ly_principal *p, struct ly_auth_cached *meta);

/* Change what a slot got by ly_auth_cache_get remembers (in the same request). */
void ly_auth_cache_update(void *slot, const struct ly_auth_cached *meta);

/*
 * Remember p for hash, evicting the set's least recently used slot if
 * need be. Nothing happens when meta->valid_until <= now or p's strings do
 * not fit in a slot (the credential is verified in full every time then).
 */
void ly_auth_cache_put(struct ly_auth_cache *c, enum ly_cred_kind kind,
                       const unsigned char hash[LY_SHA256_LEN], int64_t now,
                       const struct ly_principal *p, const struct ly_auth_cached *meta);

#endif
