#include "build-config.h"
#include "banned.h"

#include "lanyard/ctx.h"

#include <stdlib.h>
#include <string.h>

#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/httpc.h"
#include "lanyard/jwt.h"
#include "lanyard/metrics.h"
#include "lanyard/mem.h"
#include "lanyard/oidc.h"
#include "lanyard/seal.h"
#include "lanyard/settings.h"

/*
 * The verified-credential cache, only once the host's revocation generation
 * is mapped (lanyard/metrics.h): without it a revocation made by another
 * worker would wait for auth_cache_ttl, so the cache is off rather than wrong.
 */
static struct ly_auth_cache *cache_new(const struct ly_config *cfg, struct ly_log *log)
{
    if (cfg->path == NULL)
        return NULL; /* a config built in memory (tests): no host to share revocations with */
    char dir[256], err[512];
    int r = ly_metrics_dir(cfg->path, dir, sizeof(dir));
    if (r == LY_OK)
        r = ly_metrics_generation_open(dir, err, sizeof(err));
    else
        snprintf(err, sizeof(err), "the metrics directory's name is too long");
    if (r == LY_OK)
        return ly_auth_cache_new();
    ly_log_warn(log, "the verified-credential cache is off in this worker: %s", err);
    return NULL;
}

int ly_ctx_init(struct lanyard_ctx *ctx, struct ly_config *cfg, const char *program, char *err,
                size_t errlen)
{
    struct ly_keyset *keys = NULL;
    struct ly_seal_key *seal = NULL;
    if (cfg->tokens.mode == LY_TOKENS_JWT) {
        int r = ly_keyset_load(cfg, &keys, err, errlen);
        if (r != LY_OK)
            return r;
    }
    if (cfg->security.secrets_key_file != NULL && cfg->security.secrets_key_file[0] != '\0') {
        seal = ly_xmalloc(sizeof(*seal));
        int r = ly_seal_key_load(cfg->security.secrets_key_file, seal, err, errlen);
        if (r != LY_OK) {
            free(seal);
            ly_keyset_free(keys);
            return r;
        }
    }
    memset(ctx, 0, sizeof(*ctx));
    ctx->seal = seal;
    ctx->cfg = cfg;
    ly_log_init(&ctx->log, program);
    ctx->log.level = (enum ly_log_level)cfg->log.level;
    ctx->log.format = (enum ly_log_format)cfg->log.format;
    ctx->keys = keys;
    ctx->scrypt.n = cfg->security.scrypt_n;
    ctx->scrypt.r = cfg->security.scrypt_r;
    ctx->scrypt.p = cfg->security.scrypt_p;
    ctx->db = ly_db_new(cfg, &ctx->log);
    ctx->auth = (struct ly_auth){.cfg = cfg,
                                 .keys = keys,
                                 .store = &ly_auth_db_store,
                                 .db = ctx->db,
                                 .uses = &ctx->key_uses,
                                 .cache = cache_new(cfg, &ctx->log),
                                 .hints = &ctx->hints};
    ly_arena_init(&ctx->arena, 16384);
    return LY_OK;
}

_Static_assert(LY_PAGE_KEY_LEN == LY_SETTINGS_PAGE_KEY_LEN, "one page-token key size");

int ly_ctx_page_key(struct lanyard_ctx *ctx, struct ly_arena *a, const unsigned char **key)
{
    if (!ctx->page_key_loaded) {
        int r = ly_settings_page_key(ctx->db, a, ctx->page_key);
        if (r == LY_E_NOT_FOUND) {
            ly_log_error(&ctx->log, "settings.page_token_key is missing: run lanyardctl migrate");
            return LY_E_INTERNAL;
        }
        if (r != LY_OK)
            return r;
        ctx->page_key_loaded = true;
    }
    *key = ctx->page_key;
    return LY_OK;
}

int ly_ctx_httpc(struct lanyard_ctx *ctx, struct ly_httpc **out)
{
    if (ctx->httpc == NULL) {
        /* SPEC §5.15: a provider is https, or http on a loopback address, checked per URL by the
         * caller. */
        struct ly_httpc_opts o = {.connect_timeout_ms = 5000,
                                  .total_timeout_ms = 10000,
                                  .max_body = 256 * 1024,
                                  .allow_http = true,
                                  .user_agent = "lanyard/" PACKAGE_VERSION};
        if (ly_httpc_new(&o, &ctx->httpc) != LY_OK)
            return LY_E_INTERNAL;
    }
    *out = ctx->httpc;
    return LY_OK;
}

void ly_ctx_release(struct lanyard_ctx *ctx)
{
    for (size_t i = 0; i < LY_JWKS_CACHE; i++) {
        free(ctx->jwks[i].uri);
        ly_jwks_free(ctx->jwks[i].keys);
    }
    ly_httpc_free(ctx->httpc);
    if (ctx->seal != NULL) {
        ly_seal_key_wipe(ctx->seal);
        free(ctx->seal);
    }
    ly_auth_cache_free(ctx->auth.cache);
    ly_arena_release(&ctx->arena);
    ly_db_free(ctx->db);
    ly_keyset_free(ctx->keys);
    ly_config_free(ctx->cfg);
    memset(ctx, 0, sizeof(*ctx));
}
