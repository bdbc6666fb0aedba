#include "build-config.h"
#include "banned.h"

/*
 * SPEC §5.15: single sign-on per organization. Lanyard is the relying
 * party of the organization's OpenID Connect provider: authorization code
 * flow with PKCE (S256), state and nonce, client_secret_basic.
 *
 * A sign-in under way is one row of sso_states, found by the SHA-256 of
 * its state and bound to the browser that started it by a cookie
 * (lanyard_sso) whose SHA-256 the row holds too. The PKCE verifier and the
 * nonce are HMACs of the state under that cookie's secret: nothing in the
 * database is enough to finish a sign-in, and the row stays small.
 *
 * The callback answers a browser, so every refusal is a redirect to the
 * console with a code in the fragment (doc/sso.md lists them), recorded as
 * signin.failed; only a database outage is answered like everywhere else
 * (503), because then nothing can be recorded.
 */

#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "lanyard/api.h"
#include "lanyard/codec.h"
#include "lanyard/config.h"
#include "lanyard/ct.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"
#include "lanyard/httpc.h"
#include "lanyard/issue.h"
#include "lanyard/json.h"
#include "lanyard/log.h"
#include "lanyard/mem.h"
#include "lanyard/oidc.h"
#include "lanyard/orgs.h"
#include "lanyard/rand.h"
#include "lanyard/seal.h"
#include "lanyard/sessions.h"
#include "lanyard/sso.h"
#include "lanyard/users.h"
#include "lanyard/validate.h"

#define SSO_COOKIE    "lanyard_sso"
#define SECRET_BYTES  32 /* state and binding: 256 bits */
#define SECRET_CHARS  43 /* their base64url */
#define CALLBACK_PATH "/api/auth/v1/sso/callback"
#define START_DEFAULT "/console/"

/* The redirect URI every organization registers at its provider. */
static const char *redirect_uri(struct ly_call *c)
{
    return ly_arena_printf(c->req->arena, "%s" CALLBACK_PATH, c->ctx->cfg->server.public_url);
}

/* SPEC §5.15: a provider is reached over https, or over http on a loopback address only. */
static bool provider_url_ok(const char *url)
{
    return url != NULL && (strncmp(url, "https://", 8) == 0 || ly_httpc_is_loopback_http(url));
}

static struct json_object *sso_json(struct ly_call *c, const struct ly_sso *s)
{
    struct json_object *o = json_object_new_object();
    struct json_object *d = json_object_new_array();
    for (size_t i = 0; i < s->n_domains; i++)
        json_object_array_add(d, json_object_new_string(s->domains[i]));
    json_object_object_add(o, "issuer", json_object_new_string(s->issuer));
    json_object_object_add(o, "client_id", json_object_new_string(s->client_id));
    json_object_object_add(o, "email_domains", d);
    json_object_object_add(o, "default_role",
                           json_object_new_string(ly_role_name(s->default_role)));
    json_object_object_add(o, "redirect_uri", json_object_new_string(redirect_uri(c)));
    json_object_object_add(o, "created_at", ly_json_time(s->created_at));
    json_object_object_add(o, "updated_at", ly_json_time(s->updated_at));
    return o;
}

/* GET url from the provider: LY_OK with the 200 body, else a validation reason in *why. */
static int fetch(struct ly_call *c, const char *url, struct ly_httpc_resp *out, const char **why)
{
    struct ly_httpc *h;
    char err[256];
    struct ly_httpc_resp resp;
    if (!provider_url_ok(url)) {
        *why = "the provider's URLs must be https (or http on a loopback address)";
        return LY_E_VALIDATION;
    }
    int r = ly_ctx_httpc(c->ctx, &h);
    if (r != LY_OK)
        return r;
    struct ly_httpc_req req = {.method = "GET", .url = url};
    r = ly_httpc_do(h, &req, c->req->arena, &resp, err, sizeof(err));
    if (r != LY_OK) {
        ly_log_warn(&c->ctx->log, "sso: cannot fetch from the provider: %s", err);
        *why = r == LY_E_TOO_LARGE ? "the provider's answer is too large"
                                   : "the provider cannot be reached";
        return LY_E_VALIDATION;
    }
    if (resp.status != 200) {
        *why = "the provider answered with an error";
        return LY_E_VALIDATION;
    }
    *out = resp;
    return LY_OK;
}

