#include "build-config.h"
#include "banned.h"

#include "lanyard/validate.h"

#include <string.h>

#include "lanyard/rand.h"
#include "lanyard/str.h"

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
    char *copy = ly_arena_strndup(a, s, n);
    for (size_t i = 0; i < n; i++)
        if (copy[i] >= 'A' && copy[i] <= 'Z')
            copy[i] = (char)(copy[i] + 32);
    *out = copy;
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
