/*
 * Registrations parsed with each regexp checked once. Compiling and
 * probing a regexp (route_value_check_regexp) costs some microseconds,
 * the rest of a value far less, and thousands of backends register the
 * same regexp: 40,000 etcd keys spent 200 ms of the controller's loop on
 * checks. The verdict never changes, so the regexps that passed are
 * remembered (up to PATTERN_CACHE_BYTES of them, then forgotten at once).
 */
#ifndef DNSROUTER_PATTERN_CACHE_H
#define DNSROUTER_PATTERN_CACHE_H

#include <stddef.h>

#include "route_value.h"

#define PATTERN_CACHE_BYTES	(16u << 20)

/* route_value_parse, with the regexp checked only if it has not passed before. */
int pattern_cache_parse(const char *s, size_t len, struct route_value *rv,
    char *err, size_t errlen);
/* Forget every regexp. */
void pattern_cache_free(void);

#endif
