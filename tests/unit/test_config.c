/*
 * Unit tests of src/config: the key table, every error kind with its exact
 * LINE:COL, durations, CIDRs, the *_file secret, and the dump round trip.
 * Cases are tables of {description, YAML text, expected error}; a failing
 * case prints its description.
 */
#include "build-config.h"
#include "banned.h"

#include "lanyard/config.h"

#include "lanyard/err.h"
#include "lanyard/http.h"
#include "lanyard/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef LY_TEST_SRCDIR
#define LY_TEST_SRCDIR "."
#endif

/* No password file: the defaulted /etc/lanyard/db-password need not exist here. */
#define NOPW "database: {password_file: \"\"}\n"

static char tmpdir[64];
static char *made[64];
static size_t n_made;

/* ---------------------------------------------------------------------------------------------
 * Helpers
 */

static const char *tmp_path(const char *name)
{
    static char buf[4][256];
    static unsigned next;
    char *p = buf[next++ % 4];

    snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
    return p;
}

static void remember(const char *path)
{
    for (size_t i = 0; i < n_made; i++)
        if (strcmp(made[i], path) == 0)
            return;
    if (n_made < sizeof(made) / sizeof(made[0]))
        made[n_made++] = strdup(path);
}

static const char *write_file(const char *name, const char *data, size_t len)
{
    const char *path = tmp_path(name);
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    remember(path);
    return path;
}

