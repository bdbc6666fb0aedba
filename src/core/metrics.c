#include "build-config.h"
#include "banned.h"

#include "lanyard/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lanyard/codec.h"
#include "lanyard/err.h"

#define LY_METRICS_MAGIC 0x314d5452544d594cULL /* "LYMTRTM1" */

/* Upper bounds of the latency buckets, in µs (SPEC §6: check and me are the hot paths). */
static const int64_t bucket_us[LY_METRICS_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000};

/*
 * This process's slot. A process-wide pointer rather than a field of the
 * worker's context because the database layer and the throttle count too,
 * below the layer that owns the context; only the worker's own thread
 * writes through it.
 */
static struct ly_metrics_slot *mine;
/* This process's mapping of the host's revocation generation (ly_metrics_generation_open). */
static uint64_t *generation;

static inline void bump(uint64_t *p, uint64_t n)
{
    /* One writer per slot: a relaxed load and store, no locked instruction. */
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

uint64_t ly_metrics_layout(const struct ly_metrics_names *names)
{
    /* FNV-1a over "method pattern\n" of every row, and the struct's size. */
    uint64_t h = 0xcbf29ce484222325ULL ^ sizeof(struct ly_metrics_slot);
    for (size_t i = 0; i < names->n; i++) {
        for (int part = 0; part < 2; part++) {
            const char *s = part == 0 ? names->method[i] : names->pattern[i];
            for (; *s != '\0'; s++)
                h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
            h = (h ^ (unsigned char)(part == 0 ? ' ' : '\n')) * 0x100000001b3ULL;
        }
    }
    return h;
}

int ly_metrics_dir(const char *config_path, char *buf, size_t len)
{
    char abs[PATH_MAX];
    const char *p = config_path;
    if (realpath(config_path, abs) != NULL)
        p = abs;
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    int n = snprintf(buf, len, "%s/lanyard-metrics-%lu-%08x", base, (unsigned long)getuid(),
                     (unsigned)ly_crc32(p, strlen(p)));
    return n > 0 && (size_t)n < len ? LY_OK : LY_E_IO;
}

/* The directory exists, is ours and nobody else may write into it. */
static int ensure_dir(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "metrics directory %s cannot be made: %s", dir, strerror(errno));
        return LY_E_IO;
    }
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
        (st.st_mode & 022) != 0) {
        snprintf(err, errlen, "metrics directory %s is not a directory of this user only", dir);
        return LY_E_IO;
    }
    return LY_OK;
}

int ly_metrics_claim(const char *dir, uint64_t layout, char *err, size_t errlen)
{
    if (mine != NULL)
        return LY_OK;
    int r = ensure_dir(dir, err, errlen);
    if (r != LY_OK)
        return r;
    for (int i = 0; i < LY_METRICS_SLOTS; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/w-%04d", dir, i);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            continue;
        /* Held until the process ends: the kernel lets go of it however it ends. */
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            close(fd);
            continue;
        }
        struct stat st;
        bool used = fstat(fd, &st) == 0 && st.st_size == (off_t)sizeof(struct ly_metrics_slot);
        if (!used &&
            (ftruncate(fd, 0) != 0 || ftruncate(fd, sizeof(struct ly_metrics_slot)) != 0)) {
            close(fd);
            continue;
        }
        void *m =
            mmap(NULL, sizeof(struct ly_metrics_slot), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            continue;
        }
        struct ly_metrics_slot *s = m;
        bool adopt = used && s->magic == LY_METRICS_MAGIC && s->layout == layout;
        if (!adopt) {
            /* A new file, or counts of another route table: they start again from zero. */
            memset(s, 0, sizeof(*s));
            s->layout = layout;
            __atomic_store_n(&s->magic, LY_METRICS_MAGIC, __ATOMIC_RELEASE);
        }
        s->pid = (uint64_t)getpid();
        mine = s;
        /* fd stays open (and locked) on purpose: closing it would free the slot. */
        ly_metrics_count(LY_M_WORKER_STARTS);
        if (adopt)
            ly_metrics_count(LY_M_WORKER_RESTARTS);
        return LY_OK;
    }
    snprintf(err, errlen, "metrics directory %s: no slot free or usable", dir);
    return LY_E_IO;
}

