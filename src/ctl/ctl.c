#include "build-config.h"
#include "banned.h"

#include "lanyard/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lanyard/accounts.h"
#include "lanyard/apikeys.h"
#include "lanyard/codec.h"
#include "lanyard/config.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/jwt.h"
#include "lanyard/log.h"
#include "lanyard/metrics.h"
#include "lanyard/migrate.h"
#include "lanyard/orgs.h"
#include "lanyard/password.h"
#include "lanyard/purge.h"
#include "lanyard/users.h"
#include "lanyard/validate.h"

#define EXIT_FAIL  1
#define EXIT_USAGE 2

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lanyardctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_FAIL;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lanyardctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see lanyardctl --help)\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

/* Everything a command that talks to the database needs. */
struct session {
    struct ly_config *cfg;
    struct ly_log log;
    struct ly_db *db;
    struct ly_arena arena;
};

static int open_session(const char *config_path, struct session *s)
{
    char err[1024];
    memset(s, 0, sizeof(*s));
    if (ly_config_load(config_path, &s->cfg, err, sizeof(err)) != LY_OK) {
        fprintf(stderr, "%s\n", err);
        return EXIT_FAIL;
    }
    ly_log_init(&s->log, "lanyardctl");
    s->log.level = LY_LOG_ERROR;
    s->db = ly_db_new(s->cfg, &s->log);
    ly_arena_init(&s->arena, 8192);
    if (ly_db_connect(s->db) != LY_OK)
        return fail("cannot connect to the database '%s'", s->cfg->database.name);
    return 0;
}

static void close_session(struct session *s)
{
    ly_arena_release(&s->arena);
    ly_db_free(s->db);
    ly_config_free(s->cfg);
}

/*
 * After a committed change that revokes or narrows a credential: bump the
 * host's revocation generation (lanyard/metrics.h), so that the workers'
 * caches drop what they verified before. Run as another user than the
 * workers, the bump cannot be made: said, since then auth_cache_ttl applies.
 */
static void revoked(const char *config_path)
{
    char dir[256], err[512];
    if (ly_metrics_dir(config_path, dir, sizeof(dir)) == LY_OK &&
        ly_metrics_generation_open(dir, err, sizeof(err)) == LY_OK) {
        ly_metrics_generation_bump();
        return;
    }
    fprintf(stderr, "note: this host's workers may answer from their caches for up to "
                    "security.auth_cache_ttl (the revocation generation could not be bumped)\n");
}

static int64_t now_seconds(void)
{
    return (int64_t)time(NULL);
}

/*
 * Read a password from a file: the whole file, one trailing newline
 * removed. The buffer is wiped by the caller.
 */
static int read_password_file(const char *path, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail("cannot read password file '%s': %s", path, strerror(errno));
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            close(fd);
            return fail("cannot read password file '%s': %s", path, strerror(errno));
        }
        if (k == 0)
            break;
        n += (size_t)k;
        if (n == cap) {
            close(fd);
            return fail("password file '%s' is too long", path);
        }
    }
    close(fd);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (memchr(buf, '\0', n) != NULL)
        return fail("password file '%s' contains a NUL byte", path);
    *len = n;
    return 0;
}