static const char *write_text(const char *name, const char *text)
{
    return write_file(name, text, strlen(text));
}

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* Replace every "from" in s by "to"; the result is malloc'd. */
static char *replace(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    const char *p;
    char *out, *o;

    for (p = s; (p = strstr(p, from)) != NULL; p += fl)
        n++;
    out = malloc(strlen(s) + n * tl + 1);
    assert_non_null(out);
    o = out;
    for (p = s;;) {
        const char *q = strstr(p, from);
        size_t k = q ? (size_t)(q - p) : strlen(p);
        memcpy(o, p, k);
        o += k;
        if (q == NULL)
            break;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    *o = '\0';
    return out;
}

static char *dump_to_string(const struct ly_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    assert_non_null(fp);
    ly_config_dump(cfg, fp);
    assert_int_equal(fclose(fp), 0);
    return buf;
}

/* The dump without its first line, which names the file read. */
static const char *dump_body(const char *dump)
{
    const char *nl = strchr(dump, '\n');
    return nl ? nl + 1 : dump;
}

static int load_text(const char *text, struct ly_config **cfg, char *err, size_t errlen)
{
    const char *path = write_text("case.yaml", text);
    return ly_config_load(path, cfg, err, errlen);
}

/*
 * want is "LINE:COL: substring". Returns true when err is
 * "<path>:LINE:COL: ..." and contains the substring.
 */
static bool err_matches(const char *err, const char *path, const char *want)
{
    const char *sub = strstr(want, ": ");
    size_t plen = strlen(path), poslen;

    if (sub == NULL || strncmp(err, path, plen) != 0 || err[plen] != ':')
        return false;
    poslen = (size_t)(sub - want) + 2;
    if (strncmp(err + plen + 1, want, poslen) != 0)
        return false;
    return strstr(err + plen + 1 + poslen, sub + 2) != NULL;
}

struct load_case {
    const char *desc;
    const char *yaml;
    const char *want; /* NULL: loads; else "LINE:COL: substring of the message" */
};

static int run_load_cases(const struct load_case *cases, size_t n)
{
    int failures = 0;

    for (size_t i = 0; i < n; i++) {
        const struct load_case *c = &cases[i];
        struct ly_config *cfg = NULL;
        char err[512] = "";
        const char *path = write_text("case.yaml", c->yaml);
        int r = ly_config_load(path, &cfg, err, sizeof(err));

        if (c->want == NULL && r != LY_OK) {
            print_error("FAIL %s: expected success, got: %s\n", c->desc, err);
            failures++;
        } else if (c->want != NULL && r != LY_E_CONFIG) {
            print_error("FAIL %s: expected error \"%s\", got r=%d\n", c->desc, c->want, r);
            failures++;
        } else if (c->want != NULL && !err_matches(err, path, c->want)) {
            print_error("FAIL %s:\n  want %s\n  got  %s\n", c->desc, c->want, err);
            failures++;
        } else if (c->want != NULL && cfg != NULL) {
            print_error("FAIL %s: *out was written on failure\n", c->desc);
            failures++;
        }
        ly_config_free(cfg);
    }
    return failures;
}

/* ---------------------------------------------------------------------------------------------
 * Defaults
 */

static void test_defaults(void **state)
{
    struct ly_config *cfg = NULL;
    char err[512];

    (void)state;
    assert_int_equal(load_text(NOPW, &cfg, err, sizeof(err)), LY_OK);
    assert_string_equal(cfg->server.public_url, "http://127.0.0.1:8080");
    assert_int_equal(cfg->server.max_body, 65536);
    assert_int_equal(cfg->server.n_trusted_proxies, 0);
    /* SPEC §2: metrics_from defaults to the loopback addresses, IPv4 and IPv6 */
    assert_int_equal(cfg->server.n_metrics_from, 2);
    assert_int_equal(cfg->server.metrics_from[0].family, AF_INET);
    assert_int_equal(cfg->server.metrics_from[0].prefix, 32);
    assert_memory_equal(cfg->server.metrics_from[0].addr, "\x7f\0\0\x01", 4);
    assert_int_equal(cfg->server.metrics_from[1].family, AF_INET6);
    assert_int_equal(cfg->server.metrics_from[1].prefix, 128);
    assert_int_equal(cfg->server.metrics_from[1].addr[15], 1);
    assert_true(ly_addr_in_cidrs(cfg->server.metrics_from, 2, "127.0.0.1"));
    assert_true(ly_addr_in_cidrs(cfg->server.metrics_from, 2, "::1"));
    assert_false(ly_addr_in_cidrs(cfg->server.metrics_from, 2, "127.0.0.2"));
    assert_false(ly_addr_in_cidrs(cfg->server.metrics_from, 2, "10.0.0.1"));
    assert_false(ly_addr_in_cidrs(cfg->server.metrics_from, 2, "not-an-address"));
    assert_string_equal(cfg->database.host, "127.0.0.1");
    assert_int_equal(cfg->database.n_hosts, 0);
    assert_null(cfg->database.hosts);
    assert_int_equal(cfg->database.port, 3306);
    assert_string_equal(cfg->database.socket, "");
    assert_string_equal(cfg->database.name, "lanyard");
    assert_string_equal(cfg->database.user, "lanyard");
    assert_string_equal(cfg->database.password_file, "");
    assert_null(cfg->database.password_secret);
    assert_false(cfg->database.tls);
    assert_string_equal(cfg->database.ca_file, "");
    assert_int_equal(cfg->database.connect_timeout, 5);
    assert_int_equal(cfg->tokens.mode, LY_TOKENS_JWT);
    assert_string_equal(cfg->tokens.issuer, "http://127.0.0.1:8080");
    assert_string_equal(cfg->tokens.audience, "lanyard");
    assert_int_equal(cfg->tokens.access_ttl, 15 * 60);
    assert_int_equal(cfg->tokens.refresh_ttl, 30 * 86400);
    assert_int_equal(cfg->tokens.leeway, 30);
    assert_int_equal(cfg->tokens.jwt.algorithm, LY_ALG_EDDSA);
    assert_string_equal(cfg->tokens.jwt.key_file, "/etc/lanyard/jwt.pem");
    assert_int_equal(cfg->tokens.jwt.n_previous_key_files, 0);
    assert_false(cfg->tokens.jwt.check_revocation);
    assert_string_equal(cfg->api_keys.prefix, "lyk");
    assert_int_equal(cfg->api_keys.default_ttl, 365 * 86400);
    assert_int_equal(cfg->api_keys.max_ttl, 730 * 86400);
    assert_false(cfg->api_keys.allow_no_expiry);
    assert_int_equal(cfg->api_keys.max_per_account, 10);
    assert_string_equal(cfg->accounts.service_account_domain, "service.lanyard.local");
    assert_false(cfg->accounts.self_signup);
    assert_true(cfg->accounts.users_create_orgs);
    assert_int_equal(cfg->security.password_min_length, 12);
    assert_int_equal(cfg->security.scrypt_n, 32768);
    assert_int_equal(cfg->security.scrypt_r, 8);
    assert_int_equal(cfg->security.scrypt_p, 1);
    assert_int_equal(cfg->security.signin_max_failures, 5);
    assert_int_equal(cfg->security.signin_window, 15 * 60);
    assert_int_equal(cfg->security.auth_cache_ttl, 0);
    assert_string_equal(cfg->security.secrets_key_file, "");
    assert_int_equal(cfg->log.level, LY_LOG_INFO);
    assert_int_equal(cfg->log.format, LY_LOG_TEXT);
    ly_config_free(cfg);
}

/* Values other than the defaults land in the right fields. */
static void test_values(void **state)
{
    static const char yaml[] = "server:\n"
                               "  public_url: https://id.example.com/auth///\n"
                               "  max_body: 1024\n"
                               "  trusted_proxies: [10.0.0.0/8, \"::1\", 192.168.1.7, fd00::/8]\n"
                               "database:\n"
                               "  host: \"\"\n"
                               "  socket: /run/mysqld/mysqld.sock\n"
                               "  port: 3307\n"
                               "  name: \"1234\"\n"
                               "  user: 1234\n"
                               "  password_file: ''\n"
                               "  tls: true\n"
                               "  ca_file: /etc/ssl/ca.pem\n"
                               "  connect_timeout: 10\n"
                               "tokens:\n"
                               "  mode: opaque\n"
                               "  issuer: https://id.example.com\n"
                               "  audience: platform\n"
                               "  access_ttl: \"1h\"\n"
                               "  refresh_ttl: 90s\n"
                               "  leeway: 0s\n"
                               "  jwt:\n"
                               "    algorithm: HS256\n"
                               "    key_file: \"\"\n"
                               "    previous_key_files:\n"
                               "      - /k/old1.pem\n"
                               "      - /k/old2.pem\n"
                               "    check_revocation: True\n"
                               "api_keys: {prefix: ab12, default_ttl: 1d, max_ttl: 2d,\n"
                               "           allow_no_expiry: TRUE, max_per_account: 3}\n"
                               "accounts:\n"
                               "  service_account_domain: sa.example-corp.com\n"
                               "  self_signup: true\n"
                               "  users_create_orgs: false\n"
                               "security:\n"
                               "  password_min_length: 8\n"
                               "  scrypt:\n"
                               "    N: 1024\n"
                               "    r: 1\n"
                               "    p: 2\n"
                               "  signin_max_failures: 3\n"
                               "  signin_window: 2h\n"
                               "  auth_cache_ttl: 1m\n"
                               "  secrets_key_file: /etc/lanyard/secrets.key\n"
                               "log: {level: debug, format: json}\n";
    struct ly_config *cfg = NULL;
    char err[512];
    static const unsigned char v6_loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

    (void)state;
    if (load_text(yaml, &cfg, err, sizeof(err)) != LY_OK)
        fail_msg("load: %s", err);
    assert_string_equal(cfg->server.public_url, "https://id.example.com/auth");
    assert_int_equal(cfg->server.max_body, 1024);
    assert_int_equal(cfg->server.n_trusted_proxies, 4);
    assert_int_equal(cfg->server.trusted_proxies[0].family, AF_INET);
    assert_int_equal(cfg->server.trusted_proxies[0].prefix, 8);
    assert_memory_equal(cfg->server.trusted_proxies[0].addr, "\x0a\0\0\0", 4);
    assert_int_equal(cfg->server.trusted_proxies[1].family, AF_INET6);
    assert_int_equal(cfg->server.trusted_proxies[1].prefix, 128);
    assert_memory_equal(cfg->server.trusted_proxies[1].addr, v6_loop, 16);
    assert_int_equal(cfg->server.trusted_proxies[2].prefix, 32);
    assert_memory_equal(cfg->server.trusted_proxies[2].addr, "\xc0\xa8\x01\x07", 4);
    assert_int_equal(cfg->server.trusted_proxies[3].family, AF_INET6);
    assert_int_equal(cfg->server.trusted_proxies[3].prefix, 8);
    assert_int_equal(cfg->server.trusted_proxies[3].addr[0], 0xfd);
    assert_string_equal(cfg->database.host, "");
    assert_string_equal(cfg->database.socket, "/run/mysqld/mysqld.sock");
    assert_int_equal(cfg->database.port, 3307);
    assert_string_equal(cfg->database.name, "1234");
    assert_string_equal(cfg->database.user, "1234");
    assert_null(cfg->database.password_secret);
    assert_true(cfg->database.tls);
    assert_string_equal(cfg->database.ca_file, "/etc/ssl/ca.pem");
    assert_int_equal(cfg->database.connect_timeout, 10);
    assert_int_equal(cfg->tokens.mode, LY_TOKENS_OPAQUE);
    assert_string_equal(cfg->tokens.issuer, "https://id.example.com");
    assert_string_equal(cfg->tokens.audience, "platform");
    assert_int_equal(cfg->tokens.access_ttl, 3600);
    assert_int_equal(cfg->tokens.refresh_ttl, 90);
    assert_int_equal(cfg->tokens.leeway, 0);
    assert_int_equal(cfg->tokens.jwt.algorithm, LY_ALG_HS256);
    assert_string_equal(cfg->tokens.jwt.key_file, "");
    assert_int_equal(cfg->tokens.jwt.n_previous_key_files, 2);
    assert_string_equal(cfg->tokens.jwt.previous_key_files[0], "/k/old1.pem");
    assert_string_equal(cfg->tokens.jwt.previous_key_files[1], "/k/old2.pem");
    assert_true(cfg->tokens.jwt.check_revocation);
    assert_string_equal(cfg->api_keys.prefix, "ab12");
    assert_int_equal(cfg->api_keys.default_ttl, 86400);
    assert_int_equal(cfg->api_keys.max_ttl, 2 * 86400);
    assert_true(cfg->api_keys.allow_no_expiry);
    assert_int_equal(cfg->api_keys.max_per_account, 3);
    assert_string_equal(cfg->accounts.service_account_domain, "sa.example-corp.com");
    assert_true(cfg->accounts.self_signup);
    assert_false(cfg->accounts.users_create_orgs);
    assert_int_equal(cfg->security.password_min_length, 8);
    assert_int_equal(cfg->security.scrypt_n, 1024);
    assert_int_equal(cfg->security.scrypt_r, 1);
    assert_int_equal(cfg->security.scrypt_p, 2);
    assert_int_equal(cfg->security.signin_max_failures, 3);
    assert_int_equal(cfg->security.signin_window, 7200);
    assert_int_equal(cfg->security.auth_cache_ttl, 60);
    assert_string_equal(cfg->security.secrets_key_file, "/etc/lanyard/secrets.key");
    assert_int_equal(cfg->log.level, LY_LOG_DEBUG);
    assert_int_equal(cfg->log.format, LY_LOG_JSON);
    ly_config_free(cfg);
}

/* ---------------------------------------------------------------------------------------------
 * Loads that succeed, and every kind of error at its exact place
 */

static const struct load_case ok_cases[] = {
    {"sections may be empty (null)", NOPW "server:\ntokens:\n  jwt:\n", NULL},
    {"sections may be empty flow mappings", NOPW "server: {}\nsecurity: {scrypt: {}}\n", NULL},
    {"explicit document markers", "---\n" NOPW "...\n", NULL},
    {"comments and blank lines", "# c\n\n" NOPW "# end\n", NULL},
    {"null list is empty", NOPW "server: {trusted_proxies: ~}\n", NULL},
    {"metrics_from: an empty list lets nobody read", NOPW "server: {metrics_from: []}\n", NULL},
    {"metrics_from: networks", NOPW "server: {metrics_from: [10.0.0.0/8, 'fd00::/8']}\n", NULL},
    {"integer seconds as a duration", NOPW "tokens: {access_ttl: 900, leeway: 0}\n", NULL},
    {"quoted duration", NOPW "tokens: {access_ttl: '15m'}\n", NULL},
    {"opaque mode needs no key file", NOPW "tokens: {mode: opaque, jwt: {key_file: ''}}\n", NULL},
    {"quoted keys", NOPW "\"server\": {'max_body': 1}\n", NULL},
    {"socket without host", "database: {password_file: '', host: '', socket: /s}\n", NULL},
    {"max durations", NOPW "api_keys: {default_ttl: 36500d, max_ttl: 36500d}\n", NULL},
    {"default_ttl equal to max_ttl", NOPW "api_keys: {default_ttl: 1d, max_ttl: 1d}\n", NULL},
    {"bare IPv6 and v4-mapped", NOPW "server: {trusted_proxies: ['::', '::ffff:10.0.0.0/104']}\n",
     NULL},
    {"prefix of 16", NOPW "api_keys: {prefix: abcdefghij012345}\n", NULL},
    {"port 1", "database: {password_file: '', port: 1}\n", NULL},
    {"port 65535", "database: {password_file: '', port: 65535}\n", NULL},
    {"YAML 1.2 booleans", NOPW "accounts: {self_signup: False, users_create_orgs: TRUE}\n", NULL},
};

static void test_ok_cases(void **state)
{
    (void)state;
    assert_int_equal(run_load_cases(ok_cases, sizeof(ok_cases) / sizeof(ok_cases[0])), 0);
}

static const struct load_case err_cases[] = {
    /* structure */
    {"empty file", "", "1:1: the file is empty"},
    {"only comments", "# nothing\n\n", "1:1: the file is empty"},
    {"empty document", "---\n", "1:1: the document is empty"},
    {"top level list", "- a\n- b\n", "1:1: the top level must be a mapping, not a list"},
    {"top level scalar", "hello\n", "1:1: the top level must be a mapping, not a scalar"},
    {"two documents", NOPW "---\nserver: {}\n", "2:1: only one YAML document is allowed"},
    {"alias", "server: &s {}\ntokens: *s\n", "2:9: YAML aliases are not supported"},
    {"too deep", "server: [[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]\n", "1:24: nesting deeper"},
    {"complex key", "? [a]\n: 1\n", "1:3: keys must be scalars, not a list"},

    /* YAML syntax errors, at libyaml's problem mark */
    {"unclosed flow sequence", "server:\n  trusted_proxies: [a\n",
     "3:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence)"},
    {"bad indentation", "server:\n  max_body: 1\n port: 2\n", "3:2: did not find expected key"},
    {"tab indentation", "server:\n\tmax_body: 1\n",
     "2:1: invalid YAML: found character that cannot start any token"},
    {"unterminated quote", "server:\n  public_url: \"http://x\n",
     "3:1: invalid YAML: found unexpected end of stream (while scanning a quoted scalar)"},
    {"mapping value in a plain scalar", "server:\n  max_body: 1\n    x: 2\n",
     "3:6: invalid YAML: mapping values are not allowed in this context"},
    {"invalid UTF-8", "server:\n  public_url: \"ab\xff\"\n",
     "2:18: invalid YAML: invalid leading UTF-8 octet"},

    /* unknown and duplicate keys */
    {"unknown top-level key", "servr:\n  max_body: 1\n", "1:1: unknown key 'servr'"},
    {"unknown nested key", "server:\n  max_bdy: 1\n", "2:3: unknown key 'server.max_bdy'"},
    {"unknown key in scrypt", "security:\n  scrypt: {N: 1024, n: 2}\n",
     "2:21: unknown key 'security.scrypt.n'"},
    {"dotted key is not a path", "server.max_body: 5\n", "1:1: unknown key 'server.max_body'"},
    {"dotted nested key", "tokens:\n  jwt.algorithm: HS256\n",
     "2:3: unknown key 'tokens.jwt.algorithm'"},
    {"control characters in a key are escaped", "server: {\"a\\tb\": 1}\n",
     "1:10: unknown key 'server.a\\x09b'"},
    {"empty key", "\"\": 1\n", "1:1: unknown key ''"},
    {"case matters", "Server: {}\n", "1:1: unknown key 'Server'"},
    {"section key used as leaf", "tokens:\n  jwt: EdDSA\n",
     "2:8: 'tokens.jwt' must be a mapping, not a scalar"},
    {"duplicate leaf", "server:\n  max_body: 1\n  max_body: 2\n",
     "3:3: duplicate key 'server.max_body' (first at 2:3)"},
    {"duplicate section", "log: {}\nserver: {}\nlog: {}\n",
     "3:1: duplicate key 'log' (first at 1:1)"},
    {"section not a mapping", "server: 5\n", "1:9: 'server' must be a mapping, not a scalar"},
    {"section is a list", "database:\n  - a\n", "2:3: 'database' must be a mapping, not a list"},

    /* integers */
    {"int: word", "server:\n  max_body: big\n",
     "2:13: 'server.max_body' must be a decimal integer"},
    {"int: quoted", "server:\n  max_body: \"1024\"\n", "2:13: must be a decimal integer"},
    {"int: hex", "database: {port: 0x10}\n", "1:18: 'database.port' must be a decimal integer"},
    {"int: float", "database: {port: 33.06}\n", "1:18: must be a decimal integer"},
    {"int: exponent", "server: {max_body: 1e3}\n", "1:20: must be a decimal integer"},
    {"int: leading zero", "database: {port: 0330}\n", "1:18: must be a decimal integer"},
    {"int: plus sign", "database: {port: +3306}\n", "1:18: must be a decimal integer"},
    {"int: null", "database: {port: }\n", "1:18: must be a decimal integer"},
    {"int: list", "database: {port: [1]}\n", "1:18: must be a decimal integer"},
    {"int: negative", "database: {port: -1}\n",
     "1:18: 'database.port' must be between 1 and 65535"},
    {"int: zero", "database: {port: 0}\n", "1:18: must be between 1 and 65535"},
    {"int: too big", "database: {port: 65536}\n", "1:18: must be between 1 and 65535"},
    {"int: overflow", "server: {max_body: 99999999999999999999999}\n",
     "1:20: 'server.max_body' must be between 1 and 1073741824"},
    {"max_per_account 0", "api_keys:\n  max_per_account: 0\n", "2:20: must be between 1 and 10000"},

    /* booleans */
    {"bool: yes", "database: {tls: yes}\n", "1:17: 'database.tls' must be true or false"},
    {"bool: quoted", "database: {tls: \"true\"}\n", "1:17: must be true or false"},
    {"bool: 1", "accounts: {self_signup: 1}\n",
     "1:25: 'accounts.self_signup' must be true or false"},
    {"bool: mapping", "accounts: {self_signup: {}}\n", "1:25: must be true or false"},

    /* strings */
    {"string: mapping", "database: {host: {a: b}}\n",
     "1:18: 'database.host' must be a string or a list of hosts, not a mapping"},
    {"string: null", "database:\n  host:\n", "2:8: 'database.host' must be a string, not empty"},
    {"string: boolean", "tokens: {audience: true}\n",
     "1:20: 'tokens.audience' must be a string, not a boolean"},
    {"string: NUL", "database: {host: \"a\\0b\"}\n", "1:18: must not contain a NUL character"},
    {"string: must not be empty", "tokens: {issuer: \"\"}\n",
     "1:18: 'tokens.issuer' must not be empty"},
    {"database.name empty", "database: {name: ''}\n", "1:18: 'database.name' must not be empty"},

    /* durations */
    {"duration: words", "tokens:\n  access_ttl: 15 minutes\n",
     "2:15: 'tokens.access_ttl' must be a duration such as 90s, 15m, 12h or 30d"},
    {"duration: negative", "tokens: {leeway: -5s}\n", "1:18: 'tokens.leeway' must be a duration"},
    {"duration: uppercase", "tokens: {access_ttl: 15M}\n", "1:22: must be a duration"},
    {"duration: compound", "tokens: {access_ttl: 1h30m}\n", "1:22: must be a duration"},
    {"duration: empty string", "tokens: {access_ttl: ''}\n", "1:22: must be a duration"},
    {"duration: null", "tokens: {access_ttl: }\n", "1:22: must be a duration"},
    {"duration: overflow", "tokens: {access_ttl: 9999999999999999999d}\n",
     "1:22: must be a duration"},
    {"duration: fraction", "tokens: {access_ttl: 1.5h}\n", "1:22: must be a duration"},
    {"duration: zero access_ttl", "tokens: {access_ttl: 0s}\n",
     "1:22: 'tokens.access_ttl' must be between 1s and 30d"},
    {"duration: leeway too big", "tokens: {leeway: 2h}\n",
     "1:18: 'tokens.leeway' must be between 0s and 1h"},
    {"duration: cache ttl too big", "security: {auth_cache_ttl: 3601}\n",
     "1:28: 'security.auth_cache_ttl' must be between 0s and 1h"},
    {"duration: connect_timeout 0", "database: {connect_timeout: 0s}\n",
     "1:29: must be between 1s and 1h"},
    {"duration: list", "security: {signin_window: [1]}\n", "1:27: must be a duration"},

    /* enums */
    {"enum: mode", "tokens:\n  mode: jwtt\n",
     "2:9: 'tokens.mode' must be one of jwt, opaque, not 'jwtt'"},
    {"enum: algorithm case", "tokens: {jwt: {algorithm: eddsa}}\n",
     "1:27: 'tokens.jwt.algorithm' must be one of HS256, RS256, ES256, EdDSA, not 'eddsa'"},
    {"enum: algorithm none", "tokens: {jwt: {algorithm: none}}\n", "1:27: not 'none'"},
    {"enum: algorithm in opaque mode", "tokens: {mode: opaque, jwt: {algorithm: HS512}}\n",
     "1:41: 'tokens.jwt.algorithm' must be one of"},
    {"enum: jwt key_file type in opaque mode", "tokens: {mode: opaque, jwt: {key_file: [a]}}\n",
     "1:40: 'tokens.jwt.key_file' must be a string, not a list"},
    {"enum: log level", "log: {level: verbose}\n",
     "1:14: 'log.level' must be one of error, warn, info, debug, not 'verbose'"},
    {"enum: log format", "log: {format: xml}\n",
     "1:15: 'log.format' must be one of text, json, not 'xml'"},
    {"enum: mapping", "log: {format: {a: b}}\n", "1:15: must be one of text, json, not a mapping"},
    {"enum: control chars shown escaped", "log: {format: \"x\\ty\"}\n", "1:15: not 'x\\x09y'"},

    /* lists and CIDRs */
    {"metrics_from: not a list", "server: {metrics_from: 127.0.0.1/32}\n",
     "1:24: 'server.metrics_from' must be a list, not a scalar"},
    {"metrics_from: host bits", "server:\n  metrics_from: [10.1.2.3/8]\n",
     "2:18: 'server.metrics_from': '10.1.2.3/8' has bits set after the prefix length"},
    {"metrics_from: junk", "server: {metrics_from: [localhost]}\n",
     "1:25: 'server.metrics_from': 'localhost' is not a CIDR"},
    {"metrics_from: misspelt", "server: {metric_from: []}\n",
     "1:10: unknown key 'server.metric_from'"},
    {"cidr: not a list", "server: {trusted_proxies: 10.0.0.0/8}\n",
     "1:27: 'server.trusted_proxies' must be a list, not a scalar"},
    {"cidr: prefix too long", "server:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n",
     "4:7: 'server.trusted_proxies': '10.0.0.0/33' is not a CIDR"},
    {"cidr: host bits", "server: {trusted_proxies: [10.0.0.0/8, 10.1.2.3/8]}\n",
     "1:40: '10.1.2.3/8' has bits set after the prefix length"},
    {"cidr: v6 host bits", "server: {trusted_proxies: ['fd00::1/64']}\n",
     "1:28: 'fd00::1/64' has bits set after the prefix length"},
    {"cidr: v6 prefix too long", "server: {trusted_proxies: ['::/129']}\n", "1:28: is not a CIDR"},
    {"cidr: junk", "server: {trusted_proxies: [localhost]}\n", "1:28: 'localhost' is not a CIDR"},
    {"cidr: short v4", "server: {trusted_proxies: [10.1/16]}\n", "1:28: is not a CIDR"},
    {"cidr: leading zero prefix", "server: {trusted_proxies: [10.0.0.0/08]}\n",
     "1:28: is not a CIDR"},
    {"cidr: empty prefix", "server: {trusted_proxies: [10.0.0.0/]}\n", "1:28: is not a CIDR"},
    {"cidr: empty", "server: {trusted_proxies: ['']}\n", "1:28: is not a CIDR"},
    {"cidr: nested list", "server: {trusted_proxies: [[10.0.0.0/8]]}\n",
     "1:28: 'server.trusted_proxies' must be a string, not a list"},
    {"strlist: not a list", "tokens: {jwt: {previous_key_files: /a.pem}}\n",
     "1:36: 'tokens.jwt.previous_key_files' must be a list, not a scalar"},
    {"strlist: empty entry", "tokens: {jwt: {previous_key_files: [/a.pem, '']}}\n",
     "1:45: 'tokens.jwt.previous_key_files' entries must not be empty"},

    /* checks of single values */
    {"scrypt N not a power of two", "security:\n  scrypt: {N: 1000, r: 8, p: 1}\n",
     "2:15: 'security.scrypt.N' must be a power of two"},
    {"scrypt N 1", "security: {scrypt: {N: 1}}\n", "1:24: 'security.scrypt.N' must be between 2"},
    {"scrypt r 0", "security: {scrypt: {r: 0}}\n",
     "1:24: 'security.scrypt.r' must be between 1 and 64"},
    {"scrypt as a list", "security: {scrypt: [1, 2]}\n",
     "1:20: 'security.scrypt' must be a mapping"},
    {"prefix uppercase", "api_keys: {prefix: LYK}\n",
     "1:20: 'api_keys.prefix' must be 2 to 16 characters from [a-z0-9]"},
    {"prefix one char", "api_keys: {prefix: l}\n", "1:20: must be 2 to 16 characters"},
    {"prefix underscore", "api_keys: {prefix: ly_k}\n", "1:20: must be 2 to 16 characters"},
    {"prefix 17 chars", "api_keys: {prefix: abcdefghij0123456}\n", "1:20: must be 2 to 16"},
    {"url: ftp", "server: {public_url: ftp://x}\n",
     "1:22: 'server.public_url' must be an http:// or https:// URL"},
    {"url: no host", "server: {public_url: 'http://'}\n", "1:22: must be an http:// or https://"},
    {"url: query", "server: {public_url: 'http://x/?a=1'}\n", "1:22: must be an http://"},
    {"url: space", "server: {public_url: 'http://x y'}\n", "1:22: must be an http://"},
    {"url: uppercase scheme", "server: {public_url: 'HTTP://x'}\n", "1:22: must be an http://"},
    {"domain: uppercase", "accounts: {service_account_domain: Svc.Local}\n",
     "1:36: 'accounts.service_account_domain' must be a lowercase DNS name"},
    {"domain: empty label", "accounts: {service_account_domain: a..b}\n",
     "1:36: must be a lowercase DNS name"},
    {"domain: leading hyphen", "accounts: {service_account_domain: -a.b}\n",
     "1:36: must be a lowercase DNS name"},
    {"domain: trailing dot", "accounts: {service_account_domain: a.b.}\n",
     "1:36: must be a lowercase DNS name"},

    /* relations between keys */
    {"default_ttl above max_ttl", "api_keys:\n  max_ttl: 30d\n  default_ttl: 31d\n",
     "3:16: 'api_keys.default_ttl' (31d) must not exceed 'api_keys.max_ttl' (30d)"},
    {"default_ttl default above max_ttl", "api_keys:\n  max_ttl: 30d\n",
     "2:12: 'api_keys.default_ttl' (365d) must not exceed 'api_keys.max_ttl' (30d)"},
    {"no host and no socket", "database:\n  host: ''\n",
     "2:9: 'database.host' must not be empty when 'database.socket' is empty"},
    {"jwt mode without key file", "tokens:\n  jwt:\n    key_file: ''\n",
     "3:15: 'tokens.jwt.key_file' must be set when 'tokens.mode' is jwt"},
    {"scrypt memory", "security: {scrypt: {N: 16777216, r: 64}}\n",
     "1:24: 'security.scrypt' needs 128*N*r bytes of memory"},

    /* the first error in document order is the one reported */
    {"first error wins", "server: {max_body: x}\nlog: {level: y}\n", "1:20: 'server.max_body'"},
};

static void test_err_cases(void **state)
{
    (void)state;
    assert_int_equal(run_load_cases(err_cases, sizeof(err_cases) / sizeof(err_cases[0])), 0);
}

static void test_unreadable_config(void **state)
{
    struct ly_config *cfg = NULL;
    char err[512];
    const char *missing = tmp_path("does-not-exist.yaml");

    (void)state;
    assert_int_equal(ly_config_load(missing, &cfg, err, sizeof(err)), LY_E_CONFIG);
    assert_null(cfg);
    assert_true(strncmp(err, missing, strlen(missing)) == 0);
    assert_string_equal(err + strlen(missing), ":1:1: cannot read file: No such file or directory");

    assert_int_equal(ly_config_load(tmpdir, &cfg, err, sizeof(err)), LY_E_CONFIG);
    assert_true(strncmp(err, tmpdir, strlen(tmpdir)) == 0);
    assert_string_equal(err + strlen(tmpdir), ":1:1: cannot read file: not a regular file");

    /* a tiny error buffer is truncated, not overrun; a NULL one is allowed */
    {
        char small[8];
        assert_int_equal(ly_config_load(missing, &cfg, small, sizeof(small)), LY_E_CONFIG);
        assert_int_equal(strlen(small), sizeof(small) - 1);
        assert_int_equal(ly_config_load(missing, &cfg, NULL, 0), LY_E_CONFIG);
    }
}

/* ---------------------------------------------------------------------------------------------
 * security.signin_address_max_failures and security.scrypt_concurrency
 */

static void test_limits(void **state)
{
    static const struct load_case cases[] = {
        {"address limit 0: no limit", NOPW "security: {signin_address_max_failures: 0}\n", NULL},
        {"address limit max", NOPW "security: {signin_address_max_failures: 1000000}\n", NULL},
        {"concurrency 0: online CPUs", NOPW "security: {scrypt_concurrency: 0}\n", NULL},
        {"concurrency max", NOPW "security: {scrypt_concurrency: 1024}\n", NULL},
        {"address limit too big", "security: {signin_address_max_failures: 1000001}\n",
         "1:41: 'security.signin_address_max_failures' must be between 0 and 1000000"},
        {"address limit negative", "security: {signin_address_max_failures: -1}\n",
         "1:41: 'security.signin_address_max_failures' must be between 0 and 1000000"},
        {"address limit a string", "security: {signin_address_max_failures: \"50\"}\n",
         "1:41: 'security.signin_address_max_failures' must be a decimal integer"},
        {"address limit a boolean", "security: {signin_address_max_failures: false}\n",
         "1:41: must be a decimal integer"},
        {"address limit a list", "security:\n  signin_address_max_failures: [1]\n",
         "2:32: must be a decimal integer"},
        {"concurrency too big", "security: {scrypt_concurrency: 1025}\n",
         "1:32: 'security.scrypt_concurrency' must be between 0 and 1024"},
        {"concurrency negative", "security: {scrypt_concurrency: -4}\n",
         "1:32: must be between 0 and 1024"},
        {"concurrency a duration", "security: {scrypt_concurrency: 4s}\n",
         "1:32: 'security.scrypt_concurrency' must be a decimal integer"},
        {"concurrency null", "security: {scrypt_concurrency: }\n",
         "1:32: must be a decimal integer"},
        {"concurrency is not under scrypt", "security: {scrypt: {concurrency: 2}}\n",
         "1:21: unknown key 'security.scrypt.concurrency'"},
    };
    struct ly_config *cfg = NULL;
    char err[512];
    char *d;

    (void)state;
    assert_int_equal(load_text(NOPW, &cfg, err, sizeof(err)), LY_OK);
    assert_int_equal(cfg->security.signin_address_max_failures, 50);
    assert_int_equal(cfg->security.scrypt_concurrency, 0);
    d = dump_to_string(cfg);
    assert_non_null(strstr(d, "\n    p: 1\n  scrypt_concurrency: 0\n"));
    assert_non_null(strstr(d, "\n  signin_max_failures: 5\n  signin_address_max_failures: 50\n"));
    free(d);
    ly_config_free(cfg);

    if (load_text(NOPW "security:\n  signin_address_max_failures: 7\n  scrypt_concurrency: 3\n",
                  &cfg, err, sizeof(err)) != LY_OK)
        fail_msg("load: %s", err);
    assert_int_equal(cfg->security.signin_address_max_failures, 7);
    assert_int_equal(cfg->security.scrypt_concurrency, 3);
    assert_int_equal(cfg->security.signin_max_failures, 5);
    ly_config_free(cfg);

    assert_int_equal(run_load_cases(cases, sizeof(cases) / sizeof(cases[0])), 0);
}

/* ---------------------------------------------------------------------------------------------
 * database.host as a list (a Galera cluster, doc/operations.md)
 */

static void test_host_list(void **state)
{
    static const struct load_case cases[] = {
        {"list of one", "database: {password_file: \"\", host: [db1]}\n", NULL},
        {"v6 address kept whole", "database: {password_file: \"\", host: [\"fd00::1\"]}\n", NULL},
        {"empty list", "database: {host: []}\n", "1:18: 'database.host' must not be an empty list"},
        {"empty entry", "database: {host: [db1, \"\"]}\n",
         "1:24: 'database.host' entries must name a host"},
        {"port only", "database: {host: [\":3306\"]}\n", "1:19: entries must name a host"},
        {"port zero", "database: {host: [\"db1:0\"]}\n",
         "1:19: 'database.host' entries are HOST or HOST:PORT with a port from 1 to 65535"},
        {"port too big", "database: {host: [\"db1:65536\"]}\n", "1:19: HOST:PORT"},
        {"port not a number", "database: {host: [\"db1:x\"]}\n", "1:19: HOST:PORT"},
        {"port empty", "database: {host: [\"db1:\"]}\n", "1:19: HOST:PORT"},
        {"entry a list", "database: {host: [[db1]]}\n",
         "1:19: 'database.host' must be a string, not a list"},
        {"entry a boolean", "database: {host: [true]}\n", "1:19: not a boolean"},
    };
    struct ly_config *cfg = NULL;
    char err[512];
    char *d;

    (void)state;
    if (load_text("database:\n  password_file: \"\"\n  port: 3307\n  host:\n    - 10.0.0.3\n"
                  "    - \"10.0.0.1:3310\"\n    - db2.example\n",
                  &cfg, err, sizeof(err)) != LY_OK)
        fail_msg("load: %s", err);
    assert_int_equal(cfg->database.n_hosts, 3);
    assert_string_equal(cfg->database.host, "10.0.0.3");
    assert_string_equal(cfg->database.hosts[0].name, "10.0.0.3");
    assert_int_equal(cfg->database.hosts[0].port, 0);
    assert_string_equal(cfg->database.hosts[1].name, "10.0.0.1");
    assert_int_equal(cfg->database.hosts[1].port, 3310);
    assert_string_equal(cfg->database.hosts[2].name, "db2.example");
    assert_int_equal(cfg->database.port, 3307);
    /* lanyardctl config check prints the list as written */
    d = dump_to_string(cfg);
    assert_non_null(strstr(d, "\n  host: [\"10.0.0.3\", \"10.0.0.1:3310\", \"db2.example\"]\n"));
    free(d);
    ly_config_free(cfg);

    /* the string form is unchanged, and prints as a string */
    if (load_text("database: {password_file: \"\", host: \"db1:3306\"}\n", &cfg, err,
                  sizeof(err)) != LY_OK)
        fail_msg("load: %s", err);
    assert_string_equal(cfg->database.host, "db1:3306");
    assert_int_equal(cfg->database.n_hosts, 0);
    d = dump_to_string(cfg);
    assert_non_null(strstr(d, "\n  host: \"db1:3306\"\n"));
    free(d);
    ly_config_free(cfg);

    assert_int_equal(run_load_cases(cases, sizeof(cases) / sizeof(cases[0])), 0);
}

/* ---------------------------------------------------------------------------------------------
 * password_file
 */

static void test_password_file(void **state)
{
    static const struct {
        const char *desc;
        const char *data;
        size_t len;
        const char *want;
    } cases[] = {
        {"trailing newline", "s3cret\n", 7, "s3cret"},
        {"CRLF", "s3cret\r\n", 8, "s3cret"},
        {"several newlines", "s3cret\n\n", 8, "s3cret"},
        {"no newline", "s3cret", 6, "s3cret"},
        {"inner spaces and newline kept", " a b\nc \n", 8, " a b\nc "},
        {"empty file: empty password", "", 0, ""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *pw = write_file("pw", cases[i].data, cases[i].len);
        char yaml[512], err[512];
        struct ly_config *cfg = NULL;
        char *dump;

        snprintf(yaml, sizeof(yaml), "database:\n  password_file: %s\n", pw);
        if (load_text(yaml, &cfg, err, sizeof(err)) != LY_OK)
            fail_msg("%s: %s", cases[i].desc, err);
        if (cfg->database.password_secret == NULL ||
            strcmp(cfg->database.password_secret, cases[i].want) != 0)
            fail_msg("%s: wrong secret", cases[i].desc);
        assert_string_equal(cfg->database.password_file, pw);
        dump = dump_to_string(cfg);
        assert_non_null(strstr(dump, pw));
        if (cases[i].len > 0)
            assert_null(strstr(dump, "s3cret"));
        free(dump);
        ly_config_free(cfg);
    }
}

static void check_secret_error(const char *desc, const char *pw, const char *want,
                               const char *marker)
{
    char yaml[512], err[512];
    struct ly_config *cfg = NULL;
    const char *path;

    snprintf(yaml, sizeof(yaml), "server: {}\ndatabase:\n  name: x\n  password_file: %s\n", pw);
    path = write_text("case.yaml", yaml);
    if (ly_config_load(path, &cfg, err, sizeof(err)) != LY_E_CONFIG)
        fail_msg("%s: loaded", desc);
    assert_null(cfg);
    if (!err_matches(err, path, want))
        fail_msg("%s:\n  want %s\n  got  %s", desc, want, err);
    if (marker != NULL && strstr(err, marker) != NULL)
        fail_msg("%s: the error shows the file's contents: %s", desc, err);
}

static void test_password_file_errors(void **state)
{
    char big[5000];
    struct ly_config *cfg = NULL;
    char err[512];

    (void)state;
    check_secret_error("missing file", tmp_path("no-such-pw"),
                       "4:3: 'database.password_file': cannot read", NULL);
    check_secret_error("missing file names the path", tmp_path("no-such-pw"),
                       "4:3: no-such-pw': No such file or directory", NULL);
    check_secret_error("directory", tmpdir, "4:3: 'database.password_file': cannot read", NULL);
    check_secret_error("directory reason", tmpdir, "4:3: not a regular file", NULL);

    memset(big, 'Q', sizeof(big));
    memcpy(big, "TOPSECRET", 9);
    check_secret_error("too large", write_file("pw-big", big, sizeof(big)),
                       "4:3: larger than 4096 bytes", "TOPSECRET");
    check_secret_error("NUL byte", write_file("pw-nul", "TOPSECRET\0x\n", 12),
                       "4:3: 'database.password_file': ", "TOPSECRET");
    check_secret_error("NUL byte reason", write_file("pw-nul", "TOPSECRET\0x\n", 12),
                       "4:3: contains a NUL byte", "TOPSECRET");

    /* The default /etc/lanyard/db-password is read too, and reported at 1:1. */
    if (access("/etc/lanyard/db-password", F_OK) != 0) {
        const char *path = write_text("case.yaml", "server: {}\n");
        assert_int_equal(ly_config_load(path, &cfg, err, sizeof(err)), LY_E_CONFIG);
        if (!err_matches(err, path,
                         "1:1: 'database.password_file' (default): cannot read "
                         "'/etc/lanyard/db-password'"))
            fail_msg("default password_file: %s", err);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Files that all users may read: warnings, not errors (the signing key is refused by the keyset)
 */

#define CHMOD_HINT "chmod it to 600, or to 640 for a group such as www-data"

/* Load the YAML text fmt makes; the config must load. */
__attribute__((format(printf, 2, 3))) static struct ly_config *load_ok(const char **cfgpath,
                                                                       const char *fmt, ...)
{
    char yaml[1024], err[512];
    struct ly_config *cfg = NULL;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(yaml, sizeof(yaml), fmt, ap);
    va_end(ap);
    *cfgpath = write_text("case.yaml", yaml);
    if (ly_config_load(*cfgpath, &cfg, err, sizeof(err)) != LY_OK)
        fail_msg("load: %s\n%s", err, yaml);
    return cfg;
}

static void want_one_warning(const struct ly_config *cfg, const char *cfgpath, const char *rest)
{
    char want[1024];

    snprintf(want, sizeof(want), "%s:%s", cfgpath, rest);
    if (cfg->n_warnings != 1)
        fail_msg("%zu warnings, want 1: %s", cfg->n_warnings, want);
    if (strcmp(cfg->warnings[0], want) != 0)
        fail_msg("\n  want %s\n  got  %s", want, cfg->warnings[0]);
}

static void test_file_modes(void **state)
{
    static const struct {
        mode_t mode;
        const char *what; /* NULL: no warning */
    } modes[] = {
        {0600, NULL},       {0640, NULL},       {0660, NULL},       {0400, NULL},
        {0644, "readable"}, {0604, "readable"}, {0602, "writable"}, {0666, "readable and writable"},
    };
    char pw[256], key[256]; /* tmp_path's buffers are reused */
    const char *cfgpath;
    struct ly_config *cfg;
    char rest[512];
    char *d;

    (void)state;
    snprintf(pw, sizeof(pw), "%s", write_text("pw-mode", "TOPSECRET\n"));
    snprintf(key, sizeof(key), "%s", write_text("key-mode.pem", "not read by the config\n"));
    /* database.password_file: the secret is still read, with a warning */
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(chmod(pw, modes[i].mode), 0);
        cfg = load_ok(&cfgpath, "tokens: {mode: opaque}\ndatabase:\n  password_file: %s\n", pw);
        assert_string_equal(cfg->database.password_secret, "TOPSECRET");
        if (modes[i].what == NULL) {
            if (cfg->n_warnings != 0)
                fail_msg("mode %04o: %s", (unsigned)modes[i].mode, cfg->warnings[0]);
        } else {
            snprintf(
                rest, sizeof(rest),
                "3:3: 'database.password_file': '%s' is %s by all users (mode %04o); " CHMOD_HINT,
                pw, modes[i].what, (unsigned)modes[i].mode);
            want_one_warning(cfg, cfgpath, rest);
            assert_null(strstr(cfg->warnings[0], "TOPSECRET"));
        }
        d = dump_to_string(cfg);
        assert_null(strstr(d, "all users"));
        free(d);
        ly_config_free(cfg);
    }

    /* tokens.jwt.key_file: the keyset refuses it; config check says so beforehand */
    assert_int_equal(chmod(key, 0644), 0);
    cfg = load_ok(&cfgpath, NOPW "tokens:\n  jwt: {key_file: %s}\n", key);
    snprintf(rest, sizeof(rest),
             "3:9: 'tokens.jwt.key_file': '%s' is readable by all users (mode 0644); lanyard will "
             "not start with it: " CHMOD_HINT,
             key);
    want_one_warning(cfg, cfgpath, rest);
    ly_config_free(cfg);

    /* security.secrets_key_file: ly_seal_key_load refuses it, in either token mode */
    cfg =
        load_ok(&cfgpath, NOPW "tokens: {mode: opaque}\nsecurity:\n  secrets_key_file: %s\n", key);
    snprintf(rest, sizeof(rest),
             "4:3: 'security.secrets_key_file': '%s' is readable by all users (mode 0644); lanyard "
             "refuses it: " CHMOD_HINT,
             key);
    want_one_warning(cfg, cfgpath, rest);
    ly_config_free(cfg);
    assert_int_equal(chmod(key, 0640), 0);
    cfg =
        load_ok(&cfgpath, NOPW "tokens: {mode: opaque}\nsecurity:\n  secrets_key_file: %s\n", key);
    assert_int_equal(cfg->n_warnings, 0);
    ly_config_free(cfg);
    assert_int_equal(chmod(key, 0644), 0);

    /* tokens.jwt.previous_key_files: a warning at the entry, which may be a public key */
    cfg = load_ok(&cfgpath,
                  NOPW "tokens:\n  jwt:\n    key_file: /nonexistent/jwt.pem\n"
                       "    previous_key_files:\n      - /nonexistent/old.pem\n      - %s\n",
                  key);
    snprintf(rest, sizeof(rest),
             "7:9: 'tokens.jwt.previous_key_files': '%s' is readable by all users (mode 0644); "
             "unless it holds a public key only, " CHMOD_HINT,
             key);
    want_one_warning(cfg, cfgpath, rest);
    ly_config_free(cfg);

    /* opaque mode needs no key file: none is looked at */
    cfg = load_ok(&cfgpath,
                  NOPW "tokens: {mode: opaque, jwt: {key_file: %s, previous_key_files: [%s]}}\n",
                  key, key);
    assert_int_equal(cfg->n_warnings, 0);
    ly_config_free(cfg);

    /* several warnings come in the order found */
    assert_int_equal(chmod(pw, 0604), 0);
    cfg = load_ok(&cfgpath,
                  "database: {password_file: %s}\n"
                  "tokens: {jwt: {key_file: /nonexistent/k.pem, previous_key_files: [%s]}}\n",
                  pw, key);
    assert_int_equal(cfg->n_warnings, 2);
    assert_non_null(strstr(cfg->warnings[0], ":1:12: 'database.password_file': "));
    assert_non_null(strstr(cfg->warnings[1], ":2:67: 'tokens.jwt.previous_key_files': "));
    ly_config_free(cfg);
    assert_int_equal(chmod(pw, 0600), 0);
}

/* ---------------------------------------------------------------------------------------------
 * Durations and names
 */

static void test_durations(void **state)
{
    static const struct {
        const char *in;
        int ok;
        int64_t want;
    } cases[] = {
        {"0", 1, 0},
        {"90", 1, 90},
        {"90s", 1, 90},
        {"0s", 1, 0},
        {"15m", 1, 900},
        {"12h", 1, 43200},
        {"30d", 1, 2592000},
        {"1d", 1, 86400},
        {"9223372036854775807", 1, INT64_MAX},
        {"9223372036854775807s", 1, INT64_MAX},
        {"106751991167300d", 1, 106751991167300LL * 86400},
        {"9223372036854775808", 0, 0},
        {"106751991167301d", 0, 0},
        {"99999999999999999999", 0, 0},
        {"", 0, 0},
        {"s", 0, 0},
        {"m", 0, 0},
        {"-5", 0, 0},
        {"-5m", 0, 0},
        {"+5m", 0, 0},
        {" 5m", 0, 0},
        {"5m ", 0, 0},
        {"5 m", 0, 0},
        {"5M", 0, 0},
        {"5ms", 0, 0},
        {"5w", 0, 0},
        {"1h30m", 0, 0},
        {"1.5h", 0, 0},
        {"05m", 0, 0},
        {"00", 0, 0},
        {"0x10", 0, 0},
        {"1e3", 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = -42;
        int r = ly_duration_parse(cases[i].in, strlen(cases[i].in), &v);
        if (cases[i].ok && (r != 0 || v != cases[i].want))
            fail_msg("duration '%s': r=%d v=%lld", cases[i].in, r, (long long)v);
        if (!cases[i].ok && (r != -1 || v != -42))
            fail_msg("duration '%s' should be refused (r=%d)", cases[i].in, r);
    }
    /* the length bounds the parse: no NUL needed */
    {
        int64_t v = 0;
        assert_int_equal(ly_duration_parse("15mXYZ", 3, &v), 0);
        assert_int_equal(v, 900);
        assert_int_equal(ly_duration_parse(NULL, 0, &v), -1);
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(ly_jwt_alg_name(LY_ALG_HS256), "HS256");
    assert_string_equal(ly_jwt_alg_name(LY_ALG_RS256), "RS256");
    assert_string_equal(ly_jwt_alg_name(LY_ALG_ES256), "ES256");
    assert_string_equal(ly_jwt_alg_name(LY_ALG_EDDSA), "EdDSA");
    assert_string_equal(ly_jwt_alg_name((enum ly_jwt_alg)42), "unknown");
}

static void test_default_path(void **state)
{
    const char *p;
    const char *tail = "/lanyard/lanyard.yaml";

    (void)state;
    assert_int_equal(setenv("LANYARD_CONFIG", "/srv/x.yaml", 1), 0);
    assert_string_equal(ly_config_default_path(), "/srv/x.yaml");
    assert_int_equal(setenv("LANYARD_CONFIG", "", 1), 0);
    p = ly_config_default_path();
    assert_true(strlen(p) > strlen(tail));
    assert_string_equal(p + strlen(p) - strlen(tail), tail);
    assert_int_equal(unsetenv("LANYARD_CONFIG"), 0);
    assert_string_equal(ly_config_default_path(), p);
}

/* ---------------------------------------------------------------------------------------------
 * The example file and the dump
 */

/* Load, dump, load the dump, dump again: the two dumps agree. Returns the first dump. */
static char *round_trip(const char *path)
{
    struct ly_config *cfg = NULL, *again = NULL;
    char err[512];
    char *d1, *d2;
    const char *p2;

    if (ly_config_load(path, &cfg, err, sizeof(err)) != LY_OK)
        fail_msg("load %s: %s", path, err);
    d1 = dump_to_string(cfg);
    p2 = write_text("dumped.yaml", d1);
    if (ly_config_load(p2, &again, err, sizeof(err)) != LY_OK)
        fail_msg("reload of the dump: %s\n%s", err, d1);
    d2 = dump_to_string(again);
    assert_string_equal(dump_body(d1), dump_body(d2));
    free(d2);
    ly_config_free(cfg);
    ly_config_free(again);
    return d1;
}

static void test_example_file(void **state)
{
    const char *pw = write_text("db-password", "example-secret\n");
    char *text = read_all(LY_TEST_SRCDIR "/etc/lanyard.yaml.example");
    char *patched, *d_example, *d_min;
    char yaml[512];

    (void)state;
    /* the example names /etc/lanyard/db-password, as SPEC §2 does */
    assert_non_null(strstr(text, "password_file: /etc/lanyard/db-password"));
    patched = replace(text, "/etc/lanyard/db-password", pw);
    d_example = round_trip(write_text("example.yaml", patched));

    /* the example shows exactly the defaults */
    snprintf(yaml, sizeof(yaml), "database: {password_file: %s}\n", pw);
    d_min = round_trip(write_text("minimal.yaml", yaml));
    assert_string_equal(dump_body(d_example), dump_body(d_min));
    assert_null(strstr(d_example, "example-secret"));

    free(d_min);
    free(d_example);
    free(patched);
    free(text);
}

static void test_dump(void **state)
{
    const char *pw = write_text("db-password", "dump-secret\n");
    char yaml[1024];
    char *d;

    (void)state;
    snprintf(yaml, sizeof(yaml),
             "server:\n"
             "  public_url: https://id.example.com/\n"
             "  trusted_proxies: [10.0.0.0/8, 'fd00::/8', 192.168.0.1]\n"
             "database:\n"
             "  password_file: %s\n"
             "  host: 'db \"primary\" \\ x'\n"
             "  connect_timeout: 90\n"
             "tokens:\n"
             "  access_ttl: 3600\n"
             "  refresh_ttl: 86399\n"
             "  leeway: 0\n"
             "  jwt:\n"
             "    previous_key_files: [/k/a.pem, \"/k/b c.pem\"]\n"
             "security: {scrypt: {N: 1024}, auth_cache_ttl: 120, secrets_key_file: /k/s.key}\n"
             "log: {level: debug}\n",
             pw);
    d = round_trip(write_text("custom.yaml", yaml));
    assert_null(strstr(d, "dump-secret"));
    assert_non_null(strstr(d, "\n  public_url: \"https://id.example.com\"\n"));
    assert_non_null(
        strstr(d, "\n  trusted_proxies: [\"10.0.0.0/8\", \"fd00::/8\", \"192.168.0.1/32\"]\n"));
    assert_non_null(strstr(d, "\n  host: \"db \\\"primary\\\" \\\\ x\"\n"));
    assert_non_null(strstr(d, "\n  connect_timeout: 90s\n"));
    assert_non_null(strstr(d, "\n  access_ttl: 1h\n"));
    assert_non_null(strstr(d, "\n  refresh_ttl: 86399s\n"));
    assert_non_null(strstr(d, "\n  leeway: 0s\n"));
    assert_non_null(strstr(d, "\ntokens:\n  mode: jwt\n"));
    assert_non_null(strstr(d, "\n  jwt:\n    algorithm: EdDSA\n"));
    assert_non_null(strstr(d, "\n    previous_key_files: [\"/k/a.pem\", \"/k/b c.pem\"]\n"));
    assert_non_null(strstr(d, "\n  scrypt:\n    N: 1024\n    r: 8\n    p: 1\n"));
    assert_non_null(strstr(d, "\n  auth_cache_ttl: 2m\n  secrets_key_file: \"/k/s.key\"\nlog:\n"
                              "  level: debug\n  format: text\n"));
    assert_non_null(strstr(d, "\n  password_file: \""));
    free(d);
}

/* ---------------------------------------------------------------------------------------------
 * Fixture
 */

static int setup(void **state)
{
    const char *base = getenv("TMPDIR");

    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "%s/ly-test-config-XXXXXX",
             base && *base && strlen(base) < 32 ? base : "/tmp");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_made; i++) {
        unlink(made[i]);
        free(made[i]);
    }
    n_made = 0;
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_ok_cases),
        cmocka_unit_test(test_err_cases),
        cmocka_unit_test(test_unreadable_config),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_host_list),
        cmocka_unit_test(test_password_file),
        cmocka_unit_test(test_password_file_errors),
        cmocka_unit_test(test_file_modes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_dump),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
