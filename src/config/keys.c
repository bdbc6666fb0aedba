/*
 * config: the key table, and the walk of the node tree against it.
 *
 * ly_cfg_keys[] is the one table that names every key of SPEC §2 with its
 * type, range, default and target field, as redis's static_configs[] does.
 * A key the table does not know, a value of the wrong type or out of range,
 * becomes "FILE:LINE:COL: message". Defaults are written as YAML text in the
 * table and go through the same parsers as the file's values, so a default
 * can never bypass validation. The *_file secrets are read last.
 */
#include "build-config.h"
#include "banned.h"

#include "lanyard/config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "lanyard/log.h"
#include "lanyard/mem.h"

#define SECRET_MAX_BYTES 4096 /* a database password, not a key bundle */
#define PATH_MAX_LEN     128  /* dotted key paths ("security.scrypt.N") */
/* 128*N*r bytes; OpenSSL's own limit is 1025 MiB */
#define SCRYPT_MAX_MEM (1024ULL * 1024 * 1024)

static const char *const mode_names[] = {"jwt", "opaque", NULL};
static const char *const alg_names[] = {"HS256", "RS256", "ES256", "EdDSA", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const format_names[] = {"text", "json", NULL};

/* K_ENUM stores the index of the name: the enums must follow the name order. */
_Static_assert(LY_TOKENS_JWT == 0 && LY_TOKENS_OPAQUE == 1, "mode_names order");
_Static_assert(LY_ALG_HS256 == 0 && LY_ALG_RS256 == 1 && LY_ALG_ES256 == 2 && LY_ALG_EDDSA == 3,
               "alg_names order");
_Static_assert(LY_LOG_ERROR == 0 && LY_LOG_WARN == 1 && LY_LOG_INFO == 2 && LY_LOG_DEBUG == 3,
               "level_names order");
_Static_assert(LY_LOG_TEXT == 0 && LY_LOG_JSON == 1, "format_names order");
_Static_assert(sizeof(enum ly_token_mode) == sizeof(int) && sizeof(enum ly_jwt_alg) == sizeof(int),
               "K_ENUM fields are written as int");

static int check_url(struct loader *ld, const struct key *k, const struct node *at, void *field);
static int check_prefix(struct loader *ld, const struct key *k, const struct node *at, void *field);
static int check_domain(struct loader *ld, const struct key *k, const struct node *at, void *field);
static int check_pow2(struct loader *ld, const struct key *k, const struct node *at, void *field);

#define OFF(f) offsetof(struct ly_config, f)
#define DAY    (86400LL)
#define GIB    (1073741824LL)

/* clang-format off */
const struct key ly_cfg_keys[] = {
    {"server.public_url", K_STRING, 0, 0, "http://127.0.0.1:8080", KF_NONEMPTY,
        OFF(server.public_url), 0, NULL, check_url},
    {"server.max_body", K_U64, 1, GIB, "65536", 0, OFF(server.max_body), 0, NULL, NULL},
    {"server.trusted_proxies", K_CIDRLIST, 0, 0, NULL, 0,
        OFF(server.trusted_proxies), OFF(server.n_trusted_proxies), NULL, NULL},
    {"server.metrics_from", K_CIDRLIST, 0, 0, "127.0.0.1/32 ::1/128", 0,
        OFF(server.metrics_from), OFF(server.n_metrics_from), NULL, NULL},

    {"database.host", K_HOSTS, 0, 0, "127.0.0.1", 0, OFF(database.host), OFF(database.n_hosts),
        NULL, NULL},
    {"database.port", K_UINT, 1, 65535, "3306", 0, OFF(database.port), 0, NULL, NULL},
    {"database.socket", K_STRING, 0, 0, "\"\"", 0, OFF(database.socket), 0, NULL, NULL},
    {"database.name", K_STRING, 0, 0, "lanyard", KF_NONEMPTY, OFF(database.name), 0, NULL, NULL},
    {"database.user", K_STRING, 0, 0, "lanyard", KF_NONEMPTY, OFF(database.user), 0, NULL, NULL},
    {"database.password_file", K_STRING, 0, 0, "/etc/lanyard/db-password", KF_SECRET_FILE,
        OFF(database.password_file), OFF(database.password_secret), NULL, NULL},
    {"database.tls", K_BOOL, 0, 0, "false", 0, OFF(database.tls), 0, NULL, NULL},
    {"database.ca_file", K_STRING, 0, 0, "\"\"", 0, OFF(database.ca_file), 0, NULL, NULL},
    {"database.connect_timeout", K_DURATION, 1, 3600, "5s", 0,
        OFF(database.connect_timeout), 0, NULL, NULL},

    {"tokens.mode", K_ENUM, 0, 0, "jwt", 0, OFF(tokens.mode), 0, mode_names, NULL},
    {"tokens.issuer", K_STRING, 0, 0, "http://127.0.0.1:8080", KF_NONEMPTY,
        OFF(tokens.issuer), 0, NULL, NULL},
    {"tokens.audience", K_STRING, 0, 0, "lanyard", KF_NONEMPTY, OFF(tokens.audience), 0, NULL,
        NULL},
    {"tokens.access_ttl", K_DURATION, 1, 30 * DAY, "15m", 0, OFF(tokens.access_ttl), 0, NULL,
        NULL},
    {"tokens.refresh_ttl", K_DURATION, 1, 3650 * DAY, "30d", 0, OFF(tokens.refresh_ttl), 0, NULL,
        NULL},
    {"tokens.leeway", K_DURATION, 0, 3600, "30s", 0, OFF(tokens.leeway), 0, NULL, NULL},
    {"tokens.jwt.algorithm", K_ENUM, 0, 0, "EdDSA", 0, OFF(tokens.jwt.algorithm), 0, alg_names,
        NULL},
    {"tokens.jwt.key_file", K_STRING, 0, 0, "/etc/lanyard/jwt.pem", 0, OFF(tokens.jwt.key_file),
        0, NULL, NULL},
    {"tokens.jwt.previous_key_files", K_STRLIST, 0, 0, NULL, 0,
        OFF(tokens.jwt.previous_key_files), OFF(tokens.jwt.n_previous_key_files), NULL, NULL},
    {"tokens.jwt.check_revocation", K_BOOL, 0, 0, "false", 0, OFF(tokens.jwt.check_revocation),
        0, NULL, NULL},

    {"api_keys.prefix", K_STRING, 0, 0, "lyk", 0, OFF(api_keys.prefix), 0, NULL, check_prefix},
    {"api_keys.default_ttl", K_DURATION, 1, 36500 * DAY, "365d", 0, OFF(api_keys.default_ttl), 0,
        NULL, NULL},
    {"api_keys.max_ttl", K_DURATION, 1, 36500 * DAY, "730d", 0, OFF(api_keys.max_ttl), 0, NULL,
        NULL},
    {"api_keys.allow_no_expiry", K_BOOL, 0, 0, "false", 0, OFF(api_keys.allow_no_expiry), 0,
        NULL, NULL},
    {"api_keys.max_per_account", K_UINT, 1, 10000, "10", 0, OFF(api_keys.max_per_account), 0,
        NULL, NULL},

    {"accounts.service_account_domain", K_STRING, 0, 0, "service.lanyard.local", 0,
        OFF(accounts.service_account_domain), 0, NULL, check_domain},
    {"accounts.self_signup", K_BOOL, 0, 0, "false", 0, OFF(accounts.self_signup), 0, NULL, NULL},
    {"accounts.users_create_orgs", K_BOOL, 0, 0, "true", 0, OFF(accounts.users_create_orgs), 0,
        NULL, NULL},

    {"security.password_min_length", K_UINT, 1, 1024, "12", 0,
        OFF(security.password_min_length), 0, NULL, NULL},
    {"security.scrypt.N", K_U64, 2, 16777216, "32768", 0, OFF(security.scrypt_n), 0, NULL,
        check_pow2},
    {"security.scrypt.r", K_UINT, 1, 64, "8", 0, OFF(security.scrypt_r), 0, NULL, NULL},
    {"security.scrypt.p", K_UINT, 1, 64, "1", 0, OFF(security.scrypt_p), 0, NULL, NULL},
    {"security.scrypt_concurrency", K_UINT, 0, 1024, "0", 0, OFF(security.scrypt_concurrency), 0,
        NULL, NULL},
    {"security.signin_max_failures", K_UINT, 1, 1000000, "5", 0,
        OFF(security.signin_max_failures), 0, NULL, NULL},
    {"security.signin_address_max_failures", K_UINT, 0, 1000000, "50", 0,
        OFF(security.signin_address_max_failures), 0, NULL, NULL},
    {"security.signin_window", K_DURATION, 1, 30 * DAY, "15m", 0, OFF(security.signin_window), 0,
        NULL, NULL},
    {"security.auth_cache_ttl", K_DURATION, 0, 3600, "0s", 0, OFF(security.auth_cache_ttl), 0,
        NULL, NULL},
    {"security.secrets_key_file", K_STRING, 0, 0, "\"\"", 0, OFF(security.secrets_key_file), 0,
        NULL, NULL},

    {"log.level", K_ENUM, 0, 0, "info", 0, OFF(log.level), 0, level_names, NULL},
    {"log.format", K_ENUM, 0, 0, "text", 0, OFF(log.format), 0, format_names, NULL},
};
/* clang-format on */

#define N_KEYS (sizeof(ly_cfg_keys) / sizeof(ly_cfg_keys[0]))

const size_t ly_cfg_n_keys = N_KEYS;

static size_t key_index(const char *path)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(ly_cfg_keys[i].path, path) == 0)
            return i;
    return N_KEYS;
}

