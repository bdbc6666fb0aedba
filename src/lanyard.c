/*
 * lanyard: the FastCGI worker. Spawned by the web server (lighttpd bin-path,
 * Apache mod_fcgid) with a listening socket on fd 0, or standalone with
 * --listen as a prefork parent (Apache mod_proxy_fcgi, systemd), which
 * SIGHUP makes read the config again and replace its workers.
 */
#include "build-config.h"
#include "banned.h"

#include <getopt.h>
#include <malloc.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lanyard/api.h"
#include "lanyard/config.h"
#include "lanyard/ctx.h"
#include "lanyard/err.h"
#include "lanyard/fcgi.h"
#include "lanyard/log.h"
#include "lanyard/mem.h"

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: lanyard [--config FILE] [--listen ADDR --workers N]\n"
        "  --config FILE   configuration (default $LANYARD_CONFIG, else %s/lanyard/lanyard.yaml)\n"
        "  --listen ADDR   serve FastCGI on HOST:PORT, [V6]:PORT or /unix/socket\n"
        "  --workers N     worker processes with --listen (default 2)\n"
        "Without --listen, lanyard serves the FastCGI socket on fd 0 its web server gives it.\n"
        "With --listen, SIGHUP to the parent reloads the config and keys (new workers).\n",
        LY_SYSCONFDIR);
}

/*
 * scrypt asks for 128·N·r bytes per password hash (32 MiB by default). By
 * default glibc maps such a block fresh for every sign-in and unmaps it
 * after, so each sign-in faults in 8192 pages again. Keeping the block in
 * the heap costs that much resident memory per worker and, measured with
 * bench/run.py, takes a sign-in from about 160 to about 65 ms of CPU.
 */
static void keep_scrypt_memory(const struct ly_config *cfg)
{
    uint64_t need = 128 * cfg->security.scrypt_n * cfg->security.scrypt_r + (1u << 20);
    if (need > (uint64_t)INT_MAX / 2)
        return;
    mallopt(M_MMAP_THRESHOLD, (int)need);
    mallopt(M_TRIM_THRESHOLD, (int)(2 * need));
}

/*
 * One configuration's worth of a worker: what `lanyard --listen` forks
 * workers from, replaced whole on SIGHUP (the app first, so that the
 * prefork parent's struct ly_fcgi_app * is the generation's address).
 */
struct generation {
    struct ly_fcgi_app app;
    struct lanyard_ctx ctx;
};

/* Set up a generation over cfg, taking it on success. LY_OK or LY_E_CONFIG with err. */
static int make_generation(struct ly_config *cfg, struct generation **out, char *err, size_t errlen)
{
    struct generation *g = ly_xcalloc(1, sizeof(*g));
    int r = ly_ctx_init(&g->ctx, cfg, "lanyard", err, errlen);
    if (r != LY_OK) {
        free(g);
        return r;
    }
    /* inherited by the workers forked from this generation; a refused reload leaves it alone */
    keep_scrypt_memory(cfg);
    /* once per start, in the configured log format (a secret file all users may read, ...) */
    for (size_t i = 0; i < cfg->n_warnings; i++)
        ly_log_warn(&g->ctx.log, "%s", cfg->warnings[i]);
    g->app = (struct ly_fcgi_app){g->ctx.cfg, &g->ctx.log,   &g->ctx.arena,
                                  &g->ctx,    ly_api_handle, ly_api_tick};
    *out = g;
    return LY_OK;
}

static void release_generation(void *arg, struct ly_fcgi_app *app)
{
    (void)arg;
    struct generation *g = (struct generation *)app;
    ly_ctx_release(&g->ctx);
    free(g);
}

/* SIGHUP: the config file read again, and its keys, as at start; arg is the config path. */
static int load_generation(void *arg, struct ly_fcgi_app **next, char *err, size_t errlen)
{
    struct ly_config *cfg = NULL;
    int r = ly_config_load(arg, &cfg, err, errlen);
    if (r != LY_OK)
        return r;
    struct generation *g = NULL;
    r = make_generation(cfg, &g, err, errlen);
    if (r != LY_OK) {
        ly_config_free(cfg);
        return r;
    }
    *next = &g->app;
    return LY_OK;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL, *listen_addr = NULL;
    long workers = 2;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},  {"listen", required_argument, NULL, 'l'},
        {"workers", required_argument, NULL, 'w'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:l:w:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'l':
            listen_addr = optarg;
            break;
        case 'w': {
            char *end;
            workers = strtol(optarg, &end, 10);
            if (*end != '\0' || workers < 1 || workers > 256) {
                fprintf(stderr, "lanyard: --workers must be 1 to 256\n");
                return 2;
            }
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("lanyard %s\n", PACKAGE_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (config_path == NULL)
        config_path = ly_config_default_path();

    char err[1024];
    struct ly_config *cfg = NULL;
    if (ly_config_load(config_path, &cfg, err, sizeof(err)) != LY_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int fd = 0;
    if (listen_addr != NULL) {
        if (ly_fcgi_listen(listen_addr, &fd, err, sizeof(err)) != LY_OK) {
            fprintf(stderr, "lanyard: %s\n", err);
            ly_config_free(cfg);
            return 1;
        }
    } else if (!ly_fcgi_is_fastcgi()) {
        fprintf(stderr, "lanyard: fd 0 is not a FastCGI socket: start lanyard from a web server, "
                        "or give --listen ADDR\n");
        ly_config_free(cfg);
        return 2;
    }
    struct generation *g = NULL;
    if (make_generation(cfg, &g, err, sizeof(err)) != LY_OK) {
        fprintf(stderr, "lanyard: %s\n", err);
        ly_config_free(cfg);
        return 1;
    }
    if (listen_addr == NULL) {
        int rc = ly_fcgi_serve(&g->app, fd);
        release_generation(NULL, &g->app);
        return rc;
    }
    /* The parent keeps the config's path (not a copy of it) to read the file again on SIGHUP. */
    struct ly_fcgi_reload reload = {load_generation, release_generation, (void *)config_path};
    return ly_fcgi_prefork(&g->app, fd, (unsigned)workers, &reload);
}
