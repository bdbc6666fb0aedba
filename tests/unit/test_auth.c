/*
 * Unit tests of the authentication layer (src/auth/): one table of
 * credential bytes → the principal or the exact error, for every kind of
 * SPEC §4 (JWT and opaque access tokens, refresh tokens, API keys as Bearer
 * and as Basic), over a store of the test's own (struct ly_auth_store),
 * plus what ly_auth_complete adds and the challenge answers.
 */
#include "build-config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "check.h"
#include "lanyard/auth.h"
#include "lanyard/codec.h"
#include "lanyard/config.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"
#include "lanyard/jwt.h"
#include "lanyard/token.h"

#include "../../src/auth/internal.h"

#define NOW     1900000000 /* 2030-03-17 */
#define ISSUER  "https://id.example"
#define PREFIX  "lyk"
#define DB_DOWN ((struct ly_db *)0x1) /* the fake store answers 503 for this handle */

/* The credentials the fake store knows, made fresh for each run. */
static struct {
    char opaque_user[LY_TOKEN_MAX_LEN], opaque_sa[LY_TOKEN_MAX_LEN],
        opaque_unknown[LY_TOKEN_MAX_LEN];
    char refresh_live[LY_TOKEN_MAX_LEN], refresh_spent[LY_TOKEN_MAX_LEN];
    char key_id[LY_KEY_ID_LEN + 1], key[LY_TOKEN_MAX_LEN];
    /* personal keys: role admin, user a member; user left the org; user disabled */
    char personal_id[LY_KEY_ID_LEN + 1], personal[LY_TOKEN_MAX_LEN];
    char left_id[LY_KEY_ID_LEN + 1], left[LY_TOKEN_MAX_LEN];
    char disabled_id[LY_KEY_ID_LEN + 1], disabled[LY_TOKEN_MAX_LEN];
    char expired_id[LY_KEY_ID_LEN + 1], expired[LY_TOKEN_MAX_LEN];
    char unknown_id[LY_KEY_ID_LEN + 1], unknown[LY_TOKEN_MAX_LEN];
    char wrong_secret[LY_TOKEN_MAX_LEN]; /* the known key id, another (well-formed) secret */
    char basic[256], basic_wrong[256], basic_bad_pair[256];
    char jwt_user[2048], jwt_sa[2048], jwt_expired[2048], jwt_dead_session[2048],
        jwt_other_key[2048], jwt_disabled[2048], jwt_sa_moved[2048], jwt_sa_dead_key[2048];
} t;

static int touches; /* calls of the fake key_touch */
static int lookups; /* calls of the fake access, api_key and session_live */
static bool gone;   /* the fake store has deleted t.key and ended ses-live */

static struct ly_config cfg;
static struct ly_keyset *keys, *other_keys;

static bool same_hash(const unsigned char h[LY_SHA256_LEN], const char *token)
{
    unsigned char want[LY_SHA256_LEN];
    ly_sha256(token, strlen(token), want);
    return memcmp(h, want, LY_SHA256_LEN) == 0;
}

static int fake_access(struct ly_db *db, struct ly_arena *a,
                       const unsigned char hash[LY_SHA256_LEN], int64_t now, struct ly_access *out)
{
    (void)a;
    (void)now;
    if (db == DB_DOWN)
        return LY_E_UNAVAILABLE;
    lookups++;
    if (gone)
        return LY_E_NOT_FOUND;
    memset(out, 0, sizeof(*out));
    out->expires_at = NOW + 900;
    if (same_hash(hash, t.opaque_user)) {
        out->user_id = "u-aaaaaaaaaaaa";
        out->session_id = "ses-live";
        out->platform_admin = true;
        return LY_OK;
    }
    if (same_hash(hash, t.opaque_sa)) {
        out->service_account_id = "sa-bbbbbbbbbbbb";
        out->api_key_id = t.key_id;
        out->org_id = "org-cccccccccccc";
        out->org_name = "acme";
        out->role = LY_ROLE_ADMIN;
        return LY_OK;
    }
    return LY_E_NOT_FOUND;
}

static int fake_refresh(struct ly_db *db, struct ly_arena *a,
                        const unsigned char hash[LY_SHA256_LEN], bool lock, struct ly_refresh *out)
{
    (void)a;
    (void)lock;
    if (db == DB_DOWN)
        return LY_E_UNAVAILABLE;
    bool live = same_hash(hash, t.refresh_live), spent = same_hash(hash, t.refresh_spent);
    if (!live && !spent)
        return LY_E_NOT_FOUND;
    memset(out, 0, sizeof(*out));
    out->session_id = "ses-live";
    out->user_id = "u-aaaaaaaaaaaa";
    out->expires_at = NOW + 86400;
    out->spent = spent;
    return LY_OK;
}

static int fake_api_key(struct ly_db *db, struct ly_arena *a, const char *key_id,
                        struct ly_api_key *out)
{
    (void)a;
    if (db == DB_DOWN)
        return LY_E_UNAVAILABLE;
    lookups++;
    if (gone && strcmp(key_id, t.key_id) == 0)
        return LY_E_NOT_FOUND;
    static const struct {
        const char *id, *token;
        bool personal, expired, disabled;
        enum ly_role owner_role;
    } known[] = {
        {t.key_id, t.key, false, false, false, LY_ROLE_MEMBER},
        {t.expired_id, t.expired, false, true, false, LY_ROLE_MEMBER},
        {t.personal_id, t.personal, true, false, false, LY_ROLE_MEMBER},
        {t.left_id, t.left, true, false, false, LY_ROLE_NONE},
        {t.disabled_id, t.disabled, true, false, true, LY_ROLE_OWNER},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(key_id, known[i].id) != 0)
            continue;
        memset(out, 0, sizeof(*out));
        out->id = known[i].id;
        const char *secret = known[i].token + strlen(known[i].token) - LY_TOKEN_SECRET_LEN;
        ly_sha256(secret, LY_TOKEN_SECRET_LEN, out->secret_hash);
        out->expires_at = known[i].expired ? NOW - 1 : -1;
        out->last_used_at = -1;
        out->owner_type = known[i].personal ? LY_PRINCIPAL_USER : LY_PRINCIPAL_SERVICE_ACCOUNT;
        out->owner_id = known[i].personal ? "u-aaaaaaaaaaaa" : "sa-bbbbbbbbbbbb";
        out->owner_exists = true;
        out->owner_role = known[i].owner_role;
        out->owner_disabled = known[i].disabled;
        out->role = known[i].personal ? LY_ROLE_ADMIN : LY_ROLE_NONE;
        out->org_id = "org-cccccccccccc";
        out->org_name = "acme";
        out->resource = i == 0 ? "env-1.aws.us-east-1" : NULL;
        return LY_OK;
    }
    return LY_E_NOT_FOUND;
}

static int fake_key_touch(struct ly_db *db, struct ly_arena *a, const char *id, int64_t minute)
{
    (void)a;
    (void)id;
    if (db == DB_DOWN)
        return LY_E_UNAVAILABLE;
    CHECK("a use is noted for its minute", minute % 60 == 0);
    touches++;
    return LY_OK;
}

static int fake_session_live(struct ly_db *db, struct ly_arena *a, const char *sid, bool *live)
{
    (void)a;
    if (db == DB_DOWN)
        return LY_E_UNAVAILABLE;
    lookups++;
    *live = !gone && strcmp(sid, "ses-live") == 0;
    return LY_OK;
}

static int fake_user(struct ly_db *db, struct ly_arena *a, const char *id, struct ly_user *out)
{
    (void)a;
    if (db == DB_DOWN)
        return LY_E_UNAVAILABLE;
    memset(out, 0, sizeof(*out));
    if (strcmp(id, "u-aaaaaaaaaaaa") == 0) {
        out->id = id;
        out->platform_admin = true;
        return LY_OK;
    }
    if (strcmp(id, "u-disabled0000") == 0) {
        out->id = id;
        out->disabled = true;
        return LY_OK;
    }
    return LY_E_NOT_FOUND;
}

static int fake_account(struct ly_db *db, struct ly_arena *a, const char *id,
                        struct ly_service_account *out)
{
    (void)a;
    if (db == DB_DOWN)
        return LY_E_UNAVAILABLE;
    if (strcmp(id, "sa-bbbbbbbbbbbb") != 0)
        return LY_E_NOT_FOUND;
    memset(out, 0, sizeof(*out));
    out->id = id;
    out->org_id = "org-cccccccccccc";
    out->org_name = "acme";
    out->role = LY_ROLE_ADMIN;
    return LY_OK;
}

static int identities; /* calls of the fake access_identity and api_key_identity */

