#include "build-config.h"
#include "banned.h"

#include "lanyard/pagetoken.h"

#include <string.h>

#include "lanyard/codec.h"
#include "lanyard/ct.h"
#include "lanyard/err.h"
#include "lanyard/hash.h"

#define TAG_LEN 16
#define MAX_KEY 512

static void tag(const unsigned char key[LY_PAGE_KEY_LEN], const char *msg, size_t n,
                unsigned char out[TAG_LEN])
{
    unsigned char mac[LY_SHA256_LEN];
    ly_hmac_sha256(key, LY_PAGE_KEY_LEN, msg, n, mac);
    memcpy(out, mac, TAG_LEN);
}

const char *ly_page_token_make(struct ly_arena *a, const unsigned char key[LY_PAGE_KEY_LEN],
                               const char *list, const char *sort_key)
{
    size_t ll = strlen(list), kl = strlen(sort_key);
    size_t n = ll + 1 + kl;
    unsigned char *raw = ly_arena_alloc(a, n + TAG_LEN);
    memcpy(raw, list, ll);
    raw[ll] = ':';
    memcpy(raw + ll + 1, sort_key, kl);
    tag(key, (const char *)raw, n, raw + n);
    /* The list name is authenticated but not sent: the client gets key and tag only. */
    size_t sent = kl + TAG_LEN;
    char *out = ly_arena_alloc(a, ly_base64url_encoded_len(sent) + 1);
    ly_base64url_encode(raw + ll + 1, sent, out);
    return out;
}

int ly_page_token_read(struct ly_arena *a, const unsigned char key[LY_PAGE_KEY_LEN],
                       const char *list, const char *token, const char **out)
{
    size_t tl = strlen(token);
    if (tl == 0 || tl > ly_base64url_encoded_len(MAX_KEY + TAG_LEN))
        return LY_E_INVALID_REQUEST;
    unsigned char buf[MAX_KEY + TAG_LEN];
    size_t got = 0;
    if (ly_base64url_decode(token, tl, buf, sizeof(buf), &got) != 0 || got <= TAG_LEN)
        return LY_E_INVALID_REQUEST;
    size_t kl = got - TAG_LEN, ll = strlen(list);
    char *msg = ly_arena_alloc(a, ll + 1 + kl);
    memcpy(msg, list, ll);
    msg[ll] = ':';
    memcpy(msg + ll + 1, buf, kl);
    unsigned char want[TAG_LEN];
    tag(key, msg, ll + 1 + kl, want);
    if (!ly_ct_equal(want, buf + kl, TAG_LEN) || memchr(buf, '\0', kl) != NULL)
        return LY_E_INVALID_REQUEST;
    *out = ly_arena_strndup(a, (const char *)buf, kl);
    return LY_OK;
}
