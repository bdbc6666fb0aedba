/*
 * config: SPEC §2 from YAML into struct ly_config.
 *
 * Two passes, as h2o's yoml and redis's static_configs[] do it. First the
 * libyaml event stream becomes a small node tree in which every node keeps
 * its 1-based line and column. Then the tree is walked against keys[], the
 * one table that names every key with its type, range, default and target
 * field; a key the table does not know, a value of the wrong type or out of
 * range, becomes "FILE:LINE:COL: message". Defaults are written as YAML text
 * in the table and go through the same parsers as the file's values, so a
 * default can never bypass validation. This is the only file that includes
 * <yaml.h>.
 */
#include "build-config.h"
#include "banned.h"

#include "lanyard/config.h"

#include "lanyard/err.h"
#include "lanyard/log.h"
#include "lanyard/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#ifndef LY_SYSCONFDIR
#define LY_SYSCONFDIR "/etc"
#endif

#define CONFIG_MAX_BYTES (1024 * 1024) /* a config file is small; refuse anything larger */
#define SECRET_MAX_BYTES 4096          /* a database password, not a key bundle */
#define MAX_DEPTH        16            /* nesting the parser accepts; SPEC §2 needs 3 */
#define PATH_MAX_LEN     128           /* dotted key paths ("security.scrypt.N") */
#define SCRYPT_MAX_MEM   (1024ULL * 1024 * 1024) /* 128*N*r; OpenSSL's own limit is 1025 MiB */

/* ---------------------------------------------------------------------------------------------
 * The node tree
 */

enum node_kind { NODE_SCALAR, NODE_SEQ, NODE_MAP };

struct node {
    enum node_kind kind;
    unsigned long line, col; /* 1-based, from libyaml's start mark */
    char *value;             /* scalar: NUL-terminated copy; may also hold NULs */
    size_t len;
    bool plain;          /* plain style and no explicit tag: the only form read as int/bool/null */
    struct node **items; /* sequence: the items; mapping: key, value, key, value, ... */
    size_t n, cap;
};

static void node_free(struct node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++)
        node_free(n->items[i]);
    free(n->items);
    free(n->value);
    free(n);
}

static void node_push(struct node *parent, struct node *child)
{
    if (parent->n == parent->cap) {
        parent->cap = parent->cap ? parent->cap * 2 : 8;
        parent->items = ly_xrealloc(parent->items, parent->cap * sizeof(*parent->items));
    }
    parent->items[parent->n++] = child;
}

static const char *const kind_names[] = {"a scalar", "a list", "a mapping"};

