#include "build-config.h"
#include "banned.h"

#include "lanyard/audit.h"

#include <stdlib.h>
#include <string.h>

#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/validate.h"

/* The columns' sizes (schema/001_init.sql): what a client sent is cut to fit. */
#define IP_MAX         45
#define USER_AGENT_MAX 255
#define TARGET_MAX     254

/* Every column but the organization's two, in the order event_params fills them. */
#define EVENT_INSERT_COLS                                                                          \
    "time, actor_type, actor_id, action, target_type, target_id, ip, user_agent, request_id,"      \
    " outcome"
#define N_EVENT_PARAMS 10

/* The parameters of EVENT_INSERT_COLS for e, what a client sent cut to fit its column. */
static void event_params(struct ly_arena *a, const struct ly_audit_event *e,
                         struct ly_db_value p[N_EVENT_PARAMS])
{
    p[0] = LY_DB_T(e->time);
    p[1] = LY_DB_S(e->actor_type);
    p[2] = LY_DB_S(e->actor_id);
    p[3] = LY_DB_S(e->action);
    p[4] = LY_DB_S(e->target_type);
    p[5] = LY_DB_S(ly_utf8_clean(a, e->target_id, TARGET_MAX));
    p[6] = LY_DB_S(ly_utf8_clean(a, e->ip, IP_MAX));
    p[7] = LY_DB_S(ly_utf8_clean(a, e->user_agent, USER_AGENT_MAX));
    p[8] = LY_DB_S(e->request_id);
    p[9] = LY_DB_S(e->success ? "success" : "failure");
}

int ly_audit_insert(struct ly_db *db, struct ly_arena *a, const struct ly_audit_event *e,
                    uint64_t *id)
{
    struct ly_db_value p[N_EVENT_PARAMS + 2];
    p[0] = LY_DB_S(e->org_id);
    p[1] = LY_DB_S(e->org_name);
    event_params(a, e, p + 2);
    struct ly_db_result res;
    int r = ly_db_exec(db, a,
                       "INSERT INTO audit_events (org_id, org_name, " EVENT_INSERT_COLS ")"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       p, N_EVENT_PARAMS + 2, &res);
    if (r == LY_OK && id != NULL)
        *id = res.insert_id;
    return r;
}

int ly_audit_insert_per_org(struct ly_db *db, struct ly_arena *a, const struct ly_audit_event *e,
                            const char *user_id, uint64_t *id)
{
    struct ly_db_value p[N_EVENT_PARAMS + 1];
    event_params(a, e, p);
    p[N_EVENT_PARAMS] = LY_DB_S(user_id);
    struct ly_db_result res;
    int r = ly_db_exec(db, a,
                       "INSERT INTO audit_events (org_id, org_name, " EVENT_INSERT_COLS ")"
                       " SELECT m.org_id, o.name, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
                       " FROM memberships m JOIN organizations o ON o.id = m.org_id"
                       " WHERE m.user_id = ? ORDER BY o.name",
                       p, N_EVENT_PARAMS + 1, &res);
    if (r != LY_OK)
        return r;
    if (res.affected > 0) {
        /* An INSERT … SELECT's insert id is its first row's. */
        if (id != NULL)
            *id = res.insert_id;
        return LY_OK;
    }
    struct ly_audit_event none = *e;
    none.org_id = NULL;
    none.org_name = NULL;
    return ly_audit_insert(db, a, &none, id);
}

int ly_audit_exists(struct ly_db *db, struct ly_arena *a, uint64_t id, const char *request_id,
                    bool *there)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_I(id), LY_DB_S(request_id)};
    int r = ly_db_exec(db, a,
                       "SELECT 1 FROM audit_events WHERE id = ? AND request_id = ?"
                       " LOCK IN SHARE MODE",
                       p, 2, &res);
    if (r != LY_OK)
        return r;
    *there = res.n_rows == 1;
    return LY_OK;
}

#define EVENT_COLS                                                                                 \
    "id, time, org_name, actor_type, actor_id, action, target_type, target_id, ip, user_agent,"    \
    " request_id, outcome"

int ly_audit_list(struct ly_db *db, struct ly_arena *a, const struct ly_audit_filter *f,
                  const struct ly_page *page, struct ly_audit_event **out, size_t *n, bool *more)
{
    /* Keyset on the id, newest first: events written meanwhile never shift a page. */
    uint64_t before = UINT64_MAX;
    if (page->after != NULL) {
        char *end = NULL;
        before = strtoull(page->after, &end, 10);
        if (end == page->after || *end != '\0')
            return LY_E_INVALID_REQUEST;
    }
    int64_t below = (int64_t)(before > INT64_MAX ? INT64_MAX : before);
    int64_t limit = (int64_t)page->size + 1;
    /* One statement per filter, each on its own index: (org_id, id), (org_name, id), the id. */
    const char *key = f->org_id != NULL ? f->org_id : f->org_name;
    struct ly_db_value p[] = {LY_DB_S(key), LY_DB_S(f->action), LY_DB_S(f->action), LY_DB_I(below),
                              LY_DB_I(limit)};
    struct ly_db_result res;
    int r;
    if (f->org_id != NULL)
        r = ly_db_exec(db, a,
                       "SELECT " EVENT_COLS " FROM audit_events WHERE org_id = ?"
                       " AND (? IS NULL OR action = ?) AND id < ? ORDER BY id DESC LIMIT ?",
                       p, 5, &res);
    else if (f->org_name != NULL)
        r = ly_db_exec(db, a,
                       "SELECT " EVENT_COLS " FROM audit_events WHERE org_name = ?"
                       " AND (? IS NULL OR action = ?) AND id < ? ORDER BY id DESC LIMIT ?",
                       p, 5, &res);
    else
        r = ly_db_exec(db, a,
                       "SELECT " EVENT_COLS " FROM audit_events"
                       " WHERE (? IS NULL OR action = ?) AND id < ? ORDER BY id DESC LIMIT ?",
                       p + 1, 4, &res);
    if (r != LY_OK)
        return r;
    size_t count = res.n_rows > page->size ? page->size : res.n_rows;
    struct ly_audit_event *list = ly_arena_zalloc(a, sizeof(*list) * (count + 1));
    for (size_t i = 0; i < count; i++) {
        struct ly_audit_event *e = &list[i];
        e->id = ly_arena_printf(a, "%lld", (long long)ly_db_int(&res, i, 0, 0));
        e->time = ly_db_int(&res, i, 1, 0);
        e->org_name = ly_db_str(&res, i, 2);
        e->actor_type = ly_db_str(&res, i, 3);
        e->actor_id = ly_db_str(&res, i, 4);
        e->action = ly_db_str(&res, i, 5);
        e->target_type = ly_db_str(&res, i, 6);
        e->target_id = ly_db_str(&res, i, 7);
        e->ip = ly_db_str(&res, i, 8);
        e->user_agent = ly_db_str(&res, i, 9);
        e->request_id = ly_db_str(&res, i, 10);
        const char *outcome = ly_db_str(&res, i, 11);
        e->success = outcome != NULL && strcmp(outcome, "success") == 0;
    }
    *out = list;
    *n = count;
    *more = res.n_rows > page->size;
    return LY_OK;
}
