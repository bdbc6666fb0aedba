#include "build-config.h"
#include "banned.h"

#include "lanyard/auth.h"

#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"
#include "lanyard/codec.h"
#include "lanyard/ct.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"
#include "lanyard/metrics.h"
#include "lanyard/token.h"

/* Longer Authorization values are refused before any decoding (STYLE 8). */
#define MAX_AUTHORIZATION (LY_JWT_MAX_LEN + 16)
/* base64 of "<16>:<49>" is 88 characters; anything longer is not one of our keys. */
#define MAX_BASIC 128

const struct ly_auth_store ly_auth_db_store = {
    .access = ly_access_lookup,
    .refresh = ly_refresh_lookup,
    .api_key = ly_api_keys_get,
    .access_identity = ly_access_identity,
    .api_key_identity = ly_api_keys_identity,
    .access_user = ly_access_lookup_user,
    .access_identity_user = ly_access_identity_user,
    .api_key_owned = ly_api_keys_get_owned,
    .api_key_identity_owned = ly_api_keys_identity_owned,
    .session_live = ly_sessions_is_live,
    .user = ly_users_get,
    .account = ly_accounts_get,
    .key_touch = ly_api_keys_touch,
};

/* What one verifier gets: the layer, the arena, the clock and whether to fetch the identity. */
struct verify_in {
    const struct ly_auth *auth;
    struct ly_arena *a;
    int64_t now;
    bool identity; /* LY_AUTH_IDENTITY */
};

static int refuse(const char **why, const char *text)
{
    *why = text;
    return LY_E_INVALID_TOKEN;
}

static bool is_jwt(const struct ly_auth *auth, struct ly_str s)
{
    (void)auth;
    return ly_jwt_looks_like(s);
}

static bool is_opaque(const struct ly_auth *auth, struct ly_str s)
{
    (void)auth;
    return ly_str_has_prefix(s, LY_ACCESS_PREFIX "_");
}

static bool is_refresh(const struct ly_auth *auth, struct ly_str s)
{
    (void)auth;
    return ly_str_has_prefix(s, LY_REFRESH_PREFIX "_");
}

static bool is_api_key(const struct ly_auth *auth, struct ly_str s)
{
    const char *prefix = auth->cfg->api_keys.prefix;
    size_t n = strlen(prefix);
    return s.len > n && memcmp(s.ptr, prefix, n) == 0 && s.ptr[n] == '_';
}

/* The signature and the claims, and the principal they make (no lookup). */
static int jwt_principal(const struct verify_in *in, struct ly_str token, struct ly_principal *p,
                         const char **why)
{
    const struct ly_config *cfg = in->auth->cfg;
    struct ly_jwt_claims c;
    struct ly_jwt_expect expect = {cfg->tokens.issuer, cfg->tokens.audience, in->now,
                                   cfg->tokens.leeway};
    const char *jwhy = NULL;
    if (ly_jwt_verify(in->auth->keys, token, &expect, in->a, &c, &jwhy) != LY_OK)
        return refuse(why, jwhy ? jwhy : "invalid token");
    if (c.principal_type == LY_PRINCIPAL_USER && c.sid == NULL)
        return refuse(why, "invalid token");
    if (c.principal_type == LY_PRINCIPAL_SERVICE_ACCOUNT && (c.org == NULL || c.client_id == NULL))
        return refuse(why, "invalid token");
    memset(p, 0, sizeof(*p));
    p->type = c.principal_type;
    p->subject = c.sub;
    p->cred = LY_CRED_JWT;
    p->expires_at = c.exp;
    if (c.principal_type == LY_PRINCIPAL_USER) {
        p->session_id = c.sid;
    } else {
        p->key_id = c.client_id;
        p->org_name = c.org;
        p->resource = c.resource;
    }
    return LY_OK;
}

