#include "build-config.h"
#include "banned.h"

#include "lanyard/fcgi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "lanyard/config.h"
#include "lanyard/err.h"
#include "lanyard/http.h"
#include "lanyard/mem.h"

/*
 * Set by the SIGTERM handler. This is the one piece of process-wide state a
 * signal handler can reach; everything else lives in struct lanyard_ctx.
 */
static volatile sig_atomic_t stop_requested;

static void on_term(int sig)
{
    (void)sig;
    stop_requested = 1;
    FCGX_ShutdownPending();
}

static void install_term_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked accept() must return */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int ly_fcgi_is_fastcgi(void)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    /* A FastCGI server hands us a listening socket on fd 0; getpeername fails on it. */
    return getsockname(0, (struct sockaddr *)&ss, &len) == 0 &&
           getpeername(0, (struct sockaddr *)&ss, &len) != 0 && errno == ENOTCONN;
}

int ly_fcgi_listen(const char *addr, int *fd, char *err, size_t errlen)
{
    int s = -1;
    if (addr[0] == '/') {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        if (strlen(addr) >= sizeof(sun.sun_path)) {
            snprintf(err, errlen, "'%s': socket path too long", addr);
            return LY_E_CONFIG;
        }
        memcpy(sun.sun_path, addr, strlen(addr) + 1);
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        unlink(addr);
        /* The socket is born 0660: a chmod after bind would leave a moment it is not. */
        mode_t old = umask(0117);
        int br = s >= 0 ? bind(s, (struct sockaddr *)&sun, sizeof(sun)) : -1;
        umask(old);
        if (br != 0)
            goto fail;
    } else {
        char host[256];
        const char *colon = strrchr(addr, ':');
        if (colon == NULL || colon == addr || colon[1] == '\0') {
            snprintf(err, errlen, "'%s': expected HOST:PORT, [V6]:PORT or /socket/path", addr);
            return LY_E_CONFIG;
        }
        size_t hl = (size_t)(colon - addr);
        if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']') {
            addr++;
            hl -= 2;
        }
        if (hl >= sizeof(host)) {
            snprintf(err, errlen, "'%s': host too long", addr);
            return LY_E_CONFIG;
        }
        memcpy(host, addr, hl);
        host[hl] = '\0';
        struct addrinfo hints, *ai = NULL;
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
        int gr = getaddrinfo(host, colon + 1, &hints, &ai);
        if (gr != 0) {
            snprintf(err, errlen, "'%s': %s", addr, gai_strerror(gr));
            return LY_E_CONFIG;
        }
        s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (s >= 0)
            setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        int br = s >= 0 ? bind(s, ai->ai_addr, ai->ai_addrlen) : -1;
        freeaddrinfo(ai);
        if (br != 0)
            goto fail;
    }
    if (listen(s, 128) != 0)
        goto fail;
    *fd = s;
    return LY_OK;
fail:
    snprintf(err, errlen, "cannot listen on '%s': %s", addr, strerror(errno));
    if (s >= 0)
        close(s);
    return LY_E_IO;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Read exactly n body bytes; false if the stream ends early. */
static bool read_body(FCGX_Request *fr, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t chunk = n - got > 65536 ? 65536 : n - got;
        int k = FCGX_GetStr(buf + got, (int)chunk, fr->in);
        if (k <= 0)
            return false;
        got += (size_t)k;
    }
    return true;
}

/*
 * The header block is made by ly_response_head, then written in one piece:
 * libfcgi's FCGX_FPrintF has its own printf that does not know every
 * conversion (%zu among them).
 */
static void write_response(FCGX_Request *fr, const struct ly_request *req,
                           const struct ly_response *resp)
{
    char head[4096];
    size_t n = ly_response_head(req, resp, head, sizeof(head));
    FCGX_PutStr(head, (int)n, fr->out);
    if (resp->body_len > 0)
        FCGX_PutStr(resp->body, (int)resp->body_len, fr->out);
}

/*
 * A body sent without CONTENT_LENGTH (Apache's mod_proxy_fcgi streams a
 * chunked request body that way): read to the end of the stream, but never
 * more than max + 1 bytes. Returns false on a broken stream; *too_large
 * when it holds more than max.
 */
