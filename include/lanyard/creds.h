/*
 * creds: lanyard-login's credentials file, $XDG_CONFIG_HOME/lanyard/
 * credentials.json (SPEC §1): one entry per service URL, each the tokens of
 * one sign-in.
 *
 *   {"version": 1, "entries": {"https://id.example.com": {"access_token": …,
 *    "refresh_token": …, "expires_at": "RFC 3339", "refresh_expires_at": …,
 *    "session_id": …}}}
 *
 * The file is mode 0600 in a directory made 0700; it is only ever replaced
 * whole (a 0600 temporary file in the same directory, fsync, rename), and a
 * lock file next to it keeps two lanyard-login processes from refreshing
 * one session at once (a refresh token presented twice ends the session).
 * Members this version does not know are kept.
 */
#ifndef LY_CREDS_H
#define LY_CREDS_H

#include <stdint.h>

#include "lanyard/arena.h"

struct json_object;

struct ly_creds {
    char *path;               /* in the arena */
    char *dir;                /* in the arena */
    int lock_fd;              /* -1 when not locked */
    struct json_object *root; /* owned by the arena */
};

struct ly_cred {
    const char *access_token;
    const char *refresh_token;
    const char *session_id;     /* may be NULL */
    int64_t expires_at;         /* Unix seconds; 0 when unknown */
    int64_t refresh_expires_at; /* Unix seconds; 0 when unknown */
};

/*
 * The file's path: $XDG_CONFIG_HOME/lanyard/credentials.json when that is
 * set to an absolute path, else ~/.config/lanyard/credentials.json.
 * NULL when there is no home directory either.
 */
char *ly_creds_default_path(struct ly_arena *a);

/*
 * Make the file's directory (0700) when missing, lock, and read the file at
 * path; a missing file is an empty one. Refuses, with LY_E_FORBIDDEN, a file that its group or
 * others may read or that is not a regular file; LY_E_IO for a file that
 * cannot be read or is not the JSON above. err gets one line (what to do).
 * ly_creds_close must follow, on success only.
 */
int ly_creds_open(struct ly_arena *a, const char *path, struct ly_creds *out, char *err,
                  size_t errlen);
void ly_creds_close(struct ly_creds *c);

/* The entry for url into *out (strings in a), or LY_E_NOT_FOUND. */
int ly_creds_get(const struct ly_creds *c, struct ly_arena *a, const char *url,
                 struct ly_cred *out);

/* The one URL with an entry, or NULL when there are none or several. */
const char *ly_creds_only_url(const struct ly_creds *c);

/* Set or replace url's entry; other entries stay. In memory until saved. */
void ly_creds_put(struct ly_creds *c, const char *url, const struct ly_cred *cred);

/* Remove url's entry (nothing when there is none). In memory until saved. */
void ly_creds_remove(struct ly_creds *c, const char *url);

/* Write the file as described above; LY_E_IO with err on failure (the old file then stays). */
int ly_creds_save(struct ly_creds *c, struct ly_arena *a, char *err, size_t errlen);

#endif
