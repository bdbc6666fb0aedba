/*
 * log: one line per event on stderr, as text or JSON.
 *
 * The level is tested before anything is formatted. Each line names the
 * source place and, when known, the request id. Never pass a token, secret,
 * password, Authorization value or SQL with values to these functions.
 */
#ifndef LY_LOG_H
#define LY_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum ly_log_level { LY_LOG_ERROR = 0, LY_LOG_WARN = 1, LY_LOG_INFO = 2, LY_LOG_DEBUG = 3 };
enum ly_log_format { LY_LOG_TEXT = 0, LY_LOG_JSON = 1 };

struct ly_log {
    enum ly_log_level level;
    enum ly_log_format format;
    const char *request_id; /* borrowed; set for the request in hand, else NULL */
    const char *program;    /* "lanyard" or "lanyardctl" */
    /*
     * true while a worker serves requests already queued: request lines are
     * then held in the process's buffer until ly_log_flush() (which the
     * worker calls before it waits), a line of another level, or a full
     * buffer; other lines are written at once, after what is held.
     */
    bool hold;
};

void ly_log_init(struct ly_log *log, const char *program);

static inline bool ly_log_enabled(const struct ly_log *log, enum ly_log_level level)
{
    return log != NULL && level <= log->level;
}

void ly_log_write(const struct ly_log *log, enum ly_log_level level, const char *file, int line,
                  const char *func, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * The request line of SPEC §6: request_id, method, path (no query), status,
 * microseconds, principal ("-" when none). Logged at info.
 */
void ly_log_request(const struct ly_log *log, const char *method, const char *path, int status,
                    long long micros, const char *principal);

/* Write the request lines held (see hold); a no-op when none are. */
void ly_log_flush(void);

#define LY_LOG_AT(log, lvl, ...)                                                                   \
    do {                                                                                           \
        if (ly_log_enabled((log), (lvl)))                                                          \
            ly_log_write((log), (lvl), __FILE__, __LINE__, __func__, __VA_ARGS__);                 \
    } while (0)

#define ly_log_error(log, ...) LY_LOG_AT(log, LY_LOG_ERROR, __VA_ARGS__)
#define ly_log_warn(log, ...)  LY_LOG_AT(log, LY_LOG_WARN, __VA_ARGS__)
#define ly_log_info(log, ...)  LY_LOG_AT(log, LY_LOG_INFO, __VA_ARGS__)
#define ly_log_debug(log, ...) LY_LOG_AT(log, LY_LOG_DEBUG, __VA_ARGS__)

#endif