/* Create a user from the command line; used by bootstrap and user create. */
static int create_user(struct session *s, const char *email_in, const char *password_file,
                       bool admin, struct ly_user *out)
{
    char pw[LY_PASSWORD_MAX_LEN + 2];
    size_t pwlen = 0;
    const char *email;
    char phc[LY_PHC_MAX_LEN];
    if (!ly_email_normalize(&s->arena, email_in, &email))
        return fail("'%s' is not a valid e-mail address", email_in);
    if (read_password_file(password_file, pw, sizeof(pw) - 1, &pwlen) != 0)
        return EXIT_FAIL;
    int rc = EXIT_FAIL;
    const char *problem = ly_password_problem(pw, s->cfg->security.password_min_length);
    if (problem != NULL) {
        fail("the password in '%s' %s (at least %u characters)", password_file, problem,
             s->cfg->security.password_min_length);
        goto out;
    }
    struct ly_scrypt_params params = {s->cfg->security.scrypt_n, s->cfg->security.scrypt_r,
                                      s->cfg->security.scrypt_p};
    if (ly_password_hash(&params, pw, pwlen, phc) != LY_OK) {
        fail("cannot hash the password");
        goto out;
    }
    int r = ly_users_insert(s->db, &s->arena, email, NULL, phc, admin, now_seconds(), out);
    if (r == LY_E_CONFLICT) {
        fail("a user with e-mail '%s' already exists", email);
        goto out;
    }
    if (r != LY_OK) {
        fail("cannot create the user: %s", ly_err_str(r));
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(pw, sizeof(pw));
    return rc;
}

/* The options of every command; each command says which it takes. */
enum {
    OPT_EMAIL = 1,
    OPT_PASSWORD_FILE = 2,
    OPT_ORG = 4,
    OPT_ALG = 8,
    OPT_OUT = 16,
    OPT_PLATFORM_ADMIN = 32,
    OPT_STATUS = 64,
    OPT_SERVICE_ACCOUNT = 128,
    OPT_TTL = 256,
    OPT_RESOURCE = 512,
    OPT_DRY_RUN = 1024
};

struct ctl_opts {
    const char *email, *password_file, *org, *alg, *out, *service_account, *ttl, *resource;
    bool platform_admin, status, dry_run;
};

/*
 * Parse argv[first..] for the options in allowed (no positional arguments).
 * Returns 0, or prints the usage line and returns EXIT_USAGE.
 */
static int parse_opts(int argc, char **argv, int first, unsigned allowed, const char *usage,
                      struct ctl_opts *o)
{
    static const struct option opts[] = {
        {"email", required_argument, NULL, OPT_EMAIL},
        {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
        {"org", required_argument, NULL, OPT_ORG},
        {"alg", required_argument, NULL, OPT_ALG},
        {"out", required_argument, NULL, OPT_OUT},
        {"platform-admin", no_argument, NULL, OPT_PLATFORM_ADMIN},
        {"status", no_argument, NULL, OPT_STATUS},
        {"service-account", required_argument, NULL, OPT_SERVICE_ACCOUNT},
        {"ttl", required_argument, NULL, OPT_TTL},
        {"resource", required_argument, NULL, OPT_RESOURCE},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {NULL, 0, NULL, 0}};
    int c;
    memset(o, 0, sizeof(*o));
    optind = first;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (c == '?' || c == ':' || ((unsigned)c & allowed) == 0)
            return usage_error("%s", usage);
        switch (c) {
        case OPT_EMAIL:
            o->email = optarg;
            break;
        case OPT_PASSWORD_FILE:
            o->password_file = optarg;
            break;
        case OPT_ORG:
            o->org = optarg;
            break;
        case OPT_ALG:
            o->alg = optarg;
            break;
        case OPT_OUT:
            o->out = optarg;
            break;
        case OPT_PLATFORM_ADMIN:
            o->platform_admin = true;
            break;
        case OPT_STATUS:
            o->status = true;
            break;
        case OPT_SERVICE_ACCOUNT:
            o->service_account = optarg;
            break;
        case OPT_TTL:
            o->ttl = optarg;
            break;
        case OPT_RESOURCE:
            o->resource = optarg;
            break;
        case OPT_DRY_RUN:
            o->dry_run = true;
            break;
        }
    }
    if (optind != argc)
        return usage_error("%s", usage);
    return 0;
}

static int cmd_migrate(const char *config_path, int argc, char **argv)
{
    struct ctl_opts o;
    if (parse_opts(argc, argv, 1, OPT_STATUS, "usage: migrate [--status]", &o) != 0)
        return EXIT_USAGE;
    struct session s;
    int rc = open_session(config_path, &s);
    if (rc == 0) {
        char err[512];
        int r = o.status ? ly_migrate_status(s.db, stdout, err, sizeof(err))
                         : ly_migrate_apply(s.db, stdout, err, sizeof(err));
        if (r != LY_OK)
            rc = fail("%s", err);
    }
    close_session(&s);
    return rc;
}

static int cmd_bootstrap(const char *config_path, int argc, char **argv)
{
    struct ctl_opts o;
    const char *usage = "usage: bootstrap --email E --password-file F [--org NAME]";
    if (parse_opts(argc, argv, 1, OPT_EMAIL | OPT_PASSWORD_FILE | OPT_ORG, usage, &o) != 0)
        return EXIT_USAGE;
    if (o.email == NULL || o.password_file == NULL)
        return usage_error("%s", usage);
    const char *email = o.email, *password_file = o.password_file, *org = o.org;
    if (org != NULL && !ly_name_is_valid(org))
        return fail("'%s' is not a valid organization name", org);
    struct session s;
    int rc = open_session(config_path, &s);
    if (rc != 0)
        goto out;
    rc = EXIT_FAIL;
    int64_t admins = 0;
    /* One transaction: two bootstraps at once cannot both make an administrator. */
    if (ly_db_begin(s.db) != LY_OK ||
        ly_users_count_admins(s.db, &s.arena, &admins, true) != LY_OK) {
        fail("cannot read the users table (has 'lanyardctl migrate' been run?)");
        goto out;
    }
    if (admins > 0) {
        fail("a platform administrator already exists");
        goto out;
    }
    struct ly_user u;
    if (create_user(&s, email, password_file, true, &u) != 0)
        goto out;
    if (org != NULL) {
        int r = ly_orgs_create(s.db, &s.arena, org, NULL, u.id, now_seconds(), NULL);
        if (r != LY_OK) {
            fail(r == LY_E_CONFLICT ? "organization '%s' already exists"
                                    : "cannot create organization '%s'",
                 org);
            goto out;
        }
    }
    if (ly_db_commit(s.db) != LY_OK) {
        fail("cannot commit the bootstrap");
        goto out;
    }
    printf("created platform administrator %s (%s)%s%s\n", u.email, u.id,
           org ? " owning organization " : "", org ? org : "");
    rc = 0;
out:
    if (s.db != NULL)
        ly_db_rollback(s.db);
    close_session(&s);
    return rc;
}

static int cmd_config(const char *config_path, int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "check") != 0)
        return usage_error("usage: config check");
    char err[1024];
    struct ly_config *cfg = NULL;
    if (ly_config_load(config_path, &cfg, err, sizeof(err)) != LY_OK) {
        fprintf(stderr, "%s\n", err);
        return EXIT_FAIL;
    }
    for (size_t i = 0; i < cfg->n_warnings; i++)
        fprintf(stderr, "warning: %s\n", cfg->warnings[i]);
    ly_config_dump(cfg, stdout);
    ly_config_free(cfg);
    return 0;
}

