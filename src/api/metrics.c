#include "build-config.h"
#include "banned.h"

#include "lanyard/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/metrics.h"

void ly_api_metrics_start(struct lanyard_ctx *ctx)
{
    if (ctx->metrics_tried)
        return;
    ctx->metrics_tried = true;
    if (ctx->cfg->path == NULL)
        return; /* a config built in memory (tests): no host to share counts with */
    char err[512];
    int r = ly_metrics_dir(ctx->cfg->path, ctx->metrics_dir, sizeof(ctx->metrics_dir));
    if (r == LY_OK)
        r = ly_metrics_claim(ctx->metrics_dir, ly_metrics_layout(ly_api_route_names()), err,
                             sizeof(err));
    else
        snprintf(err, sizeof(err), "the metrics directory's name is too long");
    if (r != LY_OK) {
        ctx->metrics_dir[0] = '\0';
        ly_log_warn(&ctx->log, "metrics are off in this worker: %s", err);
    }
}

/*
 * SPEC §6: the direct peer (REMOTE_ADDR as the front end gives it) decides,
 * never X-Forwarded-For: a proxy in trusted_proxies would otherwise let any
 * client behind it read the metrics by naming a loopback address
 * (doc/decisions.md).
 */
static bool may_read(const struct ly_call *c)
{
    const struct ly_config *cfg = c->ctx->cfg;
    const char *peer = ly_request_env(c->req, "REMOTE_ADDR");
    return peer != NULL &&
           ly_addr_in_cidrs(cfg->server.metrics_from, cfg->server.n_metrics_from, peer);
}

int ly_api_metrics(struct ly_call *c)
{
    struct ly_request *req = c->req;
    struct lanyard_ctx *ctx = c->ctx;
    /* As if the route did not exist (SPEC §6), the same answer as an unknown path. */
    if (!may_read(c))
        return ly_api_fail(c, LY_E_NOT_FOUND, "no such endpoint");
    const struct ly_metrics_names *names = ly_api_route_names();
    struct ly_metrics_slot *sums = ly_arena_alloc(req->arena, sizeof(*sums));
    size_t workers = 0;
    if (ctx->metrics_dir[0] == '\0' ||
        ly_metrics_sum(ctx->metrics_dir, ly_metrics_layout(names), sums, &workers) != LY_OK)
        return ly_api_fail(c, LY_E_UNAVAILABLE, "the metrics of this host cannot be read");
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (fp == NULL)
        return LY_E_INTERNAL;
    int r = ly_metrics_render(fp, sums, workers, names);
    if (fclose(fp) != 0 || r != 0) {
        free(text);
        return LY_E_INTERNAL;
    }
    c->resp->status = 200;
    c->resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    c->resp->body = ly_arena_strndup(req->arena, text, len);
    c->resp->body_len = len;
    c->resp->no_store = true;
    free(text);
    return LY_OK;
}
