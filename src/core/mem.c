#include "build-config.h"
#include "banned.h"

#include "lanyard/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static void oom(size_t n)
{
    /* No allocation here: write(2)-level output only. */
    fprintf(stderr, "lanyard: out of memory allocating %zu bytes\n", n);
    abort();
}

void *ly_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *ly_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (p == NULL)
        oom(nmemb * size);
    return p;
}

void *ly_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *ly_xstrdup(const char *s)
{
    return ly_xstrndup(s, strlen(s));
}

char *ly_xstrndup(const char *s, size_t n)
{
    char *p = ly_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void ly_free_secret(void *p, size_t n)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, n);
    free(p);
}
