#include "build-config.h"
#include "banned.h"

#include "lanyard/ctx.h"

#include <string.h>

#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/jwt.h"
#include "lanyard/settings.h"

int ly_ctx_init(struct lanyard_ctx *ctx, struct ly_config *cfg, const char *program, char *err,
                size_t errlen)
{
    struct ly_keyset *keys = NULL;
    if (cfg->tokens.mode == LY_TOKENS_JWT) {
        int r = ly_keyset_load(cfg, &keys, err, errlen);
        if (r != LY_OK)
            return r;
    }
    memset(ctx, 0, sizeof(*ctx));
    ctx->cfg = cfg;
    ly_log_init(&ctx->log, program);
    ctx->log.level = (enum ly_log_level)cfg->log.level;
    ctx->log.format = (enum ly_log_format)cfg->log.format;
    ctx->keys = keys;
    ctx->scrypt.n = cfg->security.scrypt_n;
    ctx->scrypt.r = cfg->security.scrypt_r;
    ctx->scrypt.p = cfg->security.scrypt_p;
    ctx->db = ly_db_new(cfg, &ctx->log);
    ctx->auth = (struct ly_auth){cfg, keys, &ly_auth_db_store, ctx->db, &ctx->key_uses};
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

void ly_ctx_release(struct lanyard_ctx *ctx)
{
    ly_arena_release(&ctx->arena);
    ly_db_free(ctx->db);
    ly_keyset_free(ctx->keys);
    ly_config_free(ctx->cfg);
    memset(ctx, 0, sizeof(*ctx));
}
