/*
 * standalone: replay files through LLVMFuzzerTestOneInput without libFuzzer,
 * so that make check runs every target over its committed corpus under gcc
 * (and under ASan/UBSan with --enable-sanitizers).
 *
 *   fuzz_<parser> [DIR|FILE...]
 *
 * Without arguments it replays FUZZ_CORPUS, the target's committed corpus
 * (tests/fuzz/local.mk compiles its path in). A directory is read in name order, not recursively;
 * hidden files are skipped. Exits 0 when every input ran, 1 when a file could not be read; a broken
 * invariant aborts.
 */
#include "build-config.h"
#include "banned.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX (1024 * 1024) /* corpus files are small; this only bounds the read */

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf = NULL, *in = NULL;
    size_t n = 0;
    int r = -1;

    if (fp == NULL) {
        fprintf(stderr, "cannot open '%s': %s\n", path, strerror(errno));
        return -1;
    }
    buf = malloc(REPLAY_MAX + 1);
    if (buf == NULL)
        goto out;
    n = fread(buf, 1, REPLAY_MAX + 1, fp);
    if (ferror(fp) || n > REPLAY_MAX) {
        fprintf(stderr, "cannot read '%s' (or larger than %d bytes)\n", path, REPLAY_MAX);
        goto out;
    }
    /* An exact-size copy, so that ASan sees a read past the end of the input. */
    in = malloc(n ? n : 1);
    if (in == NULL)
        goto out;
    memcpy(in, buf, n);
    fprintf(stderr, "Running: %s\n", path); /* the last line names an input that aborts */
    LLVMFuzzerTestOneInput(in, n);
    r = 0;
out:
    free(in);
    free(buf);
    fclose(fp);
    return r;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int r = 0;

    if (d == NULL) {
        fprintf(stderr, "cannot open '%s': %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof(*names));
            if (grown == NULL)
                abort();
            names = grown;
        }
        size_t len = strlen(dir) + 1 + strlen(e->d_name) + 1;
        names[n] = malloc(len);
        if (names[n] == NULL)
            abort();
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(names[i]) != 0)
                r = -1;
            else
                (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return r;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int r = 0;
#ifdef FUZZ_CORPUS
    char *fallback[] = {argv[0], (char *)FUZZ_CORPUS, NULL};
    if (argc < 2) {
        argv = fallback;
        argc = 2;
    }
#endif

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "cannot stat '%s': %s\n", argv[i], strerror(errno));
            r = 1;
        } else if (S_ISDIR(st.st_mode)) {
            if (run_dir(argv[i], &count) != 0)
                r = 1;
        } else if (run_file(argv[i]) != 0) {
            r = 1;
        } else {
            count++;
        }
    }
    if (count == 0) {
        fprintf(stderr, "%s: no inputs\n", argv[0]);
        r = 1;
    }
    printf("%s: %zu inputs replayed\n", argv[0], count);
    return r;
}