static bool read_body_to_end(FCGX_Request *fr, struct ly_arena *a, uint64_t max, struct ly_str *out,
                             bool *too_large)
{
    size_t cap = max < 16384 ? (size_t)max + 1 : 16384, n = 0;
    char *buf = ly_arena_alloc(a, cap + 1);
    for (;;) {
        if (n == cap) {
            if ((uint64_t)cap > max) {
                *too_large = true;
                return true;
            }
            size_t bigger = (uint64_t)cap * 2 > max + 1 ? (size_t)max + 1 : cap * 2;
            char *grown = ly_arena_alloc(a, bigger + 1);
            memcpy(grown, buf, n);
            buf = grown;
            cap = bigger;
        }
        size_t want = cap - n > 65536 ? 65536 : cap - n;
        int k = FCGX_GetStr(buf + n, (int)want, fr->in);
        if (k < 0)
            return false;
        if (k == 0)
            break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    *out = (struct ly_str){buf, n};
    return true;
}

/* late: the body did not arrive in time (serve_shared); it is answered as a short one. */
static void handle_one(const struct ly_fcgi_app *app, FCGX_Request *fr, bool late)
{
    struct ly_request req;
    struct ly_response resp;
    memset(&resp, 0, sizeof(resp));
    int r = ly_request_init(&req, app->cfg, app->arena, fr->envp);
    req.ctx = app->ctx;
    req.authorizer = fr->role == FCGI_AUTHORIZER;
    app->log->request_id = req.request_id;
    uint64_t max = app->cfg->server.max_body;
    bool too_large = false;
    if (r != LY_OK) {
        /* answered by the application, which knows the route's error form */
    } else if (late) {
        r = LY_E_INVALID_REQUEST;
    } else if (req.authorizer) {
        /* An authorizer is sent no body (FastCGI §6.3): waiting for one would hang. */
    } else if (ly_request_env(&req, "CONTENT_LENGTH") == NULL) {
        if (!read_body_to_end(fr, req.arena, max, &req.body, &too_large))
            r = LY_E_INVALID_REQUEST;
    } else if (req.content_length > max) {
        /* Refused before reading a byte of it (STYLE 8). */
        too_large = true;
    } else if (req.content_length > 0) {
        char *buf = ly_arena_alloc(req.arena, (size_t)req.content_length + 1);
        if (!read_body(fr, buf, (size_t)req.content_length)) {
            r = LY_E_INVALID_REQUEST;
        } else {
            buf[req.content_length] = '\0';
            req.body = (struct ly_str){buf, (size_t)req.content_length};
        }
    }
    app->handle(&req, &resp, r, too_large);
    write_response(fr, &req, &resp);
    ly_log_request(app->log, req.method[0] ? req.method : "-", req.raw_path ? req.raw_path : "-",
                   resp.status, (long long)(mono_us() - req.start_us), resp.principal);
    app->log->request_id = NULL;
}

/*
 * true when a connection waits on fd within timeout_ms (false on timeout or
 * a signal). SIGTERM is unblocked here only, by ppoll's mask: once a
 * connection is in hand, no signal breaks a read of its request.
 */
static bool wait_readable(int fd, int timeout_ms, const sigset_t *mask)
{
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    return ppoll(&p, 1, &ts, mask) > 0;
}

/* Handle the request FCGX_Accept_r gave, then let the application tick. */
static void serve_accepted(const struct ly_fcgi_app *app, FCGX_Request *fr, bool late)
{
    handle_one(app, fr, late);
    FCGX_Finish_r(fr);
    ly_arena_reset(app->arena);
    if (app->tick != NULL) {
        app->tick(app->ctx, false);
        ly_arena_reset(app->arena);
    }
}

/*
 * A worker told to stop still owes an answer to every connection the web
 * server already made to it: connect() on a unix socket succeeds as soon as
 * the connection is queued on the listening socket, and lighttpd then
 * writes the request and waits. Exiting with connections in that backlog
 * lost them (issue 18: lighttpd logged "response not received, request
 * sent" and answered 500). So before exiting:
 *
 *  - when the socket is this process's own (the web server spawned us on
 *    fd 0: lighttpd's bin-path and mod_fcgid give each process its own
 *    unix socket) and a unix one, shut its receiving side: from then on a
 *    new connect() is refused (ECONNREFUSED), which the web server retries
 *    on another process, rather than queued behind a worker about to go.
 *    Not on TCP: Linux drops a TCP listener's queue on shutdown.
 *  - accept and answer whatever is queued, until the queue is empty. Linux
 *    checks the shutdown and queues a connection under the same socket
 *    lock, so none slips in after the last EAGAIN.
 *
 * A connection the web server keeps open (keep-conn) gets the requests it
 * has already sent. SIGTERM stays blocked throughout, as for any request.
 *
 * Not on a socket shared with siblings (the --listen parent's workers):
 * shutting it would refuse their connections too, and draining it would
 * go on as long as the load lasts (the queue refills), until the parent's
 * SIGKILL cut a request; the siblings take what the queue holds.
 */
static void drain_backlog(const struct ly_fcgi_app *app, FCGX_Request *fr, int listen_fd,
                          bool own_socket)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (!own_socket)
        return;
    if (getsockname(listen_fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_UNIX)
        shutdown(listen_fd, SHUT_RD);
    unsigned drained = 0;
    for (;;) {
        if (fr->ipcFd >= 0) {
            if (!wait_readable(fr->ipcFd, 0, NULL))
                break;
        } else {
            /*
             * Accepted here, not by FCGX_Accept_r: the SIGTERM handler set
             * libfcgi's shutdown flag, after which it accepts nothing. Handed
             * to it as a kept connection, it reads the request from this fd.
             */
            int s = accept(listen_fd, NULL, NULL);
            if (s < 0) {
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                break; /* EAGAIN: the backlog is empty */
            }
            fr->ipcFd = s;
            fr->keepConnection = 1;
        }
        if (FCGX_Accept_r(fr) != 0) {
            FCGX_Free(fr, 1); /* a connection that brought no request */
            continue;
        }
        serve_accepted(app, fr, false);
        drained++;
    }
    if (drained > 0)
        ly_log_info(app->log, "stopping: answered %u queued request(s) first", drained);
}

/*
 * Apache's mod_proxy_fcgi connects to a worker as soon as it has a request's
 * headers and passes the body on as the client sends it; lighttpd and
 * mod_fcgid read the whole body first. A client that stalled mid-body held
 * a --listen worker until Apache's own timeout, and with every worker so
 * held the others waited (issue 18). So a worker on the shared socket
 * accepts a connection itself and looks at what has arrived without taking
 * it (MSG_PEEK, so that libfcgi still reads all of it): a request whose
 * FCGI_STDIN has ended is served at once, as before; one still arriving is
 * parked, and the worker serves others while it comes (epoll, edge
 * triggered: a peeked byte stays queued, so only new bytes may wake us).
 * A request that has not wholly arrived PARK_MS after its connection is
 * answered as a body shorter than its length (400), without reading on.
 */
#define PARK_MAX       32   /* connections one worker holds while their requests arrive */
#define PARK_MS        5000 /* from the connection to the request's last byte */
#define PEEK_MAX       (64 * 1024 + 8) /* this much queued and more to come: a fast sender, served */
#define ARRIVE_WAIT_MS 100             /* a new connection's request awaited before it is parked */

enum arrival {
    ARRIVED_NOTHING, /* not even the parameters */
    ARRIVED_PARAMS,  /* the parameters, not all the body */
    ARRIVED_WHOLE,   /* all of it, or something libfcgi must see (garbage, a management record) */
    ARRIVED_GONE,    /* the web server closed or reset it before the request was whole */
};

/* What of a FastCGI request is queued on fd; peek holds PEEK_MAX bytes. */
static enum arrival arrival(int fd, unsigned char *peek)
{
    ssize_t n = recv(fd, peek, PEEK_MAX, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return ARRIVED_GONE;
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? ARRIVED_NOTHING
                                                                         : ARRIVED_GONE;
    if ((size_t)n == PEEK_MAX)
        return ARRIVED_WHOLE;
    bool params = false, authorizer = false;
    for (size_t at = 0; at + FCGI_HEADER_LEN <= (size_t)n;) {
        const unsigned char *h = peek + at;
        size_t clen = (size_t)h[4] << 8 | h[5];
        if (h[0] != FCGI_VERSION_1 || (h[2] == 0 && h[3] == 0) || h[1] == FCGI_ABORT_REQUEST)
            return ARRIVED_WHOLE;
        if (at + FCGI_HEADER_LEN + clen + h[6] > (size_t)n)
            break;
        if (h[1] == FCGI_BEGIN_REQUEST && clen >= 2)
            authorizer = (h[8] << 8 | h[9]) == FCGI_AUTHORIZER;
        /* An authorizer is sent no body (FastCGI §6.3): its parameters are all of it. */
        if (h[1] == FCGI_PARAMS && clen == 0) {
            if (authorizer)
                return ARRIVED_WHOLE;
            params = true;
        }
        if (h[1] == FCGI_STDIN && clen == 0)
            return ARRIVED_WHOLE;
        at += FCGI_HEADER_LEN + clen + h[6];
    }
    return params ? ARRIVED_PARAMS : ARRIVED_NOTHING;
}

/* A connection accepted here, handed to libfcgi as a kept one: it reads the request from fd. */
static void serve_fd(const struct ly_fcgi_app *app, FCGX_Request *fr, int fd, bool late)
{
    fr->ipcFd = fd;
    fr->keepConnection = 1;
    if (FCGX_Accept_r(fr) != 0) {
        FCGX_Free(fr, 1); /* a connection that brought no request */
        return;
    }
    if (late)
        fr->keepConnection = 0; /* its unread body must not be taken for the next request */
    serve_accepted(app, fr, late);
}

struct parked {
    int fd;
    int64_t deadline_us; /* 0: a kept connection between requests, which may idle */
    bool hung_up;        /* the web server closed its side: what has not arrived will not */
};

#define PARK_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLET)

/* After fd was served: back into the park, idle, when the web server keeps it for its next request.
 */
static void keep_or_close(FCGX_Request *fr, int ep, int fd, struct parked *park, size_t *n)
{
    if (fr->ipcFd != fd)
        return; /* libfcgi closed it */
    fr->ipcFd = -1;
    struct epoll_event ev = {.events = PARK_EVENTS, .data.fd = fd};
    if (*n < PARK_MAX && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0)
        park[(*n)++] = (struct parked){fd, 0, false};
    else
        close(fd);
}

static void unpark(int ep, struct parked *park, size_t *n, size_t i)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, park[i].fd, NULL);
    park[i] = park[--*n];
}

