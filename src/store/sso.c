#include "build-config.h"
#include "banned.h"

#include "lanyard/sso.h"

#include <string.h>

#include "lanyard/db.h"
#include "lanyard/err.h"

#define H(h) LY_DB_B((h), LY_SHA256_LEN)

/* The columns row_to_sso reads, in its order; s is org_sso, o organizations. */
#define SSO_SELECT                                                                                 \
    "SELECT s.org_id, o.name, s.issuer, s.client_id, s.client_secret_sealed,"                      \
    " s.authorization_endpoint, s.token_endpoint, s.jwks_uri, s.default_role, s.created_at,"       \
    " s.updated_at FROM org_sso s JOIN organizations o ON o.id = s.org_id"

static int domains_of(struct ly_db *db, struct ly_arena *a, struct ly_sso *s)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(s->org_id)};
    int r = ly_db_exec(db, a, "SELECT domain FROM sso_domains WHERE org_id = ? ORDER BY domain", p,
                       1, &res);
    if (r != LY_OK)
        return r;
    const char **d = ly_arena_alloc(a, (res.n_rows + 1) * sizeof(*d));
    for (size_t i = 0; i < res.n_rows; i++)
        d[i] = ly_db_str(&res, i, 0);
    s->domains = d;
    s->n_domains = res.n_rows;
    return LY_OK;
}

static int sso_of_row(struct ly_db *db, struct ly_arena *a, const struct ly_db_result *res,
                      struct ly_sso *out)
{
    struct ly_sso s = {
        .org_id = ly_db_str(res, 0, 0),
        .org_name = ly_db_str(res, 0, 1),
        .issuer = ly_db_str(res, 0, 2),
        .client_id = ly_db_str(res, 0, 3),
        .client_secret_sealed = ly_db_str(res, 0, 4),
        .authorization_endpoint = ly_db_str(res, 0, 5),
        .token_endpoint = ly_db_str(res, 0, 6),
        .jwks_uri = ly_db_str(res, 0, 7),
        .default_role = ly_role_parse(ly_db_str(res, 0, 8)),
        .created_at = ly_db_int(res, 0, 9, 0),
        .updated_at = ly_db_int(res, 0, 10, 0),
    };
    if (s.org_id == NULL || s.default_role == LY_ROLE_NONE)
        return LY_E_INTERNAL;
    int r = domains_of(db, a, &s);
    if (r == LY_OK)
        *out = s;
    return r;
}

int ly_sso_get(struct ly_db *db, struct ly_arena *a, const char *org_id, struct ly_sso *out)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(org_id)};
    int r = ly_db_exec_one(db, a, SSO_SELECT " WHERE s.org_id = ?", p, 1, &res);
    return r != LY_OK ? r : sso_of_row(db, a, &res, out);
}

int ly_sso_get_by_org_name(struct ly_db *db, struct ly_arena *a, const char *name,
                           struct ly_sso *out)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(name)};
    int r = ly_db_exec_one(db, a, SSO_SELECT " WHERE o.name = ?", p, 1, &res);
    return r != LY_OK ? r : sso_of_row(db, a, &res, out);
}

int ly_sso_put(struct ly_db *db, struct ly_arena *a, const struct ly_sso *s, int64_t now,
               bool *created)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(s->org_id),
                              LY_DB_S(s->issuer),
                              LY_DB_S(s->client_id),
                              LY_DB_S(s->client_secret_sealed),
                              LY_DB_S(ly_role_name(s->default_role)),
                              LY_DB_S(s->authorization_endpoint),
                              LY_DB_S(s->token_endpoint),
                              LY_DB_S(s->jwks_uri),
                              LY_DB_T(now),
                              LY_DB_T(now)};
    /* MariaDB counts 1 affected row for an insert and 2 for an update by ON DUPLICATE KEY. */
    int r = ly_db_exec(db, a,
                       "INSERT INTO org_sso (org_id, issuer, client_id, client_secret_sealed,"
                       " default_role, authorization_endpoint, token_endpoint, jwks_uri,"
                       " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                       " ON DUPLICATE KEY UPDATE issuer = VALUES(issuer),"
                       " client_id = VALUES(client_id),"
                       " client_secret_sealed = VALUES(client_secret_sealed),"
                       " default_role = VALUES(default_role),"
                       " authorization_endpoint = VALUES(authorization_endpoint),"
                       " token_endpoint = VALUES(token_endpoint), jwks_uri = VALUES(jwks_uri),"
                       " updated_at = VALUES(updated_at)",
                       p, 10, &res);
    if (r != LY_OK)
        return r;
    bool first = res.affected == 1;
    struct ly_db_value q[] = {LY_DB_S(s->org_id)};
    if ((r = ly_db_exec(db, a, "DELETE FROM sso_domains WHERE org_id = ?", q, 1, NULL)) != LY_OK)
        return r;
    /* The primary key on domain is the rule "one organization per domain": a taken one is 409. */
    for (size_t i = 0; i < s->n_domains; i++) {
        struct ly_db_value d[] = {LY_DB_S(s->domains[i]), LY_DB_S(s->org_id)};
        r = ly_db_exec(db, a, "INSERT INTO sso_domains (domain, org_id) VALUES (?, ?)", d, 2, NULL);
        if (r != LY_OK)
            return r;
    }
    *created = first;
    return LY_OK;
}

