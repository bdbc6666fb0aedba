#include "build-config.h"
#include "banned.h"

#include "lanyard/login.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "lanyard/creds.h"
#include "lanyard/err.h"
#include "lanyard/httpc.h"
#include "lanyard/json.h"
#include "lanyard/str.h"

#define PROG "lanyard-login"
/* SPEC §1: `token` refreshes first when the access token expires within a minute. */
#define REFRESH_MARGIN 60
/* RFC 8628 §3.5: slow_down adds 5 seconds to the interval. */
#define SLOW_DOWN_STEP 5
/* Transport failures in a row that end a device-flow poll loop. */
#define MAX_POLL_FAILURES 3
#define CLIENT_ID         "lanyard-login"
#define DEVICE_GRANT      "urn:ietf:params:oauth:grant-type:device_code"

#define DEVICE_PATH  "/api/auth/v1/device"
#define TOKEN_PATH   "/api/auth/v1/token"
#define SIGNOUT_PATH "/api/auth/v1/signout"
#define ME_PATH      "/api/org/v1/me"

struct args {
    const char *cmd;
    const char *url;
    const char *org;
    bool no_browser;
};

/* What one run works with. */
struct run {
    struct ly_arena *a;
    struct ly_httpc *http;
    const char *url; /* normalised */
    const char *creds_path;
};

static void usage(FILE *fp)
{
    fputs("usage: lanyard-login [--url URL] [--org ORG] COMMAND\n"
          "commands:\n"
          "  login [--no-browser]   sign in with the device flow and keep the tokens\n"
          "  token                  print a valid access token (or $LANYARD_TOKEN)\n"
          "  refresh                refresh the tokens now\n"
          "  status                 who is signed in, and until when\n"
          "  logout                 end the session and forget its tokens\n"
          "URL defaults to $LANYARD_URL, else the one service signed in to.\n",
          fp);
}

static void fail_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static bool is_lower_scheme(const char *u, const char *scheme)
{
    return strncasecmp(u, scheme, strlen(scheme)) == 0;
}

char *ly_login_normalize_url(struct ly_arena *a, const char *url)
{
    size_t skip;
    if (is_lower_scheme(url, "https://"))
        skip = 8;
    else if (is_lower_scheme(url, "http://"))
        skip = 7;
    else
        return NULL;
    size_t n = strlen(url);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f || url[i] == '?' || url[i] == '#' ||
            url[i] == '\\')
            return NULL;
    size_t auth_len = strcspn(url + skip, "/");
    if (auth_len == 0 || memchr(url + skip, '@', auth_len) != NULL)
        return NULL;
    while (n > skip + auth_len && url[n - 1] == '/')
        n--;
    char *out = ly_arena_strndup(a, url, n);
    /* Scheme and host are case-insensitive (RFC 3986 §6.2.2.1); the path is not. */
    for (size_t i = 0; i < skip + auth_len; i++)
        if (out[i] >= 'A' && out[i] <= 'Z')
            out[i] = (char)(out[i] - 'A' + 'a');
    return out;
}

static int parse_args(int argc, char **argv, struct args *o)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const char **slot = NULL;
        const char *name = NULL;
        if (strcmp(s, "--url") == 0 || strcmp(s, "--org") == 0) {
            slot = s[2] == 'u' ? &o->url : &o->org;
            name = s;
            if (i + 1 == argc) {
                fail_line("%s needs a value", name);
                return -1;
            }
            *slot = argv[++i];
        } else if (strncmp(s, "--url=", 6) == 0) {
            o->url = s + 6;
        } else if (strncmp(s, "--org=", 6) == 0) {
            o->org = s + 6;
        } else if (strcmp(s, "--no-browser") == 0) {
            o->no_browser = true;
        } else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            o->cmd = "help";
            return 0;
        } else if (strcmp(s, "--version") == 0) {
            o->cmd = "version";
            return 0;
        } else if (s[0] == '-') {
            fail_line("unknown option '%s'", s);
            return -1;
        } else if (o->cmd == NULL) {
            o->cmd = s;
        } else {
            fail_line("unexpected argument '%s'", s);
            return -1;
        }
    }
    if (o->cmd == NULL) {
        fail_line("a command is needed");
        return -1;
    }
    static const char *const cmds[] = {"login", "token", "refresh", "status", "logout"};
    bool known = false;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        known = known || strcmp(o->cmd, cmds[i]) == 0;
    if (!known) {
        fail_line("unknown command '%s'", o->cmd);
        return -1;
    }
    if (o->no_browser && strcmp(o->cmd, "login") != 0) {
        fail_line("--no-browser goes with login only");
        return -1;
    }
    if (o->org != NULL && (strcmp(o->cmd, "login") != 0 || o->org[0] == '\0')) {
        fail_line(o->org[0] == '\0' ? "--org needs a name" : "--org goes with login only");
        return -1;
    }
    return 0;
}

