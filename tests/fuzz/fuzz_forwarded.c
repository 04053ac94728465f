/*
 * libFuzzer target for the X-Forwarded-For and X-Forwarded-Proto readers
 * and the trusted-proxy list (src/http/forwarded.c). An address taken from
 * X-Forwarded-For is a NUL-terminated IP address that fits the buffer and
 * is the header's last entry; the same bytes as a proxy list either parse
 * into networks or are refused with nothing kept.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/ipnet.h"
#include "http/forwarded.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slice h = {(const char *)data, size};
    char ip[64];
    int rc = forwarded_for(ip, sizeof(ip), h);
    CHECK(rc == 0 || rc == E_INVALID);
    if (rc == 0) {
        struct ip_net a;
        size_t n = strlen(ip);
        CHECK(n > 0 && n < sizeof(ip));
        CHECK(ip_net_parse(ip, false, &a));
        CHECK(memmem(data, size, ip, n) != NULL);
    }
    rc = forwarded_proto(h);
    CHECK(rc == 0 || rc == 1 || rc == E_INVALID);

    char *z = malloc(size + 1);
    memcpy(z, data, size);
    z[size] = '\0';
    struct forwarded_proxies p;
    rc = forwarded_proxies_parse(&p, z);
    CHECK(rc == 0 || rc == E_INVALID);
    if (rc == 0) {
        (void)forwarded_proxies_has(&p, "203.0.113.9");
        (void)forwarded_proxies_has(&p, "2001:db8::7");
        forwarded_proxies_release(&p);
    } else {
        CHECK(p.nets == NULL && p.n == 0);
    }
    free(z);
    return 0;
}