/* A section is a proper prefix of some key's path, ending at a dot. */
static bool is_section(const char *path)
{
    size_t len = strlen(path);

    for (size_t i = 0; i < N_KEYS; i++)
        if (strncmp(ly_cfg_keys[i].path, path, len) == 0 && ly_cfg_keys[i].path[len] == '.')
            return true;
    return false;
}

static void *field_of(struct ly_config *cfg, size_t off)
{
    return (char *)cfg + off;
}

/* ---------------------------------------------------------------------------------------------
 * Values
 */

/*
 * A decimal integer: plain scalar, digits only, no leading zero. Returns 0,
 * -1 when it is not an integer at all, -2 when it is one but out of range
 * (a negative number included).
 */
static int parse_int(const struct node *n, int64_t min, int64_t max, int64_t *out)
{
    const char *s = n->value;
    size_t len = n->len;
    bool neg = false;
    uint64_t v = 0;

    if (n->kind != NODE_SCALAR || !n->plain || len == 0)
        return -1;
    if (s[0] == '-') {
        neg = true;
        s++;
        len--;
    }
    if (len == 0 || (len > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    if (neg || len > 18)
        return -2;
    for (size_t i = 0; i < len; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    if ((int64_t)v < min || (int64_t)v > max)
        return -2;
    *out = (int64_t)v;
    return 0;
}

static int want_string(struct loader *ld, const struct key *k, const struct node *n)
{
    bool b;

    if (n->kind != NODE_SCALAR || ly_cfg_is_null(n)) {
        ly_cfg_fail(ld, n, "'%s' must be a string, not %s", k->path,
                    ly_cfg_is_null(n) ? "empty (write \"\" for an empty string)"
                                      : ly_cfg_kind_names[n->kind]);
        return -1;
    }
    if (ly_cfg_plain_bool(n, &b) == 0) {
        ly_cfg_fail(ld, n, "'%s' must be a string, not a boolean (quote it)", k->path);
        return -1;
    }
    if (memchr(n->value, '\0', n->len) != NULL) {
        ly_cfg_fail(ld, n, "'%s' must not contain a NUL character", k->path);
        return -1;
    }
    return 0;
}

static int set_strlist(struct loader *ld, const struct key *k, const struct node *n, void *field)
{
    char ***list = field;
    size_t *count = field_of(ld->cfg, k->aux_off);

    if (ly_cfg_is_null(n))
        return 0;
    if (n->kind != NODE_SEQ) {
        ly_cfg_fail(ld, n, "'%s' must be a list, not %s", k->path, ly_cfg_kind_names[n->kind]);
        return -1;
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct node *it = n->items[i];
        if (want_string(ld, k, it) != 0)
            return -1;
        if (it->len == 0) {
            ly_cfg_fail(ld, it, "'%s' entries must not be empty", k->path);
            return -1;
        }
    }
    *list = ly_xcalloc(n->n ? n->n : 1, sizeof(**list));
    for (size_t i = 0; i < n->n; i++)
        (*list)[i] = ly_xstrndup(n->items[i]->value, n->items[i]->len);
    *count = n->n;
    return 0;
}

static int set_cidrlist(struct loader *ld, const struct key *k, const struct node *n, void *field)
{
    struct ly_cidr **list = field;
    size_t *count = field_of(ld->cfg, k->aux_off);
    struct ly_cidr *v = NULL;
    char shown[64];

    if (ly_cfg_is_null(n))
        return 0;
    if (n->kind != NODE_SEQ) {
        ly_cfg_fail(ld, n, "'%s' must be a list, not %s", k->path, ly_cfg_kind_names[n->kind]);
        return -1;
    }
    v = ly_xcalloc(n->n ? n->n : 1, sizeof(*v));
    for (size_t i = 0; i < n->n; i++) {
        const struct node *it = n->items[i];
        bool hostbits;
        if (want_string(ld, k, it) != 0)
            goto fail;
        if (ly_cfg_cidr_parse(it->value, it->len, &v[i], &hostbits) != 0) {
            if (hostbits)
                ly_cfg_fail(ld, it, "'%s': '%s' has bits set after the prefix length", k->path,
                            ly_cfg_show(it, shown, sizeof(shown)));
            else
                ly_cfg_fail(ld, it, "'%s': '%s' is not a CIDR such as 10.0.0.0/8 or fd00::/8",
                            k->path, ly_cfg_show(it, shown, sizeof(shown)));
            goto fail;
        }
    }
    *list = v;
    *count = n->n;
    return 0;
fail:
    free(v);
    return -1;
}

/* "HOST" or "HOST:PORT" (one colon; more is a bare IPv6 address, port 0). */
static int parse_host(struct loader *ld, const struct key *k, const struct node *it,
                      struct ly_db_host *out)
{
    const char *colon = memchr(it->value, ':', it->len);
    size_t name_len = it->len;
    unsigned port = 0;

    if (colon != NULL &&
        memchr(colon + 1, ':', it->len - (size_t)(colon + 1 - it->value)) == NULL) {
        const char *p = colon + 1, *end = it->value + it->len;
        name_len = (size_t)(colon - it->value);
        if (p == end || end - p > 5 || *p == '0')
            goto bad_port;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9')
                goto bad_port;
            port = port * 10 + (unsigned)(*p - '0');
        }
        if (port > 65535)
            goto bad_port;
    }
    if (name_len == 0) {
        ly_cfg_fail(ld, it, "'%s' entries must name a host", k->path);
        return -1;
    }
    out->name = ly_xstrndup(it->value, name_len);
    out->port = port;
    return 0;
bad_port:
    ly_cfg_fail(ld, it, "'%s' entries are HOST or HOST:PORT with a port from 1 to 65535", k->path);
    return -1;
}

static void free_hosts(struct ly_db_host *hosts, size_t n)
{
    for (size_t i = 0; hosts != NULL && i < n; i++)
        free(hosts[i].name);
    free(hosts);
}

/*
 * database.host: a string, as always, or a list of hosts tried in turn
 * (a Galera cluster, doc/operations.md). The string field keeps the first
 * entry so that what prints or checks one host goes on working.
 */
static int set_hosts(struct loader *ld, const struct key *k, const struct node *n, void *field)
{
    struct ly_config *c = ld->cfg;
    struct ly_db_host *hosts = NULL;

    if (n->kind != NODE_SEQ) {
        if (n->kind == NODE_MAP) {
            ly_cfg_fail(ld, n, "'%s' must be a string or a list of hosts, not %s", k->path,
                        ly_cfg_kind_names[n->kind]);
            return -1;
        }
        if (want_string(ld, k, n) != 0)
            return -1;
        free(*(char **)field);
        *(char **)field = ly_xstrndup(n->value, n->len);
        free_hosts(c->database.hosts, c->database.n_hosts);
        c->database.hosts = NULL;
        c->database.n_hosts = 0;
        return 0;
    }
    if (n->n == 0) {
        ly_cfg_fail(ld, n, "'%s' must not be an empty list", k->path);
        return -1;
    }
    hosts = ly_xcalloc(n->n, sizeof(*hosts));
    for (size_t i = 0; i < n->n; i++) {
        const struct node *it = n->items[i];
        if (want_string(ld, k, it) != 0 || parse_host(ld, k, it, &hosts[i]) != 0) {
            free_hosts(hosts, i);
            return -1;
        }
    }
    free(*(char **)field);
    *(char **)field = ly_xstrndup(n->items[0]->value, n->items[0]->len);
    free_hosts(c->database.hosts, c->database.n_hosts);
    c->database.hosts = hosts;
    c->database.n_hosts = n->n;
    return 0;
}

/* Store node n, the value of key k, into its field; defaults come here too. */
static int set_value(struct loader *ld, const struct key *k, const struct node *n)
{
    void *field = field_of(ld->cfg, k->off);
    char shown[64], lo[32], hi[32];
    int64_t v;
    bool b;
    int rc;

    switch (k->type) {
    case K_STRING:
        if (want_string(ld, k, n) != 0)
            return -1;
        if ((k->flags & KF_NONEMPTY) && n->len == 0) {
            ly_cfg_fail(ld, n, "'%s' must not be empty", k->path);
            return -1;
        }
        free(*(char **)field);
        *(char **)field = ly_xstrndup(n->value, n->len);
        break;
    case K_BOOL:
        if (ly_cfg_plain_bool(n, &b) != 0) {
            ly_cfg_fail(ld, n, "'%s' must be true or false", k->path);
            return -1;
        }
        *(bool *)field = b;
        break;
    case K_UINT:
    case K_U64:
        rc = parse_int(n, k->min, k->max, &v);
        if (rc == -1) {
            ly_cfg_fail(ld, n, "'%s' must be a decimal integer", k->path);
            return -1;
        }
        if (rc == -2) {
            ly_cfg_fail(ld, n, "'%s' must be between %" PRId64 " and %" PRId64, k->path, k->min,
                        k->max);
            return -1;
        }
        if (k->type == K_UINT)
            *(unsigned *)field = (unsigned)v;
        else
            *(uint64_t *)field = (uint64_t)v;
        break;
    case K_DURATION:
        if (n->kind != NODE_SCALAR || ly_cfg_is_null(n) ||
            ly_duration_parse(n->value, n->len, &v) != 0) {
            ly_cfg_fail(ld, n, "'%s' must be a duration such as 90s, 15m, 12h or 30d", k->path);
            return -1;
        }
        if (v < k->min || v > k->max) {
            ly_cfg_duration_format(k->min, lo, sizeof(lo));
            ly_cfg_duration_format(k->max, hi, sizeof(hi));
            ly_cfg_fail(ld, n, "'%s' must be between %s and %s", k->path, lo, hi);
            return -1;
        }
        *(int64_t *)field = v;
        break;
    case K_ENUM: {
        size_t i = 0;
        if (n->kind == NODE_SCALAR)
            for (i = 0; k->names[i] != NULL; i++)
                if (strlen(k->names[i]) == n->len && strcmp(k->names[i], n->value) == 0) {
                    *(int *)field = (int)i;
                    break;
                }
        if (n->kind != NODE_SCALAR || k->names[i] == NULL) {
            char allowed[96] = "";
            size_t o = 0;
            for (i = 0; k->names[i] != NULL; i++) {
                int w =
                    snprintf(allowed + o, sizeof(allowed) - o, "%s%s", i ? ", " : "", k->names[i]);
                if (w < 0 || (size_t)w >= sizeof(allowed) - o)
                    break;
                o += (size_t)w;
            }
            if (n->kind == NODE_SCALAR)
                ly_cfg_fail(ld, n, "'%s' must be one of %s, not '%s'", k->path, allowed,
                            ly_cfg_show(n, shown, sizeof(shown)));
            else
                ly_cfg_fail(ld, n, "'%s' must be one of %s, not %s", k->path, allowed,
                            ly_cfg_kind_names[n->kind]);
            return -1;
        }
        break;
    }
    case K_STRLIST:
        return set_strlist(ld, k, n, field);
    case K_CIDRLIST:
        return set_cidrlist(ld, k, n, field);
    case K_HOSTS:
        return set_hosts(ld, k, n, field);
    }
    if (k->check != NULL)
        return k->check(ld, k, n, field);
    return 0;
}

/* SPEC §2: public_url is http(s)://host[:port][/path], kept without a trailing slash. */
static int check_url(struct loader *ld, const struct key *k, const struct node *at, void *field)
{
    char *s = *(char **)field;
    size_t len = strlen(s), skip;

    if (strncmp(s, "http://", 7) == 0)
        skip = 7;
    else if (strncmp(s, "https://", 8) == 0)
        skip = 8;
    else
        goto bad;
    if (s[skip] == '\0' || s[skip] == '/')
        goto bad;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '\\')
            goto bad;
    }
    while (len > skip + 1 && s[len - 1] == '/')
        s[--len] = '\0';
    return 0;
bad:
    ly_cfg_fail(ld, at,
                "'%s' must be an http:// or https:// URL with a host and no query or fragment",
                k->path);
    return -1;
}

