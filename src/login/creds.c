#include "build-config.h"
#include "banned.h"

#include "lanyard/creds.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "lanyard/err.h"
#include "lanyard/json.h"
#include "lanyard/rand.h"
#include "lanyard/str.h"

#define CREDS_VERSION 1
#define MAX_FILE      (1 << 20) /* far more than any number of sign-ins needs */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

char *ly_creds_default_path(struct ly_arena *a)
{
    /* XDG Base Directory: a relative XDG_CONFIG_HOME is invalid and ignored. */
    const char *xdg = getenv("XDG_CONFIG_HOME");
    if (xdg != NULL && xdg[0] == '/')
        return ly_arena_printf(a, "%s/lanyard/credentials.json", xdg);
    const char *home = getenv("HOME");
    if (home == NULL || home[0] != '/') {
        const struct passwd *pw = getpwuid(getuid());
        home = pw != NULL ? pw->pw_dir : NULL;
    }
    if (home == NULL || home[0] != '/')
        return NULL;
    return ly_arena_printf(a, "%s/.config/lanyard/credentials.json", home);
}

static struct json_object *empty_root(struct ly_arena *a)
{
    struct json_object *root = ly_json_own(a, json_object_new_object());
    json_object_object_add(root, "version", json_object_new_int(CREDS_VERSION));
    json_object_object_add(root, "entries", json_object_new_object());
    return root;
}

static struct json_object *entries_of(const struct ly_creds *c)
{
    struct json_object *e = NULL;
    json_object_object_get_ex(c->root, "entries", &e);
    return e;
}

/* Take the lock next to the file; its directory must exist. */
static int lock(struct ly_creds *c, struct ly_arena *a, char *err, size_t errlen)
{
    const char *lp = ly_arena_printf(a, "%s.lock", c->path);
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        set_err(err, errlen, "cannot open %s: %s", lp, strerror(errno));
        return LY_E_IO;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            set_err(err, errlen, "cannot lock %s: %s", lp, strerror(errno));
            close(fd);
            return LY_E_IO;
        }
    }
    c->lock_fd = fd;
    return LY_OK;
}

static int make_dirs(struct ly_arena *a, const char *dir, char *err, size_t errlen);

static int read_file(struct ly_arena *a, const char *path, struct json_object **root, char *err,
                     size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int r = LY_E_IO;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0 && errno == ENOENT) {
        *root = empty_root(a);
        return LY_OK;
    }
    if (fd < 0) {
        set_err(err, errlen, "cannot read %s: %s", path,
                errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        return errno == ELOOP ? LY_E_FORBIDDEN : LY_E_IO;
    }
    if (fstat(fd, &st) != 0) {
        set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, errlen, "%s is not a regular file", path);
        r = LY_E_FORBIDDEN;
        goto out;
    }
    if (st.st_uid != geteuid()) {
        set_err(err, errlen, "%s belongs to another user; remove it and sign in again", path);
        r = LY_E_FORBIDDEN;
        goto out;
    }
    /* Tokens in a file others can read are no longer secret: refuse, as ssh does a key. */
    if ((st.st_mode & 077) != 0) {
        set_err(err, errlen,
                "%s may be read by others (mode %04o); fix it with: chmod 600 %s (and sign in "
                "again if others may have read it)",
                path, (unsigned)(st.st_mode & 07777), path);
        r = LY_E_FORBIDDEN;
        goto out;
    }
    if (st.st_size > MAX_FILE) {
        set_err(err, errlen, "%s is too large to be a credentials file", path);
        goto out;
    }
    buf = ly_arena_alloc(a, (size_t)st.st_size + 1);
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    struct json_object *o = NULL, *e = NULL;
    if (ly_json_decode((struct ly_str){buf, len}, LY_JSON_MAX_DEPTH, 0, &o) != LY_OK ||
        !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "entries", &e) ||
        !json_object_is_type(e, json_type_object)) {
        json_object_put(o);
        set_err(err, errlen, "%s is not a lanyard-login credentials file; move it away", path);
        goto out;
    }
    if (ly_json_get_int(o, "version", CREDS_VERSION) > CREDS_VERSION) {
        json_object_put(o);
        set_err(err, errlen, "%s was written by a newer lanyard-login; use that one", path);
        goto out;
    }
    *root = ly_json_own(a, o);
    r = LY_OK;
out:
    close(fd);
    return r;
}

int ly_creds_open(struct ly_arena *a, const char *path, struct ly_creds *out, char *err,
                  size_t errlen)
{
    struct ly_creds c = {.lock_fd = -1};
    int r;

    c.path = ly_arena_strdup(a, path);
    const char *slash = strrchr(c.path, '/');
    c.dir = slash == NULL
                ? ly_arena_strdup(a, ".")
                : ly_arena_strndup(a, c.path, slash == c.path ? 1 : (size_t)(slash - c.path));
    /*
     * Locked from the read on, even before the file exists: two first
     * sign-ins at once must not each write a file without the other's entry.
     */
    if ((r = make_dirs(a, c.dir, err, errlen)) != LY_OK || (r = lock(&c, a, err, errlen)) != LY_OK)
        return r;
    if ((r = read_file(a, c.path, &c.root, err, errlen)) != LY_OK) {
        ly_creds_close(&c);
        return r;
    }
    *out = c;
    return LY_OK;
}

