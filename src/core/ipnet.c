/*
 * This module implements IP address and network parsing and containment
 * (core/ipnet.h).
 */
#include "core/ipnet.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"

bool ip_net_parse(const char *z, bool allow_prefix, struct ip_net *out)
{
    char host[64];
    const char *slash = strchr(z, '/');
    size_t hlen = slash ? (size_t)(slash - z) : strlen(z);
    unsigned max;
    if (hlen == 0 || hlen >= sizeof(host) || (slash && !allow_prefix))
        return false;
    memcpy(host, z, hlen);
    host[hlen] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->af = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        out->af = AF_INET6;
        max = 128;
        if (!slash && memcmp(out->addr, mapped, 12) == 0) {
            memmove(out->addr, out->addr + 12, 4);
            memset(out->addr + 4, 0, 12);
            out->af = AF_INET;
            max = 32;
        }
    } else {
        return false;
    }
    out->prefix = max;
    if (slash) {
        uint64_t n;
        if (parse_u64(slice_from(slash + 1), max, &n) < 0) {
            error_clear();
            return false;
        }
        out->prefix = (unsigned)n;
    }
    return true;
}

bool ip_net_contains(const struct ip_net *net, const struct ip_net *addr)
{
    unsigned full = net->prefix / 8, rest = net->prefix % 8;
    if (net->af != addr->af)
        return false;
    if (memcmp(net->addr, addr->addr, full) != 0)
        return false;
    if (rest) {
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        if ((net->addr[full] & mask) != (addr->addr[full] & mask))
            return false;
    }
    return true;
}