static int cmd_keygen(int argc, char **argv)
{
    struct ctl_opts o;
    const char *usage = "usage: keygen --alg HS256|RS256|ES256|EdDSA --out FILE";
    if (parse_opts(argc, argv, 1, OPT_ALG | OPT_OUT, usage, &o) != 0)
        return EXIT_USAGE;
    if (o.alg == NULL || o.out == NULL)
        return usage_error("%s", usage);
    const char *alg_s = o.alg, *out = o.out;
    enum ly_jwt_alg alg;
    if (ly_jwt_alg_parse(alg_s, &alg) != 0)
        return usage_error("keygen: unknown --alg '%s' (HS256, RS256, ES256 or EdDSA)", alg_s);
    char err[512];
    if (ly_key_generate(alg, out, err, sizeof(err)) != LY_OK)
        return fail("%s", err);
    printf("wrote %s key to %s\n", ly_jwt_alg_name(alg), out);
    return 0;
}

static int cmd_user(const char *config_path, int argc, char **argv)
{
    if (argc < 2)
        return usage_error("usage: user create|disable|enable …");
    const char *sub = argv[1];
    if (strcmp(sub, "create") == 0) {
        struct ctl_opts o;
        const char *usage = "usage: user create --email E --password-file F [--platform-admin]";
        if (parse_opts(argc, argv, 2, OPT_EMAIL | OPT_PASSWORD_FILE | OPT_PLATFORM_ADMIN, usage,
                       &o) != 0)
            return EXIT_USAGE;
        if (o.email == NULL || o.password_file == NULL)
            return usage_error("%s", usage);
        const char *email = o.email, *password_file = o.password_file;
        bool admin = o.platform_admin;
        struct session s;
        int rc = open_session(config_path, &s);
        struct ly_user u;
        if (rc == 0 && ly_db_begin(s.db) == LY_OK &&
            (rc = create_user(&s, email, password_file, admin, &u)) == 0) {
            if (ly_db_commit(s.db) == LY_OK)
                printf("created user %s (%s)\n", u.email, u.id);
            else
                rc = fail("cannot commit the new user");
        }
        if (s.db != NULL)
            ly_db_rollback(s.db);
        close_session(&s);
        return rc;
    }
    if (strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0) {
        if (argc != 3)
            return usage_error("usage: user %s EMAIL", sub);
        bool disable = sub[0] == 'd';
        struct session s;
        int rc = open_session(config_path, &s);
        if (rc != 0) {
            close_session(&s);
            return rc;
        }
        const char *email;
        struct ly_user u;
        int r;
        if (!ly_email_normalize(&s.arena, argv[2], &email))
            rc = fail("'%s' is not a valid e-mail address", argv[2]);
        else if ((r = ly_users_get_by_email(s.db, &s.arena, email, &u)) != LY_OK)
            rc = fail(r == LY_E_NOT_FOUND ? "no user '%s'" : "cannot read user '%s'", email);
        else if ((r = ly_db_begin(s.db)) != LY_OK ||
                 (r = ly_users_set_disabled(s.db, &s.arena, u.id, disable, now_seconds())) !=
                     LY_OK ||
                 (r = ly_db_commit(s.db)) != LY_OK)
            rc = fail("cannot %s user '%s': %s", sub, email, ly_err_str(r));
        else {
            if (disable)
                revoked(config_path);
            printf("%s user %s\n", disable ? "disabled" : "enabled", email);
        }
        ly_db_rollback(s.db);
        close_session(&s);
        return rc;
    }
    return usage_error("unknown user command '%s'", sub);
}

