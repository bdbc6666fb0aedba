/*
 * devices: the codes of the device authorization grant (SPEC §5.4, RFC
 * 8628). A device code is a secret ("lyd_" + 43 base62 + CRC, like every
 * opaque token) stored only as its SHA-256; the user code is 8 characters
 * of an alphabet without vowels or look-alikes, shown XXXX-XXXX and stored
 * without the hyphen. A code is pending until its user approves or denies
 * it, then approved (its tokens not yet fetched), denied or consumed.
 *
 * The user-code helpers at the top are pure (no database).
 */
#ifndef LY_DEVICES_H
#define LY_DEVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "lanyard/arena.h"
#include "lanyard/hash.h"

struct ly_db;

#define LY_DEVICE_PREFIX       "lyd"
#define LY_USER_CODE_LEN       8
#define LY_USER_CODE_SHOWN_LEN 9 /* XXXX-XXXX */
#define LY_USER_CODE_ALPHABET  "BCDFGHJKLMNPQRSTVWXZ"
#define LY_DEVICE_TTL          600 /* seconds: expires_in */
#define LY_DEVICE_INTERVAL     5   /* seconds: the first polling interval */
#define LY_DEVICE_SLOW_DOWN    5   /* seconds added per too-fast poll (RFC 8628 §3.5) */

/* A new random user code (8 letters of the alphabet, no hyphen) into out. */
void ly_device_user_code_generate(char out[LY_USER_CODE_LEN + 1]);

/*
 * A user code as typed (any case, hyphens anywhere) in its stored form: 8
 * upper-case letters of the alphabet. false, with out untouched, for
 * anything else (another character, too short or too long).
 */
bool ly_device_user_code_normalize(const char *typed, char out[LY_USER_CODE_LEN + 1]);

/* The stored form as shown to people: "BCDF-GHJK". */
void ly_device_user_code_format(const char code[LY_USER_CODE_LEN + 1],
                                char out[LY_USER_CODE_SHOWN_LEN + 1]);

enum ly_device_status {
    LY_DEVICE_PENDING,
    LY_DEVICE_APPROVED,
    LY_DEVICE_DENIED,
    LY_DEVICE_CONSUMED,
};

struct ly_device {
    char user_code[LY_USER_CODE_LEN + 1];
    enum ly_device_status status;
    int64_t expires_at;
    int64_t poll_interval; /* seconds */
    int64_t last_poll_at;  /* -1: never polled */
    const char *user_id;   /* approved, denied, consumed: who decided */
};

/*
 * Store a new pending code: hash of the device code, its user code, expiring
 * at expires_at. LY_E_CONFLICT when that user code is taken (make another).
 */
int ly_devices_create(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                      const char *user_code, int64_t now, int64_t expires_at);

/*
 * The code of a device code's hash, its row locked until the unit ends so
 * that polls of one code (and its approval) are taken one at a time.
 * LY_E_NOT_FOUND when unknown.
 */
int ly_devices_lock(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                    struct ly_device *out);

/* Record a poll at now with the interval the code now has (grown after a too-fast poll). */
int ly_devices_polled(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                      int64_t now, int64_t poll_interval);

/*
 * Turn an approved, unexpired code into a consumed one. *won is true when
 * this call did (the database's affected count decides: of racing polls
 * only one is told so).
 */
int ly_devices_consume(struct ly_db *db, struct ly_arena *a,
                       const unsigned char hash[LY_SHA256_LEN], int64_t now, bool *won);

/* The code of a user code (stored form), without a lock. LY_E_NOT_FOUND when unknown. */
int ly_devices_get_by_user_code(struct ly_db *db, struct ly_arena *a, const char *user_code,
                                struct ly_device *out);

/*
 * Approve (or deny) a pending, unexpired code for user_id. *decided is
 * false when it was not pending any more (decided or expired meanwhile).
 */
int ly_devices_decide(struct ly_db *db, struct ly_arena *a, const char *user_code,
                      const char *user_id, bool approve, int64_t now, bool *decided);

#endif
