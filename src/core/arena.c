#include "build-config.h"
#include "banned.h"

#include "lanyard/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lanyard/mem.h"

#define ALIGN 16

struct ly_arena_chunk {
    struct ly_arena_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(ALIGN) unsigned char data[];
};

struct ly_arena_defer {
    struct ly_arena_defer *next;
    void (*fn)(void *);
    void *p;
};

void ly_arena_init(struct ly_arena *a, size_t chunk_size)
{
    a->chunks = NULL;
    a->defers = NULL;
    a->chunk_size = chunk_size < 1024 ? 1024 : chunk_size;
}

static void run_defers(struct ly_arena *a)
{
    /*
     * Defers are allocated from the arena itself and pushed on a list, so
     * the newest runs first: resources are released in reverse order.
     */
    while (a->defers != NULL) {
        struct ly_arena_defer *d = a->defers;
        a->defers = d->next;
        d->fn(d->p);
    }
}

void ly_arena_reset(struct ly_arena *a)
{
    run_defers(a);
#ifdef LY_SANITIZE
    /* Sanitizer builds recycle nothing, so every stale pointer is caught. */
    while (a->chunks != NULL) {
        struct ly_arena_chunk *c = a->chunks;
        a->chunks = c->next;
        free(c);
    }
#else
    /* Keep one chunk of the standard size: the common request fits in it. */
    struct ly_arena_chunk *keep = NULL;
    while (a->chunks != NULL) {
        struct ly_arena_chunk *c = a->chunks;
        a->chunks = c->next;
        if (keep == NULL && c->size == a->chunk_size) {
            keep = c;
            keep->next = NULL;
            keep->used = 0;
        } else {
            free(c);
        }
    }
    a->chunks = keep;
#endif
}

void ly_arena_release(struct ly_arena *a)
{
    ly_arena_reset(a);
    while (a->chunks != NULL) {
        struct ly_arena_chunk *c = a->chunks;
        a->chunks = c->next;
        free(c);
    }
}

static struct ly_arena_chunk *new_chunk(size_t size)
{
    struct ly_arena_chunk *c = ly_xmalloc(sizeof(*c) + size);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void *ly_arena_alloc(struct ly_arena *a, size_t n)
{
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need < n)
        ly_xmalloc(SIZE_MAX); /* overflow: abort through the one OOM path */
#ifdef LY_SANITIZE
    struct ly_arena_chunk *c = new_chunk(n);
    c->next = a->chunks;
    a->chunks = c;
    return c->data;
#else
    struct ly_arena_chunk *c = a->chunks;
    if (need > a->chunk_size / 4) {
        /* A large block gets a chunk of its own behind the head, which keeps serving. */
        struct ly_arena_chunk *big = new_chunk(need);
        big->used = need;
        if (c != NULL) {
            big->next = c->next;
            c->next = big;
        } else {
            a->chunks = big;
        }
        return big->data;
    }
    if (c == NULL || c->size - c->used < need) {
        struct ly_arena_chunk *nc = new_chunk(a->chunk_size);
        nc->next = c;
        a->chunks = nc;
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += need;
    return p;
#endif
}

void *ly_arena_zalloc(struct ly_arena *a, size_t n)
{
    void *p = ly_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *ly_arena_strndup(struct ly_arena *a, const char *s, size_t n)
{
    char *p = ly_arena_alloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *ly_arena_strdup(struct ly_arena *a, const char *s)
{
    return ly_arena_strndup(a, s, strlen(s));
}

char *ly_arena_vprintf(struct ly_arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    char *p = ly_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *ly_arena_printf(struct ly_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = ly_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

void ly_arena_defer(struct ly_arena *a, void (*fn)(void *), void *p)
{
    if (p == NULL)
        return;
    struct ly_arena_defer *d = ly_arena_alloc(a, sizeof(*d));
    d->fn = fn;
    d->p = p;
    d->next = a->defers;
    a->defers = d;
}
