#include "build-config.h"
#include "banned.h"

#include "lanyard/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lanyard/config.h"
#include "lanyard/err.h"
#include "lanyard/rand.h"

/*
 * The parameters the service reads on every request, found in one pass over
 * env by ly_request_init (issue 17: a strncmp scan per lookup cost more than
 * the rest of the set-up). The order is that of the slots in struct
 * ly_request; a name not listed here is looked up by a scan.
 */
#define N(s)                                                                                       \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
static const struct {
    const char *name;
    size_t len;
} known_env[LY_REQUEST_ENV_SLOTS] = {
    N("REMOTE_ADDR"),    N("HTTP_X_FORWARDED_FOR"), N("HTTP_X_REQUEST_ID"),  N("REQUEST_METHOD"),
    N("REQUEST_URI"),    N("SCRIPT_NAME"),          N("CONTENT_TYPE"),       N("HTTP_USER_AGENT"),
    N("CONTENT_LENGTH"), N("HTTP_COOKIE"),          N("HTTP_AUTHORIZATION"),
};
#undef N

static int known_slot(const char *name, size_t n)
{
    for (int i = 0; i < LY_REQUEST_ENV_SLOTS; i++)
        if (known_env[i].len == n && memcmp(known_env[i].name, name, n) == 0)
            return i;
    return -1;
}

const char *ly_request_env(const struct ly_request *req, const char *name)
{
    size_t n = strlen(name);
    if (req->env_indexed) {
        int i = known_slot(name, n);
        if (i >= 0)
            return req->env_slot[i];
    }
    for (char *const *e = req->env; e != NULL && *e != NULL; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/*
 * One pass over env: the first value of each known name into its slot (as a
 * scan would find it), and whether a header other than Authorization is too
 * long to be one.
 */
static void index_env(struct ly_request *req, bool *oversized)
{
    for (char *const *e = req->env; e != NULL && *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        size_t n = eq != NULL ? (size_t)(eq - *e) : strlen(*e);
        int i = eq != NULL ? known_slot(*e, n) : -1;
        if (i >= 0 && req->env_slot[i] == NULL)
            req->env_slot[i] = eq + 1;
        if (n >= 5 && memcmp(*e, "HTTP_", 5) == 0 && i != LY_ENV_AUTHORIZATION &&
            (eq != NULL ? n + 1 + strlen(eq + 1) : n) > LY_MAX_HEADER_LEN)
            *oversized = true;
    }
    req->env_indexed = true;
}

static bool cidr_contains(const struct ly_cidr *c, int family, const unsigned char *addr)
{
    if (c->family != family)
        return false;
    unsigned bits = c->prefix;
    size_t i = 0;
    for (; bits >= 8; bits -= 8, i++)
        if (c->addr[i] != addr[i])
            return false;
    if (bits == 0)
        return true;
    unsigned char mask = (unsigned char)(0xFF << (8 - bits));
    return (c->addr[i] & mask) == (addr[i] & mask);
}

bool ly_addr_in_cidrs(const struct ly_cidr *list, size_t n, const char *ip)
{
    unsigned char addr[16];
    int family;
    if (inet_pton(AF_INET, ip, addr) == 1)
        family = AF_INET;
    else if (inet_pton(AF_INET6, ip, addr) == 1)
        family = AF_INET6;
    else
        return false;
    for (size_t i = 0; i < n; i++)
        if (cidr_contains(&list[i], family, addr))
            return true;
    return false;
}

static bool is_trusted(const struct ly_config *cfg, const char *ip, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, ip, len);
    buf[len] = '\0';
    return ly_addr_in_cidrs(cfg->server.trusted_proxies, cfg->server.n_trusted_proxies, buf);
}

/*
 * X-Forwarded-For is believed only from a trusted proxy, and read from the
 * right: the first address that is not itself a trusted proxy is the client.
 */
static const char *client_address(struct ly_request *req)
{
    const struct ly_config *cfg = req->cfg;
    const char *remote = ly_request_env(req, "REMOTE_ADDR");
    if (remote == NULL)
        return "-";
    const char *xff = ly_request_env(req, "HTTP_X_FORWARDED_FOR");
    if (xff == NULL || cfg->server.n_trusted_proxies == 0 ||
        !is_trusted(cfg, remote, strlen(remote)))
        return remote;
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        struct ly_str item = ly_str_trim((struct ly_str){start, (size_t)(end - start)});
        char tmp[INET6_ADDRSTRLEN + 1];
        unsigned char addr[16];
        if (item.len == 0 || item.len >= sizeof(tmp))
            return remote;
        memcpy(tmp, item.ptr, item.len);
        tmp[item.len] = '\0';
        if (inet_pton(AF_INET, tmp, addr) != 1 && inet_pton(AF_INET6, tmp, addr) != 1)
            return remote;
        if (!is_trusted(cfg, item.ptr, item.len))
            return ly_arena_strndup(req->arena, item.ptr, item.len);
        end = start > xff ? start - 1 : xff;
    }
    return remote;
}