/* SPEC §4 check_revocation: the one indexed lookup that says the token still stands. */
static int jwt_still_stands(const struct verify_in *in, const struct ly_principal *p,
                            const char **why)
{
    if (p->type == LY_PRINCIPAL_USER) {
        bool live = false;
        int r = in->auth->store->session_live(in->auth->db, in->a, p->session_id, &live);
        if (r != LY_OK)
            return r;
        if (!live)
            return refuse(why, "the session has ended");
        return LY_OK;
    }
    /* ... and for a service account, that the key it was exchanged with still stands. */
    struct ly_api_key k;
    int r = in->auth->store->api_key(in->auth->db, in->a, p->key_id, &k);
    if (r == LY_E_NOT_FOUND || (r == LY_OK && (k.owner_type != LY_PRINCIPAL_SERVICE_ACCOUNT ||
                                               strcmp(k.owner_id, p->subject) != 0 ||
                                               (k.expires_at >= 0 && k.expires_at <= in->now))))
        return refuse(why, "the API key it was issued for is revoked or expired");
    return r;
}

/* The end of a cached answer: now + ttl, never past the credential's own expiry (-1: none). */
static int64_t cache_until(int64_t now, int64_t ttl, int64_t expires_at)
{
    int64_t until = now + ttl;
    return expires_at >= 0 && expires_at < until ? expires_at : until;
}

static int verify_jwt(const struct verify_in *in, struct ly_str token, struct ly_principal *p,
                      const char **why)
{
    const struct ly_config *cfg = in->auth->cfg;
    if (in->auth->keys == NULL)
        return refuse(why, "JWT access tokens are not accepted");
    /*
     * A verified signature stays verified: the keys are the worker's for
     * its life (a reload starts new workers, with an empty cache), so a
     * token seen before is not verified again until its exp. The cache
     * serves it only while now < exp; in the leeway after exp the full
     * verification decides, as it always did.
     */
    unsigned char hash[LY_SHA256_LEN];
    ly_sha256(token.ptr, token.len, hash);
    struct ly_principal q;
    struct ly_auth_cached meta;
    /* Read before the lookup: a revocation committed during it makes the slot stale. */
    uint64_t gen = ly_metrics_generation();
    void *slot =
        ly_auth_cache_get(in->auth->cache, LY_CRED_JWT, hash, in->now, gen, in->a, &q, &meta);
    if (slot == NULL) {
        int r = jwt_principal(in, token, &q, why);
        if (r != LY_OK)
            return r;
        meta = (struct ly_auth_cached){.valid_until = q.expires_at, .generation = gen};
    }
    int64_t ttl = cfg->security.auth_cache_ttl;
    if (cfg->tokens.jwt.check_revocation && meta.live_until <= in->now) {
        int r = jwt_still_stands(in, &q, why);
        if (r != LY_OK)
            return r;
        /* auth_cache_ttl > 0 lets the lookup's answer stand that long; 0 looks every time. */
        meta.live_until = ttl > 0 ? cache_until(in->now, ttl, q.expires_at) : 0;
        meta.generation = gen;
        if (slot != NULL)
            ly_auth_cache_update(slot, &meta);
    }
    if (slot == NULL)
        ly_auth_cache_put(in->auth->cache, LY_CRED_JWT, hash, in->now, &q, &meta);
    *p = q;
    return LY_OK;
}

/*
 * The SHA-256 an opaque token is stored under, for a token of this prefix
 * whose checksum holds (false otherwise: refused without a lookup).
 */
static bool token_hash(const char *prefix, struct ly_str token, unsigned char hash[LY_SHA256_LEN])
{
    if (!ly_token_is_well_formed(prefix, token))
        return false;
    ly_sha256(token.ptr, token.len, hash);
    return true;
}

/*
 * Look up an opaque token (with the identity when who is not NULL): with
 * only the user's tables when this worker has seen it as a signed-in
 * user's, else (or when that finds nothing) in full, noting which it is.
 */
