/*
 * lanyard: the FastCGI worker. Spawned by the web server (lighttpd bin-path,
 * Apache mod_fcgid) with a listening socket on fd 0, or standalone with
 * --listen as a prefork parent (Apache mod_proxy_fcgi, systemd).
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

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: lanyard [--config FILE] [--listen ADDR --workers N]\n"
        "  --config FILE   configuration (default $LANYARD_CONFIG, else %s/lanyard/lanyard.yaml)\n"
        "  --listen ADDR   serve FastCGI on HOST:PORT, [V6]:PORT or /unix/socket\n"
        "  --workers N     worker processes with --listen (default 2)\n"
        "Without --listen, lanyard serves the FastCGI socket on fd 0 its web server gives it.\n",
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
    keep_scrypt_memory(cfg);
    struct lanyard_ctx ctx;
    if (ly_ctx_init(&ctx, cfg, "lanyard", err, sizeof(err)) != LY_OK) {
        fprintf(stderr, "lanyard: %s\n", err);
        ly_config_free(cfg);
        return 1;
    }
    /* once per start, in the configured log format (a secret file all users may read, ...) */
    for (size_t i = 0; i < cfg->n_warnings; i++)
        ly_log_warn(&ctx.log, "%s", cfg->warnings[i]);
    struct ly_fcgi_app app = {ctx.cfg, &ctx.log, &ctx.arena, &ctx, ly_api_handle, ly_api_tick};
    int rc = listen_addr != NULL ? ly_fcgi_prefork(&app, fd, (unsigned)workers)
                                 : ly_fcgi_serve(&app, fd);
    ly_ctx_release(&ctx);
    return rc;
}