/* YAML 1.2 core schema: a plain empty, "~" or "null" scalar is null. */
static bool is_null(const struct node *n)
{
    if (n->kind != NODE_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
           strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0;
}

/* YAML 1.2 core schema booleans; "yes"/"no"/"on"/"off" are strings, as in 1.2. */
static int plain_bool(const struct node *n, bool *out)
{
    static const char *const t[] = {"true", "True", "TRUE"};
    static const char *const f[] = {"false", "False", "FALSE"};

    if (n->kind != NODE_SCALAR || !n->plain)
        return -1;
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(n->value, t[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(n->value, f[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Errors
 */

struct key;

struct loader {
    const char *path;
    char *err;
    size_t errlen;
    struct ly_config *cfg;
    const unsigned char *buf; /* the file's bytes, for reader-error positions */
    size_t buflen;
    const struct node **seen_key; /* per keys[] row: the key node, NULL when defaulted */
    const struct node **seen_val;
};

__attribute__((format(printf, 4, 0))) static void
vfail_at(struct loader *ld, unsigned long line, unsigned long col, const char *fmt, va_list ap)
{
    int n;

    if (ld->err == NULL || ld->errlen == 0)
        return;
    n = snprintf(ld->err, ld->errlen, "%s:%lu:%lu: ", ld->path, line, col);
    if (n < 0 || (size_t)n >= ld->errlen)
        return;
    vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
}

__attribute__((format(printf, 4, 5))) static void fail_at(struct loader *ld, unsigned long line,
                                                          unsigned long col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail_at(ld, line, col, fmt, ap);
    va_end(ap);
}

/* An error at a node; a NULL node (a defaulted key) is reported at 1:1. */
__attribute__((format(printf, 3, 4))) static void fail(struct loader *ld, const struct node *at,
                                                       const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail_at(ld, at ? at->line : 1, at ? at->col : 1, fmt, ap);
    va_end(ap);
}

/* A value quoted for an error message: at most 48 bytes, controls escaped. */
static const char *show(const struct node *n, char *buf, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < n->len && o + 8 < size; i++) {
        unsigned char c = (unsigned char)n->value[i];
        if (i == 48) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f) {
            int w = snprintf(buf + o, size - o, "\\x%02x", c);
            if (w < 0)
                break;
            o += (size_t)w;
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* ---------------------------------------------------------------------------------------------
 * YAML text to node tree
 */

static int yaml_failed(struct loader *ld, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "unknown error";

    if (p->error == YAML_MEMORY_ERROR) {
        fail_at(ld, 1, 1, "out of memory while parsing YAML");
        return -1;
    }
    if (p->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark: count lines and characters to it. */
        unsigned long line = 1, col = 1;
        for (size_t i = 0; i < p->problem_offset && i < ld->buflen; i++) {
            if (ld->buf[i] == '\n') {
                line++;
                col = 1;
            } else if ((ld->buf[i] & 0xc0) != 0x80) {
                col++;
            }
        }
        fail_at(ld, line, col, "invalid YAML: %s", problem);
        return -1;
    }
    if (p->context)
        fail_at(ld, (unsigned long)p->problem_mark.line + 1,
                (unsigned long)p->problem_mark.column + 1, "invalid YAML: %s (%s)", problem,
                p->context);
    else
        fail_at(ld, (unsigned long)p->problem_mark.line + 1,
                (unsigned long)p->problem_mark.column + 1, "invalid YAML: %s", problem);
    return -1;
}

static int next_event(struct loader *ld, yaml_parser_t *p, yaml_event_t *ev)
{
    if (!yaml_parser_parse(p, ev))
        return yaml_failed(ld, p);
    return 0;
}

/*
 * Build the node that ev starts, reading further events for collections.
 * The caller keeps ownership of ev.
 */
static int parse_node(struct loader *ld, yaml_parser_t *p, const yaml_event_t *ev, int depth,
                      struct node **out)
{
    struct node *n = NULL;
    yaml_event_t child;
    yaml_event_type_t end;
    int r = -1;

    if (depth > MAX_DEPTH) {
        fail_at(ld, (unsigned long)ev->start_mark.line + 1,
                (unsigned long)ev->start_mark.column + 1, "nesting deeper than %d levels",
                MAX_DEPTH);
        return -1;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        break;
    case YAML_ALIAS_EVENT:
        fail_at(ld, (unsigned long)ev->start_mark.line + 1,
                (unsigned long)ev->start_mark.column + 1, "YAML aliases are not supported");
        return -1;
    default:
        fail_at(ld, (unsigned long)ev->start_mark.line + 1,
                (unsigned long)ev->start_mark.column + 1, "unexpected YAML event");
        return -1;
    }

    n = ly_xcalloc(1, sizeof(*n));
    n->line = (unsigned long)ev->start_mark.line + 1;
    n->col = (unsigned long)ev->start_mark.column + 1;
    if (ev->type == YAML_SCALAR_EVENT) {
        n->kind = NODE_SCALAR;
        n->len = ev->data.scalar.length;
        n->value = ly_xstrndup((const char *)ev->data.scalar.value, n->len);
        n->plain =
            ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.plain_implicit;
        *out = n;
        return 0;
    }

    n->kind = ev->type == YAML_SEQUENCE_START_EVENT ? NODE_SEQ : NODE_MAP;
    end = ev->type == YAML_SEQUENCE_START_EVENT ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT;
    for (;;) {
        struct node *c = NULL;
        int cr;

        if (next_event(ld, p, &child) != 0)
            goto out;
        if (child.type == end) {
            yaml_event_delete(&child);
            break;
        }
        cr = parse_node(ld, p, &child, depth + 1, &c);
        yaml_event_delete(&child);
        if (cr != 0)
            goto out;
        node_push(n, c);
    }
    *out = n;
    n = NULL;
    r = 0;
out:
    node_free(n);
    return r;
}

/* One document, whose root must be a mapping. */
static int parse_document(struct loader *ld, struct node **out)
{
    yaml_parser_t p;
    yaml_event_t ev;
    yaml_mark_t doc;
    struct node *root = NULL;
    bool have_ev = false;
    int r = -1;

    if (!yaml_parser_initialize(&p)) {
        fail_at(ld, 1, 1, "cannot initialize the YAML parser");
        return -1;
    }
    yaml_parser_set_input_string(&p, ld->buf, ld->buflen);

    /* STREAM-START, then DOCUMENT-START or STREAM-END (no document at all) */
    if (next_event(ld, &p, &ev) != 0)
        goto out;
    yaml_event_delete(&ev);
    if (next_event(ld, &p, &ev) != 0)
        goto out;
    have_ev = true;
    if (ev.type == YAML_STREAM_END_EVENT) {
        fail_at(ld, 1, 1, "the file is empty (no YAML document)");
        goto out;
    }
    doc = ev.start_mark;
    yaml_event_delete(&ev);
    have_ev = false;

    if (next_event(ld, &p, &ev) != 0)
        goto out;
    have_ev = true;
    if (parse_node(ld, &p, &ev, 1, &root) != 0)
        goto out;
    yaml_event_delete(&ev);
    have_ev = false;
    if (is_null(root)) {
        /* "---" alone: libyaml puts the empty scalar on the next line; report the "---" */
        fail_at(ld, (unsigned long)doc.line + 1, (unsigned long)doc.column + 1,
                "the document is empty");
        goto out;
    }
    if (root->kind != NODE_MAP) {
        fail(ld, root, "the top level must be a mapping, not %s", kind_names[root->kind]);
        goto out;
    }

    /* DOCUMENT-END, then STREAM-END: a second document is refused. */
    if (next_event(ld, &p, &ev) != 0)
        goto out;
    yaml_event_delete(&ev);
    if (next_event(ld, &p, &ev) != 0)
        goto out;
    have_ev = true;
    if (ev.type != YAML_STREAM_END_EVENT) {
        fail_at(ld, (unsigned long)ev.start_mark.line + 1, (unsigned long)ev.start_mark.column + 1,
                "only one YAML document is allowed");
        goto out;
    }

    *out = root;
    root = NULL;
    r = 0;
out:
    if (have_ev)
        yaml_event_delete(&ev);
    node_free(root);
    yaml_parser_delete(&p);
    return r;
}

/* ---------------------------------------------------------------------------------------------
 * Files
 */

/*
 * Read a whole regular file of at most max bytes into a NUL-terminated buffer.
 * On failure returns -1 with a reason in why; a partly read secret is wiped.
 */
static int slurp(const char *path, size_t max, bool secret, char **out, size_t *outlen, char *why,
                 size_t whylen)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int fd, r = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "not a regular file");
        goto out;
    }
    buf = ly_xmalloc(max + 2);
    for (;;) {
        ssize_t got = read(fd, buf + len, max + 1 - len);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            snprintf(why, whylen, "%s", strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        len += (size_t)got;
        if (len > max) {
            snprintf(why, whylen, "larger than %zu bytes", max);
            goto out;
        }
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    buf = NULL;
    r = 0;
out:
    if (buf != NULL) {
        if (secret)
            ly_free_secret(buf, max + 2);
        else
            free(buf);
    }
    close(fd);
    return r;
}

/* ---------------------------------------------------------------------------------------------
 * The key table
 */

enum ktype { K_STRING, K_BOOL, K_UINT, K_U64, K_DURATION, K_ENUM, K_STRLIST, K_CIDRLIST };

#define KF_NONEMPTY    0x1 /* a string that must not be "" */
#define KF_SECRET_FILE 0x2 /* names a file read at load into aux_off; never printed */

struct key {
    const char *path; /* "section.key" or "section.sub.key" */
    enum ktype type;
    int64_t min, max;         /* integers and durations */
    const char *def;          /* the default as YAML text; NULL for lists (empty) */
    unsigned flags;           /* KF_* */
    size_t off;               /* the field in struct ly_config */
    size_t aux_off;           /* lists: the size_t count; KF_SECRET_FILE: the char * secret */
    const char *const *names; /* K_ENUM: the accepted values, indexed by enum value */
    int (*check)(struct loader *ld, const struct key *k, const struct node *at, void *field);
};

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
static const struct key keys[] = {
    {"server.public_url", K_STRING, 0, 0, "http://127.0.0.1:8080", KF_NONEMPTY,
        OFF(server.public_url), 0, NULL, check_url},
    {"server.max_body", K_U64, 1, GIB, "65536", 0, OFF(server.max_body), 0, NULL, NULL},
    {"server.trusted_proxies", K_CIDRLIST, 0, 0, NULL, 0,
        OFF(server.trusted_proxies), OFF(server.n_trusted_proxies), NULL, NULL},

    {"database.host", K_STRING, 0, 0, "127.0.0.1", 0, OFF(database.host), 0, NULL, NULL},
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
    {"security.signin_max_failures", K_UINT, 1, 1000000, "5", 0,
        OFF(security.signin_max_failures), 0, NULL, NULL},
    {"security.signin_window", K_DURATION, 1, 30 * DAY, "15m", 0, OFF(security.signin_window), 0,
        NULL, NULL},
    {"security.auth_cache_ttl", K_DURATION, 0, 3600, "0s", 0, OFF(security.auth_cache_ttl), 0,
        NULL, NULL},

    {"log.level", K_ENUM, 0, 0, "info", 0, OFF(log.level), 0, level_names, NULL},
    {"log.format", K_ENUM, 0, 0, "text", 0, OFF(log.format), 0, format_names, NULL},
};
/* clang-format on */

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static size_t key_index(const char *path)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].path, path) == 0)
            return i;
    return N_KEYS;
}

/* A section is a proper prefix of some key's path, ending at a dot. */
static bool is_section(const char *path)
{
    size_t len = strlen(path);

    for (size_t i = 0; i < N_KEYS; i++)
        if (strncmp(keys[i].path, path, len) == 0 && keys[i].path[len] == '.')
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

static int format_duration(int64_t v, char *buf, size_t size)
{
    if (v != 0 && v % 86400 == 0)
        return snprintf(buf, size, "%" PRId64 "d", v / 86400);
    if (v != 0 && v % 3600 == 0)
        return snprintf(buf, size, "%" PRId64 "h", v / 3600);
    if (v != 0 && v % 60 == 0)
        return snprintf(buf, size, "%" PRId64 "m", v / 60);
    return snprintf(buf, size, "%" PRId64 "s", v);
}

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

static bool prefix_bits_clear(const unsigned char *a, unsigned alen, unsigned prefix)
{
    for (unsigned bit = prefix; bit < alen * 8; bit++)
        if (a[bit / 8] & (0x80u >> (bit % 8)))
            return false;
    return true;
}

/*
 * "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128). Host bits set
 * beyond the prefix are refused rather than masked: "10.1.2.3/8" is more
 * likely a typo than a wish to trust all of 10/8.
 */
static int parse_cidr(const char *s, size_t len, struct ly_cidr *out, bool *hostbits)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    unsigned maxbits, prefix = 0;
    struct ly_cidr c;

    *hostbits = false;
    memset(&c, 0, sizeof(c));
    if (alen == 0 || alen >= sizeof(addr) || memchr(s, '\0', len) != NULL)
        return -1;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, c.addr) == 1) {
        c.family = AF_INET;
        maxbits = 32;
    } else if (inet_pton(AF_INET6, addr, c.addr) == 1) {
        c.family = AF_INET6;
        maxbits = 128;
    } else {
        return -1;
    }
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t plen = len - alen - 1;
        if (plen == 0 || plen > 3 || (plen > 1 && p[0] == '0'))
            return -1;
        for (size_t i = 0; i < plen; i++) {
            if (p[i] < '0' || p[i] > '9')
                return -1;
            prefix = prefix * 10 + (unsigned)(p[i] - '0');
        }
        if (prefix > maxbits)
            return -1;
    } else {
        prefix = maxbits;
    }
    c.prefix = prefix;
    if (!prefix_bits_clear(c.addr, maxbits / 8, prefix)) {
        *hostbits = true;
        return -1;
    }
    *out = c;
    return 0;
}

