#include "build-config.h"
#include "banned.h"

#include "lanyard/devices.h"

#include <string.h>

#include "lanyard/db.h"
#include "lanyard/err.h"
#include "lanyard/rand.h"

#define H(h) LY_DB_B((h), LY_SHA256_LEN)

void ly_device_user_code_generate(char out[LY_USER_CODE_LEN + 1])
{
    ly_rand_from_alphabet(out, LY_USER_CODE_LEN, LY_USER_CODE_ALPHABET);
    out[LY_USER_CODE_LEN] = '\0';
}

bool ly_device_user_code_normalize(const char *typed, char out[LY_USER_CODE_LEN + 1])
{
    char code[LY_USER_CODE_LEN + 1];
    size_t n = 0;
    if (typed == NULL)
        return false;
    /* RFC 8628 §6.1: people type codes loosely; the hyphen is only there to help them read it. */
    for (const char *p = typed; *p != '\0'; p++) {
        if (*p == '-')
            continue;
        char ch = *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        if (n == LY_USER_CODE_LEN || strchr(LY_USER_CODE_ALPHABET, ch) == NULL)
            return false;
        code[n++] = ch;
    }
    if (n != LY_USER_CODE_LEN)
        return false;
    code[n] = '\0';
    memcpy(out, code, sizeof(code));
    return true;
}

void ly_device_user_code_format(const char code[LY_USER_CODE_LEN + 1],
                                char out[LY_USER_CODE_SHOWN_LEN + 1])
{
    memcpy(out, code, 4);
    out[4] = '-';
    memcpy(out + 5, code + 4, 4);
    out[LY_USER_CODE_SHOWN_LEN] = '\0';
}

static const char *const status_names[] = {
    [LY_DEVICE_PENDING] = "pending",
    [LY_DEVICE_APPROVED] = "approved",
    [LY_DEVICE_DENIED] = "denied",
    [LY_DEVICE_CONSUMED] = "consumed",
};

static int status_parse(const char *s, enum ly_device_status *out)
{
    for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
        if (s != NULL && strcmp(s, status_names[i]) == 0) {
            *out = (enum ly_device_status)i;
            return LY_OK;
        }
    }
    return LY_E_INTERNAL;
}

int ly_devices_create(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                      const char *user_code, int64_t now, int64_t expires_at)
{
    struct ly_db_value p[] = {H(hash), LY_DB_S(user_code), LY_DB_T(now), LY_DB_T(expires_at),
                              LY_DB_I(LY_DEVICE_INTERVAL)};
    return ly_db_exec(db, a,
                      "INSERT INTO device_codes (device_code_hash, user_code, created_at,"
                      " expires_at, poll_interval) VALUES (?, ?, ?, ?, ?)",
                      p, 5, NULL);
}

/* What device_of_row reads, in its order; the statements add their WHERE. */
#define DEVICE_SELECT                                                                              \
    "SELECT user_code, status, expires_at, poll_interval, last_poll_at, user_id FROM device_codes"

static int device_of_row(const struct ly_db_result *res, struct ly_device *out)
{
    struct ly_device d;
    const char *code = ly_db_str(res, 0, 0);
    if (code == NULL || strlen(code) != LY_USER_CODE_LEN ||
        status_parse(ly_db_str(res, 0, 1), &d.status) != LY_OK)
        return LY_E_INTERNAL;
    memcpy(d.user_code, code, LY_USER_CODE_LEN + 1);
    d.expires_at = ly_db_int(res, 0, 2, 0);
    d.poll_interval = ly_db_int(res, 0, 3, LY_DEVICE_INTERVAL);
    d.last_poll_at = ly_db_int(res, 0, 4, -1);
    const char *uid = ly_db_str(res, 0, 5);
    d.user_id = uid; /* in the arena already */
    *out = d;
    return LY_OK;
}

/*
 * The lock guards single-row rules (a code is consumed once, polled no
 * faster than its interval), and every outcome writes that same row with a
 * real change (status to consumed, or last_poll_at to the newer time): on
 * Galera two polls on two nodes write one row and one is refused at
 * certification, so no guard counter is needed (doc/decisions.md, "Galera").
 */
int ly_devices_lock(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                    struct ly_device *out)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {H(hash)};
    int r =
        ly_db_exec_one(db, a, DEVICE_SELECT " WHERE device_code_hash = ? FOR UPDATE", p, 1, &res);
    if (r != LY_OK)
        return r;
    return device_of_row(&res, out);
}

int ly_devices_polled(struct ly_db *db, struct ly_arena *a, const unsigned char hash[LY_SHA256_LEN],
                      int64_t now, int64_t poll_interval)
{
    struct ly_db_value p[] = {LY_DB_T(now), LY_DB_I(poll_interval), H(hash)};
    return ly_db_exec(db, a,
                      "UPDATE device_codes SET last_poll_at = ?, poll_interval = ?"
                      " WHERE device_code_hash = ?",
                      p, 3, NULL);
}

int ly_devices_consume(struct ly_db *db, struct ly_arena *a,
                       const unsigned char hash[LY_SHA256_LEN], int64_t now, bool *won)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {H(hash), LY_DB_T(now)};
    int r = ly_db_exec(db, a,
                       "UPDATE device_codes SET status = 'consumed'"
                       " WHERE device_code_hash = ? AND status = 'approved' AND expires_at > ?",
                       p, 2, &res);
    if (r == LY_OK)
        *won = res.affected == 1;
    return r;
}

int ly_devices_get_by_user_code(struct ly_db *db, struct ly_arena *a, const char *user_code,
                                struct ly_device *out)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(user_code)};
    int r = ly_db_exec_one(db, a, DEVICE_SELECT " WHERE user_code = ?", p, 1, &res);
    if (r != LY_OK)
        return r;
    return device_of_row(&res, out);
}

int ly_devices_decide(struct ly_db *db, struct ly_arena *a, const char *user_code,
                      const char *user_id, bool approve, int64_t now, bool *decided)
{
    struct ly_db_result res;
    struct ly_db_value p[] = {LY_DB_S(approve ? "approved" : "denied"), LY_DB_S(user_id),
                              LY_DB_S(user_code), LY_DB_T(now)};
    int r = ly_db_exec(db, a,
                       "UPDATE device_codes SET status = ?, user_id = ?"
                       " WHERE user_code = ? AND status = 'pending' AND expires_at > ?",
                       p, 4, &res);
    if (r == LY_OK)
        *decided = res.affected == 1;
    return r;
}
