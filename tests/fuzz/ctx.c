/*
 * ctx: the worker state the request and auth targets run against, built by
 * hand once per process (as tests/unit/test_http.c does) rather than from a
 * config file. The database socket names a path that does not exist, so
 * every database call fails at once with LY_E_UNAVAILABLE (503): the fuzz
 * targets reach every handler without a server and without waiting.
 */
#include "build-config.h"
#include "banned.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/jwt.h"
#include "lanyard/log.h"

#include "fuzz.h"

#define PUBLIC_URL "http://127.0.0.1:8080"

static struct ly_config configs[2];
static struct ly_cidr proxies[2];
static struct lanyard_ctx ctxs[2];
static bool ready[2];

static void fill_config(struct ly_config *cfg, enum ly_token_mode mode)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->path = (char *)"fuzz.yaml";
    cfg->server.public_url = (char *)PUBLIC_URL;
    cfg->server.max_body = 65536;
    proxies[0].family = AF_INET;
    inet_pton(AF_INET, "10.0.0.0", proxies[0].addr);
    proxies[0].prefix = 8;
    proxies[1].family = AF_INET6;
    inet_pton(AF_INET6, "fd00::", proxies[1].addr);
    proxies[1].prefix = 8;
    cfg->server.trusted_proxies = proxies;
    cfg->server.n_trusted_proxies = 2;
    cfg->database.host = (char *)"localhost";
    cfg->database.port = 3306;
    cfg->database.socket = (char *)"/nonexistent/lanyard-fuzz/mysqld.sock";
    cfg->database.name = (char *)"lanyard";
    cfg->database.user = (char *)"lanyard";
    cfg->database.password_file = (char *)"";
    cfg->database.ca_file = (char *)"";
    cfg->database.connect_timeout = 1;
    cfg->tokens.mode = mode;
    cfg->tokens.issuer = (char *)PUBLIC_URL;
    cfg->tokens.audience = (char *)"lanyard";
    cfg->tokens.access_ttl = 900;
    cfg->tokens.refresh_ttl = 30 * 86400;
    cfg->tokens.leeway = 30;
    cfg->tokens.jwt.algorithm = LY_ALG_EDDSA;
    cfg->tokens.jwt.key_file = (char *)"";
    cfg->api_keys.prefix = (char *)"lyk";
    cfg->api_keys.default_ttl = 365 * 86400;
    cfg->api_keys.max_ttl = 730 * 86400;
    cfg->api_keys.max_per_account = 10;
    cfg->accounts.service_account_domain = (char *)"service.lanyard.local";
    cfg->accounts.self_signup = true;
    cfg->accounts.users_create_orgs = true;
    cfg->security.password_min_length = 12;
    /* the cheapest scrypt there is: signup hashes before it reaches the database */
    cfg->security.scrypt_n = 16;
    cfg->security.scrypt_r = 1;
    cfg->security.scrypt_p = 1;
    cfg->security.signin_max_failures = 5;
    cfg->security.signin_window = 900;
    cfg->log.level = LY_LOG_ERROR;
}

/* An EdDSA keyset from a key generated into a temporary directory, removed at once. */
static struct ly_keyset *make_keys(struct ly_config *cfg)
{
    char dir[] = "/tmp/lanyard-fuzz-ctx-XXXXXX", path[64], err[256] = "";
    struct ly_keyset *ks = NULL;

    FUZZ_CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/jwt.pem", dir);
    cfg->tokens.jwt.key_file = path;
    if (ly_key_generate(LY_ALG_EDDSA, path, err, sizeof(err)) != LY_OK ||
        ly_keyset_load(cfg, &ks, err, sizeof(err)) != LY_OK) {
        fprintf(stderr, "fuzz ctx: %s\n", err);
        abort();
    }
    cfg->tokens.jwt.key_file = (char *)"/nonexistent/jwt.pem"; /* read once, above */
    unlink(path);
    rmdir(dir);
    return ks;
}

struct lanyard_ctx *fuzz_ctx(enum ly_token_mode mode)
{
    size_t i = mode == LY_TOKENS_OPAQUE ? 1 : 0;
    struct lanyard_ctx *ctx = &ctxs[i];

    if (ready[i])
        return ctx;
    fill_config(&configs[i], mode);
    memset(ctx, 0, sizeof(*ctx));
    ctx->cfg = &configs[i];
    ly_log_init(&ctx->log, "fuzz");
    ctx->log.level = LY_LOG_ERROR;
    if (mode == LY_TOKENS_JWT)
        ctx->keys = make_keys(&configs[i]);
    ctx->scrypt.n = configs[i].security.scrypt_n;
    ctx->scrypt.r = configs[i].security.scrypt_r;
    ctx->scrypt.p = configs[i].security.scrypt_p;
    ctx->db = ly_db_new(&configs[i], &ctx->log);
    ctx->auth =
        (struct ly_auth){ctx->cfg, ctx->keys, &ly_auth_db_store, ctx->db, &ctx->key_uses, NULL};
    ready[i] = true;
    return ctx;
}

char *fuzz_fresh_jwt(struct lanyard_ctx *ctx, struct ly_arena *a, int64_t now)
{
    struct ly_jwt_claims c = {
        .iss = ctx->cfg->tokens.issuer,
        .sub = "u-fuzz",
        .aud = ctx->cfg->tokens.audience,
        .jti = "jti-fuzz",
        .client_id = "lanyard",
        .sid = "s-fuzz",
        .principal_type = LY_PRINCIPAL_USER,
        .exp = now + 900,
        .iat = now,
        .nbf = now,
    };
    char *tok = NULL;
    FUZZ_CHECK(ly_jwt_sign(ctx->keys, &c, a, &tok) == LY_OK);
    return tok;
}
