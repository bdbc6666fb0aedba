#include "build-config.h"
#include "banned.h"

#include "lanyard/str.h"

#include <string.h>

struct ly_str ly_str_from(const char *s)
{
    struct ly_str r = {s ? s : "", s ? strlen(s) : 0};
    return r;
}

bool ly_str_eq(struct ly_str a, struct ly_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool ly_str_eq_cstr(struct ly_str a, const char *b)
{
    return ly_str_eq(a, ly_str_from(b));
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool ly_str_eq_nocase(struct ly_str a, const char *b)
{
    size_t n = strlen(b);
    if (a.len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a.ptr[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

bool ly_str_has_prefix(struct ly_str a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.len >= n && memcmp(a.ptr, prefix, n) == 0;
}

struct ly_str ly_str_trim(struct ly_str a)
{
    while (a.len > 0 && (a.ptr[0] == ' ' || a.ptr[0] == '\t')) {
        a.ptr++;
        a.len--;
    }
    while (a.len > 0 && (a.ptr[a.len - 1] == ' ' || a.ptr[a.len - 1] == '\t'))
        a.len--;
    return a;
}

int ly_str_to_u64(struct ly_str s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0 || s.len > 20)
        return -1;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c < '0' || c > '9')
            return -1;
        if (v > (UINT64_MAX - (c - '0')) / 10)
            return -1;
        v = v * 10 + (c - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

bool ly_str_is_token_chars(struct ly_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool ly_str_is_clean_utf8(struct ly_str s, size_t max_chars)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t i = 0, chars = 0;
    while (i < s.len) {
        uint32_t cp;
        size_t n;
        unsigned char c = p[i];
        if (c < 0x80) {
            cp = c;
            n = 1;
        } else if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1F;
            n = 2;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0F;
            n = 3;
        } else if ((c & 0xF8) == 0xF0) {
            cp = c & 0x07;
            n = 4;
        } else {
            return false;
        }
        if (i + n > s.len)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        /* RFC 3629: shortest form only, no surrogates, nothing past U+10FFFF. */
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
            return false;
        i += n;
        if (++chars > max_chars)
            return false;
    }
    return true;
}

size_t ly_str_from_u64(uint64_t v, char out[LY_U64_DEC_MAX])
{
    char tmp[LY_U64_DEC_MAX];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    memcpy(out, tmp + i, sizeof(tmp) - i);
    return sizeof(tmp) - i;
}
