/*
 * err: the one error vocabulary of Lanyard.
 *
 * Functions that act return int: LY_OK (0) or a negative enum ly_err. One
 * table (src/core/err.c) maps each code to its HTTP status, the problem
 * "code" of SPEC §3, the title and a log text, so that no handler picks a
 * status number by hand.
 */
#ifndef LY_ERR_H
#define LY_ERR_H

enum ly_err {
    LY_OK = 0,
    LY_E_INVALID_REQUEST = -1, /* 400 invalid_request */
    LY_E_INVALID_JSON = -2,    /* 400 invalid_json */
    LY_E_VALIDATION = -3,      /* 400 validation_failed */
    LY_E_MEDIA_TYPE = -4,      /* 415 unsupported_media_type */
    LY_E_TOO_LARGE = -5,       /* 413 payload_too_large */
    LY_E_UNAUTHENTICATED = -6, /* 401 unauthenticated */
    LY_E_INVALID_TOKEN = -7,   /* 401 invalid_token */
    LY_E_FORBIDDEN = -8,       /* 403 forbidden */
    LY_E_NOT_FOUND = -9,       /* 404 not_found */
    LY_E_METHOD = -10,         /* 405 method_not_allowed */
    LY_E_CONFLICT = -11,       /* 409 conflict */
    LY_E_RATE_LIMITED = -12,   /* 429 rate_limited */
    LY_E_UNAVAILABLE = -13,    /* 503 unavailable (database down) */
    LY_E_INTERNAL = -14,       /* 500 internal */
    LY_E_IO = -15,             /* a file could not be read or written (500 if it reaches HTTP) */
    LY_E_CONFIG = -16,         /* invalid configuration (never reaches HTTP) */
    LY_E_CRYPTO = -17,         /* an OpenSSL call failed (500) */
    LY_E_RETRY = -18,          /* a deadlock or lock wait ended the transaction: run it again */
};

#define LY_ERR_MIN LY_E_RETRY

int ly_err_status(int err);        /* HTTP status; 500 for unknown codes */
const char *ly_err_code(int err);  /* the problem "code" of SPEC §3 */
const char *ly_err_title(int err); /* the HTTP reason phrase, as problem "title" */
const char *ly_err_str(int err);   /* a short text for logs */
const char *ly_http_reason(int status);

#endif
