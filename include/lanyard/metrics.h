/*
 * metrics: the counters of SPEC §6's GET /api/metrics, summed over every
 * worker of the host whichever worker answers.
 *
 * Each worker process owns one slot: a file of fixed layout in the host's
 * metrics directory (derived from the config file's path, see
 * ly_metrics_dir), mapped shared and held with flock() while the worker
 * lives. Only its owner writes a slot, with relaxed atomic stores, so the
 * hot path takes no lock; a reader maps every slot of the directory and
 * sums them. A slot whose owner died keeps its counts (the kernel drops
 * the lock, not the file): the next worker that starts takes it over and
 * counts on from there, which keeps every sum monotonic and the number of
 * files bounded by the most workers alive at once. Taking over a used slot
 * is what lanyard_worker_restarts_total counts.
 *
 * The counting calls do nothing in a process without a slot (lanyardctl,
 * the prefork parent, unit tests that did not claim one).
 */
#ifndef LY_METRICS_H
#define LY_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LY_METRICS_ROUTES  96   /* rows of request counts: the route table's, one for "no route" */
#define LY_METRICS_BUCKETS 14   /* latency histogram bounds, 100 µs to 2.5 s (+Inf is the count) */
#define LY_METRICS_SLOTS   1024 /* slot files a directory may hold */

enum ly_metric {
    LY_M_SIGNIN_SUCCESS,
    LY_M_SIGNIN_BAD_CREDENTIALS, /* wrong password, unknown or disabled account: 401 */
    LY_M_SIGNIN_THROTTLED,       /* 429 */
    LY_M_SIGNIN_INVALID,         /* a malformed request: 400, 415 */
    LY_M_SIGNIN_ERROR,           /* the database or the host could not serve it: 5xx */
    LY_M_THROTTLED,              /* attempts the throttle refused (any endpoint) */
    LY_M_DB_ERR_CONNECTION,      /* a connection lost, or a Galera node not ready */
    LY_M_DB_ERR_CONNECT,         /* a connect that failed */
    LY_M_DB_ERR_DEADLOCK,        /* a transaction InnoDB or Galera rolled back */
    LY_M_DB_ERR_OTHER,           /* any other server error (a 500) */
    LY_M_DB_RECONNECTS,          /* connections made after the worker's first */
    LY_M_WORKER_STARTS,
    LY_M_WORKER_RESTARTS,  /* starts that took over the slot of a worker that had exited */
    LY_M_AUTH_CACHE_HIT,   /* a credential answered from the worker's cache */
    LY_M_AUTH_CACHE_MISS,  /* not in the cache (or expired there): verified in full */
    LY_M_AUTH_CACHE_STALE, /* in the cache, but filled before the host's last revocation */
    LY_M_N
};

enum ly_metrics_hist { LY_H_CHECK, LY_H_ME, LY_H_N };

/* One worker's counts, as laid out in its slot file. */
struct ly_metrics_slot {
    uint64_t magic;  /* LY_METRICS_MAGIC once initialised */
    uint64_t layout; /* ly_metrics_layout of the route names: a changed table starts afresh */
    uint64_t pid;    /* the last owner, for operators reading the files */
    uint64_t counters[LY_M_N];
    uint64_t requests[LY_METRICS_ROUTES][4]; /* status class 2xx, 3xx, 4xx, 5xx */
    struct {
        uint64_t bucket[LY_METRICS_BUCKETS]; /* not cumulative: bucket i holds (b[i-1], b[i]] */
        uint64_t count;
        uint64_t sum_us;
    } hist[LY_H_N];
};

/* What the routes' rows are called: route i is "<method[i]> <pattern[i]>"; n at most ROUTES-1. */
struct ly_metrics_names {
    const char *const *method;
    const char *const *pattern;
    size_t n;
};

/* A hash of the names, stored in every slot: slots of another route table are not summed. */
uint64_t ly_metrics_layout(const struct ly_metrics_names *names);

/*
 * The metrics directory of a config file: /dev/shm (else /tmp)
 * /lanyard-metrics-<uid>-<crc32 of the absolute path>. Every worker started
 * with the same config by the same user meets there, whichever front end
 * started it. Written to buf; LY_OK or LY_E_IO.
 */
int ly_metrics_dir(const char *config_path, char *buf, size_t len);

/*
 * Claim a slot of dir (made 0700 when missing; refused when another user
 * owns it or others may write it) for this process, for the rest of its
 * life. LY_OK, or LY_E_IO with a one-line reason in err (the worker serves
 * on without metrics). A second call in the same process is a no-op.
 */
int ly_metrics_claim(const char *dir, uint64_t layout, char *err, size_t errlen);

/* true once this process holds a slot. */
bool ly_metrics_claimed(void);

/* The counting calls: relaxed atomic adds to this process's slot, nothing without one. */
void ly_metrics_count(enum ly_metric m);
void ly_metrics_request(size_t route, int status);
void ly_metrics_observe(enum ly_metrics_hist h, int64_t us);

/*
 * The host's revocation generation: one 64-bit counter in the file
 * "revocations" of dir (the metrics directory), mapped shared. Every change
 * that can revoke or narrow a credential bumps it after its transaction
 * commits; the verified-credential cache (lanyard/auth.h) treats a slot
 * filled under another generation as a miss, so no revocation on this
 * host waits for security.auth_cache_ttl. Open maps it for the rest of the
 * process's life (LY_OK, or LY_E_IO with a reason in err; a second call is
 * a no-op).
 */
int ly_metrics_generation_open(const char *dir, char *err, size_t errlen);
/* true once the counter is mapped. */
bool ly_metrics_generation_mapped(void);
/* The counter (an acquire load); 0 when not mapped. */
uint64_t ly_metrics_generation(void);
/* Bump it (an atomic add); nothing when not mapped. */
void ly_metrics_generation_bump(void);

/*
 * The sums over every slot of dir with this layout, into *out (zeroed
 * first); *workers is the number of slots summed. LY_OK or LY_E_IO.
 */
int ly_metrics_sum(const char *dir, uint64_t layout, struct ly_metrics_slot *out, size_t *workers);

/* Add slot b into a (the summing step, exposed for the tests). */
void ly_metrics_add(struct ly_metrics_slot *a, const struct ly_metrics_slot *b);

/* The Prometheus text exposition 0.0.4 of sums. 0, or -1 when fp failed. */
int ly_metrics_render(FILE *fp, const struct ly_metrics_slot *sums, size_t workers,
                      const struct ly_metrics_names *names);

#endif
