/*
 * migrate: the schema steps the program knows (schema/NNN_name.sql, built
 * in) and applying them in order, each recorded in schema_migrations.
 */
#ifndef LY_MIGRATE_H
#define LY_MIGRATE_H

#include <stddef.h>
#include <stdio.h>

struct ly_db;

struct ly_migration {
    unsigned version;
    const char *name;
    const char *sql; /* statements separated by ";" at the end of a line */
};

extern const struct ly_migration ly_migrations[];
extern const size_t ly_n_migrations;

/*
 * Apply every step not yet applied, in order, printing one line per step to
 * out. Refuses (LY_E_CONFIG) a database with a step newer than the program
 * knows. Also makes sure the instance secrets in `settings` exist.
 * Returns LY_OK, or an error with a one-line message in err.
 */
int ly_migrate_apply(struct ly_db *db, FILE *out, char *err, size_t errlen);

/* Print "applied"/"pending" lines for every known step. */
int ly_migrate_status(struct ly_db *db, FILE *out, char *err, size_t errlen);

/* The highest step applied to the database, 0 for none. */
int ly_migrate_current(struct ly_db *db, unsigned *version);

#endif
