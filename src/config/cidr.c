/*
 * config: the CIDRs of server.trusted_proxies (SPEC §2), IPv4 and IPv6.
 */
#include "build-config.h"
#include "banned.h"

#include "lanyard/config.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

static bool prefix_bits_clear(const unsigned char *a, unsigned alen, unsigned prefix)
{
    for (unsigned bit = prefix; bit < alen * 8; bit++)
        if (a[bit / 8] & (0x80u >> (bit % 8)))
            return false;
    return true;
}

/*
 * "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128). Host bits set
 * beyond the prefix are refused rather than masked: "10.1.2.3/8" is more
 * likely a typo than a wish to trust all of 10/8.
 */
int ly_cfg_cidr_parse(const char *s, size_t len, struct ly_cidr *out, bool *hostbits)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    unsigned maxbits, prefix = 0;
    struct ly_cidr c;

    *hostbits = false;
    memset(&c, 0, sizeof(c));
    if (alen == 0 || alen >= sizeof(addr) || memchr(s, '\0', len) != NULL)
        return -1;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, c.addr) == 1) {
        c.family = AF_INET;
        maxbits = 32;
    } else if (inet_pton(AF_INET6, addr, c.addr) == 1) {
        c.family = AF_INET6;
        maxbits = 128;
    } else {
        return -1;
    }
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t plen = len - alen - 1;
        if (plen == 0 || plen > 3 || (plen > 1 && p[0] == '0'))
            return -1;
        for (size_t i = 0; i < plen; i++) {
            if (p[i] < '0' || p[i] > '9')
                return -1;
            prefix = prefix * 10 + (unsigned)(p[i] - '0');
        }
        if (prefix > maxbits)
            return -1;
    } else {
        prefix = maxbits;
    }
    c.prefix = prefix;
    if (!prefix_bits_clear(c.addr, maxbits / 8, prefix)) {
        *hostbits = true;
        return -1;
    }
    *out = c;
    return 0;
}