/* Look again at parked connection i; true when it left the park (served or closed). */
static bool revisit(const struct ly_fcgi_app *app, FCGX_Request *fr, int ep, struct parked *park,
                    size_t *n, size_t i, unsigned char *peek, int64_t now)
{
    int fd = park[i].fd;
    enum arrival a = arrival(fd, peek);
    if (a == ARRIVED_NOTHING && park[i].deadline_us == 0 && !park[i].hung_up)
        return false; /* a kept connection, idle */
    if (park[i].deadline_us == 0)
        park[i].deadline_us = now + PARK_MS * 1000LL; /* its next request has begun */
    bool late = a != ARRIVED_WHOLE && now >= park[i].deadline_us;
    if (a != ARRIVED_WHOLE && a != ARRIVED_GONE && !late && !park[i].hung_up)
        return false;
    bool hung_up = park[i].hung_up;
    unpark(ep, park, n, i);
    if (a != ARRIVED_WHOLE && (a != ARRIVED_PARAMS || !late || hung_up)) {
        close(fd); /* nobody is there to answer, or nothing to answer yet */
        return true;
    }
    serve_fd(app, fr, fd, late);
    keep_or_close(fr, ep, fd, park, n);
    return true;
}

/*
 * What has arrived on a connection just accepted, after waiting up to
 * ARRIVE_WAIT_MS for the rest of its request. The web server writes a
 * request just after it connects, so most are whole within microseconds;
 * parking those at once would let this worker accept more connections while
 * it serves, each a request lost with it if it is killed. Only a request
 * still incomplete after the wait (a stalled body) is parked. wait_ep is an
 * empty epoll set kept for this: edge triggered, it wakes on new bytes only.
 */
