/*
 * audit: the store of audit events (SPEC §5.12). SQL for the audit_events
 * table lives here. An event is written in the same unit of work as the
 * change it records, so a change rolled back takes its event with it and no
 * change stands without one. Events name their organization by id and by
 * name, without a foreign key: the platform trail keeps an organization's
 * events after it is deleted.
 */
#ifndef LY_AUDIT_H
#define LY_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/page.h"

struct ly_db;

struct ly_audit_event {
    const char *id; /* decimal, as listed; ignored on insert */
    int64_t time;   /* seconds */
    const char *org_id;
    const char *org_name;   /* NULL: an event of no organization */
    const char *actor_type; /* "user", "service_account", "anonymous" */
    const char *actor_id;   /* NULL for anonymous */
    const char *action;     /* one of SPEC §5.12's */
    const char *target_type;
    const char *target_id;
    const char *ip;
    const char *user_agent;
    const char *request_id;
    bool success;
};

/*
 * Record e (org_id/org_name as given), in the caller's unit of work. *id
 * (id may be NULL) is the event's id, by which ly_audit_exists tells later
 * whether the unit committed.
 */
int ly_audit_insert(struct ly_db *db, struct ly_arena *a, const struct ly_audit_event *e,
                    uint64_t *id);

/*
 * Record e once for each organization user_id belongs to, or once with no
 * organization when it belongs to none (SPEC §5.12: events about a user).
 */
int ly_audit_insert_per_org(struct ly_db *db, struct ly_arena *a, const struct ly_audit_event *e,
                            const char *user_id, uint64_t *id);

/*
 * *there: the event id, written by the request request_id, is stored. The
 * read takes a shared lock, so it waits for a COMMIT still in progress;
 * the request id guards against an id handed out again after a restart.
 */
int ly_audit_exists(struct ly_db *db, struct ly_arena *a, uint64_t id, const char *request_id,
                    bool *there);

/* Which events ly_audit_list returns. */
struct ly_audit_filter {
    const char *org_id;   /* the events of this organization (its own trail); NULL: any */
    const char *org_name; /* the platform trail's ?org=: by name, deleted organizations too */
    const char *action;   /* NULL: every action */
};

/* A page of events, newest first, after page->after (an id). */
int ly_audit_list(struct ly_db *db, struct ly_arena *a, const struct ly_audit_filter *f,
                  const struct ly_page *page, struct ly_audit_event **out, size_t *n, bool *more);

#endif
