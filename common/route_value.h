/*
 * One route registration as written in etcd values and the routes file:
 * the 2014 form "ip:port,regexp" (the regexp may hold commas) or JSON
 * {"addr":"ip:port","match":"regexp","priority":N,"primary":true}
 * (priority and primary optional: 0 and false).
 */
#ifndef DNSROUTER_ROUTE_VALUE_H
#define DNSROUTER_ROUTE_VALUE_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "routetable.h"

struct route_value {
	struct sockaddr_storage	addr;
	socklen_t		addrlen;
	int32_t			priority;
	int			primary;	/* takes the shard's dynamic updates */
	char			pattern[RT_MAX_PATTERN + 1];
};

/*
 * Parse len bytes of s into rv, checking that the address is numeric with
 * a port and that the regexp compiles. Returns 0, or -1 with a reason in err.
 */
int route_value_parse(const char *s, size_t len, struct route_value *rv,
    char *err, size_t errlen);

/*
 * The two halves of route_value_parse: everything but compiling and
 * probing the regexp (the costly part, some microseconds), and that
 * alone for a pattern of len bytes. The verdict on a regexp never
 * changes, so a caller may remember it.
 */
int route_value_parse_syntax(const char *s, size_t len, struct route_value *rv,
    char *err, size_t errlen);
int route_value_check_regexp(const char *p, size_t len, char *err,
    size_t errlen);

#endif
