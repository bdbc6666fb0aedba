/*
 * arena: a request-scoped allocator that is freed once.
 *
 * Everything whose lifetime is one request is allocated here. Resources that
 * are not plain memory (json_object, MYSQL_STMT results, EVP contexts) are
 * registered with ly_arena_defer() and released, last registered first, by
 * ly_arena_reset(). Allocation failure aborts (see mem.h).
 *
 * Built with --enable-sanitizers (LY_SANITIZE), every allocation is its own
 * malloc() and nothing is recycled, so AddressSanitizer sees every overrun.
 */
#ifndef LY_ARENA_H
#define LY_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct ly_arena_chunk;
struct ly_arena_defer;

struct ly_arena {
    struct ly_arena_chunk *chunks; /* newest first; the last one is kept on reset */
    struct ly_arena_defer *defers;
    size_t chunk_size;
};

/* Prepare an empty arena whose chunks are at least chunk_size bytes. */
void ly_arena_init(struct ly_arena *a, size_t chunk_size);

/* Run the deferred callbacks and free all memory but the first chunk. */
void ly_arena_reset(struct ly_arena *a);

/* Reset, then free everything. The arena may be initialised again. */
void ly_arena_release(struct ly_arena *a);

/* n bytes aligned for any type; never NULL. n may be 0. */
void *ly_arena_alloc(struct ly_arena *a, size_t n);
void *ly_arena_zalloc(struct ly_arena *a, size_t n);

/* A NUL-terminated copy of the n bytes at s (which need no NUL). */
char *ly_arena_strndup(struct ly_arena *a, const char *s, size_t n);
char *ly_arena_strdup(struct ly_arena *a, const char *s);

/* printf into the arena. */
char *ly_arena_printf(struct ly_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *ly_arena_vprintf(struct ly_arena *a, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Call fn(p) when the arena is reset. p may be NULL (then nothing is called). */
void ly_arena_defer(struct ly_arena *a, void (*fn)(void *), void *p);

#endif
