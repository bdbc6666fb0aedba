/*
 * db: the worker's one MariaDB connection, its cached prepared statements,
 * and transactions. Only src/db/db.c includes <mysql.h>.
 *
 * Statements are keyed by the address of their SQL text, which must be a
 * string literal (static storage): the cache never copies or hashes text.
 * Times cross this interface as Unix seconds (int64_t), for every second of
 * years 1 to 9999 (SPEC §3). A time parameter is LY_DB_T(t), sent as a
 * DATETIME; a DATETIME, TIMESTAMP or DATE column comes back as LY_DB_INT
 * seconds (DATETIME(3) fractions dropped), so ly_db_int reads it. The
 * session runs in UTC. The server's FROM_UNIXTIME and UNIX_TIMESTAMP end in
 * 2038 (NULL beyond), so the SQL never uses them (tests/tools/check-sql-time.sh),
 * and arithmetic on times is done in C: bind now - window, not NOW() - INTERVAL.
 *
 * A lost connection (server restart) is closed and opened again on the next
 * call; while the server is down calls fail fast with LY_E_UNAVAILABLE.
 */
#ifndef LY_DB_H
#define LY_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/config.h"
#include "lanyard/log.h"

struct ly_db;

enum ly_db_kind { LY_DB_NULL = 0, LY_DB_INT, LY_DB_TEXT, LY_DB_BLOB, LY_DB_TIME };

struct ly_db_value {
    enum ly_db_kind kind;
    int64_t i;     /* INT; TIME: Unix seconds (parameters only) */
    const char *s; /* TEXT: NUL-terminated in results; BLOB: len bytes */
    size_t len;
};

#define LY_DB_I(v)    ((struct ly_db_value){.kind = LY_DB_INT, .i = (int64_t)(v)})
#define LY_DB_T(t)    ((struct ly_db_value){.kind = LY_DB_TIME, .i = (int64_t)(t)})
#define LY_DB_S(v)    ly_db_text(v)
#define LY_DB_B(p, n) ((struct ly_db_value){.kind = LY_DB_BLOB, .s = (const char *)(p), .len = (n)})
#define LY_DB_NUL     ((struct ly_db_value){.kind = LY_DB_NULL})

static inline struct ly_db_value ly_db_text(const char *s)
{
    struct ly_db_value v = {.kind = s ? LY_DB_TEXT : LY_DB_NULL, .s = s, .len = 0};
    return v;
}

struct ly_db_result {
    size_t n_rows, n_cols;
    struct ly_db_value *cells; /* row-major, in the arena given to ly_db_exec */
    uint64_t affected;         /* rows changed by INSERT/UPDATE/DELETE */
    uint64_t insert_id;
};

/*
 * The cell at (row, col): integer and time columns are LY_DB_INT (times as
 * Unix seconds), others TEXT/BLOB, NULL is LY_DB_NULL.
 */
static inline const struct ly_db_value *ly_db_cell(const struct ly_db_result *r, size_t row,
                                                   size_t col)
{
    return &r->cells[row * r->n_cols + col];
}

/* Text of a cell or NULL; integer of a cell or fallback. */
const char *ly_db_str(const struct ly_db_result *r, size_t row, size_t col);
int64_t ly_db_int(const struct ly_db_result *r, size_t row, size_t col, int64_t fallback);

/* A handle for cfg->database (borrowed; must outlive the handle). No connection yet. */
struct ly_db *ly_db_new(const struct ly_config *cfg, const struct ly_log *log);
void ly_db_free(struct ly_db *db);

/* Connect now if not connected. LY_OK or LY_E_UNAVAILABLE. */
int ly_db_connect(struct ly_db *db);

/*
 * A round trip to the server that a Galera node outside the primary
 * component fails (wsrep_ready). LY_OK or LY_E_UNAVAILABLE. What the answer
 * holds is allocated in a (the request's arena: health makes no allocation
 * of its own).
 */