static int want_string(struct loader *ld, const struct key *k, const struct node *n)
{
    bool b;

    if (n->kind != NODE_SCALAR || is_null(n)) {
        fail(ld, n, "'%s' must be a string, not %s", k->path,
             is_null(n) ? "empty (write \"\" for an empty string)" : kind_names[n->kind]);
        return -1;
    }
    if (plain_bool(n, &b) == 0) {
        fail(ld, n, "'%s' must be a string, not a boolean (quote it)", k->path);
        return -1;
    }
    if (memchr(n->value, '\0', n->len) != NULL) {
        fail(ld, n, "'%s' must not contain a NUL character", k->path);
        return -1;
    }
    return 0;
}

static int set_strlist(struct loader *ld, const struct key *k, const struct node *n, void *field)
{
    char ***list = field;
    size_t *count = field_of(ld->cfg, k->aux_off);

    if (is_null(n))
        return 0;
    if (n->kind != NODE_SEQ) {
        fail(ld, n, "'%s' must be a list, not %s", k->path, kind_names[n->kind]);
        return -1;
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct node *it = n->items[i];
        if (want_string(ld, k, it) != 0)
            return -1;
        if (it->len == 0) {
            fail(ld, it, "'%s' entries must not be empty", k->path);
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

    if (is_null(n))
        return 0;
    if (n->kind != NODE_SEQ) {
        fail(ld, n, "'%s' must be a list, not %s", k->path, kind_names[n->kind]);
        return -1;
    }
    v = ly_xcalloc(n->n ? n->n : 1, sizeof(*v));
    for (size_t i = 0; i < n->n; i++) {
        const struct node *it = n->items[i];
        bool hostbits;
        if (want_string(ld, k, it) != 0)
            goto fail;
        if (parse_cidr(it->value, it->len, &v[i], &hostbits) != 0) {
            if (hostbits)
                fail(ld, it, "'%s': '%s' has bits set after the prefix length", k->path,
                     show(it, shown, sizeof(shown)));
            else
                fail(ld, it, "'%s': '%s' is not a CIDR such as 10.0.0.0/8 or fd00::/8", k->path,
                     show(it, shown, sizeof(shown)));
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
            fail(ld, n, "'%s' must not be empty", k->path);
            return -1;
        }
        free(*(char **)field);
        *(char **)field = ly_xstrndup(n->value, n->len);
        break;
    case K_BOOL:
        if (plain_bool(n, &b) != 0) {
            fail(ld, n, "'%s' must be true or false", k->path);
            return -1;
        }
        *(bool *)field = b;
        break;
    case K_UINT:
    case K_U64:
        rc = parse_int(n, k->min, k->max, &v);
        if (rc == -1) {
            fail(ld, n, "'%s' must be a decimal integer", k->path);
            return -1;
        }
        if (rc == -2) {
            fail(ld, n, "'%s' must be between %" PRId64 " and %" PRId64, k->path, k->min, k->max);
            return -1;
        }
        if (k->type == K_UINT)
            *(unsigned *)field = (unsigned)v;
        else
            *(uint64_t *)field = (uint64_t)v;
        break;
    case K_DURATION:
        if (n->kind != NODE_SCALAR || is_null(n) || ly_duration_parse(n->value, n->len, &v) != 0) {
            fail(ld, n, "'%s' must be a duration such as 90s, 15m, 12h or 30d", k->path);
            return -1;
        }
        if (v < k->min || v > k->max) {
            format_duration(k->min, lo, sizeof(lo));
            format_duration(k->max, hi, sizeof(hi));
            fail(ld, n, "'%s' must be between %s and %s", k->path, lo, hi);
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
                fail(ld, n, "'%s' must be one of %s, not '%s'", k->path, allowed,
                     show(n, shown, sizeof(shown)));
            else
                fail(ld, n, "'%s' must be one of %s, not %s", k->path, allowed,
                     kind_names[n->kind]);
            return -1;
        }
        break;
    }
    case K_STRLIST:
        return set_strlist(ld, k, n, field);
    case K_CIDRLIST:
        return set_cidrlist(ld, k, n, field);
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
    fail(ld, at, "'%s' must be an http:// or https:// URL with a host and no query or fragment",
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
    fail(ld, at, "'%s' must be 2 to 16 characters from [a-z0-9]", k->path);
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
    fail(ld, at, "'%s' must be a lowercase DNS name such as service.lanyard.local", k->path);
    return -1;
}

/* RFC 7914 §2: N is a power of two greater than 1. */
static int check_pow2(struct loader *ld, const struct key *k, const struct node *at, void *field)
{
    uint64_t v = *(uint64_t *)field;

    if (v < 2 || (v & (v - 1)) != 0) {
        fail(ld, at, "'%s' must be a power of two", k->path);
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
            fail(ld, kn, "keys must be scalars, not %s", kind_names[kn->kind]);
            return -1;
        }
        /*
         * A key with a dot in it ("server.max_body: 1" at the top) must not
         * pass for a path, so it is refused before the lookup.
         */
        w = snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "",
                     show(kn, shown, sizeof(shown)));
        if (w < 0 || (size_t)w >= sizeof(path) || memchr(kn->value, '.', kn->len) != NULL ||
            memchr(kn->value, '\0', kn->len) != NULL || kn->len == 0 || strcmp(shown, kn->value)) {
            fail(ld, kn, "unknown key '%s'", path);
            return -1;
        }
        for (size_t j = 0; j < i; j += 2) {
            const struct node *prev = map->items[j];
            if (prev->kind == NODE_SCALAR && prev->len == kn->len &&
                memcmp(prev->value, kn->value, kn->len) == 0) {
                fail(ld, kn, "duplicate key '%s' (first at %lu:%lu)", path, prev->line, prev->col);
                return -1;
            }
        }
        row = key_index(path);
        if (row < N_KEYS) {
            ld->seen_key[row] = kn;
            ld->seen_val[row] = vn;
            if (set_value(ld, &keys[row], vn) != 0)
                return -1;
        } else if (is_section(path)) {
            if (is_null(vn))
                continue; /* "server:" with nothing under it: all defaults */
            if (vn->kind != NODE_MAP) {
                fail(ld, vn, "'%s' must be a mapping, not %s", path, kind_names[vn->kind]);
                return -1;
            }
            if (walk_map(ld, vn, path) != 0)
                return -1;
        } else {
            fail(ld, kn, "unknown key '%s'", path);
            return -1;
        }
    }
    return 0;
}

static int apply_defaults(struct loader *ld)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        struct node n;
        int r;

        if (ld->seen_val[i] != NULL || keys[i].def == NULL)
            continue;
        memset(&n, 0, sizeof(n));
        n.kind = NODE_SCALAR;
        n.line = n.col = 1;
        n.plain = keys[i].def[0] != '"';
        n.value = n.plain ? ly_xstrdup(keys[i].def) : ly_xstrdup(""); /* "\"\"": empty string */
        n.len = strlen(n.value);
        r = set_value(ld, &keys[i], &n);
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
        fail(ld, at_value(ld, "database.host"),
             "'database.host' must not be empty when 'database.socket' is empty");
        return -1;
    }
    if (c->tokens.mode == LY_TOKENS_JWT && c->tokens.jwt.key_file[0] == '\0') {
        fail(ld, at_value(ld, "tokens.jwt.key_file"),
             "'tokens.jwt.key_file' must be set when 'tokens.mode' is jwt");
        return -1;
    }
    if (c->api_keys.default_ttl > c->api_keys.max_ttl) {
        const struct node *at = at_value(ld, "api_keys.default_ttl");
        format_duration(c->api_keys.default_ttl, a, sizeof(a));
        format_duration(c->api_keys.max_ttl, b, sizeof(b));
        fail(ld, at ? at : at_value(ld, "api_keys.max_ttl"),
             "'api_keys.default_ttl' (%s) must not exceed 'api_keys.max_ttl' (%s)", a, b);
        return -1;
    }
    /* RFC 7914 §2: scrypt needs 128 * r * N bytes of memory. */
    if (128ULL * c->security.scrypt_r * c->security.scrypt_n > SCRYPT_MAX_MEM) {
        const struct node *at = at_value(ld, "security.scrypt.N");
        fail(ld, at ? at : at_value(ld, "security.scrypt.r"),
             "'security.scrypt' needs 128*N*r bytes of memory, more than the 1 GiB allowed");
        return -1;
    }
    return 0;
}

