/*
 * mem: allocation that never returns NULL.
 *
 * Running out of memory aborts the worker; the prefork parent or the web
 * server starts a new one. Error paths are thereby kept for real errors.
 */
#ifndef LY_MEM_H
#define LY_MEM_H

#include <stddef.h>

void *ly_xmalloc(size_t n);
void *ly_xcalloc(size_t nmemb, size_t size);
void *ly_xrealloc(void *p, size_t n);
char *ly_xstrdup(const char *s);
char *ly_xstrndup(const char *s, size_t n);

/* Wipe a secret (OPENSSL_cleanse), then free it. Accepts NULL. */
void ly_free_secret(void *p, size_t n);

#endif
