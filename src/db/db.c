#include "build-config.h"
#include "banned.h"

#include "lanyard/db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "lanyard/civil.h"
#include "lanyard/err.h"
#include "lanyard/mem.h"
#include "lanyard/metrics.h"

#define MAX_STMTS   256
#define MAX_COLS    40 /* the widest: an API key with the identity of /me (36) */
#define MAX_PARAMS  32
#define CELL_INLINE 256

struct cached_stmt {
    const char *sql; /* identity: the address of a string literal */
    MYSQL_STMT *stmt;
    unsigned n_cols;
    enum enum_field_types col_types[MAX_COLS];
    bool col_binary[MAX_COLS]; /* BINARY/VARBINARY/BLOB: charset 63 ("binary") */
};

/*
 * The unit of work (db.h): opened by ly_db_begin without a round trip; the
 * transaction starts on the server with the unit's first statement. A unit
 * whose transaction the server ended (a deadlock, a lost connection) is
 * dead: its remaining statements and its commit fail with that error.
 */
enum unit_state { UNIT_NONE = 0, UNIT_OPEN, UNIT_STARTED, UNIT_DEAD };

#define AUTONOMOUS_ATTEMPTS 5 /* of a statement of its own that a deadlock ended */

struct ly_db {
    const struct ly_config *cfg;
    const struct ly_log *log;
    MYSQL *conn;
    enum unit_state unit;
    int unit_err;     /* UNIT_DEAD: what ended it */
    bool unit_wrote;  /* the unit ran a statement that writes or locks */
    int64_t retry_at; /* monotonic seconds: no new connect attempt before this */
    size_t host;      /* database.hosts: the one connected, or the next to try */
    struct cached_stmt stmts[MAX_STMTS];
    size_t n_stmts;
    bool was_connected;  /* a connection was made before: the next one is a reconnect */
    bool commit_unknown; /* the last COMMIT lost its connection before its answer */
    bool wsrep;          /* the server connected to is a Galera node (wsrep_on) */
};

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

struct ly_db *ly_db_new(const struct ly_config *cfg, const struct ly_log *log)
{
    struct ly_db *db = ly_xcalloc(1, sizeof(*db));
    db->cfg = cfg;
    db->log = log;
    return db;
}

static void disconnect(struct ly_db *db)
{
    for (size_t i = 0; i < db->n_stmts; i++)
        mysql_stmt_close(db->stmts[i].stmt);
    db->n_stmts = 0;
    if (db->conn != NULL)
        mysql_close(db->conn);
    db->conn = NULL;
    /* The server dropped the transaction with the connection. */
    if (db->unit == UNIT_STARTED) {
        db->unit = UNIT_DEAD;
        db->unit_err = LY_E_UNAVAILABLE;
    }
}

void ly_db_free(struct ly_db *db)
{
    if (db == NULL)
        return;
    disconnect(db);
    free(db);
}

/* Errors after which the connection cannot be trusted and is opened again. */
static bool is_connection_error(unsigned e)
{
    switch (e) {
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_LOST_EXTENDED:
    case CR_COMMANDS_OUT_OF_SYNC:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
    case 4031: /* ER_CLIENT_INTERACTION_TIMEOUT */
        return true;
    default:
        return false;
    }
}

/*
 * Errors of a Galera node that is not part of the primary component (it
 * lost its peers, or is still joining): the node cannot serve, another one
 * may. 1047 is ER_UNKNOWN_COM_ERROR, "WSREP has not yet prepared node for
 * application use"; 1180, ER_ERROR_DURING_COMMIT, is a commit the node
 * could not replicate.
 */
static bool is_node_not_ready(unsigned e)
{
    return e == ER_UNKNOWN_COM_ERROR || e == ER_ERROR_DURING_COMMIT;
}

/* The next connect tries the next host of the list (none: the one host). */
static void next_host(struct ly_db *db)
{
    if (db->cfg->database.n_hosts > 1)
        db->host = (db->host + 1) % db->cfg->database.n_hosts;
}