static int lookup_access(const struct verify_in *in, const unsigned char hash[LY_SHA256_LEN],
                         struct ly_access *acc, struct ly_identity *who)
{
    const struct ly_auth *auth = in->auth;
    const struct ly_auth_store *st = auth->store;
    uint64_t tag;
    memcpy(&tag, hash, sizeof(tag));
    tag |= 1; /* never 0, which marks an empty slot */
    uint64_t *slot = NULL;
    bool can = who != NULL ? st->access_identity_user != NULL : st->access_user != NULL;
    if (auth->hints != NULL && can)
        slot = &auth->hints->user_tokens[(tag >> 1) % LY_HINT_TOKENS];
    if (slot != NULL && *slot == tag) {
        int r = who != NULL ? st->access_identity_user(auth->db, in->a, hash, in->now, acc, who)
                            : st->access_user(auth->db, in->a, hash, in->now, acc);
        if (r != LY_E_NOT_FOUND)
            return r;
        *slot = 0;
    }
    int r = who != NULL ? st->access_identity(auth->db, in->a, hash, in->now, acc, who)
                        : st->access(auth->db, in->a, hash, in->now, acc);
    if (r == LY_OK && slot != NULL && acc->user_id != NULL && acc->service_account_id == NULL &&
        acc->api_key_id == NULL)
        *slot = tag;
    return r;
}

static int verify_opaque(const struct verify_in *in, struct ly_str token, struct ly_principal *p,
                         const char **why)
{
    unsigned char hash[LY_SHA256_LEN];
    if (!token_hash(LY_ACCESS_PREFIX, token, hash))
        return refuse(why, "malformed token");
    /* auth_cache_ttl > 0: a signed-out session or a revoked token lags by at most that. */
    int64_t ttl = in->auth->cfg->security.auth_cache_ttl;
    struct ly_auth_cached meta;
    uint64_t gen = ly_metrics_generation(); /* before the lookup, as in verify_jwt */
    if (ttl > 0 && ly_auth_cache_get(in->auth->cache, LY_CRED_OPAQUE, hash, in->now, gen, in->a, p,
                                     &meta) != NULL)
        return LY_OK;
    struct ly_access acc;
    struct ly_identity *who = NULL;
    if (in->identity && in->auth->store->access_identity != NULL)
        who = ly_arena_zalloc(in->a, sizeof(*who));
    int r = lookup_access(in, hash, &acc, who);
    if (r == LY_E_NOT_FOUND)
        return refuse(why, "the token is unknown, expired or revoked");
    if (r != LY_OK)
        return r;
    memset(p, 0, sizeof(*p));
    p->cred = LY_CRED_OPAQUE;
    p->expires_at = acc.expires_at;
    p->complete = true; /* the lookup joined the user or the account */
    if (acc.user_id != NULL) {
        p->type = LY_PRINCIPAL_USER;
        p->subject = acc.user_id;
        p->session_id = acc.session_id;
        p->platform_admin = acc.platform_admin;
    } else {
        p->type = LY_PRINCIPAL_SERVICE_ACCOUNT;
        p->subject = acc.service_account_id;
        p->key_id = acc.api_key_id;
        p->org_id = acc.org_id;
        p->org_name = acc.org_name;
        p->role = acc.role;
        p->resource = acc.resource;
    }
    p->identity = who;
    if (ttl > 0) {
        meta = (struct ly_auth_cached){.valid_until = cache_until(in->now, ttl, p->expires_at),
                                       .generation = gen};
        ly_auth_cache_put(in->auth->cache, LY_CRED_OPAQUE, hash, in->now, p, &meta);
    }
    return LY_OK;
}