static int check_prefix(struct loader *ld, const struct key *k, const struct node *at, void *field)
{
    const char *s = *(char **)field;
    size_t len = strlen(s);

    if (len < 2 || len > 16)
        goto bad;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            goto bad;
    return 0;
bad:
    ly_cfg_fail(ld, at, "'%s' must be 2 to 16 characters from [a-z0-9]", k->path);
    return -1;
}

/* A lowercase DNS name: labels of [a-z0-9-], 1..63 long, not starting or ending with '-'. */
static int check_domain(struct loader *ld, const struct key *k, const struct node *at, void *field)
{
    const char *s = *(char **)field;
    size_t len = strlen(s), label = 0;

    if (len == 0 || len > 253)
        goto bad;
    for (size_t i = 0; i <= len; i++) {
        char c = s[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                goto bad;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            goto bad;
        if (label == 0 && c == '-')
            goto bad;
        label++;
    }
    return 0;
bad:
    ly_cfg_fail(ld, at, "'%s' must be a lowercase DNS name such as service.lanyard.local", k->path);
    return -1;
}

/* RFC 7914 §2: N is a power of two greater than 1. */
static int check_pow2(struct loader *ld, const struct key *k, const struct node *at, void *field)
{
    uint64_t v = *(uint64_t *)field;

    if (v < 2 || (v & (v - 1)) != 0) {
        ly_cfg_fail(ld, at, "'%s' must be a power of two", k->path);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Walking the tree against the table
 */

static int walk_map(struct loader *ld, const struct node *map, const char *prefix)
{
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct node *kn = map->items[i], *vn = map->items[i + 1];
        char path[PATH_MAX_LEN], shown[64];
        size_t row;
        int w;

        if (kn->kind != NODE_SCALAR) {
            ly_cfg_fail(ld, kn, "keys must be scalars, not %s", ly_cfg_kind_names[kn->kind]);
            return -1;
        }
        /*
         * A key with a dot in it ("server.max_body: 1" at the top) must not
         * pass for a path, so it is refused before the lookup.
         */
        w = snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "",
                     ly_cfg_show(kn, shown, sizeof(shown)));
        if (w < 0 || (size_t)w >= sizeof(path) || memchr(kn->value, '.', kn->len) != NULL ||
            memchr(kn->value, '\0', kn->len) != NULL || kn->len == 0 || strcmp(shown, kn->value)) {
            ly_cfg_fail(ld, kn, "unknown key '%s'", path);
            return -1;
        }
        for (size_t j = 0; j < i; j += 2) {
            const struct node *prev = map->items[j];
            if (prev->kind == NODE_SCALAR && prev->len == kn->len &&
                memcmp(prev->value, kn->value, kn->len) == 0) {
                ly_cfg_fail(ld, kn, "duplicate key '%s' (first at %lu:%lu)", path, prev->line,
                            prev->col);
                return -1;
            }
        }
        row = key_index(path);
        if (row < N_KEYS) {
            ld->seen_key[row] = kn;
            ld->seen_val[row] = vn;
            if (set_value(ld, &ly_cfg_keys[row], vn) != 0)
                return -1;
        } else if (is_section(path)) {
            if (ly_cfg_is_null(vn))
                continue; /* "server:" with nothing under it: all defaults */
            if (vn->kind != NODE_MAP) {
                ly_cfg_fail(ld, vn, "'%s' must be a mapping, not %s", path,
                            ly_cfg_kind_names[vn->kind]);
                return -1;
            }
            if (walk_map(ld, vn, path) != 0)
                return -1;
        } else {
            ly_cfg_fail(ld, kn, "unknown key '%s'", path);
            return -1;
        }
    }
    return 0;
}

/* A list's default: its items written one after another, separated by spaces. */
static int default_list(struct loader *ld, const struct key *k)
{
    struct node items[8], *ptrs[8];
    struct node seq;
    memset(&seq, 0, sizeof(seq));
    seq.kind = NODE_SEQ;
    seq.line = seq.col = 1;
    seq.items = ptrs;
    for (const char *p = k->def; *p != '\0' && seq.n < 8;) {
        size_t len = strcspn(p, " ");
        memset(&items[seq.n], 0, sizeof(items[0]));
        items[seq.n] = (struct node){.kind = NODE_SCALAR, .line = 1, .col = 1, .plain = true};
        items[seq.n].value = ly_xstrndup(p, len);
        items[seq.n].len = len;
        ptrs[seq.n] = &items[seq.n];
        seq.n++;
        p += len;
        p += strspn(p, " ");
    }
    int r = set_value(ld, k, &seq);
    for (size_t j = 0; j < seq.n; j++)
        free(items[j].value);
    return r;
}

static int apply_defaults(struct loader *ld)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        struct node n;
        int r;

        if (ld->seen_val[i] != NULL || ly_cfg_keys[i].def == NULL)
            continue;
        if (ly_cfg_keys[i].type == K_CIDRLIST) {
            if (default_list(ld, &ly_cfg_keys[i]) != 0)
                return -1;
            continue;
        }
        memset(&n, 0, sizeof(n));
        n.kind = NODE_SCALAR;
        n.line = n.col = 1;
        n.plain = ly_cfg_keys[i].def[0] != '"';
        n.value =
            n.plain ? ly_xstrdup(ly_cfg_keys[i].def) : ly_xstrdup(""); /* "\"\"": empty string */
        n.len = strlen(n.value);
        r = set_value(ld, &ly_cfg_keys[i], &n);
        free(n.value);
        if (r != 0)
            return -1;
    }
    return 0;
}

