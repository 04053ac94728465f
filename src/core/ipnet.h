/*
 * IP addresses and networks (IPv4 and IPv6, with a CIDR prefix): parsing
 * and containment, for policy conditions (IpAddress) and for the proxies
 * berth trusts to name the client (--trusted-proxies).
 */
#ifndef BERTH_CORE_IPNET_H
#define BERTH_CORE_IPNET_H

#include <stdbool.h>

struct ip_net {
    int af; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix;
};

/* Parses an address ("192.0.2.7", "2001:db8::1") or, when allow_prefix, a
 * network ("10.0.0.0/8"); an IPv4-mapped IPv6 address is taken as the IPv4
 * address. Returns false on anything else. */
bool ip_net_parse(const char *z, bool allow_prefix, struct ip_net *out);

/* Whether addr (a parsed address) lies in net. */
bool ip_net_contains(const struct ip_net *net, const struct ip_net *addr);

#endif
