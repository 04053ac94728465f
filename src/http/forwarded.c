/*
 * This module implements the trusted-proxy list and the reading of
 * X-Forwarded-For and X-Forwarded-Proto (http/forwarded.h).
 */
#include "http/forwarded.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

/* The last comma-separated entry of a header, trimmed. */
static struct slice last_entry(struct slice h)
{
    size_t i = h.len;
    while (i > 0 && h.base[i - 1] != ',')
        i--;
    return slice_trim((struct slice){h.base + i, h.len - i});
}

int forwarded_proxies_parse(struct forwarded_proxies *out, const char *list)
{
    memset(out, 0, sizeof(*out));
    struct slice rest = slice_from(list ? list : "");
    if (slice_trim(rest).len == 0)
        return 0;
    while (rest.base) {
        const char *comma = memchr(rest.base, ',', rest.len);
        struct slice e = slice_trim((struct slice){rest.base, comma ? (size_t)(comma - rest.base) : rest.len});
        char z[64];
        if (e.len == 0 || e.len >= sizeof(z)) {
            forwarded_proxies_release(out);
            return error_set(E_INVALID, "trusted proxy '%.*s' is not an address or network", (int)(e.len > 64 ? 64 : e.len),
                             e.base);
        }
        memcpy(z, e.base, e.len);
        z[e.len] = '\0';
        out->nets = xrealloc(out->nets, (out->n + 1) * sizeof(*out->nets));
        if (!ip_net_parse(z, true, &out->nets[out->n])) {
            forwarded_proxies_release(out);
            return error_set(E_INVALID, "trusted proxy '%s' is not an address or network", z);
        }
        out->n++;
        rest = comma ? (struct slice){comma + 1, rest.len - (size_t)(comma + 1 - rest.base)} : (struct slice){NULL, 0};
    }
    return 0;
}

void forwarded_proxies_release(struct forwarded_proxies *p)
{
    free(p->nets);
    p->nets = NULL;
    p->n = 0;
}

bool forwarded_proxies_has(const struct forwarded_proxies *p, const char *ip)
{
    struct ip_net a;
    if (!p->n || !ip || !ip_net_parse(ip, false, &a))
        return false;
    for (size_t i = 0; i < p->n; i++)
        if (ip_net_contains(&p->nets[i], &a))
            return true;
    return false;
}

int forwarded_for(char *out, size_t size, struct slice header)
{
    struct slice e = last_entry(header);
    struct ip_net a;
    char z[64];
    if (e.len == 0 || e.len >= sizeof(z) || e.len >= size)
        return error_set(E_INVALID, "X-Forwarded-For names no address");
    memcpy(z, e.base, e.len);
    z[e.len] = '\0';
    if (!ip_net_parse(z, false, &a))
        return error_set(E_INVALID, "X-Forwarded-For names no address");
    memcpy(out, z, e.len + 1);
    return 0;
}

int forwarded_proto(struct slice header)
{
    struct slice e = last_entry(header);
    if (slice_eq_nocase(e, "https"))
        return 1;
    if (slice_eq_nocase(e, "http"))
        return 0;
    return error_set(E_INVALID, "X-Forwarded-Proto is neither http nor https");
}