/* --- HTTP ------------------------------------------------------------------- */

static int call(struct run *r, const char *method, const char *path, const char *ctype,
                const char *body, const char *bearer, struct ly_httpc_resp *resp)
{
    char err[512];
    struct ly_httpc_req req = {
        .method = method,
        .url = ly_arena_printf(r->a, "%s%s", r->url, path),
        .content_type = ctype,
        .body = body,
        .bearer = bearer,
    };
    int rc = ly_httpc_do(r->http, &req, r->a, resp, err, sizeof(err));
    if (rc != LY_OK)
        fail_line("%s", err);
    return rc;
}

static int post_form(struct run *r, const char *path, const char *form, struct ly_httpc_resp *resp)
{
    return call(r, "POST", path, "application/x-www-form-urlencoded", form, NULL, resp);
}

/* The answer's JSON object (owned by the arena), or NULL. */
static struct json_object *answer_json(struct run *r, const struct ly_httpc_resp *resp)
{
    struct json_object *o = NULL;
    if (ly_json_parse(r->a, (struct ly_str){resp->body, resp->body_len}, &o) != LY_OK ||
        !json_object_is_type(o, json_type_object))
        return NULL;
    return o;
}

/* A server-given text fit for one line on a terminal: printable ASCII, bounded. */
static const char *printable(struct ly_arena *a, const char *s)
{
    if (s == NULL)
        return "";
    size_t n = strlen(s) < 200 ? strlen(s) : 200;
    char *o = ly_arena_strndup(a, s, n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)o[i] < ' ' || (unsigned char)o[i] > '~')
            o[i] = '?';
    return o;
}

/* The OAuth "error" of an answer (RFC 6749 §5.2), or "" when it has none. */
static const char *oauth_error(struct run *r, const struct ly_httpc_resp *resp)
{
    struct json_object *o = answer_json(r, resp);
    const char *e = o != NULL ? ly_json_get_string(o, "error") : NULL;
    return e != NULL ? printable(r->a, e) : "";
}

/* One line about an answer that was not the one hoped for. */
static void report_answer(struct run *r, const char *what, const struct ly_httpc_resp *resp)
{
    struct json_object *o = answer_json(r, resp);
    const char *e = NULL, *d = NULL;
    if (o != NULL) {
        e = ly_json_get_string(o, "error");
        d = ly_json_get_string(o, "error_description");
        if (e == NULL) {
            e = ly_json_get_string(o, "code");
            d = ly_json_get_string(o, "detail");
        }
    }
    if (e != NULL)
        fail_line("%s failed: HTTP %ld, %s%s%s", what, resp->status, printable(r->a, e),
                  d ? ": " : "", d ? printable(r->a, d) : "");
    else
        fail_line("%s failed: HTTP %ld", what, resp->status);
}

/* A token response (SPEC §5.2) into *out, times made absolute from now. */
static int token_answer(struct run *r, const struct ly_httpc_resp *resp, struct ly_cred *out)
{
    struct json_object *o = answer_json(r, resp);
    if (o == NULL)
        return LY_E_INVALID_JSON;
    const char *at = ly_json_get_string(o, "access_token");
    const char *rt = ly_json_get_string(o, "refresh_token");
    if (at == NULL || at[0] == '\0' || rt == NULL || rt[0] == '\0')
        return LY_E_INVALID_JSON;
    int64_t now = (int64_t)time(NULL);
    int64_t exp = ly_json_get_int(o, "expires_in", -1);
    int64_t rexp = ly_json_get_int(o, "refresh_expires_in", -1);
    out->access_token = at;
    out->refresh_token = rt;
    out->session_id = ly_json_get_string(o, "session_id");
    out->expires_at = exp >= 0 ? now + exp : 0;
    out->refresh_expires_at = rexp >= 0 ? now + rexp : 0;
    return LY_OK;
}

/* --- the credentials file ----------------------------------------------------- */

