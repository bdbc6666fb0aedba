/*
 * ctx: everything that lives as long as a worker, in one struct passed
 * explicitly (STYLE 6): the config, the log, the database handle, the
 * signing keys, the authentication layer's state, the request arena. There
 * is no other mutable global state.
 */
#ifndef LY_CTX_H
#define LY_CTX_H

#include <stdbool.h>

#include "lanyard/arena.h"
#include "lanyard/auth.h"
#include "lanyard/config.h"
#include "lanyard/log.h"
#include "lanyard/pagetoken.h"
#include "lanyard/password.h"

struct ly_db;
struct ly_keyset;
struct ly_httpc;
struct ly_jwks;
struct ly_seal_key;

/*
 * SPEC §5.15: the JWK Sets of the identity providers this worker has
 * verified ID tokens of, by jwks_uri; refetched on an unknown kid or when
 * older than LY_JWKS_MAX_AGE.
 */
#define LY_JWKS_CACHE   8
#define LY_JWKS_MAX_AGE 3600
struct ly_jwks_cached {
    char *uri; /* heap; NULL: a free slot */
    struct ly_jwks *keys;
    int64_t fetched_at;
};

struct lanyard_ctx {
    struct ly_config *cfg; /* owned */
    struct ly_log log;
    struct ly_db *db;            /* owned; connects lazily, reconnects after failures */
    struct ly_keyset *keys;      /* owned; NULL in opaque mode */
    struct ly_auth auth;         /* the authentication layer, over cfg, keys and db */
    struct ly_key_uses key_uses; /* the API keys' last uses auth notes, for the tick */
    struct ly_owner_hints hints; /* what auth found of credentials that never changes */
    struct ly_scrypt_params scrypt;
    struct ly_arena arena;                   /* the request arena, reset after every request */
    unsigned char page_key[LY_PAGE_KEY_LEN]; /* settings.page_token_key, read once */
    bool page_key_loaded;
    int64_t next_purge;       /* when the idle tick next deletes stale throttle rows */
    struct ly_seal_key *seal; /* owned; NULL when security.secrets_key_file is "" */
    struct ly_httpc *httpc;   /* owned; made on the first call to an identity provider */
    struct ly_jwks_cached jwks[LY_JWKS_CACHE];
    /*
     * SPEC §6 metrics (include/lanyard/metrics.h): the host's directory, and
     * whether this process tried to claim its slot there (once: a worker that
     * cannot serves on without counts, and says so once in the log).
     */
    char metrics_dir[256];
    bool metrics_tried;
};

/*
 * Set up ctx from cfg (taking ownership): log settings, keys (JWT mode), and
 * the database handle (not yet connected). LY_OK or LY_E_CONFIG with err.
 */
int ly_ctx_init(struct lanyard_ctx *ctx, struct ly_config *cfg, const char *program, char *err,
                size_t errlen);
void ly_ctx_release(struct lanyard_ctx *ctx);

/* The outbound HTTP client (SPEC §5.15), made on first use. LY_OK or LY_E_INTERNAL. */
int ly_ctx_httpc(struct lanyard_ctx *ctx, struct ly_httpc **out);

/* The page-token key, loaded from the database once. LY_OK or the error. */
int ly_ctx_page_key(struct lanyard_ctx *ctx, struct ly_arena *a, const unsigned char **key);

#endif