/* The cached JWK Set of uri (NULL when none or too old), and the slot to keep a new one in. */
static struct ly_jwks_cached *jwks_slot(struct lanyard_ctx *ctx, const char *uri, int64_t now,
                                        bool *fresh)
{
    struct ly_jwks_cached *oldest = &ctx->jwks[0];
    for (size_t i = 0; i < LY_JWKS_CACHE; i++) {
        struct ly_jwks_cached *e = &ctx->jwks[i];
        if (e->uri != NULL && strcmp(e->uri, uri) == 0) {
            *fresh = e->keys != NULL && now - e->fetched_at < LY_JWKS_MAX_AGE;
            return e;
        }
        if (e->uri == NULL || e->fetched_at < oldest->fetched_at)
            oldest = e;
    }
    *fresh = false;
    return oldest;
}

/* Fetch the JWK Set at uri into the worker's cache. */
static int jwks_refresh(struct ly_call *c, const char *uri, const struct ly_jwks **out,
                        const char **why)
{
    struct ly_httpc_resp resp;
    struct ly_jwks *keys = NULL;
    int r = fetch(c, uri, &resp, why);
    if (r != LY_OK)
        return r;
    if ((r = ly_jwks_parse(resp.body, resp.body_len, &keys, why)) != LY_OK)
        return r;
    if (ly_jwks_count(keys) == 0) {
        ly_jwks_free(keys);
        *why = "the provider's JWK Set has no key Lanyard can use (RS256, ES256, EdDSA)";
        return LY_E_VALIDATION;
    }
    bool fresh;
    struct ly_jwks_cached *e = jwks_slot(c->ctx, uri, c->req->now, &fresh);
    if (e->uri == NULL || strcmp(e->uri, uri) != 0) {
        free(e->uri);
        e->uri = ly_xstrdup(uri);
    }
    ly_jwks_free(e->keys);
    e->keys = keys;
    e->fetched_at = c->req->now;
    *out = keys;
    return LY_OK;
}

/* The issuer as given, with one terminating '/' removed (OpenID Connect Discovery 1.0 §4). */
static const char *discovery_url(struct ly_arena *a, const char *issuer)
{
    size_t n = strlen(issuer);
    if (n > 0 && issuer[n - 1] == '/')
        n--;
    return ly_arena_printf(a, "%.*s/.well-known/openid-configuration", (int)n, issuer);
}

/* The e-mail domains of the body into s, or a validation failure in errs. */
static void read_domains(struct ly_call *c, struct ly_sso *s, struct ly_field_errors *errs)
{
    struct json_object *arr = NULL;
    json_object_object_get_ex(c->req->json, "email_domains", &arr);
    size_t n = json_object_array_length(arr);
    if (n < 1 || n > LY_SSO_MAX_DOMAINS) {
        ly_field_errors_add(errs, "email_domains", "must hold 1 to 20 domains");
        return;
    }
    const char **d = ly_arena_alloc(c->req->arena, n * sizeof(*d));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *v = json_object_array_get_idx(arr, i);
        const char *dom = NULL;
        if (!json_object_is_type(v, json_type_string) ||
            !ly_domain_normalize(c->req->arena, json_object_get_string(v), &dom)) {
            ly_field_errors_add(errs, "email_domains", "must be domain names such as example.com");
            return;
        }
        /* The same domain twice is one claim. */
        bool seen = false;
        for (size_t j = 0; j < k && !seen; j++)
            seen = strcmp(d[j], dom) == 0;
        if (!seen)
            d[k++] = dom;
    }
    s->domains = d;
    s->n_domains = k;
}

