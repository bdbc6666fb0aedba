#include "build-config.h"
#include "banned.h"

#include "lanyard/err.h"

#include <stddef.h>

static const struct {
    int err;
    int status;
    const char *code;
    const char *text;
} errors[] = {
    {LY_OK, 200, "ok", "success"},
    {LY_E_INVALID_REQUEST, 400, "invalid_request", "invalid request"},
    {LY_E_INVALID_JSON, 400, "invalid_json", "malformed JSON"},
    {LY_E_VALIDATION, 400, "validation_failed", "validation failed"},
    {LY_E_MEDIA_TYPE, 415, "unsupported_media_type", "unsupported media type"},
    {LY_E_TOO_LARGE, 413, "payload_too_large", "payload too large"},
    {LY_E_UNAUTHENTICATED, 401, "unauthenticated", "unauthenticated"},
    {LY_E_INVALID_TOKEN, 401, "invalid_token", "invalid token"},
    {LY_E_FORBIDDEN, 403, "forbidden", "forbidden"},
    {LY_E_NOT_FOUND, 404, "not_found", "not found"},
    {LY_E_METHOD, 405, "method_not_allowed", "method not allowed"},
    {LY_E_CONFLICT, 409, "conflict", "conflict"},
    {LY_E_RATE_LIMITED, 429, "rate_limited", "rate limited"},
    {LY_E_UNAVAILABLE, 503, "unavailable", "database unavailable"},
    {LY_E_INTERNAL, 500, "internal", "internal error"},
    {LY_E_IO, 500, "internal", "i/o error"},
    {LY_E_CONFIG, 500, "internal", "invalid configuration"},
    {LY_E_CRYPTO, 500, "internal", "cryptographic operation failed"},
    {LY_E_RETRY, 503, "unavailable", "transaction aborted by a concurrent one"},
};

static size_t find_internal(void)
{
    size_t i = 0;
    while (errors[i].err != LY_E_INTERNAL)
        i++;
    return i;
}

static size_t find(int err)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
        if (errors[i].err == err)
            return i;
    return find_internal();
}

int ly_err_status(int err)
{
    return errors[find(err)].status;
}

const char *ly_err_code(int err)
{
    return errors[find(err)].code;
}

const char *ly_err_str(int err)
{
    return errors[find(err)].text;
}

const char *ly_err_title(int err)
{
    return ly_http_reason(ly_err_status(err));
}

const char *ly_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}
