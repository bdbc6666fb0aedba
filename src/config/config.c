/*
 * config: SPEC §2 from YAML into struct ly_config.
 *
 * Two passes, as h2o's yoml and redis's static_configs[] do it. First the
 * libyaml event stream becomes a small node tree in which every node keeps
 * its 1-based line and column (yaml.c). Then the tree is walked against the
 * one key table (keys.c); any error becomes "FILE:LINE:COL: message"
 * (diag.c), and so does any warning, kept in the config for the caller to
 * show. internal.h lists the other files.
 */
#include "build-config.h"
#include "banned.h"

#include "lanyard/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "lanyard/err.h"
#include "lanyard/mem.h"

#ifndef LY_SYSCONFDIR
#define LY_SYSCONFDIR "/etc"
#endif

#define CONFIG_MAX_BYTES (1024 * 1024) /* a config file is small; refuse anything larger */

/* ---------------------------------------------------------------------------------------------
 * Entry points
 */

const char *ly_config_default_path(void)
{
    const char *env = getenv("LANYARD_CONFIG");

    if (env != NULL && env[0] != '\0')
        return env;
    return LY_SYSCONFDIR "/lanyard/lanyard.yaml";
}

int ly_config_load(const char *path, struct ly_config **out, char *err, size_t errlen)
{
    struct loader ld;
    char *text = NULL, why[128];
    size_t textlen = 0;
    int r;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (ly_cfg_slurp(path, CONFIG_MAX_BYTES, false, &text, &textlen, NULL, why, sizeof(why)) != 0) {
        memset(&ld, 0, sizeof(ld));
        ld.path = path;
        ld.err = err;
        ld.errlen = errlen;
        ly_cfg_fail_at(&ld, 1, 1, "cannot read file: %s", why);
        return LY_E_CONFIG;
    }
    r = ly_config_load_mem(path, text, textlen, out, err, errlen);
    free(text);
    return r;
}

int ly_config_load_mem(const char *name, const char *buf, size_t len, struct ly_config **out,
                       char *err, size_t errlen)
{
    struct loader ld;
    struct node *root = NULL;
    struct ly_config *cfg = NULL;
    int r = LY_E_CONFIG;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    memset(&ld, 0, sizeof(ld));
    ld.path = name;
    ld.err = err;
    ld.errlen = errlen;

    if (len > CONFIG_MAX_BYTES) {
        ly_cfg_fail_at(&ld, 1, 1, "cannot read file: larger than %d bytes", CONFIG_MAX_BYTES);
        goto out;
    }
    ld.buf = (const unsigned char *)buf;
    ld.buflen = len;
    if (ly_cfg_yaml_parse(&ld, &root) != 0)
        goto out;

    cfg = ly_xcalloc(1, sizeof(*cfg));
    cfg->path = ly_xstrdup(name);
    ld.cfg = cfg;
    if (ly_cfg_apply(&ld, root) != 0)
        goto out;

    *out = cfg;
    cfg = NULL;
    r = LY_OK;
out:
    ly_config_free(cfg);
    ly_cfg_node_free(root);
    return r;
}

void ly_config_free(struct ly_config *cfg)
{
    if (cfg == NULL)
        return;
    ly_cfg_release(cfg);
    for (size_t i = 0; i < cfg->n_warnings; i++)
        free(cfg->warnings[i]);
    free(cfg->warnings);
    free(cfg->path);
    free(cfg);
}