static MYSQL *connect_to(struct ly_db *db, const char *host, unsigned port)
{
    const struct ly_config *cfg = db->cfg;
    MYSQL *m = mysql_init(NULL);
    if (m == NULL)
        return NULL;
    unsigned timeout = (unsigned)cfg->database.connect_timeout;
    unsigned rw_timeout = 30;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_INIT_COMMAND,
                  "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,"
                  "NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'");
    /*
     * A host list is a Galera cluster (doc/decisions.md): a read waits until
     * this node has applied what the cluster committed before it, so that a
     * write through one node (a revoked session, a disabled user) is seen at
     * once through every other.
     */
    if (cfg->database.n_hosts > 0)
        mysql_options(m, MYSQL_INIT_COMMAND, "SET SESSION wsrep_sync_wait = 1");
    if (cfg->database.tls) {
        my_bool on = 1;
        mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &on);
        mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
        if (cfg->database.ca_file != NULL && cfg->database.ca_file[0] != '\0')
            mysql_options(m, MYSQL_OPT_SSL_CA, cfg->database.ca_file);
    }
    const char *sock = cfg->database.socket;
    bool use_sock = sock != NULL && sock[0] != '\0';
    if (mysql_real_connect(m, use_sock ? "localhost" : host, cfg->database.user,
                           cfg->database.password_secret, cfg->database.name, use_sock ? 0 : port,
                           use_sock ? sock : NULL, 0) == NULL) {
        ly_log_warn(db->log, "database connection to %s failed: %s", use_sock ? sock : host,
                    mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    return m;
}

/*
 * Whether the server is a Galera node, asked once per connection: health's
 * readiness query (ly_db_ping) reads information_schema, which costs the
 * server several times a primary-key lookup, and only a Galera node needs
 * it. A server without the variable (or a failed query) is not one.
 */
static bool is_wsrep_on(MYSQL *m)
{
    bool on = false;
    if (mysql_query(m, "SELECT @@global.wsrep_on") != 0)
        return false;
    MYSQL_RES *res = mysql_store_result(m);
    if (res == NULL)
        return false;
    MYSQL_ROW row = mysql_fetch_row(res);
    on = row != NULL && row[0] != NULL && (strcmp(row[0], "1") == 0 || strcmp(row[0], "ON") == 0);
    mysql_free_result(res);
    return on;
}

int ly_db_connect(struct ly_db *db)
{
    if (db->conn != NULL)
        return LY_OK;
    /* While the server is down, answer 503 at once rather than wait on every request. */
    if (mono_now() < db->retry_at)
        return LY_E_UNAVAILABLE;
    const struct ly_config *cfg = db->cfg;
    size_t n = cfg->database.n_hosts;
    MYSQL *m = NULL;
    if (n == 0 || (cfg->database.socket != NULL && cfg->database.socket[0] != '\0')) {
        m = connect_to(db, cfg->database.host, cfg->database.port);
    } else {
        /* From the last good host on, each once: a cluster node that is down is skipped. */
        for (size_t i = 0; i < n && m == NULL; i++) {
            const struct ly_db_host *h = &cfg->database.hosts[db->host % n];
            m = connect_to(db, h->name, h->port ? h->port : cfg->database.port);
            if (m == NULL)
                next_host(db);
        }
    }
    if (m == NULL) {
        ly_metrics_count(LY_M_DB_ERR_CONNECT);
        db->retry_at = mono_now() + 1;
        return LY_E_UNAVAILABLE;
    }
    db->wsrep = is_wsrep_on(m);
    if (db->was_connected)
        ly_metrics_count(LY_M_DB_RECONNECTS);
    db->was_connected = true;
    db->conn = m;
    db->retry_at = 0;
    return LY_OK;
}

static int stmt_error(struct ly_db *db, unsigned e, const char *what, const char *msg)
{
    if (e == ER_DUP_ENTRY)
        return LY_E_CONFLICT;
    /* A row that refers to one deleted meanwhile (a key for a membership just ended). */
    if (e == ER_NO_REFERENCED_ROW_2 || e == ER_NO_REFERENCED_ROW)
        return LY_E_NOT_FOUND;
    if (e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT) {
        /* InnoDB rolled the transaction back (a lock wait timeout only the statement). */
        ly_log_info(db->log, "%s: transaction aborted (%u)", what, e);
        ly_metrics_count(LY_M_DB_ERR_DEADLOCK);
        if (db->unit == UNIT_STARTED) {
            db->unit = UNIT_DEAD;
            db->unit_err = LY_E_RETRY;
        }
        return LY_E_RETRY;
    }
    if (is_connection_error(e)) {
        ly_log_warn(db->log, "%s: connection lost (%u): %s", what, e, msg);
        ly_metrics_count(LY_M_DB_ERR_CONNECTION);
        disconnect(db);
        next_host(db);
        return LY_E_UNAVAILABLE;
    }
    if (is_node_not_ready(e)) {
        /* A 503 like a server that is down; the next connect goes to another node. */
        ly_log_warn(db->log, "%s: database node not ready (%u): %s", what, e, msg);
        ly_metrics_count(LY_M_DB_ERR_CONNECTION);
        disconnect(db);
        next_host(db);
        return LY_E_UNAVAILABLE;
    }
    ly_log_error(db->log, "%s: database error %u: %s", what, e, msg);
    ly_metrics_count(LY_M_DB_ERR_OTHER);
    return LY_E_INTERNAL;
}

static int find_stmt(struct ly_db *db, const char *sql, struct cached_stmt **out)
{
    for (size_t i = 0; i < db->n_stmts; i++) {
        if (db->stmts[i].sql == sql) {
            *out = &db->stmts[i];
            return LY_OK;
        }
    }
    if (db->n_stmts == MAX_STMTS) {
        ly_log_error(db->log, "statement cache full");
        return LY_E_INTERNAL;
    }
    MYSQL_STMT *st = mysql_stmt_init(db->conn);
    if (st == NULL)
        return stmt_error(db, mysql_errno(db->conn), "prepare", mysql_error(db->conn));
    if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) {
        unsigned e = mysql_stmt_errno(st);
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", mysql_stmt_error(st));
        mysql_stmt_close(st);
        return stmt_error(db, e, "prepare", msg);
    }
    struct cached_stmt *c = &db->stmts[db->n_stmts];
    c->sql = sql;
    c->stmt = st;
    c->n_cols = mysql_stmt_field_count(st);
    if (c->n_cols > MAX_COLS) {
        mysql_stmt_close(st);
        ly_log_error(db->log, "statement has too many columns");
        return LY_E_INTERNAL;
    }
    MYSQL_RES *meta = mysql_stmt_result_metadata(st);
    if (meta != NULL) {
        MYSQL_FIELD *f = mysql_fetch_fields(meta);
        for (unsigned i = 0; i < c->n_cols; i++) {
            c->col_types[i] = f[i].type;
            c->col_binary[i] = f[i].charsetnr == 63;
        }
        mysql_free_result(meta);
    }
    db->n_stmts++;
    *out = c;
    return LY_OK;
}

