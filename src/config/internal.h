/*
 * config/internal.h: what the files of src/config/ share, and nothing
 * outside src/config/ includes.
 *
 *   config.c  the public entry points
 *   diag.c    the loader's errors and warnings, as FILE:LINE:COL: message
 *   yaml.c    libyaml events to a node tree whose nodes keep line and column
 *   keys.c    the key table, and the walk of the tree against it
 *   cidr.c    CIDR text to struct ly_cidr
 *   file.c    whole small files, and what their mode lets others do
 *   dump.c    the effective config as YAML (lanyardctl config check)
 */
#ifndef LY_CONFIG_INTERNAL_H
#define LY_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lanyard/config.h"

/* ---------------------------------------------------------------------------------------------
 * The node tree (yaml.c)
 */

enum node_kind { NODE_SCALAR, NODE_SEQ, NODE_MAP };

struct node {
    enum node_kind kind;
    unsigned long line, col; /* 1-based, from libyaml's start mark */
    char *value;             /* scalar: NUL-terminated copy; may also hold NULs */
    size_t len;
    bool plain;          /* plain style and no explicit tag: the only form read as int/bool/null */
    struct node **items; /* sequence: the items; mapping: key, value, key, value, ... */
    size_t n, cap;
};

/* "a scalar", "a list", "a mapping", indexed by enum node_kind */
extern const char *const ly_cfg_kind_names[];

void ly_cfg_node_free(struct node *n);

/* YAML 1.2 core schema: a plain empty, "~" or "null" scalar is null. */
bool ly_cfg_is_null(const struct node *n);

/* YAML 1.2 core schema booleans ("yes"/"no"/"on"/"off" are strings). 0, or -1: not a boolean. */
int ly_cfg_plain_bool(const struct node *n, bool *out);

/* A value quoted for an error message into buf: at most 48 bytes, controls escaped. */
const char *ly_cfg_show(const struct node *n, char *buf, size_t size);

/* ---------------------------------------------------------------------------------------------
 * The loader (config.c), its errors and warnings (diag.c)
 */

struct loader {
    const char *path;
    char *err;
    size_t errlen;
    struct ly_config *cfg;
    const unsigned char *buf; /* the file's bytes, for reader-error positions */
    size_t buflen;
    const struct node **seen_key; /* per key table row: the key node, NULL when defaulted */
    const struct node **seen_val;
};

/*
 * Parse ld->buf as one YAML document whose root is a mapping. Returns 0 and
 * *out (free with ly_cfg_node_free), or -1 with the error in ld.
 */
int ly_cfg_yaml_parse(struct loader *ld, struct node **out);

/* Write "PATH:LINE:COL: message" into ld->err. */
void ly_cfg_fail_at(struct loader *ld, unsigned long line, unsigned long col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* An error at a node; a NULL node (a defaulted key) is reported at 1:1. */
void ly_cfg_fail(struct loader *ld, const struct node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append "PATH:LINE:COL: message" to ld->cfg->warnings; a NULL node is 1:1. */
void ly_cfg_warn(struct loader *ld, const struct node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------------------------------------
 * The key table (keys.c)
 */

enum ktype { K_STRING, K_BOOL, K_UINT, K_U64, K_DURATION, K_ENUM, K_STRLIST, K_CIDRLIST, K_HOSTS };

#define KF_NONEMPTY    0x1 /* a string that must not be "" */
#define KF_SECRET_FILE 0x2 /* names a file read at load into aux_off; never printed */

struct key {
    const char *path; /* "section.key" or "section.sub.key" */
    enum ktype type;
    int64_t min, max; /* integers and durations */
    const char
        *def; /* the default as YAML text; a list's: items separated by spaces, or NULL (empty) */
    unsigned flags;           /* KF_* */
    size_t off;               /* the field in struct ly_config */
    size_t aux_off;           /* lists: the size_t count; KF_SECRET_FILE: the char * secret */
    const char *const *names; /* K_ENUM: the accepted values, indexed by enum value */
    int (*check)(struct loader *ld, const struct key *k, const struct node *at, void *field);
};

/* Every key of SPEC §2, in the order ly_config_dump prints them. */
extern const struct key ly_cfg_keys[];
extern const size_t ly_cfg_n_keys;

/*
 * Fill ld->cfg from root: the values written, the defaults of the others,
 * the checks between keys, then the *_file secrets; warnings for key and
 * secret files that all users may read.
 * Returns 0, or -1 with the error in ld.
 */
int ly_cfg_apply(struct loader *ld, const struct node *root);

/* Free what the key table's fields of cfg own (not cfg itself). */
void ly_cfg_release(struct ly_config *cfg);

/* ---------------------------------------------------------------------------------------------
 * Values (cidr.c, duration.c, file.c)
 */

/*
 * "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128), from the len
 * bytes at s. Returns 0 and *out, or -1; *hostbits is set when the only
 * fault is a bit set after the prefix length.
 */
int ly_cfg_cidr_parse(const char *s, size_t len, struct ly_cidr *out, bool *hostbits);

/* v seconds as the largest whole unit: "30d", "12h", "15m", "90s". Returns as snprintf. */
int ly_cfg_duration_format(int64_t v, char *buf, size_t size);

/*
 * Read a whole regular file of at most max bytes into a NUL-terminated
 * buffer, and its mode into *mode (when mode is not NULL). On failure
 * returns -1 with a reason in why; a partly read secret is wiped.
 */
int ly_cfg_slurp(const char *path, size_t max, bool secret, char **out, size_t *outlen,
                 mode_t *mode, char *why, size_t whylen);

/*
 * What a file of this mode lets every user do: "readable", "writable" or
 * "readable and writable" (by all users); NULL when neither (mode & 0006
 * is 0). The group bits are the operator's business (0640 root:www-data).
 */
const char *ly_cfg_exposure(mode_t mode);

#endif