/* SPEC §5.15: PUT /api/org/v1/orgs/{org}/sso. */
int ly_api_sso_put(struct ly_call *c)
{
    static const struct ly_json_field fields[] = {
        {"issuer", LY_JSON_STRING, true},        {"client_id", LY_JSON_STRING, true},
        {"client_secret", LY_JSON_STRING, true}, {"email_domains", LY_JSON_ARRAY, true},
        {"default_role", LY_JSON_STRING, false},
    };
    struct ly_request *req = c->req;
    struct lanyard_ctx *ctx = c->ctx;
    struct ly_field_errors errs = {.n = 0};
    if (ly_json_check_fields(req->json, fields, 5, &errs) != LY_OK)
        return ly_api_invalid(c, "the body does not match the SSO configuration", &errs);
    if (ctx->seal == NULL)
        return ly_api_fail(c, LY_E_FORBIDDEN,
                           "single sign-on is not enabled on this server "
                           "(security.secrets_key_file is not set)");
    struct ly_sso s = {.org_id = c->org.id, .default_role = LY_ROLE_MEMBER};
    s.issuer = ly_json_get_string(req->json, "issuer");
    s.client_id = ly_json_get_string(req->json, "client_id");
    const char *secret = ly_json_get_string(req->json, "client_secret");
    const char *role = ly_json_get_string(req->json, "default_role");
    if (s.issuer == NULL || strlen(s.issuer) > LY_SSO_ISSUER_MAX || !provider_url_ok(s.issuer) ||
        strpbrk(s.issuer, "?#") != NULL || !ly_text_is_valid(s.issuer, LY_SSO_ISSUER_MAX))
        ly_field_errors_add(&errs, "issuer",
                            "must be an https URL (or http on a loopback address) without query");
    if (s.client_id == NULL || s.client_id[0] == '\0' ||
        !ly_text_is_valid(s.client_id, LY_SSO_CLIENT_MAX))
        ly_field_errors_add(&errs, "client_id", "must be 1 to 255 printable characters");
    if (secret == NULL || secret[0] == '\0' || strlen(secret) > 512 ||
        !ly_text_is_valid(secret, 512))
        ly_field_errors_add(&errs, "client_secret", "must be 1 to 512 printable characters");
    if (role != NULL) {
        s.default_role = ly_role_parse(role);
        if (s.default_role != LY_ROLE_MEMBER && s.default_role != LY_ROLE_ADMIN)
            ly_field_errors_add(&errs, "default_role", "must be member or admin");
    }
    read_domains(c, &s, &errs);
    if (errs.n > 0)
        return ly_api_invalid(c, "the SSO configuration is not valid", &errs);

    /* SPEC §5.15: the provider is read at once, so that a typo fails here and not at sign-in. */
    const char *why = NULL;
    struct ly_httpc_resp resp;
    struct ly_oidc_discovery disc = {NULL, NULL, NULL, NULL};
    const struct ly_jwks *keys = NULL;
    int r = fetch(c, discovery_url(req->arena, s.issuer), &resp, &why);
    if (r == LY_OK)
        r = ly_oidc_discovery_parse(resp.body, resp.body_len, s.issuer, req->arena, &disc, &why);
    if (r == LY_OK && (!provider_url_ok(disc.authorization_endpoint) ||
                       !provider_url_ok(disc.token_endpoint) || !provider_url_ok(disc.jwks_uri))) {
        why = "the provider's endpoints must be https (or http on a loopback address)";
        r = LY_E_VALIDATION;
    }
    if (r == LY_OK &&
        (strlen(disc.authorization_endpoint) > LY_SSO_URL_MAX ||
         strlen(disc.token_endpoint) > LY_SSO_URL_MAX || strlen(disc.jwks_uri) > LY_SSO_URL_MAX)) {
        why = "the provider's endpoints are too long";
        r = LY_E_VALIDATION;
    }
    if (r == LY_OK)
        r = jwks_refresh(c, disc.jwks_uri, &keys, &why);
    if (r == LY_E_VALIDATION) {
        ly_field_errors_add(&errs, "issuer", why);
        return ly_api_invalid(c, why, &errs);
    }
    if (r != LY_OK)
        return r;
    s.authorization_endpoint = disc.authorization_endpoint;
    s.token_endpoint = disc.token_endpoint;
    s.jwks_uri = disc.jwks_uri;
    char *sealed = NULL;
    if ((r = ly_seal(ctx->seal, c->org.id, secret, strlen(secret), req->arena, &sealed)) != LY_OK)
        return r;
    s.client_secret_sealed = sealed;

    bool created = false;
    r = ly_sso_put(ctx->db, req->arena, &s, req->now, &created);
    if (r == LY_E_CONFLICT)
        return ly_api_fail(c, r, "an e-mail domain is already claimed by another organization");
    struct ly_sso now;
    if (r != LY_OK || (r = ly_sso_get(ctx->db, req->arena, c->org.id, &now)) != LY_OK ||
        (r = ly_api_audit(c, "sso.updated", c->org.id, c->org.name,
                          (struct ly_audit_target){"organization", c->org.id}, true)) != LY_OK)
        return r;
    ly_response_json(req, c->resp, 200, sso_json(c, &now));
    return LY_OK;
}

