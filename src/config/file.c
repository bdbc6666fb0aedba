/*
 * config: whole small files (the config file itself and the *_file
 * secrets), read with a size cap; a secret read in part is wiped. And the
 * one rule about who else may read them (doc/decisions.md).
 */
#include "build-config.h"
#include "banned.h"

#include "lanyard/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "lanyard/mem.h"

int ly_cfg_slurp(const char *path, size_t max, bool secret, char **out, size_t *outlen,
                 mode_t *mode, char *why, size_t whylen)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int fd, r = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "not a regular file");
        goto out;
    }
    buf = ly_xmalloc(max + 2);
    for (;;) {
        ssize_t got = read(fd, buf + len, max + 1 - len);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            snprintf(why, whylen, "%s", strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        len += (size_t)got;
        if (len > max) {
            snprintf(why, whylen, "larger than %zu bytes", max);
            goto out;
        }
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    if (mode != NULL)
        *mode = st.st_mode;
    buf = NULL;
    r = 0;
out:
    if (buf != NULL) {
        if (secret)
            ly_free_secret(buf, max + 2);
        else
            free(buf);
    }
    close(fd);
    return r;
}

const char *ly_cfg_exposure(mode_t mode)
{
    switch (mode & (S_IROTH | S_IWOTH)) {
    case S_IROTH:
        return "readable";
    case S_IWOTH:
        return "writable";
    case S_IROTH | S_IWOTH:
        return "readable and writable";
    default:
        return NULL;
    }
}

int ly_config_read_secret(const char *path, size_t max, char **out, size_t *outlen, mode_t *mode,
                          char *why, size_t whylen)
{
    return ly_cfg_slurp(path, max, true, out, outlen, mode, why, whylen);
}

const char *ly_config_file_exposure(mode_t mode)
{
    return ly_cfg_exposure(mode);
}