static bool is_int_type(enum enum_field_types t)
{
    return t == MYSQL_TYPE_TINY || t == MYSQL_TYPE_SHORT || t == MYSQL_TYPE_LONG ||
           t == MYSQL_TYPE_LONGLONG || t == MYSQL_TYPE_INT24 || t == MYSQL_TYPE_YEAR;
}

static bool is_time_type(enum enum_field_types t)
{
    return t == MYSQL_TYPE_DATETIME || t == MYSQL_TYPE_TIMESTAMP || t == MYSQL_TYPE_DATE ||
           t == MYSQL_TYPE_DATETIME2 || t == MYSQL_TYPE_TIMESTAMP2 || t == MYSQL_TYPE_NEWDATE;
}

/*
 * Unix seconds as a DATETIME of the session's time zone, which is UTC
 * (ly_db_connect sets it). MYSQL_TIME rather than FROM_UNIXTIME(?): the
 * server's conversions end in 2038 (SPEC §3 wants every time to 9999).
 */
static bool time_to_mysql(int64_t t, MYSQL_TIME *out)
{
    struct ly_civil c;
    if (ly_time_to_civil(t, &c) != 0)
        return false;
    memset(out, 0, sizeof(*out));
    out->year = (unsigned)c.year;
    out->month = (unsigned)c.month;
    out->day = (unsigned)c.day;
    out->hour = (unsigned)c.hour;
    out->minute = (unsigned)c.minute;
    out->second = (unsigned)c.second;
    out->time_type = MYSQL_TIMESTAMP_DATETIME;
    return true;
}

