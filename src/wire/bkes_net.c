#include "wire/bkes_net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

bool bkes_host_is_loopback(const char *host)
{
    if (!strcmp(host, "localhost")) return true;
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, host, &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &v6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
        return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
    }
    return false;
}
