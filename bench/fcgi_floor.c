/*
 * fcgi_floor: the bare FastCGI floor that bench/run.py measures lanyard
 * against. A minimal libfcgi responder, spawned by lighttpd (bin-path)
 * exactly as lanyard is: it answers every request with a small fixed JSON
 * body and the headers lanyard sends on every answer (Status, Content-Type,
 * Content-Length, X-Request-Id, X-Content-Type-Options). It parses nothing
 * and touches no database, so what it costs is the web server, the FastCGI
 * protocol and the accept loop: what no handler can go below.
 *
 *   fcgi_floor          (fd 0 is the listening socket the web server passes)
 *
 * The request id comes from a counter rather than the CSPRNG: the floor
 * keeps only the bytes on the wire, not the work behind them.
 */
#include "build-config.h"
#include "banned.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#define REQUEST_ID_LEN 22 /* as lanyard's generated ids (src/http/request.c) */

static const char body[] =
    "{\"status\":\"ok\",\"database\":\"ok\",\"version\":\"" PACKAGE_VERSION "\"}";

/* A 22-character base62 id, unique within this process: pid, then a counter. */
static void make_request_id(char *out, unsigned long pid, unsigned long long n)
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int i = REQUEST_ID_LEN - 1; i >= 0; i--) {
        if (i >= 8) {
            out[i] = digits[n % 62];
            n /= 62;
        } else {
            out[i] = digits[pid % 62];
            pid /= 62;
        }
    }
    out[REQUEST_ID_LEN] = '\0';
}

int main(void)
{
    FCGX_Request req;
    char head[512], id[REQUEST_ID_LEN + 1];
    unsigned long pid = (unsigned long)getpid();
    unsigned long long count = 0;

    if (FCGX_Init() != 0) {
        fprintf(stderr, "fcgi_floor: FastCGI initialisation failed\n");
        return 1;
    }
    if (FCGX_IsCGI()) {
        fprintf(stderr, "usage: fcgi_floor is started by a FastCGI web server "
                        "(lighttpd bin-path), with a listening socket on fd 0\n");
        return 2;
    }
    FCGX_InitRequest(&req, 0, 0);
    while (FCGX_Accept_r(&req) >= 0) {
        make_request_id(id, pid, count++);
        int n = snprintf(head, sizeof(head),
                         "Status: 200 OK\r\n"
                         "Content-Type: application/json\r\n"
                         "Content-Length: %zu\r\n"
                         "X-Request-Id: %s\r\n"
                         "X-Content-Type-Options: nosniff\r\n"
                         "\r\n",
                         sizeof(body) - 1, id);
        if (n > 0 && (size_t)n < sizeof(head)) {
            FCGX_PutStr(head, n, req.out);
            FCGX_PutStr(body, (int)(sizeof(body) - 1), req.out);
        }
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    return 0;
}