/* The Unix seconds of a DATETIME, TIMESTAMP or DATE value; fractions are dropped. */
static bool time_from_mysql(const MYSQL_TIME *m, int64_t *out)
{
    if (m->neg || m->time_type == MYSQL_TIMESTAMP_TIME || m->time_type == MYSQL_TIMESTAMP_ERROR ||
        m->time_type == MYSQL_TIMESTAMP_NONE)
        return false;
    struct ly_civil c = {(int)m->year, (int)m->month, (int)m->day, 0, 0, 0};
    if (m->time_type == MYSQL_TIMESTAMP_DATETIME) {
        c.hour = (int)m->hour;
        c.minute = (int)m->minute;
        c.second = (int)m->second;
    }
    return ly_civil_to_time(&c, out) == 0;
}

static int fetch_rows(struct ly_db *db, struct cached_stmt *c, struct ly_arena *a,
                      struct ly_db_result *res)
{
    MYSQL_STMT *st = c->stmt;
    unsigned n = c->n_cols;
    MYSQL_BIND bind[MAX_COLS];
    long long ints[MAX_COLS];
    MYSQL_TIME times[MAX_COLS];
    char bufs[MAX_COLS][CELL_INLINE];
    unsigned long lens[MAX_COLS];
    my_bool nulls[MAX_COLS], errs[MAX_COLS];
    memset(bind, 0, sizeof(bind));
    for (unsigned i = 0; i < n; i++) {
        bind[i].is_null = &nulls[i];
        bind[i].length = &lens[i];
        bind[i].error = &errs[i];
        if (is_int_type(c->col_types[i])) {
            bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
            bind[i].buffer = &ints[i];
        } else if (is_time_type(c->col_types[i])) {
            bind[i].buffer_type = MYSQL_TYPE_DATETIME;
            bind[i].buffer = &times[i];
            bind[i].buffer_length = sizeof(times[i]);
        } else {
            bind[i].buffer_type = c->col_binary[i] ? MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING;
            bind[i].buffer = bufs[i];
            bind[i].buffer_length = CELL_INLINE;
        }
    }
    if (mysql_stmt_bind_result(st, bind) != 0 || mysql_stmt_store_result(st) != 0)
        return stmt_error(db, mysql_stmt_errno(st), "fetch", mysql_stmt_error(st));
    size_t rows = (size_t)mysql_stmt_num_rows(st);
    struct ly_db_value *cells = ly_arena_zalloc(a, sizeof(*cells) * (rows * n + 1));
    size_t r = 0;
    for (;;) {
        /*
         * Connector/C reads each column's error flag after the fetch but sets
         * it only for a truncated value (valgrind: a jump on uninitialised
         * memory): it starts each row at 0.
         */
        memset(errs, 0, sizeof(errs));
        int rc = mysql_stmt_fetch(st);
        if (rc == MYSQL_NO_DATA)
            break;
        if (rc == 1) {
            int e = stmt_error(db, mysql_stmt_errno(st), "fetch", mysql_stmt_error(st));
            if (db->conn != NULL)
                mysql_stmt_free_result(st);
            return e;
        }
        if (r >= rows)
            break;
        for (unsigned i = 0; i < n; i++) {
            struct ly_db_value *v = &cells[r * n + i];
            if (nulls[i]) {
                v->kind = LY_DB_NULL;
            } else if (bind[i].buffer_type == MYSQL_TYPE_LONGLONG) {
                v->kind = LY_DB_INT;
                v->i = ints[i];
            } else if (bind[i].buffer_type == MYSQL_TYPE_DATETIME) {
                /* Never NULL for a time that cannot be read: NULL may mean "never". */
                if (!time_from_mysql(&times[i], &v->i)) {
                    mysql_stmt_free_result(st);
                    ly_log_error(db->log, "fetch: column %u holds a time outside years 1..9999", i);
                    return LY_E_INTERNAL;
                }
                v->kind = LY_DB_INT;
            } else {
                char *s = ly_arena_alloc(a, lens[i] + 1);
                if (lens[i] > CELL_INLINE) {
                    MYSQL_BIND one;
                    memset(&one, 0, sizeof(one));
                    one.buffer_type = bind[i].buffer_type;
                    one.buffer = s;
                    one.buffer_length = lens[i];
                    if (mysql_stmt_fetch_column(st, &one, i, 0) != 0) {
                        mysql_stmt_free_result(st);
                        return stmt_error(db, mysql_stmt_errno(st), "fetch", mysql_stmt_error(st));
                    }
                } else {
                    memcpy(s, bufs[i], lens[i]);
                }
                s[lens[i]] = '\0';
                v->kind = bind[i].buffer_type == MYSQL_TYPE_BLOB ? LY_DB_BLOB : LY_DB_TEXT;
                v->s = s;
                v->len = lens[i];
            }
        }
        r++;
    }
    mysql_stmt_free_result(st);
    res->n_rows = r;
    res->n_cols = n;
    res->cells = cells;
    return LY_OK;
}