/* What the identity lookups give: a user with one organization, or the account. */
static void fake_identity(struct ly_arena *a, const char *user_id, const char *account_id,
                          struct ly_identity *who)
{
    memset(who, 0, sizeof(*who));
    if (user_id != NULL) {
        struct ly_user *u = ly_arena_zalloc(a, sizeof(*u));
        struct ly_org_membership *m = ly_arena_zalloc(a, sizeof(*m));
        u->id = user_id;
        u->email = "ada@example.com";
        *m = (struct ly_org_membership){"acme", NULL, LY_ROLE_MEMBER};
        who->user = u;
        who->orgs = m;
        who->n_orgs = 1;
    } else {
        struct ly_service_account *sa = ly_arena_zalloc(a, sizeof(*sa));
        fake_account(NULL, a, account_id, sa);
        who->account = sa;
    }
}

static int fake_access_identity(struct ly_db *db, struct ly_arena *a,
                                const unsigned char hash[LY_SHA256_LEN], int64_t now,
                                struct ly_access *out, struct ly_identity *who)
{
    struct ly_access acc;
    int r = fake_access(db, a, hash, now, &acc);
    if (r != LY_OK)
        return r;
    identities++;
    fake_identity(a, acc.user_id, acc.service_account_id, who);
    *out = acc;
    return LY_OK;
}

/* What an identity lookup of a key gives after r, its lookup of k. */
static int with_key_identity(int r, struct ly_arena *a, const struct ly_api_key *k,
                             struct ly_api_key *out, struct ly_identity *who)
{
    if (r != LY_OK)
        return r;
    identities++;
    bool personal = k->owner_type == LY_PRINCIPAL_USER;
    fake_identity(a, personal ? k->owner_id : NULL, personal ? NULL : k->owner_id, who);
    *out = *k;
    return LY_OK;
}

static int fake_api_key_identity(struct ly_db *db, struct ly_arena *a, const char *key_id,
                                 struct ly_api_key *out, struct ly_identity *who)
{
    struct ly_api_key k;
    return with_key_identity(fake_api_key(db, a, key_id, &k), a, &k, out, who);
}

/* Calls of the fake api_key_owned and access_user, and of their _identity_ forms. */
static int owned_lookups;
/* The key's row names another organization than when it was first seen (an operator's edit). */
static bool moved_org;

/* As the store's: the key's row only when its owner is of kind owner. */
static int fake_api_key_owned(struct ly_db *db, struct ly_arena *a, const char *key_id,
                              enum ly_principal_type owner, struct ly_api_key *out)
{
    struct ly_api_key k;
    int r = fake_api_key(db, a, key_id, &k);
    if (db != DB_DOWN) {
        lookups--; /* counted apart */
        owned_lookups++;
    }
    if (r == LY_OK && k.owner_type != owner)
        r = LY_E_NOT_FOUND;
    if (r == LY_OK)
        *out = k;
    return r;
}

/* As the store's check lookup: without the organization's name, which the hint holds. */
static int fake_api_key_owned_unnamed(struct ly_db *db, struct ly_arena *a, const char *key_id,
                                      enum ly_principal_type owner, struct ly_api_key *out)
{
    int r = fake_api_key_owned(db, a, key_id, owner, out);
    if (r == LY_OK) {
        out->org_name = NULL;
        out->org_id = moved_org ? "org-dddddddddddd" : out->org_id;
    }
    return r;
}

/* As the store's: the token's row only when it is a signed-in user's. */
static int fake_access_user(struct ly_db *db, struct ly_arena *a,
                            const unsigned char hash[LY_SHA256_LEN], int64_t now,
                            struct ly_access *out)
{
    struct ly_access acc;
    int r = fake_access(db, a, hash, now, &acc);
    if (db != DB_DOWN) {
        lookups--; /* counted apart */
        owned_lookups++;
    }
    if (r == LY_OK && (acc.user_id == NULL || acc.service_account_id != NULL || acc.api_key_id))
        r = LY_E_NOT_FOUND;
    if (r == LY_OK)
        *out = acc;
    return r;
}

static int fake_access_identity_user(struct ly_db *db, struct ly_arena *a,
                                     const unsigned char hash[LY_SHA256_LEN], int64_t now,
                                     struct ly_access *out, struct ly_identity *who)
{
    struct ly_access acc;
    int r = fake_access_user(db, a, hash, now, &acc);
    if (r != LY_OK)
        return r;
    identities++;
    fake_identity(a, acc.user_id, NULL, who);
    *out = acc;
    return LY_OK;
}

static int fake_api_key_identity_owned(struct ly_db *db, struct ly_arena *a, const char *key_id,
                                       enum ly_principal_type owner, struct ly_api_key *out,
                                       struct ly_identity *who)
{
    struct ly_api_key k;
    return with_key_identity(fake_api_key_owned(db, a, key_id, owner, &k), a, &k, out, who);
}

static const struct ly_auth_store fake_store = {
    .access = fake_access,
    .refresh = fake_refresh,
    .api_key = fake_api_key,
    .access_identity = fake_access_identity,
    .api_key_identity = fake_api_key_identity,
    .access_user = fake_access_user,
    .access_identity_user = fake_access_identity_user,
    .api_key_owned = fake_api_key_owned_unnamed,
    .api_key_identity_owned = fake_api_key_identity_owned,
    .session_live = fake_session_live,
    .user = fake_user,
    .account = fake_account,
    .key_touch = fake_key_touch,
};

static struct ly_keyset *make_keys(const char *dir, const char *name)
{
    char path[256], err[256] = "";
    struct ly_keyset *ks = NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    cfg.tokens.jwt.key_file = path;
    if (ly_key_generate(LY_ALG_EDDSA, path, err, sizeof(err)) != LY_OK ||
        ly_keyset_load(&cfg, &ks, err, sizeof(err)) != LY_OK)
        fail_msg("key: %s", err);
    unlink(path);
    return ks;
}

static const char *sign_key_id; /* a service account's client_id when not t.key_id */

static void sign(struct ly_keyset *ks, char *out, const char *sub, const char *sid, const char *org,
                 int64_t exp)
{
    struct ly_arena a;
    ly_arena_init(&a, 4096);
    struct ly_jwt_claims c = {
        .iss = ISSUER,
        .sub = sub,
        .aud = "lanyard",
        .jti = "jti-1",
        .client_id = org ? (sign_key_id ? sign_key_id : t.key_id) : "lanyard",
        .sid = sid,
        .org = org,
        .principal_type = org ? LY_PRINCIPAL_SERVICE_ACCOUNT : LY_PRINCIPAL_USER,
        .exp = exp,
        .iat = NOW - 60,
        .nbf = NOW - 60,
    };
    char *tok = NULL;
    if (ly_jwt_sign(ks, &c, &a, &tok) != LY_OK)
        fail_msg("sign");
    snprintf(out, 2048, "%s", tok);
    ly_arena_release(&a);
}

/* "<prefix>_<KEYID>_<43 chars><crc6>" for a key id of our choosing. */
static void key_token(char *out, const char *key_id, char fill)
{
    char body[128];
    int n = snprintf(body, sizeof(body), PREFIX "_%s_", key_id);
    memset(body + n, fill, LY_TOKEN_RANDOM_LEN);
    body[n + LY_TOKEN_RANDOM_LEN] = '\0';
    char crc[LY_TOKEN_CRC_LEN + 1];
    ly_base62_encode_u32(ly_crc32(body, strlen(body)), crc, LY_TOKEN_CRC_LEN);
    crc[LY_TOKEN_CRC_LEN] = '\0';
    snprintf(out, LY_TOKEN_MAX_LEN, "%s%s", body, crc);
}

static void basic_of(char *out, const char *user, const char *pass)
{
    char pair[200];
    int n = snprintf(pair, sizeof(pair), "%s:%s", user, pass);
    int k = snprintf(out, 256, "Basic ");
    ly_base64_encode(pair, (size_t)n, out + k);
}

