/*
 * What a load balancer in front of berth says about the client: the
 * address in X-Forwarded-For and the scheme in X-Forwarded-Proto, believed
 * only from the proxies the operator lists (--trusted-proxies).
 */
#ifndef BERTH_HTTP_FORWARDED_H
#define BERTH_HTTP_FORWARDED_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/ipnet.h"

struct forwarded_proxies {
    struct ip_net *nets;
    size_t n;
};

/* Parses a comma-separated list of addresses and networks ("127.0.0.1,
 * 10.0.0.0/8, ::1"); "" is none. E_INVALID names the entry that is not one. */
int forwarded_proxies_parse(struct forwarded_proxies *out, const char *list);
void forwarded_proxies_release(struct forwarded_proxies *p);
/* Whether the peer address ip (text) is one of the proxies. */
bool forwarded_proxies_has(const struct forwarded_proxies *p, const char *ip);

/* The client address an X-Forwarded-For header names: its last entry,
 * the one the proxy that connected to berth added (entries before it come
 * from further away, or from the client itself, and prove nothing).
 * E_INVALID when that entry is not an IP address or does not fit. */
int forwarded_for(char *out, size_t size, struct slice header);

/* X-Forwarded-Proto: 1 for https, 0 for http, E_INVALID otherwise (the
 * last entry counts, as for X-Forwarded-For). */
int forwarded_proto(struct slice header);

#endif