/* SPEC §5.15: GET /api/org/v1/orgs/{org}/sso. */
int ly_api_sso_get(struct ly_call *c)
{
    struct ly_sso s;
    int r = ly_sso_get(c->ctx->db, c->req->arena, c->org.id, &s);
    if (r == LY_E_NOT_FOUND)
        return ly_api_fail(c, r, "the organization has no single sign-on");
    if (r != LY_OK)
        return r;
    ly_response_json(c->req, c->resp, 200, sso_json(c, &s));
    return LY_OK;
}

/* SPEC §5.15: DELETE /api/org/v1/orgs/{org}/sso. */
int ly_api_sso_delete(struct ly_call *c)
{
    int r = ly_sso_delete(c->ctx->db, c->req->arena, c->org.id);
    if (r == LY_E_NOT_FOUND)
        return ly_api_fail(c, r, "the organization has no single sign-on");
    if (r != LY_OK ||
        (r = ly_api_audit(c, "sso.deleted", c->org.id, c->org.name,
                          (struct ly_audit_target){"organization", c->org.id}, true)) != LY_OK)
        return r;
    ly_response_empty(c->resp, 204);
    return LY_OK;
}

static const char *start_url(struct ly_call *c, const char *org)
{
    return ly_arena_printf(c->req->arena, "%s/api/auth/v1/sso/%s/start",
                           c->ctx->cfg->server.public_url, org);
}

/* SPEC §5.15: GET /api/auth/v1/sso/discover?email=E. */
int ly_api_sso_discover(struct ly_call *c)
{
    const char *email = NULL, *norm = NULL, *org = NULL;
    int q = ly_request_query(c->req, "email", &email);
    if (q < 0 || q == 1 || !ly_email_normalize(c->req->arena, email, &norm))
        return ly_api_fail(c, LY_E_INVALID_REQUEST, "email must be given once, an e-mail address");
    int r = ly_sso_find_domain(c->ctx->db, c->req->arena, strrchr(norm, '@') + 1, &org);
    if (r == LY_E_NOT_FOUND)
        return ly_api_fail(c, r, "no organization signs in people of this domain");
    if (r != LY_OK)
        return r;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "org", json_object_new_string(org));
    json_object_object_add(o, "start_url", json_object_new_string(start_url(c, org)));
    ly_response_json(c->req, c->resp, 200, o);
    return LY_OK;
}

/* base64url(HMAC-SHA256(binding, label || state)): the PKCE verifier, or the nonce. */
static void derive(const char *binding, const char *label, const char *state,
                   char out[SECRET_CHARS + 1])
{
    unsigned char mac[LY_SHA256_LEN];
    char msg[16 + SECRET_CHARS + 1];
    int n = snprintf(msg, sizeof(msg), "%s:%s", label, state);
    ly_hmac_sha256(binding, strlen(binding), msg, (size_t)n, mac);
    ly_base64url_encode(mac, sizeof(mac), out);
    out[SECRET_CHARS] = '\0';
}

