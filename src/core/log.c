#include "build-config.h"
#include "banned.h"

#include "lanyard/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lanyard/str.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void ly_log_init(struct ly_log *log, const char *program)
{
    log->level = LY_LOG_INFO;
    log->format = LY_LOG_TEXT;
    log->request_id = NULL;
    log->program = program;
    log->hold = false;
}

/*
 * The request lines held while a worker has more requests queued: one
 * write(2) per line was the one system call a request made beyond the
 * floor's (issue 17). Process state, as stderr's own buffer would be; a
 * worker is one thread. A kill -9 loses what is held: the lines of at most
 * the few requests served since the worker last waited (src/http/fcgi.c).
 */
static char held[8192];
static size_t held_len;

void ly_log_flush(void)
{
    if (held_len > 0)
        fwrite(held, 1, held_len, stderr);
    held_len = 0;
}

/* Write a whole line (newline included), or hold it when the log holds request lines. */
static void put_line(const struct ly_log *log, const char *line, size_t n)
{
    if (log->hold && n <= sizeof(held)) {
        if (held_len + n > sizeof(held))
            ly_log_flush();
        memcpy(held + held_len, line, n);
        held_len += n;
        return;
    }
    ly_log_flush();
    fwrite(line, 1, n, stderr);
}

/*
 * The process id every line carries. glibc makes getpid() a system call
 * each time (about 1 µs on the reference VM), one per request log line;
 * it is asked once and forgotten in a forked child (the prefork parent's
 * workers), which asks again.
 */
static long cached_pid;
static bool log_atfork;

static void forget_pid(void)
{
    cached_pid = 0;
}

/*
 * The first line registers what a fork and the exit need: held lines
 * written before a fork (else parent and child would both write them) and
 * at exit, the child's pid asked again.
 */
static long log_pid(void)
{
    if (!log_atfork) {
        if (pthread_atfork(ly_log_flush, NULL, forget_pid) != 0 || atexit(ly_log_flush) != 0) {
            fputs("lanyard: pthread_atfork failed\n", stderr);
            abort();
        }
        log_atfork = true;
    }
    if (cached_pid == 0)
        cached_pid = (long)getpid();
    return cached_pid;
}

/*
 * The time as 2026-01-02T03:04:05.678Z. The part up to the seconds is
 * formatted once per second and kept (issue 17: gmtime_r and snprintf on
 * every line were a third of the request log line's cost); a worker is one
 * thread, and a forked child's copy is as right as its parent's.
 */
static void format_time(char *buf, size_t n)
{
    static time_t cached_sec = (time_t)-1;
    static char cached[32];
    static size_t cached_len;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        int k = snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d.",
                         (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100,
                         tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100);
        cached_len = k > 0 && (size_t)k < sizeof(cached) ? (size_t)k : 0;
        cached_sec = ts.tv_sec;
    }
    int ms = (int)(ts.tv_nsec / 1000000) % 1000;
    if (n < cached_len + 5) {
        if (n > 0)
            buf[0] = '\0';
        return;
    }
    memcpy(buf, cached, cached_len);
    buf[cached_len] = (char)('0' + ms / 100);
    buf[cached_len + 1] = (char)('0' + ms / 10 % 10);
    buf[cached_len + 2] = (char)('0' + ms % 10);
    buf[cached_len + 3] = 'Z';
    buf[cached_len + 4] = '\0';
}

/* Append s to buf[pos..cap-1], keeping a NUL; stops quietly when full, as snprintf would. */
static size_t put(char *buf, size_t pos, size_t cap, const char *s)
{
    size_t k = strlen(s);
    if (pos + 1 >= cap)
        return pos;
    if (k > cap - 1 - pos)
        k = cap - 1 - pos;
    memcpy(buf + pos, s, k);
    pos += k;
    buf[pos] = '\0';
    return pos;
}

/* Append v in decimal, as "%lld" would. */
static size_t put_ll(char *buf, size_t pos, size_t cap, long long v)
{
    char tmp[1 + LY_U64_DEC_MAX + 1];
    size_t n = 0;
    if (v < 0)
        tmp[n++] = '-';
    n += ly_str_from_u64(v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v, tmp + n);
    tmp[n] = '\0';
    return put(buf, pos, cap, tmp);
}

/* Append s to buf as the inside of a JSON string; stops quietly when full. */
static size_t json_escape(char *buf, size_t pos, size_t cap, const char *s)
{
    for (; *s != '\0' && pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[pos++] = '\\';
            buf[pos++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            pos += (size_t)snprintf(buf + pos, cap - pos, "\\u%04x", c);
        } else {
            buf[pos++] = (char)c;
        }
    }
    buf[pos] = '\0';
    return pos;
}

/* Control characters never reach a text log line: they could forge lines. */
static void text_sanitize(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            *s = '?';
}

