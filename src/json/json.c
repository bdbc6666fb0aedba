#include "build-config.h"
#include "banned.h"

#include "lanyard/json.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/civil.h"
#include "lanyard/err.h"
#include "lanyard/validate.h"

static void put(void *p)
{
    json_object_put(p);
}

struct json_object *ly_json_own(struct ly_arena *a, struct json_object *obj)
{
    ly_arena_defer(a, put, obj);
    return obj;
}

/*
 * RFC 8259 grammar check. json-c is lenient even in strict mode (single
 * quotes, NaN, Infinity), and a value it accepts that another parser refuses
 * is a parser differential waiting to happen, so every text passes this
 * first. UTF-8 validity is checked here too (ly_utf8_valid), strictly.
 * json-c keeps object keys as C strings, so "a\u0000b" would become "a":
 * such a key is refused here, always.
 */
struct scan {
    const char *p, *end;
    int depth, max_depth;
    unsigned flags;
    size_t members; /* object members seen, at every level */
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool scan_string(struct scan *s, bool key)
{
    s->p++; /* the opening quote */
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p++;
        if (c == '"')
            return true;
        if (c < 0x20)
            return false;
        if (c != '\\')
            continue;
        if (s->p == s->end)
            return false;
        c = (unsigned char)*s->p++;
        if (c == 'u') {
            if (s->end - s->p < 4 || !is_hex(s->p[0]) || !is_hex(s->p[1]) || !is_hex(s->p[2]) ||
                !is_hex(s->p[3]))
                return false;
            if (memcmp(s->p, "0000", 4) == 0 && (key || (s->flags & LY_JSON_NO_NUL)))
                return false;
            s->p += 4;
        } else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
            return false;
        }
    }
    return false;
}

static bool scan_number(struct scan *s)
{
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p == s->end)
        return false;
    if (*s->p == '0') {
        s->p++;
    } else if (is_digit(*s->p)) {
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    } else {
        return false;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (s->p == s->end || !is_digit(*s->p))
            return false;
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p == s->end || !is_digit(*s->p))
            return false;
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    }
    return true;
}

static bool scan_literal(struct scan *s, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}

static bool scan_value(struct scan *s)
{
    skip_ws(s);
    if (s->p == s->end)
        return false;
    char c = *s->p;
    if (c == '"')
        return scan_string(s, false);
    if (c == 't')
        return scan_literal(s, "true");
    if (c == 'f')
        return scan_literal(s, "false");
    if (c == 'n')
        return scan_literal(s, "null");
    if (c != '{' && c != '[')
        return scan_number(s);
    if (++s->depth > s->max_depth)
        return false;
    char close = c == '{' ? '}' : ']';
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return true;
    }
    for (;;) {
        if (c == '{') {
            skip_ws(s);
            if (s->p == s->end || *s->p != '"' || !scan_string(s, true))
                return false;
            s->members++;
            skip_ws(s);
            if (s->p == s->end || *s->p++ != ':')
                return false;
        }
        if (!scan_value(s))
            return false;
        skip_ws(s);
        if (s->p == s->end)
            return false;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p++ != close)
            return false;
        s->depth--;
        return true;
    }
}

/* The members of every object in o, nested ones included. */
static size_t count_members(struct json_object *o)
{
    size_t n = 0;

    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, key, val)
        {
            (void)key;
            n += 1 + count_members(val);
        }
    } else if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            n += count_members(json_object_array_get_idx(o, i));
    }
    return n;
}

int ly_json_decode(struct ly_str text, int max_depth, unsigned flags, struct json_object **out)
{
    /* checked before the scan is set up: an empty body may be {NULL, 0}, and NULL + 0 is undefined
     */
    if (text.len == 0 || text.len > INT32_MAX || max_depth < 1 || max_depth > LY_JSON_MAX_DEPTH ||
        memchr(text.ptr, '\0', text.len) != NULL)
        return LY_E_INVALID_JSON;
    /* RFC 8259 §8.1: json-c's UTF-8 check lets overlong forms and surrogates through */
    if (!ly_utf8_valid(text.ptr, text.len))
        return LY_E_INVALID_JSON;
    struct scan s = {text.ptr, text.ptr + text.len, 0, max_depth, flags, 0};
    if (!scan_value(&s))
        return LY_E_INVALID_JSON;
    skip_ws(&s);
    if (s.p != s.end)
        return LY_E_INVALID_JSON;
    /* json-c counts the top value as a level of its own: the scan above has the last word */
    struct json_tokener *tok = json_tokener_new_ex(max_depth + 1);
    if (tok == NULL)
        return LY_E_INTERNAL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    int r = LY_E_INVALID_JSON;
    struct json_object *obj = json_tokener_parse_ex(tok, text.ptr, (int)text.len);
    size_t end = json_tokener_get_parse_end(tok);
    if (obj == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
        /* A number or literal that ends the text: json-c waits for more; a NUL ends it. */
        obj = json_tokener_parse_ex(tok, "", 1);
        end = text.len;
    }
    /* A NULL object with success is the literal null: valid JSON, of the wrong type for a body. */
    if (json_tokener_get_error(tok) != json_tokener_success)
        goto out;
    /* RFC 8259 §2: only insignificant whitespace may follow the value. */
    for (size_t i = end; i < text.len; i++) {
        char c = text.ptr[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
            goto out;
    }
    /* json-c keeps the last of repeated keys: fewer members than the text has. */
    if ((flags & LY_JSON_UNIQUE_KEYS) && count_members(obj) != s.members)
        goto out;
    *out = obj;
    obj = NULL;
    r = LY_OK;
out:
    json_object_put(obj);
    json_tokener_free(tok);
    return r;
}

int ly_json_parse(struct ly_arena *a, struct ly_str body, struct json_object **out)
{
    struct json_object *obj = NULL;
    int r = ly_json_decode(body, LY_JSON_MAX_DEPTH, 0, &obj);

    if (r != LY_OK)
        return r;
    *out = ly_json_own(a, obj);
    return LY_OK;
}

const char *ly_json_to_string(struct ly_arena *a, struct json_object *obj, size_t *len)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    char *copy = ly_arena_strndup(a, s, n);
    if (len != NULL)
        *len = n;
    return copy;
}

