/*
 * metrics: the slot files of include/lanyard/metrics.h summed over worker
 * processes (forked here, each claiming its own slot, as workers do), a
 * dead worker's counts kept and its slot taken over, and the Prometheus
 * text exposition of the sums.
 */
#include "build-config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lanyard/err.h"
#include "lanyard/metrics.h"

static const char *const methods[] = {"GET", "POST", "GET"};
static const char *const patterns[] = {"/api/auth/v1/check", "/api/auth/v1/signin",
                                       "/api/org/v1/orgs/{}"};
static const struct ly_metrics_names names = {methods, patterns, 3};

/* A worker: claims a slot of dir, counts, then exits (stay: waits for a byte on fd first). */
static pid_t worker(const char *dir, int checks, int hold_fd)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0)
        return pid;
    char err[256];
    if (ly_metrics_claim(dir, ly_metrics_layout(&names), err, sizeof(err)) != LY_OK)
        _exit(3);
    for (int i = 0; i < checks; i++) {
        ly_metrics_request(0, 200);
        ly_metrics_observe(LY_H_CHECK, 150 * (i + 1)); /* 150, 300, 450 µs ... */
    }
    ly_metrics_request(2, 404);
    ly_metrics_count(LY_M_SIGNIN_BAD_CREDENTIALS);
    if (hold_fd >= 0) {
        char b;
        if (read(hold_fd, &b, 1) < 0)
            _exit(4);
    }
    _exit(0);
}

