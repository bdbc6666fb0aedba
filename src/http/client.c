#include "build-config.h"
#include "banned.h"

#include "lanyard/httpc.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "lanyard/err.h"
#include "lanyard/mem.h"

#define DEFAULT_CONNECT_MS 5000L
#define DEFAULT_TOTAL_MS   10000L
#define DEFAULT_MAX_BODY   ((size_t)1 << 20)
/* A Content-Type or Location longer than this is kept as absent. */
#define MAX_HEADER_VALUE 8192

struct ly_httpc {
    CURL *h;
    long connect_timeout_ms;
    long total_timeout_ms;
    size_t max_body;
    char *ca_file;
    bool allow_http;
    char *user_agent;
};

/* What the callbacks collect during one transfer. */
struct xfer {
    size_t max_body;
    char *body;
    size_t len, cap;
    bool too_large;
    char *content_type;
    char *location;
    char detail[CURL_ERROR_SIZE]; /* curl's own account of a failure, more than its code's name */
};

static bool global_done;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int ly_httpc_new(const struct ly_httpc_opts *opts, struct ly_httpc **out)
{
    static const struct ly_httpc_opts defaults = {0};
    struct ly_httpc *c;

    if (opts == NULL)
        opts = &defaults;
    /*
     * curl_global_init is not thread-safe on every libcurl build; a worker and
     * lanyard-login each make their client once, before any thread exists.
     */
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return LY_E_INTERNAL;
        global_done = true;
    }
    c = ly_xcalloc(1, sizeof(*c));
    c->h = curl_easy_init();
    if (c->h == NULL) {
        free(c);
        return LY_E_INTERNAL;
    }
    c->connect_timeout_ms =
        opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_MS;
    c->total_timeout_ms = opts->total_timeout_ms > 0 ? opts->total_timeout_ms : DEFAULT_TOTAL_MS;
    c->max_body = opts->max_body > 0 ? opts->max_body : DEFAULT_MAX_BODY;
    c->ca_file = opts->ca_file != NULL ? ly_xstrdup(opts->ca_file) : NULL;
    c->allow_http = opts->allow_http;
    c->user_agent = ly_xstrdup(opts->user_agent != NULL ? opts->user_agent : "lanyard");
    *out = c;
    return LY_OK;
}

void ly_httpc_free(struct ly_httpc *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->h);
    free(c->ca_file);
    free(c->user_agent);
    free(c);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct xfer *x = userdata;
    size_t n = size * nmemb;

    if (n > x->max_body - x->len) {
        x->too_large = true;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < x->len + n + 1)
            cap *= 2;
        /* The body may hold tokens: never leave a copy behind in freed memory. */
        char *nb = ly_xmalloc(cap);
        if (x->len > 0)
            memcpy(nb, x->body, x->len);
        ly_free_secret(x->body, x->cap);
        x->body = nb;
        x->cap = cap;
    }
    memcpy(x->body + x->len, ptr, n);
    x->len += n;
    return n;
}

static void take_header_value(char **slot, const char *v, size_t n)
{
    while (n > 0 && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    free(*slot);
    *slot = n <= MAX_HEADER_VALUE ? ly_xstrndup(v, n) : NULL;
}

static bool header_is(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n > k && line[k] == ':' && strncasecmp(line, name, k) == 0;
}

static size_t on_header(char *ptr, size_t size, size_t nitems, void *userdata)
{
    struct xfer *x = userdata;
    size_t n = size * nitems;

    /* A new status line (after a 100 Continue): only the final answer's headers count. */
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        free(x->content_type);
        free(x->location);
        x->content_type = x->location = NULL;
    } else if (header_is(ptr, n, "Content-Type")) {
        take_header_value(&x->content_type, ptr + 13, n - 13);
    } else if (header_is(ptr, n, "Location")) {
        take_header_value(&x->location, ptr + 9, n - 9);
    }
    return n;
}

/*
 * Check the URL's scheme and keep "scheme://host[:port]/path" for error
 * texts: the query may carry codes or tokens, the userinfo a password.
 */
