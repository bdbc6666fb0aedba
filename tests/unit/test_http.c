/*
 * Unit tests of the HTTP layer without FastCGI: request parsing (client
 * address, request id, query and form), the route matcher (path decoding,
 * 405 + Allow), media types, the API layer's dispatcher for the answers it
 * makes before any database work (404, 405, 413, 415, bodies, 401), page
 * tokens, and the JSON body rules.
 */
#include "build-config.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <json-c/json.h>

#include "check.h"
#include "lanyard/api.h"
#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/http.h"
#include "lanyard/json.h"
#include "lanyard/page.h"
#include "lanyard/pagetoken.h"
#include "lanyard/router.h"

struct fixture {
    struct ly_config cfg;
    struct ly_cidr proxies[2];
    struct lanyard_ctx ctx;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->cfg.server.public_url = (char *)"http://127.0.0.1:8080";
    f->cfg.server.max_body = 65536;
    f->proxies[0].family = AF_INET;
    inet_pton(AF_INET, "10.0.0.0", f->proxies[0].addr);
    f->proxies[0].prefix = 8;
    f->proxies[1].family = AF_INET6;
    inet_pton(AF_INET6, "fd00::", f->proxies[1].addr);
    f->proxies[1].prefix = 8;
    f->cfg.server.trusted_proxies = f->proxies;
    f->cfg.server.n_trusted_proxies = 2;
    f->cfg.api_keys.prefix = (char *)"lyk";
    f->cfg.accounts.users_create_orgs = true;
    f->ctx.cfg = &f->cfg;
    ly_log_init(&f->ctx.log, "test");
    f->ctx.log.level = LY_LOG_ERROR;
    ly_arena_init(&f->ctx.arena, 4096);
    /* A handle that is never connected: these answers need no database. */
    f->ctx.db = ly_db_new(&f->cfg, &f->ctx.log);
    f->ctx.auth = (struct ly_auth){&f->cfg, NULL, &ly_auth_db_store, f->ctx.db, NULL, NULL, NULL};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ly_db_free(f->ctx.db);
    ly_arena_release(&f->ctx.arena);
    free(f);
    return 0;
}

static int init(struct fixture *f, struct ly_request *req, char **env)
{
    int r = ly_request_init(req, &f->cfg, &f->ctx.arena, env);
    req->ctx = &f->ctx;
    return r;
}

static void test_client_address(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *desc, *remote, *xff, *want;
    } cases[] = {
        {"no proxy header", "192.0.2.1", NULL, "192.0.2.1"},
        {"untrusted peer's header is ignored", "192.0.2.1", "203.0.113.9", "192.0.2.1"},
        {"trusted proxy", "10.1.2.3", "203.0.113.9", "203.0.113.9"},
        {"rightmost untrusted wins", "10.1.2.3", "198.51.100.7, 203.0.113.9, 10.9.9.9",
         "203.0.113.9"},
        {"spoofed left part ignored", "10.1.2.3", "1.2.3.4, 203.0.113.9", "203.0.113.9"},
        {"garbage falls back to peer", "10.1.2.3", "not-an-ip", "10.1.2.3"},
        {"IPv6 proxy", "fd12::1", "2001:db8::5", "2001:db8::5"},
        {"all trusted: peer", "10.1.2.3", "10.4.4.4", "10.1.2.3"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char remote[64], xff[128];
        snprintf(remote, sizeof(remote), "REMOTE_ADDR=%s", cases[i].remote);
        snprintf(xff, sizeof(xff), "HTTP_X_FORWARDED_FOR=%s", cases[i].xff ? cases[i].xff : "");
        char *env[] = {(char *)"REQUEST_METHOD=GET", (char *)"REQUEST_URI=/x", remote,
                       cases[i].xff ? xff : NULL, NULL};
        struct ly_request req;
        CHECK(cases[i].desc, init(f, &req, env) == LY_OK);
        CHECK(cases[i].desc, strcmp(req.client_ip, cases[i].want) == 0);
        ly_arena_reset(&f->ctx.arena);
    }
}

static void test_request_id(void **state)
{
    struct fixture *f = *state;
    char longid[200] = "HTTP_X_REQUEST_ID=";
    memset(longid + 18, 'a', 129);
    static const struct {
        const char *desc, *header;
        bool kept;
    } cases[] = {
        {"sane id kept", "HTTP_X_REQUEST_ID=abc-DEF_1.2", true},
        {"spaces replaced", "HTTP_X_REQUEST_ID=abc def", false},
        {"empty replaced", "HTTP_X_REQUEST_ID=", false},
        {"slash replaced", "HTTP_X_REQUEST_ID=a/b", false},
    };
    for (size_t i = 0; i <= sizeof(cases) / sizeof(cases[0]); i++) {
        bool last = i == sizeof(cases) / sizeof(cases[0]);
        const char *h = last ? longid : cases[i].header;
        char *env[] = {(char *)"REQUEST_METHOD=GET", (char *)"REQUEST_URI=/x", (char *)h, NULL};
        struct ly_request req;
        CHECK("init", init(f, &req, env) == LY_OK);
        const char *desc = last ? "129 characters replaced" : cases[i].desc;
        bool kept = !last && cases[i].kept;
        CHECK(desc, (strcmp(req.request_id, strchr(h, '=') + 1) == 0) == kept);
        CHECK(desc, strlen(req.request_id) >= 1 && strlen(req.request_id) <= 128);
        CHECK(desc, ly_str_is_token_chars(ly_str_from(req.request_id)));
    }
}

