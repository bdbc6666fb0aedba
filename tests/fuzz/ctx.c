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
#include <json-c/json.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/http.h"
#include "lanyard/jwt.h"
#include "lanyard/log.h"
#include "lanyard/str.h"

#include "fuzz.h"

#define PUBLIC_URL "http://127.0.0.1:8080"

static struct ly_config configs[3]; /* JWT, opaque, JWT against a live database */
static struct ly_cidr proxies[2];
static struct lanyard_ctx ctxs[3];
static bool ready[3];

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

/* ctxs[i] in mode, its database at socket (NULL: none) with password (what the file held). */
static struct lanyard_ctx *make_ctx(size_t i, enum ly_token_mode mode, const char *socket,
                                    const char *password)
{
    struct lanyard_ctx *ctx = &ctxs[i];

    if (ready[i])
        return ctx;
    fill_config(&configs[i], mode);
    if (socket != NULL) {
        configs[i].database.socket = (char *)socket;
        configs[i].database.password_secret = (char *)password;
        configs[i].database.connect_timeout = 5;
    }
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
    ctx->auth = (struct ly_auth){.cfg = ctx->cfg,
                                 .keys = ctx->keys,
                                 .store = &ly_auth_db_store,
                                 .db = ctx->db,
                                 .uses = &ctx->key_uses,
                                 .hints = &ctx->hints};
    ready[i] = true;
    return ctx;
}

struct lanyard_ctx *fuzz_ctx(enum ly_token_mode mode)
{
    return make_ctx(mode == LY_TOKENS_OPAQUE ? 1 : 0, mode, NULL, NULL);
}

struct lanyard_ctx *fuzz_ctx_live(const char *socket, const char *password)
{
    return make_ctx(2, LY_TOKENS_JWT, socket, password);
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

static const char *header(const struct ly_response *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static bool is_oauth_path(const char *p)
{
    return strcmp(p, "/api/auth/v1/token") == 0 || strcmp(p, "/api/auth/v1/device") == 0 ||
           strcmp(p, "/api/auth/v1/revoke") == 0 || strcmp(p, "/api/auth/v1/introspect") == 0;
}

void fuzz_check_response(const struct ly_request *req, const struct ly_response *resp)
{
    FUZZ_CHECK(resp->status >= 200 && resp->status <= 599);
    if (resp->status == 500) {
        fprintf(stderr, "500 for %s %s: %.*s\n", req->method, req->raw_path ? req->raw_path : "-",
                (int)resp->body_len, resp->body ? resp->body : "");
        FUZZ_CHECK(resp->status != 500);
    }
    /* No parameter makes a responder request the FastCGI authorizer (src/api/check.c). */
    FUZZ_CHECK(!req->authorizer);
    for (size_t i = 0; i < resp->n_headers; i++)
        FUZZ_CHECK(strncmp(resp->headers[i].name, "Variable-", 9) != 0);
    size_t rid = strlen(req->request_id);
    FUZZ_CHECK(rid >= 1 && rid <= LY_REQUEST_ID_MAX &&
               ly_str_is_token_chars((struct ly_str){req->request_id, rid}));

    if (resp->content_type == NULL) {
        FUZZ_CHECK(resp->body_len == 0);
        /*
         * no body: 204, the check's yes (SPEC §5.7), a revocation's 200
         * (RFC 7009 §2.2), or a redirect that says where
         */
        bool empty_ok =
            req->raw_path != NULL && (strcmp(req->raw_path, "/api/auth/v1/check") == 0 ||
                                      strcmp(req->raw_path, "/api/auth/v1/revoke") == 0);
        FUZZ_CHECK(resp->status == 204 || (resp->status == 200 && empty_ok) ||
                   (resp->status >= 300 && resp->status < 400 && header(resp, "Location") != NULL));
    } else {
        bool problem = strcmp(resp->content_type, "application/problem+json") == 0;
        FUZZ_CHECK(problem || strcmp(resp->content_type, "application/json") == 0);
        FUZZ_CHECK(resp->body != NULL && resp->body_len > 0 && resp->body_len < 1024 * 1024);
        struct json_tokener *tok = json_tokener_new();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        struct json_object *o = json_tokener_parse_ex(tok, resp->body, (int)resp->body_len);
        FUZZ_CHECK(o != NULL && json_tokener_get_parse_end(tok) == resp->body_len);
        if (problem) {
            struct json_object *st = NULL;
            FUZZ_CHECK(json_object_object_get_ex(o, "status", &st) &&
                       json_object_get_int(st) == resp->status);
            FUZZ_CHECK(json_object_object_get_ex(o, "code", NULL));
        }
        json_object_put(o);
        json_tokener_free(tok);
    }
    if (resp->status == 503)
        FUZZ_CHECK(header(resp, "Retry-After") != NULL);
    if (resp->status == 405)
        FUZZ_CHECK(header(resp, "Allow") != NULL);
    /* sign-in refusals are 401 without a challenge (SPEC §5.2): no credential was asked for */
    if (resp->status == 401 && req->raw_path != NULL && !is_oauth_path(req->raw_path) &&
        strcmp(req->raw_path, "/api/auth/v1/signin") != 0)
        FUZZ_CHECK(header(resp, "WWW-Authenticate") != NULL);
    if (req->raw_path != NULL && strncmp(req->raw_path, "/api/auth/v1/", 13) == 0)
        FUZZ_CHECK(resp->no_store);
    FUZZ_CHECK(resp->n_headers <= LY_MAX_RESPONSE_HEADERS);
    for (size_t i = 0; i < resp->n_headers; i++) {
        FUZZ_CHECK(resp->headers[i].name != NULL && resp->headers[i].value != NULL);
        FUZZ_CHECK(strpbrk(resp->headers[i].value, "\r\n") == NULL); /* no header injection */
    }
}

int fuzz_request_start(struct lanyard_ctx *ctx, struct ly_request *req, char **env,
                       struct ly_str rest, bool *too_large)
{
    int r = ly_request_init(req, ctx->cfg, &ctx->arena, env);
    req->ctx = ctx;
    if (r != LY_OK) {
        FUZZ_CHECK(r == LY_E_INVALID_REQUEST);
    } else if (req->content_length > ctx->cfg->server.max_body) {
        *too_large = true;
    } else if (req->content_length > 0) {
        if (req->content_length > rest.len) {
            r = LY_E_INVALID_REQUEST; /* the body ended early */
        } else {
            char *buf = ly_arena_alloc(req->arena, (size_t)req->content_length + 1);
            memcpy(buf, rest.ptr, (size_t)req->content_length);
            buf[req->content_length] = '\0';
            req->body = (struct ly_str){buf, (size_t)req->content_length};
        }
    }
    return r;
}