static int exec_once(struct ly_db *db, struct ly_arena *a, const char *sql,
                     const struct ly_db_value *params, size_t n_params, struct ly_db_result *res)
{
    int r = ly_db_connect(db);
    if (r != LY_OK)
        return r;
    struct cached_stmt *c = NULL;
    if ((r = find_stmt(db, sql, &c)) != LY_OK)
        return r;
    MYSQL_STMT *st = c->stmt;
    if (n_params != mysql_stmt_param_count(st) || n_params > MAX_PARAMS) {
        ly_log_error(db->log, "statement expects %lu parameters, got %zu",
                     mysql_stmt_param_count(st), n_params);
        return LY_E_INTERNAL;
    }
    MYSQL_BIND bind[MAX_PARAMS];
    unsigned long lens[MAX_PARAMS];
    long long ints[MAX_PARAMS];
    MYSQL_TIME times[MAX_PARAMS];
    memset(bind, 0, sizeof(bind));
    for (size_t i = 0; i < n_params; i++) {
        const struct ly_db_value *v = &params[i];
        switch (v->kind) {
        case LY_DB_NULL:
            bind[i].buffer_type = MYSQL_TYPE_NULL;
            break;
        case LY_DB_INT:
            ints[i] = v->i;
            bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
            bind[i].buffer = &ints[i];
            break;
        case LY_DB_TIME:
            if (!time_to_mysql(v->i, &times[i])) {
                ly_log_error(db->log, "parameter %zu: a time outside years 1..9999", i);
                return LY_E_INTERNAL;
            }
            bind[i].buffer_type = MYSQL_TYPE_DATETIME;
            bind[i].buffer = &times[i];
            bind[i].buffer_length = sizeof(times[i]);
            break;
        case LY_DB_TEXT:
        case LY_DB_BLOB:
            lens[i] = (unsigned long)(v->kind == LY_DB_TEXT ? strlen(v->s) : v->len);
            bind[i].buffer_type = v->kind == LY_DB_TEXT ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
            bind[i].buffer = (void *)v->s;
            bind[i].buffer_length = lens[i];
            bind[i].length = &lens[i];
            break;
        }
    }
    if (n_params > 0 && mysql_stmt_bind_param(st, bind) != 0)
        return stmt_error(db, mysql_stmt_errno(st), "bind", mysql_stmt_error(st));
    if (mysql_stmt_execute(st) != 0)
        return stmt_error(db, mysql_stmt_errno(st), "execute", mysql_stmt_error(st));
    struct ly_db_result tmp = {0};
    if (c->n_cols > 0) {
        if ((r = fetch_rows(db, c, a, &tmp)) != LY_OK)
            return r;
    } else {
        tmp.affected = (uint64_t)mysql_stmt_affected_rows(st);
        tmp.insert_id = (uint64_t)mysql_stmt_insert_id(st);
    }
    /*
     * Every reply says whether the session is in a transaction. A unit's
     * statement answered outside one ran after the server ended the unit's
     * transaction without telling the client (a Galera node's abort during
     * a lock wait, doc/decisions.md): what it read is not the unit's view,
     * and what it wrote committed on its own. Taken here, before the
     * caller's next statement can write outside the unit.
     */
    if (db->unit == UNIT_STARTED && (db->conn->server_status & SERVER_STATUS_IN_TRANS) == 0)
        return ly_db_unit_lost(db, "a statement answered outside its unit's transaction");
    if (res != NULL)
        *res = tmp;
    return LY_OK;
}

