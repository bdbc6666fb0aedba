/*
 * sql_floor: the one-SELECT floor. Per request, one prepared primary-key
 * SELECT on a persistent MariaDB connection, on the same table and columns
 * as an API-key lookup (api_keys by id), and the fixed answer of
 * bench/floor.c: what a check that must look a credential up cannot go
 * below. The statement is prepared once per process, as lanyard's db.c
 * prepares each statement once per connection.
 *
 * Environment (bench/run.py sets it): BENCH_DB_SOCKET, BENCH_DB_USER,
 * BENCH_DB_PASSWORD_FILE, BENCH_DB_NAME, BENCH_KEY_ID (the api_keys.id
 * looked up; a missing row answers 404, which wrk counts as an error).
 */
#include "build-config.h"
#include "banned.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "floor.h"

static MYSQL *db;
static MYSQL_STMT *stmt;
static char key_id[17];
static unsigned long key_id_len;
static char out_id[17], out_account[16];
static unsigned char out_hash[32];
static MYSQL_TIME out_expires;
static unsigned long out_len[3];
static my_bool out_null[4];

static const char *need(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        fprintf(stderr, "sql_floor: %s is not set\n", name);
    return v != NULL && *v != '\0' ? v : NULL;
}

static int read_password(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(out, (int)outlen, f) == NULL) {
        fprintf(stderr, "sql_floor: cannot read %s\n", path);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

int floor_init(void)
{
    const char *sock = need("BENCH_DB_SOCKET"), *user = need("BENCH_DB_USER");
    const char *pwf = need("BENCH_DB_PASSWORD_FILE"), *name = need("BENCH_DB_NAME");
    const char *id = need("BENCH_KEY_ID");
    static const char sql[] = "SELECT id, service_account_id, secret_hash, expires_at "
                              "FROM api_keys WHERE id = ?";
    char password[256];
    MYSQL_BIND in, out[4];

    if (sock == NULL || user == NULL || pwf == NULL || name == NULL || id == NULL ||
        strlen(id) >= sizeof(key_id) || read_password(pwf, password, sizeof(password)) != 0)
        return -1;
    memcpy(key_id, id, strlen(id) + 1);
    key_id_len = (unsigned long)strlen(id);
    db = mysql_init(NULL);
    if (db == NULL || mysql_real_connect(db, NULL, user, password, name, 0, sock, 0) == NULL) {
        fprintf(stderr, "sql_floor: connect: %s\n", db ? mysql_error(db) : "out of memory");
        return -1;
    }
    stmt = mysql_stmt_init(db);
    if (stmt == NULL || mysql_stmt_prepare(stmt, sql, sizeof(sql) - 1) != 0) {
        fprintf(stderr, "sql_floor: prepare: %s\n", mysql_error(db));
        return -1;
    }
    memset(&in, 0, sizeof(in));
    in.buffer_type = MYSQL_TYPE_STRING;
    in.buffer = key_id;
    in.buffer_length = sizeof(key_id);
    in.length = &key_id_len;
    memset(out, 0, sizeof(out));
    out[0].buffer_type = MYSQL_TYPE_STRING;
    out[0].buffer = out_id;
    out[0].buffer_length = sizeof(out_id);
    out[0].length = &out_len[0];
    out[1].buffer_type = MYSQL_TYPE_STRING;
    out[1].buffer = out_account;
    out[1].buffer_length = sizeof(out_account);
    out[1].length = &out_len[1];
    out[2].buffer_type = MYSQL_TYPE_BLOB;
    out[2].buffer = out_hash;
    out[2].buffer_length = sizeof(out_hash);
    out[2].length = &out_len[2];
    out[3].buffer_type = MYSQL_TYPE_DATETIME;
    out[3].buffer = &out_expires;
    for (int i = 0; i < 4; i++)
        out[i].is_null = &out_null[i];
    if (mysql_stmt_bind_param(stmt, &in) != 0 || mysql_stmt_bind_result(stmt, out) != 0) {
        fprintf(stderr, "sql_floor: bind: %s\n", mysql_stmt_error(stmt));
        return -1;
    }
    return 0;
}

int floor_handle(FCGX_Request *req)
{
    int found = 0, r;
    (void)req;
    if (mysql_stmt_execute(stmt) != 0)
        return 503;
    while ((r = mysql_stmt_fetch(stmt)) == 0 || r == MYSQL_DATA_TRUNCATED)
        found = 1;
    mysql_stmt_free_result(stmt);
    return r == MYSQL_NO_DATA && found ? 200 : 404;
}
