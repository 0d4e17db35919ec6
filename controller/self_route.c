/* Refusing backends that are dnsrouter's own listen addresses. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "log.h"
#include "self_route.h"

#define LOCAL_MAX	256	/* addresses of this host remembered */
#define LOCAL_REFRESH	10	/* seconds: interfaces change, rarely */

static struct config_listen	 listen_addrs[CONFIG_MAX_LISTEN];
static int			 nlisten;
static struct sockaddr_storage	 local[LOCAL_MAX];
static int			 nlocal;
static time_t			 local_read;

void
self_route_init(const struct config *cf)
{
	memcpy(listen_addrs, cf->listen, sizeof(listen_addrs));
	nlisten = cf->nlisten;
	local_read = 0;
}

static int
is_wildcard(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	return sa->sa_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static uint16_t
port_of(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_port;
	return ((const struct sockaddr_in6 *)sa)->sin6_port;
}

static int
same_host_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)b)->sin6_addr,
	    sizeof(struct in6_addr)) == 0;
}

/* Whether sa is an address of this host: loopback or on an interface. */
static int
is_local(const struct sockaddr *sa)
{
	time_t now = time(NULL);
	int i;

	if (sa->sa_family == AF_INET &&
	    (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127)
		return 1;	/* all of 127/8 is ours, on lo */
	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(
	    &((const struct sockaddr_in6 *)sa)->sin6_addr))
		return 1;
	if (local_read == 0 || now - local_read >= LOCAL_REFRESH) {
		struct ifaddrs *ifa, *p;

		nlocal = 0;
		local_read = now;
		if (getifaddrs(&ifa) == 0) {
			for (p = ifa; p != NULL && nlocal < LOCAL_MAX; p = p->ifa_next)
				if (p->ifa_addr != NULL &&
				    (p->ifa_addr->sa_family == AF_INET ||
				    p->ifa_addr->sa_family == AF_INET6))
					memcpy(&local[nlocal++], p->ifa_addr,
					    p->ifa_addr->sa_family == AF_INET ?
					    sizeof(struct sockaddr_in) :
					    sizeof(struct sockaddr_in6));
			freeifaddrs(ifa);
		} else
			log_warn("%s: getifaddrs", __func__);
	}
	for (i = 0; i < nlocal; i++)
		if (same_host_addr((const struct sockaddr *)&local[i], sa))
			return 1;
	return 0;
}

int
self_route_check(const struct sockaddr *backend, char *err, size_t errlen)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	int i;

	for (i = 0; i < nlisten; i++) {
		const struct sockaddr *l = (const struct sockaddr *)
		    &listen_addrs[i].addr;
		/* The master binds [::] with IPV6_V6ONLY: families are apart. */
		int fam_ok = l->sa_family == backend->sa_family;

		if (addr_equal(l, backend) || (is_wildcard(l) && fam_ok &&
		    port_of(l) == port_of(backend) && is_local(backend))) {
			snprintf(err, errlen, "backend %s is dnsrouter's own "
			    "listen address %s: refused (queries would loop)",
			    addr_format(backend, a, sizeof(a)),
			    addr_format(l, b, sizeof(b)));
			return -1;
		}
	}
	return 0;
}