static void emit(const struct ly_log *log, enum ly_log_level level, const char *where,
                 const char *msg)
{
    char ts[64];
    char line[4096];
    format_time(ts, sizeof(ts));
    const char *prog = log->program ? log->program : "lanyard";
    if (log->format == LY_LOG_JSON) {
        size_t pos = (size_t)snprintf(line, sizeof(line),
                                      "{\"time\":\"%s\",\"level\":\"%s\",\"program\":\"%s\","
                                      "\"pid\":%ld,",
                                      ts, level_names[level], prog, log_pid());
        if (log->request_id != NULL) {
            pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\"request_id\":\"");
            pos = json_escape(line, pos, sizeof(line), log->request_id);
            pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\",");
        }
        if (where != NULL) {
            pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\"where\":\"");
            pos = json_escape(line, pos, sizeof(line), where);
            pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\",");
        }
        pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\"msg\":\"");
        pos = json_escape(line, pos, sizeof(line), msg);
        snprintf(line + pos, sizeof(line) - pos, "\"}");
    } else {
        char body[3072];
        snprintf(body, sizeof(body), "%s", msg);
        text_sanitize(body);
        snprintf(line, sizeof(line), "%s %s[%ld] %s%s%s%s%s: %s", ts, prog, log_pid(),
                 level_names[level], log->request_id ? " request_id=" : "",
                 log->request_id ? log->request_id : "", where ? " " : "", where ? where : "",
                 body);
    }
    ly_log_flush();
    fprintf(stderr, "%s\n", line);
}

void ly_log_write(const struct ly_log *log, enum ly_log_level level, const char *file, int line,
                  const char *func, const char *fmt, ...)
{
    char msg[2048];
    char where[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *base = strrchr(file, '/');
    snprintf(where, sizeof(where), "%s:%d:%s", base ? base + 1 : file, line, func);
    emit(log, level, where, msg);
}

void ly_log_request(const struct ly_log *log, const char *method, const char *path, int status,
                    long long micros, const char *principal)
{
    if (!ly_log_enabled(log, LY_LOG_INFO))
        return;
    char msg[2048];
    if (log->format == LY_LOG_JSON) {
        /* One flat object whose fields are the request's, for log pipelines. */
        char ts[64], line[4096];
        format_time(ts, sizeof(ts));
        size_t pos = (size_t)snprintf(line, sizeof(line),
                                      "{\"time\":\"%s\",\"level\":\"info\",\"program\":\"%s\","
                                      "\"pid\":%ld,\"request_id\":\"",
                                      ts, log->program ? log->program : "lanyard", log_pid());
        pos = json_escape(line, pos, sizeof(line), log->request_id ? log->request_id : "-");
        pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\",\"method\":\"");
        pos = json_escape(line, pos, sizeof(line), method);
        pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "\",\"path\":\"");
        pos = json_escape(line, pos, sizeof(line), path);
        pos += (size_t)snprintf(line + pos, sizeof(line) - pos,
                                "\",\"status\":%d,\"us\":%lld,\"principal\":\"", status, micros);
        pos = json_escape(line, pos, sizeof(line), principal ? principal : "-");
        snprintf(line + pos, sizeof(line) - pos, "\"}");
        size_t n = strlen(line); /* at most sizeof(line) - 1: room for the newline */
        line[n] = '\n';
        put_line(log, line, n + 1);
        return;
    }
    /*
     * The text line with direct appends, written once: what emit() would
     * print for the same message, truncated at the same sizes, without
     * formatting it three times (issue 17).
     */
    size_t m = put(msg, 0, sizeof(msg), "method=");
    m = put(msg, m, sizeof(msg), method);
    m = put(msg, m, sizeof(msg), " path=");
    m = put(msg, m, sizeof(msg), path);
    m = put(msg, m, sizeof(msg), " status=");
    m = put_ll(msg, m, sizeof(msg), status);
    m = put(msg, m, sizeof(msg), " us=");
    m = put_ll(msg, m, sizeof(msg), micros);
    m = put(msg, m, sizeof(msg), " principal=");
    put(msg, m, sizeof(msg), principal ? principal : "-");
    text_sanitize(msg);
    char line[4096];
    format_time(line, sizeof(line));
    size_t pos = strlen(line);
    pos = put(line, pos, sizeof(line), " ");
    pos = put(line, pos, sizeof(line), log->program ? log->program : "lanyard");
    pos = put(line, pos, sizeof(line), "[");
    pos = put_ll(line, pos, sizeof(line), (long long)log_pid());
    pos = put(line, pos, sizeof(line), "] info");
    if (log->request_id != NULL) {
        pos = put(line, pos, sizeof(line), " request_id=");
        pos = put(line, pos, sizeof(line), log->request_id);
    }
    pos = put(line, pos, sizeof(line), ": ");
    pos = put(line, pos, sizeof(line), msg);
    /* the newline always ends the line, as fprintf("%s\n") did */
    line[pos] = '\n';
    put_line(log, line, pos + 1);
}
