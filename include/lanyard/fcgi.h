/*
 * fcgi: the FastCGI side of a worker (the only user of <fcgiapp.h>): the
 * accept loop, turning FastCGI parameters and stdin into a ly_request, the
 * ly_response back into a FastCGI answer, and the prefork parent of
 * `lanyard --listen`.
 */
#ifndef LY_FCGI_H
#define LY_FCGI_H

#include <stdbool.h>
#include <stddef.h>

#include "lanyard/arena.h"
#include "lanyard/http.h"
#include "lanyard/log.h"

struct lanyard_ctx;
struct ly_config;

/*
 * What the serve loop needs from the application, which it never looks
 * into: the config (server.max_body), the log, the request arena (reset
 * after every request), the context each request carries, and two calls.
 */
struct ly_fcgi_app {
    const struct ly_config *cfg;
    struct ly_log *log;
    struct ly_arena *arena;
    struct lanyard_ctx *ctx;
    /*
     * Answer one request. init_err is LY_OK, or the error of a request
     * whose headers were refused; body_too_large: its body was not read.
     */
    void (*handle)(struct ly_request *req, struct ly_response *resp, int init_err,
                   bool body_too_large);
    /* After every request (idle false), and every second without one (idle true). */
    void (*tick)(struct lanyard_ctx *ctx, bool idle);
};

/*
 * Open a listening socket for ADDR: "HOST:PORT", "[V6]:PORT" or a unix
 * socket path starting with '/'. Returns LY_OK and *fd, or LY_E_IO/
 * LY_E_CONFIG with a one-line message in err.
 */
int ly_fcgi_listen(const char *addr, int *fd, char *err, size_t errlen);

/*
 * Serve requests on listen_fd (0 when the web server spawned us) until
 * SIGTERM, which lets the request in hand finish. Returns the exit status.
 */
int ly_fcgi_serve(const struct ly_fcgi_app *app, int listen_fd);

/*
 * How the prefork parent makes the next generation of workers on SIGHUP
 * (SPEC §6 "Reload without a failed request"). load reads the
 * configuration file again and builds a whole new app from it (keys
 * included): LY_OK and *next, or an error with a one-line message in err
 * (a config error's is "FILE:LINE:COL: message"), the running app staying.
 * release frees an app the parent no longer forks workers from.
 */
struct ly_fcgi_reload {
    int (*load)(void *arg, struct ly_fcgi_app **next, char *err, size_t errlen);
    void (*release)(void *arg, struct ly_fcgi_app *app);
    void *arg;
};

/*
 * Fork workers children serving listen_fd and keep that many alive: a child
 * that dies is replaced (with a pause when they die quickly). SIGTERM is
 * passed to the children, which finish their request; then the parent exits.
 * SIGHUP, with reload given: a new app is loaded; if it loads, new workers
 * are forked from it on the same listen_fd and the old ones sent SIGTERM
 * (they finish the request in hand); if not, the error is logged and the
 * old workers keep serving. With reload, prefork owns app and every later
 * one (released through reload->release); without, SIGHUP is ignored.
 */
int ly_fcgi_prefork(struct ly_fcgi_app *app, int listen_fd, unsigned workers,
                    const struct ly_fcgi_reload *reload);

/* true if stdin is a FastCGI listening socket (not a terminal or a pipe). */
int ly_fcgi_is_fastcgi(void);

#endif