static enum arrival arrival_soon(int wait_ep, int fd, unsigned char *peek)
{
    enum arrival a = arrival(fd, peek);
    if (a == ARRIVED_WHOLE || a == ARRIVED_GONE)
        return a;
    struct epoll_event ev = {.events = PARK_EVENTS, .data.fd = fd};
    if (epoll_ctl(wait_ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        return a;
    int64_t end = mono_us() + ARRIVE_WAIT_MS * 1000LL;
    for (int64_t left = ARRIVE_WAIT_MS * 1000LL; left > 0; left = end - mono_us()) {
        struct epoll_event got;
        int k = epoll_wait(wait_ep, &got, 1, (int)((left + 999) / 1000));
        if (k < 0 && errno != EINTR)
            break;
        a = arrival(fd, peek);
        if (a == ARRIVED_WHOLE || a == ARRIVED_GONE || (k > 0 && (got.events & EPOLLRDHUP)))
            break;
    }
    epoll_ctl(wait_ep, EPOLL_CTL_DEL, fd, NULL);
    return a;
}

/* Accept one connection from the shared socket: served when whole, else parked; false if none. */
static bool take_new(const struct ly_fcgi_app *app, FCGX_Request *fr, int ep, int wait_ep,
                     int listen_fd, struct parked *park, size_t *n, unsigned char *peek)
{
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0)
        return false; /* EAGAIN: a sibling took it, or the queue is empty */
    int64_t accepted_us = mono_us();
    if (arrival_soon(wait_ep, fd, peek) != ARRIVED_WHOLE) {
        struct epoll_event ev = {.events = PARK_EVENTS, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0) {
            ly_log_debug(app->log,
                         "parked a connection whose request is still arriving (%zu parked)",
                         *n + 1);
            park[(*n)++] = (struct parked){fd, accepted_us + PARK_MS * 1000LL, false};
            return true;
        }
        /* Not watched: served as it comes, as without the park. */
    }
    serve_fd(app, fr, fd, false);
    keep_or_close(fr, ep, fd, park, n);
    return true;
}

/* Requests a worker serves back to back, at most, before it waits (see serve and serve_shared). */
#define ACCEPT_RUN 16

/*
 * The worker loop on a socket shared with siblings (the --listen parent's).
 * SIGTERM is unblocked only in epoll_pwait, as in serve(); once told to stop,
 * a worker accepts nothing more, answers its parked requests as they arrive
 * (or at their deadline, within the parent's grace) and closes the idle.
 *
 * Apache's mod_proxy_fcgi makes a new connection for every request, so what
 * this loop spends per connection is spent per request (issue 17: strace
 * counted 10 system calls per request here against the floor's 7; the
 * floor only blocks in accept()). Three things keep that down:
 *  - the listening socket is watched with EPOLLEXCLUSIVE: a connection
 *    wakes one waiting worker, not every sibling (the others would only
 *    return from epoll_pwait to fail accept() with EAGAIN). A busy worker
 *    is not waiting, so the kernel wakes an idle one instead; the level-
 *    triggered readiness stays on the busy one's ready list for its next
 *    wait. EPOLLEXCLUSIVE cannot be changed with EPOLL_CTL_MOD, so the
 *    socket is removed and added again to stop and resume accepting.
 *  - after a connection is served the next is accepted without waiting
 *    first, as in serve(), up to ACCEPT_RUN in a row; parked connections
 *    that became ready are looked at after the run.
 *  - request lines are held over such a run and written in one go before
 *    the worker waits (the log's hold, as in serve()).
 */
static void serve_shared(const struct ly_fcgi_app *app, FCGX_Request *fr, int listen_fd,
                         const sigset_t *waiting)
{
    struct parked park[PARK_MAX];
    size_t n = 0;
    unsigned char *peek = ly_xmalloc(PEEK_MAX);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int wait_ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = listen_fd};
    if (ep < 0 || wait_ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &lev) != 0) {
        ly_log_error(app->log, "epoll: %s", strerror(errno));
        goto out;
    }
    /* libfcgi is never to accept on its own: a request it took would not be looked at first. */
    fr->listen_sock = -1;
    bool listening = true;
    for (;;) {
        bool want = !stop_requested && n < PARK_MAX;
        if (want != listening) {
            if (want)
                epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &lev);
            else
                epoll_ctl(ep, EPOLL_CTL_DEL, listen_fd, NULL);
            listening = want;
        }
        if (stop_requested) {
            for (size_t i = n; i-- > 0;)
                if (park[i].deadline_us == 0 && arrival(park[i].fd, peek) == ARRIVED_NOTHING) {
                    int fd = park[i].fd;
                    unpark(ep, park, &n, i);
                    close(fd);
                }
            if (n == 0)
                break;
        }
        int64_t now = mono_us();
        int timeout = 1000;
        for (size_t i = 0; i < n; i++)
            if (park[i].deadline_us != 0) {
                int64_t left = (park[i].deadline_us - now + 999) / 1000;
                timeout = left < 0 ? 0 : left < timeout ? (int)left : timeout;
            }
        struct epoll_event evs[PARK_MAX + 1];
        ly_log_flush();
        int k = epoll_pwait(ep, evs, PARK_MAX + 1, timeout, waiting);
        if (k < 0 && errno != EINTR) {
            ly_log_error(app->log, "epoll_pwait: %s", strerror(errno));
            break;
        }
        if (k == 0) {
            if (!stop_requested && app->tick != NULL)
                app->tick(app->ctx, true);
            ly_arena_reset(app->arena);
        }
        now = mono_us();
        bool new_conn = false;
        for (int e = 0; e < k; e++) {
            if (evs[e].data.fd == listen_fd) {
                new_conn = true;
                continue;
            }
            for (size_t i = 0; i < n; i++)
                if (park[i].fd == evs[e].data.fd) {
                    if (evs[e].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                        park[i].hung_up = true;
                    revisit(app, fr, ep, park, &n, i, peek, now);
                    break;
                }
        }
        /* Deadlines: the oldest first, each looked at once. */
        for (size_t i = n; i-- > 0;)
            if (park[i].deadline_us != 0 && now >= park[i].deadline_us)
                revisit(app, fr, ep, park, &n, i, peek, now);
        /* stop_requested cannot change here: SIGTERM is let in by epoll_pwait only. */
        for (unsigned run = 0; new_conn && !stop_requested && n < PARK_MAX && run < ACCEPT_RUN;
             run++)
            new_conn = take_new(app, fr, ep, wait_ep, listen_fd, park, &n, peek);
    }