static int verify_refresh(const struct verify_in *in, struct ly_str token, struct ly_principal *p,
                          const char **why)
{
    unsigned char hash[LY_SHA256_LEN];
    if (!token_hash(LY_REFRESH_PREFIX, token, hash))
        return refuse(why, "malformed token");
    struct ly_refresh ref;
    int r = in->auth->store->refresh(in->auth->db, in->a, hash, false, &ref);
    if (r == LY_E_NOT_FOUND)
        return refuse(why, "the token is unknown");
    if (r != LY_OK)
        return r;
    if (ref.spent || ref.session_revoked || ref.user_disabled || ref.expires_at <= in->now)
        return refuse(why, "the token is spent, expired or revoked");
    memset(p, 0, sizeof(*p));
    p->type = LY_PRINCIPAL_USER;
    p->subject = ref.user_id;
    p->cred = LY_CRED_REFRESH;
    p->session_id = ref.session_id;
    p->expires_at = ref.expires_at;
    return LY_OK;
}

/*
 * Note a key's use in this minute, unless the database or the notes have
 * it. Returns the last minute of use now known to be recorded or noted
 * (a use the full notes drop stays unrecorded until a flush makes room).
 */
static int64_t note_use(const struct ly_auth *auth, const struct ly_api_key *k, int64_t now)
{
    struct ly_key_uses *u = auth->uses;
    int64_t minute = now - now % 60;
    if (u == NULL || k->last_used_at >= minute)
        return k->last_used_at;
    for (size_t i = 0; i < u->n; i++) {
        if (strcmp(u->e[i].id, k->id) == 0) {
            u->e[i].minute = minute;
            return minute;
        }
    }
    /* Full: this use goes unrecorded until a flush makes room (last_used_at lags a little). */
    if (u->n == LY_KEY_USES_MAX)
        return k->last_used_at;
    memcpy(u->e[u->n].id, k->id, LY_KEY_ID_LEN + 1);
    u->e[u->n].minute = minute;
    u->n++;
    return minute;
}

/* The slot of KEYID id in the hints. */
static struct ly_key_owner *key_slot(struct ly_owner_hints *h, const char *id)
{
    return &h->keys[ly_auth_key_hint_slot(id)];
}

/* Whether the hint slot was made for a key of organization org_id. */
static bool same_org(const struct ly_key_owner *slot, const char *org_id)
{
    return org_id != NULL && strlen(org_id) == LY_HINT_ORG_ID &&
           memcmp(slot->org_id, org_id, LY_HINT_ORG_ID) == 0;
}

/* Note key id's kind of owner and organization in slot (none if they do not fit). */
static void hint_key(struct ly_key_owner *slot, const char *id, const struct ly_api_key *k)
{
    slot->kind = 0;
    size_t n = k->org_name != NULL ? strlen(k->org_name) : 0;
    if (k->org_id == NULL || strlen(k->org_id) != LY_HINT_ORG_ID || n == 0 || n > LY_HINT_ORG_NAME)
        return;
    memcpy(slot->id, id, LY_KEY_ID_LEN);
    memcpy(slot->org_id, k->org_id, LY_HINT_ORG_ID);
    memcpy(slot->org_name, k->org_name, n + 1);
    slot->kind = (unsigned char)(1 + k->owner_type);
}

/*
 * Look up key id (with the identity when who is not NULL): with only its
 * owner's tables when this worker has seen the key before, else (or when
 * that finds nothing: the hint was wrong) in full, and note what kind of
 * owner it has.
 */
static int lookup_key(const struct verify_in *in, const char *id, struct ly_api_key *k,
                      struct ly_identity *who)
{
    const struct ly_auth *auth = in->auth;
    const struct ly_auth_store *st = auth->store;
    bool can = who != NULL ? st->api_key_identity_owned != NULL : st->api_key_owned != NULL;
    struct ly_key_owner *slot = auth->hints != NULL && can ? key_slot(auth->hints, id) : NULL;
    if (slot != NULL && slot->kind != 0 && memcmp(slot->id, id, LY_KEY_ID_LEN) == 0) {
        enum ly_principal_type owner = (enum ly_principal_type)(slot->kind - 1);
        int r = who != NULL ? st->api_key_identity_owned(auth->db, in->a, id, owner, k, who)
                            : st->api_key_owned(auth->db, in->a, id, owner, k);
        /* api_key_owned reads no organization name: the hint's, if the key is in its organization
         */
        if (r == LY_OK && who == NULL)
            r = same_org(slot, k->org_id) ? LY_OK : LY_E_NOT_FOUND;
        if (r == LY_OK && who == NULL)
            k->org_name = ly_arena_strdup(in->a, slot->org_name);
        if (r != LY_E_NOT_FOUND)
            return r;
        slot->kind = 0;
    }
    int r = who != NULL ? st->api_key_identity(auth->db, in->a, id, k, who)
                        : st->api_key(auth->db, in->a, id, k);
    if (r == LY_OK && slot != NULL)
        hint_key(slot, id, k);
    return r;
}