static int open_creds(struct run *r, struct ly_creds *c)
{
    char err[512];
    if (ly_creds_open(r->a, r->creds_path, c, err, sizeof(err)) != LY_OK) {
        fail_line("%s", err);
        return -1;
    }
    return 0;
}

static int save_creds(struct run *r, struct ly_creds *c)
{
    char err[512];
    if (ly_creds_save(c, r->a, err, sizeof(err)) != LY_OK) {
        fail_line("%s", err);
        return -1;
    }
    return 0;
}

static void not_signed_in(const struct run *r)
{
    fail_line("not signed in to %s; run " PROG " --url %s login", r->url, r->url);
}

/*
 * Refresh c's entry now (SPEC §5.3; the old refresh token is spent) and save
 * the new pair; c is locked, so no other lanyard-login presents it too. A
 * refused refresh token ends the entry: it can never work again.
 */
static int refresh(struct run *r, struct ly_creds *c, struct ly_cred *cred)
{
    struct ly_httpc_resp resp;
    struct ly_cred fresh;
    const char *form =
        ly_arena_printf(r->a, "grant_type=refresh_token&refresh_token=%s&client_id=%s",
                        ly_httpc_form_escape(r->a, cred->refresh_token), CLIENT_ID);
    if (post_form(r, TOKEN_PATH, form, &resp) != LY_OK)
        return -1;
    if (resp.status == 200 && token_answer(r, &resp, &fresh) == LY_OK) {
        if (fresh.session_id == NULL)
            fresh.session_id = cred->session_id;
        ly_creds_put(c, r->url, &fresh);
        if (save_creds(r, c) != 0)
            return -1;
        *cred = fresh;
        return 0;
    }
    if ((resp.status == 400 || resp.status == 401) &&
        strcmp(oauth_error(r, &resp), "invalid_grant") == 0) {
        ly_creds_remove(c, r->url);
        (void)save_creds(r, c);
        fail_line("the session at %s has ended; run " PROG " --url %s login", r->url, r->url);
        return -1;
    }
    report_answer(r, "refreshing the token", &resp);
    return -1;
}

/* The entry, refreshed first when its access token expires within REFRESH_MARGIN (or always). */
static int current(struct run *r, struct ly_creds *c, struct ly_cred *cred, bool force)
{
    if (ly_creds_get(c, r->a, r->url, cred) != LY_OK) {
        not_signed_in(r);
        return -1;
    }
    int64_t now = (int64_t)time(NULL);
    if (force || (cred->expires_at != 0 && cred->expires_at - now <= REFRESH_MARGIN))
        return refresh(r, c, cred);
    return 0;
}

/* --- commands ------------------------------------------------------------------- */

static int cmd_token(struct run *r)
{
    struct ly_creds c;
    struct ly_cred cred;
    if (open_creds(r, &c) != 0)
        return LY_LOGIN_EXIT_FAIL;
    int rc = current(r, &c, &cred, false);
    ly_creds_close(&c);
    if (rc != 0)
        return LY_LOGIN_EXIT_FAIL;
    printf("%s\n", cred.access_token);
    return fflush(stdout) == 0 ? LY_LOGIN_EXIT_OK : LY_LOGIN_EXIT_FAIL;
}

static int cmd_refresh(struct run *r)
{
    struct ly_creds c;
    struct ly_cred cred;
    if (open_creds(r, &c) != 0)
        return LY_LOGIN_EXIT_FAIL;
    int rc = current(r, &c, &cred, true);
    ly_creds_close(&c);
    if (rc != 0)
        return LY_LOGIN_EXIT_FAIL;
    fprintf(stderr, "refreshed the tokens for %s\n", r->url);
    return LY_LOGIN_EXIT_OK;
}

static const char *when(struct ly_arena *a, int64_t t)
{
    char buf[32];
    if (t <= 0)
        return "unknown";
    ly_time_format(t, buf);
    return ly_arena_strdup(a, buf);
}

