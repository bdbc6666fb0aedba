/*
 * fuzz_live: whole requests through the router and every handler against a
 * live private MariaDB (tests/fuzz/live.sh), so that handlers are fuzzed past
 * their first query: as src/http/fcgi.c handle_one() drives a request, then
 * the worker's tick (ly_api_tick: the key uses flushed).
 *
 * The server: FUZZ_LIVE_DIR names live.sh's directory (the socket
 * mysql.sock, the database password db.password, the administrator's
 * password admin.password). Without it the program skips (exit 77, for make
 * check's replay on a host with no MariaDB: tests/fuzz/live-check.sh starts
 * one). live.sh reset leaves the platform administrator admin@fuzz.test
 * owning organization fuzzorg; on its first input this program adds, through
 * the API, a member user (fuzz-<pid>@fuzz.test, signed up and made an admin
 * of fuzzorg), a service account of fuzzorg with an API key, and the
 * member's personal key, and signs both users in. Names carry the process id,
 * so every run of a process finds its own seed; requests change the data as
 * they go (a key deleted, a session signed out, a user disabled): the state
 * drifts within a run, and live.sh reset restores the seed between runs.
 *
 * The input:
 *   byte 0        the credential the harness sends as Authorization (low 3
 *                 bits): 0 none, 1 the administrator's JWT, 2 the member's
 *                 JWT, 3 the API key (Bearer), 4 the API key as Basic
 *                 KEYID:secret, 5 the personal key (Bearer), 6 none but the
 *                 member's refresh token as the lanyard_refresh cookie,
 *                 7 none. An Authorization line in the input wins.
 *   line 1        METHOD SP TARGET (path and query), e.g. "GET /api/org/v1/me"
 *   lines         headers "Name: value" (at most 16) up to an empty line;
 *                 Content-Type and Content-Length become CONTENT_TYPE and
 *                 CONTENT_LENGTH, the others HTTP_NAME. Content-Length
 *                 defaults to the body's length, Content-Type to
 *                 application/json when there is a body.
 *   the rest      the body.
 * Anywhere in the input these markers become the seed's values: @ORG@,
 * @SA@ (service account id), @KEYID@ and @KEY@ (the API key's id and
 * token), @PKEYID@ and @PKEY@ (the personal key's), @USER@ and @EMAIL@ (the
 * member), @ADMIN@ (the administrator's id), @JWT@ and @MJWT@ (the two
 * access tokens), @RT@ and @ART@ (the member's and the administrator's
 * refresh tokens).
 *
 * Invariants: those of fuzz_check_response (never 500), and no 5xx but 503
 * (with Retry-After); no transaction left open; ASan's leak check at exit.
 */
#include "build-config.h"
#include "banned.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include "lanyard/api.h"
#include "lanyard/arena.h"
#include "lanyard/codec.h"
#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/http.h"
#include "lanyard/mem.h"
#include "lanyard/str.h"

#include "fuzz.h"

#define MAX_HEADERS 16
#define N_MARKS     14

/* The seed: heap strings that live as long as the process. */
enum mark { ORG, SA, KEYID, KEY, PKEYID, PKEY, USER, EMAIL, ADMIN, JWT, MJWT, RT, ART, BASIC };
static const char *const mark_names[N_MARKS] = {
    "@ORG@",   "@SA@",    "@KEYID@", "@KEY@",  "@PKEYID@", "@PKEY@", "@USER@",
    "@EMAIL@", "@ADMIN@", "@JWT@",   "@MJWT@", "@RT@",     "@ART@",  "@BASIC@"};
static char *seed[N_MARKS];
static struct lanyard_ctx *ctx;

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    FUZZ_CHECK(n >= 0);
    char *s = ly_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* One request as handle_one() makes it, then the tick; returns the response's JSON (or NULL). */