static void test_request_rejects(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[][3] = {
        {"REQUEST_METHOD=G ET", "REQUEST_URI=/x", NULL},
        {"REQUEST_METHOD=", "REQUEST_URI=/x", NULL},
        {"REQUEST_METHOD=GET", "REQUEST_URI=x", NULL},
        {"REQUEST_METHOD=POST", "REQUEST_URI=/x", "CONTENT_LENGTH=12x"},
        {"REQUEST_METHOD=POST", "REQUEST_URI=/x", "CONTENT_LENGTH=-1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *env[] = {(char *)bad[i][0], (char *)bad[i][1], (char *)bad[i][2], NULL};
        struct ly_request req;
        CHECK(bad[i][0], init(f, &req, env) == LY_E_INVALID_REQUEST);
    }
}

static void test_query_and_form(void **state)
{
    struct fixture *f = *state;
    char *env[] = {(char *)"REQUEST_METHOD=GET",
                   (char *)"REQUEST_URI=/x?a=1&b=hello+world&c=%41%42&empty=&flag&d=%zz&e=%00",
                   NULL};
    struct ly_request req;
    const char *v = NULL;
    CHECK("init", init(f, &req, env) == LY_OK);
    CHECK("path stops at ?", strcmp(req.raw_path, "/x") == 0);
    CHECK("a", ly_request_query(&req, "a", &v) == 0 && strcmp(v, "1") == 0);
    CHECK("plus is space", ly_request_query(&req, "b", &v) == 0 && strcmp(v, "hello world") == 0);
    CHECK("escapes", ly_request_query(&req, "c", &v) == 0 && strcmp(v, "AB") == 0);
    CHECK("empty value", ly_request_query(&req, "empty", &v) == 0 && v[0] == '\0');
    CHECK("no '='", ly_request_query(&req, "flag", &v) == 0 && v[0] == '\0');
    CHECK("absent", ly_request_query(&req, "zz", &v) == 1);
    CHECK("bad escape", ly_request_query(&req, "d", &v) == LY_E_INVALID_REQUEST);
    CHECK("NUL escape", ly_request_query(&req, "e", &v) == LY_E_INVALID_REQUEST);
    struct ly_str form = LY_STR_LIT("grant_type=refresh_token&x=1&x=2");
    CHECK("form", ly_form_get(&f->ctx.arena, form, "grant_type", &v) == 0 &&
                      strcmp(v, "refresh_token") == 0);
    CHECK("repeated name is ambiguous", ly_form_get(&f->ctx.arena, form, "x", &v) < 0);
    ly_arena_reset(&f->ctx.arena);
}

/* SPEC §5.14: the refresh cookie from a Cookie header (ly_cookie_get, doc/decisions.md). */
static void test_cookies(void **state)
{
    struct fixture *f = *state;
    struct ly_arena *a = &f->ctx.arena;
    static const struct {
        const char *header, *want; /* want: NULL absent, "!" refused */
    } rows[] = {
        {"lanyard_refresh=lyr_abc", "lyr_abc"},
        {"a=1; lanyard_refresh=lyr_abc; b=2", "lyr_abc"},
        {"a=1;lanyard_refresh=lyr_abc;b=2", "lyr_abc"},
        {" \tlanyard_refresh = lyr_abc \t; b=2", "lyr_abc"},
        {"lanyard_refresh=", ""},
        {"", NULL},
        {";;; ;", NULL},
        {"other=1; flag; =x", NULL},
        {"Lanyard_Refresh=lyr_abc", NULL},             /* names are case-sensitive */
        {"xlanyard_refresh=lyr_abc", NULL},            /* the whole name, not a suffix */
        {"lanyard_refresh_x=lyr_abc", NULL},           /* nor a prefix */
        {"a=\"quoted, ok\"; lanyard_refresh=v", "v"},  /* others' values go unjudged */
        {"lanyard_refresh=a; lanyard_refresh=b", "!"}, /* repeated: ambiguous */
        {"lanyard_refresh=a; lanyard_refresh=a", "!"}, /* even when equal */
        {"lanyard_refresh=\"lyr_abc\"", "!"},          /* quotes are no cookie-octet */
        {"lanyard_refresh=a b", "!"},
        {"lanyard_refresh=a,b", "!"},
        {"lanyard_refresh=a\\b", "!"},
        {"lanyard_refresh=\x7f", "!"},
        {"lanyard_refresh=\xc3\xa9", "!"},
        {"lanyard_refresh==x", "=x"}, /* '=' is a cookie-octet */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *v = NULL;
        int r = ly_cookie_get(a, ly_str_from(rows[i].header), "lanyard_refresh", &v);
        if (rows[i].want == NULL)
            CHECK(rows[i].header, r == 1 && v == NULL);
        else if (strcmp(rows[i].want, "!") == 0)
            CHECK(rows[i].header, r == LY_E_INVALID_REQUEST && v == NULL);
        else
            CHECK(rows[i].header, r == 0 && v != NULL && strcmp(v, rows[i].want) == 0);
    }
    char *env[] = {(char *)"REQUEST_METHOD=POST", (char *)"REQUEST_URI=/x",
                   (char *)"HTTP_COOKIE=theme=dark; lanyard_refresh=lyr_x", NULL};
    char *none[] = {(char *)"REQUEST_METHOD=POST", (char *)"REQUEST_URI=/x", NULL};
    struct ly_request req;
    const char *v = NULL;
    CHECK("init", init(f, &req, env) == LY_OK);
    CHECK("from HTTP_COOKIE",
          ly_request_cookie(&req, "lanyard_refresh", &v) == 0 && strcmp(v, "lyr_x") == 0);
    CHECK("init", init(f, &req, none) == LY_OK);
    CHECK("no Cookie header", ly_request_cookie(&req, "lanyard_refresh", &v) == 1);
    ly_arena_reset(a);
}

static void test_route_match(void **state)
{
    struct fixture *f = *state;
    /* A table of the matcher's own: the API layer's routes begin with a struct ly_route_key. */
    static const struct {
        struct ly_route_key key;
        int tag;
    } table[] = {
        {{"GET", "/api/health"}, 1},
        {{"GET", "/api/org/v1/orgs/{}"}, 2},
        {{"PATCH", "/api/org/v1/orgs/{}"}, 3},
        {{"DELETE", "/api/org/v1/orgs/{}"}, 4},
        {{"GET", "/api/org/v1/orgs/{}/members/{}"}, 5},
    };
    static const struct {
        const char *desc, *method, *path;
        int tag;           /* of the route matched; 0: none */
        int path_tag;      /* of the first route of the path, whatever the method */
        const char *allow; /* when not found: NULL → 404 */
        const char *param0, *param1;
        bool bad;
    } cases[] = {
        {"health", "GET", "/api/health", 1, 1, NULL, NULL, NULL, false},
        {"405 lists the methods", "DELETE", "/api/health", 0, 1, "GET", NULL, NULL, false},
        {"unknown", "GET", "/api/nothing", 0, 0, NULL, NULL, NULL, false},
        {"trailing slash", "GET", "/api/health/", 0, 0, NULL, NULL, NULL, false},
        {"double slash", "GET", "//api/health", 0, 0, NULL, NULL, NULL, false},
        {"parameter", "GET", "/api/org/v1/orgs/my-company", 2, 2, NULL, "my-company", NULL, false},
        {"decoded parameter", "GET", "/api/org/v1/orgs/a%40b", 2, 2, NULL, "a@b", NULL, false},
        {"escaped fixed segment", "GET", "/api/%68ealth", 1, 1, NULL, NULL, NULL, false},
        {"two parameters", "GET", "/api/org/v1/orgs/o/members/x%2Fy", 5, 5, NULL, "o", "x/y",
         false},
        {"bad escape", "GET", "/api/%zz", 0, 0, NULL, NULL, NULL, true},
        {"NUL escape", "GET", "/api/%00", 0, 0, NULL, NULL, NULL, true},
        {"empty parameter", "GET", "/api/org/v1/orgs//members/x", 0, 0, NULL, NULL, NULL, false},
        {"several methods", "PUT", "/api/org/v1/orgs/x", 0, 2, "GET, PATCH, DELETE", NULL, NULL,
         false},
        {"method matched after others", "DELETE", "/api/org/v1/orgs/x", 4, 4, NULL, "x", NULL,
         false},
        {"long path", "GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m", 0, 0, NULL, NULL, NULL, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *params[LY_MAX_PATH_PARAMS];
        size_t n = 0;
        struct ly_route_match m;
        ly_router_match(&f->ctx.arena, table, sizeof(table) / sizeof(table[0]), sizeof(table[0]),
                        cases[i].method, cases[i].path, params, &n, &m);
        const void *want = cases[i].tag ? &table[cases[i].tag - 1] : NULL;
        const void *want_path = cases[i].path_tag ? &table[cases[i].path_tag - 1] : NULL;
        CHECK(cases[i].desc, (const void *)m.route == want);
        CHECK(cases[i].desc, (const void *)m.path == want_path);
        CHECK(cases[i].desc, m.bad_path == cases[i].bad);
        if (cases[i].tag == 0)
            CHECK(cases[i].desc, cases[i].allow ? m.allow && strcmp(m.allow, cases[i].allow) == 0
                                                : m.allow == NULL);
        if (cases[i].param0 != NULL)
            CHECK(cases[i].desc, n >= 1 && strcmp(params[0], cases[i].param0) == 0);
        if (cases[i].param1 != NULL)
            CHECK(cases[i].desc, n == 2 && strcmp(params[1], cases[i].param1) == 0);
    }
    ly_arena_reset(&f->ctx.arena);
}

/* Page tokens: what one list issues, only that list reads back. */
static void test_page_tokens(void **state)
{
    struct fixture *f = *state;
    unsigned char key[LY_PAGE_KEY_LEN], other[LY_PAGE_KEY_LEN];
    memset(key, 7, sizeof(key));
    memset(other, 8, sizeof(other));
    const char *t = ly_page_token_make(&f->ctx.arena, key, "members:org-1", "a@example.com");
    const char *back = NULL;
    CHECK("round trip",
          ly_page_token_read(&f->ctx.arena, key, "members:org-1", t, &back) == LY_OK &&
              strcmp(back, "a@example.com") == 0);
    back = NULL;
    CHECK("another list", ly_page_token_read(&f->ctx.arena, key, "members:org-2", t, &back) ==
                                  LY_E_INVALID_REQUEST &&
                              back == NULL);
    CHECK("another key", ly_page_token_read(&f->ctx.arena, other, "members:org-1", t, &back) ==
                             LY_E_INVALID_REQUEST);
    char *forged = ly_arena_strdup(&f->ctx.arena, t);
    forged[0] = forged[0] == 'A' ? 'B' : 'A';
    CHECK("altered", ly_page_token_read(&f->ctx.arena, key, "members:org-1", forged, &back) ==
                         LY_E_INVALID_REQUEST);
    static const char *const junk[] = {"", "!!!", "QQ", "AAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        CHECK(junk[i], ly_page_token_read(&f->ctx.arena, key, "users", junk[i], &back) ==
                           LY_E_INVALID_REQUEST);
    size_t size = 0;
    CHECK("default size", ly_page_size_parse(NULL, &size) == LY_OK && size == 50);
    CHECK("size 1", ly_page_size_parse("1", &size) == LY_OK && size == 1);
    CHECK("size 100", ly_page_size_parse("100", &size) == LY_OK && size == 100);
    static const char *const sizes[] = {"0", "101", "-1", "1x", "", " 5", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        CHECK(sizes[i], ly_page_size_parse(sizes[i], &size) == LY_E_VALIDATION);
    ly_arena_reset(&f->ctx.arena);
}

static void test_media_types(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int want;
    } cases[] = {
        {"application/json", 0},
        {"Application/JSON", 0},
        {"application/json; charset=utf-8", 0},
        {"application/json;charset=\"UTF-8\"", 0},
        {"application/json; charset=latin1", -1},
        {"application/json; charset", -1},
        {"application/x-www-form-urlencoded", 1},
        {"text/plain", -1},
        {"application/jsonx", -1},
        {"", -1},
        {NULL, -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(cases[i].in ? cases[i].in : "(null)",
              ly_media_type_classify(cases[i].in) == cases[i].want);
}

/* Drive the router end to end for answers that need no database. */
static struct ly_response route(struct fixture *f, const char *method, const char *path,
                                const char *ctype, const char *body, bool too_large)
{
    char m[64], p[256], c[128];
    snprintf(m, sizeof(m), "REQUEST_METHOD=%s", method);
    snprintf(p, sizeof(p), "REQUEST_URI=%s", path);
    snprintf(c, sizeof(c), "CONTENT_TYPE=%s", ctype ? ctype : "");
    char *env[] = {m, p, c, NULL};
    struct ly_request req;
    struct ly_response resp;
    memset(&resp, 0, sizeof(resp));
    assert_int_equal(init(f, &req, env), LY_OK);
    if (body != NULL)
        req.body = ly_str_from(body);
    ly_api_handle(&req, &resp, LY_OK, too_large);
    return resp;
}

static const char *header(const struct ly_response *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static void test_router_answers(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *desc, *method, *path, *ctype, *body;
        bool too_large;
        int status;
        const char *needle; /* in the body */
        const char *content_type;
    } cases[] = {
        {"404", "GET", "/nope", NULL, NULL, false, 404, "\"code\":\"not_found\"",
         "application/problem+json"},
        {"405", "POST", "/api/health", NULL, NULL, false, 405, "method_not_allowed",
         "application/problem+json"},
        {"bad path", "GET", "/api/%zz", NULL, NULL, false, 400, "invalid_request",
         "application/problem+json"},
        {"415", "POST", "/api/auth/v1/signin", "text/plain", "x", false, 415,
         "unsupported_media_type", "application/problem+json"},
        {"form on a JSON endpoint", "POST", "/api/auth/v1/signin",
         "application/x-www-form-urlencoded", "a=b", false, 415, "unsupported_media_type",
         "application/problem+json"},
        {"other charset", "POST", "/api/auth/v1/signin", "application/json; charset=latin1", "{}",
         false, 415, "unsupported_media_type", "application/problem+json"},
        {"malformed JSON", "POST", "/api/auth/v1/signin", "application/json", "{\"a\":", false, 400,
         "invalid_json", "application/problem+json"},
        {"JSON not an object", "POST", "/api/auth/v1/signin", "application/json", "[1]", false, 400,
         "validation_failed", "application/problem+json"},
        {"JSON null", "POST", "/api/auth/v1/signin", "application/json", "null", false, 400,
         "validation_failed", "application/problem+json"},
        {"JSON string", "POST", "/api/auth/v1/signin", "application/json", "\"x\"", false, 400,
         "validation_failed", "application/problem+json"},
        {"JSON null, OAuth form", "POST", "/api/auth/v1/token", "application/json", "null", false,
         400, "\"error\":\"invalid_request\"", "application/json"},
        {"405 of an OAuth endpoint in its form", "GET", "/api/auth/v1/token", NULL, NULL, false,
         405, "\"error\":\"invalid_request\"", "application/json"},
        {"escaped OAuth path in its form", "POST", "/api/auth/v1/%74oken", "text/plain", "x", false,
         415, "\"error\":\"invalid_request\"", "application/json"},
        {"413 problem", "POST", "/api/auth/v1/signin", "application/json", NULL, true, 413,
         "payload_too_large", "application/problem+json"},
        {"413 OAuth form", "POST", "/api/auth/v1/token", "application/json", NULL, true, 413,
         "\"error\":\"invalid_request\"", "application/json"},
        {"415 OAuth form", "POST", "/api/auth/v1/token", "text/plain", "x", false, 415,
         "\"error\":\"invalid_request\"", "application/json"},
        {"malformed JSON OAuth form", "POST", "/api/auth/v1/token", "application/json", "{", false,
         400, "\"error\":\"invalid_request\"", "application/json"},
        /* a C string would stop at the NUL and read "refresh_token" */
        {"NUL in grant_type", "POST", "/api/auth/v1/token", "application/json",
         "{\"grant_type\":\"refresh_token\\u0000junk\"}", false, 400,
         "grant_type must be given once, as a string", "application/json"},
        {"NUL in a JSON key", "POST", "/api/auth/v1/token", "application/json",
         "{\"grant_type\\u0000x\":\"refresh_token\"}", false, 400, "\"error\":\"invalid_request\"",
         "application/json"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ly_response r = route(f, cases[i].method, cases[i].path, cases[i].ctype,
                                     cases[i].body, cases[i].too_large);
        CHECK(cases[i].desc, r.status == cases[i].status);
        CHECK(cases[i].desc, r.body != NULL && strstr(r.body, cases[i].needle) != NULL);
        CHECK(cases[i].desc, strcmp(r.content_type, cases[i].content_type) == 0);
        if (strncmp(cases[i].path, "/api/auth/v1/", 13) == 0)
            CHECK(cases[i].desc, r.no_store);
        ly_arena_reset(&f->ctx.arena);
    }
    struct ly_response r = route(f, "DELETE", "/api/health", NULL, NULL, false);
    CHECK("Allow on 405", header(&r, "Allow") && strcmp(header(&r, "Allow"), "GET") == 0);
    ly_arena_reset(&f->ctx.arena);
    r = route(f, "GET", "/api/org/v1/me", NULL, NULL, false);
    CHECK("401 without a credential", r.status == 401);
    CHECK("challenge", header(&r, "WWW-Authenticate") &&
                           strcmp(header(&r, "WWW-Authenticate"), "Bearer realm=\"lanyard\"") == 0);
    ly_arena_reset(&f->ctx.arena);
}

static struct ly_response route_env(struct fixture *f, char **env)
{
    struct ly_request req;
    struct ly_response resp;
    memset(&resp, 0, sizeof(resp));
    int r = init(f, &req, env);
    ly_api_handle(&req, &resp, r, false);
    return resp;
}

/* What follows the matched route rather than the raw path, and credentials refused early. */
static void test_dispatch_forms(void **state)
{
    struct fixture *f = *state;
    char *e1[] = {(char *)"REQUEST_METHOD=GET", (char *)"REQUEST_URI=/api/auth/v1/token", NULL};
    struct ly_response r = route_env(f, e1);
    CHECK("405 Allow",
          r.status == 405 && header(&r, "Allow") && strcmp(header(&r, "Allow"), "POST") == 0);
    CHECK("405 no-store", r.no_store);
    ly_arena_reset(&f->ctx.arena);

    char *e2[] = {(char *)"REQUEST_METHOD=PUT", (char *)"REQUEST_URI=/api/%61uth/v1/signin", NULL};
    r = route_env(f, e2);
    CHECK("escaped auth path: 405 with no-store", r.status == 405 && r.no_store);
    ly_arena_reset(&f->ctx.arena);

    char *e3[] = {(char *)"REQUEST_METHOD=GET", (char *)"REQUEST_URI=/api/health/x", NULL};
    r = route_env(f, e3);
    CHECK("404 no-store", r.status == 404 && r.no_store);
    ly_arena_reset(&f->ctx.arena);

    /* A Bearer value longer than any header we accept is a refused token, not a bad request. */
    size_t n = LY_MAX_HEADER_LEN + 64;
    char *auth = ly_arena_alloc(&f->ctx.arena, n + 32);
    int k = snprintf(auth, n + 32, "HTTP_AUTHORIZATION=Bearer ");
    memset(auth + k, 'a', n);
    auth[k + (int)n] = '\0';
    char *e4[] = {(char *)"REQUEST_METHOD=GET", (char *)"REQUEST_URI=/api/org/v1/me", auth, NULL};
    r = route_env(f, e4);
    CHECK("long Bearer: 401", r.status == 401);
    CHECK("long Bearer: invalid_token",
          header(&r, "WWW-Authenticate") &&
              strstr(header(&r, "WWW-Authenticate"), "error=\"invalid_token\"") != NULL);
    ly_arena_reset(&f->ctx.arena);

    /* Another header that long is still refused as malformed. */
    char *ua = ly_arena_alloc(&f->ctx.arena, n + 32);
    k = snprintf(ua, n + 32, "HTTP_USER_AGENT=");
    memset(ua + k, 'a', n);
    ua[k + (int)n] = '\0';
    char *e5[] = {(char *)"REQUEST_METHOD=GET", (char *)"REQUEST_URI=/api/health", ua, NULL};
    r = route_env(f, e5);
    CHECK("long User-Agent: 400", r.status == 400 && strstr(r.body, "invalid_request") != NULL);
    ly_arena_reset(&f->ctx.arena);

    char *e6[] = {(char *)"REQUEST_METHOD=GET", (char *)"REQUEST_URI=/api/org/v1/me",
                  (char *)"HTTP_AUTHORIZATION=Basic Zm9vOmJhcg==", NULL};
    r = route_env(f, e6);
    CHECK("Basic refused: Basic challenge",
          r.status == 401 && header(&r, "WWW-Authenticate") &&
              strcmp(header(&r, "WWW-Authenticate"), "Basic realm=\"lanyard\"") == 0);
    ly_arena_reset(&f->ctx.arena);
}

static bool has_variable_header(const struct ly_response *r)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strncmp(r->headers[i].name, "Variable-", 9) == 0)
            return true;
    return false;
}

/*
 * The FastCGI authorizer role (src/api/check.c) is taken only from the
 * begin-request record (req.authorizer, set by src/http/fcgi.c): no
 * parameter of a responder request reaches it.
 */
static void test_authorizer_role(void **state)
{
    struct fixture *f = *state;
    char *e1[] = {(char *)"REQUEST_METHOD=GET", (char *)"REQUEST_URI=/protected/file",
                  (char *)"FCGI_ROLE=AUTHORIZER", (char *)"LANYARD_CHECK_ORG=acme", NULL};
    struct ly_request req;
    struct ly_response resp;
    memset(&resp, 0, sizeof(resp));
    req.authorizer = true; /* ly_request_init must clear what was there */
    assert_int_equal(init(f, &req, e1), LY_OK);
    CHECK("init leaves the role to the FastCGI layer", !req.authorizer);
    ly_api_handle(&req, &resp, LY_OK, false);
    CHECK("FCGI_ROLE=AUTHORIZER as a parameter: routed, 404", resp.status == 404);
    CHECK("... and no Variable- header", !has_variable_header(&resp));
    ly_arena_reset(&f->ctx.arena);

    char *e2[] = {(char *)"FCGI_ROLE=RESPONDER", (char *)"REQUEST_METHOD=GET",
                  (char *)"REQUEST_URI=/api/auth/v1/check", NULL};
    struct ly_response r = route_env(f, e2);
    CHECK("the check as a responder: 401", r.status == 401 && !has_variable_header(&r));
    ly_arena_reset(&f->ctx.arena);

    /* The role itself: the check, whatever REQUEST_URI says, and no credential is a 401. */
    const char *uris[] = {"/protected/file", "/api/health", "/api/auth/v1/signin"};
    for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        char u[64];
        snprintf(u, sizeof(u), "REQUEST_URI=%s", uris[i]);
        char *e3[] = {(char *)"REQUEST_METHOD=POST", u, (char *)"LANYARD_CHECK_ORG=acme", NULL};
        memset(&resp, 0, sizeof(resp));
        assert_int_equal(init(f, &req, e3), LY_OK);
        req.authorizer = true;
        ly_api_handle(&req, &resp, LY_OK, false);
        CHECK(uris[i], resp.status == 401 && header(&resp, "WWW-Authenticate") &&
                           strncmp(header(&resp, "WWW-Authenticate"), "Bearer realm=", 13) == 0);
        CHECK("no identity on a 401", !has_variable_header(&resp));
        CHECK("no-store", resp.no_store);
        ly_arena_reset(&f->ctx.arena);
    }

    /* A parameter the web server set wrong is the server's fault: 500, before any credential. */
    char *e4[] = {(char *)"REQUEST_METHOD=GET", (char *)"REQUEST_URI=/x",
                  (char *)"LANYARD_CHECK_ROLE=admin", NULL};
    memset(&resp, 0, sizeof(resp));
    assert_int_equal(init(f, &req, e4), LY_OK);
    req.authorizer = true;
    ly_api_handle(&req, &resp, LY_OK, false);
    CHECK("role without org: 500", resp.status == 500 && !has_variable_header(&resp));
    ly_arena_reset(&f->ctx.arena);
}

static void test_json_parse(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *desc, *in;
        bool ok;
    } cases[] = {
        {"object", "{\"a\":1}", true},
        {"trailing space", "{\"a\":1} \n", true},
        {"trailing junk", "{\"a\":1}x", false},
        {"two values", "{} {}", false},
        {"trailing comma", "{\"a\":1,}", false},
        {"single quotes", "{'a':1}", false},
        {"bad UTF-8", "{\"a\":\"\xff\"}", false},
        /* issue 18: json-c's own check lets these through */
        {"overlong UTF-8", "{\"a\":\"\xc0\xaf\"}", false},
        {"overlong 3-byte UTF-8", "{\"a\":\"\xe0\x80\xaf\"}", false},
        {"UTF-16 surrogate in UTF-8", "{\"a\":\"\xed\xa0\x80\"}", false},
        {"past U+10FFFF", "{\"a\":\"\xf4\x90\x80\x80\"}", false},
        {"truncated UTF-8", "{\"a\":\"\xe2\x82\"}", false},
        {"valid UTF-8", "{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", true},
        {"empty", "", false},
        {"deep", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", false},
        {"NaN", "{\"a\":NaN}", false},
        {"comment", "{\"a\":1 /* x */}", false},
        {"Infinity", "[Infinity]", false},
        {"leading zero", "[01]", false},
        {"bare minus", "[-]", false},
        {"dot without digits", "[1.]", false},
        {"leading dot", "[.5]", false},
        {"exponent", "[-1.5e+10]", true},
        {"bad escape", "[\"\\x\"]", false},
        {"unicode escape", "[\"\\u00e9\"]", true},
        {"raw control character", "[\"a\tb\"]", false},
        {"unterminated string", "[\"abc]", false},
        {"unterminated object", "{\"a\":1", false},
        {"missing colon", "{\"a\" 1}", false},
        {"number key", "{1:2}", false},
        {"literal prefix", "[tru]", false},
        {"nested ok", "{\"a\":[1,{\"b\":null}],\"c\":false}", true},
        {"NUL escape in a value", "{\"a\":\"b\\u0000c\"}", true},
        {"NUL escape in a key", "{\"a\\u0000b\":1}", false},
        {"NUL escape in a nested key", "[{\"\\u0000\":1}]", false},
        {"escaped U+0100 in a key", "{\"a\\u0100\":1}", true},
        {"repeated key", "{\"a\":1,\"a\":2}", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct json_object *o = NULL;
        int r = ly_json_parse(&f->ctx.arena, ly_str_from(cases[i].in), &o);
        CHECK(cases[i].desc, (r == LY_OK) == cases[i].ok);
        CHECK(cases[i].desc, cases[i].ok || r == LY_E_INVALID_JSON);
    }
    struct ly_str nul = {"{\"a\":\"b\0\"}", 10};
    struct json_object *o = NULL;
    CHECK("NUL byte", ly_json_parse(&f->ctx.arena, nul, &o) == LY_E_INVALID_JSON);
    ly_arena_reset(&f->ctx.arena);
}

/*
 * ly_json_writer writes what json-c prints for the same tree
 * (ly_json_to_string), byte for byte: every byte a C string can hold, the
 * nesting, null, booleans, times, and a text that outgrows its buffer
 * several times.
 */
static void test_json_writer(void **state)
{
    struct fixture *f = *state;
    struct ly_arena *a = &f->ctx.arena;
    char every[128]; /* every ASCII byte but NUL */
    for (int i = 1; i < 128; i++)
        every[i - 1] = (char)i;
    every[127] = '\0';
    char high[129]; /* and the rest, which no UTF-8 holds so: passed through as json-c does */
    for (int i = 128; i < 256; i++)
        high[i - 128] = (char)i;
    high[128] = '\0';
    static char long_text[10000];
    memset(long_text, 'x', sizeof(long_text) - 2);
    long_text[100] = '"';
    long_text[sizeof(long_text) - 2] = '\n';

    struct json_object *t = json_object_new_object();
    struct json_object *in = json_object_new_object();
    json_object_object_add(in, "every byte", json_object_new_string(every));
    json_object_object_add(in, "utf-8 \xc3\xa9\xe2\x82\xac", json_object_new_string("/a\\b\"c/"));
    json_object_object_add(in, "none", NULL);
    json_object_object_add(in, "yes", json_object_new_boolean(1));
    json_object_object_add(in, "no", json_object_new_boolean(0));
    json_object_object_add(t, "in", in);
    struct json_object *arr = json_object_new_array();
    json_object_array_add(arr, json_object_new_object());
    json_object_array_add(arr, json_object_new_array());
    json_object_array_add(arr, ly_json_time(0));
    json_object_array_add(arr, ly_json_time(1796400000));
    json_object_array_add(arr, ly_json_time(-1));
    json_object_array_add(arr, json_object_new_string(""));
    json_object_object_add(t, "list", arr);
    json_object_object_add(t, "long", json_object_new_string(long_text));
    ly_json_own(a, t);
    size_t want_len = 0;
    const char *want = ly_json_to_string(a, t, &want_len);

    for (size_t hint = 0; hint <= 4096; hint += 4096) {
        struct ly_json_writer w;
        ly_json_writer_init(&w, a, hint);
        ly_json_write_open(&w, NULL, '{');
        ly_json_write_open(&w, "in", '{');
        ly_json_write_str(&w, "every byte", every);
        ly_json_write_str(&w, "utf-8 \xc3\xa9\xe2\x82\xac", "/a\\b\"c/");
        ly_json_write_str(&w, "none", NULL);
        ly_json_write_bool(&w, "yes", true);
        ly_json_write_bool(&w, "no", false);
        ly_json_write_close(&w, '}');
        ly_json_write_open(&w, "list", '[');
        ly_json_write_open(&w, NULL, '{');
        ly_json_write_close(&w, '}');
        ly_json_write_open(&w, NULL, '[');
        ly_json_write_close(&w, ']');
        ly_json_write_time(&w, NULL, 0);
        ly_json_write_time(&w, NULL, 1796400000);
        ly_json_write_time(&w, NULL, -1);
        ly_json_write_str(&w, NULL, "");
        ly_json_write_close(&w, ']');
        ly_json_write_str(&w, "long", long_text);
        ly_json_write_close(&w, '}');
        size_t len = 0;
        const char *got = ly_json_writer_text(&w, &len);
        CHECK("the writer's text is json-c's, byte for byte",
              len == want_len && memcmp(got, want, len) == 0 && got[len] == '\0');
        struct json_object *back = NULL;
        CHECK("... and the strict parser reads it back",
              ly_json_parse(a, (struct ly_str){got, len}, &back) == LY_OK &&
                  strcmp(ly_json_get_string(json_object_object_get(back, "in"), "every byte"),
                         every) == 0);
    }
    struct json_object *h = ly_json_own(a, json_object_new_string(high));
    const char *h_want = ly_json_to_string(a, h, NULL);
    struct ly_json_writer w;
    ly_json_writer_init(&w, a, 0);
    ly_json_write_str(&w, NULL, high);
    CHECK("bytes 0x80-0xff as json-c writes them",
          strcmp(ly_json_writer_text(&w, NULL), h_want) == 0);
    ly_json_writer_init(&w, a, 0);
    size_t len = 99;
    CHECK("nothing written: an empty text",
          strcmp(ly_json_writer_text(&w, &len), "") == 0 && len == 0);
    ly_arena_reset(a);
}

/* ly_json_decode with its flags, as the JWT decoder uses it. */
static void test_json_decode(void **state)
{
    static const struct {
        const char *desc, *in;
        int depth;
        unsigned flags;
        bool ok;
    } cases[] = {
        {"plain object", "{\"a\":1}", 8, 0, true},
        {"repeated key kept", "{\"a\":1,\"a\":2}", 8, 0, true},
        {"repeated key refused", "{\"a\":1,\"a\":2}", 8, LY_JSON_UNIQUE_KEYS, false},
        {"repeated escaped key", "{\"a\":1,\"\\u0061\":2}", 8, LY_JSON_UNIQUE_KEYS, false},
        {"repeated nested key", "{\"a\":{\"b\":1,\"b\":1}}", 8, LY_JSON_UNIQUE_KEYS, false},
        {"repeated key in an array", "[{\"b\":1},{\"b\":1,\"b\":2}]", 8, LY_JSON_UNIQUE_KEYS,
         false},
        {"same key in two objects", "[{\"b\":1},{\"b\":2}]", 8, LY_JSON_UNIQUE_KEYS, true},
        {"same key at two levels", "{\"b\":{\"b\":{}}}", 8, LY_JSON_UNIQUE_KEYS, true},
        {"distinct keys", "{\"a\":1,\"b\":[1,{\"c\":null}],\"d\":{}}", 8, LY_JSON_UNIQUE_KEYS,
         true},
        {"NUL in a value kept", "{\"a\":\"x\\u0000\"}", 8, 0, true},
        {"NUL in a value refused", "{\"a\":\"x\\u0000\"}", 8, LY_JSON_NO_NUL, false},
        {"NUL in an array value refused", "[\"\\u0000\"]", 8, LY_JSON_NO_NUL, false},
        {"NUL in a key refused", "{\"a\\u0000\":1}", 8, 0, false},
        {"U+0000 lookalike kept", "[\"\\u0001\\u1000\"]", 8, LY_JSON_NO_NUL, true},
        {"NaN", "{\"a\":NaN}", 8, LY_JSON_UNIQUE_KEYS | LY_JSON_NO_NUL, false},
        {"single quotes", "{'a':'b'}", 8, LY_JSON_UNIQUE_KEYS | LY_JSON_NO_NUL, false},
        {"trailing garbage", "{\"a\":1}}", 8, 0, false},
        {"depth 2 within 2", "[[1]]", 2, 0, true},
        {"depth 3 beyond 2", "[[[1]]]", 2, 0, false},
        {"depth 0", "1", 0, 0, false},
        {"depth beyond the maximum", "1", LY_JSON_MAX_DEPTH + 1, 0, false},
        {"a bare number", "12", 1, 0, true},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct json_object *o = (struct json_object *)&cases[i]; /* a marker */
        int r = ly_json_decode(ly_str_from(cases[i].in), cases[i].depth, cases[i].flags, &o);
        CHECK(cases[i].desc, (r == LY_OK) == cases[i].ok);
        CHECK(cases[i].desc, cases[i].ok || (r == LY_E_INVALID_JSON && o == (void *)&cases[i]));
        if (r == LY_OK)
            json_object_put(o);
    }
}

/* A string with a NUL inside is not handed out as a shorter C string. */
static void test_json_get_string(void **state)
{
    struct fixture *f = *state;
    struct json_object *o = NULL;

    CHECK("parse", ly_json_parse(&f->ctx.arena,
                                 ly_str_from("{\"grant_type\":\"refresh_token\\u0000junk\","
                                             "\"ok\":\"refresh_token\",\"n\":1}"),
                                 &o) == LY_OK);
    CHECK("NUL inside", ly_json_get_string(o, "grant_type") == NULL);
    CHECK("NUL inside, still present", ly_json_has(o, "grant_type"));
    CHECK("plain", strcmp(ly_json_get_string(o, "ok"), "refresh_token") == 0);
    CHECK("not a string", ly_json_get_string(o, "n") == NULL);
    CHECK("absent", ly_json_get_string(o, "x") == NULL);
    ly_arena_reset(&f->ctx.arena);
}

static void test_json_fields(void **state)
{
    struct fixture *f = *state;
    static const struct ly_json_field fields[] = {
        {"name", LY_JSON_STRING, true},
        {"display_name", LY_JSON_STRING | LY_JSON_NULL, false},
        {"admin", LY_JSON_BOOL, false},
        {"size", LY_JSON_INT, false},
    };
    static const struct {
        const char *desc, *in;
        size_t errors;
        const char *field; /* of the first error */
    } cases[] = {
        {"all fine", "{\"name\":\"x\",\"display_name\":null,\"admin\":true,\"size\":3}", 0, NULL},
        {"missing required", "{}", 1, "name"},
        {"wrong type", "{\"name\":1}", 1, "name"},
        {"null not allowed", "{\"name\":null}", 1, "name"},
        {"unknown field", "{\"name\":\"x\",\"other\":1}", 1, ""},
        {"bool as string", "{\"name\":\"x\",\"admin\":\"true\"}", 1, "admin"},
        {"float for int", "{\"name\":\"x\",\"size\":1.5}", 1, "size"},
        {"several", "{\"admin\":1,\"size\":\"a\"}", 3, "admin"},
        {"NUL inside a string", "{\"name\":\"a\\u0000b\"}", 1, "name"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct json_object *o = NULL;
        struct ly_field_errors errs = {.n = 0};
        CHECK(cases[i].desc, ly_json_parse(&f->ctx.arena, ly_str_from(cases[i].in), &o) == LY_OK);
        int r = ly_json_check_fields(o, fields, 4, &errs);
        CHECK(cases[i].desc, errs.n == cases[i].errors);
        CHECK(cases[i].desc, (r == LY_OK) == (cases[i].errors == 0));
        if (cases[i].field != NULL)
            CHECK(cases[i].desc, strcmp(errs.items[0].field, cases[i].field) == 0);
    }
    ly_arena_reset(&f->ctx.arena);
}

/* The one-pass index of the CGI parameters answers as the scan it replaced. */
static void test_env_index(void **state)
{
    struct fixture *f = *state;
    char big[LY_MAX_HEADER_LEN + 32] = "HTTP_X_BIG=";
    memset(big + 11, 'a', LY_MAX_HEADER_LEN);
    char bigauth[LY_MAX_HEADER_LEN + 32] = "HTTP_AUTHORIZATION=";
    memset(bigauth + 19, 'a', LY_MAX_HEADER_LEN);
    char *env[] = {(char *)"REQUEST_METHOD=GET",    (char *)"REQUEST_URI=/x",
                   (char *)"HTTP_USER_AGENT=first", (char *)"HTTP_USER_AGENT=second",
                   (char *)"HTTP_COOKIE",           (char *)"LANYARD_CHECK_ORG=o1",
                   (char *)"CONTENT_TYPE_X=no",     NULL};
    struct ly_request req;
    CHECK("init", init(f, &req, env) == LY_OK);
    CHECK("first of a name given twice", strcmp(req.user_agent, "first") == 0);
    CHECK("first by lookup too", strcmp(ly_request_env(&req, "HTTP_USER_AGENT"), "first") == 0);
    CHECK("an entry without '=' is no value", ly_request_env(&req, "HTTP_COOKIE") == NULL);
    CHECK("a longer name is not a prefix match", req.content_type == NULL);
    CHECK("a known name that is absent", ly_request_env(&req, "REMOTE_ADDR") == NULL);
    CHECK("a name outside the table is scanned for",
          strcmp(ly_request_env(&req, "LANYARD_CHECK_ORG"), "o1") == 0);
    CHECK("absent outside the table", ly_request_env(&req, "LANYARD_CHECK_ROLE") == NULL);
    char *env_big[] = {(char *)"REQUEST_METHOD=GET", (char *)"REQUEST_URI=/x", big, NULL};
    CHECK("an over-long header is refused", init(f, &req, env_big) == LY_E_INVALID_REQUEST);
    char *env_auth[] = {(char *)"REQUEST_METHOD=GET", (char *)"REQUEST_URI=/x", bigauth, NULL};
    CHECK("an over-long Authorization is the auth layer's", init(f, &req, env_auth) == LY_OK);
    ly_arena_reset(&f->ctx.arena);
}

/* Request ids from the buffer: distinct, and not the same in a forked child as in its parent. */
static void test_request_id_buffer(void **state)
{
    struct fixture *f = *state;
    char *env[] = {(char *)"REQUEST_METHOD=GET", (char *)"REQUEST_URI=/x", NULL};
    char seen[64][LY_REQUEST_ID_MAX + 1];
    for (size_t i = 0; i < 64; i++) {
        struct ly_request req;
        CHECK("init", init(f, &req, env) == LY_OK);
        CHECK("22 base62 characters",
              strlen(req.request_id) == 22 && ly_str_is_token_chars(ly_str_from(req.request_id)));
        memcpy(seen[i], req.request_id, sizeof(seen[i]));
        for (size_t j = 0; j < i; j++)
            CHECK("no id twice", strcmp(seen[i], seen[j]) != 0);
    }
    int fds[2];
    CHECK("pipe", pipe(fds) == 0);
    pid_t pid = fork();
    CHECK("fork", pid >= 0);
    if (pid == 0) {
        struct ly_request req;
        init(f, &req, env);
        ssize_t w = write(fds[1], req.request_id, 22);
        _exit(w == 22 ? 0 : 1);
    }
    struct ly_request req;
    CHECK("init", init(f, &req, env) == LY_OK);
    char child[23] = "";
    CHECK("child's id read", read(fds[0], child, 22) == 22);
    int status = 0;
    CHECK("child waited for",
          waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fds[0]);
    close(fds[1]);
    CHECK("the child does not repeat its parent's next id", strcmp(child, req.request_id) != 0);
}

/* The header block: every piece in order, and a piece that does not fit is left out whole. */
static void test_response_head(void **state)
{
    (void)state;
    struct ly_request req;
    memset(&req, 0, sizeof(req));
    strcpy(req.request_id, "rid1");
    struct ly_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.status = 200;
    resp.content_type = "application/json";
    resp.body_len = 1234;
    resp.no_store = true;
    ly_response_header(&resp, "X-Lanyard-Subject", "u1");
    ly_response_header(&resp, "Vary", "Authorization");
    char buf[4096];
    size_t n = ly_response_head(&req, &resp, buf, sizeof(buf));
    static const char want[] = "Status: 200 OK\r\n"
                               "Content-Type: application/json\r\nContent-Length: 1234\r\n"
                               "X-Request-Id: rid1\r\nX-Content-Type-Options: nosniff\r\n"
                               "Cache-Control: no-store\r\n"
                               "X-Lanyard-Subject: u1\r\nVary: Authorization\r\n\r\n";
    CHECK("the whole block", n == sizeof(want) - 1 && memcmp(buf, want, n) == 0);
    memset(&resp, 0, sizeof(resp));
    resp.status = 204;
    n = ly_response_head(&req, &resp, buf, sizeof(buf));
    static const char want204[] = "Status: 204 No Content\r\n"
                                  "X-Request-Id: rid1\r\nX-Content-Type-Options: nosniff\r\n\r\n";
    CHECK("no body: no Content-Type", n == sizeof(want204) - 1 && memcmp(buf, want204, n) == 0);
    char big[200];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ly_response_header(&resp, "X-Big", big);
    char small[100];
    n = ly_response_head(&req, &resp, small, sizeof(small));
    CHECK("the header too big for the block is left out, the rest kept",
          n == sizeof(want204) - 1 && memcmp(small, want204, n) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_client_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_id_buffer, setup, teardown),
        cmocka_unit_test(test_response_head),
        cmocka_unit_test_setup_teardown(test_query_and_form, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cookies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_forms, setup, teardown),
        cmocka_unit_test(test_media_types),
        cmocka_unit_test_setup_teardown(test_router_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authorizer_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_fields, setup, teardown),
        cmocka_unit_test(test_json_decode),
        cmocka_unit_test_setup_teardown(test_json_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_get_string, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