/* A programming error (STYLE §6): logged; in debug (sanitizer) builds, the process stops. */
static int bug(const struct ly_db *db, const char *what)
{
    ly_log_error(db->log, "BUG: %s", what);
#ifdef LY_SANITIZE
    abort();
#endif
    return LY_E_INTERNAL;
}

/* true for a statement that changes or locks rows: it belongs in a unit of work. */
static bool writes(const char *sql)
{
    while (*sql == ' ' || *sql == '(')
        sql++;
    return strncmp(sql, "INSERT", 6) == 0 || strncmp(sql, "UPDATE", 6) == 0 ||
           strncmp(sql, "DELETE", 6) == 0 || strncmp(sql, "REPLACE", 7) == 0 ||
           strstr(sql, " FOR UPDATE") != NULL || strstr(sql, " LOCK IN SHARE MODE") != NULL;
}

static int simple(struct ly_db *db, const char *what)
{
    int r = ly_db_connect(db);
    if (r != LY_OK)
        return r;
    if (mysql_query(db->conn, what) != 0)
        return stmt_error(db, mysql_errno(db->conn), what, mysql_error(db->conn));
    return LY_OK;
}

/* The first statement of a unit starts its transaction on the server. */
static int start_unit(struct ly_db *db)
{
    /* A dead idle connection is noticed here, before any work is done. */
    int r = simple(db, "START TRANSACTION");
    if (r == LY_E_UNAVAILABLE && db->conn == NULL)
        r = simple(db, "START TRANSACTION");
    if (r == LY_OK)
        db->unit = UNIT_STARTED;
    return r;
}

static int exec_retrying(struct ly_db *db, struct ly_arena *a, const char *sql,
                         const struct ly_db_value *params, size_t n_params,
                         struct ly_db_result *res);

int ly_db_exec(struct ly_db *db, struct ly_arena *a, const char *sql,
               const struct ly_db_value *params, size_t n_params, struct ly_db_result *res)
{
    int r;
    switch (db->unit) {
    case UNIT_NONE:
        if (writes(sql))
            return bug(db, "a statement that writes or locks outside a unit of work");
        break;
    case UNIT_OPEN:
        if ((r = start_unit(db)) != LY_OK) {
            db->unit = UNIT_DEAD;
            db->unit_err = r;
            return r;
        }
        break;
    case UNIT_STARTED:
        break;
    case UNIT_DEAD:
        return db->unit_err;
    }
    if (db->unit != UNIT_NONE && writes(sql))
        db->unit_wrote = true;
    return exec_retrying(db, a, sql, params, n_params, res);
}

int ly_db_exec_one(struct ly_db *db, struct ly_arena *a, const char *sql,
                   const struct ly_db_value *params, size_t n_params, struct ly_db_result *res)
{
    struct ly_db_result r1;
    int r = ly_db_exec(db, a, sql, params, n_params, &r1);
    if (r != LY_OK)
        return r;
    if (r1.n_rows != 1)
        return LY_E_NOT_FOUND;
    *res = r1;
    return LY_OK;
}

