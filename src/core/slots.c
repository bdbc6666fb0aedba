#include "build-config.h"
#include "banned.h"

#include "lanyard/slots.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lanyard/err.h"

#define POLL_MS 5

/* 0 bound, 1 taken by another process, -1 error. */
static int try_slot(int s, const char *name, unsigned i)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    /* sun_path[0] stays NUL: the abstract namespace, no file, no permissions. */
    int len = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "lanyard/%s/%u", name, i);
    if (len <= 0 || (size_t)len >= sizeof(sun.sun_path) - 1)
        return -1;
    socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
    if (bind(s, (struct sockaddr *)&sun, sl) == 0)
        return 0;
    return errno == EADDRINUSE ? 1 : -1;
}

int ly_slot_take(const char *name, unsigned n, int64_t wait_ms, int *fd)
{
    if (n == 0)
        n = 1;
    int64_t waited = 0;
    for (;;) {
        int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0)
            return LY_E_IO;
        for (unsigned i = 0; i < n; i++) {
            int r = try_slot(s, name, i);
            if (r == 0) {
                *fd = s;
                return LY_OK;
            }
            if (r < 0) {
                close(s);
                return LY_E_IO;
            }
        }
        close(s);
        if (waited >= wait_ms)
            return LY_E_UNAVAILABLE;
        struct timespec ts = {0, POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
        waited += POLL_MS;
    }
}

void ly_slot_give(int fd)
{
    if (fd >= 0)
        close(fd);
}
