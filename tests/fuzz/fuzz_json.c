/*
 * fuzz_json: request bodies through ly_json_parse and ly_json_check_fields.
 *
 * Invariants: an accepted body is an object tree no deeper than
 * LY_JSON_MAX_DEPTH; what json-c writes back for it is accepted again and
 * parses to an equal tree (no parser differential between our grammar check
 * and json-c); field checks report at most LY_MAX_FIELD_ERRORS errors, each
 * with a field and a message, and LY_OK exactly when there are none.
 */
#include "build-config.h"
#include "banned.h"

#include <string.h>

#include <json-c/json.h>

#include "lanyard/arena.h"
#include "lanyard/err.h"
#include "lanyard/json.h"
#include "lanyard/str.h"

#include "fuzz.h"

static const struct ly_json_field fields[] = {
    {"name", LY_JSON_STRING, true},        {"display_name", LY_JSON_STRING | LY_JSON_NULL, false},
    {"admin", LY_JSON_BOOL, false},        {"size", LY_JSON_INT, false},
    {"grant_type", LY_JSON_STRING, false},
};

static int depth_of(struct json_object *o)
{
    int d = 0;

    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, key, val)
        {
            (void)key;
            int c = depth_of(val);
            if (c > d)
                d = c;
        }
        return d + 1;
    }
    if (json_object_is_type(o, json_type_array)) {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++) {
            int c = depth_of(json_object_array_get_idx(o, i));
            if (c > d)
                d = c;
        }
        return d + 1;
    }
    return 0;
}

static void check_fields(struct json_object *obj)
{
    struct ly_field_errors errs = {.n = 0};
    int r = ly_json_check_fields(obj, fields, sizeof(fields) / sizeof(fields[0]), &errs);

    FUZZ_CHECK(r == LY_OK || r == LY_E_VALIDATION);
    FUZZ_CHECK((r == LY_OK) == (errs.n == 0));
    FUZZ_CHECK(errs.n <= LY_MAX_FIELD_ERRORS);
    for (size_t i = 0; i < errs.n; i++)
        FUZZ_CHECK(errs.items[i].field != NULL && errs.items[i].message != NULL);
    if (!json_object_is_type(obj, json_type_object))
        FUZZ_CHECK(r == LY_E_VALIDATION);
    if (r == LY_OK)
        FUZZ_CHECK(ly_json_get_string(obj, "name") != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ly_arena arena;
    struct json_object *obj = NULL, *again = NULL;
    struct ly_str body = {(const char *)data, size};

    ly_arena_init(&arena, 4096);
    int r = ly_json_parse(&arena, body, &obj);
    FUZZ_CHECK(r == LY_OK || r == LY_E_INVALID_JSON);
    if (r != LY_OK) {
        FUZZ_CHECK(obj == NULL); /* untouched on failure */
        goto out;
    }
    FUZZ_CHECK(memchr(data, '\0', size) == NULL);
    FUZZ_CHECK(depth_of(obj) <= LY_JSON_MAX_DEPTH);

    /* What we write back, we read back: same tree, and a fixed point after one round. */
    size_t len = 0, len2 = 0;
    const char *text = ly_json_to_string(&arena, obj, &len);
    FUZZ_CHECK(text != NULL && strlen(text) == len);
    FUZZ_CHECK(ly_json_parse(&arena, (struct ly_str){text, len}, &again) == LY_OK);
    FUZZ_CHECK(json_object_equal(obj, again));
    const char *text2 = ly_json_to_string(&arena, again, &len2);
    FUZZ_CHECK(len == len2 && memcmp(text, text2, len) == 0);

    check_fields(obj);
    if (json_object_is_type(obj, json_type_object)) {
        /* the getters never fail on a member of another type */
        (void)ly_json_get_string(obj, "name");
        (void)ly_json_get_bool(obj, "admin", false);
        (void)ly_json_get_int(obj, "size", 0);
        (void)ly_json_is_null(obj, "display_name");
    }
out:
    ly_arena_release(&arena);
    return 0;
}