/*
 * key create: a service account's key made by the operator, in one unit of
 * work, under the same rules as CreateServiceAccountKey (SPEC §5.11). The
 * token is the only thing on stdout, for `TOKEN=$(lanyardctl key create …)`.
 */
static int key_create(struct session *s, const struct ctl_opts *o)
{
    int64_t now = now_seconds(), ttl = 0, expires_at = -1;
    bool has_ttl = o->ttl != NULL;
    const char *why = NULL;
    if (has_ttl && ly_duration_parse(o->ttl, strlen(o->ttl), &ttl) != 0)
        return fail("--ttl '%s' is not a duration (90s, 15m, 12h, 30d)", o->ttl);
    if (ly_api_keys_expiry(s->cfg, now, has_ttl, ttl, false, false, 0, &expires_at, &why) != LY_OK)
        return fail("--ttl: %s", why);
    if (o->resource != NULL && !ly_resource_is_valid(o->resource))
        return fail("--resource must be 1 to 255 characters of A-Z, a-z, 0-9 and ._:/-");
    struct ly_org org;
    struct ly_service_account sa;
    int r = ly_orgs_get(s->db, &s->arena, o->org, NULL, &org, NULL);
    if (r == LY_E_NOT_FOUND)
        return fail("no organization '%s'", o->org);
    if (r == LY_OK &&
        (r = ly_accounts_find(s->db, &s->arena, org.id, o->service_account, &sa)) == LY_E_NOT_FOUND)
        return fail("no service account '%s' in '%s'", o->service_account, o->org);
    if (r != LY_OK)
        return fail("cannot read the service account: %s", ly_err_str(r));
    struct ly_api_key_new nk = {
        .owner_type = LY_PRINCIPAL_SERVICE_ACCOUNT,
        .owner_id = sa.id,
        .org_id = org.id,
        .role = LY_ROLE_NONE,
        .resource = o->resource,
        .expires_at = expires_at,
    };
    struct ly_api_key_made made;
    if ((r = ly_db_begin(s->db)) == LY_OK &&
        (r = ly_api_keys_create(s->db, &s->arena, s->cfg, &nk, false, now, &made)) == LY_OK)
        r = ly_db_commit(s->db);
    if (r == LY_E_CONFLICT)
        return fail("'%s' already has api_keys.max_per_account (%u) unexpired keys",
                    o->service_account, s->cfg->api_keys.max_per_account);
    if (r != LY_OK)
        return fail("cannot create the key: %s", ly_err_str(r));
    printf("%s\n", made.token);
    OPENSSL_cleanse(made.token, sizeof(made.token));
    return 0;
}

static int cmd_key(const char *config_path, int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : "";
    if (strcmp(sub, "create") == 0) {
        struct ctl_opts o;
        const char *usage =
            "usage: key create --org O --service-account S [--ttl D] [--resource R]";
        if (parse_opts(argc, argv, 2, OPT_ORG | OPT_SERVICE_ACCOUNT | OPT_TTL | OPT_RESOURCE, usage,
                       &o) != 0)
            return EXIT_USAGE;
        if (o.org == NULL || o.service_account == NULL)
            return usage_error("%s", usage);
        struct session s;
        int rc = open_session(config_path, &s);
        if (rc == 0)
            rc = key_create(&s, &o);
        if (s.db != NULL)
            ly_db_rollback(s.db);
        close_session(&s);
        return rc;
    }
    if (strcmp(sub, "revoke") == 0) {
        if (argc != 3 || argv[2][0] == '-')
            return usage_error("usage: key revoke KEYID");
        const char *id = argv[2];
        struct session s;
        int rc = open_session(config_path, &s);
        int r = LY_E_NOT_FOUND;
        if (rc == 0) {
            /* Tokens exchanged with it go with it (ON DELETE CASCADE), as for the API's DELETE. */
            if (strlen(id) == LY_KEY_ID_LEN && ly_base32_is_alphabet(id, LY_KEY_ID_LEN) &&
                (r = ly_db_begin(s.db)) == LY_OK &&
                (r = ly_api_keys_delete(s.db, &s.arena, id)) == LY_OK)
                r = ly_db_commit(s.db);
            if (r == LY_E_NOT_FOUND)
                rc = fail("no key '%s'", id);
            else if (r != LY_OK)
                rc = fail("cannot revoke key '%s': %s", id, ly_err_str(r));
            else {
                revoked(config_path);
                printf("revoked key %s\n", id);
            }
            ly_db_rollback(s.db);
        }
        close_session(&s);
        return rc;
    }
    return usage_error("usage: key create|revoke …");
}