int ly_metrics_generation_open(const char *dir, char *err, size_t errlen)
{
    if (generation != NULL)
        return LY_OK;
    int r = ensure_dir(dir, err, errlen);
    if (r != LY_OK)
        return r;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/revocations", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s cannot be opened: %s", path, strerror(errno));
        return LY_E_IO;
    }
    /* Growing a file to its size keeps what another process wrote; a new one reads 0. */
    struct stat st;
    void *m = MAP_FAILED;
    if (fstat(fd, &st) == 0 &&
        (st.st_size >= (off_t)sizeof(uint64_t) || ftruncate(fd, sizeof(uint64_t)) == 0))
        m = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd); /* the mapping stays */
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "%s cannot be mapped: %s", path, strerror(e));
        return LY_E_IO;
    }
    generation = m;
    return LY_OK;
}

bool ly_metrics_generation_mapped(void)
{
    return generation != NULL;
}

uint64_t ly_metrics_generation(void)
{
    return generation == NULL ? 0 : __atomic_load_n(generation, __ATOMIC_ACQUIRE);
}

void ly_metrics_generation_bump(void)
{
    /* Many writers (every worker and lanyardctl): a locked add, off the hot path. */
    if (generation != NULL)
        __atomic_add_fetch(generation, 1, __ATOMIC_RELEASE);
}

bool ly_metrics_claimed(void)
{
    return mine != NULL;
}

void ly_metrics_count(enum ly_metric m)
{
    if (mine != NULL && m < LY_M_N)
        bump(&mine->counters[m], 1);
}

void ly_metrics_request(size_t route, int status)
{
    if (mine == NULL || route >= LY_METRICS_ROUTES || status < 200 || status > 599)
        return;
    bump(&mine->requests[route][status / 100 - 2], 1);
}

void ly_metrics_observe(enum ly_metrics_hist h, int64_t us)
{
    if (mine == NULL || h >= LY_H_N)
        return;
    if (us < 0)
        us = 0;
    for (int i = 0; i < LY_METRICS_BUCKETS; i++)
        if (us <= bucket_us[i]) {
            bump(&mine->hist[h].bucket[i], 1);
            break;
        }
    bump(&mine->hist[h].sum_us, (uint64_t)us);
    bump(&mine->hist[h].count, 1);
}

static void add_words(uint64_t *a, const uint64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] += __atomic_load_n(&b[i], __ATOMIC_RELAXED);
}

void ly_metrics_add(struct ly_metrics_slot *a, const struct ly_metrics_slot *b)
{
    add_words(a->counters, b->counters, LY_M_N);
    add_words(&a->requests[0][0], &b->requests[0][0], LY_METRICS_ROUTES * 4);
    for (int h = 0; h < LY_H_N; h++) {
        add_words(a->hist[h].bucket, b->hist[h].bucket, LY_METRICS_BUCKETS);
        add_words(&a->hist[h].count, &b->hist[h].count, 1);
        add_words(&a->hist[h].sum_us, &b->hist[h].sum_us, 1);
    }
}

int ly_metrics_sum(const char *dir, uint64_t layout, struct ly_metrics_slot *out, size_t *workers)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return LY_E_IO;
    struct ly_metrics_slot sum;
    memset(&sum, 0, sizeof(sum));
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "w-", 2) != 0)
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        struct stat st;
        void *m = MAP_FAILED;
        if (fstat(fd, &st) == 0 && st.st_size == (off_t)sizeof(struct ly_metrics_slot))
            m = mmap(NULL, sizeof(struct ly_metrics_slot), PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED)
            continue;
        const struct ly_metrics_slot *s = m;
        if (__atomic_load_n(&s->magic, __ATOMIC_ACQUIRE) == LY_METRICS_MAGIC &&
            s->layout == layout) {
            ly_metrics_add(&sum, s);
            n++;
        }
        munmap(m, sizeof(struct ly_metrics_slot));
    }
    closedir(d);
    *out = sum;
    *workers = n;
    return LY_OK;
}

