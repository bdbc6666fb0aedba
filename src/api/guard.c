#include "build-config.h"
#include "banned.h"

#include "lanyard/guard.h"

#include <string.h>
#include <unistd.h>

#include "lanyard/codec.h"
#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"
#include "lanyard/metrics.h"
#include "lanyard/slots.h"
#include "lanyard/throttle.h"

/* How long a password check waits for a scrypt slot before the host is called busy. */
#define SLOT_WAIT_MS 2000

static void answer_limited(struct ly_call *c, int64_t retry_after)
{
    ly_metrics_count(LY_M_THROTTLED);
    ly_response_header(
        c->resp, "Retry-After",
        ly_arena_printf(c->req->arena, "%lld", (long long)(retry_after > 0 ? retry_after : 1)));
    ly_response_problem(c->req, c->resp, LY_E_RATE_LIMITED,
                        "too many failed sign-ins; try again later", NULL);
}

static unsigned slot_count(const struct ly_config *cfg)
{
    if (cfg->security.scrypt_concurrency > 0)
        return cfg->security.scrypt_concurrency;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/*
 * The slots are per database: two instances on one host (say, staging and
 * production) keep separate budgets, while every worker of one shares it.
 * The database's address is hashed: a socket path may be long, and a slot's
 * name must fit a unix socket address.
 */
static const char *slot_set(struct ly_call *c)
{
    const struct ly_config *cfg = c->ctx->cfg;
    const char *sock = cfg->database.socket;
    const char *where =
        ly_arena_printf(c->req->arena, "%s\n%s\n%u\n%s", sock && sock[0] ? sock : "-",
                        cfg->database.host ? cfg->database.host : "-", cfg->database.port,
                        cfg->database.name ? cfg->database.name : "-");
    unsigned char h[LY_SHA256_LEN];
    ly_sha256(where, strlen(where), h);
    char id[24];
    ly_base32_encode(h, 10, id); /* 80 bits: 16 characters */
    id[16] = '\0';
    return ly_arena_printf(c->req->arena, "scrypt/%s", id);
}

int ly_guard_begin(struct ly_call *c, const char *email, struct ly_guard *g)
{
    const struct ly_config *cfg = c->ctx->cfg;
    struct lanyard_ctx *ctx = c->ctx;
    int64_t retry_after = 0;
    int r;
    /* An address that failed too often waits, whichever accounts it tries. */
    unsigned per_address = cfg->security.signin_address_max_failures;
    if (email != NULL && per_address > 0) {
        r = ly_throttle_peek(ctx->db, c->req->arena, ly_throttle_address(c->req->client_ip),
                             per_address, cfg->security.signin_window, c->req->now, &retry_after);
        if (r == LY_E_RATE_LIMITED)
            answer_limited(c, retry_after);
        if (r != LY_OK)
            return r;
    }
    int slot = -1;
    r = ly_slot_take(slot_set(c), slot_count(cfg), SLOT_WAIT_MS, &slot);
    if (r == LY_E_UNAVAILABLE) {
        ly_response_header(c->resp, "Retry-After", "1");
        ly_response_problem(c->req, c->resp, r, "too many sign-ins at once; try again", NULL);
    }
    if (r != LY_OK)
        return r;
    /*
     * One atomic statement counts this attempt and says which of its window
     * it is, before scrypt (SPEC §5.2: exact across workers). It commits on
     * its own (an autonomous statement, db.h): the count stands whatever the
     * request's unit does, and no lock is held across scrypt.
     */
    if (email != NULL) {
        r = ly_throttle_reserve(ctx->db, c->req->arena, ly_throttle_account(email),
                                cfg->security.signin_max_failures, cfg->security.signin_window,
                                c->req->now, &retry_after);
        if (r == LY_E_RATE_LIMITED)
            answer_limited(c, retry_after);
        if (r != LY_OK) {
            ly_slot_give(slot);
            return r;
        }
    }
    g->slot = slot;
    g->email = email;
    return LY_OK;
}

void ly_guard_end(struct ly_guard *g)
{
    ly_slot_give(g->slot);
    g->slot = -1;
}

int ly_guard_failed(struct ly_call *c, const struct ly_guard *g)
{
    const struct ly_config *cfg = c->ctx->cfg;
    if (g->email == NULL || cfg->security.signin_address_max_failures == 0)
        return LY_OK;
    int64_t retry_after = 0;
    int r = ly_throttle_reserve(c->ctx->db, c->req->arena, ly_throttle_address(c->req->client_ip),
                                cfg->security.signin_address_max_failures,
                                cfg->security.signin_window, c->req->now, &retry_after);
    return r == LY_E_RATE_LIMITED ? LY_OK : r;
}

int ly_guard_passed(struct ly_call *c, const struct ly_guard *g)
{
    if (g->email == NULL)
        return LY_OK;
    return ly_throttle_clear(c->ctx->db, c->req->arena, ly_throttle_account(g->email));
}