static int serve(char **env, struct ly_str body, struct json_object **json)
{
    struct ly_request req;
    struct ly_response resp;
    memset(&resp, 0, sizeof(resp));
    ly_arena_init(&ctx->arena, 4096);
    bool too_large = false;
    int r = fuzz_request_start(ctx, &req, env, body, &too_large);
    ly_api_handle(&req, &resp, r, too_large);
    fuzz_check_response(&req, &resp);
    if (resp.status >= 500 && resp.status != 503) {
        fprintf(stderr, "%d for %s %s\n", resp.status, req.method, req.raw_path);
        FUZZ_CHECK(resp.status < 500 || resp.status == 503);
    }
    if (getenv("FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "%d %s %s %.*s\n", resp.status, req.method,
                req.raw_path ? req.raw_path : "-", (int)resp.body_len, resp.body ? resp.body : "");
    if (json != NULL)
        *json = resp.body ? json_tokener_parse(resp.body) : NULL;
    int status = resp.status;
    FUZZ_CHECK(!ly_db_in_transaction(ctx->db));
    ly_arena_release(&ctx->arena);
    ly_arena_init(&ctx->arena, 4096);
    ly_api_tick(ctx, false);
    FUZZ_CHECK(!ly_db_in_transaction(ctx->db));
    ly_arena_release(&ctx->arena);
    return status;
}

/* A seeding request (heap env); aborts unless the answer is want. */
static struct json_object *seed_call(const char *method, const char *uri, const char *bearer,
                                     const char *body, int want)
{
    char *env[8];
    size_t n = 0;
    size_t blen = body ? strlen(body) : 0;
    char cl[48], *auth = NULL, *m = NULL, *u = NULL;
    snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", blen);
    m = xprintf("REQUEST_METHOD=%s", method);
    u = xprintf("REQUEST_URI=%s", uri);
    env[n++] = m;
    env[n++] = u;
    env[n++] = (char *)"REMOTE_ADDR=127.0.0.1";
    env[n++] = cl;
    if (body != NULL)
        env[n++] = (char *)"CONTENT_TYPE=application/json";
    if (bearer != NULL) {
        auth = xprintf("HTTP_AUTHORIZATION=Bearer %s", bearer);
        env[n++] = auth;
    }
    env[n] = NULL;
    struct json_object *j = NULL;
    int status = serve(env, (struct ly_str){body ? body : "", blen}, &j);
    if (status != want) {
        fprintf(stderr, "fuzz_live seed: %s %s: %d, not %d: %s\n", method, uri, status, want,
                j ? json_object_to_json_string(j) : "");
        abort();
    }
    free(m);
    free(u);
    free(auth);
    return j;
}

static char *take(struct json_object *j, const char *field)
{
    struct json_object *v = NULL;
    FUZZ_CHECK(json_object_object_get_ex(j, field, &v) && json_object_is_type(v, json_type_string));
    return ly_xstrdup(json_object_get_string(v));
}

static char *read_line(const char *dir, const char *name)
{
    char path[512], line[256] = "";
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    if (fp == NULL || fgets(line, sizeof(line), fp) == NULL) {
        fprintf(stderr, "fuzz_live: cannot read %s (tests/fuzz/live.sh OUT reset)\n", path);
        abort();
    }
    fclose(fp);
    line[strcspn(line, "\r\n")] = '\0';
    return ly_xstrdup(line);
}

/* The server, then the rest of the seed through the API (above). */
static void setup(void)
{
    const char *dir = getenv("FUZZ_LIVE_DIR");
    if (dir == NULL || dir[0] == '\0') {
        printf(
            "fuzz_live: skipped: FUZZ_LIVE_DIR is not set (run it through tests/fuzz/live.sh)\n");
        exit(77);
    }
    char *sock = xprintf("%s/mysql.sock", dir);
    ctx = fuzz_ctx_live(sock, read_line(dir, "db.password"));
    /* every seeding and every fuzzed sign-in comes from 127.0.0.1 */
    ctx->cfg->security.signin_address_max_failures = 1000000;
    char *admin_pw = read_line(dir, "admin.password");
    char *body = NULL;
    struct json_object *j;
    long pid = (long)getpid();

    seed[ORG] = ly_xstrdup("fuzzorg");
    body = xprintf("{\"email\":\"admin@fuzz.test\",\"password\":\"%s\"}", admin_pw);
    j = seed_call("POST", "/api/auth/v1/signin", NULL, body, 200);
    seed[JWT] = take(j, "access_token");
    seed[ART] = take(j, "refresh_token");
    json_object_put(j);
    free(body);
    j = seed_call("GET", "/api/org/v1/me", seed[JWT], NULL, 200);
    struct json_object *me = NULL;
    FUZZ_CHECK(json_object_object_get_ex(j, "user", &me));
    seed[ADMIN] = take(me, "id");
    json_object_put(j);

    seed[EMAIL] = xprintf("fuzz-%ld@fuzz.test", pid);
    body = xprintf("{\"email\":\"%s\",\"password\":\"%s\",\"display_name\":\"Fuzz %ld\"}",
                   seed[EMAIL], admin_pw, pid);
    j = seed_call("POST", "/api/auth/v1/signup", NULL, body, 201);
    seed[USER] = take(j, "id");
    json_object_put(j);
    free(body);
    char *uri = xprintf("/api/org/v1/orgs/fuzzorg/members/%s", seed[USER]);
    json_object_put(seed_call("PUT", uri, seed[JWT], "{\"role\":\"admin\"}", 201));
    free(uri);
    body = xprintf("{\"email\":\"%s\",\"password\":\"%s\"}", seed[EMAIL], admin_pw);
    j = seed_call("POST", "/api/auth/v1/signin", NULL, body, 200);
    seed[MJWT] = take(j, "access_token");
    seed[RT] = take(j, "refresh_token");
    json_object_put(j);
    free(body);

    body = xprintf("{\"name\":\"sa-%ld\",\"role\":\"admin\"}", pid);
    j = seed_call("POST", "/api/org/v1/orgs/fuzzorg/service-accounts", seed[JWT], body, 201);
    seed[SA] = take(j, "id");
    json_object_put(j);
    free(body);
    uri = xprintf("/api/org/v1/orgs/fuzzorg/service-accounts/%s/keys", seed[SA]);
    j = seed_call("POST", uri, seed[JWT], "{\"display_name\":\"fuzz\"}", 201);
    seed[KEYID] = take(j, "id");
    seed[KEY] = take(j, "token");
    json_object_put(j);
    free(uri);
    j = seed_call("POST", "/api/org/v1/me/keys", seed[MJWT],
                  "{\"org\":\"fuzzorg\",\"role\":\"admin\"}", 201);
    seed[PKEYID] = take(j, "id");
    seed[PKEY] = take(j, "token");
    json_object_put(j);

    /* KEYID:secret, the secret being the token's last 49 characters */
    char pair[256];
    size_t klen = strlen(seed[KEY]);
    FUZZ_CHECK(klen > 49);
    int plen = snprintf(pair, sizeof(pair), "%s:%s", seed[KEYID], seed[KEY] + klen - 49);
    char b64[400];
    FUZZ_CHECK(ly_base64_encoded_len((size_t)plen) < sizeof(b64));
    size_t outlen = ly_base64_encode(pair, (size_t)plen, b64);
    seed[BASIC] = ly_xstrndup(b64, outlen);
    free(admin_pw);
}

/* The input with every marker replaced, in a (its length in *outlen; NULs kept). */
static char *expand(struct ly_arena *a, const char *s, size_t n, size_t *outlen)
{
    size_t cap = n + 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '@')
            cap += 700; /* the longest value, a JWT, is under 700 bytes */
    char *out = ly_arena_alloc(a, cap), *o = out;
    for (size_t i = 0; i < n;) {
        size_t k = N_MARKS;
        if (s[i] == '@')
            for (k = 0; k < N_MARKS; k++) {
                size_t ml = strlen(mark_names[k]);
                if (n - i >= ml && memcmp(s + i, mark_names[k], ml) == 0)
                    break;
            }
        if (k == N_MARKS) {
            *o++ = s[i++];
            continue;
        }
        size_t vl = strlen(seed[k]);
        FUZZ_CHECK(vl < 700);
        memcpy(o, seed[k], vl);
        o += vl;
        i += strlen(mark_names[k]);
    }
    *o = '\0';
    *outlen = (size_t)(o - out);
    return out;
}