static int setup(void **state)
{
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.tokens.mode = LY_TOKENS_JWT;
    cfg.tokens.issuer = (char *)ISSUER;
    cfg.tokens.audience = (char *)"lanyard";
    cfg.tokens.leeway = 30;
    cfg.tokens.jwt.algorithm = LY_ALG_EDDSA;
    cfg.api_keys.prefix = (char *)PREFIX;
    char dir[] = "/tmp/lanyard-test-auth-XXXXXX";
    if (mkdtemp(dir) == NULL)
        fail_msg("mkdtemp");
    keys = make_keys(dir, "current.pem");
    other_keys = make_keys(dir, "other.pem");
    rmdir(dir);

    ly_token_generate(LY_ACCESS_PREFIX, t.opaque_user);
    ly_token_generate(LY_ACCESS_PREFIX, t.opaque_sa);
    ly_token_generate(LY_ACCESS_PREFIX, t.opaque_unknown);
    ly_token_generate(LY_REFRESH_PREFIX, t.refresh_live);
    ly_token_generate(LY_REFRESH_PREFIX, t.refresh_spent);
    /*
     * The keys are random, and the owner hints are direct-mapped: two keys
     * in one slot would take each other's hint, and test_owner_hints counts
     * the lookups a hint saves. So each key gets a slot of its own.
     */
    char *ids[] = {t.key_id, t.expired_id, t.unknown_id, t.personal_id, t.left_id, t.disabled_id};
    char *toks[] = {t.key, t.expired, t.unknown, t.personal, t.left, t.disabled};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        bool shared;
        do {
            ly_apikey_generate(PREFIX, ids[i], toks[i]);
            shared = false;
            for (size_t j = 0; j < i; j++)
                shared |= ly_auth_key_hint_slot(ids[j]) == ly_auth_key_hint_slot(ids[i]);
        } while (shared);
    }
    key_token(t.wrong_secret, t.key_id, 'Q');
    const char *secret = t.key + strlen(t.key) - LY_TOKEN_SECRET_LEN;
    basic_of(t.basic, t.key_id, secret);
    const char *wrong = t.wrong_secret + strlen(t.wrong_secret) - LY_TOKEN_SECRET_LEN;
    basic_of(t.basic_wrong, t.key_id, wrong);
    basic_of(t.basic_bad_pair, t.key_id, "not-a-secret");

    sign(keys, t.jwt_user, "u-aaaaaaaaaaaa", "ses-live", NULL, NOW + 600);
    sign(keys, t.jwt_sa, "sa-bbbbbbbbbbbb", NULL, "acme", NOW + 600);
    sign(keys, t.jwt_sa_moved, "sa-bbbbbbbbbbbb", NULL, "elsewhere", NOW + 600);
    sign_key_id = t.unknown_id;
    sign(keys, t.jwt_sa_dead_key, "sa-bbbbbbbbbbbb", NULL, "acme", NOW + 600);
    sign_key_id = NULL;
    sign(keys, t.jwt_expired, "u-aaaaaaaaaaaa", "ses-live", NULL, NOW - 31);
    sign(keys, t.jwt_dead_session, "u-aaaaaaaaaaaa", "ses-dead", NULL, NOW + 600);
    sign(keys, t.jwt_disabled, "u-disabled0000", "ses-live", NULL, NOW + 600);
    sign(other_keys, t.jwt_other_key, "u-aaaaaaaaaaaa", "ses-live", NULL, NOW + 600);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ly_keyset_free(keys);
    ly_keyset_free(other_keys);
    return 0;
}

static const char *bearer(struct ly_arena *a, const char *token)
{
    return ly_arena_printf(a, "Bearer %s", token);
}