static void new_secret(char out[SECRET_CHARS + 1])
{
    unsigned char b[SECRET_BYTES];
    ly_rand_bytes(b, sizeof(b));
    ly_base64url_encode(b, sizeof(b), out);
    out[SECRET_CHARS] = '\0';
}

static bool is_secret(const char *s)
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    return s != NULL && strlen(s) == SECRET_CHARS && strspn(s, b64url) == SECRET_CHARS;
}

static const char *form_escape(struct ly_call *c, const char *s)
{
    return ly_httpc_form_escape(c->req->arena, s);
}

/* SPEC §5.15: GET /api/auth/v1/sso/{org}/start?return_to=PATH. */
int ly_api_sso_start(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct lanyard_ctx *ctx = c->ctx;
    const char *org = req->params[0];
    const char *return_to = START_DEFAULT;
    int q = ly_request_query(req, "return_to", &return_to);
    if (q < 0 || (q == 0 && !ly_return_to_is_valid(return_to)))
        return ly_api_fail(c, LY_E_INVALID_REQUEST, "return_to must be a path on this origin");
    if (q == 1)
        return_to = START_DEFAULT;
    struct ly_sso s;
    int r = ly_name_is_valid(org) ? ly_sso_get_by_org_name(ctx->db, req->arena, org, &s)
                                  : LY_E_NOT_FOUND;
    if (r == LY_E_NOT_FOUND)
        return ly_api_fail(c, r, "the organization has no single sign-on");
    if (r != LY_OK)
        return r;

    /*
     * A browser that has a binding already keeps it, so that two sign-ins
     * started in two tabs both finish; a malformed one is replaced.
     */
    const char *binding = NULL;
    char fresh[SECRET_CHARS + 1];
    if (ly_request_cookie(req, SSO_COOKIE, &binding) != 0 || !is_secret(binding)) {
        new_secret(fresh);
        binding = fresh;
    }
    char state[SECRET_CHARS + 1], verifier[SECRET_CHARS + 1], nonce[SECRET_CHARS + 1];
    char challenge[44];
    unsigned char state_hash[LY_SHA256_LEN];
    new_secret(state);
    derive(binding, "pkce", state, verifier);
    derive(binding, "nonce", state, nonce);
    if (ly_pkce_challenge(verifier, challenge) != LY_OK)
        return LY_E_INTERNAL;
    ly_sha256(state, strlen(state), state_hash);
    struct ly_sso_state st = {
        .org_id = s.org_id, .return_to = return_to, .expires_at = req->now + LY_SSO_STATE_TTL};
    ly_sha256(binding, strlen(binding), st.binding_hash);
    if ((r = ly_sso_state_create(ctx->db, req->arena, state_hash, &st, req->now)) != LY_OK)
        return r;

    const char *sep = strchr(s.authorization_endpoint, '?') != NULL ? "&" : "?";
    const char *loc = ly_arena_printf(
        req->arena,
        "%s%sresponse_type=code&client_id=%s&redirect_uri=%s&scope=openid%%20email%%20profile"
        "&state=%s&nonce=%s&code_challenge=%s&code_challenge_method=S256",
        s.authorization_endpoint, sep, form_escape(c, s.client_id), form_escape(c, redirect_uri(c)),
        state, nonce, challenge);
    bool secure = strncmp(ctx->cfg->server.public_url, "https://", 8) == 0;
    /* Lax, not Strict: the provider's redirect back is a cross-site top-level navigation. */
    ly_response_header(c->resp, "Set-Cookie",
                       ly_arena_printf(req->arena,
                                       SSO_COOKIE "=%s; Path=/api/auth/v1/sso/; HttpOnly; "
                                                  "SameSite=Lax; Max-Age=%d%s",
                                       binding, LY_SSO_STATE_TTL, secure ? "; Secure" : ""));
    ly_response_header(c->resp, "Location", loc);
    ly_response_empty(c->resp, 302);
    return LY_OK;
}