/* "Name: value" as a CGI parameter; NULL for a line that is not a header. */
static char *header_param(struct ly_arena *a, const char *line, size_t len, bool *is_length,
                          bool *is_type, bool *is_auth)
{
    const char *colon = memchr(line, ':', len);
    if (colon == NULL || colon == line)
        return NULL;
    size_t nl = (size_t)(colon - line);
    const char *v = colon + 1;
    while (v < line + len && *v == ' ')
        v++;
    size_t vl = (size_t)(line + len - v);
    char name[64];
    if (nl >= sizeof(name) - 6)
        return NULL;
    *is_type = nl == 12 && strncasecmp(line, "Content-Type", 12) == 0;
    *is_length = nl == 14 && strncasecmp(line, "Content-Length", 14) == 0;
    *is_auth = nl == 13 && strncasecmp(line, "Authorization", 13) == 0;
    size_t k = 0;
    if (!*is_type && !*is_length) {
        memcpy(name, "HTTP_", 5);
        k = 5;
    }
    for (size_t i = 0; i < nl; i++) {
        char c = line[i];
        name[k++] = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
    name[k] = '\0';
    return ly_arena_printf(a, "%s=%.*s", name, (int)vl, v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ctx == NULL)
        setup();
    if (size < 2)
        return 0;
    struct ly_arena a;
    ly_arena_init(&a, 8192);
    size_t n = 0;
    char *text = expand(&a, (const char *)data + 1, size - 1, &n);
    const char *p = text, *end = text + n;
    char *env[MAX_HEADERS + 8];
    size_t ne = 0;
    bool have_length = false, have_type = false, have_auth = false;

    /* the request line; a CGI parameter ends at a NUL */
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    size_t cut = strnlen(p, len);
    const char *sp = memchr(p, ' ', cut);
    if (sp == NULL) {
        ly_arena_release(&a);
        return 0;
    }
    env[ne++] = ly_arena_printf(&a, "REQUEST_METHOD=%.*s", (int)(sp - p), p);
    env[ne++] = ly_arena_printf(&a, "REQUEST_URI=%.*s", (int)(cut - (size_t)(sp + 1 - p)), sp + 1);
    env[ne++] = (char *)"REMOTE_ADDR=127.0.0.1";
    p += len + (nl != NULL);
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (len == 0) {
            p++; /* the empty line: the body follows */
            break;
        }
        bool l = false, t = false, au = false;
        char *h = ne < MAX_HEADERS + 3 ? header_param(&a, p, strnlen(p, len), &l, &t, &au) : NULL;
        if (h != NULL) {
            env[ne++] = h;
            have_length |= l;
            have_type |= t;
            have_auth |= au;
        }
        p += len + (nl != NULL);
    }
    struct ly_str body = {p, (size_t)(end - p)};
    if (!have_length && body.len > 0)
        env[ne++] = ly_arena_printf(&a, "CONTENT_LENGTH=%zu", body.len);
    if (!have_type && body.len > 0)
        env[ne++] = (char *)"CONTENT_TYPE=application/json";
    static const enum mark bearer[8] = {N_MARKS, JWT, MJWT, KEY, BASIC, PKEY, N_MARKS, N_MARKS};
    unsigned cred = data[0] & 7;
    if (!have_auth && bearer[cred] != N_MARKS)
        env[ne++] = ly_arena_printf(&a, "HTTP_AUTHORIZATION=%s %s", cred == 4 ? "Basic" : "Bearer",
                                    seed[bearer[cred]]);
    if (cred == 6)
        env[ne++] = ly_arena_printf(&a, "HTTP_COOKIE=lanyard_refresh=%s", seed[RT]);
    env[ne] = NULL;
    serve(env, body, NULL);
    ly_arena_release(&a);
    return 0;
}