/*
 * Read the *_file secrets. An empty path means "none" (the secret stays
 * NULL: for the database, no password). The reason printed never includes
 * what was read.
 */
static int read_secrets(struct loader *ld)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key *k = &keys[i];
        const char *path;
        char **secret, why[128];
        char *buf = NULL;
        size_t len = 0;

        if (!(k->flags & KF_SECRET_FILE))
            continue;
        path = *(char **)field_of(ld->cfg, k->off);
        secret = field_of(ld->cfg, k->aux_off);
        if (path[0] == '\0')
            continue;
        if (slurp(path, SECRET_MAX_BYTES, true, &buf, &len, why, sizeof(why)) != 0) {
            if (ld->seen_key[i] != NULL)
                fail(ld, ld->seen_key[i], "'%s': cannot read '%s': %s", k->path, path, why);
            else
                fail(ld, NULL, "'%s' (default): cannot read '%s': %s", k->path, path, why);
            return -1;
        }
        if (memchr(buf, '\0', len) != NULL) {
            ly_free_secret(buf, len + 1);
            fail(ld, ld->seen_key[i], "'%s': '%s' contains a NUL byte", k->path, path);
            return -1;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = '\0';
        *secret = buf;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Public API
 */

const char *ly_config_default_path(void)
{
    const char *env = getenv("LANYARD_CONFIG");

    if (env != NULL && env[0] != '\0')
        return env;
    return LY_SYSCONFDIR "/lanyard/lanyard.yaml";
}

const char *ly_jwt_alg_name(enum ly_jwt_alg alg)
{
    if ((unsigned)alg < sizeof(alg_names) / sizeof(alg_names[0]) - 1)
        return alg_names[alg];
    return "unknown";
}

int ly_config_load(const char *path, struct ly_config **out, char *err, size_t errlen)
{
    struct loader ld;
    char *text = NULL, why[128];
    size_t textlen = 0;
    int r;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (slurp(path, CONFIG_MAX_BYTES, false, &text, &textlen, why, sizeof(why)) != 0) {
        memset(&ld, 0, sizeof(ld));
        ld.path = path;
        ld.err = err;
        ld.errlen = errlen;
        fail_at(&ld, 1, 1, "cannot read file: %s", why);
        return LY_E_CONFIG;
    }
    r = ly_config_load_mem(path, text, textlen, out, err, errlen);
    free(text);
    return r;
}

int ly_config_load_mem(const char *name, const char *buf, size_t len, struct ly_config **out,
                       char *err, size_t errlen)
{
    const struct node *seen_key[N_KEYS] = {0}, *seen_val[N_KEYS] = {0};
    struct loader ld;
    struct node *root = NULL;
    struct ly_config *cfg = NULL;
    int r = LY_E_CONFIG;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    memset(&ld, 0, sizeof(ld));
    ld.path = name;
    ld.err = err;
    ld.errlen = errlen;
    ld.seen_key = seen_key;
    ld.seen_val = seen_val;

    if (len > CONFIG_MAX_BYTES) {
        fail_at(&ld, 1, 1, "cannot read file: larger than %d bytes", CONFIG_MAX_BYTES);
        goto out;
    }
    ld.buf = (const unsigned char *)buf;
    ld.buflen = len;
    if (parse_document(&ld, &root) != 0)
        goto out;

    cfg = ly_xcalloc(1, sizeof(*cfg));
    cfg->path = ly_xstrdup(name);
    ld.cfg = cfg;
    if (walk_map(&ld, root, "") != 0 || apply_defaults(&ld) != 0 || check_relations(&ld) != 0 ||
        read_secrets(&ld) != 0)
        goto out;

    *out = cfg;
    cfg = NULL;
    r = LY_OK;
out:
    ly_config_free(cfg);
    node_free(root);
    return r;
}

void ly_config_free(struct ly_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key *k = &keys[i];
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
        }
    }
    free(cfg->path);
    free(cfg);
}