/* The table: every kind, accepted and refused, with the exact outcome. */
static void test_credentials(void **state)
{
    (void)state;
    struct ly_arena a;
    ly_arena_init(&a, 16384);
    char *huge = ly_arena_alloc(&a, LY_JWT_MAX_LEN + 64);
    memset(huge, 'x', LY_JWT_MAX_LEN + 63);
    huge[LY_JWT_MAX_LEN + 63] = '\0';
    char bad_crc[LY_TOKEN_MAX_LEN];
    snprintf(bad_crc, sizeof(bad_crc), "%s", t.opaque_user);
    bad_crc[strlen(bad_crc) - 1] = bad_crc[strlen(bad_crc) - 1] == 'A' ? 'B' : 'A';
    char key_bad_crc[LY_TOKEN_MAX_LEN];
    snprintf(key_bad_crc, sizeof(key_bad_crc), "%s", t.key);
    key_bad_crc[5] = key_bad_crc[5] == 'A' ? 'B' : 'A';

    const struct {
        const char *desc;
        const char *header; /* NULL: none sent */
        bool revocation;    /* tokens.jwt.check_revocation */
        bool db_down;
        int want;
        enum ly_auth_scheme scheme; /* of the failure */
        const char *why;            /* of the failure, exactly */
        enum ly_cred_kind kind;     /* on success */
        enum ly_principal_type type;
        const char *subject;
    } cases[] = {
        {"nothing sent", NULL, false, false, LY_E_UNAUTHENTICATED, LY_SCHEME_NONE,
         "a credential is required", 0, 0, NULL},
        {"empty header", "", false, false, LY_E_UNAUTHENTICATED, LY_SCHEME_NONE,
         "a credential is required", 0, 0, NULL},
        {"other scheme", "Digest x", false, false, LY_E_UNAUTHENTICATED, LY_SCHEME_OTHER,
         "unsupported authorization scheme", 0, 0, NULL},
        {"empty Bearer", "Bearer", false, false, LY_E_INVALID_TOKEN, LY_SCHEME_BEARER,
         "the credential is empty", 0, 0, NULL},
        {"empty Bearer with spaces", "Bearer   ", false, false, LY_E_INVALID_TOKEN,
         LY_SCHEME_BEARER, "the credential is empty", 0, 0, NULL},
        {"longer than any JWT", bearer(&a, huge), false, false, LY_E_INVALID_TOKEN,
         LY_SCHEME_BEARER, "the credential is too long", 0, 0, NULL},
        {"control character", "Bearer ab\tcd", false, false, LY_E_INVALID_TOKEN, LY_SCHEME_BEARER,
         "malformed credential", 0, 0, NULL},
        {"unrecognised form", "Bearer hello", false, false, LY_E_INVALID_TOKEN, LY_SCHEME_BEARER,
         "malformed token", 0, 0, NULL},

        {"JWT of a user", bearer(&a, t.jwt_user), false, false, LY_OK, 0, NULL, LY_CRED_JWT,
         LY_PRINCIPAL_USER, "u-aaaaaaaaaaaa"},
        {"lower-case scheme", ly_arena_printf(&a, "bearer %s", t.jwt_user), false, false, LY_OK, 0,
         NULL, LY_CRED_JWT, LY_PRINCIPAL_USER, "u-aaaaaaaaaaaa"},
        {"JWT of a service account", bearer(&a, t.jwt_sa), false, false, LY_OK, 0, NULL,
         LY_CRED_JWT, LY_PRINCIPAL_SERVICE_ACCOUNT, "sa-bbbbbbbbbbbb"},
        {"JWT needs no database", bearer(&a, t.jwt_user), false, true, LY_OK, 0, NULL, LY_CRED_JWT,
         LY_PRINCIPAL_USER, "u-aaaaaaaaaaaa"},
        {"JWT past exp and leeway", bearer(&a, t.jwt_expired), false, false, LY_E_INVALID_TOKEN,
         LY_SCHEME_BEARER, "token expired", 0, 0, NULL},
        {"JWT of an unknown key", bearer(&a, t.jwt_other_key), false, false, LY_E_INVALID_TOKEN,
         LY_SCHEME_BEARER, "unknown signing key", 0, 0, NULL},
        {"JWT, session live", bearer(&a, t.jwt_user), true, false, LY_OK, 0, NULL, LY_CRED_JWT,
         LY_PRINCIPAL_USER, "u-aaaaaaaaaaaa"},
        {"JWT, session ended", bearer(&a, t.jwt_dead_session), true, false, LY_E_INVALID_TOKEN,
         LY_SCHEME_BEARER, "the session has ended", 0, 0, NULL},
        {"JWT, revocation check, database down", bearer(&a, t.jwt_user), true, true,
         LY_E_UNAVAILABLE, 0, NULL, 0, 0, NULL},

        {"opaque token of a user", bearer(&a, t.opaque_user), false, false, LY_OK, 0, NULL,
         LY_CRED_OPAQUE, LY_PRINCIPAL_USER, "u-aaaaaaaaaaaa"},
        {"opaque token of a service account", bearer(&a, t.opaque_sa), false, false, LY_OK, 0, NULL,
         LY_CRED_OPAQUE, LY_PRINCIPAL_SERVICE_ACCOUNT, "sa-bbbbbbbbbbbb"},
        {"opaque token unknown", bearer(&a, t.opaque_unknown), false, false, LY_E_INVALID_TOKEN,
         LY_SCHEME_BEARER, "the token is unknown, expired or revoked", 0, 0, NULL},
        {"opaque token, bad checksum", bearer(&a, bad_crc), false, false, LY_E_INVALID_TOKEN,
         LY_SCHEME_BEARER, "malformed token", 0, 0, NULL},
        {"opaque token, bad checksum, no database needed", bearer(&a, bad_crc), false, true,
         LY_E_INVALID_TOKEN, LY_SCHEME_BEARER, "malformed token", 0, 0, NULL},
        {"opaque token, database down", bearer(&a, t.opaque_user), false, true, LY_E_UNAVAILABLE, 0,
         NULL, 0, 0, NULL},
        {"refresh token is no Bearer credential", bearer(&a, t.refresh_live), false, false,
         LY_E_INVALID_TOKEN, LY_SCHEME_BEARER, "malformed token", 0, 0, NULL},

        {"API key", bearer(&a, t.key), false, false, LY_OK, 0, NULL, LY_CRED_API_KEY,
         LY_PRINCIPAL_SERVICE_ACCOUNT, "sa-bbbbbbbbbbbb"},
        {"API key, wrong secret", bearer(&a, t.wrong_secret), false, false, LY_E_INVALID_TOKEN,
         LY_SCHEME_BEARER, "the API key is unknown or revoked", 0, 0, NULL},
        {"API key expired", bearer(&a, t.expired), false, false, LY_E_INVALID_TOKEN,
         LY_SCHEME_BEARER, "the API key has expired", 0, 0, NULL},
        {"API key unknown", bearer(&a, t.unknown), false, false, LY_E_INVALID_TOKEN,
         LY_SCHEME_BEARER, "the API key is unknown or revoked", 0, 0, NULL},
        {"API key, bad checksum", bearer(&a, key_bad_crc), false, true, LY_E_INVALID_TOKEN,
         LY_SCHEME_BEARER, "malformed API key", 0, 0, NULL},
        {"API key, database down", bearer(&a, t.key), false, true, LY_E_UNAVAILABLE, 0, NULL, 0, 0,
         NULL},
        {"personal key", bearer(&a, t.personal), false, false, LY_OK, 0, NULL, LY_CRED_API_KEY,
         LY_PRINCIPAL_USER, "u-aaaaaaaaaaaa"},
        {"personal key of one who left", bearer(&a, t.left), false, false, LY_E_INVALID_TOKEN,
         LY_SCHEME_BEARER, "the API key's owner is disabled or no longer exists", 0, 0, NULL},
        {"personal key of a disabled user", bearer(&a, t.disabled), false, false,
         LY_E_INVALID_TOKEN, LY_SCHEME_BEARER,
         "the API key's owner is disabled or no longer exists", 0, 0, NULL},
        {"JWT of a service account, key live", bearer(&a, t.jwt_sa), true, false, LY_OK, 0, NULL,
         LY_CRED_JWT, LY_PRINCIPAL_SERVICE_ACCOUNT, "sa-bbbbbbbbbbbb"},
        {"JWT of a service account, key deleted", bearer(&a, t.jwt_sa_dead_key), true, false,
         LY_E_INVALID_TOKEN, LY_SCHEME_BEARER,
         "the API key it was issued for is revoked or expired", 0, 0, NULL},
        {"JWT of a service account, key deleted, no revocation check",
         bearer(&a, t.jwt_sa_dead_key), false, false, LY_OK, 0, NULL, LY_CRED_JWT,
         LY_PRINCIPAL_SERVICE_ACCOUNT, "sa-bbbbbbbbbbbb"},

        {"Basic KEYID:secret", t.basic, false, false, LY_OK, 0, NULL, LY_CRED_BASIC,
         LY_PRINCIPAL_SERVICE_ACCOUNT, "sa-bbbbbbbbbbbb"},
        {"Basic, wrong secret", t.basic_wrong, false, false, LY_E_INVALID_TOKEN, LY_SCHEME_BASIC,
         "the API key is unknown or revoked", 0, 0, NULL},
        {"Basic, not a key pair", t.basic_bad_pair, false, false, LY_E_INVALID_TOKEN,
         LY_SCHEME_BASIC, "invalid credentials", 0, 0, NULL},
        {"Basic, not base64", "Basic !!!!", false, false, LY_E_INVALID_TOKEN, LY_SCHEME_BASIC,
         "malformed credentials", 0, 0, NULL},
        {"Basic without a colon", "Basic Zm9vYmFy", false, false, LY_E_INVALID_TOKEN,
         LY_SCHEME_BASIC, "malformed credentials", 0, 0, NULL},
        {"Basic, empty", "Basic ", false, false, LY_E_INVALID_TOKEN, LY_SCHEME_BASIC,
         "the credential is empty", 0, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cfg.tokens.jwt.check_revocation = cases[i].revocation;
        struct ly_auth auth = {&cfg, keys, &fake_store, cases[i].db_down ? DB_DOWN : NULL,
                               NULL, NULL, NULL};
        struct ly_principal p = {.subject = "untouched"};
        struct ly_auth_failure fail = {LY_SCHEME_OTHER, "sentinel"};
        int r = ly_auth_credential(&auth, &a, NOW, cases[i].header, LY_CREDS_ON_REQUEST, &p, &fail);
        CHECK(cases[i].desc, r == cases[i].want);
        if (r != LY_OK) {
            CHECK(cases[i].desc, strcmp(p.subject, "untouched") == 0);
            if (r == LY_E_UNAUTHENTICATED || r == LY_E_INVALID_TOKEN) {
                CHECK(cases[i].desc, fail.scheme == cases[i].scheme);
                CHECK(cases[i].desc, fail.why != NULL && strcmp(fail.why, cases[i].why) == 0);
            }
            continue;
        }
        CHECK(cases[i].desc, p.cred == cases[i].kind);
        CHECK(cases[i].desc, p.type == cases[i].type);
        CHECK(cases[i].desc, strcmp(p.subject, cases[i].subject) == 0);
    }
    cfg.tokens.jwt.check_revocation = false;
    ly_arena_release(&a);
}

/* What each kind says about the caller beyond the subject. */
static void test_principal_fields(void **state)
{
    (void)state;
    struct ly_arena a;
    ly_arena_init(&a, 8192);
    struct ly_auth auth = {&cfg, keys, &fake_store, NULL, NULL, NULL, NULL};
    struct ly_principal p;
    struct ly_auth_failure fail;

    assert_int_equal(
        ly_auth_credential(&auth, &a, NOW, bearer(&a, t.jwt_user), LY_CREDS_ON_REQUEST, &p, &fail),
        LY_OK);
    CHECK("JWT user: session", strcmp(p.session_id, "ses-live") == 0);
    CHECK("JWT user: expiry", p.expires_at == NOW + 600);
    CHECK("JWT user: not complete", !p.complete && !p.platform_admin && p.org_id == NULL);
    CHECK("JWT user: no role", p.role == LY_ROLE_NONE && p.key_id == NULL);
    assert_int_equal(ly_auth_complete(&auth, &a, &p), LY_OK);
    CHECK("JWT user completed: platform admin", p.complete && p.platform_admin);

    assert_int_equal(
        ly_auth_credential(&auth, &a, NOW, bearer(&a, t.jwt_sa), LY_CREDS_ON_REQUEST, &p, &fail),
        LY_OK);
    CHECK("JWT SA: key and org name",
          strcmp(p.key_id, t.key_id) == 0 && strcmp(p.org_name, "acme") == 0 && p.org_id == NULL);
    assert_int_equal(ly_auth_complete(&auth, &a, &p), LY_OK);
    CHECK("JWT SA completed: org and role",
          strcmp(p.org_id, "org-cccccccccccc") == 0 && p.role == LY_ROLE_ADMIN);

    assert_int_equal(ly_auth_credential(&auth, &a, NOW, bearer(&a, t.jwt_sa_moved),
                                        LY_CREDS_ON_REQUEST, &p, &fail),
                     LY_OK);
    CHECK("JWT SA of another org of that name",
          ly_auth_complete(&auth, &a, &p) == LY_E_INVALID_TOKEN);

    assert_int_equal(ly_auth_credential(&auth, &a, NOW, bearer(&a, t.jwt_disabled),
                                        LY_CREDS_ON_REQUEST, &p, &fail),
                     LY_OK);
    CHECK("disabled user: refused on completion",
          ly_auth_complete(&auth, &a, &p) == LY_E_INVALID_TOKEN);
    struct ly_auth down = {&cfg, keys, &fake_store, DB_DOWN, NULL, NULL, NULL};
    assert_int_equal(
        ly_auth_credential(&down, &a, NOW, bearer(&a, t.jwt_user), LY_CREDS_ON_REQUEST, &p, &fail),
        LY_OK);
    CHECK("completion with the database down", ly_auth_complete(&down, &a, &p) == LY_E_UNAVAILABLE);

    assert_int_equal(
        ly_auth_credential(&auth, &a, NOW, bearer(&a, t.opaque_sa), LY_CREDS_ON_REQUEST, &p, &fail),
        LY_OK);
    CHECK("opaque SA: complete from the lookup", p.complete && p.role == LY_ROLE_ADMIN &&
                                                     strcmp(p.org_name, "acme") == 0 &&
                                                     strcmp(p.key_id, t.key_id) == 0);
    assert_int_equal(ly_auth_credential(&auth, &a, NOW, bearer(&a, t.opaque_user),
                                        LY_CREDS_ON_REQUEST, &p, &fail),
                     LY_OK);
    CHECK("opaque user: admin from the lookup",
          p.complete && p.platform_admin && strcmp(p.session_id, "ses-live") == 0);

    assert_int_equal(
        ly_auth_credential(&auth, &a, NOW, bearer(&a, t.key), LY_CREDS_ON_REQUEST, &p, &fail),
        LY_OK);
    CHECK("API key: scoped, never a platform administrator",
          p.complete && !p.platform_admin && p.role == LY_ROLE_MEMBER &&
              strcmp(p.resource, "env-1.aws.us-east-1") == 0 && p.expires_at == -1 &&
              strcmp(p.key_id, t.key_id) == 0);

    /* SPEC §4: the weaker of the key's role (admin) and its user's (member), never more. */
    assert_int_equal(
        ly_auth_credential(&auth, &a, NOW, bearer(&a, t.personal), LY_CREDS_ON_REQUEST, &p, &fail),
        LY_OK);
    CHECK("personal key: a user bound to the key's organization",
          ly_principal_is_personal_key(&p) && p.complete && !p.platform_admin &&
              strcmp(p.org_id, "org-cccccccccccc") == 0 && p.role == LY_ROLE_MEMBER &&
              p.session_id == NULL);
    ly_arena_release(&a);
}

/* SPEC §5.11: last use noted per key and minute, written at most once a minute unless idle. */
static void test_key_uses(void **state)
{
    (void)state;
    struct ly_arena a;
    ly_arena_init(&a, 8192);
    static struct ly_key_uses uses;
    memset(&uses, 0, sizeof(uses));
    struct ly_auth auth = {&cfg, keys, &fake_store, NULL, &uses, NULL, NULL};
    struct ly_principal p;
    struct ly_auth_failure fail;
    touches = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            ly_auth_credential(&auth, &a, NOW, bearer(&a, t.key), LY_CREDS_ON_REQUEST, &p, &fail),
            LY_OK);
    assert_int_equal(ly_auth_credential(&auth, &a, NOW, t.basic, LY_CREDS_ON_REQUEST, &p, &fail),
                     LY_OK);
    CHECK("four uses of one key, one note", uses.n == 1);
    assert_int_equal(
        ly_auth_credential(&auth, &a, NOW, bearer(&a, t.personal), LY_CREDS_ON_REQUEST, &p, &fail),
        LY_OK);
    CHECK("another key, another note", uses.n == 2);
    CHECK("a refused key is no use",
          ly_auth_credential(&auth, &a, NOW, bearer(&a, t.wrong_secret), LY_CREDS_ON_REQUEST, &p,
                             &fail) == LY_E_INVALID_TOKEN &&
              uses.n == 2);
    assert_int_equal(ly_auth_flush_uses(&auth, &a, NOW, false), LY_OK);
    CHECK("the first flush writes each key once", touches == 2 && uses.n == 0);
    assert_int_equal(
        ly_auth_credential(&auth, &a, NOW + 5, bearer(&a, t.key), LY_CREDS_ON_REQUEST, &p, &fail),
        LY_OK);
    assert_int_equal(ly_auth_flush_uses(&auth, &a, NOW + 5, false), LY_OK);
    CHECK("busy: no second write within the minute", touches == 2 && uses.n == 1);
    assert_int_equal(ly_auth_flush_uses(&auth, &a, NOW + 6, true), LY_OK);
    CHECK("idle: written at once", touches == 3 && uses.n == 0);
    struct ly_auth down = {&cfg, keys, &fake_store, DB_DOWN, &uses, NULL, NULL};
    assert_int_equal(
        ly_auth_credential(&auth, &a, NOW + 70, bearer(&a, t.key), LY_CREDS_ON_REQUEST, &p, &fail),
        LY_OK);
    CHECK("a failed write keeps the notes",
          ly_auth_flush_uses(&down, &a, NOW + 70, true) == LY_E_UNAVAILABLE && uses.n == 1);
    ly_arena_release(&a);
}