/* The node to report a key at: its value when written, else 1:1. */
static const struct node *at_value(const struct loader *ld, const char *path)
{
    return ld->seen_val[key_index(path)];
}

static int check_relations(struct loader *ld)
{
    const struct ly_config *c = ld->cfg;
    char a[32], b[32];

    if (c->database.host[0] == '\0' && c->database.socket[0] == '\0') {
        ly_cfg_fail(ld, at_value(ld, "database.host"),
                    "'database.host' must not be empty when 'database.socket' is empty");
        return -1;
    }
    if (c->tokens.mode == LY_TOKENS_JWT && c->tokens.jwt.key_file[0] == '\0') {
        ly_cfg_fail(ld, at_value(ld, "tokens.jwt.key_file"),
                    "'tokens.jwt.key_file' must be set when 'tokens.mode' is jwt");
        return -1;
    }
    if (c->api_keys.default_ttl > c->api_keys.max_ttl) {
        const struct node *at = at_value(ld, "api_keys.default_ttl");
        ly_cfg_duration_format(c->api_keys.default_ttl, a, sizeof(a));
        ly_cfg_duration_format(c->api_keys.max_ttl, b, sizeof(b));
        ly_cfg_fail(ld, at ? at : at_value(ld, "api_keys.max_ttl"),
                    "'api_keys.default_ttl' (%s) must not exceed 'api_keys.max_ttl' (%s)", a, b);
        return -1;
    }
    /* RFC 7914 §2: scrypt needs 128 * r * N bytes of memory. */
    if (128ULL * c->security.scrypt_r * c->security.scrypt_n > SCRYPT_MAX_MEM) {
        const struct node *at = at_value(ld, "security.scrypt.N");
        ly_cfg_fail(ld, at ? at : at_value(ld, "security.scrypt.r"),
                    "'security.scrypt' needs 128*N*r bytes of memory, more than the 1 GiB allowed");
        return -1;
    }
    return 0;
}