/* What the callback knows when it refuses: for the event and the log. */
struct refusal {
    const char *org_id, *org_name, *user_id;
};

/*
 * A refused callback: 302 to the console with the code in the fragment
 * (never sent to a server), and signin.failed. The unit commits: the state
 * stays spent and the event stays recorded; nothing else was written.
 */
static int refuse(struct ly_call *c, const struct refusal *f, const char *code, const char *why)
{
    ly_log_info(&c->ctx->log, "sso: sign-in refused (%s): %s", code, why);
    struct ly_audit_target t = f->user_id != NULL
                                   ? (struct ly_audit_target){"user", f->user_id}
                                   : (struct ly_audit_target){"organization", f->org_id};
    int r = ly_api_audit(c, "signin.failed", f->org_id, f->org_name, t, false);
    if (r != LY_OK)
        return r;
    ly_response_header(c->resp, "Location",
                       ly_arena_printf(c->req->arena, "%s" START_DEFAULT "#sso_error=%s",
                                       c->ctx->cfg->server.public_url, code));
    ly_response_empty(c->resp, 302);
    return LY_OK;
}

/* Exchange the code at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.5): the ID token. */
static int exchange(struct ly_call *c, const struct ly_sso *s, const char *code,
                    const char *verifier, const char **id_token, const char **fail)
{
    struct ly_request *req = c->req;
    char *secret = NULL;
    size_t secret_len = 0;
    struct ly_httpc *h;
    char err[256];
    if (ly_seal_open(c->ctx->seal, s->org_id, s->client_secret_sealed, req->arena, &secret,
                     &secret_len) != LY_OK) {
        ly_log_error(&c->ctx->log,
                     "sso: the client secret of organization %s does not open "
                     "(security.secrets_key_file changed?)",
                     s->org_id);
        *fail = "server_error";
        return LY_OK;
    }
    int r = ly_ctx_httpc(c->ctx, &h);
    if (r != LY_OK)
        return r;
    const char *body = ly_arena_printf(
        req->arena, "grant_type=authorization_code&code=%s&redirect_uri=%s&code_verifier=%s",
        form_escape(c, code), form_escape(c, redirect_uri(c)), verifier);
    struct ly_httpc_req hr = {.method = "POST",
                              .url = s->token_endpoint,
                              .content_type = "application/x-www-form-urlencoded",
                              .body = body,
                              .basic_user = s->client_id,
                              .basic_pass = secret};
    struct ly_httpc_resp resp;
    r = ly_httpc_do(h, &hr, req->arena, &resp, err, sizeof(err));
    OPENSSL_cleanse(secret, secret_len);
    if (r != LY_OK) {
        ly_log_warn(&c->ctx->log, "sso: the token endpoint cannot be reached: %s", err);
        *fail = "unavailable";
        return LY_OK;
    }
    struct json_object *o = NULL;
    if (resp.status != 200 || ly_json_decode((struct ly_str){resp.body, resp.body_len}, 4,
                                             LY_JSON_UNIQUE_KEYS, &o) != LY_OK) {
        ly_log_info(&c->ctx->log, "sso: the token endpoint refused the code (HTTP %ld)",
                    resp.status);
        *fail = "provider_error";
        return LY_OK;
    }
    const char *t = ly_json_get_string(o, "id_token");
    *id_token = t != NULL ? ly_arena_strdup(req->arena, t) : NULL;
    json_object_put(o);
    if (*id_token == NULL)
        *fail = "provider_error";
    return LY_OK;
}

/* Verify the ID token, fetching the provider's keys when not cached and once more on an unknown
 * kid. */