/* Bare tokens (introspection, revocation) and what a caller accepts. */
static void test_tokens_and_masks(void **state)
{
    (void)state;
    struct ly_arena a;
    ly_arena_init(&a, 8192);
    struct ly_auth auth = {&cfg, keys, &fake_store, NULL, NULL, NULL, NULL};
    struct ly_principal p = {.subject = "untouched"};
    struct ly_auth_failure fail;

    assert_int_equal(
        ly_auth_token(&auth, &a, NOW, ly_str_from(t.refresh_live), LY_CREDS_ANY, &p, &fail), LY_OK);
    CHECK("refresh token", p.cred == LY_CRED_REFRESH && strcmp(p.session_id, "ses-live") == 0 &&
                               p.expires_at == NOW + 86400);
    p.subject = "untouched";
    CHECK("spent refresh token",
          ly_auth_token(&auth, &a, NOW, ly_str_from(t.refresh_spent), LY_CREDS_ANY, &p, &fail) ==
                  LY_E_INVALID_TOKEN &&
              strcmp(fail.why, "the token is spent, expired or revoked") == 0 &&
              strcmp(p.subject, "untouched") == 0);
    CHECK("refresh, when only access tokens are taken",
          ly_auth_token(&auth, &a, NOW, ly_str_from(t.refresh_live), LY_CREDS_ACCESS, &p, &fail) ==
                  LY_E_INVALID_TOKEN &&
              strcmp(fail.why, "this kind of credential is not accepted here") == 0);
    CHECK("a key as a bare token",
          ly_auth_token(&auth, &a, NOW, ly_str_from(t.key), LY_CREDS_ANY, &p, &fail) == LY_OK &&
              p.cred == LY_CRED_API_KEY);
    CHECK("a JWT as a bare token", ly_auth_token(&auth, &a, NOW, ly_str_from(t.jwt_user),
                                                 LY_CREDS_ANY, &p, &fail) == LY_OK &&
                                       p.cred == LY_CRED_JWT);
    CHECK("Basic is never a bare token",
          ly_auth_token(&auth, &a, NOW, ly_str_from(t.basic + 6), LY_CREDS_ANY, &p, &fail) ==
                  LY_E_INVALID_TOKEN &&
              strcmp(fail.why, "malformed token") == 0);
    CHECK("keys refused where only access tokens are",
          ly_auth_credential(&auth, &a, NOW, bearer(&a, t.key), LY_CREDS_ACCESS, &p, &fail) ==
                  LY_E_INVALID_TOKEN &&
              fail.scheme == LY_SCHEME_BEARER);
    CHECK("Basic refused where only access tokens are",
          ly_auth_credential(&auth, &a, NOW, t.basic, LY_CREDS_ACCESS, &p, &fail) ==
                  LY_E_INVALID_TOKEN &&
              fail.scheme == LY_SCHEME_BASIC);
    struct ly_auth opaque = {&cfg, NULL, &fake_store, NULL, NULL, NULL, NULL};
    CHECK("JWT in opaque mode",
          ly_auth_credential(&opaque, &a, NOW, bearer(&a, t.jwt_user), LY_CREDS_ON_REQUEST, &p,
                             &fail) == LY_E_INVALID_TOKEN &&
              strcmp(fail.why, "JWT access tokens are not accepted") == 0);
    ly_arena_release(&a);
}