/* Rows per batch: each batch is its own short transaction (SPEC §6). */
#define PURGE_BATCH 1000

/*
 * Purge one table: batches until one comes back short, or (dry run) one
 * count. The arena is reset per batch: a million rows are a thousand batches.
 */
static int purge_table(struct session *s, enum ly_purge_table t, const struct ly_purge_policy *p,
                       int64_t now, bool dry_run, uint64_t *total)
{
    uint64_t n = 0;
    int r;
    if (dry_run) {
        r = ly_purge_count(s->db, &s->arena, t, p, now, &n);
        ly_db_rollback(s->db);
        if (r == LY_OK)
            *total = n;
        return r;
    }
    for (;;) {
        uint64_t removed = 0;
        ly_arena_reset(&s->arena);
        r = ly_db_begin(s->db);
        if (r == LY_OK)
            r = ly_purge_batch(s->db, &s->arena, t, p, now, PURGE_BATCH, &removed);
        if (r == LY_OK)
            r = ly_db_commit(s->db);
        if (r == LY_E_RETRY) { /* a lock wait or deadlock with a worker: that batch again */
            ly_db_rollback(s->db);
            continue;
        }
        if (r != LY_OK) {
            ly_db_rollback(s->db);
            break;
        }
        n += removed;
        if (removed < PURGE_BATCH)
            break;
    }
    /* What was committed before a failure stays deleted: say how much. */
    *total = n;
    return r;
}

static int cmd_purge(const char *config_path, int argc, char **argv)
{
    struct ctl_opts o;
    if (parse_opts(argc, argv, 1, OPT_DRY_RUN, "usage: purge [--dry-run]", &o) != 0)
        return EXIT_USAGE;
    struct session s;
    int rc = open_session(config_path, &s);
    if (rc == 0) {
        struct ly_purge_policy p = {.refresh_ttl = s.cfg->tokens.refresh_ttl,
                                    .throttle_window = s.cfg->security.signin_window};
        /* One now for the whole run: a row that expires meanwhile waits for the next. */
        int64_t now = now_seconds();
        for (int t = 0; t < LY_PURGE_N && rc == 0; t++) {
            uint64_t n = 0;
            int r = purge_table(&s, (enum ly_purge_table)t, &p, now, o.dry_run, &n);
            printf("%s: %llu\n", ly_purge_table_name((enum ly_purge_table)t),
                   (unsigned long long)n);
            if (r != LY_OK)
                rc = fail("purge of %s failed: %s", ly_purge_table_name((enum ly_purge_table)t),
                          ly_err_str(r));
        }
        fflush(stdout);
    }
    close_session(&s);
    return rc;
}

int ly_ctl_run(const char *config_path, int argc, char **argv)
{
    if (argc < 1)
        return usage_error("a command is needed");
    const char *cmd = argv[0];
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(config_path, argc, argv);
    if (strcmp(cmd, "bootstrap") == 0)
        return cmd_bootstrap(config_path, argc, argv);
    if (strcmp(cmd, "config") == 0)
        return cmd_config(config_path, argc, argv);
    if (strcmp(cmd, "keygen") == 0)
        return cmd_keygen(argc, argv);
    if (strcmp(cmd, "user") == 0)
        return cmd_user(config_path, argc, argv);
    if (strcmp(cmd, "purge") == 0)
        return cmd_purge(config_path, argc, argv);
    if (strcmp(cmd, "key") == 0)
        return cmd_key(config_path, argc, argv);
    return usage_error("unknown command '%s'", cmd);
}