int ly_db_exec_autonomous(struct ly_db *db, struct ly_arena *a, const char *sql,
                          const struct ly_db_value *params, size_t n_params,
                          struct ly_db_result *res)
{
    int r;
    switch (db->unit) {
    case UNIT_NONE:
    case UNIT_OPEN: /* no transaction on the server yet: the statement commits on its own */
        break;
    case UNIT_STARTED:
        if (db->unit_wrote)
            return bug(db, "an autonomous statement after its unit wrote");
        /* Only reads so far: end their snapshot, and start the transaction again after. */
        if ((r = simple(db, "COMMIT")) != LY_OK) {
            db->unit = UNIT_DEAD;
            db->unit_err = r;
            return r;
        }
        db->unit = UNIT_OPEN;
        break;
    case UNIT_DEAD:
        return db->unit_err;
    }
    /*
     * The statement is a transaction of its own: one that a deadlock or a
     * Galera certification failure (1213) ended applied nothing, so it runs
     * again here, a bounded number of times. Handing LY_E_RETRY to the
     * request's retry would run the whole handler again and count what was
     * counted before it a second time (the address throttle, then the
     * account's: a sign-in 429 one attempt early). The server's own retry
     * (wsrep_retry_autocommit, 1 by default) is not enough with 20
     * attempts on one row through two nodes.
     */
    enum unit_state before = db->unit;
    for (int attempt = 1;; attempt++) {
        int r2 = exec_retrying(db, a, sql, params, n_params, res);
        if (r2 != LY_E_RETRY || attempt == AUTONOMOUS_ATTEMPTS)
            return r2;
        /* Nothing of the unit was on the server (UNIT_NONE or UNIT_OPEN): it lives on. */
        db->unit = before;
        db->unit_err = LY_OK;
        ly_log_info(db->log, "autonomous statement aborted, running it again (attempt %d)",
                    attempt + 1);
    }
}

/* One statement (the unit, if any, already started), retried once on a connection that died idle.
 */
static int exec_retrying(struct ly_db *db, struct ly_arena *a, const char *sql,
                         const struct ly_db_value *params, size_t n_params,
                         struct ly_db_result *res)
{
    int r;
    bool was_connected = db->conn != NULL;
    bool in_tx = db->unit == UNIT_STARTED;
    r = exec_once(db, a, sql, params, n_params, res);
    /*
     * A connection that died while idle (the server restarted between two
     * requests) is opened again and the statement retried once. Inside a
     * transaction the work so far is gone, so the caller must see the error.
     */
    if (r == LY_E_UNAVAILABLE && was_connected && db->conn == NULL && !in_tx)
        r = exec_once(db, a, sql, params, n_params, res);
    /*
     * A unit whose statement failed for a reason other than the data (a
     * duplicate key is the caller's to answer) does no more work: its
     * commit reports the failure, and nothing runs outside it by mistake.
     */
    if (db->unit != UNIT_NONE && db->unit != UNIT_DEAD &&
        (r == LY_E_UNAVAILABLE || r == LY_E_RETRY || r == LY_E_INTERNAL)) {
        db->unit = UNIT_DEAD;
        db->unit_err = r;
    }
    return r;
}

int ly_db_exec_script(struct ly_db *db, const char *sql, size_t len, char *err, size_t errlen)
{
    int r = ly_db_connect(db);
    if (r != LY_OK) {
        snprintf(err, errlen, "cannot connect to the database");
        return r;
    }
    if (mysql_real_query(db->conn, sql, (unsigned long)len) != 0) {
        snprintf(err, errlen, "%s", mysql_error(db->conn));
        return stmt_error(db, mysql_errno(db->conn), "script", mysql_error(db->conn));
    }
    /* Drain any result sets the script produced. */
    do {
        MYSQL_RES *res = mysql_store_result(db->conn);
        if (res != NULL)
            mysql_free_result(res);
    } while (mysql_next_result(db->conn) == 0);
    if (mysql_errno(db->conn) != 0) {
        snprintf(err, errlen, "%s", mysql_error(db->conn));
        return stmt_error(db, mysql_errno(db->conn), "script", mysql_error(db->conn));
    }
    return LY_OK;
}

int ly_db_ping(struct ly_db *db, struct ly_arena *a)
{
    struct ly_db_result res;
    if (ly_db_connect(db) != LY_OK)
        return LY_E_UNAVAILABLE;
    /*
     * On a Galera node, not SELECT 1: a node outside the primary component
     * answers a statement that names no table. This one names a table, so
     * such a node refuses it (1047, not ready); a node that lets it through
     * still says wsrep_ready OFF; with wsrep_on OFF since the connection was
     * made there is no such row. Any other server: SELECT 1 is the round trip.
     */
    bool galera = db->wsrep;
    int r = ly_db_exec(db, a,
                       galera ? "SELECT s.VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS s"
                                " JOIN information_schema.GLOBAL_VARIABLES v"
                                " ON v.VARIABLE_NAME = 'WSREP_ON' AND v.VARIABLE_VALUE = 'ON'"
                                " WHERE s.VARIABLE_NAME = 'WSREP_READY'"
                              : "SELECT 1",
                       NULL, 0, &res);
    if (r == LY_OK && galera && res.n_rows > 0) {
        const char *v = ly_db_str(&res, 0, 0);
        if (v == NULL || strcmp(v, "ON") != 0) {
            disconnect(db);
            next_host(db);
            r = LY_E_UNAVAILABLE;
        }
    }
    return r == LY_OK ? LY_OK : LY_E_UNAVAILABLE;
}