static void reap(pid_t pid)
{
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_sums_over_workers(void **state)
{
    (void)state;
    char dir[] = "/tmp/lanyard-test-metrics-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[sizeof(dir) + 8];
    snprintf(sub, sizeof(sub), "%s/m", dir);
    uint64_t layout = ly_metrics_layout(&names);

    /* Two alive at once (two slots), then one more after both exited (it takes one over). */
    int p1[2], p2[2];
    assert_int_equal(pipe(p1), 0);
    assert_int_equal(pipe(p2), 0);
    pid_t a = worker(sub, 3, p1[0]);
    pid_t b = worker(sub, 2, p2[0]);
    /* Both have claimed once the directory holds two slot files that are summed. */
    struct ly_metrics_slot s;
    size_t n = 0;
    for (int tries = 0; tries < 10000 && n < 2; tries++) {
        if (ly_metrics_sum(sub, layout, &s, &n) != LY_OK)
            n = 0;
        if (n < 2)
            usleep(1000);
    }
    assert_int_equal(n, 2);
    assert_int_equal(write(p1[1], "x", 1), 1);
    assert_int_equal(write(p2[1], "x", 1), 1);
    reap(a);
    reap(b);
    reap(worker(sub, 4, -1));

    assert_int_equal(ly_metrics_sum(sub, layout, &s, &n), LY_OK);
    assert_int_equal(n, 2); /* the third worker reused a dead one's slot */
    assert_int_equal(s.requests[0][0], 3 + 2 + 4);
    assert_int_equal(s.requests[2][2], 3);
    assert_int_equal(s.requests[1][0], 0);
    assert_int_equal(s.counters[LY_M_SIGNIN_BAD_CREDENTIALS], 3);
    assert_int_equal(s.counters[LY_M_WORKER_STARTS], 3);
    assert_int_equal(s.counters[LY_M_WORKER_RESTARTS], 1);
    assert_int_equal(s.hist[LY_H_CHECK].count, 9);
    /* 150+300+450 + 150+300 + 150+300+450+600 µs */
    assert_int_equal(s.hist[LY_H_CHECK].sum_us, 2850);
    assert_int_equal(s.hist[LY_H_CHECK].bucket[1], 3); /* (100, 250] µs: the 150s */
    assert_int_equal(s.hist[LY_H_CHECK].bucket[2], 5); /* (250, 500] µs */
    assert_int_equal(s.hist[LY_H_CHECK].bucket[3], 1); /* (500, 1000] µs: 600 */

    /* Slots of another route table are not summed. */
    assert_int_equal(ly_metrics_sum(sub, layout + 1, &s, &n), LY_OK);
    assert_int_equal(n, 0);
    assert_int_equal(s.requests[0][0], 0);

    /* Nobody else may own or write the directory: a group-writable one is refused. */
    char err[256];
    char bad[sizeof(dir) + 8];
    snprintf(bad, sizeof(bad), "%s/g", dir);
    assert_int_equal(mkdir(bad, 0700), 0);
    assert_int_equal(chmod(bad, 0770), 0);
    assert_int_equal(ly_metrics_claim(bad, layout, err, sizeof(err)), LY_E_IO);
    assert_non_null(strstr(err, "not a directory of this user only"));
    assert_false(ly_metrics_claimed());

    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_dir_of_config(void **state)
{
    (void)state;
    char a[256], b[256], c[256];
    assert_int_equal(ly_metrics_dir("/etc/lanyard/lanyard.yaml", a, sizeof(a)), LY_OK);
    assert_int_equal(ly_metrics_dir("/etc/lanyard/lanyard.yaml", b, sizeof(b)), LY_OK);
    assert_int_equal(ly_metrics_dir("/etc/lanyard/other.yaml", c, sizeof(c)), LY_OK);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_non_null(strstr(a, "/lanyard-metrics-"));
    char tiny[8];
    assert_int_equal(ly_metrics_dir("/etc/lanyard/lanyard.yaml", tiny, sizeof(tiny)), LY_E_IO);
}

static char *render(const struct ly_metrics_slot *s, size_t workers)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    assert_non_null(fp);
    assert_int_equal(ly_metrics_render(fp, s, workers, &names), 0);
    assert_int_equal(fclose(fp), 0);
    return text;
}

static void test_exposition(void **state)
{
    (void)state;
    struct ly_metrics_slot s;
    memset(&s, 0, sizeof(s));
    s.requests[0][0] = 7;
    s.requests[0][2] = 2;
    s.requests[3][2] = 5; /* no route */
    s.hist[LY_H_CHECK].bucket[0] = 4;
    s.hist[LY_H_CHECK].bucket[3] = 2;
    s.hist[LY_H_CHECK].count = 7; /* one above the last bound */
    s.hist[LY_H_CHECK].sum_us = 3001234;
    s.counters[LY_M_SIGNIN_SUCCESS] = 11;
    s.counters[LY_M_SIGNIN_THROTTLED] = 1;
    s.counters[LY_M_THROTTLED] = 1;
    s.counters[LY_M_DB_RECONNECTS] = 2;
    s.counters[LY_M_WORKER_RESTARTS] = 3;
    char *t = render(&s, 4);
    static const char *const want[] = {
        "# TYPE lanyard_http_requests_total counter\n",
        "\nlanyard_http_requests_total{method=\"GET\",route=\"/api/auth/v1/check\",code=\"2xx\"} "
        "7\n",
        "\nlanyard_http_requests_total{method=\"GET\",route=\"/api/auth/v1/check\",code=\"4xx\"} "
        "2\n",
        "\nlanyard_http_requests_total{method=\"\",route=\"none\",code=\"4xx\"} 5\n",
        "# TYPE lanyard_request_duration_seconds histogram\n",
        "\nlanyard_request_duration_seconds_bucket{route=\"/api/auth/v1/check\",le=\"0.0001\"} 4\n",
        "\nlanyard_request_duration_seconds_bucket{route=\"/api/auth/v1/check\",le=\"0.0005\"} 4\n",
        "\nlanyard_request_duration_seconds_bucket{route=\"/api/auth/v1/check\",le=\"0.001\"} 6\n",
        "\nlanyard_request_duration_seconds_bucket{route=\"/api/auth/v1/check\",le=\"2.5\"} 6\n",
        "\nlanyard_request_duration_seconds_bucket{route=\"/api/auth/v1/check\",le=\"+Inf\"} 7\n",
        "\nlanyard_request_duration_seconds_sum{route=\"/api/auth/v1/check\"} 3.001234\n",
        "\nlanyard_request_duration_seconds_count{route=\"/api/auth/v1/check\"} 7\n",
        "\nlanyard_request_duration_seconds_count{route=\"/api/org/v1/me\"} 0\n",
        "\nlanyard_signins_total{outcome=\"success\"} 11\n",
        "\nlanyard_signins_total{outcome=\"bad_credentials\"} 0\n",
        "\nlanyard_signins_total{outcome=\"throttled\"} 1\n",
        "\nlanyard_throttled_total 1\n",
        "\nlanyard_db_errors_total{kind=\"connection_lost\"} 0\n",
        "\nlanyard_db_reconnects_total 2\n",
        "\nlanyard_worker_restarts_total 3\n",
        "\nlanyard_worker_slots 4\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (strstr(t, want[i]) == NULL)
            fail_msg("missing: %s\nin:\n%s", want[i], t);
    }
    /* Rows never counted are left out; every line ends with a newline. */
    assert_null(strstr(t, "route=\"/api/auth/v1/signin\",code="));
    assert_null(strstr(t, "code=\"5xx\""));
    assert_int_equal(t[strlen(t) - 1], '\n');
    /* Every sample line is NAME{labels} VALUE or NAME VALUE, with a metric declared by # TYPE. */
    for (char *line = strtok(t, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        assert_true(strncmp(line, "lanyard_", 8) == 0);
        assert_non_null(strrchr(line, ' '));
    }
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition),
        cmocka_unit_test(test_dir_of_config),
        cmocka_unit_test(test_sums_over_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
