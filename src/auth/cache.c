#include "build-config.h"
#include "banned.h"

#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lanyard/arena.h"
#include "lanyard/ct.h"
#include "lanyard/mem.h"
#include "lanyard/metrics.h"

/* Room for subject, session, key, org id and name, resource: ids are short, names up to 63. */
#define TEXT_MAX 448

struct slot {
    unsigned char hash[LY_SHA256_LEN];
    enum ly_cred_kind kind;
    struct ly_auth_cached meta; /* meta.valid_until 0: empty */
    uint64_t used;              /* the cache's clock at the last hit or fill */
    struct ly_principal p;      /* strings as offsets + 1 into text (0: NULL), see pack */
    char text[TEXT_MAX];
};

struct ly_auth_cache {
    struct slot sets[LY_AUTH_CACHE_SETS][LY_AUTH_CACHE_WAYS];
    uint64_t clock;
};

_Static_assert((LY_AUTH_CACHE_SETS & (LY_AUTH_CACHE_SETS - 1)) == 0, "sets: a power of two");

struct ly_auth_cache *ly_auth_cache_new(void)
{
    return ly_xcalloc(1, sizeof(struct ly_auth_cache));
}

void ly_auth_cache_free(struct ly_auth_cache *c)
{
    if (c == NULL)
        return;
    /* Principals and credential hashes: not secrets, but no reason to leave them behind. */
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

size_t ly_auth_cache_live(const struct ly_auth_cache *c, int64_t now)
{
    size_t n = 0;
    for (size_t s = 0; s < LY_AUTH_CACHE_SETS; s++)
        for (size_t w = 0; w < LY_AUTH_CACHE_WAYS; w++)
            n += c->sets[s][w].meta.valid_until > now;
    return n;
}

static struct slot *set_of(struct ly_auth_cache *c, const unsigned char hash[LY_SHA256_LEN])
{
    /* The hash is uniform: its first bytes pick the set. */
    size_t i = ((size_t)hash[0] | (size_t)hash[1] << 8) & (LY_AUTH_CACHE_SETS - 1);
    return c->sets[i];
}

/* The principal's strings, in one order for pack and unpack. */
#define STRINGS(p)                                                                                 \
    {                                                                                              \
        &(p)->subject, &(p)->org_id, &(p)->org_name, &(p)->key_id, &(p)->session_id,               \
            &(p)->resource                                                                         \
    }

static bool pack(struct slot *s, const struct ly_principal *p)
{
    struct ly_principal q = *p;
    q.identity = NULL; /* the request's arena holds it: a hit is answered without it */
    const char **in[] = STRINGS(&q);
    size_t off = 0;
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        if (*in[i] == NULL)
            continue;
        size_t n = strlen(*in[i]) + 1;
        if (n > TEXT_MAX - off)
            return false;
        memcpy(s->text + off, *in[i], n);
        *in[i] = (const char *)(uintptr_t)(off + 1);
        off += n;
    }
    s->p = q;
    return true;
}

static void unpack(const struct slot *s, struct ly_arena *a, struct ly_principal *p)
{
    *p = s->p;
    const char **out[] = STRINGS(p);
    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
        uintptr_t off = (uintptr_t)*out[i];
        /* Into the arena: the slot may be evicted while the request still uses the principal. */
        *out[i] = off == 0 ? NULL : ly_arena_strdup(a, s->text + off - 1);
    }
}

static struct slot *find(struct ly_auth_cache *c, enum ly_cred_kind kind,
                         const unsigned char hash[LY_SHA256_LEN], int64_t now)
{
    struct slot *set = set_of(c, hash), *hit = NULL;
    for (size_t w = 0; w < LY_AUTH_CACHE_WAYS; w++) {
        struct slot *s = &set[w];
        /* Every way is compared, in constant time: a hit's position says nothing. */
        bool same = ly_ct_equal(s->hash, hash, LY_SHA256_LEN);
        if (same && s->kind == kind && s->meta.valid_until > now)
            hit = s;
    }
    return hit;
}

void *ly_auth_cache_get(struct ly_auth_cache *c, enum ly_cred_kind kind,
                        const unsigned char hash[LY_SHA256_LEN], int64_t now, uint64_t gen,
                        struct ly_arena *a, struct ly_principal *p, struct ly_auth_cached *meta)
{
    if (c == NULL)
        return NULL;
    struct slot *s = find(c, kind, hash, now);
    if (s == NULL) {
        ly_metrics_count(LY_M_AUTH_CACHE_MISS);
        return NULL;
    }
    struct ly_auth_cached m = s->meta;
    if (m.generation != gen) {
        /* A JWT's signature result stands; only what a lookup established is dropped. */
        bool looked_up = kind != LY_CRED_JWT || m.live_until != 0;
        ly_metrics_count(looked_up ? LY_M_AUTH_CACHE_STALE : LY_M_AUTH_CACHE_HIT);
        if (kind != LY_CRED_JWT)
            return NULL;
        m.live_until = 0;
        m.generation = gen;
    } else {
        ly_metrics_count(LY_M_AUTH_CACHE_HIT);
    }
    s->used = ++c->clock;
    unpack(s, a, p);
    *meta = m;
    return s;
}

void ly_auth_cache_update(void *slot, const struct ly_auth_cached *meta)
{
    struct slot *s = slot;
    s->meta = *meta;
}

void ly_auth_cache_put(struct ly_auth_cache *c, enum ly_cred_kind kind,
                       const unsigned char hash[LY_SHA256_LEN], int64_t now,
                       const struct ly_principal *p, const struct ly_auth_cached *meta)
{
    if (c == NULL || meta->valid_until <= now)
        return;
    struct slot s;
    if (!pack(&s, p))
        return;
    memcpy(s.hash, hash, LY_SHA256_LEN);
    s.kind = kind;
    s.meta = *meta;
    s.used = ++c->clock;
    struct slot *set = set_of(c, hash), *victim = NULL;
    for (size_t w = 0; w < LY_AUTH_CACHE_WAYS && victim == NULL; w++)
        if (set[w].kind == kind && memcmp(set[w].hash, hash, LY_SHA256_LEN) == 0)
            victim = &set[w]; /* the same credential again: refresh its slot */
    for (size_t w = 0; w < LY_AUTH_CACHE_WAYS && victim == NULL; w++)
        if (set[w].meta.valid_until <= now)
            victim = &set[w]; /* empty or expired */
    if (victim == NULL) {
        victim = &set[0];
        for (size_t w = 1; w < LY_AUTH_CACHE_WAYS; w++)
            if (set[w].used < victim->used)
                victim = &set[w];
    }
    *victim = s;
}