/* The cache key of an API key given as (KEYID, secret); false if too long to be one. */
static bool pair_hash(struct ly_str key_id, struct ly_str secret, unsigned char out[LY_SHA256_LEN])
{
    char buf[MAX_BASIC];
    if (key_id.len + 1 + secret.len > sizeof(buf))
        return false;
    memcpy(buf, key_id.ptr, key_id.len);
    buf[key_id.len] = ':';
    memcpy(buf + key_id.len + 1, secret.ptr, secret.len);
    ly_sha256(buf, key_id.len + 1 + secret.len, out);
    OPENSSL_cleanse(buf, sizeof(buf));
    return true;
}

static enum ly_role weaker(enum ly_role x, enum ly_role y)
{
    return x < y ? x : y;
}

/* An API key given as (KEYID, secret), already checked for form and checksum. */
static int verify_key_pair(const struct verify_in *in, struct ly_str key_id, struct ly_str secret,
                           enum ly_cred_kind kind, struct ly_principal *p, const char **why)
{
    char id[LY_KEY_ID_LEN + 1];
    memcpy(id, key_id.ptr, LY_KEY_ID_LEN);
    id[LY_KEY_ID_LEN] = '\0';
    /*
     * auth_cache_ttl > 0: the principal the pair resolved to stands that
     * long (a deleted key lags by at most that), keyed by the hash of the
     * whole pair, so Bearer and Basic share one slot.
     */
    int64_t ttl = in->auth->cfg->security.auth_cache_ttl;
    unsigned char pair[LY_SHA256_LEN];
    bool cached = ttl > 0 && in->auth->cache != NULL && pair_hash(key_id, secret, pair);
    uint64_t gen = ly_metrics_generation(); /* before the lookup, as in verify_jwt */
    if (cached) {
        struct ly_auth_cached meta;
        void *slot = ly_auth_cache_get(in->auth->cache, LY_CRED_API_KEY, pair, in->now, gen, in->a,
                                       p, &meta);
        if (slot != NULL) {
            p->cred = kind;
            /* SPEC §5.11 still holds: the use is noted as a lookup would have. */
            struct ly_api_key used = {.id = p->key_id, .last_used_at = meta.last_used};
            meta.last_used = note_use(in->auth, &used, in->now);
            ly_auth_cache_update(slot, &meta);
            return LY_OK;
        }
    }
    struct ly_api_key k;
    struct ly_identity *who = NULL;
    if (in->identity && in->auth->store->api_key_identity != NULL)
        who = ly_arena_zalloc(in->a, sizeof(*who));
    int r = lookup_key(in, id, &k, who);
    if (r == LY_E_NOT_FOUND)
        return refuse(why, "the API key is unknown or revoked");
    if (r != LY_OK)
        return r;
    unsigned char hash[LY_SHA256_LEN];
    ly_sha256(secret.ptr, secret.len, hash);
    if (!ly_ct_equal(hash, k.secret_hash, LY_SHA256_LEN))
        return refuse(why, "the API key is unknown or revoked");
    if (k.expires_at >= 0 && k.expires_at <= in->now)
        return refuse(why, "the API key has expired");
    /*
     * SPEC §4: a personal key acts with the weaker of its role and its
     * user's current one, and not at all once the user left or is disabled.
     */
    bool personal = k.owner_type == LY_PRINCIPAL_USER;
    enum ly_role role = personal ? weaker(k.role, k.owner_role) : k.owner_role;
    if (!k.owner_exists || role == LY_ROLE_NONE || (personal && k.owner_disabled))
        return refuse(why, "the API key's owner is disabled or no longer exists");
    memset(p, 0, sizeof(*p));
    p->type = k.owner_type;
    p->subject = k.owner_id;
    p->cred = kind;
    p->key_id = k.id;
    p->org_id = k.org_id;
    p->org_name = k.org_name;
    p->role = role;
    p->resource = k.resource;
    p->expires_at = k.expires_at;
    p->complete = true; /* never platform-administrator rights through a key */
    p->identity = who;
    int64_t last_used = note_use(in->auth, &k, in->now);
    if (cached) {
        struct ly_auth_cached meta = {.valid_until = cache_until(in->now, ttl, k.expires_at),
                                      .last_used = last_used,
                                      .generation = gen};
        ly_auth_cache_put(in->auth->cache, LY_CRED_API_KEY, pair, in->now, p, &meta);
    }
    return LY_OK;
}

