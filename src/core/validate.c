#include "build-config.h"
#include "banned.h"

#include "lanyard/validate.h"

#include <string.h>

#include "lanyard/rand.h"
#include "lanyard/str.h"

bool ly_resource_is_valid(const char *s)
{
    size_t n = strnlen(s, 256);
    if (n < 1 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && strchr("._:/-", c) == NULL)
            return false;
    }
    return true;
}

bool ly_resource_covers(const char *scope, const char *resource)
{
    if (scope == NULL)
        return true;
    if (resource == NULL)
        return false;
    size_t n = strlen(scope);
    /* "a/b" covers "a/b" and "a/b/c", not "a/bc": the match ends at a '/'. */
    return strncmp(resource, scope, n) == 0 && (resource[n] == '\0' || resource[n] == '/');
}

bool ly_name_is_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && i > 0 && i < n - 1))
            return false;
    }
    return true;
}

/* An ASCII-lower-cased copy of the n bytes at s (e-mail addresses and domains, compared so). */
static const char *lower_copy(struct ly_arena *a, const char *s, size_t n)
{
    char *copy = ly_arena_strndup(a, s, n);
    for (size_t i = 0; i < n; i++)
        if (copy[i] >= 'A' && copy[i] <= 'Z')
            copy[i] = (char)(copy[i] + 32);
    return copy;
}

bool ly_email_normalize(struct ly_arena *a, const char *s, const char **out)
{
    size_t n = strlen(s);
    if (n < 3 || n > LY_EMAIL_MAX)
        return false;
    const char *at = strchr(s, '@');
    if (at == NULL || at == s || strchr(at + 1, '@') != NULL)
        return false;
    const char *domain = at + 1;
    size_t dl = strlen(domain);
    const char *dot = strchr(domain, '.');
    if (dl < 3 || dot == NULL || domain[0] == '.' || domain[dl - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return false;
    }
    if (!ly_str_is_clean_utf8(ly_str_from(s), LY_EMAIL_MAX))
        return false;
    *out = lower_copy(a, s, n);
    return true;
}

bool ly_text_is_valid(const char *s, size_t max)
{
    return ly_str_is_clean_utf8(ly_str_from(s), max);
}

const char *ly_id_generate(struct ly_arena *a, const char *prefix, size_t n)
{
    size_t pl = strlen(prefix);
    char *id = ly_arena_alloc(a, pl + n + 1);
    memcpy(id, prefix, pl);
    ly_rand_base32_lower(id + pl, n);
    return id;
}

/*
 * The length of the well-formed UTF-8 sequence at p[0..n), or 0 when there
 * is none; *bad is then the length of its maximal subpart (Unicode §3.9,
 * Table 3-7: the bytes that could still have begun a well-formed sequence),
 * at least 1. The ranges of the second byte exclude overlong forms,
 * surrogates and anything past U+10FFFF.
 */
static size_t utf8_sequence(const unsigned char *p, size_t n, size_t *bad)
{
    unsigned char c = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range */
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        *bad = 1; /* a continuation byte, C0, C1 or F5..FF */
        return 0;
    }
    size_t i = 1;
    for (; i < len && i < n; i++) {
        unsigned char b = p[i];
        if (i == 1 ? b < lo || b > hi : (b & 0xC0) != 0x80)
            break;
    }
    if (i == len)
        return len;
    *bad = i;
    return 0;
}

bool ly_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, bad = 0;
    while (i < n) {
        size_t k = utf8_sequence(p + i, n - i, &bad);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

const char *ly_utf8_clean(struct ly_arena *a, const char *s, size_t max_bytes)
{
    if (s == NULL)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    /* Each input byte gives at most three (U+FFFD). */
    char *out = ly_arena_alloc(a, (n > max_bytes / 3 ? max_bytes : n * 3) + 1);
    size_t o = 0, i = 0;
    while (i < n) {
        size_t bad = 0, len = utf8_sequence(p + i, n - i, &bad);
        char rep[3];
        const char *put = (const char *)p + i;
        size_t put_len = len;
        if (len == 0) {
            memcpy(rep, "\xEF\xBF\xBD", 3); /* U+FFFD for the whole maximal subpart */
            put = rep;
            put_len = 3;
            len = bad;
        } else if ((len == 1 && (p[i] < 0x20 || p[i] == 0x7F)) ||
                   (len == 2 && p[i] == 0xC2 && p[i + 1] <= 0x9F)) {
            /* C0 controls, DEL and the C1 controls U+0080..U+009F become a space. */
            rep[0] = ' ';
            put = rep;
            put_len = 1;
        }
        if (o + put_len > max_bytes)
            break; /* cut before a character that does not fit whole */
        memcpy(out + o, put, put_len);
        o += put_len;
        i += len;
    }
    out[o] = '\0';
    return out;
}

bool ly_domain_normalize(struct ly_arena *a, const char *s, const char **out)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 253)
        return false;
    size_t label = 0, labels = 1;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
            labels++;
            continue;
        }
        bool alnum =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!(alnum || (ch == '-' && label > 0)) || ++label > 63)
            return false;
    }
    if (label == 0 || s[n - 1] == '-' || labels < 2)
        return false;
    *out = lower_copy(a, s, n);
    return true;
}

/*
 * SPEC §5.15: return_to is a path on this origin. Anything a browser could
 * read as another origin (a scheme, "//host", a backslash, which some treat
 * as a slash) or that could split the Location header is refused.
 */
bool ly_return_to_is_valid(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > LY_RETURN_TO_MAX || p[0] != '/' || p[1] == '/' || p[1] == '\\')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '\\' || ch == '#')
            return false;
    }
    return true;
}