int ly_db_begin(struct ly_db *db)
{
    if (db->unit != UNIT_NONE)
        return bug(db, "a unit of work begun inside another");
    db->unit = UNIT_OPEN;
    db->unit_err = LY_OK;
    db->unit_wrote = false;
    db->commit_unknown = false;
    return LY_OK;
}

/*
 * The server may still hold a dead unit's transaction: a lock wait timeout
 * ends only its statement, an error other than the data's ends none, and a
 * lost unit (ly_db_unit_lost) may be there whole. It is rolled back, or the
 * next unit's START TRANSACTION would commit it.
 */
static void roll_back(struct ly_db *db)
{
    if (db->conn != NULL && mysql_query(db->conn, "ROLLBACK") != 0)
        stmt_error(db, mysql_errno(db->conn), "rollback", mysql_error(db->conn));
}

int ly_db_commit(struct ly_db *db)
{
    int r = LY_OK;
    switch (db->unit) {
    case UNIT_NONE:
        return bug(db, "a commit without a unit of work");
    case UNIT_OPEN: /* no statement ran: nothing to send */
        break;
    case UNIT_STARTED:
        /* A unit that started has its connection (losing it made the unit dead). */
        if (mysql_query(db->conn, "COMMIT") != 0) {
            unsigned e = mysql_errno(db->conn);
            /* Sent, then the connection went: the server may have committed before it did. */
            db->commit_unknown = is_connection_error(e);
            r = stmt_error(db, e, "COMMIT", mysql_error(db->conn));
        }
        break;
    case UNIT_DEAD:
        r = db->unit_err;
        roll_back(db);
        break;
    }
    db->unit = UNIT_NONE;
    return r;
}

bool ly_db_commit_outcome_unknown(const struct ly_db *db)
{
    return db->commit_unknown;
}

void ly_db_rollback(struct ly_db *db)
{
    if (db->unit == UNIT_STARTED || db->unit == UNIT_DEAD)
        roll_back(db);
    db->unit = UNIT_NONE;
}

bool ly_db_in_transaction(const struct ly_db *db)
{
    return db->unit != UNIT_NONE;
}

int ly_db_unit_lost(struct ly_db *db, const char *what)
{
    if (db->unit == UNIT_DEAD)
        return db->unit_err;
    if (db->unit != UNIT_STARTED)
        return bug(db, "a lost unit of work that had not started");
    ly_log_warn(db->log, "%s: the transaction ended without an error; running it again", what);
    ly_metrics_count(LY_M_DB_ERR_DEADLOCK);
    db->unit = UNIT_DEAD;
    db->unit_err = LY_E_RETRY;
    return LY_E_RETRY;
}

const char *ly_db_str(const struct ly_db_result *r, size_t row, size_t col)
{
    const struct ly_db_value *v = ly_db_cell(r, row, col);
    return (v->kind == LY_DB_TEXT || v->kind == LY_DB_BLOB) ? v->s : NULL;
}

int64_t ly_db_int(const struct ly_db_result *r, size_t row, size_t col, int64_t fallback)
{
    const struct ly_db_value *v = ly_db_cell(r, row, col);
    if (v->kind == LY_DB_INT)
        return v->i;
    if (v->kind == LY_DB_TEXT || v->kind == LY_DB_BLOB) {
        /* DECIMAL results arrive as text; their fraction is dropped. */
        char *end;
        errno = 0;
        long long x = strtoll(v->s, &end, 10);
        if (errno == 0 && end != v->s && (*end == '\0' || *end == '.'))
            return x;
    }
    return fallback;
}