static void test_challenges(void **state)
{
    (void)state;
    struct ly_arena a;
    ly_arena_init(&a, 4096);
    static struct ly_config ccfg;
    char *env[] = {(char *)"REQUEST_METHOD=GET", (char *)"REQUEST_URI=/api/org/v1/me", NULL};
    struct ly_request req;
    assert_int_equal(ly_request_init(&req, &ccfg, &a, env), LY_OK);
    static const struct {
        const char *desc;
        int err;
        struct ly_auth_failure fail;
        int status;
        const char *header;
    } cases[] = {
        {"nothing sent",
         LY_E_UNAUTHENTICATED,
         {LY_SCHEME_NONE, "a credential is required"},
         401,
         "Bearer realm=\"lanyard\""},
        {"token refused",
         LY_E_INVALID_TOKEN,
         {LY_SCHEME_BEARER, "the token has expired"},
         401,
         "Bearer realm=\"lanyard\", error=\"invalid_token\", "
         "error_description=\"the token has expired\""},
        {"Basic refused",
         LY_E_INVALID_TOKEN,
         {LY_SCHEME_BASIC, "invalid credentials"},
         401,
         "Basic realm=\"lanyard\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ly_response resp;
        memset(&resp, 0, sizeof(resp));
        ly_auth_challenge(&req, &resp, cases[i].err, &cases[i].fail);
        CHECK(cases[i].desc, resp.status == cases[i].status);
        bool found = false;
        for (size_t h = 0; h < resp.n_headers; h++)
            if (strcmp(resp.headers[h].name, "WWW-Authenticate") == 0)
                found = strcmp(resp.headers[h].value, cases[i].header) == 0;
        CHECK(cases[i].desc, found);
    }
    ly_arena_release(&a);
}

static int check_at(const struct ly_auth *auth, struct ly_arena *a, int64_t now, const char *cred)
{
    struct ly_principal p;
    struct ly_auth_failure fail;
    const char *h = strncmp(cred, "Basic ", 6) == 0 ? cred : bearer(a, cred);
    return ly_auth_credential(auth, a, now, h, LY_CREDS_ON_REQUEST, &p, &fail);
}

/* The verified-token cache: JWTs until exp, whatever auth_cache_ttl says. */
static void test_cache_jwt(void **state)
{
    (void)state;
    struct ly_arena a;
    ly_arena_init(&a, 8192);
    struct ly_config c = cfg;
    struct ly_auth_cache *cache = ly_auth_cache_new();
    struct ly_auth auth = {&c, keys, &fake_store, NULL, NULL, cache, NULL};
    /* The other key cannot verify our tokens: accepted with it means served from the cache. */
    struct ly_auth rekeyed = {&c, other_keys, &fake_store, NULL, NULL, cache, NULL};
    gone = false;
    CHECK("miss: verified in full", check_at(&auth, &a, NOW, t.jwt_user) == LY_OK);
    CHECK("one slot filled", ly_auth_cache_live(cache, NOW) == 1);
    CHECK("hit: not verified again", check_at(&rekeyed, &a, NOW + 1, t.jwt_user) == LY_OK);
    struct ly_principal p;
    struct ly_auth_failure fail;
    CHECK("a hit gives the same principal",
          ly_auth_credential(&rekeyed, &a, NOW, bearer(&a, t.jwt_user), LY_CREDS_ON_REQUEST, &p,
                             &fail) == LY_OK &&
              p.type == LY_PRINCIPAL_USER && strcmp(p.subject, "u-aaaaaaaaaaaa") == 0 &&
              strcmp(p.session_id, "ses-live") == 0 && p.expires_at == NOW + 600 &&
              p.cred == LY_CRED_JWT && !p.complete);
    /* The same first bytes, another signature: another hash, verified in full and refused. */
    char forged[2048];
    snprintf(forged, sizeof(forged), "%s", t.jwt_user);
    size_t n = strlen(forged);
    forged[n - 2] = forged[n - 2] == 'A' ? 'B' : 'A';
    CHECK("another token with the same prefix is not a hit",
          check_at(&auth, &a, NOW, forged) == LY_E_INVALID_TOKEN);
    CHECK("a refused token takes no slot", ly_auth_cache_live(cache, NOW) == 1);
    /* exp is exp: at exp the cache is out of it and the verifier's leeway decides. */
    char short_lived[2048];
    sign(keys, short_lived, "u-aaaaaaaaaaaa", "ses-live", NULL, NOW + 10);
    CHECK("short-lived token cached", check_at(&auth, &a, NOW, short_lived) == LY_OK);
    CHECK("... served before exp", check_at(&rekeyed, &a, NOW + 9, short_lived) == LY_OK);
    CHECK("... never at exp", check_at(&rekeyed, &a, NOW + 10, short_lived) == LY_E_INVALID_TOKEN);
    CHECK("... in the leeway, verified in full",
          check_at(&auth, &a, NOW + 20, short_lived) == LY_OK);
    CHECK("... past the leeway, refused",
          check_at(&auth, &a, NOW + 40, short_lived) == LY_E_INVALID_TOKEN);
    CHECK("an expired token is never cached",
          check_at(&auth, &a, NOW, t.jwt_expired) == LY_E_INVALID_TOKEN);

    /* check_revocation with auth_cache_ttl 0: the session lookup on every use, hit or not. */
    c.tokens.jwt.check_revocation = true;
    lookups = 0;
    CHECK("revocation checked on a hit",
          check_at(&auth, &a, NOW, t.jwt_user) == LY_OK && lookups == 1);
    gone = true;
    CHECK("a signed-out session is refused at once, cached or not",
          check_at(&auth, &a, NOW, t.jwt_user) == LY_E_INVALID_TOKEN && lookups == 2);
    gone = false;
    /* ... with auth_cache_ttl 2s: the lookup's answer stands for at most 2 s. */
    c.security.auth_cache_ttl = 2;
    lookups = 0;
    CHECK("ttl: looked up once", check_at(&auth, &a, NOW, t.jwt_user) == LY_OK &&
                                     check_at(&auth, &a, NOW + 1, t.jwt_user) == LY_OK &&
                                     lookups == 1);
    gone = true;
    CHECK("ttl: the signed-out session lags", check_at(&auth, &a, NOW + 1, t.jwt_user) == LY_OK);
    CHECK("ttl: ... by at most the ttl",
          check_at(&auth, &a, NOW + 2, t.jwt_user) == LY_E_INVALID_TOKEN);
    gone = false;
    ly_auth_cache_free(cache);
    ly_arena_release(&a);
}

/* auth_cache_ttl for API keys and opaque tokens; 0 is no cache. */
static void test_cache_ttl(void **state)
{
    (void)state;
    struct ly_arena a;
    ly_arena_init(&a, 8192);
    struct ly_config c = cfg;
    static struct ly_key_uses uses;
    memset(&uses, 0, sizeof(uses));
    struct ly_auth_cache *cache = ly_auth_cache_new();
    struct ly_auth auth = {&c, keys, &fake_store, NULL, &uses, cache, NULL};
    gone = false;
    lookups = 0;
    CHECK("ttl 0: every use looked up", check_at(&auth, &a, NOW, t.key) == LY_OK &&
                                            check_at(&auth, &a, NOW, t.key) == LY_OK &&
                                            check_at(&auth, &a, NOW, t.opaque_user) == LY_OK &&
                                            check_at(&auth, &a, NOW, t.opaque_user) == LY_OK &&
                                            lookups == 4 && ly_auth_cache_live(cache, NOW) == 0);
    gone = true;
    CHECK("ttl 0: a deleted key is refused at once",
          check_at(&auth, &a, NOW, t.key) == LY_E_INVALID_TOKEN);
    gone = false;
    c.security.auth_cache_ttl = 2;
    lookups = 0;
    CHECK("ttl 2: looked up once", check_at(&auth, &a, NOW, t.key) == LY_OK &&
                                       check_at(&auth, &a, NOW + 1, t.key) == LY_OK &&
                                       check_at(&auth, &a, NOW + 1, t.basic) == LY_OK &&
                                       lookups == 1);
    CHECK("ttl 2: a wrong secret is still refused",
          check_at(&auth, &a, NOW, t.wrong_secret) == LY_E_INVALID_TOKEN &&
              check_at(&auth, &a, NOW, t.basic_wrong) == LY_E_INVALID_TOKEN);
    CHECK("ttl 2: opaque looked up once", check_at(&auth, &a, NOW, t.opaque_sa) == LY_OK &&
                                              check_at(&auth, &a, NOW + 1, t.opaque_sa) == LY_OK &&
                                              lookups == 4);
    gone = true;
    CHECK("a deleted key lags", check_at(&auth, &a, NOW + 1, t.key) == LY_OK);
    CHECK("... by at most the ttl", check_at(&auth, &a, NOW + 2, t.key) == LY_E_INVALID_TOKEN);
    CHECK("a revoked opaque token lags by at most the ttl",
          check_at(&auth, &a, NOW + 1, t.opaque_sa) == LY_OK &&
              check_at(&auth, &a, NOW + 2, t.opaque_sa) == LY_E_INVALID_TOKEN);
    gone = false;
    CHECK("never past the key's own expiry",
          check_at(&auth, &a, NOW, t.expired) == LY_E_INVALID_TOKEN);
    /* SPEC §5.11 through the cache: the use is noted once per minute, hit or miss. */
    memset(&uses, 0, sizeof(uses));
    touches = 0;
    CHECK("a hit notes the use", check_at(&auth, &a, NOW + 120, t.key) == LY_OK &&
                                     check_at(&auth, &a, NOW + 121, t.key) == LY_OK && uses.n == 1);
    assert_int_equal(ly_auth_flush_uses(&auth, &a, NOW + 121, true), LY_OK);
    CHECK("... not again in the minute",
          check_at(&auth, &a, NOW + 121, t.key) == LY_OK && uses.n == 0 && touches == 1);
    ly_auth_cache_free(cache);
    ly_arena_release(&a);
}

static int who_at(const struct ly_auth *auth, struct ly_arena *a, int64_t now, const char *cred,
                  unsigned accept, struct ly_principal *p)
{
    struct ly_auth_failure fail;
    const char *h = strncmp(cred, "Basic ", 6) == 0 ? cred : bearer(a, cred);
    memset(p, 0xa5, sizeof(*p)); /* whatever the caller's memory held */
    return ly_auth_credential(auth, a, now, h, accept, p, &fail);
}

/* LY_AUTH_IDENTITY: the identity comes with the credential's own lookup, one call in all. */
static void test_identity(void **state)
{
    (void)state;
    struct ly_arena a;
    ly_arena_init(&a, 8192);
    struct ly_config c = cfg;
    struct ly_auth_cache *cache = ly_auth_cache_new();
    struct ly_auth auth = {&c, keys, &fake_store, NULL, NULL, cache, NULL};
    const unsigned want = LY_CREDS_ON_REQUEST | LY_AUTH_IDENTITY;
    struct ly_principal p;
    gone = false;
    lookups = identities = 0;
    CHECK("opaque user token: the user and their organizations, in the one lookup",
          who_at(&auth, &a, NOW, t.opaque_user, want, &p) == LY_OK && lookups == 1 &&
              identities == 1 && p.identity != NULL && p.identity->user != NULL &&
              strcmp(p.identity->user->id, p.subject) == 0 && p.identity->n_orgs == 1 &&
              p.identity->account == NULL);
    CHECK("opaque account token: the account",
          who_at(&auth, &a, NOW, t.opaque_sa, want, &p) == LY_OK && identities == 2 &&
              p.identity != NULL && p.identity->user == NULL && p.identity->account != NULL &&
              strcmp(p.identity->account->id, p.subject) == 0);
    CHECK("account key: the account", who_at(&auth, &a, NOW, t.key, want, &p) == LY_OK &&
                                          identities == 3 && p.identity != NULL &&
                                          p.identity->account != NULL);
    CHECK("personal key: the user", who_at(&auth, &a, NOW, t.personal, want, &p) == LY_OK &&
                                        identities == 4 && p.identity != NULL &&
                                        p.identity->user != NULL);
    CHECK("the identity lookups answer the credential as the plain ones do",
          who_at(&auth, &a, NOW, t.wrong_secret, want, &p) == LY_E_INVALID_TOKEN &&
              who_at(&auth, &a, NOW, t.expired, want, &p) == LY_E_INVALID_TOKEN &&
              who_at(&auth, &a, NOW, t.left, want, &p) == LY_E_INVALID_TOKEN &&
              who_at(&auth, &a, NOW, t.opaque_unknown, want, &p) == LY_E_INVALID_TOKEN);
    lookups = identities = 0;
    CHECK("not asked: the plain lookup, no identity",
          who_at(&auth, &a, NOW, t.opaque_user, LY_CREDS_ON_REQUEST, &p) == LY_OK &&
              who_at(&auth, &a, NOW, t.key, LY_CREDS_ON_REQUEST, &p) == LY_OK && lookups == 2 &&
              identities == 0 && p.identity == NULL);
    CHECK("a JWT has no lookup to bring it: none",
          who_at(&auth, &a, NOW, t.jwt_user, want, &p) == LY_OK && p.identity == NULL &&
              identities == 0);
    /* auth_cache_ttl > 0: a hit is answered without a lookup, so without the identity. */
    c.security.auth_cache_ttl = 10;
    CHECK("ttl 10: the miss brings it", who_at(&auth, &a, NOW, t.key, want, &p) == LY_OK &&
                                            identities == 1 && p.identity != NULL);
    ly_arena_reset(&a); /* the identity was the last request's */
    CHECK("... the hit has none, and no dangling pointer",
          who_at(&auth, &a, NOW + 1, t.key, want, &p) == LY_OK && identities == 1 &&
              p.identity == NULL);
    CHECK("... the same for an opaque token",
          who_at(&auth, &a, NOW, t.opaque_user, want, &p) == LY_OK && p.identity != NULL &&
              who_at(&auth, &a, NOW + 1, t.opaque_user, want, &p) == LY_OK && p.identity == NULL &&
              identities == 2);
    /* A store without the identity lookups: the plain ones, and the handler looks it up. */
    struct ly_auth_store plain = fake_store;
    plain.access_identity = NULL;
    plain.api_key_identity = NULL;
    c.security.auth_cache_ttl = 0;
    auth.store = &plain;
    lookups = identities = 0;
    CHECK("a store without them: the plain lookups",
          who_at(&auth, &a, NOW, t.opaque_sa, want, &p) == LY_OK && p.identity == NULL &&
              who_at(&auth, &a, NOW, t.key, want, &p) == LY_OK && p.identity == NULL &&
              lookups == 2 && identities == 0);
    ly_auth_cache_free(cache);
    ly_arena_release(&a);
}

/* Set the owner hint of every slot holding key_id to kind (1 + enum ly_principal_type). */
static void set_hint(struct ly_owner_hints *o, const char *key_id, unsigned char kind)
{
    for (size_t i = 0; i < LY_HINT_KEYS; i++)
        if (o->keys[i].kind != 0 && memcmp(o->keys[i].id, key_id, LY_KEY_ID_LEN) == 0)
            o->keys[i].kind = kind;
}

/* Slots of the hints that hold a user token. */
static size_t user_tokens_hinted(const struct ly_owner_hints *o)
{
    size_t n = 0;
    for (size_t i = 0; i < LY_HINT_TOKENS; i++)
        n += o->user_tokens[i] != 0;
    return n;
}

/*
 * A key or a user's token seen before is looked up with its owner's tables
 * only; a wrong hint changes no answer.
 */
static void test_owner_hints(void **state)
{
    (void)state;
    struct ly_arena a;
    ly_arena_init(&a, 8192);
    static struct ly_owner_hints owners;
    memset(&owners, 0, sizeof(owners));
    struct ly_auth auth = {.cfg = &cfg, .keys = keys, .store = &fake_store, .hints = &owners};
    const unsigned want = LY_CREDS_ON_REQUEST;
    struct ly_principal p;
    gone = false;
    lookups = owned_lookups = 0;
    CHECK("a key not seen before: the full lookup",
          who_at(&auth, &a, NOW, t.key, want, &p) == LY_OK && lookups == 1 && owned_lookups == 0 &&
              p.type == LY_PRINCIPAL_SERVICE_ACCOUNT);
    CHECK("seen: its owner's lookup only, the same principal, the organization's name kept",
          who_at(&auth, &a, NOW, t.key, want, &p) == LY_OK && lookups == 1 && owned_lookups == 1 &&
              p.type == LY_PRINCIPAL_SERVICE_ACCOUNT && strcmp(p.subject, "sa-bbbbbbbbbbbb") == 0 &&
              p.role == LY_ROLE_MEMBER && p.org_name != NULL && strcmp(p.org_name, "acme") == 0 &&
              strcmp(p.org_id, "org-cccccccccccc") == 0);
    moved_org = true;
    CHECK("a key whose row names another organization than its hint: the full lookup",
          who_at(&auth, &a, NOW, t.key, want, &p) == LY_OK && lookups == 2 && owned_lookups == 2 &&
              strcmp(p.org_name, "acme") == 0);
    moved_org = false;
    lookups = owned_lookups = 0;
    CHECK("... and hinted again", who_at(&auth, &a, NOW, t.key, want, &p) == LY_OK &&
                                      lookups == 0 && owned_lookups == 1 &&
                                      strcmp(p.org_name, "acme") == 0);
    lookups = 1; /* as if the key's first lookup had been the only one */
    CHECK("a personal key: the same, as its user with the weaker role",
          who_at(&auth, &a, NOW, t.personal, want, &p) == LY_OK &&
              who_at(&auth, &a, NOW, t.personal, want, &p) == LY_OK && lookups == 2 &&
              owned_lookups == 2 && p.type == LY_PRINCIPAL_USER && p.role == LY_ROLE_MEMBER);
    CHECK("a seen personal key whose user is disabled or left: still refused",
          who_at(&auth, &a, NOW, t.disabled, want, &p) == LY_E_INVALID_TOKEN &&
              who_at(&auth, &a, NOW, t.disabled, want, &p) == LY_E_INVALID_TOKEN &&
              who_at(&auth, &a, NOW, t.left, want, &p) == LY_E_INVALID_TOKEN &&
              who_at(&auth, &a, NOW, t.left, want, &p) == LY_E_INVALID_TOKEN && lookups == 4 &&
              owned_lookups == 4);
    identities = 0;
    CHECK("... and for /me, with the identity: the account's, or the user's",
          who_at(&auth, &a, NOW, t.key, want | LY_AUTH_IDENTITY, &p) == LY_OK && lookups == 4 &&
              owned_lookups == 5 && identities == 1 && p.identity != NULL &&
              p.identity->account != NULL && p.identity->user == NULL &&
              who_at(&auth, &a, NOW, t.personal, want | LY_AUTH_IDENTITY, &p) == LY_OK &&
              lookups == 4 && owned_lookups == 6 && identities == 2 && p.identity != NULL &&
              p.identity->user != NULL && p.identity->account == NULL);
    lookups = owned_lookups = 0;
    set_hint(&owners, t.key_id, 1 + LY_PRINCIPAL_USER);
    CHECK("a wrong hint: the owner's lookup finds nothing, the full one the key",
          who_at(&auth, &a, NOW, t.key, want, &p) == LY_OK && owned_lookups == 1 && lookups == 1 &&
              p.type == LY_PRINCIPAL_SERVICE_ACCOUNT);
    CHECK("... and the hint is right again",
          who_at(&auth, &a, NOW, t.key, want, &p) == LY_OK && owned_lookups == 2 && lookups == 1);
    set_hint(&owners, t.key_id, 1 + LY_PRINCIPAL_USER);
    identities = 0;
    CHECK("a wrong hint for /me: the full lookup with the identity, the account's",
          who_at(&auth, &a, NOW, t.key, want | LY_AUTH_IDENTITY, &p) == LY_OK &&
              owned_lookups == 3 && lookups == 2 && identities == 1 && p.identity != NULL &&
              p.identity->account != NULL);
    CHECK("... and the hint is right again for /me",
          who_at(&auth, &a, NOW, t.key, want | LY_AUTH_IDENTITY, &p) == LY_OK &&
              owned_lookups == 4 && lookups == 2 && identities == 2);
    gone = true;
    lookups = owned_lookups = 0;
    CHECK("a seen key deleted: refused at once (auth_cache_ttl 0)",
          who_at(&auth, &a, NOW, t.key, want, &p) == LY_E_INVALID_TOKEN && owned_lookups == 1 &&
              lookups == 1);
    CHECK("... and not hinted any more",
          who_at(&auth, &a, NOW, t.key, want, &p) == LY_E_INVALID_TOKEN && owned_lookups == 1 &&
              lookups == 2);
    gone = false;
    lookups = owned_lookups = identities = 0;
    CHECK("a user's opaque token not seen before: the full lookup",
          who_at(&auth, &a, NOW, t.opaque_user, want, &p) == LY_OK && lookups == 1 &&
              owned_lookups == 0 && user_tokens_hinted(&owners) == 1);
    CHECK("seen: the user's lookup only, the same principal",
          who_at(&auth, &a, NOW, t.opaque_user, want, &p) == LY_OK && lookups == 1 &&
              owned_lookups == 1 && p.type == LY_PRINCIPAL_USER &&
              strcmp(p.subject, "u-aaaaaaaaaaaa") == 0 && p.platform_admin &&
              p.session_id != NULL && strcmp(p.session_id, "ses-live") == 0);
    CHECK("... and for /me, with the identity",
          who_at(&auth, &a, NOW, t.opaque_user, want | LY_AUTH_IDENTITY, &p) == LY_OK &&
              lookups == 1 && owned_lookups == 2 && identities == 1 && p.identity != NULL &&
              p.identity->user != NULL);
    CHECK("an account's token is never hinted: the full lookup each time",
          who_at(&auth, &a, NOW, t.opaque_sa, want, &p) == LY_OK &&
              who_at(&auth, &a, NOW, t.opaque_sa, want, &p) == LY_OK && lookups == 3 &&
              owned_lookups == 2 && user_tokens_hinted(&owners) == 1 &&
              p.type == LY_PRINCIPAL_SERVICE_ACCOUNT);
    gone = true;
    CHECK("a seen user token revoked: refused at once, and not hinted any more",
          who_at(&auth, &a, NOW, t.opaque_user, want, &p) == LY_E_INVALID_TOKEN && lookups == 4 &&
              owned_lookups == 3 && user_tokens_hinted(&owners) == 0);
    gone = false;
    auth.hints = NULL;
    lookups = owned_lookups = 0;
    CHECK("without the hints: the full lookup every time",
          who_at(&auth, &a, NOW, t.key, want, &p) == LY_OK &&
              who_at(&auth, &a, NOW, t.key, want, &p) == LY_OK &&
              who_at(&auth, &a, NOW, t.opaque_user, want, &p) == LY_OK &&
              who_at(&auth, &a, NOW, t.opaque_user, want, &p) == LY_OK && lookups == 4 &&
              owned_lookups == 0);
    ly_arena_release(&a);
}

/* The cache's slots: bounded, least recently used evicted. */
static void test_cache_bound(void **state)
{
    (void)state;
    struct ly_arena a;
    ly_arena_init(&a, 8192);
    struct ly_auth_cache *cache = ly_auth_cache_new();
    const size_t slots = LY_AUTH_CACHE_SETS * LY_AUTH_CACHE_WAYS;
    struct ly_principal p = {.type = LY_PRINCIPAL_USER, .subject = "u-aaaaaaaaaaaa"};
    struct ly_auth_cached meta = {.valid_until = NOW + 60};
    unsigned char first[LY_SHA256_LEN], h[LY_SHA256_LEN];
    ly_sha256("0", 1, first);
    ly_auth_cache_put(cache, LY_CRED_JWT, first, NOW, &p, &meta);
    for (size_t i = 1; i < 4 * slots; i++) {
        char text[32];
        int n = snprintf(text, sizeof(text), "%zu", i);
        ly_sha256(text, (size_t)n, h);
        ly_auth_cache_put(cache, LY_CRED_JWT, h, NOW, &p, &meta);
        /* the first credential is used all along: it stays */
        struct ly_principal q;
        struct ly_auth_cached m;
        if (i % 2 == 0 && ly_auth_cache_get(cache, LY_CRED_JWT, first, NOW, 0, &a, &q, &m) == NULL)
            fail_msg("a recently used slot was evicted at %zu", i);
    }
    CHECK("never more than its slots", ly_auth_cache_live(cache, NOW) <= slots);
    CHECK("full after four times as many", ly_auth_cache_live(cache, NOW) >= slots - slots / 8);
    struct ly_principal q;
    struct ly_auth_cached m;
    CHECK("another kind with the same hash is a miss",
          ly_auth_cache_get(cache, LY_CRED_OPAQUE, first, NOW, 0, &a, &q, &m) == NULL);
    CHECK("expired slots are not served",
          ly_auth_cache_get(cache, LY_CRED_JWT, first, NOW + 60, 0, &a, &q, &m) == NULL &&
              ly_auth_cache_live(cache, NOW + 60) == 0);
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct ly_principal huge = {.subject = big};
    ly_sha256("big", 3, h);
    ly_auth_cache_put(cache, LY_CRED_JWT, h, NOW + 60, &huge,
                      &(struct ly_auth_cached){.valid_until = NOW + 120});
    CHECK("a principal too big for a slot is not cached", ly_auth_cache_live(cache, NOW + 60) == 0);
    ly_auth_cache_free(cache);
    ly_arena_release(&a);
}

/* A slot filled under another revocation generation: a miss, but a JWT keeps its signature. */
static void test_cache_generation(void **state)
{
    (void)state;
    struct ly_arena a;
    ly_arena_init(&a, 8192);
    struct ly_auth_cache *cache = ly_auth_cache_new();
    struct ly_principal p = {.type = LY_PRINCIPAL_USER, .subject = "u-aaaaaaaaaaaa"}, q;
    struct ly_auth_cached m;
    unsigned char jwt[LY_SHA256_LEN], key[LY_SHA256_LEN];
    ly_sha256("jwt", 3, jwt);
    ly_sha256("key", 3, key);
    ly_auth_cache_put(
        cache, LY_CRED_JWT, jwt, NOW, &p,
        &(struct ly_auth_cached){.valid_until = NOW + 60, .live_until = NOW + 30, .generation = 7});
    ly_auth_cache_put(cache, LY_CRED_API_KEY, key, NOW, &p,
                      &(struct ly_auth_cached){.valid_until = NOW + 30, .generation = 7});
    CHECK("the same generation is a hit",
          ly_auth_cache_get(cache, LY_CRED_API_KEY, key, NOW, 7, &a, &q, &m) != NULL &&
              ly_auth_cache_get(cache, LY_CRED_JWT, jwt, NOW, 7, &a, &q, &m) != NULL &&
              m.live_until == NOW + 30);
    CHECK("an API key of an older generation is a miss",
          ly_auth_cache_get(cache, LY_CRED_API_KEY, key, NOW, 8, &a, &q, &m) == NULL);
    CHECK("a JWT of an older generation keeps its signature, not its session lookup",
          ly_auth_cache_get(cache, LY_CRED_JWT, jwt, NOW, 8, &a, &q, &m) != NULL &&
              m.live_until == 0 && m.generation == 8 && strcmp(q.subject, p.subject) == 0);
    ly_auth_cache_free(cache);
    ly_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credentials),      cmocka_unit_test(test_principal_fields),
        cmocka_unit_test(test_key_uses),         cmocka_unit_test(test_tokens_and_masks),
        cmocka_unit_test(test_challenges),       cmocka_unit_test(test_cache_jwt),
        cmocka_unit_test(test_cache_ttl),        cmocka_unit_test(test_cache_bound),
        cmocka_unit_test(test_cache_generation), cmocka_unit_test(test_identity),
        cmocka_unit_test(test_owner_hints),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
