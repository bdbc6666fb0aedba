/*
 * diag: the "FILE:LINE:COL: message" of config errors and warnings, for
 * every pass of the loader (yaml.c, keys.c, config.c).
 */
#include "build-config.h"
#include "banned.h"

#include <stdarg.h>
#include <stdio.h>

#include "internal.h"
#include "lanyard/config.h"
#include "lanyard/mem.h"

__attribute__((format(printf, 4, 0))) static void
vfail_at(struct loader *ld, unsigned long line, unsigned long col, const char *fmt, va_list ap)
{
    int n;

    if (ld->err == NULL || ld->errlen == 0)
        return;
    n = snprintf(ld->err, ld->errlen, "%s:%lu:%lu: ", ld->path, line, col);
    if (n < 0 || (size_t)n >= ld->errlen)
        return;
    vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
}

void ly_cfg_fail_at(struct loader *ld, unsigned long line, unsigned long col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail_at(ld, line, col, fmt, ap);
    va_end(ap);
}

void ly_cfg_fail(struct loader *ld, const struct node *at, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail_at(ld, at ? at->line : 1, at ? at->col : 1, fmt, ap);
    va_end(ap);
}

/* Warnings go with the config: the caller decides where (lanyard logs, config check prints). */
void ly_cfg_warn(struct loader *ld, const struct node *at, const char *fmt, ...)
{
    struct ly_config *cfg = ld->cfg;
    char line[1024];
    va_list ap;
    int n;

    n = snprintf(line, sizeof(line), "%s:%lu:%lu: ", ld->path, at ? at->line : 1, at ? at->col : 1);
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    cfg->warnings = ly_xrealloc(cfg->warnings, (cfg->n_warnings + 1) * sizeof(*cfg->warnings));
    cfg->warnings[cfg->n_warnings++] = ly_xstrdup(line);
}