static int cmd_status(struct run *r)
{
    struct ly_creds c;
    struct ly_cred cred;
    struct ly_httpc_resp resp;
    if (open_creds(r, &c) != 0)
        return LY_LOGIN_EXIT_FAIL;
    if (ly_creds_get(&c, r->a, r->url, &cred) != LY_OK) {
        ly_creds_close(&c);
        printf("not signed in to %s\n", r->url);
        return LY_LOGIN_EXIT_FAIL;
    }
    int rc = current(r, &c, &cred, false);
    ly_creds_close(&c);
    if (rc != 0)
        return LY_LOGIN_EXIT_FAIL;
    if (call(r, "GET", ME_PATH, NULL, NULL, cred.access_token, &resp) != LY_OK)
        return LY_LOGIN_EXIT_FAIL;
    if (resp.status == 401) {
        printf("not signed in to %s (the session has ended)\n", r->url);
        return LY_LOGIN_EXIT_FAIL;
    }
    struct json_object *me = resp.status == 200 ? answer_json(r, &resp) : NULL;
    struct json_object *who = NULL;
    const char *name = NULL;
    if (me != NULL && json_object_object_get_ex(me, "user", &who))
        name = ly_json_get_string(who, "email");
    else if (me != NULL && json_object_object_get_ex(me, "service_account", &who))
        name = ly_json_get_string(who, "identifier");
    if (name == NULL) {
        report_answer(r, "asking who is signed in", &resp);
        return LY_LOGIN_EXIT_FAIL;
    }
    printf("signed in to %s as %s\n"
           "access token expires:  %s\n"
           "refresh token expires: %s\n",
           r->url, printable(r->a, name), when(r->a, cred.expires_at),
           when(r->a, cred.refresh_expires_at));
    return LY_LOGIN_EXIT_OK;
}

/*
 * SPEC §5.2: the refresh token alone ends its session, even with the access
 * token expired. quiet: no line on failure (a best effort).
 */
static int signout(struct run *r, const char *refresh_token, bool quiet, struct ly_httpc_resp *resp)
{
    char err[512];
    struct json_object *body = ly_json_own(r->a, json_object_new_object());
    json_object_object_add(body, "refresh_token", json_object_new_string(refresh_token));
    struct ly_httpc_req req = {
        .method = "POST",
        .url = ly_arena_printf(r->a, "%s%s", r->url, SIGNOUT_PATH),
        .content_type = "application/json",
        .body = ly_json_to_string(r->a, body, NULL),
    };
    int rc = ly_httpc_do(r->http, &req, r->a, resp, err, sizeof(err));
    if (rc != LY_OK && !quiet)
        fail_line("%s", err);
    return rc;
}

static int cmd_logout(struct run *r)
{
    struct ly_creds c;
    struct ly_cred cred;
    struct ly_httpc_resp resp;
    if (open_creds(r, &c) != 0)
        return LY_LOGIN_EXIT_FAIL;
    if (ly_creds_get(&c, r->a, r->url, &cred) != LY_OK) {
        ly_creds_close(&c);
        fprintf(stderr, "not signed in to %s\n", r->url);
        return LY_LOGIN_EXIT_OK;
    }
    int rc = signout(r, cred.refresh_token, false, &resp);
    if (rc != LY_OK || resp.status >= 500) {
        if (rc == LY_OK)
            report_answer(r, "signing out", &resp);
        fail_line("still signed in to %s (the tokens are kept)", r->url);
        ly_creds_close(&c);
        return LY_LOGIN_EXIT_FAIL;
    }
    /* 2xx, or a 4xx: the session was already gone; either way the tokens are useless now. */
    ly_creds_remove(&c, r->url);
    int saved = save_creds(r, &c);
    ly_creds_close(&c);
    if (saved != 0)
        return LY_LOGIN_EXIT_FAIL;
    fprintf(stderr, "signed out of %s\n", r->url);
    return LY_LOGIN_EXIT_OK;
}

/* xdg-open, when there is one on PATH. */
static bool have_xdg_open(struct ly_arena *a)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        return false;
    while (*path != '\0') {
        size_t n = strcspn(path, ":");
        if (n > 0 && access(ly_arena_printf(a, "%.*s/xdg-open", (int)n, path), X_OK) == 0)
            return true;
        path += n;
        if (*path == ':')
            path++;
    }
    return false;
}

/*
 * Open uri in the user's browser, not waiting for it: xdg-open in a
 * grandchild (no zombie left), its output discarded. Any failure only
 * means the user opens the link by hand.
 */