static int check_url(const struct ly_httpc *c, const char *url, char *where, size_t wherelen,
                     char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *user = NULL;
    int r = LY_E_INVALID_REQUEST;

    if (u == NULL)
        return LY_E_INTERNAL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        set_err(err, errlen, "not a valid http(s) URL");
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    snprintf(where, wherelen, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
             path ? path : "/");
    if (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0) {
        set_err(err, errlen, "%s: only http and https URLs are fetched", where);
        goto out;
    }
    if (strcasecmp(scheme, "http") == 0 && !c->allow_http) {
        set_err(err, errlen, "%s: plain http is not allowed here (https only)", where);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        set_err(err, errlen, "%s: credentials in the URL are refused", where);
        goto out;
    }
    r = LY_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(user);
    curl_url_cleanup(u);
    return r;
}

static int setup(struct ly_httpc *c, const struct ly_httpc_req *req, struct ly_arena *a,
                 struct xfer *x, struct curl_slist **hdrs)
{
    CURL *h = c->h;
    CURLcode e = CURLE_OK;
    struct curl_slist *l = NULL;

#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (e == CURLE_OK)                                                                         \
            e = curl_easy_setopt(h, opt, val);                                                     \
    } while (0)

    SET(CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, c->allow_http ? "http,https" : "https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, c->allow_http ? "http,https" : "https");
#else
    SET(CURLOPT_PROTOCOLS,
        c->allow_http ? (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS) : (long)CURLPROTO_HTTPS);
    SET(CURLOPT_REDIR_PROTOCOLS,
        c->allow_http ? (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS) : (long)CURLPROTO_HTTPS);
#endif
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file != NULL)
        SET(CURLOPT_CAINFO, c->ca_file);
    SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, c->total_timeout_ms);
    SET(CURLOPT_NOSIGNAL, 1L);
    /*
     * Web servers close a keep-alive connection idle for 5 s (lighttpd's and
     * Apache's default); a request sent on it just then is lost. A client
     * polling every 5 s (RFC 8628) would hit that edge: reuse only younger ones.
     */
    SET(CURLOPT_MAXAGE_CONN, 4L);
    SET(CURLOPT_USERAGENT, c->user_agent);
    /* An announced length past the cap fails before any byte is read. */
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_ERRORBUFFER, x->detail);

    if (strcmp(req->method, "POST") == 0) {
        const char *body = req->body != NULL ? req->body : "";
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        SET(CURLOPT_POSTFIELDS, body);
        if (req->content_type != NULL)
            l = curl_slist_append(l, ly_arena_printf(a, "Content-Type: %s", req->content_type));
        /* No "Expect: 100-continue" round trip for a small form. */
        l = curl_slist_append(l, "Expect:");
    } else {
        SET(CURLOPT_HTTPGET, 1L);
    }

    if (req->basic_user != NULL) {
        /* RFC 6749 §2.3.1: client id and secret are form-encoded before Basic. */
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, ly_httpc_form_escape(a, req->basic_user));
        SET(CURLOPT_PASSWORD,
            ly_httpc_form_escape(a, req->basic_pass != NULL ? req->basic_pass : ""));
    } else if (req->bearer != NULL) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        SET(CURLOPT_XOAUTH2_BEARER, req->bearer);
    }
    if (l != NULL)
        SET(CURLOPT_HTTPHEADER, l);
#undef SET
    *hdrs = l;
    return e == CURLE_OK ? LY_OK : LY_E_INTERNAL;
}

int ly_httpc_do(struct ly_httpc *c, const struct ly_httpc_req *req, struct ly_arena *a,
                struct ly_httpc_resp *resp, char *err, size_t errlen)
{
    struct xfer x = {.max_body = c->max_body};
    struct curl_slist *hdrs = NULL;
    char where[512];
    long status = 0;
    CURLcode e;
    int r;

    if (req->method == NULL || req->url == NULL ||
        (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)) {
        set_err(err, errlen, "only GET and POST requests are made");
        return LY_E_INVALID_REQUEST;
    }
    if ((r = check_url(c, req->url, where, sizeof(where), err, errlen)) != LY_OK)
        return r;