/*
 * A warning when all users may read or write the key or secret file at
 * path, named by key (at its node; NULL: the default). doc/decisions.md
 * says why it is not an error, except for the signing key.
 */
static void warn_exposed(struct loader *ld, const char *key, const struct node *at,
                         const char *path, mode_t mode, const char *hint)
{
    const char *who = ly_cfg_exposure(mode);

    if (who == NULL)
        return;
    ly_cfg_warn(ld, at,
                "'%s'%s: '%s' is %s by all users (mode %04o); %schmod it to 600, or to 640 for "
                "a group such as www-data",
                key, at == NULL ? " (default)" : "", path, who, (unsigned)(mode & 07777), hint);
}

/*
 * Read the *_file secrets. An empty path means "none" (the secret stays
 * NULL: for the database, no password). The reason printed never includes
 * what was read.
 */
static int read_secrets(struct loader *ld)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key *k = &ly_cfg_keys[i];
        const char *path;
        char **secret, why[128];
        char *buf = NULL;
        size_t len = 0;
        mode_t mode = 0;

        if (!(k->flags & KF_SECRET_FILE))
            continue;
        path = *(char **)field_of(ld->cfg, k->off);
        secret = field_of(ld->cfg, k->aux_off);
        if (path[0] == '\0')
            continue;
        if (ly_cfg_slurp(path, SECRET_MAX_BYTES, true, &buf, &len, &mode, why, sizeof(why)) != 0) {
            if (ld->seen_key[i] != NULL)
                ly_cfg_fail(ld, ld->seen_key[i], "'%s': cannot read '%s': %s", k->path, path, why);
            else
                ly_cfg_fail(ld, NULL, "'%s' (default): cannot read '%s': %s", k->path, path, why);
            return -1;
        }
        if (memchr(buf, '\0', len) != NULL) {
            ly_free_secret(buf, len + 1);
            ly_cfg_fail(ld, ld->seen_key[i], "'%s': '%s' contains a NUL byte", k->path, path);
            return -1;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = '\0';
        *secret = buf;
        warn_exposed(ld, k->path, ld->seen_key[i], path, mode, "");
    }
    return 0;
}

