/*
 * config: YAML text to the node tree (SPEC §2), as h2o's yoml does it: the
 * libyaml event stream becomes a small tree in which every node keeps its
 * 1-based line and column, so that any later error can name FILE:LINE:COL.
 * Aliases, a second document and nesting deeper than MAX_DEPTH are refused.
 * This is the only file that includes <yaml.h>.
 */
#include "build-config.h"
#include "banned.h"

#include "lanyard/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "internal.h"
#include "lanyard/mem.h"

#define MAX_DEPTH 16 /* nesting the parser accepts; SPEC §2 needs 3 */

/* ---------------------------------------------------------------------------------------------
 * The node tree
 */

void ly_cfg_node_free(struct node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++)
        ly_cfg_node_free(n->items[i]);
    free(n->items);
    free(n->value);
    free(n);
}

static void node_push(struct node *parent, struct node *child)
{
    if (parent->n == parent->cap) {
        parent->cap = parent->cap ? parent->cap * 2 : 8;
        parent->items = ly_xrealloc(parent->items, parent->cap * sizeof(*parent->items));
    }
    parent->items[parent->n++] = child;
}

const char *const ly_cfg_kind_names[] = {"a scalar", "a list", "a mapping"};

/* YAML 1.2 core schema: a plain empty, "~" or "null" scalar is null. */
bool ly_cfg_is_null(const struct node *n)
{
    if (n->kind != NODE_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
           strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0;
}

/* YAML 1.2 core schema booleans; "yes"/"no"/"on"/"off" are strings, as in 1.2. */
int ly_cfg_plain_bool(const struct node *n, bool *out)
{
    static const char *const t[] = {"true", "True", "TRUE"};
    static const char *const f[] = {"false", "False", "FALSE"};

    if (n->kind != NODE_SCALAR || !n->plain)
        return -1;
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(n->value, t[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(n->value, f[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* A value quoted for an error message: at most 48 bytes, controls escaped. */
const char *ly_cfg_show(const struct node *n, char *buf, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < n->len && o + 8 < size; i++) {
        unsigned char c = (unsigned char)n->value[i];
        if (i == 48) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f) {
            int w = snprintf(buf + o, size - o, "\\x%02x", c);
            if (w < 0)
                break;
            o += (size_t)w;
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* ---------------------------------------------------------------------------------------------
 * YAML text to node tree
 */

static int yaml_failed(struct loader *ld, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "unknown error";

    if (p->error == YAML_MEMORY_ERROR) {
        ly_cfg_fail_at(ld, 1, 1, "out of memory while parsing YAML");
        return -1;
    }
    if (p->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark: count lines and characters to it. */
        unsigned long line = 1, col = 1;
        for (size_t i = 0; i < p->problem_offset && i < ld->buflen; i++) {
            if (ld->buf[i] == '\n') {
                line++;
                col = 1;
            } else if ((ld->buf[i] & 0xc0) != 0x80) {
                col++;
            }
        }
        ly_cfg_fail_at(ld, line, col, "invalid YAML: %s", problem);
        return -1;
    }
    if (p->context)
        ly_cfg_fail_at(ld, (unsigned long)p->problem_mark.line + 1,
                       (unsigned long)p->problem_mark.column + 1, "invalid YAML: %s (%s)", problem,
                       p->context);
    else
        ly_cfg_fail_at(ld, (unsigned long)p->problem_mark.line + 1,
                       (unsigned long)p->problem_mark.column + 1, "invalid YAML: %s", problem);
    return -1;
}

static int next_event(struct loader *ld, yaml_parser_t *p, yaml_event_t *ev)
{
    if (!yaml_parser_parse(p, ev))
        return yaml_failed(ld, p);
    return 0;
}

/*
 * Build the node that ev starts, reading further events for collections.
 * The caller keeps ownership of ev.
 */
static int parse_node(struct loader *ld, yaml_parser_t *p, const yaml_event_t *ev, int depth,
                      struct node **out)
{
    struct node *n = NULL;
    yaml_event_t child;
    yaml_event_type_t end;
    int r = -1;

    if (depth > MAX_DEPTH) {
        ly_cfg_fail_at(ld, (unsigned long)ev->start_mark.line + 1,
                       (unsigned long)ev->start_mark.column + 1, "nesting deeper than %d levels",
                       MAX_DEPTH);
        return -1;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        break;
    case YAML_ALIAS_EVENT:
        ly_cfg_fail_at(ld, (unsigned long)ev->start_mark.line + 1,
                       (unsigned long)ev->start_mark.column + 1, "YAML aliases are not supported");
        return -1;
    default:
        ly_cfg_fail_at(ld, (unsigned long)ev->start_mark.line + 1,
                       (unsigned long)ev->start_mark.column + 1, "unexpected YAML event");
        return -1;
    }

    n = ly_xcalloc(1, sizeof(*n));
    n->line = (unsigned long)ev->start_mark.line + 1;
    n->col = (unsigned long)ev->start_mark.column + 1;
    if (ev->type == YAML_SCALAR_EVENT) {
        n->kind = NODE_SCALAR;
        n->len = ev->data.scalar.length;
        n->value = ly_xstrndup((const char *)ev->data.scalar.value, n->len);
        n->plain =
            ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.plain_implicit;
        *out = n;
        return 0;
    }

    n->kind = ev->type == YAML_SEQUENCE_START_EVENT ? NODE_SEQ : NODE_MAP;
    end = ev->type == YAML_SEQUENCE_START_EVENT ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT;
    for (;;) {
        struct node *c = NULL;
        int cr;

        if (next_event(ld, p, &child) != 0)
            goto out;
        if (child.type == end) {
            yaml_event_delete(&child);
            break;
        }
        cr = parse_node(ld, p, &child, depth + 1, &c);
        yaml_event_delete(&child);
        if (cr != 0)
            goto out;
        node_push(n, c);
    }
    *out = n;
    n = NULL;
    r = 0;
out:
    ly_cfg_node_free(n);
    return r;
}

/* One document, whose root must be a mapping. */
int ly_cfg_yaml_parse(struct loader *ld, struct node **out)
{
    yaml_parser_t p;
    yaml_event_t ev;
    yaml_mark_t doc;
    struct node *root = NULL;
    bool have_ev = false;
    int r = -1;

    if (!yaml_parser_initialize(&p)) {
        ly_cfg_fail_at(ld, 1, 1, "cannot initialize the YAML parser");
        return -1;
    }
    yaml_parser_set_input_string(&p, ld->buf, ld->buflen);

    /* STREAM-START, then DOCUMENT-START or STREAM-END (no document at all) */
    if (next_event(ld, &p, &ev) != 0)
        goto out;
    yaml_event_delete(&ev);
    if (next_event(ld, &p, &ev) != 0)
        goto out;
    have_ev = true;
    if (ev.type == YAML_STREAM_END_EVENT) {
        ly_cfg_fail_at(ld, 1, 1, "the file is empty (no YAML document)");
        goto out;
    }
    doc = ev.start_mark;
    yaml_event_delete(&ev);
    have_ev = false;

    if (next_event(ld, &p, &ev) != 0)
        goto out;
    have_ev = true;
    if (parse_node(ld, &p, &ev, 1, &root) != 0)
        goto out;
    yaml_event_delete(&ev);
    have_ev = false;
    if (ly_cfg_is_null(root)) {
        /* "---" alone: libyaml puts the empty scalar on the next line; report the "---" */
        ly_cfg_fail_at(ld, (unsigned long)doc.line + 1, (unsigned long)doc.column + 1,
                       "the document is empty");
        goto out;
    }
    if (root->kind != NODE_MAP) {
        ly_cfg_fail(ld, root, "the top level must be a mapping, not %s",
                    ly_cfg_kind_names[root->kind]);
        goto out;
    }

    /* DOCUMENT-END, then STREAM-END: a second document is refused. */
    if (next_event(ld, &p, &ev) != 0)
        goto out;
    yaml_event_delete(&ev);
    if (next_event(ld, &p, &ev) != 0)
        goto out;
    have_ev = true;
    if (ev.type != YAML_STREAM_END_EVENT) {
        ly_cfg_fail_at(ld, (unsigned long)ev.start_mark.line + 1,
                       (unsigned long)ev.start_mark.column + 1,
                       "only one YAML document is allowed");
        goto out;
    }

    *out = root;
    root = NULL;
    r = 0;
out:
    if (have_ev)
        yaml_event_delete(&ev);
    ly_cfg_node_free(root);
    yaml_parser_delete(&p);
    return r;
}