void ly_creds_close(struct ly_creds *c)
{
    if (c->lock_fd >= 0)
        close(c->lock_fd); /* releases the flock */
    c->lock_fd = -1;
}

static int64_t time_member(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    int64_t t = 0;
    if (!json_object_object_get_ex(o, key, &v))
        return 0;
    if (json_object_is_type(v, json_type_int))
        return json_object_get_int64(v);
    if (json_object_is_type(v, json_type_string) &&
        ly_time_parse(json_object_get_string(v), &t) == 0)
        return t;
    return 0;
}

int ly_creds_get(const struct ly_creds *c, struct ly_arena *a, const char *url, struct ly_cred *out)
{
    struct json_object *e = NULL;
    if (!json_object_object_get_ex(entries_of(c), url, &e) ||
        !json_object_is_type(e, json_type_object))
        return LY_E_NOT_FOUND;
    const char *at = ly_json_get_string(e, "access_token");
    const char *rt = ly_json_get_string(e, "refresh_token");
    const char *sid = ly_json_get_string(e, "session_id");
    if (at == NULL || rt == NULL)
        return LY_E_NOT_FOUND;
    out->access_token = ly_arena_strdup(a, at);
    out->refresh_token = ly_arena_strdup(a, rt);
    out->session_id = sid != NULL ? ly_arena_strdup(a, sid) : NULL;
    out->expires_at = time_member(e, "expires_at");
    out->refresh_expires_at = time_member(e, "refresh_expires_at");
    return LY_OK;
}

const char *ly_creds_only_url(const struct ly_creds *c)
{
    struct json_object *e = entries_of(c);
    const char *only = NULL;
    json_object_object_foreach(e, key, val)
    {
        (void)val;
        if (only != NULL)
            return NULL;
        only = key;
    }
    return only;
}

void ly_creds_put(struct ly_creds *c, const char *url, const struct ly_cred *cred)
{
    struct json_object *e = json_object_new_object();
    json_object_object_add(e, "access_token", json_object_new_string(cred->access_token));
    json_object_object_add(e, "refresh_token", json_object_new_string(cred->refresh_token));
    json_object_object_add(e, "expires_at",
                           ly_json_time(cred->expires_at > 0 ? cred->expires_at : -1));
    json_object_object_add(
        e, "refresh_expires_at",
        ly_json_time(cred->refresh_expires_at > 0 ? cred->refresh_expires_at : -1));
    json_object_object_add(e, "session_id", ly_json_str_or_null(cred->session_id));
    json_object_object_add(entries_of(c), url, e);
}

void ly_creds_remove(struct ly_creds *c, const char *url)
{
    json_object_object_del(entries_of(c), url);
}

/* mkdir -p with 0700 for every directory it makes (the umask may only narrow that). */
static int make_dirs(struct ly_arena *a, const char *dir, char *err, size_t errlen)
{
    char *p = ly_arena_strdup(a, dir);
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            set_err(err, errlen, "cannot make the directory %s: %s", p, strerror(errno));
            return LY_E_IO;
        }
        *s = saved;
        if (saved == '\0')
            return LY_OK;
    }
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int ly_creds_save(struct ly_creds *c, struct ly_arena *a, char *err, size_t errlen)
{
    char rnd[17];
    int r;

    if ((r = make_dirs(a, c->dir, err, errlen)) != LY_OK)
        return r;
    if (c->lock_fd < 0 && (r = lock(c, a, err, errlen)) != LY_OK)
        return r;
    json_object_object_add(c->root, "version", json_object_new_int(CREDS_VERSION));
    const char *text = json_object_to_json_string_ext(c->root, JSON_C_TO_STRING_PRETTY |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE);

    ly_rand_base32_lower(rnd, 16);
    const char *tmp = ly_arena_printf(a, "%s/.credentials.%s.tmp", c->dir, rnd);
    /* Created 0600 and exclusively: the tokens are never in a file with a wider mode. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_err(err, errlen, "cannot write in %s: %s", c->dir, strerror(errno));
        return LY_E_IO;
    }
    if (write_all(fd, text, strlen(text)) != 0 || write_all(fd, "\n", 1) != 0 || fsync(fd) != 0) {
        set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return LY_E_IO;
    }
    if (close(fd) != 0 || rename(tmp, c->path) != 0) {
        set_err(err, errlen, "cannot replace %s: %s", c->path, strerror(errno));
        unlink(tmp);
        return LY_E_IO;
    }
    /* The rename itself lasts only once the directory is on disk. */
    int dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return LY_OK;
}