int ly_db_ping(struct ly_db *db, struct ly_arena *a);

/*
 * Prepare (once per connection) and execute sql with params. Rows, if any,
 * are fetched into res (cells allocated in a). res may be NULL.
 * Returns LY_OK; LY_E_CONFLICT on a duplicate key; LY_E_NOT_FOUND when a foreign key
 * names a row that is gone; LY_E_UNAVAILABLE when the
 * server is unreachable; LY_E_RETRY when a deadlock or lock wait ended the
 * transaction (roll back and run it again: the router does, for handlers);
 * LY_E_INTERNAL otherwise (logged, without parameter values), among them a
 * LY_DB_T outside years 1..9999 and a stored time that cannot be read (never
 * NULL in its place: a NULL time may mean "never").
 * On failure res is untouched.
 */
int ly_db_exec(struct ly_db *db, struct ly_arena *a, const char *sql,
               const struct ly_db_value *params, size_t n_params, struct ly_db_result *res);

/* ly_db_exec for a statement that finds one row: LY_E_NOT_FOUND when it finds none (or more). */
int ly_db_exec_one(struct ly_db *db, struct ly_arena *a, const char *sql,
                   const struct ly_db_value *params, size_t n_params, struct ly_db_result *res);

/*
 * A statement whose effect stands whatever the caller's unit of work does
 * (an attempt counted against a throttle): it commits on its own, at once,
 * holding its row locks only while it runs. Allowed outside a unit and in a
 * unit that has not written yet; a unit that only read so far has its
 * snapshot ended and its transaction started again by its next statement.
 * After the unit wrote, it is a programming error (as in ly_db_begin).
 */
int ly_db_exec_autonomous(struct ly_db *db, struct ly_arena *a, const char *sql,
                          const struct ly_db_value *params, size_t n_params,
                          struct ly_db_result *res);

/* Run one statement that is not prepared (DDL of migrations). No results. */
int ly_db_exec_script(struct ly_db *db, const char *sql, size_t len, char *err, size_t errlen);

/*
 * The unit of work: one per request (the API layer's dispatcher), per
 * lanyardctl command, per migration step. Stores never begin or commit;
 * they run statements inside the caller's unit.
 *
 * ly_db_begin opens a unit without a round trip; the transaction starts on
 * the server with the unit's first statement, so a unit that runs none
 * costs nothing. A begin inside an open unit, a commit without one, and a
 * statement that writes or locks rows outside one are programming errors:
 * LY_E_INTERNAL with a "BUG:" log line, and an abort in sanitizer builds.
 * When the server ends the transaction (deadlock: LY_E_RETRY; lost
 * connection: LY_E_UNAVAILABLE) the unit's later statements and its commit
 * fail with that error, so nothing runs outside the transaction by mistake.
 */
int ly_db_begin(struct ly_db *db);
/* Commit the unit; LY_OK, or the error that ended it (the unit is closed either way). */
int ly_db_commit(struct ly_db *db);
/*
 * After a failed ly_db_commit: true when the COMMIT was sent and the
 * connection was lost before its answer, so the server may have committed.
 * Only a read on a new connection can tell (src/api/api.c, the witness).
 */
bool ly_db_commit_outcome_unknown(const struct ly_db *db);
/* Roll back and close the unit if one is open; safe to call always (from out: labels). */
void ly_db_rollback(struct ly_db *db);
bool ly_db_in_transaction(const struct ly_db *db);
/*
 * The caller found its unit's own work missing though no statement failed
 * (a row the unit read is not there for its UPDATE, a row it inserted is
 * not there to read back): the server ended the transaction without saying
 * so, which a Galera node can do to a transaction it aborts in a lock wait
 * (doc/decisions.md). Logs it, makes the unit dead and returns LY_E_RETRY,
 * so that the request runs again from the start.
 */
int ly_db_unit_lost(struct ly_db *db, const char *what);

#endif