void ly_field_errors_add(struct ly_field_errors *e, const char *field, const char *message)
{
    if (e->n < LY_MAX_FIELD_ERRORS) {
        e->items[e->n].field = field;
        e->items[e->n].message = message;
        e->n++;
    }
}

static bool kind_ok(struct json_object *v, unsigned kinds)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return (kinds & LY_JSON_NULL) != 0;
    case json_type_string:
        return (kinds & LY_JSON_STRING) != 0;
    case json_type_boolean:
        return (kinds & LY_JSON_BOOL) != 0;
    case json_type_int:
        return (kinds & LY_JSON_INT) != 0;
    case json_type_array:
        return (kinds & LY_JSON_ARRAY) != 0;
    default:
        return false;
    }
}

static const char *kind_message(unsigned kinds)
{
    switch (kinds & ~(unsigned)LY_JSON_NULL) {
    case LY_JSON_STRING:
        return "must be a string";
    case LY_JSON_BOOL:
        return "must be a boolean";
    case LY_JSON_INT:
        return "must be an integer";
    case LY_JSON_ARRAY:
        return "must be an array";
    default:
        return "has the wrong type";
    }
}

int ly_json_check_fields(struct json_object *obj, const struct ly_json_field *fields, size_t n,
                         struct ly_field_errors *errs)
{
    size_t before = errs->n;
    if (!json_object_is_type(obj, json_type_object)) {
        ly_field_errors_add(errs, "", "the body must be a JSON object");
        return LY_E_VALIDATION;
    }
    json_object_object_foreach(obj, key, val)
    {
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(fields[i].name, key) == 0)
                break;
        if (i == n) {
            /* The name comes from the request: point at the field table only. */
            ly_field_errors_add(errs, "", "unknown field");
            continue;
        }
        if (!kind_ok(val, fields[i].kinds))
            ly_field_errors_add(errs, fields[i].name, kind_message(fields[i].kinds));
        else if (json_object_is_type(val, json_type_string) &&
                 strlen(json_object_get_string(val)) != (size_t)json_object_get_string_len(val))
            /* C strings end at NUL: "ab\u0000cd" would be read as "ab". */
            ly_field_errors_add(errs, fields[i].name, "must not contain NUL characters");
    }
    for (size_t i = 0; i < n; i++)
        if (fields[i].required && !json_object_object_get_ex(obj, fields[i].name, NULL))
            ly_field_errors_add(errs, fields[i].name, "is required");
    return errs->n == before ? LY_OK : LY_E_VALIDATION;
}

const char *ly_json_get_string(struct json_object *obj, const char *key)
{
    struct json_object *v;
    if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    /* C strings end at NUL: "refresh_token\u0000junk" must not read as "refresh_token". */
    if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
        return NULL;
    return json_object_get_string(v);
}

bool ly_json_has(struct json_object *obj, const char *key)
{
    return obj != NULL && json_object_object_get_ex(obj, key, NULL);
}

bool ly_json_is_null(struct json_object *obj, const char *key)
{
    struct json_object *v;
    return obj != NULL && json_object_object_get_ex(obj, key, &v) && v == NULL;
}

bool ly_json_get_bool(struct json_object *obj, const char *key, bool fallback)
{
    struct json_object *v;
    if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_boolean))
        return fallback;
    return json_object_get_boolean(v);
}

int64_t ly_json_get_int(struct json_object *obj, const char *key, int64_t fallback)
{
    struct json_object *v;
    if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_int))
        return fallback;
    return json_object_get_int64(v);
}

struct json_object *ly_json_str_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

/* v, 0 <= v < 10^n, as n decimal digits with leading zeros. */
static void put_digits(char *out, int v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void ly_time_format(int64_t t, char buf[32])
{
    /*
     * Our own calendar arithmetic, not gmtime_r: a 32-bit time_t would end
     * in 2038 (SPEC §3). Nothing Lanyard keeps lies outside years 1..9999,
     * so a time beyond them is clamped to the nearest end rather than
     * printed with a fifth digit.
     */
    struct ly_civil c;
    ly_time_to_civil(t < LY_TIME_MIN ? LY_TIME_MIN : t > LY_TIME_MAX ? LY_TIME_MAX : t, &c);
    /* Digit by digit: snprintf cost most of /me's JSON answer (doc/performance.md). */
    put_digits(buf, c.year, 4);
    buf[4] = '-';
    put_digits(buf + 5, c.month, 2);
    buf[7] = '-';
    put_digits(buf + 8, c.day, 2);
    buf[10] = 'T';
    put_digits(buf + 11, c.hour, 2);
    buf[13] = ':';
    put_digits(buf + 14, c.minute, 2);
    buf[16] = ':';
    put_digits(buf + 17, c.second, 2);
    buf[19] = 'Z';
    buf[20] = '\0';
}

struct json_object *ly_json_time(int64_t t)
{
    if (t < 0)
        return NULL;
    char buf[32];
    ly_time_format(t, buf);
    return json_object_new_string(buf);
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int ly_time_parse(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec;
    size_t n = strlen(s);
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        return -1;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (strlen(p) != 6 || p[3] != ':' || digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) ||
            oh > 23 || om > 59)
            return -1;
        offset = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec == 60 ? 59 : sec) - offset;
    return 0;
}
