/*
 * fcgi: the FastCGI side of a worker (the only user of <fcgiapp.h>): the
 * accept loop, turning FastCGI parameters and stdin into a ly_request, the
 * ly_response back into a FastCGI answer, and the prefork parent of
 * `lanyard --listen`.
 */
#ifndef LY_FCGI_H
#define LY_FCGI_H

#include <stddef.h>

struct lanyard_ctx;

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
int ly_fcgi_serve(struct lanyard_ctx *ctx, int listen_fd);

/*
 * Fork workers children serving listen_fd and keep that many alive: a child
 * that dies is replaced (with a pause when they die quickly). SIGTERM is
 * passed to the children, which finish their request; then the parent exits.
 */
int ly_fcgi_prefork(struct lanyard_ctx *ctx, int listen_fd, unsigned workers);

/* true if stdin is a FastCGI listening socket (not a terminal or a pipe). */
int ly_fcgi_is_fastcgi(void);

#endif