out:
    for (size_t i = 0; i < n; i++)
        close(park[i].fd);
    if (ep >= 0)
        close(ep);
    if (wait_ep >= 0)
        close(wait_ep);
    free(peek);
}

static int serve(const struct ly_fcgi_app *app, int listen_fd, bool own_socket)
{
    FCGX_Request fr;
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    if (FCGX_Init() != 0) {
        ly_log_error(app->log, "FastCGI initialisation failed");
        return 1;
    }
    install_term_handler();
    FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
    /*
     * SIGTERM is blocked but while we wait for a connection, so that a
     * request in hand, from its first byte read to its last written,
     * finishes. The accept itself runs with SIGTERM blocked too: a signal
     * there could cut the reading of the request's parameters. So that a
     * worker that lost the race for a connection to another does not wait
     * in accept() with SIGTERM blocked, the listening socket is
     * non-blocking (accept then fails with EAGAIN; on Linux the accepted
     * socket does not inherit O_NONBLOCK).
     */
    int fl = fcntl(listen_fd, F_GETFL);
    if (fl >= 0)
        fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK);
    sigprocmask(SIG_BLOCK, &term, &old);
    sigset_t waiting = old;
    sigdelset(&waiting, SIGTERM);
    sigdelset(&waiting, SIGINT);
    /* Request lines are held while requests are served back to back; both loops write them before
     * they wait (see below and serve_shared). */
    app->log->hold = true;
    if (!own_socket) {
        serve_shared(app, &fr, listen_fd, &waiting);
        goto out;
    }
    /*
     * While connections are queued on the (non-blocking) listening socket,
     * the next is accepted without waiting first: the wait, and the request
     * line's write, were two system calls per request beyond the floor's
     * (issue 17). So that SIGTERM, which only the wait lets in, is not put
     * off for as long as a load lasts, and log lines not held long, the
     * worker waits (and writes the lines it holds) at least every
     * ACCEPT_RUN requests. Not on a kept connection: reading its next
     * request blocks with SIGTERM blocked.
     */
    unsigned run = 0;
    while (!stop_requested) {
        if (fr.ipcFd < 0 && run < ACCEPT_RUN) {
            if (FCGX_Accept_r(&fr) == 0) {
                run++;
                serve_accepted(app, &fr, false);
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED) {
                ly_log_error(app->log, "FastCGI accept failed: %s", strerror(errno));
                break;
            }
        }
        run = 0;
        ly_log_flush();
        /*
         * A second without a request is idle time: the application's tick
         * runs then too. A connection the web server keeps open (FastCGI
         * keep-conn) brings the next request on it, not on listen_fd.
         */
        int next_fd = fr.ipcFd >= 0 ? fr.ipcFd : listen_fd;
        bool ready = stop_requested ? false : wait_readable(next_fd, 1000, &waiting);
        int rc = stop_requested ? -1 : ready ? FCGX_Accept_r(&fr) : 1;
        if (rc == 1) {
            if (!stop_requested && app->tick != NULL)
                app->tick(app->ctx, true);
            ly_arena_reset(app->arena);
            continue;
        }
        if (rc < 0) {
            if (stop_requested)
                break;
            if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
                continue;
            ly_log_error(app->log, "FastCGI accept failed: %s", strerror(errno));
            break;
        }
        serve_accepted(app, &fr, false);
    }
    if (stop_requested)
        drain_backlog(app, &fr, listen_fd, own_socket);
