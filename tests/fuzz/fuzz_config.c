/*
 * fuzz_config: YAML configuration text through ly_config_load_mem.
 *
 * Invariants: the load succeeds, or fails with one line of the form
 * "fuzz.yaml:LINE:COL: message" (LINE and COL positive decimals, a message
 * after them) and leaves its output alone; a config that loads, printed by
 * ly_config_dump, loads again and prints the same text.
 */
#include "build-config.h"
#include "banned.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "lanyard/config.h"
#include "lanyard/err.h"

#include "fuzz.h"

#define NAME "fuzz.yaml"

/* "NAME:LINE:COL: message" with no newline */
static bool error_shape_ok(const char *err)
{
    size_t nlen = strlen(NAME);
    const char *p = err;

    if (strncmp(p, NAME ":", nlen + 1) != 0)
        return false;
    p += nlen + 1;
    for (int field = 0; field < 2; field++) {
        if (!isdigit((unsigned char)*p) || *p == '0')
            return false;
        while (isdigit((unsigned char)*p))
            p++;
        if (*p++ != ':')
            return false;
    }
    return *p == ' ' && p[1] != '\0';
}

static char *dump(const struct ly_config *cfg, size_t *len)
{
    char *text = NULL;
    FILE *fp = open_memstream(&text, len);
    FUZZ_CHECK(fp != NULL);
    ly_config_dump(cfg, fp);
    FUZZ_CHECK(fclose(fp) == 0);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ly_config *sentinel = (struct ly_config *)&size; /* any address that is not a config */
    struct ly_config *cfg = sentinel, *again = sentinel;
    char err[512];

    memset(err, 'x', sizeof(err));
    int r = ly_config_load_mem(NAME, (const char *)data, size, &cfg, err, sizeof(err));
    if (r != LY_OK) {
        FUZZ_CHECK(r == LY_E_CONFIG);
        FUZZ_CHECK(cfg == sentinel);
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
        if (!error_shape_ok(err)) {
            fprintf(stderr, "bad error: %s\n", err);
            FUZZ_CHECK(!"error shape");
        }
        return 0;
    }
    FUZZ_CHECK(cfg != sentinel && cfg != NULL && strcmp(cfg->path, NAME) == 0);

    size_t len = 0, len2 = 0;
    char *text = dump(cfg, &len);
    r = ly_config_load_mem(NAME, text, len, &again, err, sizeof(err));
    if (r != LY_OK) {
        fprintf(stderr, "the dump does not load: %s\n%s", err, text);
        FUZZ_CHECK(r == LY_OK);
    }
    char *text2 = dump(again, &len2);
    if (len != len2 || memcmp(text, text2, len) != 0) {
        fprintf(stderr, "dumps differ:\n%s---\n%s", text, text2);
        FUZZ_CHECK(!"dump is not a fixed point");
    }
    free(text);
    free(text2);
    ly_config_free(cfg);
    ly_config_free(again);
    return 0;
}
