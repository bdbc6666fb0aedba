/*
 * floor.c: the FastCGI loop shared by the bench floors (floor.h). It answers
 * every request with the headers Lanyard sends on every answer (Status,
 * Content-Type, Content-Length, X-Request-Id, X-Content-Type-Options) and,
 * for a 200, a fixed 49-byte JSON body; what work the request costs is the
 * floor program's floor_handle().
 *
 *   floor                        fd 0 is the listening socket (lighttpd bin-path)
 *   floor --listen ADDR [N]      listen on ADDR (host:port) with N processes
 *                                (default 2), as `lanyard --listen` does behind
 *                                Apache mod_proxy_fcgi
 *
 * The request id comes from a counter rather than the CSPRNG: the floor
 * keeps only the bytes on the wire, not the work behind them.
 */
#include "build-config.h"
#include "banned.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "floor.h"

#define REQUEST_ID_LEN 22 /* as lanyard's generated ids (src/http/request.c) */
#define MAX_PROCS      16

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

static int serve(int fd)
{
    FCGX_Request req;
    char head[512], id[REQUEST_ID_LEN + 1];
    unsigned long pid = (unsigned long)getpid();
    unsigned long long count = 0;

    if (floor_init() != 0)
        return 1;
    FCGX_InitRequest(&req, fd, 0);
    while (FCGX_Accept_r(&req) >= 0) {
        int status = floor_handle(&req);
        size_t blen = status == 200 ? sizeof(body) - 1 : 0;
        make_request_id(id, pid, count++);
        int n = snprintf(head, sizeof(head),
                         "Status: %d %s\r\n"
                         "Content-Type: application/json\r\n"
                         "Content-Length: %zu\r\n"
                         "X-Request-Id: %s\r\n"
                         "X-Content-Type-Options: nosniff\r\n"
                         "\r\n",
                         status, status == 200 ? "OK" : "Error", blen, id);
        if (n > 0 && (size_t)n < sizeof(head)) {
            FCGX_PutStr(head, n, req.out);
            if (blen > 0)
                FCGX_PutStr(body, (int)blen, req.out);
        }
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    return 0;
}

int main(int argc, char **argv)
{
    int fd = 0, procs = 1;

    if (FCGX_Init() != 0) {
        fprintf(stderr, "floor: FastCGI initialisation failed\n");
        return 1;
    }
    if (argc >= 3 && strcmp(argv[1], "--listen") == 0) {
        char *end = NULL;
        procs = argc >= 4 ? (int)strtol(argv[3], &end, 10) : 2;
        if (argc >= 4 && *end != '\0')
            procs = 0;
        if (procs < 1 || procs > MAX_PROCS) {
            fprintf(stderr, "floor: between 1 and %d processes\n", MAX_PROCS);
            return 2;
        }
        fd = FCGX_OpenSocket(argv[2], 128);
        if (fd < 0) {
            fprintf(stderr, "floor: cannot listen on %s\n", argv[2]);
            return 1;
        }
    } else if (argc != 1 || FCGX_IsCGI()) {
        fprintf(stderr, "usage: floor (started by a FastCGI web server, with a listening "
                        "socket on fd 0) | floor --listen HOST:PORT [PROCS]\n");
        return 2;
    }
    if (procs == 1)
        return serve(fd);
    /* --listen: the children share the socket, as lanyard's prefork workers
     * do; the parent waits and, on SIGTERM, stops each of them. */
    pid_t kids[MAX_PROCS];
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* blocked before the fork, so a SIGTERM that comes early still reaches sigwait */
    sigprocmask(SIG_BLOCK, &set, NULL);
    for (int i = 0; i < procs; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            sigprocmask(SIG_UNBLOCK, &set, NULL);
            _exit(serve(fd));
        }
        if (kids[i] < 0) {
            perror("floor: fork");
            procs = i;
            break;
        }
    }
    sigwait(&set, &sig);
    for (int i = 0; i < procs; i++)
        kill(kids[i], SIGTERM);
    for (int i = 0; i < procs; i++)
        waitpid(kids[i], NULL, 0);
    return 0;
}