int ly_sso_delete(struct ly_db *db, struct ly_arena *a, const char *org_id)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(org_id)};
    int r = ly_db_exec(db, a, "DELETE FROM org_sso WHERE org_id = ?", p, 1, &res);
    if (r == LY_OK && res.affected == 0)
        r = LY_E_NOT_FOUND;
    return r;
}

int ly_sso_find_domain(struct ly_db *db, struct ly_arena *a, const char *domain,
                       const char **org_name)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(domain)};
    int r =
        ly_db_exec_one(db, a,
                       "SELECT o.name FROM sso_domains d JOIN organizations o ON o.id = d.org_id"
                       " WHERE d.domain = ?",
                       p, 1, &res);
    if (r == LY_OK)
        *org_name = ly_db_str(&res, 0, 0);
    return r;
}

int ly_sso_state_create(struct ly_db *db, struct ly_arena *a,
                        const unsigned char state_hash[LY_SHA256_LEN],
                        const struct ly_sso_state *st, int64_t now)
{
    struct ly_db_value p[] = {H(state_hash),          LY_DB_S(st->org_id), H(st->binding_hash),
                              LY_DB_S(st->return_to), LY_DB_T(now),        LY_DB_T(st->expires_at)};
    return ly_db_exec(db, a,
                      "INSERT INTO sso_states (state_hash, org_id, binding_hash, return_to,"
                      " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                      p, 6, NULL);
}

int ly_sso_state_take(struct ly_db *db, struct ly_arena *a,
                      const unsigned char state_hash[LY_SHA256_LEN], int64_t now,
                      struct ly_sso_state *out)
{
    struct ly_db_result res, del;
    struct ly_db_value p[] = {H(state_hash)};
    /*
     * A single-row rule (a state is taken once) whose transaction deletes
     * that row: two callbacks on two Galera nodes write the same row and one
     * is refused at certification. No guard counter needed.
     */
    int r = ly_db_exec_one(db, a,
                           "SELECT org_id, binding_hash, return_to, expires_at FROM sso_states"
                           " WHERE state_hash = ? FOR UPDATE",
                           p, 1, &res);
    if (r != LY_OK)
        return r;
    /* Of two callbacks racing with one state, the delete's count tells the one that took it. */
    if ((r = ly_db_exec(db, a, "DELETE FROM sso_states WHERE state_hash = ?", p, 1, &del)) != LY_OK)
        return r;
    const struct ly_db_value *bh = ly_db_cell(&res, 0, 1);
    if (del.affected != 1 || bh->kind != LY_DB_BLOB || bh->len != LY_SHA256_LEN)
        return del.affected != 1 ? LY_E_NOT_FOUND : LY_E_INTERNAL;
    int64_t expires_at = ly_db_int(&res, 0, 3, 0);
    if (expires_at <= now)
        return LY_E_NOT_FOUND;
    struct ly_sso_state st = {.org_id = ly_db_str(&res, 0, 0),
                              .return_to = ly_db_str(&res, 0, 2),
                              .expires_at = expires_at};
    memcpy(st.binding_hash, bh->s, LY_SHA256_LEN);
    *out = st;
    return LY_OK;
}