static void counter(FILE *fp, const char *name, const char *help)
{
    fprintf(fp, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
}

static void histogram(FILE *fp, const struct ly_metrics_slot *s, int h, const char *route)
{
    uint64_t cum = 0;
    for (int i = 0; i < LY_METRICS_BUCKETS; i++) {
        cum += s->hist[h].bucket[i];
        fprintf(fp, "lanyard_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", route,
                (double)bucket_us[i] / 1e6, (unsigned long long)cum);
    }
    fprintf(fp, "lanyard_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", route,
            (unsigned long long)s->hist[h].count);
    fprintf(fp, "lanyard_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route,
            (double)s->hist[h].sum_us / 1e6);
    fprintf(fp, "lanyard_request_duration_seconds_count{route=\"%s\"} %llu\n", route,
            (unsigned long long)s->hist[h].count);
}

int ly_metrics_render(FILE *fp, const struct ly_metrics_slot *s, size_t workers,
                      const struct ly_metrics_names *names)
{
    static const char *const classes[4] = {"2xx", "3xx", "4xx", "5xx"};
    counter(fp, "lanyard_http_requests_total",
            "Requests answered, by route of the route table and status class.");
    for (size_t i = 0; i <= names->n && i < LY_METRICS_ROUTES; i++)
        for (int c = 0; c < 4; c++) {
            /* Rows never seen are left out: a counter's first sample may come late. */
            if (s->requests[i][c] == 0)
                continue;
            bool none = i == names->n;
            fprintf(fp,
                    "lanyard_http_requests_total{method=\"%s\",route=\"%s\",code=\"%s\"} %llu\n",
                    none ? "" : names->method[i], none ? "none" : names->pattern[i], classes[c],
                    (unsigned long long)s->requests[i][c]);
        }
    fprintf(fp, "# HELP lanyard_request_duration_seconds Time to answer the hot paths.\n"
                "# TYPE lanyard_request_duration_seconds histogram\n");
    histogram(fp, s, LY_H_CHECK, "/api/auth/v1/check");
    histogram(fp, s, LY_H_ME, "/api/org/v1/me");

    counter(fp, "lanyard_signins_total", "Sign-ins (POST /api/auth/v1/signin) by outcome.");
    static const struct {
        enum ly_metric m;
        const char *outcome;
    } outcomes[] = {{LY_M_SIGNIN_SUCCESS, "success"},
                    {LY_M_SIGNIN_BAD_CREDENTIALS, "bad_credentials"},
                    {LY_M_SIGNIN_THROTTLED, "throttled"},
                    {LY_M_SIGNIN_INVALID, "invalid_request"},
                    {LY_M_SIGNIN_ERROR, "error"}};
    for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
        fprintf(fp, "lanyard_signins_total{outcome=\"%s\"} %llu\n", outcomes[i].outcome,
                (unsigned long long)s->counters[outcomes[i].m]);

    counter(fp, "lanyard_throttled_total", "Attempts the sign-in throttle refused (429).");
    fprintf(fp, "lanyard_throttled_total %llu\n", (unsigned long long)s->counters[LY_M_THROTTLED]);

    counter(fp, "lanyard_db_errors_total", "Database errors by kind.");
    static const struct {
        enum ly_metric m;
        const char *kind;
    } kinds[] = {{LY_M_DB_ERR_CONNECTION, "connection_lost"},
                 {LY_M_DB_ERR_CONNECT, "connect_failed"},
                 {LY_M_DB_ERR_DEADLOCK, "transaction_aborted"},
                 {LY_M_DB_ERR_OTHER, "other"}};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        fprintf(fp, "lanyard_db_errors_total{kind=\"%s\"} %llu\n", kinds[i].kind,
                (unsigned long long)s->counters[kinds[i].m]);

    counter(fp, "lanyard_db_reconnects_total",
            "Database connections made again after a worker's first.");
    fprintf(fp, "lanyard_db_reconnects_total %llu\n",
            (unsigned long long)s->counters[LY_M_DB_RECONNECTS]);
    counter(fp, "lanyard_worker_starts_total", "Worker processes started.");
    fprintf(fp, "lanyard_worker_starts_total %llu\n",
            (unsigned long long)s->counters[LY_M_WORKER_STARTS]);
    counter(fp, "lanyard_worker_restarts_total",
            "Worker processes started in place of one that had exited.");
    fprintf(fp, "lanyard_worker_restarts_total %llu\n",
            (unsigned long long)s->counters[LY_M_WORKER_RESTARTS]);
    counter(fp, "lanyard_auth_cache_total",
            "Credentials the verified-credential cache answered (hit), did not hold (miss), or "
            "held from before the host's last revocation (stale).");
    static const struct {
        enum ly_metric m;
        const char *result;
    } results[] = {{LY_M_AUTH_CACHE_HIT, "hit"},
                   {LY_M_AUTH_CACHE_MISS, "miss"},
                   {LY_M_AUTH_CACHE_STALE, "stale"}};
    for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++)
        fprintf(fp, "lanyard_auth_cache_total{result=\"%s\"} %llu\n", results[i].result,
                (unsigned long long)s->counters[results[i].m]);
    fprintf(fp,
            "# HELP lanyard_worker_slots Worker slots summed (workers alive and exited).\n"
            "# TYPE lanyard_worker_slots gauge\nlanyard_worker_slots %zu\n",
            workers);
    return ferror(fp) ? -1 : 0;
}