static int verify(struct ly_call *c, const struct ly_sso *s, const char *id_token,
                  const char *nonce, struct ly_idtoken_claims *out, const char **why)
{
    bool fresh;
    const struct ly_jwks *keys = NULL;
    struct ly_jwks_cached *e = jwks_slot(c->ctx, s->jwks_uri, c->req->now, &fresh);
    int r;
    if (fresh)
        keys = e->keys;
    else if ((r = jwks_refresh(c, s->jwks_uri, &keys, why)) != LY_OK)
        return r;
    const struct ly_idtoken_expect exp = {.issuer = s->issuer,
                                          .client_id = s->client_id,
                                          .nonce = nonce,
                                          .now = c->req->now,
                                          .leeway = c->ctx->cfg->tokens.leeway};
    r = ly_idtoken_verify(keys, id_token, strlen(id_token), &exp, c->req->arena, out, why);
    if (r == LY_IDTOKEN_UNKNOWN_KID && fresh) {
        /* The provider may have rotated its key since the keys were fetched: once more. */
        if ((r = jwks_refresh(c, s->jwks_uri, &keys, why)) != LY_OK)
            return r;
        r = ly_idtoken_verify(keys, id_token, strlen(id_token), &exp, c->req->arena, out, why);
    }
    if (r == LY_IDTOKEN_UNKNOWN_KID) {
        *why = "the ID token is signed with a key the provider does not publish";
        r = LY_E_INVALID_TOKEN;
    }
    return r;
}

static bool domain_allowed(const struct ly_sso *s, const char *email)
{
    const char *dom = strrchr(email, '@') + 1;
    for (size_t i = 0; i < s->n_domains; i++)
        if (strcmp(s->domains[i], dom) == 0)
            return true;
    return false;
}

/*
 * The user of a verified e-mail: made on first sign-in with its membership
 * (in this unit of work: both or neither), or the one this organization's
 * provider made before. *fail is set when the sign-in must be refused.
 */
static int user_of(struct ly_call *c, const struct ly_sso *s, const char *email, struct ly_user *u,
                   const char **fail, struct refusal *f)
{
    struct ly_request *req = c->req;
    struct ly_db *db = c->ctx->db;
    int r = ly_users_get_by_email(db, req->arena, email, u);
    if (r == LY_E_NOT_FOUND) {
        bool added = false;
        if ((r = ly_users_insert(db, req->arena, email, NULL, "", false, req->now, u)) != LY_OK ||
            (r = ly_users_set_sso_org(db, req->arena, u->id, s->org_id)) != LY_OK ||
            (r = ly_members_set(db, req->arena, s->org_id, u->id, s->default_role, false, req->now,
                                &added, NULL)) != LY_OK ||
            (r = ly_api_audit(c, "user.created", s->org_id, s->org_name,
                              (struct ly_audit_target){"user", u->id}, true)) != LY_OK ||
            (r = ly_api_audit(c, "member.added", s->org_id, s->org_name,
                              (struct ly_audit_target){"user", u->id}, true)) != LY_OK)
            return r == LY_E_CONFLICT ? LY_E_RETRY : r; /* made meanwhile by a racing sign-in */
        return LY_OK;
    }
    if (r != LY_OK)
        return r;
    f->user_id = u->id;
    const char *made_by = NULL;
    if ((r = ly_users_sso_org(db, req->arena, u->id, &made_by)) != LY_OK)
        return r;
    /*
     * doc/sso.md: a provider speaks only for the accounts it made. An account
     * made with a password (or by another organization's provider) is not
     * handed to whoever runs this organization's provider; a platform
     * administrator never signs in through an organization's provider.
     */
    if (made_by == NULL || strcmp(made_by, s->org_id) != 0)
        *fail = "account_exists";
    else if (u->disabled || u->platform_admin)
        *fail = "access_denied";
    return LY_OK;
}

