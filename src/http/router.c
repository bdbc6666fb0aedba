#include "build-config.h"
#include "banned.h"

#include "lanyard/router.h"

#include <stdio.h>
#include <string.h>

#include "lanyard/http.h"
#include "lanyard/str.h"

#define MAX_SEGMENTS 10
#define MAX_ATTEMPTS 3 /* of a handler whose transaction a deadlock ended */

/* Split the raw path at '/' and decode each segment. -1 on a malformed escape. */
static int split_path(struct ly_arena *a, const char *raw, const char **segs, size_t *n)
{
    size_t count = 0;
    const char *p = raw;
    if (*p != '/')
        return -1;
    while (*p == '/') {
        const char *start = p + 1;
        const char *end = strchr(start, '/');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (count == MAX_SEGMENTS) {
            *n = MAX_SEGMENTS + 1; /* longer than any route: 404 */
            return 0;
        }
        if (ly_percent_decode(a, (struct ly_str){start, len}, false, &segs[count], NULL) != 0)
            return -1;
        count++;
        p = start + len;
    }
    *n = count;
    return 0;
}

/*
 * One walk along the pattern and the segments together, stopping at the
 * first byte that differs (issue 17: finding each pattern segment's end and
 * each path segment's length again for every route of the table cost more
 * than the comparisons). A decoded segment that holds a '/' matches no
 * literal segment, as before.
 */
static bool pattern_match(const char *pattern, const char **segs, size_t n, const char **params,
                          size_t *n_params)
{
    size_t i = 0, np = 0;
    const char *p = pattern;
    while (*p == '/') {
        p++;
        if (i >= n)
            return false;
        if (p[0] == '{' && p[1] == '}' && (p[2] == '/' || p[2] == '\0')) {
            if (segs[i][0] == '\0' || np == LY_MAX_PATH_PARAMS)
                return false;
            params[np++] = segs[i];
            p += 2;
        } else {
            const char *q = segs[i];
            while (*p != '\0' && *p != '/' && *p == *q) {
                p++;
                q++;
            }
            if ((*p != '\0' && *p != '/') || *q != '\0')
                return false;
        }
        i++;
    }
    if (i != n)
        return false;
    *n_params = np;
    return true;
}

void ly_router_match(struct ly_arena *a, const void *table, size_t n_routes, size_t stride,
                     const char *method, const char *raw_path, const char **params,
                     size_t *n_params, struct ly_route_match *out)
{
    const char *segs[MAX_SEGMENTS];
    size_t n = 0;
    memset(out, 0, sizeof(*out));
    if (split_path(a, raw_path, segs, &n) != 0) {
        out->bad_path = true;
        return;
    }
    if (n > MAX_SEGMENTS)
        return;
    char allowed[64] = "";
    for (size_t i = 0; i < n_routes; i++) {
        const struct ly_route_key *rk =
            (const struct ly_route_key *)(const void *)((const char *)table + i * stride);
        const char *tmp[LY_MAX_PATH_PARAMS];
        size_t np = 0;
        if (!pattern_match(rk->pattern, segs, n, tmp, &np))
            continue;
        if (out->path == NULL)
            out->path = rk;
        if (strcmp(rk->method, method) == 0) {
            memcpy(params, tmp, sizeof(tmp[0]) * np);
            *n_params = np;
            out->route = rk;
            out->path = rk;
            return;
        }
        size_t used = strlen(allowed);
        snprintf(allowed + used, sizeof(allowed) - used, "%s%s", used ? ", " : "", rk->method);
    }
    if (allowed[0] != '\0')
        out->allow = ly_arena_strdup(a, allowed);
}

int ly_media_type_classify(const char *content_type)
{
    if (content_type == NULL)
        return -1;
    struct ly_str ct = ly_str_from(content_type);
    const char *semi = memchr(ct.ptr, ';', ct.len);
    struct ly_str type =
        ly_str_trim((struct ly_str){ct.ptr, semi ? (size_t)(semi - ct.ptr) : ct.len});
    int kind;
    if (ly_str_eq_nocase(type, "application/json"))
        kind = 0;
    else if (ly_str_eq_nocase(type, "application/x-www-form-urlencoded"))
        kind = 1;
    else
        return -1;
    /* RFC 8259 §8.1: JSON is UTF-8; a body declared in another charset is not ours to read. */
    while (semi != NULL) {
        const char *start = semi + 1;
        const char *end = ct.ptr + ct.len;
        semi = memchr(start, ';', (size_t)(end - start));
        struct ly_str param =
            ly_str_trim((struct ly_str){start, (size_t)((semi ? semi : end) - start)});
        const char *eq = memchr(param.ptr, '=', param.len);
        if (eq == NULL)
            return -1;
        struct ly_str name = ly_str_trim((struct ly_str){param.ptr, (size_t)(eq - param.ptr)});
        struct ly_str value =
            ly_str_trim((struct ly_str){eq + 1, param.len - (size_t)(eq - param.ptr) - 1});
        if (value.len >= 2 && value.ptr[0] == '"' && value.ptr[value.len - 1] == '"') {
            value.ptr++;
            value.len -= 2;
        }
        if (ly_str_eq_nocase(name, "charset") && !ly_str_eq_nocase(value, "utf-8"))
            return -1;
    }
    return kind;
}