    curl_easy_reset(c->h); /* keeps the connection cache */
    if ((r = setup(c, req, a, &x, &hdrs)) != LY_OK) {
        set_err(err, errlen, "%s %s: could not set up the request", req->method, where);
        goto out;
    }
    e = curl_easy_perform(c->h);
    if (e != CURLE_OK) {
        if (x.too_large || e == CURLE_FILESIZE_EXCEEDED) {
            set_err(err, errlen, "%s %s: the answer is longer than %zu bytes", req->method, where,
                    c->max_body);
            r = LY_E_TOO_LARGE;
        } else {
            /*
             * Which connection failed, so that a garbled answer (HTTP/0.9: no
             * status line) tells a reused connection's leftovers from a new one.
             */
            long fresh = 0, local = 0;
            char conn[64] = "";
            curl_easy_getinfo(c->h, CURLINFO_NUM_CONNECTS, &fresh);
            curl_easy_getinfo(c->h, CURLINFO_LOCAL_PORT, &local);
            if (local > 0)
                snprintf(conn, sizeof(conn), " (%s connection, local port %ld)",
                         fresh > 0 ? "new" : "reused", local);
            set_err(err, errlen, "%s %s: %s%s", req->method, where,
                    x.detail[0] != '\0' ? x.detail : curl_easy_strerror(e), conn);
            r = e == CURLE_UNSUPPORTED_PROTOCOL || e == CURLE_URL_MALFORMAT ? LY_E_INVALID_REQUEST
                                                                            : LY_E_UNAVAILABLE;
        }
        goto out;
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);

    resp->status = status;
    resp->content_type = ly_arena_strdup(a, x.content_type != NULL ? x.content_type : "");
    resp->location = ly_arena_strdup(a, x.location != NULL ? x.location : "");
    resp->body = ly_arena_strndup(a, x.body != NULL ? x.body : "", x.len);
    resp->body_len = x.len;
    r = LY_OK;
out:
    /* Drop the credentials and the callbacks' pointers from the handle now. */
    curl_easy_reset(c->h);
    curl_slist_free_all(hdrs);
    ly_free_secret(x.body, x.cap);
    free(x.content_type);
    free(x.location);
    return r;
}

/* Dotted decimal without leading zeros (an inet_aton parser reads 0127 as octal). */
static bool parse_octet(const char **p, const char *end, unsigned *v)
{
    const char *s = *p;
    unsigned n = 0;
    size_t digits = 0;

    while (s < end && *s >= '0' && *s <= '9' && digits < 4) {
        n = n * 10 + (unsigned)(*s - '0');
        s++, digits++;
    }
    if (digits == 0 || digits > 3 || n > 255 || (digits > 1 && **p == '0'))
        return false;
    *v = n;
    *p = s;
    return true;
}

static bool is_loopback_v4(const char *s, const char *end)
{
    unsigned v;
    if (end - s < 4 || strncmp(s, "127.", 4) != 0)
        return false;
    s += 4;
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            if (s >= end || *s != '.')
                return false;
            s++;
        }
        if (!parse_octet(&s, end, &v))
            return false;
    }
    return s == end;
}

bool ly_httpc_is_loopback_http(const char *url)
{
    const char *auth, *end, *host_end, *p;

    if (url == NULL || strncasecmp(url, "http://", 7) != 0)
        return false;
    auth = url + 7;
    end = auth + strcspn(auth, "/?#");
    /* Userinfo ("127.0.0.1@evil.com", "user@127.0.0.1"), backslashes, spaces: refuse. */
    for (p = auth; p < end; p++)
        if (*p == '@' || *p == '\\' || *p == '%' || (unsigned char)*p <= ' ')
            return false;
    if (auth < end && *auth == '[') {
        if (end - auth < 5 || strncmp(auth, "[::1]", 5) != 0)
            return false;
        host_end = auth + 5;
    } else {
        host_end = memchr(auth, ':', (size_t)(end - auth));
        if (host_end == NULL)
            host_end = end;
        size_t n = (size_t)(host_end - auth);
        if (!(n == 9 && strncasecmp(auth, "localhost", 9) == 0) && !is_loopback_v4(auth, host_end))
            return false;
    }
    if (host_end == end)
        return true;
    if (*host_end != ':')
        return false;
    /* A port: 1 to 5 digits, at most 65535. */
    p = host_end + 1;
    if (p == end || end - p > 5)
        return false;
    unsigned long port = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    return port >= 1 && port <= 65535;
}

char *ly_httpc_form_escape(struct ly_arena *a, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = ly_arena_alloc(a, n * 3 + 1), *o = out;

    /*
     * RFC 6749 Appendix B (the HTML form encoding), byte for byte as the WHATWG
     * URL standard serialises a form: space is '+', and all but alphanumerics
     * and "*-._" is %XX.
     */
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '*') {
            *o++ = (char)*p;
        } else if (*p == ' ') {
            *o++ = '+';
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 0xF];
        }
    }
    *o = '\0';
    return out;
}
