/*
 * check_inproc: requests answered in-process by a real worker context, for
 * instruction counts without the noise of a loaded machine (issue 17;
 * bench/callgrind.py runs it under callgrind, bench/README.md).
 *
 *   check_inproc --config FILE request METHOD URI [--bearer-file F] [--body-file F]
 *       one request; prints the status on the first line, then the body
 *   check_inproc --config FILE mint --like-file F -n N
 *       N fresh JWTs with the claims of the one in F (new jti, iat now), one a line
 *   check_inproc --config FILE run URI [--bearer-file F] -n N
 *       one warm-up request, then N requests, each through measured_request()
 *
 * The worker context comes from the config file as the lanyard worker
 * builds it (ly_config_load, ly_ctx_init). bench_request() does per request
 * what src/http/fcgi.c's loop does between accepting a request and the
 * next accept: ly_request_init, ly_api_handle, the response header block
 * and body written out (here to memory, not to the FastCGI stream), the
 * request log line, the arena reset and the tick. Under callgrind, the
 * statistics are zeroed after the warm-up and dumped after the last
 * measured request (valgrind/callgrind.h), so the dump holds the measured
 * requests and nothing else, call counts included. The FastCGI record
 * parsing of libfcgi and the socket I/O are not in it: they are the
 * floor's cost too.
 *
 * With --bearer-file, a file of one token is sent on every request (a
 * token seen before); a file of N + 1 tokens gives the warm-up the first
 * and every measured request a token of its own (the cache cold). The CGI
 * parameters are what lighttpd's mod_fastcgi sends for a wrk request.
 * Secrets come from files, never from the command line.
 */
#include "build-config.h"
#include "banned.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lanyard/api.h"
#include "lanyard/arena.h"
#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/http.h"
#include "lanyard/jwt.h"
#include "lanyard/log.h"
#include "lanyard/mem.h"
#include "lanyard/rand.h"

/*
 * callgrind's client requests (no-ops outside valgrind): the statistics are
 * zeroed after the warm-up and dumped after the last measured request, so
 * that the dump's call counts, too, are the measured requests' only.
 */
#if defined(__has_include) && !defined(__CPPCHECK__)
/* cppcheck cannot evaluate __has_include; it checks the no-op branch */
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND_H 1
#endif
#endif
#ifndef HAVE_CALLGRIND_H
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(what) ((void)(what))
#endif

#define MAX_ENV    32
#define MAX_TOKENS 100001
#define OUT_MAX    (256 * 1024)
#define FILE_MAX   (4 * 1024 * 1024)

/* Where the response goes instead of the FastCGI stream. */
static char out_buf[OUT_MAX];
static size_t out_len;

static void out_put(const char *s, size_t n)
{
    if (n > sizeof(out_buf) - out_len)
        n = sizeof(out_buf) - out_len;
    memcpy(out_buf + out_len, s, n);
    out_len += n;
}

