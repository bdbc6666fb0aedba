#include "build-config.h"
#include "banned.h"

#include "lanyard/migrate.h"

#include <string.h>
#include <time.h>

#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/rand.h"

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT UNSIGNED NOT NULL PRIMARY KEY,"
    " name VARCHAR(255) NOT NULL,"
    " applied_at DATETIME NOT NULL"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

static const char lock_sql[] = "SELECT GET_LOCK('lanyard_migrate', 30)";
static const char unlock_sql[] = "SELECT RELEASE_LOCK('lanyard_migrate')";
static const char applied_sql[] =
    "SELECT version, name, applied_at FROM schema_migrations ORDER BY version";
static const char record_sql[] =
    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)";
static const char secret_sql[] = "INSERT IGNORE INTO settings (name, value) VALUES (?, ?)";

/* Run the statements of one step one by one: each ends with ';' at a line end. */
static int run_step(struct ly_db *db, const struct ly_migration *m, char *err, size_t errlen)
{
    const char *p = m->sql;
    while (*p != '\0') {
        const char *end = strstr(p, ";\n");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        /* Skip statements that are only comments and white space. */
        bool empty = true;
        for (const char *q = p; q < p + len; q++) {
            if (*q == '-' && q + 1 < p + len && q[1] == '-') {
                while (q < p + len && *q != '\n')
                    q++;
                continue;
            }
            if (*q != ' ' && *q != '\n' && *q != '\t' && *q != '\r') {
                empty = false;
                break;
            }
        }
        if (!empty) {
            char msg[512];
            int r = ly_db_exec_script(db, p, len, msg, sizeof(msg));
            if (r != LY_OK) {
                snprintf(err, errlen, "migration %s failed: %s", m->name, msg);
                return r;
            }
        }
        p = end ? end + 2 : p + len;
    }
    return LY_OK;
}

static int read_applied(struct ly_db *db, struct ly_arena *a, struct ly_db_result *res, char *err,
                        size_t errlen)
{
    int r = ly_db_exec_script(db, create_table_sql, sizeof(create_table_sql) - 1, err, errlen);
    if (r != LY_OK)
        return r;
    r = ly_db_exec(db, a, applied_sql, NULL, 0, res);
    if (r != LY_OK)
        snprintf(err, errlen, "cannot read schema_migrations: %s", ly_err_str(r));
    return r;
}

static bool is_applied(const struct ly_db_result *res, unsigned version)
{
    for (size_t i = 0; i < res->n_rows; i++)
        if (ly_db_int(res, i, 0, -1) == (int64_t)version)
            return true;
    return false;
}

static int check_not_newer(const struct ly_db_result *res, char *err, size_t errlen)
{
    unsigned known = ly_n_migrations ? ly_migrations[ly_n_migrations - 1].version : 0;
    for (size_t i = 0; i < res->n_rows; i++) {
        int64_t v = ly_db_int(res, i, 0, 0);
        if (v > (int64_t)known) {
            snprintf(err, errlen,
                     "the database schema is newer than this program knows (step %lld > %u): "
                     "upgrade lanyard",
                     (long long)v, known);
            return LY_E_CONFIG;
        }
    }
    return LY_OK;
}

static int ensure_secrets(struct ly_db *db, struct ly_arena *a, char *err, size_t errlen)
{
    /* The key that signs page tokens, shared by every worker through the database. */
    unsigned char key[32];
    ly_rand_bytes(key, sizeof(key));
    struct ly_db_value p[] = {LY_DB_S("page_token_key"), LY_DB_B(key, sizeof(key))};
    int r = ly_db_begin(db);
    if (r == LY_OK && (r = ly_db_exec(db, a, secret_sql, p, 2, NULL)) == LY_OK)
        r = ly_db_commit(db);
    ly_db_rollback(db);
    if (r != LY_OK)
        snprintf(err, errlen, "cannot store the instance secrets: %s", ly_err_str(r));
    return r;
}

int ly_migrate_apply(struct ly_db *db, FILE *out, char *err, size_t errlen)
{
    struct ly_arena a;
    struct ly_db_result res, lock;
    ly_arena_init(&a, 4096);
    int r = ly_db_exec(db, &a, lock_sql, NULL, 0, &lock);
    if (r != LY_OK || lock.n_rows != 1 || ly_db_int(&lock, 0, 0, 0) != 1) {
        snprintf(err, errlen, "cannot take the migration lock: %s",
                 r != LY_OK ? ly_err_str(r) : "another migration is running");
        if (r == LY_OK)
            r = LY_E_UNAVAILABLE;
        goto out_release;
    }
    if ((r = read_applied(db, &a, &res, err, errlen)) != LY_OK)
        goto out;
    if ((r = check_not_newer(&res, err, errlen)) != LY_OK)
        goto out;
    size_t done = 0;
    for (size_t i = 0; i < ly_n_migrations; i++) {
        const struct ly_migration *m = &ly_migrations[i];
        if (is_applied(&res, m->version))
            continue;
        if ((r = run_step(db, m, err, errlen)) != LY_OK)
            goto out;
        /* The program's clock, like every other time Lanyard stores. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct ly_db_value p[] = {LY_DB_I(m->version), LY_DB_S(m->name), LY_DB_T(ts.tv_sec)};
        if ((r = ly_db_begin(db)) == LY_OK &&
            (r = ly_db_exec(db, &a, record_sql, p, 3, NULL)) == LY_OK)
            r = ly_db_commit(db);
        ly_db_rollback(db);
        if (r != LY_OK) {
            snprintf(err, errlen, "cannot record migration %s: %s", m->name, ly_err_str(r));
            goto out;
        }
        fprintf(out, "applied %s\n", m->name);
        done++;
    }
    if ((r = ensure_secrets(db, &a, err, errlen)) != LY_OK)
        goto out;
    if (done == 0)
        fprintf(out, "schema is up to date\n");
out:
    ly_db_exec(db, &a, unlock_sql, NULL, 0, NULL);
out_release:
    ly_arena_release(&a);
    return r;
}

int ly_migrate_status(struct ly_db *db, FILE *out, char *err, size_t errlen)
{
    struct ly_arena a;
    struct ly_db_result res;
    ly_arena_init(&a, 4096);
    int r = read_applied(db, &a, &res, err, errlen);
    if (r != LY_OK)
        goto out;
    for (size_t i = 0; i < ly_n_migrations; i++) {
        const struct ly_migration *m = &ly_migrations[i];
        fprintf(out, "%-8s %s\n", is_applied(&res, m->version) ? "applied" : "pending", m->name);
    }
    r = check_not_newer(&res, err, errlen);
out:
    ly_arena_release(&a);
    return r;
}

int ly_migrate_current(struct ly_db *db, unsigned *version)
{
    struct ly_arena a;
    struct ly_db_result res;
    ly_arena_init(&a, 1024);
    int r = ly_db_exec(db, &a, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0,
                       &res);
    if (r == LY_OK && res.n_rows == 1)
        *version = (unsigned)ly_db_int(&res, 0, 0, 0);
    ly_arena_release(&a);
    return r;
}