static void open_browser(struct ly_arena *a, const char *uri)
{
    if (!have_xdg_open(a))
        return;
    pid_t pid = fork();
    if (pid < 0)
        return;
    if (pid == 0) {
        if (fork() == 0) {
            int fd = open("/dev/null", O_RDWR);
            if (fd >= 0) {
                dup2(fd, 0);
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execlp("xdg-open", "xdg-open", uri, (char *)NULL);
        }
        _exit(0);
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* A link the server gave that is safe to hand to xdg-open: our own service's. */
static bool is_our_link(const struct run *r, const char *uri)
{
    size_t n = strlen(r->url);
    return uri != NULL && strncasecmp(uri, r->url, n) == 0 &&
           (uri[n] == '/' || uri[n] == '?' || uri[n] == '\0') && strchr(uri, '\'') == NULL;
}

static void sleep_s(int64_t s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = 0};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* RFC 8628 §3.4, §3.5: poll until approved, denied or expired. */
static int poll_device(struct run *r, const char *device_code, int64_t interval, int64_t expires_in,
                       struct ly_cred *out)
{
    const char *form = ly_arena_printf(r->a, "grant_type=%s&device_code=%s&client_id=%s",
                                       ly_httpc_form_escape(r->a, DEVICE_GRANT),
                                       ly_httpc_form_escape(r->a, device_code), CLIENT_ID);
    int64_t deadline = (int64_t)time(NULL) + expires_in;
    int failures = 0;

    for (;;) {
        struct ly_httpc_resp resp;
        sleep_s(interval);
        if (post_form(r, TOKEN_PATH, form, &resp) != LY_OK) {
            if (++failures >= MAX_POLL_FAILURES)
                return -1;
            continue;
        }
        failures = 0;
        if (resp.status == 200) {
            if (token_answer(r, &resp, out) != LY_OK) {
                fail_line("the token answer from %s is not a token response", r->url);
                return -1;
            }
            return 0;
        }
        const char *e = oauth_error(r, &resp);
        if (strcmp(e, "authorization_pending") == 0) {
        } else if (strcmp(e, "slow_down") == 0) {
            interval += SLOW_DOWN_STEP;
        } else if (strcmp(e, "access_denied") == 0) {
            fail_line("the sign-in was denied (access_denied)");
            return -1;
        } else if (strcmp(e, "expired_token") == 0) {
            fail_line("the code expired before it was approved (expired_token); run login again");
            return -1;
        } else {
            report_answer(r, "signing in", &resp);
            return -1;
        }
        if ((int64_t)time(NULL) >= deadline) {
            fail_line("the code expired before it was approved; run login again");
            return -1;
        }
    }
}

static int cmd_login(struct run *r, const struct args *o)
{
    struct ly_httpc_resp resp;
    struct ly_cred cred;
    struct ly_creds c;

    const char *form = ly_arena_printf(r->a, "client_id=%s", CLIENT_ID);
    if (o->org != NULL)
        form = ly_arena_printf(r->a, "%s&org=%s", form, ly_httpc_form_escape(r->a, o->org));
    if (post_form(r, DEVICE_PATH, form, &resp) != LY_OK)
        return LY_LOGIN_EXIT_FAIL;
    struct json_object *d = resp.status == 200 ? answer_json(r, &resp) : NULL;
    const char *device_code = d ? ly_json_get_string(d, "device_code") : NULL;
    const char *user_code = d ? ly_json_get_string(d, "user_code") : NULL;
    const char *uri = d ? ly_json_get_string(d, "verification_uri") : NULL;
    const char *complete = d ? ly_json_get_string(d, "verification_uri_complete") : NULL;
    int64_t interval = d ? ly_json_get_int(d, "interval", 5) : 5;
    int64_t expires_in = d ? ly_json_get_int(d, "expires_in", 600) : 600;
    if (device_code == NULL || user_code == NULL || uri == NULL) {
        report_answer(r, "starting the sign-in", &resp);
        return LY_LOGIN_EXIT_FAIL;
    }
    if (interval < 1 || interval > 60)
        interval = 5; /* RFC 8628 §3.2: 5 when absent; a silly value is not obeyed */
    if (expires_in < 1 || expires_in > 3600)
        expires_in = 600;
    const char *link = complete != NULL ? complete : uri;
    fprintf(stderr,
            "To sign in to %s, open this link in a browser:\n\n    %s\n\n"
            "and check that the page shows this code: %s\n"
            "(or go to %s and enter the code)\n",
            r->url, printable(r->a, link), printable(r->a, user_code), printable(r->a, uri));
    if (!o->no_browser && is_our_link(r, link))
        open_browser(r->a, link);
    fprintf(stderr, "Waiting for the approval...\n");

    if (poll_device(r, device_code, interval, expires_in, &cred) != 0)
        return LY_LOGIN_EXIT_FAIL;
    if (open_creds(r, &c) != 0)
        return LY_LOGIN_EXIT_FAIL;
    struct ly_cred old;
    bool had_old = ly_creds_get(&c, r->a, r->url, &old) == LY_OK;
    ly_creds_put(&c, r->url, &cred);
    int saved = save_creds(r, &c);
    ly_creds_close(&c);
    if (saved != 0)
        return LY_LOGIN_EXIT_FAIL;
    /* The session this sign-in replaces would otherwise live on unseen until it expires. */
    if (had_old && strcmp(old.refresh_token, cred.refresh_token) != 0)
        (void)signout(r, old.refresh_token, true, &resp);
    fprintf(stderr, "Signed in to %s.\n", r->url);
    return LY_LOGIN_EXIT_OK;
}

/* --url, else $LANYARD_URL, else the one entry of the file. Returns an exit status or -1. */
static int pick_url(struct run *r, const struct args *o)
{
    const char *url = o->url;
    if (url == NULL) {
        const char *env = getenv("LANYARD_URL");
        url = env != NULL && env[0] != '\0' ? env : NULL;
    }
    if (url == NULL) {
        struct ly_creds c;
        if (open_creds(r, &c) != 0)
            return LY_LOGIN_EXIT_FAIL;
        url = ly_creds_only_url(&c);
        ly_creds_close(&c);
        if (url == NULL) {
            fail_line("which service? give --url URL or set LANYARD_URL");
            return LY_LOGIN_EXIT_USAGE;
        }
    }
    r->url = ly_login_normalize_url(r->a, url);
    if (r->url == NULL) {
        fail_line("--url must be an https:// URL without user, query or fragment");
        return LY_LOGIN_EXIT_USAGE;
    }
    /* Tokens travel in the clear over http: only to this machine (as SPEC §5.15's rule). */
    if (is_lower_scheme(r->url, "http://") && !ly_httpc_is_loopback_http(r->url)) {
        fail_line("http:// is allowed only to this machine (127.0.0.1, [::1], localhost); use "
                  "https://");
        return LY_LOGIN_EXIT_USAGE;
    }
    return -1;
}

int ly_login_main(int argc, char **argv)
{
    struct args o = {0};
    struct ly_arena a;
    struct run r = {.a = &a};
    int rc;

    if (parse_args(argc, argv, &o) != 0) {
        usage(stderr);
        return LY_LOGIN_EXIT_USAGE;
    }
    if (strcmp(o.cmd, "help") == 0) {
        usage(stdout);
        return LY_LOGIN_EXIT_OK;
    }
    if (strcmp(o.cmd, "version") == 0) {
        printf(PROG " %s\n", PACKAGE_VERSION);
        return LY_LOGIN_EXIT_OK;
    }
    /* SPEC §1: a given token (a service-account key, in CI) is printed as it is, no file read. */
    const char *given = getenv("LANYARD_TOKEN");
    if (strcmp(o.cmd, "token") == 0 && given != NULL && given[0] != '\0') {
        printf("%s\n", given);
        return fflush(stdout) == 0 ? LY_LOGIN_EXIT_OK : LY_LOGIN_EXIT_FAIL;
    }

    ly_arena_init(&a, 16384);
    r.creds_path = ly_creds_default_path(&a);
    if (r.creds_path == NULL) {
        fail_line("no home directory: set HOME or XDG_CONFIG_HOME");
        rc = LY_LOGIN_EXIT_FAIL;
        goto out;
    }
    if ((rc = pick_url(&r, &o)) >= 0)
        goto out;
    struct ly_httpc_opts ho = {
        .connect_timeout_ms = 10000,
        .total_timeout_ms = 30000,
        .allow_http = ly_httpc_is_loopback_http(r.url),
        .user_agent = PROG "/" PACKAGE_VERSION,
    };
    if (ly_httpc_new(&ho, &r.http) != LY_OK) {
        fail_line("cannot start the HTTP client");
        rc = LY_LOGIN_EXIT_FAIL;
        goto out;
    }
    if (strcmp(o.cmd, "login") == 0)
        rc = cmd_login(&r, &o);
    else if (strcmp(o.cmd, "token") == 0)
        rc = cmd_token(&r);
    else if (strcmp(o.cmd, "refresh") == 0)
        rc = cmd_refresh(&r);
    else if (strcmp(o.cmd, "status") == 0)
        rc = cmd_status(&r);
    else
        rc = cmd_logout(&r);
out:
    ly_httpc_free(r.http);
    ly_arena_release(&a);
    return rc;
}
