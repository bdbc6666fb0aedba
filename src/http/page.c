#include "build-config.h"
#include "banned.h"

#include "lanyard/http.h"

#include <string.h>

#include "lanyard/codec.h"
#include "lanyard/ct.h"
#include "lanyard/ctx.h"
#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"

#define TAG_LEN 16
#define MAX_KEY 512

static int load_key(struct lanyard_ctx *ctx, struct ly_arena *a)
{
    if (ctx->page_key_loaded)
        return LY_OK;
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S("page_token_key")};
    int r = ly_db_exec(ctx->db, a, "SELECT value FROM settings WHERE name = ?", p, 1, &res);
    if (r != LY_OK)
        return r;
    const struct ly_db_value *v = res.n_rows == 1 ? ly_db_cell(&res, 0, 0) : NULL;
    if (v == NULL || v->kind != LY_DB_BLOB || v->len != sizeof(ctx->page_key)) {
        ly_log_error(&ctx->log, "settings.page_token_key is missing: run lanyardctl migrate");
        return LY_E_INTERNAL;
    }
    memcpy(ctx->page_key, v->s, sizeof(ctx->page_key));
    ctx->page_key_loaded = true;
    return LY_OK;
}

static void tag(const struct lanyard_ctx *ctx, const char *msg, size_t n,
                unsigned char out[TAG_LEN])
{
    unsigned char mac[LY_SHA256_LEN];
    ly_hmac_sha256(ctx->page_key, sizeof(ctx->page_key), msg, n, mac);
    memcpy(out, mac, TAG_LEN);
}

const char *ly_page_token(struct ly_request *req, const char *list, const char *key)
{
    if (load_key(req->ctx, req->arena) != LY_OK)
        return NULL;
    size_t ll = strlen(list), kl = strlen(key);
    size_t n = ll + 1 + kl;
    unsigned char *raw = ly_arena_alloc(req->arena, n + TAG_LEN);
    memcpy(raw, list, ll);
    raw[ll] = ':';
    memcpy(raw + ll + 1, key, kl);
    tag(req->ctx, (const char *)raw, n, raw + n);
    /* The list name is authenticated but not sent: the client gets key and tag only. */
    size_t sent = kl + TAG_LEN;
    char *out = ly_arena_alloc(req->arena, ly_base64url_encoded_len(sent) + 1);
    ly_base64url_encode(raw + ll + 1, sent, out);
    return out;
}

static int decode_token(struct ly_request *req, const char *list, const char *token,
                        const char **key)
{
    size_t tl = strlen(token);
    if (tl == 0 || tl > ly_base64url_encoded_len(MAX_KEY + TAG_LEN))
        return LY_E_INVALID_REQUEST;
    unsigned char buf[MAX_KEY + TAG_LEN];
    size_t got = 0;
    if (ly_base64url_decode(token, tl, buf, sizeof(buf), &got) != 0 || got <= TAG_LEN)
        return LY_E_INVALID_REQUEST;
    int r = load_key(req->ctx, req->arena);
    if (r != LY_OK)
        return r;
    size_t kl = got - TAG_LEN, ll = strlen(list);
    char *msg = ly_arena_alloc(req->arena, ll + 1 + kl);
    memcpy(msg, list, ll);
    msg[ll] = ':';
    memcpy(msg + ll + 1, buf, kl);
    unsigned char want[TAG_LEN];
    tag(req->ctx, msg, ll + 1 + kl, want);
    if (!ly_ct_equal(want, buf + kl, TAG_LEN) || memchr(buf, '\0', kl) != NULL)
        return LY_E_INVALID_REQUEST;
    *key = ly_arena_strndup(req->arena, (const char *)buf, kl);
    return LY_OK;
}

int ly_page_from_query(struct ly_request *req, struct ly_response *resp, const char *list,
                       struct ly_page *out)
{
    const char *size_s = NULL, *token = NULL;
    int q1 = ly_request_query(req, "page_size", &size_s);
    int q2 = ly_request_query(req, "page_token", &token);
    if (q1 < 0 || q2 < 0) {
        ly_response_problem(req, resp, LY_E_INVALID_REQUEST, "the query string is malformed", NULL);
        return LY_E_INVALID_REQUEST;
    }
    uint64_t size = LY_PAGE_SIZE_DEFAULT;
    if (q1 == 0 &&
        (ly_str_to_u64(ly_str_from(size_s), LY_PAGE_SIZE_MAX, &size) != 0 || size == 0)) {
        struct ly_field_errors errs = {.n = 0};
        ly_field_errors_add(&errs, "page_size", "must be an integer from 1 to 100");
        ly_response_problem(req, resp, LY_E_VALIDATION, "page_size is out of range", &errs);
        return LY_E_VALIDATION;
    }
    const char *after = NULL;
    if (q2 == 0) {
        int r = decode_token(req, list, token, &after);
        if (r == LY_E_INVALID_REQUEST) {
            ly_response_problem(req, resp, r, "the page_token is not valid for this list", NULL);
            return r;
        }
        if (r != LY_OK)
            return r;
    }
    out->size = (size_t)size;
    out->after = after;
    return LY_OK;
}