static void set_request_id(struct ly_request *req)
{
    const char *id = ly_request_env(req, "HTTP_X_REQUEST_ID");
    if (id != NULL) {
        size_t n = strlen(id);
        if (n >= 1 && n <= LY_REQUEST_ID_MAX && ly_str_is_token_chars((struct ly_str){id, n})) {
            memcpy(req->request_id, id, n + 1);
            return;
        }
    }
    ly_rand_base62_public(req->request_id, 22);
}

int ly_request_init(struct ly_request *req, const struct ly_config *cfg, struct ly_arena *arena,
                    char *const *env)
{
    struct timespec ts;
    memset(req, 0, sizeof(*req));
    req->cfg = cfg;
    req->arena = arena;
    req->env = env;
    clock_gettime(CLOCK_REALTIME, &ts);
    req->now = (int64_t)ts.tv_sec;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    req->start_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    bool oversized = false;
    index_env(req, &oversized);
    set_request_id(req);

    const char *m = ly_request_env(req, "REQUEST_METHOD");
    req->method = m ? m : "";
    const char *uri = ly_request_env(req, "REQUEST_URI");
    if (uri == NULL)
        uri = ly_request_env(req, "SCRIPT_NAME");
    if (uri == NULL)
        uri = "";
    const char *q = strchr(uri, '?');
    if (q != NULL) {
        req->raw_path = ly_arena_strndup(req->arena, uri, (size_t)(q - uri));
        req->query = ly_str_from(q + 1);
    } else {
        req->raw_path = uri;
        req->query = ly_str_from(NULL);
    }
    req->content_type = ly_request_env(req, "CONTENT_TYPE");
    if (req->content_type != NULL && req->content_type[0] == '\0')
        req->content_type = NULL;
    req->user_agent = ly_request_env(req, "HTTP_USER_AGENT");
    req->client_ip = client_address(req);

    /* RFC 9110 §9.1: a method is a token. */
    struct ly_str ms = ly_str_from(req->method);
    if (ms.len == 0 || ms.len > 16 || !ly_str_is_token_chars(ms) || req->raw_path[0] != '/')
        return LY_E_INVALID_REQUEST;
    /* A credential too long to be one is a 401 of the authentication layer (RFC 6750 §3.1). */
    if (oversized)
        return LY_E_INVALID_REQUEST;
    const char *cl = ly_request_env(req, "CONTENT_LENGTH");
    if (cl != NULL && cl[0] != '\0' &&
        ly_str_to_u64(ly_str_from(cl), UINT64_MAX, &req->content_length) != 0)
        return LY_E_INVALID_REQUEST;
    return LY_OK;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ly_percent_decode(struct ly_arena *a, struct ly_str s, bool plus_is_space, const char **out,
                      size_t *outlen)
{
    char *buf = ly_arena_alloc(a, s.len + 1);
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '%') {
            if (i + 2 >= s.len)
                return -1;
            int hi = hexval((unsigned char)s.ptr[i + 1]), lo = hexval((unsigned char)s.ptr[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char)(hi * 16 + lo);
            if (c == 0)
                return -1;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        } else if (c == 0) {
            return -1;
        }
        buf[n++] = (char)c;
    }
    buf[n] = '\0';
    *out = buf;
    if (outlen != NULL)
        *outlen = n;
    return 0;
}