static int verify_api_key(const struct verify_in *in, struct ly_str token, struct ly_principal *p,
                          const char **why)
{
    struct ly_str key_id, secret;
    if (!ly_apikey_parse(in->auth->cfg->api_keys.prefix, token, &key_id, &secret))
        return refuse(why, "malformed API key");
    return verify_key_pair(in, key_id, secret, LY_CRED_API_KEY, p, why);
}

static int verify_basic(const struct verify_in *in, struct ly_str cred, struct ly_principal *p,
                        const char **why)
{
    char buf[MAX_BASIC];
    size_t n = 0;
    if (cred.len > MAX_BASIC || ly_base64_decode(cred.ptr, cred.len, buf, sizeof(buf), &n) != 0)
        return refuse(why, "malformed credentials");
    const char *colon = memchr(buf, ':', n);
    if (colon == NULL)
        return refuse(why, "malformed credentials");
    struct ly_str key_id = {buf, (size_t)(colon - buf)};
    struct ly_str secret = {colon + 1, n - key_id.len - 1};
    if (!ly_apikey_check_pair(in->auth->cfg->api_keys.prefix, key_id, secret))
        return refuse(why, "invalid credentials");
    return verify_key_pair(in, key_id, secret, LY_CRED_BASIC, p, why);
}

/*
 * The credential kinds (STYLE §6): how each is recognised, on which scheme,
 * and its verifier. Recognition is by form only, and the forms are
 * disjoint, so the first row that recognises a credential is its kind.
 */
static const struct kind {
    enum ly_cred_kind kind;
    enum ly_auth_scheme scheme; /* LY_SCHEME_NONE: only ever a bare token */
    bool (*recognise)(const struct ly_auth *auth, struct ly_str s);
    int (*verify)(const struct verify_in *in, struct ly_str s, struct ly_principal *p,
                  const char **why);
} kinds[] = {
    {LY_CRED_OPAQUE, LY_SCHEME_BEARER, is_opaque, verify_opaque},
    {LY_CRED_REFRESH, LY_SCHEME_NONE, is_refresh, verify_refresh},
    {LY_CRED_API_KEY, LY_SCHEME_BEARER, is_api_key, verify_api_key},
    {LY_CRED_JWT, LY_SCHEME_BEARER, is_jwt, verify_jwt},
    {LY_CRED_BASIC, LY_SCHEME_BASIC, NULL, verify_basic},
};

static bool is_credential_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