/* As write_response() in src/http/fcgi.c: the header block (ly_response_head), then the body. */
static void write_response(const struct ly_request *req, const struct ly_response *resp)
{
    char head[4096];
    size_t n = ly_response_head(req, resp, head, sizeof(head));
    out_put(head, n);
    if (resp->body_len > 0)
        out_put(resp->body, resp->body_len);
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * One request, as src/http/fcgi.c handle_one() and the loop after it; the
 * status answered. The body (if any) is given whole, as read_body() would.
 */
__attribute__((noinline)) static int bench_request(struct lanyard_ctx *ctx, char *const *env,
                                                   const char *body, size_t body_len)
{
    struct ly_request req;
    struct ly_response resp;
    memset(&resp, 0, sizeof(resp));
    out_len = 0;
    int r = ly_request_init(&req, ctx->cfg, &ctx->arena, env);
    req.ctx = ctx;
    ctx->log.request_id = req.request_id;
    bool too_large = false;
    if (r == LY_OK && req.content_length > ctx->cfg->server.max_body) {
        too_large = true;
    } else if (r == LY_OK && req.content_length > 0) {
        if (req.content_length != body_len) {
            r = LY_E_INVALID_REQUEST;
        } else {
            char *buf = ly_arena_alloc(req.arena, body_len + 1);
            memcpy(buf, body, body_len);
            buf[body_len] = '\0';
            req.body = (struct ly_str){buf, body_len};
        }
    }
    ly_api_handle(&req, &resp, r, too_large);
    write_response(&req, &resp);
    ly_log_request(&ctx->log, req.method[0] ? req.method : "-", req.raw_path ? req.raw_path : "-",
                   resp.status, (long long)(mono_us() - req.start_us), resp.principal);
    ctx->log.request_id = NULL;
    ly_arena_reset(&ctx->arena);
    ly_api_tick(ctx, false);
    ly_arena_reset(&ctx->arena);
    return resp.status;
}

/*
 * The measured requests go through here and the warm-up does not, so that
 * a profile names them apart (and `--collect-atstart=no
 * --toggle-collect=measured_request` counts their costs without
 * callgrind.h, though not their call counts, which callgrind keeps even
 * while it does not collect).
 */
__attribute__((noinline)) static int measured_request(struct lanyard_ctx *ctx, char *const *env)
{
    return bench_request(ctx, env, NULL, 0);
}

/* The whole of a file (at most FILE_MAX bytes), NUL-terminated, on the heap; NULL on error. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "check_inproc: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = ly_xmalloc(FILE_MAX + 1);
    size_t n = fread(buf, 1, FILE_MAX, f);
    bool bad = ferror(f) || !feof(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "check_inproc: %s: unreadable or larger than %d bytes\n", path, FILE_MAX);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The non-empty lines of buf, cut in place; their number. */
static size_t split_lines(char *buf, char **lines, size_t max)
{
    size_t n = 0;
    for (char *p = buf; *p != '\0' && n < max;) {
        char *nl = strchr(p, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (*p != '\0')
            lines[n++] = p;
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return n;
}

/*
 * The CGI parameters lighttpd's mod_fastcgi sends for `wrk -H "Authorization:
 * Bearer T" URL` (Host and the header wrk sends, no User-Agent), in its
 * order; bearer may be NULL. Strings on the heap, kept for the process.
 */
static void make_env(char **env, const char *method, const char *uri, const char *bearer,
                     size_t body_len)
{
    size_t n = 0;
    const char *q = strchr(uri, '?');
    char *tmp;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        int k_ = asprintf(&tmp, __VA_ARGS__);                                                      \
        if (k_ < 0)                                                                                \
            abort();                                                                               \
        env[n++] = tmp;                                                                            \
    } while (0)
    if (body_len > 0) {
        ADD("CONTENT_LENGTH=%zu", body_len);
        ADD("CONTENT_TYPE=application/json");
    }
    ADD("SERVER_SOFTWARE=lighttpd/1.4.69");
    ADD("SERVER_NAME=127.0.0.1");
    ADD("GATEWAY_INTERFACE=CGI/1.1");
    ADD("REQUEST_SCHEME=http");
    ADD("SERVER_PORT=8080");
    ADD("SERVER_ADDR=127.0.0.1");
    ADD("REMOTE_PORT=40312");
    ADD("REMOTE_ADDR=127.0.0.1");
    ADD("SCRIPT_NAME=%.*s", (int)(q != NULL ? (size_t)(q - uri) : strlen(uri)), uri);
    ADD("PATH_INFO=");
    ADD("SCRIPT_FILENAME=/var/www%.*s", (int)(q != NULL ? (size_t)(q - uri) : strlen(uri)), uri);
    ADD("DOCUMENT_ROOT=/var/www");
    ADD("REQUEST_URI=%s", uri);
    ADD("QUERY_STRING=%s", q != NULL ? q + 1 : "");
    ADD("REQUEST_METHOD=%s", method);
    ADD("REDIRECT_STATUS=200");
    ADD("SERVER_PROTOCOL=HTTP/1.1");
    ADD("HTTP_HOST=127.0.0.1:8080");
    if (bearer != NULL)
        ADD("HTTP_AUTHORIZATION=Bearer %s", bearer);
#undef ADD
    env[n] = NULL;
}

struct opts {
    const char *config, *bearer_file, *body_file, *like_file;
    long n;
};

static struct lanyard_ctx *open_ctx(const char *config)
{
    static struct lanyard_ctx ctx;
    char err[1024];
    struct ly_config *cfg = NULL;
    if (ly_config_load(config, &cfg, err, sizeof(err)) != LY_OK ||
        ly_ctx_init(&ctx, cfg, "lanyard", err, sizeof(err)) != LY_OK) {
        fprintf(stderr, "check_inproc: %s\n", err);
        if (cfg != NULL)
            ly_config_free(cfg);
        return NULL;
    }
    return &ctx;
}

/* The tokens of --bearer-file (NULL without one); false on error. */
static bool load_tokens(const struct opts *o, char **buf, char **tokens, size_t *n)
{
    *n = 0;
    *buf = NULL;
    if (o->bearer_file == NULL)
        return true;
    size_t len = 0;
    *buf = read_file(o->bearer_file, &len);
    if (*buf == NULL)
        return false;
    *n = split_lines(*buf, tokens, MAX_TOKENS);
    if (*n == 0) {
        fprintf(stderr, "check_inproc: %s: no token\n", o->bearer_file);
        return false;
    }
    return true;
}

static int cmd_request(const struct opts *o, const char *method, const char *uri)
{
    static char *tokens[MAX_TOKENS];
    char *tbuf = NULL, *body = NULL, *env[MAX_ENV + 1];
    size_t nt = 0, body_len = 0;
    int rc = 1;
    if (!load_tokens(o, &tbuf, tokens, &nt))
        goto out;
    if (o->body_file != NULL && (body = read_file(o->body_file, &body_len)) == NULL)
        goto out;
    struct lanyard_ctx *ctx = open_ctx(o->config);
    if (ctx == NULL)
        goto out;
    make_env(env, method, uri, nt > 0 ? tokens[0] : NULL, body_len);
    int status = bench_request(ctx, env, body, body_len);
    printf("%d\n", status);
    /* the body: what follows the header block's empty line */
    char *sep = memmem(out_buf, out_len, "\r\n\r\n", 4);
    if (sep != NULL)
        fwrite(sep + 4, 1, out_len - (size_t)(sep + 4 - out_buf), stdout);
    printf("\n");
    ly_ctx_release(ctx);
    rc = 0;
out:
    free(tbuf);
    free(body);
    return rc;
}

static int cmd_mint(const struct opts *o)
{
    size_t len = 0;
    char *like = o->like_file != NULL ? read_file(o->like_file, &len) : NULL;
    if (like == NULL)
        return 1;
    while (len > 0 && (like[len - 1] == '\n' || like[len - 1] == '\r'))
        like[--len] = '\0';
    struct lanyard_ctx *ctx = open_ctx(o->config);
    if (ctx == NULL || ctx->keys == NULL) {
        fprintf(stderr, "check_inproc: mint needs a config in JWT mode\n");
        free(like);
        return 1;
    }
    int64_t now = (int64_t)time(NULL);
    struct ly_jwt_expect exp = {ctx->cfg->tokens.issuer, ctx->cfg->tokens.audience, now,
                                ctx->cfg->tokens.leeway};
    struct ly_jwt_claims c;
    const char *why = NULL;
    int rc = 1;
    if (ly_jwt_verify(ctx->keys, (struct ly_str){like, len}, &exp, &ctx->arena, &c, &why) !=
        LY_OK) {
        fprintf(stderr, "check_inproc: --like-file: %s\n", why);
        goto out;
    }
    /* the claims stay in ctx's arena; each token is signed into one reset after it */
    struct ly_arena signing;
    ly_arena_init(&signing, 4096);
    long i = 0;
    for (; i < o->n; i++) {
        unsigned char raw[12];
        char jti[32];
        ly_rand_bytes(raw, sizeof(raw));
        snprintf(jti, sizeof(jti), "bench%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x", raw[0],
                 raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7], raw[8], raw[9], raw[10],
                 raw[11]);
        c.jti = jti;
        char *tok = NULL;
        if (ly_jwt_sign(ctx->keys, &c, &signing, &tok) != LY_OK)
            break;
        printf("%s\n", tok);
        ly_arena_reset(&signing);
    }
    rc = i == o->n ? 0 : 1;
    ly_arena_release(&signing);
out:
    ly_ctx_release(ctx);
    free(like);
    return rc;
}

static int cmd_run(const struct opts *o, const char *uri)
{
    static char *tokens[MAX_TOKENS];
    char *tbuf = NULL;
    size_t nt = 0;
    int rc = 1;
    if (!load_tokens(o, &tbuf, tokens, &nt))
        goto out;
    bool fresh = nt > 1;
    if (fresh && nt < (size_t)o->n + 1) {
        fprintf(stderr, "check_inproc: %zu tokens for -n %ld: give 1, or n + 1\n", nt, o->n);
        goto out;
    }
    /* every request's parameters made before the first, so that none of it is measured */
    size_t n_envs = fresh ? (size_t)o->n + 1 : 1;
    char **envs = ly_xmalloc(n_envs * (MAX_ENV + 1) * sizeof(char *));
    for (size_t i = 0; i < n_envs; i++)
        make_env(envs + i * (MAX_ENV + 1), "GET", uri, nt > 0 ? tokens[i] : NULL, 0);
    struct lanyard_ctx *ctx = open_ctx(o->config);
    if (ctx == NULL)
        goto out;
    /* the warm-up: connects, prepares the statements, fills the cache */
    int warm = bench_request(ctx, envs, NULL, 0);
    long ok = 0;
    int other = 0;
    CALLGRIND_ZERO_STATS;
    int64_t t0 = mono_us();
    for (long i = 0; i < o->n; i++) {
        char *const *env = envs + (fresh ? (size_t)(i + 1) * (MAX_ENV + 1) : 0);
        int status = measured_request(ctx, env);
        if (status == warm)
            ok++;
        else
            other = status;
    }
    int64_t t1 = mono_us();
    CALLGRIND_DUMP_STATS_AT("measured");
    printf("requests %ld status %d same %ld wall_us_per_request %.1f\n", o->n, warm, ok,
           o->n > 0 ? (double)(t1 - t0) / (double)o->n : 0.0);
    if (ok != o->n)
        fprintf(stderr, "check_inproc: %ld of %ld answers were %d, not %d\n", o->n - ok, o->n,
                other, warm);
    rc = warm == 200 && ok == o->n ? 0 : 1;
    if (warm != 200)
        fprintf(stderr, "check_inproc: the warm-up answered %d: %.*s\n", warm, (int)out_len,
                out_buf);
    ly_ctx_release(ctx);
out:
    free(tbuf);
    return rc;
}

static void usage(void)
{
    fputs("usage: check_inproc --config FILE request METHOD URI [--bearer-file F] "
          "[--body-file F]\n"
          "       check_inproc --config FILE mint --like-file F -n N\n"
          "       check_inproc --config FILE run URI [--bearer-file F] -n N\n",
          stderr);
}

int main(int argc, char **argv)
{
    struct opts o = {NULL, NULL, NULL, NULL, 1};
    const char *pos[3] = {NULL, NULL, NULL};
    size_t n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--config") == 0)
            slot = &o.config;
        else if (strcmp(a, "--bearer-file") == 0)
            slot = &o.bearer_file;
        else if (strcmp(a, "--body-file") == 0)
            slot = &o.body_file;
        else if (strcmp(a, "--like-file") == 0)
            slot = &o.like_file;
        if (slot != NULL || strcmp(a, "-n") == 0) {
            if (i + 1 == argc) {
                usage();
                return 2;
            }
            const char *v = argv[++i];
            if (slot != NULL) {
                *slot = v;
            } else {
                char *end;
                o.n = strtol(v, &end, 10);
                if (*end != '\0' || o.n < 0 || o.n >= MAX_TOKENS) {
                    usage();
                    return 2;
                }
            }
        } else if (n_pos < 3) {
            pos[n_pos++] = a;
        } else {
            usage();
            return 2;
        }
    }
    if (o.config == NULL || n_pos == 0) {
        usage();
        return 2;
    }
    if (strcmp(pos[0], "request") == 0 && n_pos == 3)
        return cmd_request(&o, pos[1], pos[2]);
    if (strcmp(pos[0], "mint") == 0 && n_pos == 1)
        return cmd_mint(&o);
    if (strcmp(pos[0], "run") == 0 && n_pos == 2)
        return cmd_run(&o, pos[1]);
    usage();
    return 2;
}