out:
    app->log->hold = false;
    ly_log_flush();
    FCGX_Free(&fr, 1);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return 0;
}

int ly_fcgi_serve(const struct ly_fcgi_app *app, int listen_fd)
{
    return serve(app, listen_fd, true);
}

/*
 * Set by the prefork parent's SIGHUP handler: read the config again and
 * replace the workers. Only the parent acts on it; workers ignore SIGHUP.
 */
static volatile sig_atomic_t reload_requested;

static void on_hup(int sig)
{
    (void)sig;
    reload_requested = 1;
}

/* SIGCHLD only has to interrupt the parent's wait; waitpid finds who died. */
static void on_chld(int sig)
{
    (void)sig;
}

static pid_t spawn_worker(const struct ly_fcgi_app *app, int listen_fd)
{
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        /* A reload is the parent's business: a HUP to the whole group must not stop a worker. */
        signal(SIGHUP, SIG_IGN);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        _exit(serve(app, listen_fd, false));
    }
    if (pid < 0)
        ly_log_error(app->log, "fork failed: %s", strerror(errno));
    return pid;
}

/* Seconds a worker sent SIGTERM has to finish the request in hand before SIGKILL. */
#define GRACE_S 10

/* The prefork parent's state, on its stack. */
struct parent {
    struct ly_fcgi_app *app; /* what new workers are forked from */
    const struct ly_fcgi_reload *reload;
    int listen_fd;
    pid_t *pids; /* the current workers; 0: a slot to fill */
    unsigned workers;
    /* workers sent SIGTERM (a reload, the stop), waited for until they exit or their deadline */
    pid_t *old;
    time_t *old_deadline;
    size_t n_old, cap_old;
    time_t last_death;
    unsigned quick_deaths;
};