/* Find the kind of cred on scheme (LY_SCHEME_NONE: a bare token) and verify it. */
static int dispatch(const struct ly_auth *auth, struct ly_arena *a, int64_t now,
                    enum ly_auth_scheme scheme, struct ly_str cred, unsigned accept,
                    struct ly_principal *out, struct ly_auth_failure *fail)
{
    fail->scheme = scheme == LY_SCHEME_NONE ? LY_SCHEME_BEARER : scheme;
    if (cred.len == 0) {
        fail->why = "the credential is empty";
        return LY_E_INVALID_TOKEN;
    }
    if (cred.len > MAX_AUTHORIZATION) {
        fail->why = "the credential is too long";
        return LY_E_INVALID_TOKEN;
    }
    for (size_t i = 0; i < cred.len; i++) {
        if (!is_credential_char((unsigned char)cred.ptr[i])) {
            fail->why = "malformed credential";
            return LY_E_INVALID_TOKEN;
        }
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        const struct kind *k = &kinds[i];
        bool on_scheme =
            scheme == LY_SCHEME_NONE ? k->scheme != LY_SCHEME_BASIC : k->scheme == scheme;
        if (!on_scheme || (k->recognise != NULL && !k->recognise(auth, cred)))
            continue;
        if ((accept & LY_CRED_BIT(k->kind)) == 0) {
            fail->why = "this kind of credential is not accepted here";
            return LY_E_INVALID_TOKEN;
        }
        struct verify_in in = {auth, a, now, (accept & LY_AUTH_IDENTITY) != 0};
        struct ly_principal p;
        const char *why = NULL;
        int r = k->verify(&in, cred, &p, &why);
        if (r == LY_E_INVALID_TOKEN)
            fail->why = why;
        if (r != LY_OK)
            return r;
        *out = p;
        return LY_OK;
    }
    fail->why = "malformed token";
    return LY_E_INVALID_TOKEN;
}

int ly_auth_credential(const struct ly_auth *auth, struct ly_arena *a, int64_t now,
                       const char *authorization, unsigned accept, struct ly_principal *out,
                       struct ly_auth_failure *fail)
{
    fail->scheme = LY_SCHEME_NONE;
    fail->why = "a credential is required";
    if (authorization == NULL || authorization[0] == '\0')
        return LY_E_UNAUTHENTICATED;
    struct ly_str v = ly_str_from(authorization);
    const char *sp = memchr(v.ptr, ' ', v.len);
    struct ly_str scheme = {v.ptr, sp ? (size_t)(sp - v.ptr) : v.len};
    enum ly_auth_scheme kind = ly_str_eq_nocase(scheme, "Bearer")  ? LY_SCHEME_BEARER
                               : ly_str_eq_nocase(scheme, "Basic") ? LY_SCHEME_BASIC
                                                                   : LY_SCHEME_OTHER;
    if (kind == LY_SCHEME_OTHER) {
        fail->scheme = LY_SCHEME_OTHER;
        fail->why = "unsupported authorization scheme";
        return LY_E_UNAUTHENTICATED;
    }
    /* RFC 9110 §11.4: the scheme, one or more spaces, then the credential. */
    struct ly_str cred = {sp ? sp : v.ptr + v.len, sp ? v.len - scheme.len : 0};
    while (cred.len > 0 && cred.ptr[0] == ' ') {
        cred.ptr++;
        cred.len--;
    }
    return dispatch(auth, a, now, kind, cred, accept, out, fail);
}

int ly_auth_token(const struct ly_auth *auth, struct ly_arena *a, int64_t now, struct ly_str token,
                  unsigned accept, struct ly_principal *out, struct ly_auth_failure *fail)
{
    return dispatch(auth, a, now, LY_SCHEME_NONE, token, accept, out, fail);
}

int ly_auth_key_pair(const struct ly_auth *auth, struct ly_arena *a, int64_t now,
                     struct ly_str key_id, struct ly_str secret, struct ly_principal *out,
                     struct ly_auth_failure *fail)
{
    fail->scheme = LY_SCHEME_BASIC;
    fail->why = "invalid credentials";
    if (!ly_apikey_check_pair(auth->cfg->api_keys.prefix, key_id, secret))
        return LY_E_INVALID_TOKEN;
    struct verify_in in = {auth, a, now, false};
    struct ly_principal p;
    const char *why = NULL;
    int r = verify_key_pair(&in, key_id, secret, LY_CRED_BASIC, &p, &why);
    if (r == LY_E_INVALID_TOKEN)
        fail->why = why;
    if (r != LY_OK)
        return r;
    *out = p;
    return LY_OK;
}

