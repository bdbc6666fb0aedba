/*
 * json: strict request-body parsing and field validation on json-c, and the
 * serialisation of answers.
 *
 * Parsed objects are owned by the request arena (released at reset).
 */
#ifndef LY_JSON_H
#define LY_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/str.h"

struct json_object;

#define LY_JSON_MAX_DEPTH 16

#define LY_JSON_UNIQUE_KEYS 0x1 /* refuse an object that repeats a key */
#define LY_JSON_NO_NUL      0x2 /* refuse "\u0000" in string values too, not only in keys */

/*
 * Decode text as one strict JSON value: the RFC 8259 grammar (no NaN,
 * Infinity, single quotes, comments, or bytes after the value but
 * whitespace), no raw NUL, valid UTF-8, nested at most max_depth deep
 * (1 .. LY_JSON_MAX_DEPTH), and no "\u0000" inside a key (json-c would cut
 * the key short there). flags (LY_JSON_*) refuse more. Returns LY_OK and
 * *out, a new object the caller releases with json_object_put, or
 * LY_E_INVALID_JSON (or LY_E_INTERNAL) with *out untouched.
 */
int ly_json_decode(struct ly_str text, int max_depth, unsigned flags, struct json_object **out);

/*
 * Parse body as one strict JSON value with ly_json_decode (depth at most
 * LY_JSON_MAX_DEPTH, no flags: a repeated key keeps the last value, and a
 * string value may hold "\u0000", which ly_json_check_fields reports).
 * Returns LY_OK and *out (owned by a) or LY_E_INVALID_JSON.
 */
int ly_json_parse(struct ly_arena *a, struct ly_str body, struct json_object **out);

/* Register obj to be released (json_object_put) when a is reset; returns obj. */
struct json_object *ly_json_own(struct ly_arena *a, struct json_object *obj);

/* Serialise obj compactly into a (no slash escaping). */
const char *ly_json_to_string(struct ly_arena *a, struct json_object *obj, size_t *len);

/*
 * An answer written as text straight into the arena, for the hot paths:
 * a json-c tree costs a malloc per value and per object (about 50 for
 * /me), this costs none. The text is what ly_json_to_string would print
 * for the same tree (tests/unit/test_http.c holds them together). Members
 * come in the order written; the caller writes each key once.
 */
struct ly_json_writer {
    struct ly_arena *a;
    char *buf;
    size_t len, cap;
    bool more; /* a value was written at this level: the next needs a comma */
};

/* Start an empty text in a, with room for hint bytes (0: grow when needed). */
void ly_json_writer_init(struct ly_json_writer *w, struct ly_arena *a, size_t hint);

/*
 * Each writes one value: a member named key of the object being written,
 * or, with key NULL, an element of the array being written (or the top
 * value). A key is a field name of the program's own, written as it is:
 * never one from input, and nothing in it that JSON escapes. open/close
 * take '{' and '}' or '[' and ']'. str writes null for NULL, time an RFC
 * 3339 string (null for t < 0, as ly_json_time).
 */
void ly_json_write_open(struct ly_json_writer *w, const char *key, char bracket);
void ly_json_write_close(struct ly_json_writer *w, char bracket);
void ly_json_write_str(struct ly_json_writer *w, const char *key, const char *s);
void ly_json_write_bool(struct ly_json_writer *w, const char *key, bool v);
void ly_json_write_time(struct ly_json_writer *w, const char *key, int64_t t);

/* The text so far, NUL-terminated, in the arena; its length in *len. */
const char *ly_json_writer_text(struct ly_json_writer *w, size_t *len);

/* One validation failure, as in the problem "errors" array of SPEC §3. */
struct ly_field_error {
    const char *field;
    const char *message;
};

#define LY_MAX_FIELD_ERRORS 16

struct ly_field_errors {
    struct ly_field_error items[LY_MAX_FIELD_ERRORS];
    size_t n;
};

void ly_field_errors_add(struct ly_field_errors *e, const char *field, const char *message);

enum ly_json_kind {
    LY_JSON_STRING = 1,
    LY_JSON_BOOL = 2,
    LY_JSON_INT = 4,
    LY_JSON_NULL = 8, /* or'ed with another kind: null accepted */
    LY_JSON_ARRAY = 16,
};

struct ly_json_field {
    const char *name;
    unsigned kinds; /* mask of enum ly_json_kind */
    bool required;
};

/*
 * Check that obj is an object whose members are all among fields, of the
 * allowed kinds, with every required member present. Failures are added to
 * errs; returns LY_OK or LY_E_VALIDATION.
 */
int ly_json_check_fields(struct json_object *obj, const struct ly_json_field *fields, size_t n,
                         struct ly_field_errors *errs);

/*
 * Members by name: NULL/false/fallback when absent or of another type.
 * ly_json_get_string is NULL too for a string holding a NUL, which a C
 * string would end early.
 */
const char *ly_json_get_string(struct json_object *obj, const char *key);
bool ly_json_has(struct json_object *obj, const char *key);
bool ly_json_is_null(struct json_object *obj, const char *key);
bool ly_json_get_bool(struct json_object *obj, const char *key, bool fallback);
int64_t ly_json_get_int(struct json_object *obj, const char *key, int64_t fallback);

/* Build helpers: a JSON string or null for NULL. */
struct json_object *ly_json_str_or_null(const char *s);

/* RFC 3339 UTC "2026-11-22T10:00:00Z" as a JSON string; t < 0 gives null. */
struct json_object *ly_json_time(int64_t t);

/* Format t as RFC 3339 UTC into buf (at least 21 bytes). */
void ly_time_format(int64_t t, char buf[32]);

/* Parse RFC 3339 with Z or an offset, seconds precision (fractions dropped). 0 / -1. */
int ly_time_parse(const char *s, int64_t *out);

#endif