static void retire(struct parent *p, pid_t pid, time_t deadline)
{
    if (p->n_old == p->cap_old) {
        p->cap_old = p->cap_old ? p->cap_old * 2 : 8;
        p->old = ly_xrealloc(p->old, p->cap_old * sizeof(*p->old));
        p->old_deadline = ly_xrealloc(p->old_deadline, p->cap_old * sizeof(*p->old_deadline));
    }
    p->old[p->n_old] = pid;
    p->old_deadline[p->n_old] = deadline;
    p->n_old++;
    kill(pid, SIGTERM);
}

static void forget_old(struct parent *p, size_t i)
{
    p->old[i] = p->old[p->n_old - 1];
    p->old_deadline[i] = p->old_deadline[p->n_old - 1];
    p->n_old--;
}

/*
 * Load the next app; if it loads, fork its workers first (so that
 * listen_fd always has workers accepting on it), then retire the old
 * ones. On failure nothing changes but the log line.
 */
static void reload_workers(struct parent *p)
{
    char err[1024];
    struct ly_fcgi_app *next = NULL;
    int r = p->reload->load(p->reload->arg, &next, err, sizeof(err));
    if (r != LY_OK) {
        ly_log_error(p->app->log, "reload refused, the running workers keep serving: %s", err);
        return;
    }
    time_t deadline = time(NULL) + GRACE_S;
    for (unsigned i = 0; i < p->workers; i++) {
        pid_t old = p->pids[i];
        p->pids[i] = spawn_worker(next, p->listen_fd);
        if (p->pids[i] < 0)
            p->pids[i] = 0;
        if (old > 0)
            retire(p, old, deadline);
    }
    /* The workers have their own copies; the parent forks from next only. */
    p->reload->release(p->reload->arg, p->app);
    p->app = next;
    ly_log_info(p->app->log, "reloaded: serving with %u new workers", p->workers);
}