/* SPEC §5.15: GET /api/auth/v1/sso/callback?code&state. */
int ly_api_sso_callback(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct lanyard_ctx *ctx = c->ctx;
    struct refusal f = {NULL, NULL, NULL};
    const char *state = NULL, *code = NULL, *error = NULL, *binding = NULL;
    if (ly_request_query(req, "state", &state) != 0 || !is_secret(state))
        return refuse(c, &f, "invalid_state", "no state, or a malformed one");
    unsigned char state_hash[LY_SHA256_LEN], binding_hash[LY_SHA256_LEN];
    ly_sha256(state, strlen(state), state_hash);
    struct ly_sso_state st;
    int r = ly_sso_state_take(ctx->db, req->arena, state_hash, req->now, &st);
    if (r == LY_E_NOT_FOUND)
        return refuse(c, &f, "invalid_state", "unknown, used or expired state");
    if (r != LY_OK)
        return r;
    f.org_id = st.org_id;
    struct ly_sso s;
    r = ly_sso_get(ctx->db, req->arena, st.org_id, &s);
    if (r == LY_E_NOT_FOUND)
        return refuse(c, &f, "invalid_state", "the organization's SSO was removed meanwhile");
    if (r != LY_OK)
        return r;
    f.org_name = s.org_name;
    /* Login CSRF: a state started in another browser does not finish in this one. */
    if (ly_request_cookie(req, SSO_COOKIE, &binding) != 0 || !is_secret(binding))
        return refuse(c, &f, "invalid_state", "no browser-binding cookie");
    ly_sha256(binding, strlen(binding), binding_hash);
    if (!ly_ct_equal(binding_hash, st.binding_hash, LY_SHA256_LEN))
        return refuse(c, &f, "invalid_state", "the binding cookie is another browser's");
    int q = ly_request_query(req, "error", &error);
    if (q == 0)
        return refuse(c, &f,
                      strcmp(error, "access_denied") == 0 ? "access_denied" : "provider_error",
                      "the provider answered an error");
    if (ly_request_query(req, "code", &code) != 0 || code[0] == '\0' || strlen(code) > 2048)
        return refuse(c, &f, "provider_error", "no code");

    char verifier[SECRET_CHARS + 1], nonce[SECRET_CHARS + 1];
    derive(binding, "pkce", state, verifier);
    derive(binding, "nonce", state, nonce);
    const char *id_token = NULL, *fail = NULL, *why = NULL;
    if ((r = exchange(c, &s, code, verifier, &id_token, &fail)) != LY_OK)
        return r;
    if (fail != NULL)
        return refuse(c, &f, fail, "the code exchange failed");
    struct ly_idtoken_claims claims;
    r = verify(c, &s, id_token, nonce, &claims, &why);
    if (r == LY_E_VALIDATION)
        return refuse(c, &f, "unavailable", why);
    if (r == LY_E_INVALID_TOKEN)
        return refuse(c, &f, "invalid_id_token", why);
    if (r != LY_OK)
        return r;
    const char *email = NULL;
    if (claims.email == NULL || !ly_email_normalize(req->arena, claims.email, &email))
        return refuse(c, &f, "invalid_id_token", "the ID token has no usable e-mail");
    if (!claims.email_verified)
        return refuse(c, &f, "email_not_verified", "email_verified is not true");
    if (!domain_allowed(&s, email))
        return refuse(c, &f, "domain_not_allowed", "the e-mail's domain is not the organization's");

    struct ly_user u;
    if ((r = user_of(c, &s, email, &u, &fail, &f)) != LY_OK)
        return r;
    if (fail != NULL)
        return refuse(c, &f, fail, "the account may not sign in through this provider");
    const char *sid = NULL;
    struct json_object *tokens = NULL;
    if ((r = ly_sessions_create(ctx->db, req->arena, u.id, "sso", req->client_ip, req->user_agent,
                                req->now, &sid)) != LY_OK ||
        (r = ly_issue_user_tokens(req, u.id, sid, &tokens)) != LY_OK ||
        (r = ly_api_audit_user(c, "signin.succeeded", u.id, "user", u.id,
                               (struct ly_audit_target){"session", sid}, true)) != LY_OK)
        return r;
    c->resp->principal = u.id;
    /* SPEC §5.14: the console finds its session in the refresh cookie; no token in the URL. */
    ly_issue_set_cookie(req, c->resp, tokens);
    ly_response_location(req, c->resp, st.return_to);
    ly_response_empty(c->resp, 302);
    return LY_OK;
}