/*
 * The length of the UTF-8 sequence at s that a YAML reader would not take
 * back raw (YAML 1.1 §5.1, §5.4: C1 controls, the BOM, U+FFFE/U+FFFF are not
 * printable; NEL, LS and PS are line breaks), with its code point; else 0.
 */
static size_t unprintable_utf8(const unsigned char *s, unsigned *cp)
{
    if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
        *cp = s[1];
        return 2;
    }
    if ((s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) ||
        (s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf) ||
        (s[0] == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf))) {
        *cp = (unsigned)(s[0] & 0x0f) << 12 | (unsigned)(s[1] & 0x3f) << 6 | (s[2] & 0x3fu);
        return 3;
    }
    return 0;
}

/* A YAML double-quoted scalar that reads back as the same string. */
static void dump_string(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        unsigned cp = 0;
        size_t n;
        if (c == '"' || c == '\\') {
            fprintf(fp, "\\%c", c);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(fp, "\\x%02x", c);
        } else if (c >= 0x80 && (n = unprintable_utf8((const unsigned char *)s, &cp)) > 0) {
            fprintf(fp, "\\u%04X", cp);
            s += n - 1;
        } else {
            fputc(c, fp);
        }
    }
    fputc('"', fp);
}

static void dump_value(FILE *fp, const struct ly_config *cfg, const struct key *k)
{
    const void *field = (const char *)cfg + k->off;
    const size_t *count = (const size_t *)((const char *)cfg + k->aux_off);
    char buf[INET6_ADDRSTRLEN + 8];

    switch (k->type) {
    case K_STRING:
        dump_string(fp, *(char *const *)field);
        break;
    case K_BOOL:
        fputs(*(const bool *)field ? "true" : "false", fp);
        break;
    case K_UINT:
        fprintf(fp, "%u", *(const unsigned *)field);
        break;
    case K_U64:
        fprintf(fp, "%" PRIu64, *(const uint64_t *)field);
        break;
    case K_DURATION:
        format_duration(*(const int64_t *)field, buf, sizeof(buf));
        fputs(buf, fp);
        break;
    case K_ENUM: {
        int v = *(const int *)field;
        const char *name = "unknown";
        for (int i = 0; k->names[i] != NULL; i++)
            if (i == v)
                name = k->names[i];
        fputs(name, fp);
        break;
    }
    case K_STRLIST: {
        char *const *list = *(char **const *)field;
        fputc('[', fp);
        for (size_t i = 0; i < *count; i++) {
            if (i > 0)
                fputs(", ", fp);
            dump_string(fp, list[i]);
        }
        fputc(']', fp);
        break;
    }
    case K_CIDRLIST: {
        const struct ly_cidr *list = *(struct ly_cidr *const *)field;
        fputc('[', fp);
        for (size_t i = 0; i < *count; i++) {
            if (inet_ntop(list[i].family, list[i].addr, buf, sizeof(buf)) == NULL)
                snprintf(buf, sizeof(buf), "?");
            fprintf(fp, "%s\"%s/%u\"", i ? ", " : "", buf, list[i].prefix);
        }
        fputc(']', fp);
        break;
    }
    }
}

/* Section headers are printed when a key's path leaves the previous key's sections. */
void ly_config_dump(const struct ly_config *cfg, FILE *fp)
{
    const char *prev = "";

    fputs("# lanyard effective configuration, read from ", fp);
    for (const char *p = cfg->path ? cfg->path : "-"; *p; p++)
        fputc((unsigned char)*p < 0x20 ? '?' : *p, fp);
    fputs("\n", fp);
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *path = keys[i].path, *leaf = strrchr(path, '.') + 1;
        size_t common = 0, depth = 0;

        /* the length of the section prefix this key shares with the previous one */
        for (size_t j = 0; path[j] && path[j] == prev[j]; j++)
            if (path[j] == '.')
                common = j + 1;
        for (size_t j = 0; j < common; j++)
            depth += path[j] == '.';
        for (const char *s = path + common; s < leaf; depth++) {
            const char *dot = strchr(s, '.');
            fprintf(fp, "%*s%.*s:\n", (int)(depth * 2), "", (int)(dot - s), s);
            s = dot + 1;
        }
        fprintf(fp, "%*s%s: ", (int)(depth * 2), "", leaf);
        dump_value(fp, cfg, &keys[i]);
        fputc('\n', fp);
        prev = path;
    }
}
