/*
 * Unit tests of the unit of work (db.h) on a handle whose server is never
 * there (a socket path that does not exist): a unit opens without a round
 * trip, a nested begin, a commit without a unit and a write outside one are
 * programming errors (LY_E_INTERNAL; an abort in sanitizer builds, seen
 * from a child process), and a unit whose statement failed rolls back and
 * reports the failure at commit. The end-to-end suite shows the same rules
 * against a real MariaDB (a failed handler leaves no row behind).
 */
#include "build-config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "check.h"
#include "lanyard/arena.h"
#include "lanyard/config.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/log.h"

struct fixture {
    struct ly_config cfg;
    struct ly_log log;
    struct ly_db *db;
    struct ly_arena arena;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->cfg.database.socket = (char *)"/nonexistent/lanyard-test/mysqld.sock";
    f->cfg.database.host = (char *)"localhost";
    f->cfg.database.name = (char *)"lanyard";
    f->cfg.database.user = (char *)"lanyard";
    f->cfg.database.password_secret = (char *)"";
    f->cfg.database.connect_timeout = 1;
    ly_log_init(&f->log, "test");
    f->log.level = LY_LOG_ERROR;
    f->db = ly_db_new(&f->cfg, &f->log);
    ly_arena_init(&f->arena, 4096);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ly_db_free(f->db);
    ly_arena_release(&f->arena);
    free(f);
    return 0;
}

/* A programming error: LY_E_INTERNAL, or (sanitizer builds) the process stops. */
enum misuse {
    NESTED_BEGIN,
    COMMIT_WITHOUT_UNIT,
    WRITE_OUTSIDE,
    LOCK_OUTSIDE,
    LOST_UNSTARTED,
    LOST_OUTSIDE
};

static int misuse(struct fixture *f, enum misuse m)
{
    switch (m) {
    case NESTED_BEGIN:
        if (ly_db_begin(f->db) != LY_OK)
            return 1;
        return ly_db_begin(f->db);
    case COMMIT_WITHOUT_UNIT:
        return ly_db_commit(f->db);
    case WRITE_OUTSIDE:
        return ly_db_exec(f->db, &f->arena, "DELETE FROM sessions WHERE id = 'x'", NULL, 0, NULL);
    case LOCK_OUTSIDE:
        return ly_db_exec(f->db, &f->arena, "SELECT id FROM users WHERE id = 'x' FOR UPDATE", NULL,
                          0, NULL);
    case LOST_UNSTARTED: /* no statement ran: the server has nothing to lose */
        if (ly_db_begin(f->db) != LY_OK)
            return 1;
        return ly_db_unit_lost(f->db, "test");
    case LOST_OUTSIDE:
        return ly_db_unit_lost(f->db, "test");
    }
    return 1;
}

static void test_misuse_is_a_bug(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *desc;
        enum misuse m;
    } cases[] = {
        {"nested begin", NESTED_BEGIN},
        {"commit without a unit", COMMIT_WITHOUT_UNIT},
        {"a write outside a unit", WRITE_OUTSIDE},
        {"a locking read outside a unit", LOCK_OUTSIDE},
        {"a unit lost before it started", LOST_UNSTARTED},
        {"a unit lost outside one", LOST_OUTSIDE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
#ifdef LY_SANITIZE
        pid_t pid = fork();
        if (pid == 0) {
            /* the abort is the expected end; its log line goes nowhere */
            f->log.level = (enum ly_log_level) - 1;
            misuse(f, cases[i].m);
            _exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(cases[i].desc, WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
#else
        f->log.level = (enum ly_log_level) - 1;
        CHECK(cases[i].desc, misuse(f, cases[i].m) == LY_E_INTERNAL);
        f->log.level = LY_LOG_ERROR;
#endif
        ly_db_rollback(f->db);
        CHECK(cases[i].desc, !ly_db_in_transaction(f->db));
    }
}

static void test_unit_costs_nothing_until_used(void **state)
{
    struct fixture *f = *state;
    CHECK("begin", ly_db_begin(f->db) == LY_OK);
    CHECK("open", ly_db_in_transaction(f->db));
    /* No server is there: a commit that needed one would fail. */
    CHECK("commit of an empty unit", ly_db_commit(f->db) == LY_OK);
    CHECK("closed", !ly_db_in_transaction(f->db));
    CHECK("begin again", ly_db_begin(f->db) == LY_OK);
    ly_db_rollback(f->db);
    CHECK("rolled back", !ly_db_in_transaction(f->db));
    ly_db_rollback(f->db); /* safe always */
    CHECK("reads need no unit",
          ly_db_exec(f->db, &f->arena, "SELECT 1", NULL, 0, NULL) == LY_E_UNAVAILABLE);
}

static void test_failed_unit_reports_at_commit(void **state)
{
    struct fixture *f = *state;
    f->log.level = (enum ly_log_level) - 1; /* the refused connection is logged as a warning */
    CHECK("begin", ly_db_begin(f->db) == LY_OK);
    CHECK("statement fails",
          ly_db_exec(f->db, &f->arena, "UPDATE users SET disabled = 1 WHERE id = 'x'", NULL, 0,
                     NULL) == LY_E_UNAVAILABLE);
    CHECK("later statements fail alike",
          ly_db_exec(f->db, &f->arena, "SELECT 1", NULL, 0, NULL) == LY_E_UNAVAILABLE);
    CHECK("a dead unit lost keeps its own error",
          ly_db_unit_lost(f->db, "test") == LY_E_UNAVAILABLE);
    CHECK("commit reports it", ly_db_commit(f->db) == LY_E_UNAVAILABLE);
    CHECK("closed", !ly_db_in_transaction(f->db));
    CHECK("the next unit opens", ly_db_begin(f->db) == LY_OK);
    ly_db_rollback(f->db);
    f->log.level = LY_LOG_ERROR;
}

/* An autonomous statement runs outside the unit's transaction and leaves the unit as it was. */
static void test_autonomous(void **state)
{
    struct fixture *f = *state;
    f->log.level = (enum ly_log_level) - 1;
    static const char sql[] = "UPDATE signin_throttle SET failures = failures + 1 WHERE 0";
    CHECK("outside a unit: a write, no bug",
          ly_db_exec_autonomous(f->db, &f->arena, sql, NULL, 0, NULL) == LY_E_UNAVAILABLE);
    CHECK("begin", ly_db_begin(f->db) == LY_OK);
    CHECK("in a unit that has not started: no bug",
          ly_db_exec_autonomous(f->db, &f->arena, sql, NULL, 0, NULL) == LY_E_UNAVAILABLE);
    ly_db_rollback(f->db);
    CHECK("closed", !ly_db_in_transaction(f->db));
    f->log.level = LY_LOG_ERROR;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_misuse_is_a_bug, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unit_costs_nothing_until_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_unit_reports_at_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_autonomous, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