/*
 * security.secrets_key_file is read by the worker (ly_seal_key_load), and
 * the tokens.jwt key files are read by the keyset (src/token/keys.c),
 * which refuses a signing key all users may read or write. Here they are
 * only looked at, so that lanyardctl config check tells the same; a file
 * that cannot be looked at is left for the keyset to report. Opaque mode
 * needs no key file (SPEC §2).
 */
static void check_key_files(struct loader *ld)
{
    const struct ly_config *c = ld->cfg;
    size_t row;
    const struct node *list;
    struct stat st;

    /* ly_seal_key_load refuses it in that state too; the worker loads it, not the config */
    row = key_index("security.secrets_key_file");
    if (c->security.secrets_key_file[0] != '\0' && stat(c->security.secrets_key_file, &st) == 0 &&
        S_ISREG(st.st_mode))
        warn_exposed(ld, "security.secrets_key_file", ld->seen_key[row],
                     c->security.secrets_key_file, st.st_mode, "lanyard refuses it: ");
    row = key_index("tokens.jwt.key_file");
    if (c->tokens.mode != LY_TOKENS_JWT)
        return;
    if (stat(c->tokens.jwt.key_file, &st) == 0 && S_ISREG(st.st_mode))
        warn_exposed(ld, "tokens.jwt.key_file", ld->seen_key[row], c->tokens.jwt.key_file,
                     st.st_mode, "lanyard will not start with it: ");
    row = key_index("tokens.jwt.previous_key_files");
    list = ld->seen_val[row];
    for (size_t i = 0; i < c->tokens.jwt.n_previous_key_files; i++) {
        const char *path = c->tokens.jwt.previous_key_files[i];
        const struct node *at = list != NULL && i < list->n ? list->items[i] : NULL;

        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            warn_exposed(ld, "tokens.jwt.previous_key_files", at, path, st.st_mode,
                         "unless it holds a public key only, ");
    }
}

