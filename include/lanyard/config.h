/*
 * config: the whole of SPEC §2, read once from YAML into one typed struct.
 *
 * Only src/config/yaml.c includes <yaml.h>. Durations are held in seconds.
 * Secrets named by *_file keys are read at load time into *_secret fields;
 * they are never printed (ly_config_dump prints the path instead). A key or
 * secret file that all users may read is a warning (cfg->warnings); the JWT
 * signing key in that state is refused by ly_keyset_load.
 */
#ifndef LY_CONFIG_H
#define LY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum ly_token_mode { LY_TOKENS_JWT = 0, LY_TOKENS_OPAQUE = 1 };
enum ly_jwt_alg { LY_ALG_HS256 = 0, LY_ALG_RS256, LY_ALG_ES256, LY_ALG_EDDSA };

struct ly_cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network address, in network order */
    unsigned prefix;        /* prefix length in bits */
};

struct ly_config {
    char *path; /* the file it was read from */

    struct {
        char *public_url; /* without a trailing slash */
        uint64_t max_body;
        struct ly_cidr *trusted_proxies;
        size_t n_trusted_proxies;
        struct ly_cidr *metrics_from; /* who may read /api/metrics (its REMOTE_ADDR) */
        size_t n_metrics_from;
    } server;

    struct {
        /* The string form, or the first entry of the list form as written. */
        char *host;
        /* The list form ("HOST" or "HOST:PORT" entries), in the order tried;
         * n_hosts is 0 for the string form. A port of 0 is database.port. */
        struct ly_db_host {
            char *name;
            unsigned port;
        } * hosts;
        size_t n_hosts;
        unsigned port;
        char *socket;
        char *name;
        char *user;
        char *password_file;
        char *password_secret; /* contents of password_file, trailing newline removed */
        bool tls;
        char *ca_file;
        int64_t connect_timeout;
    } database;

    struct {
        enum ly_token_mode mode;
        char *issuer;
        char *audience;
        int64_t access_ttl;
        int64_t refresh_ttl;
        int64_t leeway;
        struct {
            enum ly_jwt_alg algorithm;
            char *key_file;
            char **previous_key_files;
            size_t n_previous_key_files;
            bool check_revocation;
        } jwt;
    } tokens;

    struct {
        char *prefix;
        int64_t default_ttl;
        int64_t max_ttl;
        bool allow_no_expiry;
        unsigned max_per_account;
    } api_keys;

    struct {
        char *service_account_domain;
        bool self_signup;
        bool users_create_orgs;
    } accounts;

    struct {
        unsigned password_min_length;
        uint64_t scrypt_n;
        unsigned scrypt_r;
        unsigned scrypt_p;
        unsigned scrypt_concurrency;          /* at once on one host, all workers; 0: online CPUs */
        unsigned signin_max_failures;         /* per account, within signin_window */
        unsigned signin_address_max_failures; /* per client address, likewise; 0: no limit */
        int64_t signin_window;
        int64_t auth_cache_ttl;
        char *secrets_key_file; /* "" = none: SSO cannot be configured; read by ly_seal_key_load */
    } security;

    struct {
        int level;  /* enum ly_log_level */
        int format; /* enum ly_log_format */
    } log;

    /*
     * What loading found worth telling but not refusing, such as a secret
     * file that all users may read: one line each, "FILE:LINE:COL: message"
     * without a newline, in the order found. The caller shows them: lanyard
     * logs them at warn when it starts, lanyardctl config check prints them
     * on stderr. Owned by the config.
     */
    char **warnings;
    size_t n_warnings;
};

/*
 * The path lanyard and lanyardctl read when no --config is given:
 * $LANYARD_CONFIG, else $(sysconfdir)/lanyard/lanyard.yaml.
 */
const char *ly_config_default_path(void);

/*
 * Read and validate path. On success returns LY_OK and *out owns a new
 * config (free with ly_config_free), with any warnings in (*out)->warnings.
 * On failure returns LY_E_CONFIG, leaves *out untouched and writes
 * "FILE:LINE:COL: message" (no newline) into err. A *_file that cannot be
 * read is reported at the key that names it.
 */
int ly_config_load(const char *path, struct ly_config **out, char *err, size_t errlen);

/*
 * The same from len bytes at buf (which need no NUL), named name in errors
 * ("NAME:LINE:COL: message") and in cfg->path. Used by ly_config_load and
 * the config fuzz target. *_file keys are still read from disk.
 */
int ly_config_load_mem(const char *name, const char *buf, size_t len, struct ly_config **out,
                       char *err, size_t errlen);

void ly_config_free(struct ly_config *cfg);

/*
 * Print the effective config as YAML, every default filled in, secrets
 * redacted (the *_file paths are printed, never what was read from them).
 */
void ly_config_dump(const struct ly_config *cfg, FILE *fp);

/* Parse "90s", "15m", "12h", "30d" or a plain integer (seconds). 0 / -1. */
int ly_duration_parse(const char *s, size_t len, int64_t *out);

const char *ly_jwt_alg_name(enum ly_jwt_alg alg);

/*
 * Read a secret file the way the loader reads the *_file secrets, for keys
 * loaded elsewhere (security.secrets_key_file, src/crypto/seal.c): a
 * regular file of at most max bytes, whole, into *out (heap, NUL added;
 * free with ly_free_secret(*out, *outlen + 1)), and its mode into *mode.
 * Returns 0, or -1 with a reason in why that never holds the contents.
 */
int ly_config_read_secret(const char *path, size_t max, char **out, size_t *outlen, mode_t *mode,
                          char *why, size_t whylen);

/*
 * What a file of this mode lets every user do (the rule of doc/decisions.md,
 * "Key and secret file permissions"): "readable", "writable" or "readable
 * and writable"; NULL when mode & 0006 is 0.
 */
const char *ly_config_file_exposure(mode_t mode);

#endif
