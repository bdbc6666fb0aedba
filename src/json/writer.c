#include "build-config.h"
#include "banned.h"

#include "lanyard/json.h"

#include <string.h>

static void writer_grow(struct ly_json_writer *w, size_t more)
{
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < more)
        cap *= 2;
    /* The arena cannot realloc: the old text stays there until the request ends. */
    char *buf = ly_arena_alloc(w->a, cap);
    if (w->len > 0)
        memcpy(buf, w->buf, w->len);
    w->buf = buf;
    w->cap = cap;
}

static void writer_put(struct ly_json_writer *w, const char *s, size_t n)
{
    if (w->cap - w->len < n)
        writer_grow(w, n);
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void writer_put_c(struct ly_json_writer *w, char c)
{
    writer_put(w, &c, 1);
}

/* What json-c's plain output escapes, no more: control bytes, '"' and '\'; UTF-8 as it is. */
static void writer_put_escaped(struct ly_json_writer *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    writer_put_c(w, '"');
    const char *run = s;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        writer_put(w, run, (size_t)(s - run));
        run = s + 1;
        switch (c) {
        case '"':
            writer_put(w, "\\\"", 2);
            break;
        case '\\':
            writer_put(w, "\\\\", 2);
            break;
        case '\b':
            writer_put(w, "\\b", 2);
            break;
        case '\f':
            writer_put(w, "\\f", 2);
            break;
        case '\n':
            writer_put(w, "\\n", 2);
            break;
        case '\r':
            writer_put(w, "\\r", 2);
            break;
        case '\t':
            writer_put(w, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
            writer_put(w, u, sizeof(u));
        }
        }
    }
    writer_put(w, run, (size_t)(s - run));
    writer_put_c(w, '"');
}

/* The separator and the key a member needs; key NULL for an array's element or the top value. */
static void writer_member(struct ly_json_writer *w, const char *key)
{
    if (w->more)
        writer_put_c(w, ',');
    w->more = true;
    if (key != NULL) {
        /* A name of the program's own (json.h): nothing in it to escape. */
        writer_put_c(w, '"');
        writer_put(w, key, strlen(key));
        writer_put(w, "\":", 2);
    }
}

void ly_json_writer_init(struct ly_json_writer *w, struct ly_arena *a, size_t hint)
{
    memset(w, 0, sizeof(*w));
    w->a = a;
    if (hint > 0)
        writer_grow(w, hint);
}

void ly_json_write_open(struct ly_json_writer *w, const char *key, char bracket)
{
    writer_member(w, key);
    writer_put_c(w, bracket);
    w->more = false;
}

void ly_json_write_close(struct ly_json_writer *w, char bracket)
{
    writer_put_c(w, bracket);
    w->more = true;
}

void ly_json_write_str(struct ly_json_writer *w, const char *key, const char *s)
{
    writer_member(w, key);
    if (s == NULL)
        writer_put(w, "null", 4);
    else
        writer_put_escaped(w, s);
}

void ly_json_write_bool(struct ly_json_writer *w, const char *key, bool v)
{
    writer_member(w, key);
    if (v)
        writer_put(w, "true", 4);
    else
        writer_put(w, "false", 5);
}

void ly_json_write_time(struct ly_json_writer *w, const char *key, int64_t t)
{
    if (t < 0) {
        ly_json_write_str(w, key, NULL);
        return;
    }
    char buf[32];
    ly_time_format(t, buf);
    ly_json_write_str(w, key, buf);
}

const char *ly_json_writer_text(struct ly_json_writer *w, size_t *len)
{
    writer_put_c(w, '\0');
    w->len--;
    if (len != NULL)
        *len = w->len;
    return w->buf;
}