int ly_auth_request(const struct ly_auth *auth, const struct ly_request *req, unsigned accept,
                    struct ly_principal *out, struct ly_auth_failure *fail)
{
    return ly_auth_credential(auth, req->arena, req->now, ly_request_env(req, "HTTP_AUTHORIZATION"),
                              accept, out, fail);
}

bool ly_auth_request_has_credential(const struct ly_request *req)
{
    return ly_request_env(req, "HTTP_AUTHORIZATION") != NULL;
}

int ly_auth_complete(const struct ly_auth *auth, struct ly_arena *a, struct ly_principal *p)
{
    if (p->complete)
        return LY_OK;
    if (p->type == LY_PRINCIPAL_USER) {
        struct ly_user u;
        int r = auth->store->user(auth->db, a, p->subject, &u);
        if (r == LY_E_NOT_FOUND || (r == LY_OK && u.disabled))
            return LY_E_INVALID_TOKEN;
        if (r != LY_OK)
            return r;
        p->platform_admin = u.platform_admin;
    } else {
        struct ly_service_account sa;
        int r = auth->store->account(auth->db, a, p->subject, &sa);
        /* One deleted and made again under the same name is another account. */
        if (r == LY_E_NOT_FOUND ||
            (r == LY_OK && p->org_name != NULL && strcmp(p->org_name, sa.org_name) != 0))
            return LY_E_INVALID_TOKEN;
        if (r != LY_OK)
            return r;
        p->org_id = sa.org_id;
        p->org_name = sa.org_name;
        p->role = sa.role;
    }
    p->complete = true;
    return LY_OK;
}

int ly_auth_flush_uses(const struct ly_auth *auth, struct ly_arena *a, int64_t now, bool idle)
{
    struct ly_key_uses *u = auth->uses;
    if (u == NULL || u->n == 0 || (!idle && now < u->next_flush && u->n < LY_KEY_USES_MAX))
        return LY_OK;
    for (size_t i = 0; i < u->n; i++) {
        int r = auth->store->key_touch(auth->db, a, u->e[i].id, u->e[i].minute);
        if (r != LY_OK)
            return r; /* kept: the next tick tries again */
    }
    u->n = 0;
    u->next_flush = now + 60;
    return LY_OK;
}

void ly_auth_challenge_header(struct ly_request *req, struct ly_response *resp, int err,
                              const struct ly_auth_failure *fail)
{
    const char *why = fail->why ? fail->why : "invalid credential";
    if (fail->scheme == LY_SCHEME_BASIC)
        ly_response_header(resp, "WWW-Authenticate", "Basic realm=\"lanyard\"");
    else if (err == LY_E_INVALID_TOKEN)
        /* RFC 6750 §3: the description is ours and static, never token material. */
        ly_response_header(resp, "WWW-Authenticate",
                           ly_arena_printf(req->arena,
                                           "Bearer realm=\"lanyard\", error=\"invalid_token\", "
                                           "error_description=\"%s\"",
                                           why));
    else
        ly_response_header(resp, "WWW-Authenticate", "Bearer realm=\"lanyard\"");
}

void ly_auth_challenge(struct ly_request *req, struct ly_response *resp, int err,
                       const struct ly_auth_failure *fail)
{
    const char *why = fail->why ? fail->why : "invalid credential";
    /* Basic credentials are not a token: their refusal is unauthenticated, not invalid_token. */
    int code = err == LY_E_INVALID_TOKEN && fail->scheme != LY_SCHEME_BASIC ? LY_E_INVALID_TOKEN
                                                                            : LY_E_UNAUTHENTICATED;
    ly_response_problem(req, resp, code, why, NULL);
    ly_auth_challenge_header(req, resp, err, fail);
}