/* Find name in an a=b&c=d string. A name given twice is ambiguous: refused. */
static int pairs_get(struct ly_arena *a, struct ly_str s, const char *name, bool plus_is_space,
                     const char **out)
{
    const char *found = NULL;
    size_t i = 0;
    while (i < s.len) {
        size_t j = i;
        while (j < s.len && s.ptr[j] != '&')
            j++;
        struct ly_str pair = {s.ptr + i, j - i};
        if (pair.len > 0) {
            const char *eq = memchr(pair.ptr, '=', pair.len);
            struct ly_str k = {pair.ptr, eq ? (size_t)(eq - pair.ptr) : pair.len};
            struct ly_str v = {eq ? eq + 1 : pair.ptr + pair.len, eq ? pair.len - k.len - 1 : 0};
            const char *key, *val;
            size_t klen;
            if (ly_percent_decode(a, k, plus_is_space, &key, &klen) != 0)
                return LY_E_INVALID_REQUEST;
            if (strlen(key) == klen && strcmp(key, name) == 0) {
                if (found != NULL)
                    return LY_E_INVALID_REQUEST;
                if (ly_percent_decode(a, v, plus_is_space, &val, NULL) != 0)
                    return LY_E_INVALID_REQUEST;
                found = val;
            }
        }
        i = j + 1;
    }
    if (found == NULL)
        return 1;
    *out = found;
    return 0;
}

int ly_request_query(struct ly_request *req, const char *name, const char **out)
{
    return pairs_get(req->arena, req->query, name, true, out);
}

int ly_form_get(struct ly_arena *a, struct ly_str form, const char *name, const char **out)
{
    return pairs_get(a, form, name, true, out);
}

/* RFC 6265 §4.1.1 cookie-octet: visible US-ASCII but DQUOTE, comma, semicolon and backslash. */
static bool is_cookie_octet(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\';
}

int ly_cookie_get(struct ly_arena *a, struct ly_str header, const char *name, const char **out)
{
    struct ly_str found = {NULL, 0};
    bool have = false;
    size_t i = 0;
    while (i < header.len) {
        size_t j = i;
        while (j < header.len && header.ptr[j] != ';')
            j++;
        struct ly_str pair = {header.ptr + i, j - i};
        const char *eq = memchr(pair.ptr, '=', pair.len);
        if (eq != NULL) {
            struct ly_str k = ly_str_trim((struct ly_str){pair.ptr, (size_t)(eq - pair.ptr)});
            if (ly_str_eq_cstr(k, name)) {
                if (have)
                    return LY_E_INVALID_REQUEST;
                have = true;
                found =
                    ly_str_trim((struct ly_str){eq + 1, pair.len - (size_t)(eq - pair.ptr) - 1});
            }
        }
        i = j + 1;
    }
    if (!have)
        return 1;
    for (size_t k = 0; k < found.len; k++)
        if (!is_cookie_octet((unsigned char)found.ptr[k]))
            return LY_E_INVALID_REQUEST;
    *out = ly_arena_strndup(a, found.ptr != NULL ? found.ptr : "", found.len);
    return 0;
}

int ly_request_cookie(struct ly_request *req, const char *name, const char **out)
{
    const char *h = ly_request_env(req, "HTTP_COOKIE");
    if (h == NULL)
        return 1;
    return ly_cookie_get(req->arena, ly_str_from(h), name, out);
}