/* ---------------------------------------------------------------------------------------------
 * Entry points
 */

int ly_cfg_apply(struct loader *ld, const struct node *root)
{
    const struct node *seen_key[N_KEYS] = {0}, *seen_val[N_KEYS] = {0};
    int r = -1;

    ld->seen_key = seen_key;
    ld->seen_val = seen_val;
    if (walk_map(ld, root, "") != 0 || apply_defaults(ld) != 0 || check_relations(ld) != 0 ||
        read_secrets(ld) != 0)
        goto out;
    check_key_files(ld);
    r = 0;
out:
    ld->seen_key = NULL;
    ld->seen_val = NULL;
    return r;
}

void ly_cfg_release(struct ly_config *cfg)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key *k = &ly_cfg_keys[i];
        void *field = field_of(cfg, k->off);

        if (k->type == K_STRING) {
            free(*(char **)field);
            if (k->flags & KF_SECRET_FILE) {
                char *secret = *(char **)field_of(cfg, k->aux_off);
                if (secret != NULL)
                    ly_free_secret(secret, strlen(secret) + 1);
            }
        } else if (k->type == K_STRLIST) {
            char **list = *(char ***)field;
            size_t n = *(size_t *)field_of(cfg, k->aux_off);
            for (size_t j = 0; j < n; j++)
                free(list[j]);
            free(list);
        } else if (k->type == K_CIDRLIST) {
            free(*(struct ly_cidr **)field);
        } else if (k->type == K_HOSTS) {
            free(*(char **)field);
            free_hosts(cfg->database.hosts, cfg->database.n_hosts);
        }
    }
}

const char *ly_jwt_alg_name(enum ly_jwt_alg alg)
{
    if ((unsigned)alg < sizeof(alg_names) / sizeof(alg_names[0]) - 1)
        return alg_names[alg];
    return "unknown";
}