static void on_death(struct parent *p, pid_t pid, int status)
{
    for (size_t i = 0; i < p->n_old; i++) {
        if (p->old[i] == pid) {
            forget_old(p, i);
            return;
        }
    }
    for (unsigned i = 0; i < p->workers; i++) {
        if (p->pids[i] != pid)
            continue;
        if (WIFSIGNALED(status))
            ly_log_error(p->app->log, "worker %ld killed by signal %d; restarting", (long)pid,
                         WTERMSIG(status));
        else
            ly_log_warn(p->app->log, "worker %ld exited with %d; restarting", (long)pid,
                        WEXITSTATUS(status));
        /* Workers that die at once (a broken database, a crash on start) are restarted slowly. */
        time_t now = time(NULL);
        p->quick_deaths = now - p->last_death < 2 ? p->quick_deaths + 1 : 0;
        p->last_death = now;
        if (p->quick_deaths > 5)
            sleep(1);
        /* Refilled from the current app: after a reload, with the new config. */
        p->pids[i] = 0;
    }
}

/* Send SIGTERM to every worker, let each finish the request in hand; after GRACE_S, SIGKILL. */
static void stop_all_workers(struct parent *p)
{
    for (unsigned i = 0; i < p->workers; i++) {
        if (p->pids[i] > 0) {
            retire(p, p->pids[i], 0);
            p->pids[i] = 0;
        }
    }
    /* The workers a reload retired had SIGTERM then and are waited for with these. */
    time_t deadline = time(NULL) + GRACE_S;
    while (p->n_old > 0) {
        pid_t r = waitpid(p->old[0], NULL, WNOHANG);
        if (r == p->old[0] || (r < 0 && errno != EINTR)) {
            forget_old(p, 0);
        } else if (time(NULL) >= deadline) {
            kill(p->old[0], SIGKILL);
            waitpid(p->old[0], NULL, 0);
            forget_old(p, 0);
        } else {
            usleep(20000);
        }
    }
}

int ly_fcgi_prefork(struct ly_fcgi_app *app, int listen_fd, unsigned workers,
                    const struct ly_fcgi_reload *reload)
{
    struct parent p;
    memset(&p, 0, sizeof(p));
    p.app = app;
    p.reload = reload;
    p.listen_fd = listen_fd;
    p.workers = workers;
    p.pids = ly_xcalloc(workers, sizeof(*p.pids));
    /*
     * The signals the parent acts on are blocked except inside ppoll(),
     * which unblocks them atomically: one that comes while the parent is
     * busy waits there instead of being missed between a check and a wait.
     */
    sigset_t mine, orig, waitmask;
    sigemptyset(&mine);
    sigaddset(&mine, SIGTERM);
    sigaddset(&mine, SIGINT);
    sigaddset(&mine, SIGHUP);
    sigaddset(&mine, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mine, &orig);
    waitmask = orig;
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGHUP);
    sigdelset(&waitmask, SIGCHLD);
    install_term_handler();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = reload != NULL ? on_hup : SIG_IGN;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    reload_requested = 0;

    ly_log_info(p.app->log, "serving with %u workers", workers);
    while (!stop_requested) {
        if (reload_requested) {
            reload_requested = 0;
            reload_workers(&p);
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            on_death(&p, pid, status);
        if (stop_requested)
            break;
        for (unsigned i = 0; i < workers; i++) {
            if (p.pids[i] <= 0) {
                p.pids[i] = spawn_worker(p.app, listen_fd);
                if (p.pids[i] < 0)
                    p.pids[i] = 0;
            }
        }
        time_t now = time(NULL);
        for (size_t i = 0; i < p.n_old; i++)
            if (now >= p.old_deadline[i] && p.old_deadline[i] != 0) {
                ly_log_warn(p.app->log, "old worker %ld still busy after %d s; killed",
                            (long)p.old[i], GRACE_S);
                kill(p.old[i], SIGKILL);
                p.old_deadline[i] = 0; /* reaped by waitpid above, next round */
            }
        bool waiting = p.n_old > 0;
        for (unsigned i = 0; i < workers; i++)
            waiting = waiting || p.pids[i] == 0;
        /* A second at most while old workers finish or a fork failed; else until a signal. */
        struct timespec second = {1, 0};
        ppoll(NULL, 0, waiting ? &second : NULL, &waitmask);
    }
    stop_all_workers(&p);
    ly_log_info(p.app->log, "stopped");
    if (reload != NULL)
        reload->release(reload->arg, p.app);
    free(p.pids);
    free(p.old);
    free(p.old_deadline);
    sigprocmask(SIG_SETMASK, &orig, NULL);
    return 0;
}
